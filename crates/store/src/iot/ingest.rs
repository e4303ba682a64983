//! Ingest: a device's records written in one transaction, the rules run on them, alarms
//! raised and cleared; the no-data sweep; readings and pruning.

use super::*;

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
