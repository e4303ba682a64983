//! Changes to alarms, each with its history entry: raise (or count another occurrence),
//! clear, and telling people through the outbox; the ingest and the rounds on a timer call
//! these inside their transactions.

use super::*;

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
pub(super) async fn raise_n(
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
            "alarm": t.code(), "value": value.map(|v| format!("{v}")).unwrap_or_default(),
        }),
    };
    notify::record(conn, &intent, now).await?;
    Ok(())
}

/// Counts `n` more occurrences of open alarm `id` (active again, last seen now, the peak
/// kept).
pub(super) async fn bump(
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
