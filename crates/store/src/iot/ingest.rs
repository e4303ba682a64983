//! Ingest: the records of one device or of a round of many written in one transaction by a
//! few multi-row statements, the rules run on them in memory, alarms raised and cleared.

use super::*;
use crate::sql::Rows;
use std::collections::{HashMap, HashSet};
use xiaoan_domain::iot::{KindRules, defaults, on_rise, rise_key};

/// What a record in a batch says.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    /// Metric values.
    Telemetry(Vec<(String, f64)>),
    /// A discrete event (`smoke`, `fire`, `gas`, `fault`, `tamper`, `intrusion` …), active
    /// or cleared; `severity` when the sender grades it (a video platform's priority),
    /// else the kind's own.
    Event {
        event: String,
        active: bool,
        severity: Option<Severity>,
    },
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
    let fresh = new_records(conn, backend, items, &mut out, now).await?;

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
                Payload::Event {
                    event,
                    active,
                    severity: graded,
                } => {
                    let Some((alarm, severity)) = event_alarm(d.kind, event) else {
                        return Err(StoreError::Invalid("ingest_event"));
                    };
                    let severity = graded.unwrap_or(severity);
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

    heard(conn, backend, items, &out, &health, now).await?;
    Ok(out)
}

/// The records of each item not stored before: the first of each message id in the batch
/// is offered; the database says which it already has. Counts both into `out`.
async fn new_records<'a>(
    conn: &mut AnyConnection,
    backend: crate::Backend,
    items: &[(&Device, &'a [Record], usize)],
    out: &mut [Ingested],
    now: Millis,
) -> StoreResult<Vec<Vec<&'a Record>>> {
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
    Ok(fresh)
}

/// The devices heard from: online again (unless a status said otherwise), counters, battery
/// and signal, "no data" over.
async fn heard(
    conn: &mut AnyConnection,
    backend: crate::Backend,
    items: &[(&Device, &[Record], usize)],
    out: &[Ingested],
    health: &[(bool, Option<f64>, Option<f64>)],
    now: Millis,
) -> StoreResult<()> {
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
    Ok(())
}
