//! IoT monitoring (migration 0012): the device registry, ingest of a device's batch in one
//! transaction (de-duplicated by message id, readings appended, latest values and rule
//! state kept, alarms raised, updated and cleared by `domain::iot`), the "no data" sweep,
//! and alarms with their history, acknowledged and closed by people.
//!
//! One open alarm per device and type is the database's rule (a partial unique index); a
//! raise that loses the race to another node updates the winner's alarm instead. An alarm's
//! notification and, for fire, smoke and gas, the job that files its hazard are written in
//! the transaction that raised it.

use crate::audit::{self, Event as AuditEvent};
use crate::jobs::{NewJob, enqueue_on};
use crate::notify::{self, Intent};
use crate::sql::Sql;
use crate::{Db, StoreError, StoreResult};
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::AnyConnection;
use xiaoan_domain::audit::Actor;
use xiaoan_domain::hazard::Category;
use xiaoan_domain::iot::{
    AlarmType, CloseReason, Condition, DeviceKind, Overrides, Severity, ThresholdState, Verdict,
    event_alarm, on_reading, rules,
};
use xiaoan_domain::notify::Event as NotifyEvent;
use xiaoan_domain::{Millis, OrgKind, Scope, now_millis};

mod alarms;
mod changes;
mod escalation;
mod gateways;
mod health;
mod ingest;
pub mod video;

pub use alarms::*;
use changes::*;
pub use escalation::*;
pub use gateways::*;
pub use health::*;
pub use ingest::*;

/// The job that files a hazard for a fire, smoke or gas alarm.
pub const HAZARD_JOB: &str = "iot.hazard";
/// Prefix that makes a leaked device secret recognisable.
pub const SECRET_PREFIX: &str = "xd_";

/// A device as callers see it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Device {
    pub id: i64,
    pub school_id: i64,
    pub school_name: String,
    #[serde(skip)]
    pub school_path: String,
    #[serde(skip)]
    pub school_code: String,
    pub code: String,
    pub kind: DeviceKind,
    pub location: String,
    pub key_area: String,
    pub overrides: Overrides,
    /// The hazard category its alarms are filed under; `None`: by the alarm's type.
    pub category: Option<Category>,
    pub online: bool,
    pub last_seen_at: Option<Millis>,
    pub battery: Option<f64>,
    pub signal: Option<f64>,
    pub accepted: i64,
    pub duplicates: i64,
    pub malformed: i64,
    /// Messages refused as a flood (over the per-device limit).
    pub flooded: i64,
    pub last_error: Option<String>,
    pub retired_at: Option<Millis>,
    pub created_at: Millis,
    #[serde(skip)]
    pub created_by: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct DeviceRow {
    id: i64,
    school_id: i64,
    school_name: String,
    school_path: String,
    school_code: String,
    code: String,
    kind: String,
    location: String,
    key_area: String,
    overrides: String,
    category: Option<String>,
    online: i64,
    last_seen_at: Option<i64>,
    battery: Option<f64>,
    signal: Option<f64>,
    accepted: i64,
    duplicates: i64,
    malformed: i64,
    flooded: i64,
    last_error: Option<String>,
    retired_at: Option<i64>,
    created_at: i64,
    created_by: Option<i64>,
}

const DEVICE: &str = "SELECT d.id, d.school_id, o.name AS school_name, o.path AS school_path, o.code AS school_code, d.code, d.kind, \
     d.location, d.key_area, d.overrides, d.category, CAST(d.online AS BIGINT) AS online, d.last_seen_at, d.battery, d.signal, \
     d.accepted, d.duplicates, d.malformed, d.flooded, d.last_error, d.retired_at, d.created_at, d.created_by \
     FROM devices d JOIN orgs o ON o.id = d.school_id";

