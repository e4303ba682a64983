//! Deliveries: what a deliver job sends (the channel's target and secret, or the user's
//! address, with the notification), and the record of every attempt. A channel's last
//! success, last error and failures since are kept on it, so its owner sees it failing.

use super::{NOTIFICATION_COLUMNS, Notification};
use crate::sql::Sql;
use crate::{Db, StoreResult};
use serde::Serialize;
use xiaoan_domain::Millis;

/// Where a delivery goes.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// An org's channel, with its secret for signing.
    Channel {
        id: i64,
        kind: String,
        target: String,
        secret: Option<String>,
    },
    /// A user's own mailbox.
    Email { user_id: i64, address: String },
}

/// A delivery ready to send.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub delivery_id: i64,
    pub state: String,
    pub attempts: i64,
    pub notification: Notification,
    /// `None` when the channel was removed or the user dropped their address since.
    pub target: Option<Target>,
}

/// One attempt.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Attempt {
    pub delivery_id: i64,
    pub at: Millis,
    pub ok: i64,
    pub status: Option<i64>,
    pub error: Option<String>,
    pub node: String,
}

async fn notification(db: &Db, id: i64) -> StoreResult<Notification> {
    let text = format!("SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE id = $1");
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(text))
        .bind(id)
        .fetch_one(db.pool())
        .await?)
}

