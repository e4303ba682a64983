//! Ingest: the records of one device or of a round of many written in one transaction by a
//! few multi-row statements, the rules run on them, alarms raised and cleared; the no-data sweep; readings and pruning.

use super::*;
use crate::sql::Rows;
use std::collections::{HashMap, HashSet};
use xiaoan_domain::iot::{KindRules, defaults, on_rise, rise_key};

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
    Ok(ingest_round(db, &[(d, records, malformed)], now).await?[0])
}

/// Several devices' records in one transaction (a round of the MQTT subscriber): all are
/// durable, or none is.
#[tracing::instrument(skip_all, fields(devices = items.len()))]
pub async fn ingest_round(
    db: &Db,
    items: &[(&Device, &[Record], usize)],
    now: Millis,
) -> StoreResult<Vec<Ingested>> {
    let mut attempt = 0;
    loop {
        let mut tx = db.begin_write().await?;
        match ingest_on(&mut tx, db.backend(), items, now).await {
            Ok(out) => {
                tx.commit().await?;
                return Ok(out);
            }
            // Another node stored one of these messages meanwhile: again, seeing it.
            Err(StoreError::Conflict(RACE)) if attempt < 5 => {
                attempt += 1;
                tx.rollback().await?;
            }
            Err(e) => return Err(e),
        }
    }
}

/// The code of a round refused because another node stored one of its messages meanwhile.
const RACE: &str = "ingest_race";

/// The rows of `columns` of `table` for `devices`, as one JSON array in one result row: a
/// round reads a few thousand small rows, and one row crosses from the database driver's
/// thread far faster than thousands. `columns` and `table` are fixed names.
async fn json_rows<T: serde::de::DeserializeOwned>(
    conn: &mut AnyConnection,
    backend: crate::Backend,
    columns: &'static str,
    table: &'static str,
    devices: &[i64],
) -> StoreResult<Vec<T>> {
    let head = match backend {
        crate::Backend::Sqlite => {
            format!(
                "SELECT COALESCE(json_group_array(json_array({columns})), '[]') FROM {table} WHERE device_id IN "
            )
        }
        crate::Backend::Postgres => format!(
            "SELECT COALESCE(CAST(json_agg(json_build_array({columns})) AS TEXT), '[]') FROM {table} WHERE device_id IN "
        ),
    };
    let mut sql = Sql::from_text(backend, head);
    sql.list(devices.iter().copied());
    let (text, args) = sql.build();
    let json: String = sqlx::query_scalar_with(text, args)
        .fetch_one(&mut *conn)
        .await?;
    serde_json::from_str(&json).map_err(|e| StoreError::Internal(e.to_string()))
}

/// Rows per multi-row statement: at most five bound values each, well inside the
/// parameter limits of both backends.
const CHUNK: usize = 1000;

/// What the rules decided for one device, in order; consecutive occurrences of one alarm
/// folded into one (a count and the peak).
enum Action {
    Raise {
        alarm: AlarmType,
        severity: Severity,
        first: Option<f64>,
        peak: Option<f64>,
        n: i64,
    },
    Clear(AlarmType),
}

fn push_raise(actions: &mut Vec<Action>, alarm: AlarmType, severity: Severity, v: Option<f64>) {
    if let Some(Action::Raise {
        alarm: a, peak, n, ..
    }) = actions.last_mut()
        && *a == alarm
    {
        *n += 1;
        *peak = match (*peak, v) {
            (Some(p), Some(v)) => Some(p.max(v)),
            (p, v) => p.or(v),
        };
        return;
    }
    actions.push(Action::Raise {
        alarm,
        severity,
        first: v,
        peak: v,
        n: 1,
    });
}