fn device(r: DeviceRow) -> StoreResult<Device> {
    Ok(Device {
        id: r.id,
        school_id: r.school_id,
        school_name: r.school_name,
        school_path: r.school_path,
        school_code: r.school_code,
        code: r.code,
        kind: DeviceKind::from_code(&r.kind).ok_or(StoreError::Invalid("device_kind"))?,
        location: r.location,
        key_area: r.key_area,
        overrides: serde_json::from_str(&r.overrides).unwrap_or_default(),
        category: r.category.as_deref().and_then(Category::from_code),
        online: r.online != 0,
        last_seen_at: r.last_seen_at,
        battery: r.battery,
        signal: r.signal,
        accepted: r.accepted,
        duplicates: r.duplicates,
        malformed: r.malformed,
        flooded: r.flooded,
        last_error: r.last_error,
        retired_at: r.retired_at,
        created_at: r.created_at,
        created_by: r.created_by,
    })
}

/// A fresh credential: `prefix` and 24 random bytes in hex.
fn new_secret(prefix: &str) -> String {
    let mut bytes = [0u8; 24];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", hex::encode(bytes))
}

fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A device to register.
#[derive(Debug, Clone)]
pub struct NewDevice {
    pub school_id: i64,
    pub code: String,
    pub kind: DeviceKind,
    pub location: String,
    pub key_area: String,
    pub overrides: Overrides,
    /// The hazard category its alarms are filed under; `None`: by the alarm's type.
    pub category: Option<Category>,
}

/// Registers a device at a school in `scope`; returns it and its secret, which is shown
/// this once (only its hash is kept).
#[tracing::instrument(skip_all, fields(school_id = new.school_id))]
pub async fn create(
    db: &Db,
    actor: &Actor,
    scope: &Scope,
    new: &NewDevice,
) -> StoreResult<(Device, String)> {
    let school = crate::orgs::get(db, scope, new.school_id)
        .await
        .map_err(|_| StoreError::Invalid("device_school"))?;
    if school.kind != OrgKind::School {
        return Err(StoreError::Invalid("device_school"));
    }
    let code = new.code.trim();
    if code.is_empty()
        || code.len() > 64
        || !code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(StoreError::Invalid("device_code"));
    }
    let location = check_place(&new.location, &new.key_area)?;
    rules(new.kind, &new.overrides).map_err(|e| StoreError::Invalid(e.code()))?;
    let secret = new_secret(SECRET_PREFIX);
    let now = now_millis();
    let mut tx = db.begin_write().await?;
    let taken: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM devices WHERE school_id = $1 AND code = $2")
            .bind(school.id)
            .bind(code.to_string())
            .fetch_one(&mut *tx)
            .await?;
    if taken > 0 {
        return Err(StoreError::Conflict("device_code_taken"));
    }
    let overrides =
        serde_json::to_string(&new.overrides).map_err(|e| StoreError::Internal(e.to_string()))?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO devices (school_id, code, kind, location, key_area, overrides, secret_hash, created_by, created_at, category) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
    )
    .bind(school.id)
    .bind(code.to_string())
    .bind(new.kind.code().to_string())
    .bind(location.to_string())
    .bind(new.key_area.trim().to_string())
    .bind(overrides)
    .bind(hash(&secret))
    .bind(actor.user_id)
    .bind(now)
    // Always a text (empty for none): the Any driver types a statement by its bindings.
    .bind(new.category.map(|c| c.code()).unwrap_or("").to_string())
    .fetch_one(&mut *tx)
    .await?;
    audit::append(
        &mut tx,
        actor,
        AuditEvent::ok(
            "device.create",
            "device",
            id,
            serde_json::json!({"school_id": school.id, "code": code, "kind": new.kind}),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok((get(db, scope, id).await?, secret))
}

/// A device's location (required) and key area, each at most 100 characters; the location
/// trimmed.
fn check_place<'a>(location: &'a str, key_area: &str) -> StoreResult<&'a str> {
    let location = location.trim();
    if location.is_empty() || location.chars().count() > 100 {
        return Err(StoreError::Invalid("device_location"));
    }
    if key_area.chars().count() > 100 {
        return Err(StoreError::Invalid("device_key_area"));
    }
    Ok(location)
}

/// What may change of a registered device: where it is, what it watches, its hazard
/// category and its rule settings (its code, kind and school stay).
#[derive(Debug, Clone)]
pub struct DeviceChange {
    pub location: String,
    pub key_area: String,
    pub category: Option<Category>,
    pub overrides: Overrides,
}

