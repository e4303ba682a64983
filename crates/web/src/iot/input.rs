//! What the API and the pages share: registering a device, reading an ingest batch record
//! by record (a bad record is refused on its own, counted against its device), and the
//! people's steps on alarms.

use super::api::{DeviceIn, IngestOut};
use crate::kit::error::{AppError, AppResult};
use crate::kit::{AppState, Caller};
use serde_json::Value;
use xiaoan_domain::Permission;
use xiaoan_domain::iot::CloseReason;
use xiaoan_store::StoreError;
use xiaoan_store::iot::{self, Alarm, AlarmStatus, Device, NewDevice};

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
    };
    Ok(iot::create(
        &st.db,
        &caller.actor(),
        &caller.scope(Permission::DeviceManage),
        &new,
    )
    .await?)
}

/// Reads and writes a batch of `device`: the readable records in one transaction, the
/// others refused one by one and counted against the device. A body that is not a JSON
/// array is refused whole and counted.
pub async fn ingest(st: &AppState, device: &Device, body: &[u8]) -> AppResult<IngestOut> {
    if device.retired_at.is_some() {
        return Err(AppError::conflict("device_retired"));
    }
    let parsed: Result<Value, _> = serde_json::from_slice(body);
    let items = match parsed {
        Ok(Value::Array(items)) => items,
        Ok(v @ Value::Object(_)) => vec![v],
        _ => {
            iot::count_malformed(&st.db, device.id, 1, "not JSON").await?;
            return Err(AppError::invalid("ingest_json"));
        }
    };
    if items.len() > MAX_BATCH {
        return Err(AppError::invalid("ingest_batch"));
    }
    let now = xiaoan_domain::now_millis();
    let mut records = Vec::new();
    let mut rejected = Vec::new();
    for (index, v) in items.iter().enumerate() {
        match xiaoan_iot::record(device, v, None, now) {
            Ok(r) => records.push(r),
            Err(code) => rejected.push(Rejected { index, code }),
        }
    }
    if !rejected.is_empty() {
        tracing::warn!(
            device_id = device.id,
            n = rejected.len(),
            first = rejected[0].code,
            "records refused"
        );
        iot::count_malformed(&st.db, device.id, rejected.len(), rejected[0].code).await?;
    }
    let done = if records.is_empty() {
        iot::Ingested::default()
    } else {
        iot::ingest(&st.db, device, &records, 0, now).await?
    };
    Ok(IngestOut {
        accepted: done.accepted,
        duplicates: done.duplicates,
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
