//! Turning one notification into people: inbox entries (grouped), email deliveries by each
//! person's preferences and quiet hours, and group-channel deliveries of the orgs the rule
//! names. One write transaction; a notification already dispatched is left alone, so a
//! retried or doubled job changes nothing.

use super::prefs::prefs_on;
use super::{DELIVER, NOTIFICATION_COLUMNS, Notification};
use crate::jobs::{NewJob, enqueue_on};
use crate::sql::Sql;
use crate::{Db, StoreError, StoreResult};
use sqlx::AnyConnection;
use xiaoan_domain::notify::{Event, Priority, Recipient, Tier, minutes_until_quiet_ends, rule};
use xiaoan_domain::{Millis, OrgKind, Role};

/// How a dispatch decides.
#[derive(Debug, Clone, Copy)]
pub struct DispatchSettings {
    /// The district's wall-clock minute of the day now (0..1440), for quiet hours.
    pub local_minute: u32,
    /// Identical events on one object within this many milliseconds are grouped.
    pub group_window_ms: i64,
    /// Attempts a delivery gets.
    pub deliver_attempts: i64,
}

/// What one dispatch produced.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Dispatched {
    pub inbox: usize,
    pub grouped: usize,
    pub deliveries: usize,
    pub held: usize,
}

/// Where a notification happened: the org and the orgs above it.
struct Place {
    org_id: i64,
    centre: Option<i64>,
    /// The bureau and its sections.
    bureau: Vec<i64>,
}

