//! Device health beside the ingest: records counted as unreadable or as a flood, the
//! "no data" sweep on a timer, readings read back, and pruning by age.

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
