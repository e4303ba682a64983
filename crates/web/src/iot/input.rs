//! What the API and the pages share: registering a device, reading an ingest batch record
//! by record (a bad record is refused on its own, counted against its device), and the
//! people's steps on alarms.

use super::api::{DeviceChangeIn, DeviceIn, IngestOut};
use crate::kit::error::{AppError, AppResult};
use crate::kit::{AppState, Caller};
use serde_json::Value;
use std::collections::HashMap;
use xiaoan_domain::Permission;
use xiaoan_domain::iot::CloseReason;
use xiaoan_store::StoreError;
use xiaoan_store::iot::{self, Alarm, AlarmStatus, Device, Gateway, NewDevice};

pub use xiaoan_iot::{MAX_BATCH, Rejected};

/// Registers a device as `caller`.
pub async fn register(st: &AppState, caller: &Caller, b: DeviceIn) -> AppResult<(Device, String)> {
    let new = NewDevice {
        school_id: b.school_id,
        code: b.code,
        kind: b.kind,
        location: b.location,
        key_area: b.key_area,
        overrides: b.overrides,
        category: b.category,
    };
    Ok(iot::create(
        &st.db,
        &caller.actor(),
        &caller.scope(Permission::DeviceManage),
        &new,
    )
    .await?)
}

/// Changes device `id` as `caller`: what the change names, the rest as it is.
pub async fn update(
    st: &AppState,
    caller: &Caller,
    id: i64,
    b: DeviceChangeIn,
) -> AppResult<Device> {
    let scope = caller.scope(Permission::DeviceManage);
    let d = iot::get(&st.db, &scope, id).await?;
    let category = match b.category.as_deref().map(str::trim) {
        None => d.category,
        Some("") => None,
        Some(c) => Some(crate::kit::extract::parse_code(c)?),
    };
    let change = iot::DeviceChange {
        location: b.location.unwrap_or(d.location),
        key_area: b.key_area.unwrap_or(d.key_area),
        category,
        overrides: b.overrides.unwrap_or(d.overrides),
    };
    Ok(iot::update(&st.db, &caller.actor(), &scope, id, &change).await?)
}

/// Who sends a batch: one device with its own secret, or a gateway with its token for
/// devices of its school (each record naming its `device` by code).
pub enum Sender {
    Device(Box<Device>),
    Gateway(Gateway),
}

/// One device's part of a batch: its readable records with their index, and the indices
/// of the records refused.
#[derive(Default)]
struct Part {
    records: Vec<(usize, iot::Record)>,
    bad: Vec<usize>,
}

