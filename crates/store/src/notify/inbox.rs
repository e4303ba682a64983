//! A user's inbox: newest first, unread count, mark read. Every function names the user,
//! so nobody reads or marks another's entries (another's id answers `NotFound`).

use crate::{Db, StoreError, StoreResult};
use serde::Serialize;
use xiaoan_domain::Millis;

/// One inbox entry.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct InboxEntry {
    pub id: i64,
    pub event: String,
    pub object_kind: String,
    pub object_id: i64,
    /// What the message says (JSON object as text).
    #[serde(skip)]
    pub args: String,
    pub urgent: i64,
    /// How many identical events were grouped into this entry.
    pub count: i64,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub read_at: Option<Millis>,
}

/// `user_id`'s entries, newest first, before entry `before` when given; only unread ones
/// when `unread_only`.
pub async fn list_inbox(
    db: &Db,
    user_id: i64,
    unread_only: bool,
    before: Option<i64>,
    limit: i64,
) -> StoreResult<Vec<InboxEntry>> {
    Ok(sqlx::query_as(
        "SELECT id, event, object_kind, object_id, args, urgent, count, created_at, updated_at, read_at \
         FROM inbox WHERE user_id = $1 AND ($2 = 0 OR read_at IS NULL) AND id < $3 ORDER BY id DESC LIMIT $4",
    )
    .bind(user_id)
    .bind(i64::from(unread_only))
    .bind(before.unwrap_or(i64::MAX))
    .bind(limit.clamp(1, 200))
    .fetch_all(db.pool())
    .await?)
}

/// How many of `user_id`'s entries are unread.
pub async fn unread_count(db: &Db, user_id: i64) -> StoreResult<i64> {
    Ok(
        sqlx::query_scalar("SELECT COUNT(*) FROM inbox WHERE user_id = $1 AND read_at IS NULL")
            .bind(user_id)
            .fetch_one(db.pool())
            .await?,
    )
}

/// Marks `user_id`'s entry `id` read (reading it again changes nothing); the entry.
pub async fn mark_read(db: &Db, user_id: i64, id: i64, now: Millis) -> StoreResult<InboxEntry> {
    sqlx::query("UPDATE inbox SET read_at = $1 WHERE id = $2 AND user_id = $3 AND read_at IS NULL")
        .bind(now)
        .bind(id)
        .bind(user_id)
        .execute(db.pool())
        .await?;
    sqlx::query_as(
        "SELECT id, event, object_kind, object_id, args, urgent, count, created_at, updated_at, read_at \
         FROM inbox WHERE id = $1 AND user_id = $2",
    )
    .bind(id)
    .bind(user_id)
    .fetch_optional(db.pool())
    .await?
    .ok_or(StoreError::NotFound)
}

/// Marks every unread entry of `user_id` read; how many.
pub async fn mark_all_read(db: &Db, user_id: i64, now: Millis) -> StoreResult<u64> {
    Ok(
        sqlx::query("UPDATE inbox SET read_at = $1 WHERE user_id = $2 AND read_at IS NULL")
            .bind(now)
            .bind(user_id)
            .execute(db.pool())
            .await?
            .rows_affected(),
    )
}
