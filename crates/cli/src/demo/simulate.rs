//! `xiaoan demo --simulate`: the demo devices keep reporting while the demo serves, so the
//! alarm board has something happening. Every tick each device sends a reading in its
//! normal range; in a cycle of 24 ticks the second school's dormitory sensor climbs over
//! its threshold for four readings and cools down (an alarm raised, then cleared), and the
//! first school's gate camera reports an intrusion that its platform clears two ticks
//! later. The records go through the same ingest as MQTT and HTTP, in process, so no
//! broker is needed.

use std::time::Duration;
use xiaoan_domain::iot::DeviceKind;
use xiaoan_domain::{Scope, now_millis};
use xiaoan_store::Db;
use xiaoan_store::iot::{self, Device, Payload, Record};

/// Ticks in one cycle of the scenario.
const CYCLE: u64 = 24;

/// Starts the simulator, one tick every `every`, for as long as the process runs.
pub fn spawn(db: Db, every: Duration) {
    tokio::spawn(async move {
        let mut tick = 0_u64;
        loop {
            tokio::time::sleep(every).await;
            tick += 1;
            if let Err(e) = step(&db, tick).await {
                tracing::warn!(error = %e, "demo simulator tick failed");
            }
        }
    });
}

/// What `d`, the `n`th school's device, sends at `tick`.
fn payload(d: &Device, school: usize, tick: u64) -> Option<Payload> {
    let phase = tick % CYCLE;
    let wave = (tick % 12) as f64 * 0.25;
    let reading = |metric: &str, v: f64| Some(Payload::Telemetry(vec![(metric.into(), v)]));
    match d.kind {
        DeviceKind::Temperature if school == 1 && (8..12).contains(&phase) => {
            reading("temp_c", 58.0 + (phase - 8) as f64 * 2.5)
        }
        // The first school's dormitory stays hot (its alarm stays on the board).
        DeviceKind::Temperature if school == 0 => None,
        DeviceKind::Temperature => reading("temp_c", 26.0 + wave),
        DeviceKind::ColdRoom => reading("temp_c", 3.2 + wave / 2.0),
        // The first school's gas detector stays quiet (its "no data" alarm stays up).
        DeviceKind::Gas if school == 0 => None,
        DeviceKind::Gas => reading("lel_pct", 1.0 + wave / 3.0),
        DeviceKind::Camera
            if school == 0 && d.code.ends_with("01") && (phase == 4 || phase == 6) =>
        {
            Some(Payload::Event {
                event: "intrusion".into(),
                active: phase == 4,
                severity: None,
            })
        }
        _ => None,
    }
}

/// One tick: every demo device in service sends what the scenario says.
async fn step(db: &Db, tick: u64) -> anyhow::Result<usize> {
    let devices = iot::list(db, &Scope::everything(), None, false).await?;
    // Schools in the order the demo gave them devices: by code.
    let mut schools: Vec<(&str, i64)> = devices
        .iter()
        .map(|d| (d.school_code.as_str(), d.school_id))
        .collect();
    schools.sort_unstable();
    schools.dedup();
    let schools: Vec<i64> = schools.into_iter().map(|(_, id)| id).collect();
    let now = now_millis();
    let mut sent = 0;
    for d in &devices {
        let school = schools.iter().position(|s| *s == d.school_id).unwrap_or(0);
        let Some(payload) = payload(d, school, tick) else {
            continue;
        };
        let record = Record {
            msg_id: format!("sim-{now}-{tick}"),
            ts: now,
            payload,
        };
        iot::ingest(db, d, &[record], 0, now).await?;
        sent += 1;
    }
    Ok(sent)
}
