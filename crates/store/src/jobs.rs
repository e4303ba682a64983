//! The job queue (migration 0010): enqueue, claim under a lease, extend, finish, fail with a
//! retry policy, and the administrator's list, retry and cancel. Every function takes the
//! time as `now` (milliseconds), so the lease and retry rules are tested without waiting.
//!
//! A claim is one `UPDATE … RETURNING` over the due jobs (queued and due, or running with
//! a lapsed lease); on PostgreSQL the jobs are picked `FOR UPDATE SKIP LOCKED`, so two nodes
//! claiming at once take different jobs, and on SQLite the write lock orders the claims.
//! Finishing or failing names the lease owner: a node whose lease lapsed and was taken over
//! changes nothing.

use crate::sql::Sql;
use crate::{Backend, Db, StoreError, StoreResult};
use serde::Serialize;
use xiaoan_domain::Millis;

/// A job's state.
pub const STATES: [&str; 5] = ["queued", "running", "done", "dead", "cancelled"];

/// A job as stored.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Job {
    pub id: i64,
    pub kind: String,
    pub payload: String,
    pub dedupe_key: Option<String>,
    pub state: String,
    pub run_at: Millis,
    pub attempts: i64,
    pub max_attempts: i64,
    pub lease_owner: Option<String>,
    pub lease_until: Option<Millis>,
    pub last_error: Option<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

const COLUMNS: &str = "id, kind, payload, dedupe_key, state, run_at, attempts, max_attempts, lease_owner, \
     lease_until, last_error, created_at, updated_at";

/// How a kind of job is retried: exponential backoff from `base_ms`, at most `max_ms`,
/// with up to half of each delay taken off at random (so retries of many jobs spread out),
/// until `max_attempts` have failed; then the job is dead with its last error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    pub base_ms: i64,
    pub max_ms: i64,
    pub max_attempts: i64,
}

impl Retry {
    /// The delay before attempt `attempts + 1`, after `attempts` failures; `jitter` in
    /// `0.0..1.0` (a random draw; 0 gives the full delay).
    pub fn delay(&self, attempts: i64, jitter: f64) -> i64 {
        let exp = u32::try_from(attempts.saturating_sub(1).clamp(0, 40)).unwrap_or(40);
        let full = self
            .base_ms
            .saturating_mul(2i64.saturating_pow(exp))
            .min(self.max_ms);
        let off = (full as f64 * jitter.clamp(0.0, 1.0) / 2.0) as i64;
        full - off
    }
}

/// A job to add.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub kind: String,
    pub payload: serde_json::Value,
    /// With a key, a second job of the same kind and key is not added (periodic work).
    pub dedupe_key: Option<String>,
    pub run_at: Millis,
    pub max_attempts: i64,
}

/// Adds `job`; its id, or `None` when a job of its kind and key is already there.
pub async fn enqueue(db: &Db, job: &NewJob, now: Millis) -> StoreResult<Option<i64>> {
    let mut conn = db.pool().acquire().await?;
    enqueue_on(&mut conn, job, now).await
}

/// [`enqueue`] on a connection: inside a writer's transaction, the job is added with the
/// change that caused it or not at all (the outbox).
pub async fn enqueue_on(
    conn: &mut sqlx::AnyConnection,
    job: &NewJob,
    now: Millis,
) -> StoreResult<Option<i64>> {
    let row: Option<(i64,)> = sqlx::query_as(
        "INSERT INTO jobs (kind, payload, dedupe_key, state, run_at, max_attempts, created_at, updated_at) \
         VALUES ($1, $2, $3, 'queued', $4, $5, $6, $6) ON CONFLICT DO NOTHING RETURNING id",
    )
    .bind(job.kind.clone())
    .bind(job.payload.to_string())
    .bind(job.dedupe_key.clone())
    .bind(job.run_at)
    .bind(job.max_attempts.max(1))
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|(id,)| id))
}

/// Claims up to `limit` due jobs for `owner` until `now + lease_ms`: queued jobs whose time
/// has come, and running jobs whose lease has lapsed, oldest due first. Each claim counts
/// as an attempt.
pub async fn claim(
    db: &Db,
    owner: &str,
    now: Millis,
    lease_ms: i64,
    limit: i64,
) -> StoreResult<Vec<Job>> {
    let lock = match db.backend() {
        Backend::Sqlite => "",
        Backend::Postgres => " FOR UPDATE SKIP LOCKED",
    };
    let text = format!(
        "UPDATE jobs SET state = 'running', lease_owner = $1, lease_until = $2, attempts = attempts + 1, \
         updated_at = $3 WHERE id IN (SELECT id FROM jobs WHERE (state = 'queued' AND run_at <= $3) \
         OR (state = 'running' AND lease_until < $3) ORDER BY run_at, id LIMIT $4{lock}) RETURNING {COLUMNS}"
    );
    let mut jobs: Vec<Job> = sqlx::query_as(sqlx::AssertSqlSafe(text))
        .bind(owner.to_string())
        .bind(now.saturating_add(lease_ms))
        .bind(now)
        .bind(limit.clamp(1, 1000))
        .fetch_all(db.pool())
        .await?;
    jobs.sort_by_key(|j| (j.run_at, j.id));
    Ok(jobs)
}

/// Extends `owner`'s lease on job `id` to `until`; false when the lease is no longer
/// theirs (it lapsed and another node took the job).
pub async fn extend(
    db: &Db,
    id: i64,
    owner: &str,
    until: Millis,
    now: Millis,
) -> StoreResult<bool> {
    update_held(db, id, owner, |set| {
        set.push("lease_until = ")
            .bind(until)
            .push(", updated_at = ")
            .bind(now);
    })
    .await
}

