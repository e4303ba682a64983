//! An org's delivery channels. The secret is written once and never read back out of the
//! store except to sign a delivery ([`super::outgoing`]).

use crate::audit::{self, Event as AuditEvent};
use crate::sql::Sql;
use crate::{Db, StoreError, StoreResult};
use serde::Serialize;
use xiaoan_domain::Millis;
use xiaoan_domain::audit::Actor;

/// A channel as pages and the API show it: no secret, and only the shape of the target.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Channel {
    pub id: i64,
    pub org_id: i64,
    pub kind: String,
    pub name: String,
    /// The webhook URL with its key hidden, or the mailbox addresses.
    pub target: String,
    pub has_secret: bool,
    /// Event codes it carries; empty for all.
    pub events: Vec<String>,
    #[serde(skip)]
    pub events_json: String,
    pub enabled: bool,
    pub created_at: Millis,
    pub last_ok_at: Option<Millis>,
    pub last_error: Option<String>,
    pub last_error_at: Option<Millis>,
    /// Failed attempts since the last success: above zero, the channel is failing.
    pub failures: i64,
}

/// A channel to add (validated by the caller).
#[derive(Debug, Clone)]
pub struct NewChannel {
    pub org_id: i64,
    pub kind: String,
    pub name: String,
    pub target: String,
    pub secret: Option<String>,
    pub events: Vec<String>,
}

/// Hides what follows the host in a webhook URL (robot keys live in the path or query).
pub fn masked(target: &str) -> String {
    match target.split_once("://") {
        Some((scheme, rest)) => {
            let host = rest.split(['/', '?']).next().unwrap_or("");
            if host.len() < rest.len() {
                format!("{scheme}://{host}/…")
            } else {
                format!("{scheme}://{host}")
            }
        }
        None => target.to_string(),
    }
}

/// The channels of `orgs`, oldest first, removed ones left out.
pub async fn list_channels(db: &Db, orgs: &[i64]) -> StoreResult<Vec<Channel>> {
    if orgs.is_empty() {
        return Ok(vec![]);
    }
    let mut sql = Sql::new(
        db.backend(),
        "SELECT id, org_id, kind, name, target, (CASE WHEN secret IS NULL THEN 0 ELSE 1 END) AS has_secret_n, \
         events AS events_json, enabled AS enabled_n, created_at, last_ok_at, last_error, last_error_at, failures \
         FROM channels WHERE removed_at IS NULL AND org_id IN ",
    );
    sql.list(orgs.iter().copied()).push(" ORDER BY org_id, id");
    let (text, args) = sql.build();
    type Row = (
        i64,
        i64,
        String,
        String,
        String,
        i64,
        String,
        i64,
        Millis,
        Option<Millis>,
        Option<String>,
        Option<Millis>,
        i64,
    );
    let rows: Vec<Row> = sqlx::query_as_with(text, args).fetch_all(db.pool()).await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let target = if r.2 == "email" { r.4 } else { masked(&r.4) };
            Channel {
                id: r.0,
                org_id: r.1,
                kind: r.2,
                name: r.3,
                target,
                has_secret: r.5 == 1,
                events: serde_json::from_str(&r.6).unwrap_or_default(),
                events_json: r.6,
                enabled: r.7 == 1,
                created_at: r.8,
                last_ok_at: r.9,
                last_error: r.10,
                last_error_at: r.11,
                failures: r.12,
            }
        })
        .collect())
}

/// Adds a channel, audited (the audit entry names its kind and org, never its target or
/// secret); its id.
pub async fn create_channel(
    db: &Db,
    actor: &Actor,
    user_id: i64,
    new: &NewChannel,
    now: Millis,
) -> StoreResult<i64> {
    let count: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM channels WHERE org_id = $1 AND removed_at IS NULL",
    )
    .bind(new.org_id)
    .fetch_one(db.pool())
    .await?;
    if count >= 20 {
        return Err(StoreError::Invalid("too_many_channels"));
    }
    let mut tx = db.begin_write().await?;
    let events =
        serde_json::to_string(&new.events).map_err(|e| StoreError::Internal(e.to_string()))?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO channels (org_id, kind, name, target, secret, events, enabled, created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $8, $8) RETURNING id",
    )
    .bind(new.org_id)
    .bind(new.kind.clone())
    .bind(new.name.clone())
    .bind(new.target.clone())
    .bind(new.secret.clone())
    .bind(events)
    .bind(user_id)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    let detail = serde_json::json!({"org_id": new.org_id, "kind": new.kind, "name": new.name});
    audit::append(
        &mut tx,
        actor,
        AuditEvent::ok("channel.create", "channel", id, detail),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Removes channel `id` of one of `orgs` (its delivery history stays); `NotFound` when it
/// is not theirs.
pub async fn remove_channel(
    db: &Db,
    actor: &Actor,
    orgs: &[i64],
    id: i64,
    now: Millis,
) -> StoreResult<()> {
    let mut tx = db.begin_write().await?;
    let org: Option<i64> =
        sqlx::query_scalar("SELECT org_id FROM channels WHERE id = $1 AND removed_at IS NULL")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    let org = org
        .filter(|o| orgs.contains(o))
        .ok_or(StoreError::NotFound)?;
    sqlx::query("UPDATE channels SET removed_at = $1, enabled = 0, updated_at = $1 WHERE id = $2")
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let detail = serde_json::json!({"org_id": org});
    audit::append(
        &mut tx,
        actor,
        AuditEvent::ok("channel.remove", "channel", id, detail),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn robot_keys_are_hidden() {
        assert_eq!(
            super::masked("https://oapi.dingtalk.com/robot/send?access_token=abc"),
            "https://oapi.dingtalk.com/…"
        );
        assert_eq!(super::masked("http://127.0.0.1:9"), "http://127.0.0.1:9");
    }
}
