//! What each user wants: an email address, quiet hours, and per event whether it goes by
//! email and whether it waits for the daily digest. The inbox always receives everything.

use crate::audit::{self, Event as AuditEvent};
use crate::{Db, StoreResult};
use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;
use std::collections::BTreeMap;
use xiaoan_domain::Millis;
use xiaoan_domain::audit::Actor;
use xiaoan_domain::notify::{Event, Priority, rule};

/// One event's choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventPref {
    /// Sent to the user's email address.
    pub email: bool,
    /// Waits for the daily digest instead of going at once (never for urgent events).
    pub digest: bool,
}

impl EventPref {
    /// What a user who chose nothing gets: email for everything, low-priority events in
    /// the digest.
    pub fn default_for(event: Event) -> EventPref {
        EventPref {
            email: true,
            digest: rule(event).priority == Priority::Low,
        }
    }
}

/// A user's preferences.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prefs {
    pub email: Option<String>,
    /// Quiet hours, minutes of the day (local time); a start after the end spans midnight.
    pub quiet_start: Option<u32>,
    pub quiet_end: Option<u32>,
    /// Choices by event code; an event missing here takes [`EventPref::default_for`].
    pub events: BTreeMap<String, EventPref>,
}

impl Prefs {
    /// The choice for `event`.
    pub fn event(&self, event: Event) -> EventPref {
        self.events
            .get(event.code())
            .copied()
            .unwrap_or_else(|| EventPref::default_for(event))
    }
}

pub(crate) async fn prefs_on(conn: &mut AnyConnection, user_id: i64) -> StoreResult<Prefs> {
    type Row = (Option<String>, Option<i64>, Option<i64>, String);
    let row: Option<Row> = sqlx::query_as(
        "SELECT email, quiet_start, quiet_end, events FROM notification_prefs WHERE user_id = $1",
    )
    .bind(user_id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(match row {
        None => Prefs::default(),
        Some((email, start, end, events)) => Prefs {
            email,
            quiet_start: start.and_then(|m| u32::try_from(m).ok()),
            quiet_end: end.and_then(|m| u32::try_from(m).ok()),
            events: serde_json::from_str(&events).unwrap_or_default(),
        },
    })
}

/// `user_id`'s preferences (the defaults when they chose nothing).
pub async fn get_prefs(db: &Db, user_id: i64) -> StoreResult<Prefs> {
    let mut conn = db.pool().acquire().await?;
    prefs_on(&mut conn, user_id).await
}

/// Replaces `user_id`'s preferences (already validated by the caller), audited.
pub async fn put_prefs(
    db: &Db,
    actor: &Actor,
    user_id: i64,
    prefs: &Prefs,
    now: Millis,
) -> StoreResult<()> {
    let mut tx = db.begin_write().await?;
    let events = serde_json::to_string(&prefs.events)
        .map_err(|e| crate::StoreError::Internal(e.to_string()))?;
    sqlx::query(
        "INSERT INTO notification_prefs (user_id, email, quiet_start, quiet_end, events, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (user_id) DO UPDATE SET email = $2, \
         quiet_start = $3, quiet_end = $4, events = $5, updated_at = $6",
    )
    .bind(user_id)
    .bind(prefs.email.clone())
    .bind(prefs.quiet_start.map(i64::from))
    .bind(prefs.quiet_end.map(i64::from))
    .bind(events)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let detail = serde_json::json!({
        "email": prefs.email.is_some(),
        "quiet_start": prefs.quiet_start,
        "quiet_end": prefs.quiet_end,
    });
    audit::append(
        &mut tx,
        actor,
        AuditEvent::ok("notification_prefs.update", "user", user_id, detail),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