/// Marks job `id` done; false (nothing changed) when `owner` no longer holds it.
pub async fn finish(db: &Db, id: i64, owner: &str, now: Millis) -> StoreResult<bool> {
    update_held(db, id, owner, |set| {
        set.push("state = 'done', lease_owner = NULL, lease_until = NULL, last_error = NULL, updated_at = ")
            .bind(now);
    })
    .await
}

/// Records a failed attempt of job `id` with `error`: queued again after `retry`'s delay,
/// or dead when it has had its attempts. False when `owner` no longer holds it.
pub async fn fail(
    db: &Db,
    id: i64,
    owner: &str,
    error: &str,
    retry: &Retry,
    jitter: f64,
    now: Millis,
) -> StoreResult<bool> {
    let Some(job) = get(db, id).await? else {
        return Ok(false);
    };
    if job.state != "running" || job.lease_owner.as_deref() != Some(owner) {
        return Ok(false);
    }
    let dead = job.attempts >= job.max_attempts.min(retry.max_attempts);
    let run_at = now.saturating_add(retry.delay(job.attempts, jitter));
    let error: String = error
        .chars()
        .filter(|c| !c.is_control())
        .take(2000)
        .collect();
    update_held(db, id, owner, |set| {
        set.push("state = ")
            .bind(if dead { "dead" } else { "queued" }.to_string())
            .push(", run_at = ")
            .bind(if dead { job.run_at } else { run_at })
            .push(", last_error = ")
            .bind(error)
            .push(", lease_owner = NULL, lease_until = NULL, updated_at = ")
            .bind(now);
    })
    .await
}

/// Runs `UPDATE jobs SET <set>` on job `id` if `owner` still holds its lease; whether it
/// did. The one place the lease decides who may change a running job.
async fn update_held(
    db: &Db,
    id: i64,
    owner: &str,
    set: impl FnOnce(&mut Sql),
) -> StoreResult<bool> {
    let mut sql = Sql::new(db.backend(), "UPDATE jobs SET ");
    set(&mut sql);
    sql.push(" WHERE id = ")
        .bind(id)
        .push(" AND state = 'running' AND lease_owner = ")
        .bind(owner.to_string());
    let (text, args) = sql.build();
    let r = sqlx::query_with(text, args).execute(db.pool()).await?;
    Ok(r.rows_affected() == 1)
}

/// One job.
pub async fn get(db: &Db, id: i64) -> StoreResult<Option<Job>> {
    let text = format!("SELECT {COLUMNS} FROM jobs WHERE id = $1");
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(text))
        .bind(id)
        .fetch_optional(db.pool())
        .await?)
}

/// Jobs newest first, of one state when given; at most `limit`.
pub async fn list(db: &Db, state: Option<&str>, limit: i64) -> StoreResult<Vec<Job>> {
    if let Some(s) = state
        && !STATES.contains(&s)
    {
        return Err(StoreError::Invalid("job_state"));
    }
    let text = format!(
        "SELECT {COLUMNS} FROM jobs WHERE (CAST($1 AS TEXT) IS NULL OR state = $1) ORDER BY id DESC LIMIT $2"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(text))
        .bind(state.map(str::to_string))
        .bind(limit.clamp(1, 1000))
        .fetch_all(db.pool())
        .await?)
}

/// Removes done and cancelled jobs last changed before `before`; how many.
pub async fn purge_finished(db: &Db, before: Millis) -> StoreResult<u64> {
    Ok(
        sqlx::query("DELETE FROM jobs WHERE state IN ('done', 'cancelled') AND updated_at < $1")
            .bind(before)
            .execute(db.pool())
            .await?
            .rows_affected(),
    )
}

/// Puts a dead or cancelled job back in the queue, due now, with its attempts reset.
/// `NotFound` when there is no such job, `Conflict` when it is queued, running or done.
pub async fn retry(db: &Db, id: i64, now: Millis) -> StoreResult<()> {
    change_state(
        db,
        id,
        now,
        "UPDATE jobs SET state = 'queued', attempts = 0, run_at = $1, updated_at = $1 \
         WHERE id = $2 AND state IN ('dead', 'cancelled')",
    )
    .await
}

/// Cancels a queued job (one running finishes its attempt first). `NotFound` when there is
/// no such job, `Conflict` when it is not queued.
pub async fn cancel(db: &Db, id: i64, now: Millis) -> StoreResult<()> {
    change_state(
        db,
        id,
        now,
        "UPDATE jobs SET state = 'cancelled', updated_at = $1 WHERE id = $2 AND state = 'queued'",
    )
    .await
}

async fn change_state(db: &Db, id: i64, now: Millis, text: &'static str) -> StoreResult<()> {
    let r = sqlx::query(text)
        .bind(now)
        .bind(id)
        .execute(db.pool())
        .await?;
    if r.rows_affected() == 1 {
        return Ok(());
    }
    match get(db, id).await? {
        None => Err(StoreError::NotFound),
        Some(_) => Err(StoreError::Conflict("job_state")),
    }
}

#[cfg(test)]
mod tests {
    use super::Retry;

    #[test]
    fn delays_double_up_to_the_maximum_and_jitter_takes_at_most_half() {
        let r = Retry {
            base_ms: 1000,
            max_ms: 60_000,
            max_attempts: 8,
        };
        assert_eq!(r.delay(1, 0.0), 1000);
        assert_eq!(r.delay(2, 0.0), 2000);
        assert_eq!(r.delay(4, 0.0), 8000);
        assert_eq!(r.delay(30, 0.0), 60_000);
        assert_eq!(r.delay(2, 1.0), 1000);
        assert!((1000..=2000).contains(&r.delay(2, 0.37)));
    }
}
