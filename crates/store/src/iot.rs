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
use xiaoan_domain::iot::{
    AlarmType, CloseReason, Condition, DeviceKind, Overrides, Severity, ThresholdState, Verdict,
    event_alarm, on_reading, rules,
};
use xiaoan_domain::notify::Event as NotifyEvent;
use xiaoan_domain::{Millis, OrgKind, Scope, now_millis};

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
    pub code: String,
    pub kind: DeviceKind,
    pub location: String,
    pub key_area: String,
    pub overrides: Overrides,
    pub online: bool,
    pub last_seen_at: Option<Millis>,
    pub battery: Option<f64>,
    pub signal: Option<f64>,
    pub accepted: i64,
    pub duplicates: i64,
    pub malformed: i64,
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
    code: String,
    kind: String,
    location: String,
    key_area: String,
    overrides: String,
    online: i64,
    last_seen_at: Option<i64>,
    battery: Option<f64>,
    signal: Option<f64>,
    accepted: i64,
    duplicates: i64,
    malformed: i64,
    last_error: Option<String>,
    retired_at: Option<i64>,
    created_at: i64,
    created_by: Option<i64>,
}

const DEVICE: &str = "SELECT d.id, d.school_id, o.name AS school_name, o.path AS school_path, d.code, d.kind, \
     d.location, d.key_area, d.overrides, CAST(d.online AS BIGINT) AS online, d.last_seen_at, d.battery, d.signal, \
     d.accepted, d.duplicates, d.malformed, d.last_error, d.retired_at, d.created_at, d.created_by \
     FROM devices d JOIN orgs o ON o.id = d.school_id";

fn device(r: DeviceRow) -> StoreResult<Device> {
    Ok(Device {
        id: r.id,
        school_id: r.school_id,
        school_name: r.school_name,
        school_path: r.school_path,
        code: r.code,
        kind: DeviceKind::from_code(&r.kind).ok_or(StoreError::Invalid("device_kind"))?,
        location: r.location,
        key_area: r.key_area,
        overrides: serde_json::from_str(&r.overrides).unwrap_or_default(),
        online: r.online != 0,
        last_seen_at: r.last_seen_at,
        battery: r.battery,
        signal: r.signal,
        accepted: r.accepted,
        duplicates: r.duplicates,
        malformed: r.malformed,
        last_error: r.last_error,
        retired_at: r.retired_at,
        created_at: r.created_at,
        created_by: r.created_by,
    })
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
    let location = new.location.trim();
    if location.is_empty() || location.chars().count() > 100 {
        return Err(StoreError::Invalid("device_location"));
    }
    if new.key_area.chars().count() > 100 {
        return Err(StoreError::Invalid("device_key_area"));
    }
    rules(new.kind, &new.overrides).map_err(|e| StoreError::Invalid(e.code()))?;
    let mut bytes = [0u8; 24];
    rand::rng().fill_bytes(&mut bytes);
    let secret = format!("{SECRET_PREFIX}{}", hex::encode(bytes));
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
        "INSERT INTO devices (school_id, code, kind, location, key_area, overrides, secret_hash, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
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

/// What a record in a batch says.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    /// Metric values.
    Telemetry(Vec<(String, f64)>),
    /// A discrete event (`smoke`, `fire`, `gas`, `fault`, `tamper`), active or cleared.
    Event { event: String, active: bool },
    /// Health: online, battery (%), signal (dBm or %).
    Status {
        online: bool,
        battery: Option<f64>,
        signal: Option<f64>,
    },
}

/// One checked record of a device's batch.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub msg_id: String,
    pub ts: Millis,
    pub payload: Payload,
}

/// What became of a batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Ingested {
    pub accepted: usize,
    pub duplicates: usize,
}

/// Writes a device's checked records in one transaction: each message id once, its
/// readings, latest values, rule state and the alarms they raise or clear. When this
/// returns, the batch is durable and may be acknowledged.
#[tracing::instrument(skip_all, fields(device_id = d.id, n = records.len()))]
pub async fn ingest(
    db: &Db,
    d: &Device,
    records: &[Record],
    malformed: usize,
    now: Millis,
) -> StoreResult<Ingested> {
    let mut tx = db.begin_write().await?;
    let out = ingest_on(&mut tx, d, records, malformed, now).await?;
    tx.commit().await?;
    Ok(out)
}

