//! Supervision items (migration 0011): issued by the bureau or a centre to a school, with a
//! document and a response due by a deadline; the school responds, the issuer accepts or
//! returns, and an item not answered in time is replaced by one on the next rung. Each
//! step is judged by `domain::supervision::decide`, written with its history entry, the
//! notification and the audit entry in one transaction, guarded by the version it read.
//! Here the items and their reads; write.rs issues and steps, escalate.rs the overdue round.

use crate::audit::{self, Event as AuditEvent};
use crate::notify::{self, Intent};
use crate::sql::Sql;
use crate::{Db, StoreError, StoreResult};
use chrono::{Datelike, NaiveDate};
use serde::Serialize;
use sqlx::AnyConnection;
use xiaoan_domain::audit::Actor;
use xiaoan_domain::notify::Event as NotifyEvent;
use xiaoan_domain::supervision::{Actor as Who, Refusal, Rung, State, Step, decide};
use xiaoan_domain::{Millis, OrgKind, Scope, now_millis};

mod escalate;
mod write;

pub use escalate::escalate_overdue;
pub use write::{Said, act, issue};

/// An item as callers see it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Item {
    pub id: i64,
    pub number: String,
    pub school_id: i64,
    pub school_name: String,
    #[serde(skip)]
    pub school_path: String,
    pub issuer_org_id: i64,
    pub issuer_name: String,
    #[serde(skip)]
    pub issuer_path: String,
    pub rung: Rung,
    pub subject: String,
    pub body: String,
    pub hazard_id: Option<i64>,
    pub deadline: NaiveDate,
    pub state: State,
    pub escalated_from: Option<i64>,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub version: i64,
    /// A response is owed and the deadline has passed.
    pub overdue: bool,
}

/// One history entry.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct ItemEvent {
    pub at: Millis,
    pub actor_login: String,
    pub action: String,
    pub from_state: Option<String>,
    pub to_state: String,
    pub note: String,
    /// The photos that came with this step (a response's evidence), in upload order.
    #[sqlx(skip)]
    pub attachments: Vec<i64>,
    #[serde(skip)]
    id: i64,
}

/// An item to issue (the body already filled in from its template, except the number,
/// which `fill` receives once it is allotted).
pub struct NewItem<'a> {
    pub school_id: i64,
    pub issuer_org_id: i64,
    pub rung: Rung,
    pub subject: String,
    pub hazard_id: Option<i64>,
    pub deadline: NaiveDate,
    pub fill: &'a (dyn Fn(&str) -> String + Send + Sync),
    /// A notice only: also published to every school under the issuer as a circular
    /// (通報), with this title; the letter's number and text are its body.
    pub circular: Option<String>,
}

/// Where the actor may act.
#[derive(Debug, Clone)]
pub struct Powers {
    pub user_id: i64,
    /// Where they may respond (their schools).
    pub respond: Scope,
    /// Where they may issue, accept and return (the orgs they oversee).
    pub issue: Scope,
}

const SELECT: &str = "SELECT s.id, s.number, s.school_id, so.name AS school_name, so.path AS school_path, \
     s.issuer_org_id, io.name AS issuer_name, io.path AS issuer_path, s.rung, s.subject, s.body, s.hazard_id, \
     s.deadline, s.state, s.escalated_from, s.created_at, s.updated_at, s.version \
     FROM supervision_items s JOIN orgs so ON so.id = s.school_id JOIN orgs io ON io.id = s.issuer_org_id";

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    number: String,
    school_id: i64,
    school_name: String,
    school_path: String,
    issuer_org_id: i64,
    issuer_name: String,
    issuer_path: String,
    rung: String,
    subject: String,
    body: String,
    hazard_id: Option<i64>,
    deadline: String,
    state: String,
    escalated_from: Option<i64>,
    created_at: Millis,
    updated_at: Millis,
    version: i64,
}

fn item(r: Row, today: NaiveDate) -> StoreResult<Item> {
    let rung = Rung::from_code(&r.rung).ok_or(StoreError::Invalid("supervision_rung"))?;
    let state = State::from_code(&r.state).ok_or(StoreError::Invalid("supervision_state"))?;
    let deadline: NaiveDate = r
        .deadline
        .parse()
        .map_err(|_| StoreError::Invalid("deadline"))?;
    Ok(Item {
        id: r.id,
        number: r.number,
        school_id: r.school_id,
        school_name: r.school_name,
        school_path: r.school_path,
        issuer_org_id: r.issuer_org_id,
        issuer_name: r.issuer_name,
        issuer_path: r.issuer_path,
        rung,
        subject: r.subject,
        body: r.body,
        hazard_id: r.hazard_id,
        deadline,
        state,
        escalated_from: r.escalated_from,
        created_at: r.created_at,
        updated_at: r.updated_at,
        version: r.version,
        overdue: State::AWAITING.contains(&state) && deadline < today,
    })
}

/// Filters for [`list`].
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub school_id: Option<i64>,
    pub state: Option<State>,
    pub rung: Option<Rung>,
}

/// Items of schools in `scope`, newest first.
pub async fn list(
    db: &Db,
    scope: &Scope,
    filter: &Filter,
    today: NaiveDate,
    limit: i64,
) -> StoreResult<Vec<Item>> {
    let mut sql = Sql::new(db.backend(), SELECT);
    sql.push(" WHERE ").scope("so.path", scope);
    if let Some(s) = filter.school_id {
        sql.push(" AND s.school_id = ").bind(s);
    }
    if let Some(st) = filter.state {
        sql.push(" AND s.state = ").bind(st.code().to_string());
    }
    if let Some(r) = filter.rung {
        sql.push(" AND s.rung = ").bind(r.code().to_string());
    }
    sql.push(" ORDER BY s.id DESC LIMIT ")
        .bind(limit.clamp(1, 500));
    let (text, args) = sql.build();
    let rows: Vec<Row> = sqlx::query_as_with(text, args).fetch_all(db.pool()).await?;
    rows.into_iter().map(|r| item(r, today)).collect()
}