/// Changes device `id` of a school in `scope` (in service), in one transaction with its
/// audit entry; the rules take effect with its next message (a subscriber reads devices
/// again within seconds).
pub async fn update(
    db: &Db,
    actor: &Actor,
    scope: &Scope,
    id: i64,
    change: &DeviceChange,
) -> StoreResult<Device> {
    let d = get(db, scope, id).await?;
    if d.retired_at.is_some() {
        return Err(StoreError::Conflict("device_retired"));
    }
    let location = check_place(&change.location, &change.key_area)?;
    rules(d.kind, &change.overrides).map_err(|e| StoreError::Invalid(e.code()))?;
    let overrides = serde_json::to_string(&change.overrides)
        .map_err(|e| StoreError::Internal(e.to_string()))?;
    let mut tx = db.begin_write().await?;
    let n = sqlx::query(
        "UPDATE devices SET location = $1, key_area = $2, category = $3, overrides = $4, version = version + 1 \
         WHERE id = $5 AND retired_at IS NULL",
    )
    .bind(location.to_string())
    .bind(change.key_area.trim().to_string())
    .bind(change.category.map(|c| c.code()).unwrap_or("").to_string())
    .bind(overrides)
    .bind(id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if n == 0 {
        return Err(StoreError::Conflict("device_retired"));
    }
    audit::append(
        &mut tx,
        actor,
        AuditEvent::ok(
            "device.update",
            "device",
            id,
            serde_json::json!({"location": location, "key_area": change.key_area.trim(),
                "category": change.category, "overrides": change.overrides}),
        ),
    )
    .await?;
    tx.commit().await?;
    get(db, scope, id).await
}

/// Devices of schools in `scope`, at one school when given; retired ones only on request.
pub async fn list(
    db: &Db,
    scope: &Scope,
    school_id: Option<i64>,
    retired: bool,
) -> StoreResult<Vec<Device>> {
    let mut sql = Sql::new(db.backend(), DEVICE);
    sql.push(" WHERE ").scope("o.path", scope);
    if let Some(s) = school_id {
        sql.push(" AND d.school_id = ").bind(s);
    }
    if !retired {
        sql.push(" AND d.retired_at IS NULL");
    }
    sql.push(" ORDER BY o.path, d.code LIMIT 2000");
    let (text, args) = sql.build();
    let rows: Vec<DeviceRow> = sqlx::query_as_with(text, args).fetch_all(db.pool()).await?;
    rows.into_iter().map(device).collect()
}

/// One device of a school in `scope`.
pub async fn get(db: &Db, scope: &Scope, id: i64) -> StoreResult<Device> {
    let mut sql = Sql::new(db.backend(), DEVICE);
    sql.push(" WHERE d.id = ")
        .bind(id)
        .push(" AND ")
        .scope("o.path", scope);
    let (text, args) = sql.build();
    let row: Option<DeviceRow> = sqlx::query_as_with(text, args)
        .fetch_optional(db.pool())
        .await?;
    device(row.ok_or(StoreError::NotFound)?)
}

/// The device whose secret this is (retired ones included: their messages are refused by
/// the caller with a reason of their own).
pub async fn by_secret(db: &Db, secret: &str) -> StoreResult<Option<Device>> {
    let mut sql = Sql::new(db.backend(), DEVICE);
    sql.push(" WHERE d.secret_hash = ")
        .bind(hash(secret.trim()));
    let (text, args) = sql.build();
    let row: Option<DeviceRow> = sqlx::query_as_with(text, args)
        .fetch_optional(db.pool())
        .await?;
    row.map(device).transpose()
}

/// The device `code` of the school with code `school_code` (an MQTT topic names both).
pub async fn by_code(db: &Db, school_code: &str, code: &str) -> StoreResult<Option<Device>> {
    let mut sql = Sql::new(db.backend(), DEVICE);
    sql.push(" WHERE o.code = ")
        .bind(school_code.to_string())
        .push(" AND d.code = ")
        .bind(code.to_string());
    let (text, args) = sql.build();
    let row: Option<DeviceRow> = sqlx::query_as_with(text, args)
        .fetch_optional(db.pool())
        .await?;
    row.map(device).transpose()
}

/// The devices named by (school code, device code) pairs, in one query per 500 pairs (an
/// MQTT round); pairs that name no device are absent from the map.
pub async fn by_codes(
    db: &Db,
    pairs: &[(String, String)],
) -> StoreResult<std::collections::HashMap<(String, String), Device>> {
    let mut found = std::collections::HashMap::with_capacity(pairs.len());
    for chunk in pairs.chunks(500) {
        let mut sql = Sql::new(db.backend(), DEVICE);
        sql.push(" WHERE d.code IN ")
            .list(chunk.iter().map(|(_, d)| d.clone()))
            .push(" AND o.code IN ")
            .list(chunk.iter().map(|(s, _)| s.clone()));
        let (text, args) = sql.build();
        let rows: Vec<DeviceRow> = sqlx::query_as_with(text, args).fetch_all(db.pool()).await?;
        for r in rows {
            let d = device(r)?;
            found.insert((d.school_code.clone(), d.code.clone()), d);
        }
    }
    let wanted: std::collections::HashSet<&(String, String)> = pairs.iter().collect();
    found.retain(|k, _| wanted.contains(k));
    Ok(found)
}

/// The fire-alarm transmission device in service registered under `code` (its source
/// address); `None` when there is none, or when two schools registered the same address.
pub async fn fire_panel(db: &Db, code: &str) -> StoreResult<Option<Device>> {
    let mut sql = Sql::new(db.backend(), DEVICE);
    sql.push(" WHERE d.code = ")
        .bind(code.to_string())
        .push(" AND d.kind = 'fire_panel' AND d.retired_at IS NULL LIMIT 2");
    let (text, args) = sql.build();
    let rows: Vec<DeviceRow> = sqlx::query_as_with(text, args).fetch_all(db.pool()).await?;
    if rows.len() != 1 {
        return Ok(None);
    }
    rows.into_iter().next().map(device).transpose()
}

/// Someone at school `school_id` a system-filed hazard is reported on behalf of: `preferred`
/// when given, else its safety officer or principal.
pub async fn school_reporter(
    db: &Db,
    school_id: i64,
    preferred: Option<i64>,
) -> StoreResult<Option<i64>> {
    if preferred.is_some() {
        return Ok(preferred);
    }
    Ok(sqlx::query_scalar(
        "SELECT u.id FROM users u JOIN role_assignments ra ON ra.user_id = u.id \
         WHERE ra.org_id = $1 AND ra.role IN ('safety_officer', 'principal') AND u.disabled = 0 ORDER BY u.id LIMIT 1",
    )
    .bind(school_id)
    .fetch_optional(db.pool())
    .await?)
}

/// Retires a device: it sends no more, its history stays, its open alarms are cleared.
pub async fn retire(db: &Db, actor: &Actor, scope: &Scope, id: i64) -> StoreResult<Device> {
    let d = get(db, scope, id).await?;
    if d.retired_at.is_some() {
        return Err(StoreError::Conflict("device_retired"));
    }
    let now = now_millis();
    let mut tx = db.begin_write().await?;
    sqlx::query("UPDATE devices SET retired_at = $1, online = 0, version = version + 1 WHERE id = $2 AND retired_at IS NULL")
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let open: Vec<String> = sqlx::query_scalar(
        "SELECT alarm_type FROM alarms WHERE device_id = $1 AND closed = 0 AND condition = 'active'",
    )
    .bind(id)
    .fetch_all(&mut *tx)
    .await?;
    for t in open {
        if let Some(t) = AlarmType::from_code(&t) {
            clear(&mut tx, &d, t, now, "device retired").await?;
        }
    }
    audit::append(
        &mut tx,
        actor,
        AuditEvent::ok("device.retire", "device", id, serde_json::json!({})),
    )
    .await?;
    tx.commit().await?;
    get(db, scope, id).await
}