/// Several devices' records in one transaction (a round of the MQTT subscriber): all are
/// durable, or none is.
pub async fn ingest_round(
    db: &Db,
    items: &[(&Device, Vec<Record>, usize)],
    now: Millis,
) -> StoreResult<Vec<Ingested>> {
    let mut tx = db.begin_write().await?;
    let mut out = Vec::with_capacity(items.len());
    for (d, records, malformed) in items {
        out.push(ingest_on(&mut tx, d, records, *malformed, now).await?);
    }
    tx.commit().await?;
    Ok(out)
}

async fn ingest_on(
    conn: &mut AnyConnection,
    d: &Device,
    records: &[Record],
    malformed: usize,
    now: Millis,
) -> StoreResult<Ingested> {
    if d.retired_at.is_some() {
        return Err(StoreError::Conflict("device_retired"));
    }
    let kind_rules =
        rules(d.kind, &d.overrides).unwrap_or_else(|_| xiaoan_domain::iot::defaults(d.kind));
    let mut out = Ingested::default();
    let (mut battery, mut signal, mut online) = (None, None, true);
    for r in records {
        let fresh = sqlx::query(
            "INSERT INTO device_messages (device_id, msg_id, received_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(d.id)
        .bind(r.msg_id.clone())
        .bind(now)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        if fresh == 0 {
            out.duplicates += 1;
            continue;
        }
        out.accepted += 1;
        match &r.payload {
            Payload::Telemetry(values) => {
                for (metric, value) in values {
                    sqlx::query(
                        "INSERT INTO readings (device_id, at, metric, value) VALUES ($1, $2, $3, $4)",
                    )
                    .bind(d.id)
                    .bind(r.ts)
                    .bind(metric.clone())
                    .bind(*value)
                    .execute(&mut *conn)
                    .await?;
                    sqlx::query(
                        "INSERT INTO latest_values (device_id, metric, at, value) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (device_id, metric) DO UPDATE SET at = excluded.at, value = excluded.value \
                         WHERE excluded.at >= latest_values.at",
                    )
                    .bind(d.id)
                    .bind(metric.clone())
                    .bind(r.ts)
                    .bind(*value)
                    .execute(&mut *conn)
                    .await?;
                    let Some(t) = kind_rules.thresholds.iter().find(|t| t.metric == metric) else {
                        continue;
                    };
                    let state: Option<(i64, i64)> = sqlx::query_as(
                        "SELECT above, CAST(firing AS BIGINT) FROM rule_states WHERE device_id = $1 AND metric = $2",
                    )
                    .bind(d.id)
                    .bind(metric.clone())
                    .fetch_optional(&mut *conn)
                    .await?;
                    let s = state.map_or(ThresholdState::default(), |(above, firing)| {
                        ThresholdState {
                            above: u32::try_from(above).unwrap_or(0),
                            firing: firing != 0,
                        }
                    });
                    let (next, verdict) = on_reading(t, s, *value);
                    sqlx::query(
                        "INSERT INTO rule_states (device_id, metric, above, firing, updated_at) VALUES ($1, $2, $3, $4, $5) \
                         ON CONFLICT (device_id, metric) DO UPDATE SET above = excluded.above, firing = excluded.firing, updated_at = excluded.updated_at",
                    )
                    .bind(d.id)
                    .bind(metric.clone())
                    .bind(i64::from(next.above))
                    .bind(i64::from(next.firing))
                    .bind(now)
                    .execute(&mut *conn)
                    .await?;
                    match verdict {
                        Verdict::Hold => {}
                        Verdict::Raise(v) | Verdict::Update(v) => {
                            raise(conn, d, t.alarm, t.severity, Some(v), now).await?;
                        }
                        Verdict::Clear => clear(conn, d, t.alarm, now, "").await?,
                    }
                }
            }
            Payload::Event { event, active } => {
                let Some((alarm, severity)) = event_alarm(d.kind, event) else {
                    return Err(StoreError::Invalid("ingest_event"));
                };
                if *active {
                    raise(conn, d, alarm, severity, None, now).await?;
                } else {
                    clear(conn, d, alarm, now, "").await?;
                }
            }
            Payload::Status {
                online: o,
                battery: b,
                signal: s,
            } => {
                online = *o;
                battery = b.or(battery);
                signal = s.or(signal);
            }
        }
    }
    // Heard from: online again (unless it said otherwise), "no data" over.
    sqlx::query(
        "UPDATE devices SET online = $1, last_seen_at = $2, \
         accepted = accepted + $3, duplicates = duplicates + $4, malformed = malformed + $5 WHERE id = $6",
    )
    .bind(i64::from(online))
    .bind(now)
    .bind(i64::try_from(out.accepted).unwrap_or(0))
    .bind(i64::try_from(out.duplicates).unwrap_or(0))
    .bind(i64::try_from(malformed).unwrap_or(0))
    .bind(d.id)
    .execute(&mut *conn)
    .await?;
    for (column, v) in [("battery", battery), ("signal", signal)] {
        if let Some(v) = v {
            let sql = format!("UPDATE devices SET {column} = $1 WHERE id = $2");
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(v)
                .bind(d.id)
                .execute(&mut *conn)
                .await?;
        }
    }
    if out.accepted > 0 {
        clear(conn, d, AlarmType::NoData, now, "").await?;
    }
    Ok(out)
}

/// Counts records of a device that could not be read, keeping the last reason (nothing
/// else is written).
pub async fn count_malformed(db: &Db, device_id: i64, n: usize, error: &str) -> StoreResult<()> {
    let mut tx = db.begin_write().await?;
    sqlx::query("UPDATE devices SET malformed = malformed + $1, last_error = $2 WHERE id = $3")
        .bind(i64::try_from(n).unwrap_or(0))
        .bind(error.chars().take(200).collect::<String>())
        .bind(device_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

async fn event(
    conn: &mut AnyConnection,
    alarm: i64,
    action: &str,
    actor: &str,
    value: Option<f64>,
    note: &str,
    now: Millis,
) -> StoreResult<()> {
    // A value is bound only when there is one: the Any driver types a statement by the
    // first binding it sees, and a NULL double there breaks a later one on PostgreSQL.
    let q = match value {
        Some(v) => sqlx::query(
            "INSERT INTO alarm_events (alarm_id, at, action, actor_login, note, value) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(alarm)
        .bind(now)
        .bind(action.to_string())
        .bind(actor.to_string())
        .bind(note.to_string())
        .bind(v),
        None => sqlx::query(
            "INSERT INTO alarm_events (alarm_id, at, action, actor_login, note, value) VALUES ($1, $2, $3, $4, $5, NULL)",
        )
        .bind(alarm)
        .bind(now)
        .bind(action.to_string())
        .bind(actor.to_string())
        .bind(note.to_string()),
    };
    q.execute(&mut *conn).await?;
    Ok(())
}

/// Raises alarm `t` on device `d`, or, when one is open, counts the occurrence (peak, last
/// seen; reactivated when it had cleared). A raise that finds the slot taken by another
/// node's insert updates that alarm.
async fn raise(
    conn: &mut AnyConnection,
    d: &Device,
    t: AlarmType,
    severity: Severity,
    value: Option<f64>,
    now: Millis,
) -> StoreResult<()> {
    let sql = if value.is_some() {
        "INSERT INTO alarms (device_id, school_id, alarm_type, severity, condition, raised_at, last_seen_at, trigger_value, peak_value) \
         VALUES ($1, $2, $3, $4, 'active', $5, $5, $6, $6) \
         ON CONFLICT (device_id, alarm_type) WHERE closed = 0 DO NOTHING RETURNING id"
    } else {
        "INSERT INTO alarms (device_id, school_id, alarm_type, severity, condition, raised_at, last_seen_at) \
         VALUES ($1, $2, $3, $4, 'active', $5, $5) \
         ON CONFLICT (device_id, alarm_type) WHERE closed = 0 DO NOTHING RETURNING id"
    };
    let mut q = sqlx::query_scalar(sql)
        .bind(d.id)
        .bind(d.school_id)
        .bind(t.code().to_string())
        .bind(severity.code().to_string())
        .bind(now);
    if let Some(v) = value {
        q = q.bind(v);
    }
    let inserted: Option<i64> = q.fetch_optional(&mut *conn).await?;
    if let Some(id) = inserted {
        event(conn, id, "raised", "device", value, "", now).await?;
        let event_code = if t.urgent() {
            NotifyEvent::AlarmFire
        } else {
            NotifyEvent::AlarmRaised
        };
        let intent = Intent {
            event: event_code,
            object_kind: "alarm",
            object_id: id,
            org_id: d.school_id,
            actor_id: None,
            user_id: None,
            args: serde_json::json!({
                "school": d.school_name, "location": d.location, "device": d.code,
                "alarm": t.code(), "value": value.map_or_else(|| t.code().to_string(), |v| format!("{v}")),
            }),
        };
        notify::record(conn, &intent, now).await?;
        if t.makes_hazard() {
            enqueue_on(
                conn,
                &NewJob {
                    kind: HAZARD_JOB.into(),
                    payload: serde_json::json!({ "alarm": id }),
                    dedupe_key: Some(format!("alarm-{id}")),
                    run_at: now,
                    max_attempts: 10,
                },
                now,
            )
            .await?;
        }
        return Ok(());
    }
    let open: Option<(i64, String)> = sqlx::query_as(
        "SELECT id, condition FROM alarms WHERE device_id = $1 AND alarm_type = $2 AND closed = 0",
    )
    .bind(d.id)
    .bind(t.code().to_string())
    .fetch_optional(&mut *conn)
    .await?;
    let Some((id, condition)) = open else {
        return Ok(());
    };
    sqlx::query(
        "UPDATE alarms SET occurrences = occurrences + 1, last_seen_at = $1, condition = 'active', cleared_at = NULL, \
         version = version + 1 WHERE id = $2",
    )
    .bind(now)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    if let Some(v) = value {
        sqlx::query(
            "UPDATE alarms SET peak_value = $1 WHERE id = $2 AND (peak_value IS NULL OR peak_value < $1)",
        )
        .bind(v)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    }
    if condition == Condition::Cleared.code() {
        event(conn, id, "reactivated", "device", value, "", now).await?;
    }
    Ok(())
}

/// Clears the open alarm `t` of device `d`, if it is active.
async fn clear(
    conn: &mut AnyConnection,
    d: &Device,
    t: AlarmType,
    now: Millis,
    note: &str,
) -> StoreResult<()> {
    let id: Option<i64> = sqlx::query_scalar(
        "UPDATE alarms SET condition = 'cleared', cleared_at = $1, version = version + 1 \
         WHERE device_id = $2 AND alarm_type = $3 AND closed = 0 AND condition = 'active' RETURNING id",
    )
    .bind(now)
    .bind(d.id)
    .bind(t.code().to_string())
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(id) = id {
        event(conn, id, "cleared", "device", None, note, now).await?;
    }
    Ok(())
}

/// Raises "no data" for every device in service not heard from for longer than its rules
/// allow (marking it offline); returns how many were raised. Runs on a timer, so silence
/// raises an alarm without any message; a rerun raises nothing new.
#[tracing::instrument(skip_all)]
pub async fn sweep_no_data(db: &Db, now: Millis) -> StoreResult<usize> {
    let mut sql = Sql::new(db.backend(), DEVICE);
    sql.push(
        " WHERE d.retired_at IS NULL AND NOT EXISTS (SELECT 1 FROM alarms a WHERE a.device_id = d.id \
         AND a.alarm_type = 'no_data' AND a.closed = 0 AND a.condition = 'active') ORDER BY d.id LIMIT 5000",
    );
    let (text, args) = sql.build();
    let rows: Vec<DeviceRow> = sqlx::query_as_with(text, args).fetch_all(db.pool()).await?;
    let mut raised = 0;
    for r in rows {
        let d = device(r)?;
        let minutes = rules(d.kind, &d.overrides)
            .map(|r| r.no_data_minutes)
            .unwrap_or(30);
        let since = d.last_seen_at.unwrap_or(d.created_at);
        if !xiaoan_domain::iot::no_data(since, now, minutes) {
            continue;
        }
        let mut tx = db.begin_write().await?;
        sqlx::query("UPDATE devices SET online = 0 WHERE id = $1")
            .bind(d.id)
            .execute(&mut *tx)
            .await?;
        raise(&mut tx, &d, AlarmType::NoData, Severity::Minor, None, now).await?;
        tx.commit().await?;
        raised += 1;
    }
    Ok(raised)
}

/// An alarm as callers see it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alarm {
    pub id: i64,
    pub device_id: i64,
    pub device_code: String,
    pub device_kind: DeviceKind,
    pub location: String,
    pub school_id: i64,
    pub school_name: String,
    #[serde(skip)]
    pub school_path: String,
    pub alarm_type: AlarmType,
    pub severity: Severity,
    pub condition: Condition,
    pub acked: bool,
    pub closed: bool,
    pub raised_at: Millis,
    pub last_seen_at: Millis,
    pub cleared_at: Option<Millis>,
    pub acked_at: Option<Millis>,
    pub closed_at: Option<Millis>,
    pub close_reason: Option<CloseReason>,
    pub occurrences: i64,
    pub trigger_value: Option<f64>,
    pub peak_value: Option<f64>,
    pub hazard_id: Option<i64>,
    pub version: i64,
}

#[derive(sqlx::FromRow)]
struct AlarmRow {
    id: i64,
    device_id: i64,
    device_code: String,
    device_kind: String,
    location: String,
    school_id: i64,
    school_name: String,
    school_path: String,
    alarm_type: String,
    severity: String,
    condition: String,
    acked: i64,
    closed: i64,
    raised_at: i64,
    last_seen_at: i64,
    cleared_at: Option<i64>,
    acked_at: Option<i64>,
    closed_at: Option<i64>,
    close_reason: Option<String>,
    occurrences: i64,
    trigger_value: Option<f64>,
    peak_value: Option<f64>,
    hazard_id: Option<i64>,
    version: i64,
}

const ALARM: &str = "SELECT a.id, a.device_id, d.code AS device_code, d.kind AS device_kind, d.location, a.school_id, \
     o.name AS school_name, o.path AS school_path, a.alarm_type, a.severity, a.condition, CAST(a.acked AS BIGINT) AS acked, \
     CAST(a.closed AS BIGINT) AS closed, a.raised_at, a.last_seen_at, a.cleared_at, a.acked_at, a.closed_at, a.close_reason, \
     a.occurrences, a.trigger_value, a.peak_value, a.hazard_id, a.version \
     FROM alarms a JOIN devices d ON d.id = a.device_id JOIN orgs o ON o.id = a.school_id";

fn alarm(r: AlarmRow) -> StoreResult<Alarm> {
    let bad = || StoreError::Invalid("alarm_row");
    Ok(Alarm {
        id: r.id,
        device_id: r.device_id,
        device_code: r.device_code,
        device_kind: DeviceKind::from_code(&r.device_kind).ok_or_else(bad)?,
        location: r.location,
        school_id: r.school_id,
        school_name: r.school_name,
        school_path: r.school_path,
        alarm_type: AlarmType::from_code(&r.alarm_type).ok_or_else(bad)?,
        severity: Severity::from_code(&r.severity).ok_or_else(bad)?,
        condition: Condition::from_code(&r.condition).ok_or_else(bad)?,
        acked: r.acked != 0,
        closed: r.closed != 0,
        raised_at: r.raised_at,
        last_seen_at: r.last_seen_at,
        cleared_at: r.cleared_at,
        acked_at: r.acked_at,
        closed_at: r.closed_at,
        close_reason: r.close_reason.as_deref().and_then(CloseReason::from_code),
        occurrences: r.occurrences,
        trigger_value: r.trigger_value,
        peak_value: r.peak_value,
        hazard_id: r.hazard_id,
        version: r.version,
    })
}

/// Which alarms a list shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AlarmStatus {
    /// Not closed (the board).
    #[default]
    Open,
    /// Open and still active.
    Active,
    /// Open and not acknowledged.
    Unacked,
    /// Closed.
    Closed,
    /// Everything.
    All,
}

impl AlarmStatus {
    /// From its code (`open`, `active`, `unacked`, `closed`, `all`).
    pub fn parse(code: &str) -> Option<AlarmStatus> {
        Some(match code {
            "open" => AlarmStatus::Open,
            "active" => AlarmStatus::Active,
            "unacked" => AlarmStatus::Unacked,
            "closed" => AlarmStatus::Closed,
            "all" => AlarmStatus::All,
            _ => return None,
        })
    }
}

/// Alarms of schools in `scope`: urgent and newest first.
pub async fn list_alarms(
    db: &Db,
    scope: &Scope,
    status: AlarmStatus,
    school_id: Option<i64>,
    limit: i64,
) -> StoreResult<Vec<Alarm>> {
    let mut sql = Sql::new(db.backend(), ALARM);
    sql.push(" WHERE ").scope("o.path", scope);
    match status {
        AlarmStatus::Open => {
            sql.push(" AND a.closed = 0");
        }
        AlarmStatus::Active => {
            sql.push(" AND a.closed = 0 AND a.condition = 'active'");
        }
        AlarmStatus::Unacked => {
            sql.push(" AND a.closed = 0 AND a.acked = 0");
        }
        AlarmStatus::Closed => {
            sql.push(" AND a.closed = 1");
        }
        AlarmStatus::All => {}
    }
    if let Some(s) = school_id {
        sql.push(" AND a.school_id = ").bind(s);
    }
    sql.push(
        " ORDER BY a.closed, CASE a.severity WHEN 'critical' THEN 0 WHEN 'major' THEN 1 WHEN 'minor' THEN 2 ELSE 3 END, a.id DESC LIMIT ",
    )
    .bind(limit.clamp(1, 1000));
    let (text, args) = sql.build();
    let rows: Vec<AlarmRow> = sqlx::query_as_with(text, args).fetch_all(db.pool()).await?;
    rows.into_iter().map(alarm).collect()
}

/// One alarm of a school in `scope`.
pub async fn get_alarm(db: &Db, scope: &Scope, id: i64) -> StoreResult<Alarm> {
    let mut sql = Sql::new(db.backend(), ALARM);
    sql.push(" WHERE a.id = ")
        .bind(id)
        .push(" AND ")
        .scope("o.path", scope);
    let (text, args) = sql.build();
    let row: Option<AlarmRow> = sqlx::query_as_with(text, args)
        .fetch_optional(db.pool())
        .await?;
    alarm(row.ok_or(StoreError::NotFound)?)
}

/// One entry of an alarm's history.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct AlarmEvent {
    pub at: Millis,
    pub action: String,
    pub actor_login: String,
    pub value: Option<f64>,
    pub note: String,
}

/// An alarm's history, oldest first.
pub async fn alarm_events(db: &Db, id: i64) -> StoreResult<Vec<AlarmEvent>> {
    Ok(sqlx::query_as(
        "SELECT at, action, actor_login, value, note FROM alarm_events WHERE alarm_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(db.pool())
    .await?)
}

/// Acknowledges alarm `id` (someone is on it): stops its reminders, kept across restarts.
pub async fn ack(db: &Db, actor: &Actor, scope: &Scope, id: i64, note: &str) -> StoreResult<Alarm> {
    let a = get_alarm(db, scope, id).await?;
    if a.closed {
        return Err(StoreError::Conflict("alarm_closed"));
    }
    if a.acked {
        return Err(StoreError::Conflict("alarm_acked"));
    }
    let now = now_millis();
    let mut tx = db.begin_write().await?;
    let n = sqlx::query(
        "UPDATE alarms SET acked = 1, acked_at = $1, acked_by = $2, version = version + 1 WHERE id = $3 AND version = $4",
    )
    .bind(now)
    .bind(actor.user_id)
    .bind(id)
    .bind(a.version)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if n != 1 {
        return Err(StoreError::Conflict("alarm_changed"));
    }
    event(&mut tx, id, "acked", &actor.login, None, note, now).await?;
    audit::append(
        &mut tx,
        actor,
        AuditEvent::ok("alarm.ack", "alarm", id, serde_json::json!({})),
    )
    .await?;
    tx.commit().await?;
    get_alarm(db, scope, id).await
}

/// Closes alarm `id` with a reason: it must be acknowledged and its condition cleared
/// (a false alarm, a drill, a test or maintenance may be closed while still active).
pub async fn close(
    db: &Db,
    actor: &Actor,
    scope: &Scope,
    id: i64,
    reason: CloseReason,
    note: &str,
) -> StoreResult<Alarm> {
    let a = get_alarm(db, scope, id).await?;
    if a.closed {
        return Err(StoreError::Conflict("alarm_closed"));
    }
    if !a.acked {
        return Err(StoreError::Conflict("alarm_not_acked"));
    }
    let may_close_active = matches!(
        reason,
        CloseReason::FalseAlarm | CloseReason::Drill | CloseReason::Test | CloseReason::Maintenance
    );
    if a.condition == Condition::Active && !may_close_active {
        return Err(StoreError::Conflict("alarm_still_active"));
    }
    let now = now_millis();
    let mut tx = db.begin_write().await?;
    let n = sqlx::query(
        "UPDATE alarms SET closed = 1, closed_at = $1, closed_by = $2, close_reason = $3, version = version + 1 \
         WHERE id = $4 AND version = $5",
    )
    .bind(now)
    .bind(actor.user_id)
    .bind(reason.code().to_string())
    .bind(id)
    .bind(a.version)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if n != 1 {
        return Err(StoreError::Conflict("alarm_changed"));
    }
    // The rule starts afresh: the next crossing raises a new alarm.
    sqlx::query("DELETE FROM rule_states WHERE device_id = $1")
        .bind(a.device_id)
        .execute(&mut *tx)
        .await?;
    event(&mut tx, id, "closed", &actor.login, None, note, now).await?;
    audit::append(
        &mut tx,
        actor,
        AuditEvent::ok(
            "alarm.close",
            "alarm",
            id,
            serde_json::json!({"reason": reason}),
        ),
    )
    .await?;
    tx.commit().await?;
    get_alarm(db, scope, id).await
}

/// Links the hazard filed for alarm `id` (once; a second link is ignored).
pub async fn link_hazard(db: &Db, id: i64, hazard_id: i64) -> StoreResult<bool> {
    let mut tx = db.begin_write().await?;
    let n = sqlx::query("UPDATE alarms SET hazard_id = $1 WHERE id = $2 AND hazard_id IS NULL")
        .bind(hazard_id)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if n == 1 {
        event(
            &mut tx,
            id,
            "hazard_linked",
            "system",
            None,
            &hazard_id.to_string(),
            now_millis(),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(n == 1)
}

/// An alarm for the hazard job, whatever the scope.
pub async fn alarm_unscoped(db: &Db, id: i64) -> StoreResult<Alarm> {
    get_alarm(db, &Scope::everything(), id).await
}

/// One reading.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Reading {
    pub at: Millis,
    pub metric: String,
    pub value: f64,
}

/// A device's readings from `from` to `to` (milliseconds, inclusive), oldest first, at most
/// `limit`.
pub async fn readings(
    db: &Db,
    device_id: i64,
    from: Millis,
    to: Millis,
    limit: i64,
) -> StoreResult<Vec<Reading>> {
    Ok(sqlx::query_as(
        "SELECT at, metric, value FROM readings WHERE device_id = $1 AND at >= $2 AND at <= $3 ORDER BY at, metric LIMIT $4",
    )
    .bind(device_id)
    .bind(from)
    .bind(to)
    .bind(limit.clamp(1, 20_000))
    .fetch_all(db.pool())
    .await?)
}

/// Removes readings and message ids older than `before` (the retention setting); returns
/// how many readings went.
pub async fn prune(db: &Db, before: Millis) -> StoreResult<u64> {
    let mut tx = db.begin_write().await?;
    let n = sqlx::query("DELETE FROM readings WHERE at < $1")
        .bind(before)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    sqlx::query("DELETE FROM device_messages WHERE received_at < $1")
        .bind(before)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(n)
}
