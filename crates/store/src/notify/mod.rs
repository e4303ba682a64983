//! Notifications (migration 0011): the outbox a change writes in its own transaction, the
//! dispatch that turns a notification into inbox entries and deliveries by the recipient
//! rules of `domain::notify`, the inbox, the orgs' channels, users' preferences and the
//! record of every delivery attempt.

mod channels;
mod deliveries;
mod dispatch;
mod inbox;
mod prefs;

pub use channels::{Channel, NewChannel, create_channel, list_channels, remove_channel};
pub use deliveries::{
    Attempt, Digest, Outgoing, Target, attempts_of, held_digests, outgoing, record_attempt,
    record_digest,
};
pub use dispatch::{DispatchSettings, Dispatched, dispatch};
pub use inbox::{InboxEntry, list_inbox, mark_all_read, mark_read, unread_count};
pub use prefs::{EventPref, Prefs, get_prefs, put_prefs};

use crate::StoreResult;
use crate::jobs::{NewJob, enqueue_on};
use serde::Serialize;
use sqlx::AnyConnection;
use xiaoan_domain::Millis;
use xiaoan_domain::notify::{Event, Priority, rule};

/// The job that dispatches one notification.
pub const DISPATCH: &str = "notify.dispatch";
/// The job that delivers one delivery.
pub const DELIVER: &str = "notify.deliver";
/// Attempts a dispatch gets before it is dead.
pub const DISPATCH_ATTEMPTS: i64 = 10;

/// What happened, where, and to whom it matters.
#[derive(Debug, Clone)]
pub struct Intent {
    pub event: Event,
    /// `hazard`, `supervision` or `announcement`.
    pub object_kind: &'static str,
    pub object_id: i64,
    /// The school (or the issuing org of an announcement) where it happened.
    pub org_id: i64,
    /// Who caused it: never told of their own act.
    pub actor_id: Option<i64>,
    /// The person it is about ([`Recipient::Subject`](xiaoan_domain::notify::Recipient)).
    pub user_id: Option<i64>,
    /// What the message says: numbers, titles, names, dates.
    pub args: serde_json::Value,
}

/// A notification as stored.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Notification {
    pub id: i64,
    pub event: String,
    pub object_kind: String,
    pub object_id: i64,
    pub org_id: i64,
    pub actor_id: Option<i64>,
    pub user_id: Option<i64>,
    pub args: String,
    pub urgent: i64,
    pub created_at: Millis,
    pub dispatched_at: Option<Millis>,
}

pub(crate) const NOTIFICATION_COLUMNS: &str = "id, event, object_kind, object_id, org_id, actor_id, user_id, args, urgent, created_at, dispatched_at";

/// Writes `intent` and the job that will dispatch it, on the writer's connection (inside
/// the transaction of the change that caused it); the notification's id.
pub async fn record(conn: &mut AnyConnection, intent: &Intent, now: Millis) -> StoreResult<i64> {
    let urgent = rule(intent.event).priority == Priority::Urgent;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO notifications (event, object_kind, object_id, org_id, actor_id, user_id, args, urgent, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
    )
    .bind(intent.event.code().to_string())
    .bind(intent.object_kind.to_string())
    .bind(intent.object_id)
    .bind(intent.org_id)
    .bind(intent.actor_id)
    .bind(intent.user_id)
    .bind(intent.args.to_string())
    .bind(i64::from(urgent))
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    let job = NewJob {
        kind: DISPATCH.to_string(),
        payload: serde_json::json!({ "notification": id }),
        dedupe_key: Some(id.to_string()),
        run_at: now,
        max_attempts: DISPATCH_ATTEMPTS,
    };
    enqueue_on(conn, &job, now).await?;
    Ok(id)
}

/// Notifications about one object, oldest first (what a page shows as "who was told").
pub async fn about(
    db: &crate::Db,
    object_kind: &str,
    object_id: i64,
) -> StoreResult<Vec<Notification>> {
    let text = format!(
        "SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE object_kind = $1 AND object_id = $2 ORDER BY id"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(text))
        .bind(object_kind.to_string())
        .bind(object_id)
        .fetch_all(db.pool())
        .await?)
}