/// The batch of many devices in a handful of statements: message ids, readings, latest
/// values and rule states each written by one multi-row statement (per [`CHUNK`] rows), the
/// rules run in memory on the states read in one query; only alarms that change cost
/// statements of their own.
async fn ingest_on(
    conn: &mut AnyConnection,
    backend: crate::Backend,
    items: &[(&Device, &[Record], usize)],
    now: Millis,
) -> StoreResult<Vec<Ingested>> {
    if items.iter().any(|(d, ..)| d.retired_at.is_some()) {
        return Err(StoreError::Conflict("device_retired"));
    }
    let mut out = vec![Ingested::default(); items.len()];
    // Message ids: the first of each in the batch is offered; the database says which are new.
    let mut offered: HashSet<(i64, &str)> = HashSet::new();
    let mut candidates: Vec<(usize, usize)> = Vec::new();
    for (i, (d, records, _)) in items.iter().enumerate() {
        for (j, r) in records.iter().enumerate() {
            if offered.insert((d.id, r.msg_id.as_str())) {
                candidates.push((i, j));
            } else {
                out[i].duplicates += 1;
            }
        }
    }
    // Ids stored before (a repeat after a lost acknowledgement): usually none, so this
    // answers with few rows; then the rest are inserted, and if another node inserted one of
    // them meanwhile the round is refused as a race (and retried by `ingest_round`).
    let mut stored: HashSet<(i64, String)> = HashSet::new();
    for chunk in candidates.chunks(CHUNK) {
        let mut sql = Sql::new(
            backend,
            "SELECT device_id, msg_id FROM device_messages WHERE (device_id, msg_id) IN (VALUES ",
        );
        for (k, &(i, j)) in chunk.iter().enumerate() {
            sql.push(if k == 0 { "(" } else { ", (" })
                .bind(items[i].0.id)
                .push(", ")
                .bind(items[i].1[j].msg_id.clone())
                .push(")");
        }
        sql.push(")");
        let (text, args) = sql.build();
        let got: Vec<(i64, String)> = sqlx::query_as_with(text, args)
            .fetch_all(&mut *conn)
            .await?;
        stored.extend(got);
    }
    let new: Vec<(usize, usize)> = candidates
        .iter()
        .copied()
        .filter(|&(i, j)| !stored.contains(&(items[i].0.id, items[i].1[j].msg_id.clone())))
        .collect();
    for chunk in new.chunks(CHUNK) {
        let mut rows = Rows::new(
            backend,
            "INSERT INTO device_messages (device_id, msg_id, received_at) VALUES ",
        );
        for &(i, j) in chunk {
            rows.row()
                .value(items[i].0.id)
                .value(items[i].1[j].msg_id.clone())
                .value(now);
        }
        let (text, args) = rows.build_with(" ON CONFLICT DO NOTHING");
        let n = sqlx::query_with(text, args)
            .execute(&mut *conn)
            .await?
            .rows_affected();
        if n != chunk.len() as u64 {
            return Err(StoreError::Conflict(RACE));
        }
    }
    let mut fresh: Vec<Vec<&Record>> = vec![Vec::new(); items.len()];
    for &(i, j) in &candidates {
        let r = &items[i].1[j];
        if stored.contains(&(items[i].0.id, r.msg_id.clone())) {
            out[i].duplicates += 1;
        } else {
            out[i].accepted += 1;
            fresh[i].push(r);
        }
    }

    // The devices whose rules look at values.
    let kind_rules: Vec<KindRules> = items
        .iter()
        .map(|(d, ..)| rules(d.kind, &d.overrides).unwrap_or_else(|_| defaults(d.kind)))
        .collect();
    let watched: Vec<i64> = items
        .iter()
        .zip(&kind_rules)
        .zip(&fresh)
        .filter(|((_, k), f)| (!k.thresholds.is_empty() || !k.rises.is_empty()) && !f.is_empty())
        .map(|(((d, ..), _), _)| d.id)
        .collect();
    // The previous value of each of their metrics, before this batch's (rates of change).
    let mut prev: HashMap<(i64, String), (Millis, f64)> = HashMap::new();
    for chunk in watched.chunks(CHUNK) {
        let rows: Vec<(i64, String, i64, f64)> = json_rows(
            conn,
            backend,
            "device_id, metric, at, value",
            "latest_values",
            chunk,
        )
        .await?;
        for (device, metric, at, value) in rows {
            prev.insert((device, metric), (at, value));
        }
    }

    // Readings, and the latest value of each metric.
    let mut readings: Vec<(i64, Millis, &str, f64)> = Vec::new();
    let mut latest: HashMap<(i64, &str), (Millis, f64)> = HashMap::new();
    for (i, records) in fresh.iter().enumerate() {
        for r in records {
            if let Payload::Telemetry(values) = &r.payload {
                for (metric, value) in values {
                    readings.push((items[i].0.id, r.ts, metric, *value));
                    let e = latest
                        .entry((items[i].0.id, metric))
                        .or_insert((r.ts, *value));
                    if r.ts >= e.0 {
                        *e = (r.ts, *value);
                    }
                }
            }
        }
    }
    for chunk in readings.chunks(CHUNK) {
        let mut rows = Rows::new(
            backend,
            "INSERT INTO readings (device_id, at, metric, value) VALUES ",
        );
        for (device, at, metric, value) in chunk {
            rows.row()
                .value(*device)
                .value(*at)
                .value(metric.to_string())
                .value(*value);
        }
        let (text, args) = rows.build();
        sqlx::query_with(text, args).execute(&mut *conn).await?;
    }
    let latest: Vec<_> = latest.into_iter().collect();
    for chunk in latest.chunks(CHUNK) {
        let mut rows = Rows::new(
            backend,
            "INSERT INTO latest_values (device_id, metric, at, value) VALUES ",
        );
        for ((device, metric), (at, value)) in chunk {
            rows.row()
                .value(*device)
                .value(metric.to_string())
                .value(*at)
                .value(*value);
        }
        let (text, args) = rows.build_with(
            " ON CONFLICT (device_id, metric) DO UPDATE SET at = excluded.at, value = excluded.value \
             WHERE excluded.at >= latest_values.at",
        );
        sqlx::query_with(text, args).execute(&mut *conn).await?;
    }

    // The rules' states, read at once.
    let mut states: HashMap<(i64, String), ThresholdState> = HashMap::new();
    for chunk in watched.chunks(CHUNK) {
        let rows: Vec<(i64, String, i64, i64)> = json_rows(
            conn,
            backend,
            "device_id, metric, above, firing",
            "rule_states",
            chunk,
        )
        .await?;
        for (device, metric, above, firing) in rows {
            let s = ThresholdState {
                above: u32::try_from(above).unwrap_or(0),
                firing: firing != 0,
            };
            states.insert((device, metric), s);
        }
    }
    let mut changed: HashSet<(i64, String)> = HashSet::new();
    let mut actions: Vec<Vec<Action>> = Vec::with_capacity(items.len());
    let mut health: Vec<(bool, Option<f64>, Option<f64>)> = vec![(true, None, None); items.len()];
    for (i, records) in fresh.iter().enumerate() {
        let d = items[i].0;
        let mut acts = Vec::new();
        for r in records {
            match &r.payload {
                Payload::Telemetry(values) => {
                    for (metric, value) in values {
                        let last = prev.get(&(d.id, metric.clone())).copied();
                        if last.is_none_or(|(at, _)| r.ts > at) {
                            prev.insert((d.id, metric.clone()), (r.ts, *value));
                        }
                        if let Some(rule) = kind_rules[i].rises.iter().find(|x| x.metric == metric)
                        {
                            let key = (d.id, rise_key(metric));
                            let s = states.get(&key).copied().unwrap_or_default();
                            let (firing, verdict) = on_rise(rule, s.firing, last, r.ts, *value);
                            let next = ThresholdState { above: 0, firing };
                            if next != s || !states.contains_key(&key) {
                                changed.insert(key.clone());
                            }
                            states.insert(key, next);
                            match verdict {
                                Verdict::Hold => {}
                                Verdict::Raise(v) | Verdict::Update(v) => {
                                    push_raise(&mut acts, rule.alarm, rule.severity, Some(v));
                                }
                                Verdict::Clear => acts.push(Action::Clear(rule.alarm)),
                            }
                        }
                        let Some(t) = kind_rules[i].thresholds.iter().find(|t| t.metric == metric)
                        else {
                            continue;
                        };
                        let key = (d.id, metric.clone());
                        let s = states.get(&key).copied().unwrap_or_default();
                        let (next, verdict) = on_reading(t, s, *value);
                        if next != s || !states.contains_key(&key) {
                            changed.insert(key.clone());
                        }
                        states.insert(key, next);
                        match verdict {
                            Verdict::Hold => {}
                            Verdict::Raise(v) | Verdict::Update(v) => {
                                push_raise(&mut acts, t.alarm, t.severity, Some(v));
                            }
                            Verdict::Clear => acts.push(Action::Clear(t.alarm)),
                        }
                    }
                }
                Payload::Event { event, active } => {
                    let Some((alarm, severity)) = event_alarm(d.kind, event) else {
                        return Err(StoreError::Invalid("ingest_event"));
                    };
                    if *active {
                        push_raise(&mut acts, alarm, severity, None);
                    } else {
                        acts.push(Action::Clear(alarm));
                    }
                }
                Payload::Status {
                    online,
                    battery,
                    signal,
                } => {
                    let h = &mut health[i];
                    h.0 = *online;
                    h.1 = battery.or(h.1);
                    h.2 = signal.or(h.2);
                }
            }
        }
        actions.push(acts);
    }
    let changed: Vec<_> = changed.into_iter().collect();
    for chunk in changed.chunks(CHUNK) {
        let mut rows = Rows::new(
            backend,
            "INSERT INTO rule_states (device_id, metric, above, firing, updated_at) VALUES ",
        );
        for key in chunk {
            let s = states[key];
            rows.row()
                .value(key.0)
                .value(key.1.clone())
                .value(i64::from(s.above))
                .value(i64::from(s.firing))
                .value(now);
        }
        let (text, args) = rows.build_with(
            " ON CONFLICT (device_id, metric) DO UPDATE SET above = excluded.above, firing = excluded.firing, \
             updated_at = excluded.updated_at",
        );
        sqlx::query_with(text, args).execute(&mut *conn).await?;
    }
    for (i, acts) in actions.into_iter().enumerate() {
        let d = items[i].0;
        for a in acts {
            match a {
                Action::Raise {
                    alarm,
                    severity,
                    first,
                    peak,
                    n,
                } => raise_n(conn, d, alarm, severity, first, peak, n, now).await?,
                Action::Clear(alarm) => clear(conn, d, alarm, now, "").await?,
            }
        }
    }

    // Heard from: online again (unless it said otherwise), counters, "no data" over.
    let indices: Vec<usize> = (0..items.len()).collect();
    for chunk in indices.chunks(CHUNK) {
        let mut sql = Sql::new(backend, "UPDATE devices SET last_seen_at = ");
        sql.bind(now).push(
            ", online = v.column2, accepted = accepted + v.column3, duplicates = duplicates + v.column4, \
             malformed = malformed + v.column5 FROM (VALUES ",
        );
        for (k, &i) in chunk.iter().enumerate() {
            sql.push(if k == 0 { "(" } else { ", (" });
            sql.bind(items[i].0.id)
                .push(", ")
                .bind(i64::from(health[i].0))
                .push(", ")
                .bind(i64::try_from(out[i].accepted).unwrap_or(0))
                .push(", ")
                .bind(i64::try_from(out[i].duplicates).unwrap_or(0))
                .push(", ")
                .bind(i64::try_from(items[i].2).unwrap_or(0))
                .push(")");
        }
        sql.push(") AS v WHERE devices.id = v.column1");
        let (text, args) = sql.build();
        sqlx::query_with(text, args).execute(&mut *conn).await?;
    }
    for (i, (_, battery, signal)) in health.iter().enumerate() {
        for (column, v) in [("battery", battery), ("signal", signal)] {
            if let Some(v) = v {
                let sql = format!("UPDATE devices SET {column} = $1 WHERE id = $2");
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(*v)
                    .bind(items[i].0.id)
                    .execute(&mut *conn)
                    .await?;
            }
        }
    }
    let heard: Vec<i64> = (0..items.len())
        .filter(|&i| out[i].accepted > 0)
        .map(|i| items[i].0.id)
        .collect();
    for chunk in heard.chunks(CHUNK) {
        let mut sql = Sql::new(
            backend,
            "UPDATE alarms SET condition = 'cleared', cleared_at = ",
        );
        sql.bind(now).push(
            ", version = version + 1 WHERE alarm_type = 'no_data' AND closed = 0 AND condition = 'active' \
             AND device_id IN ",
        );
        sql.list(chunk.iter().copied()).push(" RETURNING id");
        let (text, args) = sql.build();
        let ids: Vec<i64> = sqlx::query_scalar_with(text, args)
            .fetch_all(&mut *conn)
            .await?;
        for id in ids {
            event(conn, id, "cleared", "device", None, "", now).await?;
        }
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

/// Counts `n` messages of a device refused as a flood (nothing else is written).
pub async fn count_flooded(db: &Db, device_id: i64, n: usize) -> StoreResult<()> {
    let mut tx = db.begin_write().await?;
    sqlx::query(
        "UPDATE devices SET flooded = flooded + $1, last_error = 'ingest_flood' WHERE id = $2",
    )
    .bind(i64::try_from(n).unwrap_or(0))
    .bind(device_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn event(
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
pub(super) async fn raise(
    conn: &mut AnyConnection,
    d: &Device,
    t: AlarmType,
    severity: Severity,
    value: Option<f64>,
    now: Millis,
) -> StoreResult<()> {
    raise_n(conn, d, t, severity, value, value, 1, now).await
}

/// [`raise`] for `n` occurrences at once, `first` the value of the first and `peak` the
/// highest.
#[allow(clippy::too_many_arguments)]
async fn raise_n(
    conn: &mut AnyConnection,
    d: &Device,
    t: AlarmType,
    severity: Severity,
    first: Option<f64>,
    peak: Option<f64>,
    n: i64,
    now: Millis,
) -> StoreResult<()> {
    let value = first;
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
        if n > 1 {
            bump(conn, id, n - 1, peak, now).await?;
        }
        // In a maintenance, drill or test window its notifications wait for the window's
        // end (the escalation round sends them then, if it is still open).
        let silenced: Option<i64> = sqlx::query_scalar(
            "SELECT MAX(ends_at) FROM alarm_silences WHERE school_id = $1 AND (device_id IS NULL OR device_id = $2) \
             AND starts_at <= $3 AND ends_at > $3",
        )
        .bind(d.school_id)
        .bind(d.id)
        .bind(now)
        .fetch_one(&mut *conn)
        .await?;
        if let Some(until) = silenced {
            sqlx::query("UPDATE alarms SET silenced_until = $1 WHERE id = $2")
                .bind(until)
                .bind(id)
                .execute(&mut *conn)
                .await?;
            event(conn, id, "silenced", "device", None, "", now).await?;
        } else {
            sqlx::query("UPDATE alarms SET notified_at = $1 WHERE id = $2")
                .bind(now)
                .bind(id)
                .execute(&mut *conn)
                .await?;
            announce(conn, d, id, t, value, now).await?;
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
    bump(conn, id, n, peak, now).await?;
    if condition == Condition::Cleared.code() {
        event(conn, id, "reactivated", "device", value, "", now).await?;
    }
    Ok(())
}

/// Tells people of alarm `id` just raised on `d` (through the outbox), and for fire, smoke
/// and gas queues the job that files its hazard.
pub(super) async fn announce(
    conn: &mut AnyConnection,
    d: &Device,
    id: i64,
    t: AlarmType,
    value: Option<f64>,
    now: Millis,
) -> StoreResult<()> {
    let event_code = if t.urgent() {
        NotifyEvent::AlarmFire
    } else {
        NotifyEvent::AlarmRaised
    };
    tell(conn, d, id, t, value, event_code, now).await?;
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
    Ok(())
}

/// Writes the notification `event` of alarm `id` on device `d`.
pub(super) async fn tell(
    conn: &mut AnyConnection,
    d: &Device,
    id: i64,
    t: AlarmType,
    value: Option<f64>,
    event: NotifyEvent,
    now: Millis,
) -> StoreResult<()> {
    let intent = Intent {
        event,
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
    Ok(())
}

/// Counts `n` more occurrences of open alarm `id` (active again, last seen now, the peak
/// kept).
async fn bump(
    conn: &mut AnyConnection,
    id: i64,
    n: i64,
    peak: Option<f64>,
    now: Millis,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE alarms SET occurrences = occurrences + $1, last_seen_at = $2, condition = 'active', cleared_at = NULL, \
         version = version + 1 WHERE id = $3",
    )
    .bind(n)
    .bind(now)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    if let Some(v) = peak {
        sqlx::query(
            "UPDATE alarms SET peak_value = $1 WHERE id = $2 AND (peak_value IS NULL OR peak_value < $1)",
        )
        .bind(v)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Clears the open alarm `t` of device `d`, if it is active.
pub(super) async fn clear(
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