async fn get_on(
    conn: &mut AnyConnection,
    backend: crate::Backend,
    scope: &Scope,
    id: i64,
    today: NaiveDate,
) -> StoreResult<Item> {
    let mut sql = Sql::new(backend, SELECT);
    sql.push(" WHERE s.id = ")
        .bind(id)
        .push(" AND ")
        .scope("so.path", scope);
    let (text, args) = sql.build();
    let row: Option<Row> = sqlx::query_as_with(text, args)
        .fetch_optional(&mut *conn)
        .await?;
    item(row.ok_or(StoreError::NotFound)?, today)
}

/// One item of a school in `scope`.
pub async fn get(db: &Db, scope: &Scope, id: i64, today: NaiveDate) -> StoreResult<Item> {
    let mut conn = db.pool().acquire().await?;
    get_on(&mut conn, db.backend(), scope, id, today).await
}

/// The circular an item (a notice) was published as, if any.
pub async fn circular_of(db: &Db, id: i64) -> StoreResult<Option<i64>> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM announcements WHERE supervision_id = $1 ORDER BY id LIMIT 1",
    )
    .bind(id)
    .fetch_optional(db.pool())
    .await?)
}

/// An item's history, oldest first.
pub async fn events(db: &Db, id: i64) -> StoreResult<Vec<ItemEvent>> {
    let mut events: Vec<ItemEvent> = sqlx::query_as(
        "SELECT id, at, actor_login, action, from_state, to_state, note FROM supervision_events WHERE item_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(db.pool())
    .await?;
    let links: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT sa.event_id, sa.attachment_id FROM supervision_attachments sa \
         JOIN supervision_events e ON e.id = sa.event_id WHERE e.item_id = $1 ORDER BY sa.attachment_id",
    )
    .bind(id)
    .fetch_all(db.pool())
    .await?;
    for e in &mut events {
        e.attachments = links
            .iter()
            .filter(|(ev, _)| *ev == e.id)
            .map(|(_, a)| *a)
            .collect();
    }
    Ok(events)
}

/// The most photos one response may carry.
pub const MAX_ATTACHMENTS: usize = 5;

#[allow(clippy::too_many_arguments)]
async fn log(
    conn: &mut AnyConnection,
    item: i64,
    actor: &Actor,
    step: Step,
    from: Option<State>,
    to: State,
    note: &str,
    now: Millis,
) -> StoreResult<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO supervision_events (item_id, at, actor_id, actor_login, action, from_state, to_state, note) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(item)
    .bind(now)
    .bind(actor.user_id)
    .bind(actor.login.clone())
    .bind(step.code().to_string())
    .bind(from.map(|s| s.code().to_string()))
    .bind(to.code().to_string())
    .bind(note.to_string())
    .fetch_one(&mut *conn)
    .await?)
}

fn args(i: &Item) -> serde_json::Value {
    serde_json::json!({
        "number": i.number, "subject": i.subject, "rung": i.rung, "deadline": i.deadline,
        "school": i.school_name, "issuer": i.issuer_name, "issuer_org_id": i.issuer_org_id,
    })
}

async fn tell(
    conn: &mut AnyConnection,
    event: NotifyEvent,
    i: &Item,
    actor: &Actor,
    now: Millis,
) -> StoreResult<()> {
    let intent = Intent {
        event,
        object_kind: "supervision",
        object_id: i.id,
        org_id: i.school_id,
        actor_id: actor.user_id,
        user_id: None,
        args: args(i),
    };
    notify::record(conn, &intent, now).await?;
    Ok(())
}

/// Inserts an item on `conn` and its first history entry; its id.
#[allow(clippy::too_many_arguments)]
async fn insert(
    conn: &mut AnyConnection,
    actor: &Actor,
    issuer: (i64, &str),
    new: &NewItem<'_>,
    escalated_from: Option<i64>,
    today: NaiveDate,
    now: Millis,
) -> StoreResult<i64> {
    let year = i64::from(today.year());
    sqlx::query("INSERT INTO supervision_counters (issuer_org_id, year, seq) VALUES ($1, $2, 0) ON CONFLICT DO NOTHING")
        .bind(issuer.0)
        .bind(year)
        .execute(&mut *conn)
        .await?;
    let seq: i64 = sqlx::query_scalar(
        "UPDATE supervision_counters SET seq = seq + 1 WHERE issuer_org_id = $1 AND year = $2 RETURNING seq",
    )
    .bind(issuer.0)
    .bind(year)
    .fetch_one(&mut *conn)
    .await?;
    let number = format!("{}-SV-{year}-{seq:04}", issuer.1);
    let body = (new.fill)(&number);
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO supervision_items (number, school_id, issuer_org_id, rung, subject, body, hazard_id, deadline, \
         state, escalated_from, issued_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) RETURNING id",
    )
    .bind(number)
    .bind(new.school_id)
    .bind(issuer.0)
    .bind(new.rung.code().to_string())
    .bind(new.subject.clone())
    .bind(body)
    .bind(new.hazard_id)
    .bind(new.deadline.to_string())
    .bind(State::Open.code().to_string())
    .bind(escalated_from)
    .bind(actor.user_id)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    log(conn, id, actor, Step::Issue, None, State::Open, "", now).await?;
    Ok(id)
}
