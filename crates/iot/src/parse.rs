//! One record of a device, from JSON: `{"ts", "msg_id", "type": "telemetry"|"event"|"status",
//! …}`. Telemetry carries `values` (numbers by metric), an event `event`, `state`
//! (`active`/`cleared`) and optionally `severity`, a status `online`, `battery`, `signal`. A record that breaks a rule
//! is refused on its own with the rule's code.

use serde::Serialize;
use serde_json::Value;
use xiaoan_domain::iot::MAX_FUTURE_MS;
use xiaoan_store::iot::{Device, Payload, Record};

/// The most records in one HTTP batch.
pub const MAX_BATCH: usize = 1000;

/// A refused record: its position in the batch and the reason's code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejected {
    pub index: usize,
    pub code: &'static str,
}

fn number(v: &Value) -> Option<f64> {
    v.as_f64().filter(|x| x.is_finite())
}

/// Reads one record of `device` received at `now` (milliseconds). `kind` is the record's
/// type when the transport names it (an MQTT topic); otherwise the record's `type` field.
pub fn record(
    device: &Device,
    v: &Value,
    kind: Option<&str>,
    now: i64,
) -> Result<Record, &'static str> {
    let o = v.as_object().ok_or("ingest_record")?;
    if let Some(d) = o.get("device")
        && d.as_str() != Some(device.code.as_str())
    {
        return Err("ingest_device");
    }
    let kind = kind.or_else(|| o.get("type").and_then(Value::as_str));
    let ts = o.get("ts").and_then(Value::as_i64).ok_or("ingest_ts")?;
    if ts > now + MAX_FUTURE_MS || ts < 946_684_800_000 {
        return Err("ingest_ts");
    }
    let msg_id = match o.get("msg_id") {
        Some(Value::String(s)) if !s.is_empty() && s.len() <= 100 => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        // A broker's last will carries no id of the device's own: its time stands in.
        None if kind == Some("status") => format!("status-{ts}"),
        _ => return Err("ingest_msg_id"),
    };
    let payload = match kind {
        Some("telemetry") => {
            let values = o
                .get("values")
                .and_then(Value::as_object)
                .filter(|m| !m.is_empty() && m.len() <= 32)
                .ok_or("ingest_values")?;
            let mut out = Vec::new();
            for (k, v) in values {
                if k.is_empty()
                    || k.len() > 40
                    || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                {
                    return Err("ingest_metric");
                }
                out.push((k.clone(), number(v).ok_or("ingest_value")?));
            }
            Payload::Telemetry(out)
        }
        Some("event") => {
            let event = o
                .get("event")
                .and_then(Value::as_str)
                .ok_or("ingest_event")?;
            if xiaoan_domain::iot::event_alarm(device.kind, event).is_none() {
                return Err("ingest_event");
            }
            let active = match o.get("state").and_then(Value::as_str) {
                Some("active") | None => true,
                Some("cleared") => false,
                Some(_) => return Err("ingest_state"),
            };
            let severity = match o.get("severity") {
                None | Some(Value::Null) => None,
                Some(v) => Some(
                    v.as_str()
                        .and_then(xiaoan_domain::iot::Severity::from_code)
                        .ok_or("ingest_severity")?,
                ),
            };
            Payload::Event {
                event: event.to_string(),
                active,
                severity,
            }
        }
        Some("status") => {
            let online = o.get("online").and_then(Value::as_bool).unwrap_or(true);
            let opt = |k: &str| -> Result<Option<f64>, &'static str> {
                match o.get(k) {
                    None | Some(Value::Null) => Ok(None),
                    Some(v) => number(v).map(Some).ok_or("ingest_value"),
                }
            };
            Payload::Status {
                online,
                battery: opt("battery")?,
                signal: opt("signal")?,
            }
        }
        _ => return Err("ingest_type"),
    };
    Ok(Record {
        msg_id,
        ts,
        payload,
    })
}