/// Reads and writes a batch: the readable records of every device in one transaction, the
/// others refused one by one (with their index and reason) and counted against their
/// device; a device over its flood limit has the rest of its records refused as
/// `ingest_flood`. A body that is not a JSON array is refused whole.
pub async fn ingest(st: &AppState, sender: &Sender, body: &[u8]) -> AppResult<IngestOut> {
    if let Sender::Device(d) = sender
        && d.retired_at.is_some()
    {
        return Err(AppError::conflict("device_retired"));
    }
    let parsed: Result<Value, _> = serde_json::from_slice(body);
    let items = match parsed {
        Ok(Value::Array(items)) => items,
        Ok(v @ Value::Object(_)) => vec![v],
        _ => {
            if let Sender::Device(d) = sender {
                iot::count_malformed(&st.db, d.id, 1, "not JSON").await?;
            }
            return Err(AppError::invalid("ingest_json"));
        }
    };
    if items.len() > MAX_BATCH {
        return Err(AppError::invalid("ingest_batch"));
    }
    let now = xiaoan_domain::now_millis();
    // The devices the records are for.
    let devices: HashMap<String, Device> = match sender {
        Sender::Device(d) => HashMap::from([(d.code.clone(), (**d).clone())]),
        Sender::Gateway(g) => {
            let mut pairs: Vec<(String, String)> = items
                .iter()
                .filter_map(|v| v.get("device").and_then(Value::as_str))
                .map(|c| (g.school_code.clone(), c.to_string()))
                .collect();
            pairs.sort();
            pairs.dedup();
            iot::by_codes(&st.db, &pairs)
                .await?
                .into_iter()
                .map(|((_, code), d)| (code, d))
                .collect()
        }
    };
    let mut rejected = Vec::new();
    // Per device, in order of first appearance: its records and the indices refused.
    let mut order: Vec<String> = Vec::new();
    let mut batches: HashMap<String, Part> = HashMap::new();
    for (index, v) in items.iter().enumerate() {
        let device = match sender {
            Sender::Device(d) => Some(&**d),
            Sender::Gateway(_) => v
                .get("device")
                .and_then(Value::as_str)
                .and_then(|c| devices.get(c)),
        };
        let Some(device) = device.filter(|d| d.retired_at.is_none()) else {
            rejected.push(Rejected {
                index,
                code: "ingest_device",
            });
            continue;
        };
        let entry = batches.entry(device.code.clone()).or_insert_with(|| {
            order.push(device.code.clone());
            Part::default()
        });
        match xiaoan_iot::record(device, v, None, now) {
            Ok(r) => entry.records.push((index, r)),
            Err(code) => {
                rejected.push(Rejected { index, code });
                entry.bad.push(index);
            }
        }
    }
    let mut ready: Vec<(&Device, Vec<iot::Record>)> = Vec::new();
    for code in &order {
        let (Some(device), Some(Part { mut records, bad })) =
            (devices.get(code), batches.remove(code))
        else {
            continue;
        };
        let allowed = st.flood.allow(device.id, records.len());
        if allowed < records.len() {
            let over = records.split_off(allowed);
            tracing::warn!(
                device_id = device.id,
                n = over.len(),
                "a flood of records; refused"
            );
            iot::count_flooded(&st.db, device.id, over.len()).await?;
            rejected.extend(over.iter().map(|(index, _)| Rejected {
                index: *index,
                code: "ingest_flood",
            }));
        }
        if let Some(first) = bad.first() {
            let code = rejected
                .iter()
                .find(|r| r.index == *first)
                .map_or("ingest_record", |r| r.code);
            tracing::warn!(
                device_id = device.id,
                n = bad.len(),
                first = code,
                "records refused"
            );
            iot::count_malformed(&st.db, device.id, bad.len(), code).await?;
        }
        ready.push((device, records.into_iter().map(|(_, r)| r).collect()));
    }
    rejected.sort_by_key(|r| r.index);
    let round: Vec<(&Device, &[iot::Record], usize)> = ready
        .iter()
        .filter(|(_, r)| !r.is_empty())
        .map(|(d, r)| (*d, r.as_slice(), 0))
        .collect();
    let done = if round.is_empty() {
        Vec::new()
    } else {
        iot::ingest_round(&st.db, &round, now).await?
    };
    let accepted = done.iter().map(|n| n.accepted).sum();
    if let Sender::Gateway(g) = sender {
        iot::gateway_heard(&st.db, g.id, accepted, now).await?;
    }
    Ok(IngestOut {
        accepted,
        duplicates: done.iter().map(|n| n.duplicates).sum(),
        rejected,
    })
}

/// The status filter of an alarm list.
pub fn status(raw: Option<&str>) -> AppResult<AlarmStatus> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(AlarmStatus::Open),
        Some(s) => AlarmStatus::parse(s).ok_or_else(|| AppError::invalid("alarm_status")),
    }
}

fn too_long(note: &str) -> AppResult<()> {
    if note.chars().count() > 2000 {
        return Err(AppError::invalid("alarm_note"));
    }
    Ok(())
}

/// Acknowledges alarm `id` as `caller`.
pub async fn ack(st: &AppState, caller: &Caller, id: i64, note: &str) -> AppResult<Alarm> {
    too_long(note)?;
    act_scope(st, caller, id).await?;
    Ok(iot::ack(
        &st.db,
        &caller.actor(),
        &caller.scope(Permission::AlarmAct),
        id,
        note.trim(),
    )
    .await?)
}

/// Closes alarm `id` as `caller`.
pub async fn close(
    st: &AppState,
    caller: &Caller,
    id: i64,
    reason: CloseReason,
    note: &str,
) -> AppResult<Alarm> {
    too_long(note)?;
    act_scope(st, caller, id).await?;
    Ok(iot::close(
        &st.db,
        &caller.actor(),
        &caller.scope(Permission::AlarmAct),
        id,
        reason,
        note.trim(),
    )
    .await?)
}

/// An alarm the caller may see but not act on is refused as forbidden, not as missing.
async fn act_scope(st: &AppState, caller: &Caller, id: i64) -> AppResult<()> {
    let seen = iot::get_alarm(&st.db, &caller.scope(Permission::AlarmRead), id).await?;
    if !caller
        .scope(Permission::AlarmAct)
        .contains(&seen.school_path)
    {
        return Err(StoreError::Forbidden("alarm_act").into());
    }
    Ok(())
}