async fn place(conn: &mut AnyConnection, org_id: i64) -> StoreResult<Place> {
    let path: String = sqlx::query_scalar("SELECT path FROM orgs WHERE id = $1")
        .bind(org_id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(StoreError::NotFound)?;
    let ids: Vec<i64> = path
        .split('/')
        .filter_map(|s| s.parse::<i64>().ok())
        .collect();
    let mut centre = None;
    let mut bureau_id = None;
    for id in &ids {
        let kind: String = sqlx::query_scalar("SELECT kind FROM orgs WHERE id = $1")
            .bind(*id)
            .fetch_one(&mut *conn)
            .await?;
        match OrgKind::from_code(&kind) {
            Some(OrgKind::Centre) => centre = Some(*id),
            Some(OrgKind::Bureau) => bureau_id = Some(*id),
            _ => {}
        }
    }
    let mut bureau = Vec::new();
    if let Some(b) = bureau_id {
        bureau.push(b);
        let sections: Vec<i64> =
            sqlx::query_scalar("SELECT id FROM orgs WHERE parent_id = $1 AND kind = 'section'")
                .bind(b)
                .fetch_all(&mut *conn)
                .await?;
        bureau.extend(sections);
    }
    Ok(Place {
        org_id,
        centre,
        bureau,
    })
}

/// The enabled users holding one of `roles` at one of `orgs`.
async fn holders(
    conn: &mut AnyConnection,
    backend: crate::Backend,
    orgs: &[i64],
    roles: &[Role],
) -> StoreResult<Vec<i64>> {
    if orgs.is_empty() || roles.is_empty() {
        return Ok(vec![]);
    }
    let mut sql = Sql::new(
        backend,
        "SELECT DISTINCT ra.user_id FROM role_assignments ra JOIN users u ON u.id = ra.user_id \
         WHERE u.disabled = 0 AND ra.org_id IN ",
    );
    sql.list(orgs.iter().copied())
        .push(" AND ra.role IN ")
        .codes(roles)
        .push(" ORDER BY ra.user_id");
    let (text, args) = sql.build();
    Ok(sqlx::query_scalar_with(text, args)
        .fetch_all(&mut *conn)
        .await?)
}

fn issuer_of(n: &Notification) -> Option<i64> {
    serde_json::from_str::<serde_json::Value>(&n.args)
        .ok()?
        .get("issuer_org_id")?
        .as_i64()
}

/// Dispatches notification `id`.
pub async fn dispatch(
    db: &Db,
    id: i64,
    s: DispatchSettings,
    now: Millis,
) -> StoreResult<Dispatched> {
    let backend = db.backend();
    let mut tx = db.begin_write().await?;
    let text = format!("SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE id = $1");
    let n: Notification = sqlx::query_as(sqlx::AssertSqlSafe(text))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
    if n.dispatched_at.is_some() {
        return Ok(Dispatched::default());
    }
    let event = Event::from_code(&n.event).ok_or(StoreError::Invalid("notification_event"))?;
    let r = rule(event);
    let here = place(&mut tx, n.org_id).await?;
    let issuer = match issuer_of(&n) {
        Some(org) => Some(place(&mut tx, org).await?),
        None => None,
    };
    let mut people: Vec<i64> = Vec::new();
    for who in r.people {
        let found = match who {
            Recipient::Subject => n.user_id.into_iter().collect(),
            Recipient::School(roles) => holders(&mut tx, backend, &[here.org_id], roles).await?,
            Recipient::Centre(roles) => {
                holders(&mut tx, backend, &here.centre.into_iter().collect::<Vec<_>>(), roles)
                    .await?
            }
            Recipient::Bureau(roles) => holders(&mut tx, backend, &here.bureau, roles).await?,
            Recipient::Issuer(roles) => match &issuer {
                Some(p) => {
                    let mut orgs = vec![p.org_id];
                    if p.bureau.first() == Some(&p.org_id) {
                        orgs.extend(p.bureau.iter().skip(1));
                    }
                    holders(&mut tx, backend, &orgs, roles).await?
                }
                None => vec![],
            },
            Recipient::Listed => {
                sqlx::query_scalar(
                    "SELECT user_id FROM announcement_recipients WHERE announcement_id = $1 ORDER BY user_id",
                )
                .bind(n.object_id)
                .fetch_all(&mut *tx)
                .await?
            }
        };
        for p in found {
            if Some(p) != n.actor_id && !people.contains(&p) {
                people.push(p);
            }
        }
    }
    let mut out = Dispatched::default();
    for user in &people {
        // The inbox, grouped with an unread entry of the same event on the same object.
        let grouped = sqlx::query(
            "UPDATE inbox SET count = count + 1, updated_at = $1, args = $2, notification_id = $3 \
             WHERE user_id = $4 AND event = $5 AND object_kind = $6 AND object_id = $7 \
             AND read_at IS NULL AND updated_at >= $8",
        )
        .bind(now)
        .bind(n.args.clone())
        .bind(n.id)
        .bind(*user)
        .bind(n.event.clone())
        .bind(n.object_kind.clone())
        .bind(n.object_id)
        .bind(now.saturating_sub(s.group_window_ms))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if grouped > 0 {
            out.grouped += 1;
            continue;
        }
        sqlx::query(
            "INSERT INTO inbox (user_id, notification_id, event, object_kind, object_id, args, urgent, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
        )
        .bind(*user)
        .bind(n.id)
        .bind(n.event.clone())
        .bind(n.object_kind.clone())
        .bind(n.object_id)
        .bind(n.args.clone())
        .bind(n.urgent)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        out.inbox += 1;
        // The person's own mailbox, as they chose.
        let prefs = prefs_on(&mut tx, *user).await?;
        if prefs.email.is_none() {
            continue;
        }
        let choice = prefs.event(event);
        if !choice.email {
            continue;
        }
        if choice.digest && r.priority != Priority::Urgent {
            insert_delivery(&mut tx, n.id, None, Some(*user), "held", now).await?;
            out.held += 1;
            continue;
        }
        let wait_min = match (prefs.quiet_start, prefs.quiet_end) {
            (Some(a), Some(b)) if r.priority != Priority::Urgent => {
                minutes_until_quiet_ends(s.local_minute, a, b)
            }
            _ => 0,
        };
        let d = insert_delivery(&mut tx, n.id, None, Some(*user), "pending", now).await?;
        let run_at = now.saturating_add(i64::from(wait_min) * 60_000);
        deliver_job(&mut tx, d, run_at, s.deliver_attempts, now).await?;
        out.deliveries += 1;
    }
    // The group channels of the orgs the rule names.
    let mut orgs: Vec<i64> = Vec::new();
    for tier in r.channels {
        let org = match tier {
            Tier::School => Some(here.org_id),
            Tier::Centre => here.centre,
            Tier::Bureau => here.bureau.first().copied(),
            Tier::Issuer => issuer.as_ref().map(|p| p.org_id),
        };
        if let Some(o) = org
            && !orgs.contains(&o)
        {
            orgs.push(o);
        }
    }
    for org in orgs {
        let channels: Vec<(i64, String)> = sqlx::query_as(
            "SELECT id, events FROM channels WHERE org_id = $1 AND enabled = 1 AND removed_at IS NULL ORDER BY id",
        )
        .bind(org)
        .fetch_all(&mut *tx)
        .await?;
        for (channel, events) in channels {
            let wanted: Vec<String> = serde_json::from_str(&events).unwrap_or_default();
            if !wanted.is_empty() && !wanted.iter().any(|e| e == &n.event) {
                continue;
            }
            // The same event on the same object to the same channel within the window: once.
            let recent: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM deliveries d JOIN notifications o ON o.id = d.notification_id \
                 WHERE d.channel_id = $1 AND o.event = $2 AND o.object_kind = $3 AND o.object_id = $4 \
                 AND d.created_at >= $5",
            )
            .bind(channel)
            .bind(n.event.clone())
            .bind(n.object_kind.clone())
            .bind(n.object_id)
            .bind(now.saturating_sub(s.group_window_ms))
            .fetch_one(&mut *tx)
            .await?;
            if recent > 0 {
                out.grouped += 1;
                continue;
            }
            let d = insert_delivery(&mut tx, n.id, Some(channel), None, "pending", now).await?;
            deliver_job(&mut tx, d, now, s.deliver_attempts, now).await?;
            out.deliveries += 1;
        }
    }
    sqlx::query("UPDATE notifications SET dispatched_at = $1 WHERE id = $2")
        .bind(now)
        .bind(n.id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(out)
}

async fn insert_delivery(
    conn: &mut AnyConnection,
    notification: i64,
    channel: Option<i64>,
    user: Option<i64>,
    state: &str,
    now: Millis,
) -> StoreResult<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO deliveries (notification_id, channel_id, user_id, state, created_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(notification)
    .bind(channel)
    .bind(user)
    .bind(state.to_string())
    .bind(now)
    .fetch_one(&mut *conn)
    .await?)
}

async fn deliver_job(
    conn: &mut AnyConnection,
    delivery: i64,
    run_at: Millis,
    attempts: i64,
    now: Millis,
) -> StoreResult<()> {
    let job = NewJob {
        kind: DELIVER.to_string(),
        payload: serde_json::json!({ "delivery": delivery }),
        dedupe_key: Some(delivery.to_string()),
        run_at,
        max_attempts: attempts,
    };
    enqueue_on(conn, &job, now).await?;
    Ok(())
}