/// Delivery `id` with what it needs to be sent.
pub async fn outgoing(db: &Db, id: i64) -> StoreResult<Option<Outgoing>> {
    type Row = (i64, Option<i64>, Option<i64>, String, i64);
    let row: Option<Row> = sqlx::query_as(
        "SELECT notification_id, channel_id, user_id, state, attempts FROM deliveries WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(db.pool())
    .await?;
    let Some((nid, channel, user, state, attempts)) = row else {
        return Ok(None);
    };
    let target = match (channel, user) {
        (Some(c), _) => {
            let r: Option<(String, String, Option<String>)> = sqlx::query_as(
                "SELECT kind, target, secret FROM channels WHERE id = $1 AND removed_at IS NULL AND enabled = 1",
            )
            .bind(c)
            .fetch_optional(db.pool())
            .await?;
            r.map(|(kind, target, secret)| Target::Channel {
                id: c,
                kind,
                target,
                secret,
            })
        }
        (None, Some(u)) => {
            let address: Option<Option<String>> =
                sqlx::query_scalar("SELECT email FROM notification_prefs WHERE user_id = $1")
                    .bind(u)
                    .fetch_optional(db.pool())
                    .await?;
            address.flatten().map(|address| Target::Email {
                user_id: u,
                address,
            })
        }
        (None, None) => None,
    };
    Ok(Some(Outgoing {
        delivery_id: id,
        state,
        attempts,
        notification: notification(db, nid).await?,
        target,
    }))
}

fn clean(error: Option<&str>) -> Option<String> {
    error.map(|e| e.chars().filter(|c| !c.is_control()).take(500).collect())
}

/// Records an attempt of delivery `id` by `node`: sent when it worked, dead when it failed
/// for the last time, pending otherwise; the channel's health follows.
#[allow(clippy::too_many_arguments)]
pub async fn record_attempt(
    db: &Db,
    id: i64,
    ok: bool,
    status: Option<u16>,
    error: Option<&str>,
    node: &str,
    last: bool,
    now: Millis,
) -> StoreResult<()> {
    record_many(db, &[id], ok, status, error, node, last, now).await
}

#[allow(clippy::too_many_arguments)]
async fn record_many(
    db: &Db,
    ids: &[i64],
    ok: bool,
    status: Option<u16>,
    error: Option<&str>,
    node: &str,
    last: bool,
    now: Millis,
) -> StoreResult<()> {
    let error = clean(error);
    let state = match (ok, last) {
        (true, _) => "sent",
        (false, true) => "dead",
        (false, false) => "pending",
    };
    let mut tx = db.begin_write().await?;
    for id in ids {
        sqlx::query(
            "INSERT INTO delivery_attempts (delivery_id, at, ok, status, error, node) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(*id)
        .bind(now)
        .bind(i64::from(ok))
        .bind(status.map(i64::from))
        .bind(error.clone())
        .bind(node.to_string())
        .execute(&mut *tx)
        .await?;
        let sent_at = ok.then_some(now);
        sqlx::query(
            "UPDATE deliveries SET state = $1, attempts = attempts + 1, last_status = $2, last_error = $3, \
             sent_at = $4 WHERE id = $5",
        )
        .bind(state.to_string())
        .bind(status.map(i64::from))
        .bind(error.clone())
        .bind(sent_at)
        .bind(*id)
        .execute(&mut *tx)
        .await?;
        let channel: Option<Option<i64>> =
            sqlx::query_scalar("SELECT channel_id FROM deliveries WHERE id = $1")
                .bind(*id)
                .fetch_optional(&mut *tx)
                .await?;
        if let Some(Some(c)) = channel {
            if ok {
                sqlx::query("UPDATE channels SET last_ok_at = $1, failures = 0 WHERE id = $2")
                    .bind(now)
                    .bind(c)
                    .execute(&mut *tx)
                    .await?;
            } else {
                sqlx::query(
                    "UPDATE channels SET last_error = $1, last_error_at = $2, failures = failures + 1 WHERE id = $3",
                )
                .bind(error.clone())
                .bind(now)
                .bind(c)
                .execute(&mut *tx)
                .await?;
            }
        }
    }
    tx.commit().await?;
    Ok(())
}

/// Every attempt of delivery `id`, oldest first.
pub async fn attempts_of(db: &Db, id: i64) -> StoreResult<Vec<Attempt>> {
    Ok(sqlx::query_as(
        "SELECT delivery_id, at, ok, status, error, node FROM delivery_attempts WHERE delivery_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(db.pool())
    .await?)
}

/// One user's held deliveries, for the daily digest.
#[derive(Debug, Clone)]
pub struct Digest {
    pub user_id: i64,
    pub address: String,
    pub items: Vec<(i64, Notification)>,
}

/// The held deliveries of every user with an address, oldest first, at most `limit` each.
pub async fn held_digests(db: &Db, limit: i64) -> StoreResult<Vec<Digest>> {
    let users: Vec<(i64, String)> = sqlx::query_as(
        "SELECT DISTINCT d.user_id, p.email FROM deliveries d JOIN notification_prefs p ON p.user_id = d.user_id \
         WHERE d.state = 'held' AND p.email IS NOT NULL ORDER BY d.user_id",
    )
    .fetch_all(db.pool())
    .await?;
    let mut out = Vec::new();
    for (user_id, address) in users {
        let ids: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT id, notification_id FROM deliveries WHERE user_id = $1 AND state = 'held' ORDER BY id LIMIT $2",
        )
        .bind(user_id)
        .bind(limit)
        .fetch_all(db.pool())
        .await?;
        let mut items = Vec::new();
        for (d, n) in ids {
            items.push((d, notification(db, n).await?));
        }
        out.push(Digest {
            user_id,
            address,
            items,
        });
    }
    Ok(out)
}

/// Records the sending of a digest: every delivery it held is sent, or stays held with
/// the attempt recorded.
pub async fn record_digest(
    db: &Db,
    ids: &[i64],
    ok: bool,
    status: Option<u16>,
    error: Option<&str>,
    node: &str,
    now: Millis,
) -> StoreResult<()> {
    if ok {
        return record_many(db, ids, true, status, error, node, false, now).await;
    }
    // A failed digest leaves them held for the next one; only the attempt is kept.
    let mut sql = Sql::new(
        db.backend(),
        "UPDATE deliveries SET attempts = attempts + 1 WHERE id IN ",
    );
    sql.list(ids.iter().copied());
    let (text, args) = sql.build();
    sqlx::query_with(text, args).execute(db.pool()).await?;
    Ok(())
}
