//! Device health beside the ingest: records counted as unreadable or as a flood, the
//! "no data" sweep on a timer, readings read back, pruning by age, and the counts the home
//! page shows.

use super::*;

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

/// What the home page shows of monitoring in a scope.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct MonitoringCounts {
    /// Devices in service, and those of them offline.
    pub devices: i64,
    pub offline: i64,
    /// Open alarms still active, and open alarms nobody acknowledged.
    pub active: i64,
    pub unacked: i64,
    /// Uncovered key areas with a hazard not yet closed.
    pub video_gaps: i64,
}

/// The monitoring counts of schools in `scope`, by three counting queries.
pub async fn monitoring_counts(db: &Db, scope: &Scope) -> StoreResult<MonitoringCounts> {
    let mut sql = Sql::new(
        db.backend(),
        "SELECT COUNT(*), CAST(COALESCE(SUM(CASE WHEN d.online = 0 THEN 1 ELSE 0 END), 0) AS BIGINT) \
         FROM devices d JOIN orgs o ON o.id = d.school_id WHERE d.retired_at IS NULL AND ",
    );
    sql.scope("o.path", scope);
    let (text, args) = sql.build();
    let (devices, offline): (i64, i64) =
        sqlx::query_as_with(text, args).fetch_one(db.pool()).await?;
    let mut sql = Sql::new(
        db.backend(),
        "SELECT CAST(COALESCE(SUM(CASE WHEN a.condition = 'active' THEN 1 ELSE 0 END), 0) AS BIGINT), \
         CAST(COALESCE(SUM(CASE WHEN a.acked = 0 THEN 1 ELSE 0 END), 0) AS BIGINT) \
         FROM alarms a JOIN orgs o ON o.id = a.school_id WHERE a.closed = 0 AND ",
    );
    sql.scope("o.path", scope);
    let (text, args) = sql.build();
    let (active, unacked): (i64, i64) =
        sqlx::query_as_with(text, args).fetch_one(db.pool()).await?;
    let mut sql = Sql::new(
        db.backend(),
        "SELECT COUNT(*) FROM video_gaps g JOIN hazards h ON h.id = g.hazard_id JOIN orgs o ON o.id = g.school_id \
         WHERE h.status NOT IN ",
    );
    sql.list(
        xiaoan_domain::hazard::Status::DONE
            .iter()
            .map(|s| s.code().to_string()),
    )
    .push(" AND ")
    .scope("o.path", scope);
    let (text, args) = sql.build();
    let video_gaps: i64 = sqlx::query_scalar_with(text, args)
        .fetch_one(db.pool())
        .await?;
    Ok(MonitoringCounts {
        devices,
        offline,
        active,
        unacked,
        video_gaps,
    })
}
