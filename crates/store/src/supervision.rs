//! Supervision items (migration 0011): issued by the bureau or a centre to a school, with a
//! document and a response due by a deadline; the school responds, the issuer accepts or
//! returns, and an item not answered in time is replaced by one on the next rung. Each
//! step is judged by `domain::supervision::decide`, written with its history entry, the
//! notification and the audit entry in one transaction, guarded by the version it read.

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

/// Issues an item from `new.issuer_org_id` (an org whose path is in `powers.issue`: the
/// bureau or a centre) to a school under it.
pub async fn issue(
    db: &Db,
    actor: &Actor,
    powers: &Powers,
    new: &NewItem<'_>,
    today: NaiveDate,
) -> StoreResult<Item> {
    let issuer = crate::orgs::get(db, &powers.issue, new.issuer_org_id)
        .await
        .map_err(|_| StoreError::Invalid("supervision_issuer"))?;
    if !matches!(
        issuer.kind,
        OrgKind::Bureau | OrgKind::Section | OrgKind::Centre
    ) {
        return Err(StoreError::Invalid("supervision_issuer"));
    }
    let reach = issuer_reach(db, &issuer).await?;
    let school = crate::orgs::get(db, &Scope::subtree(&reach), new.school_id)
        .await
        .map_err(|_| StoreError::Invalid("supervision_school"))?;
    if school.kind != OrgKind::School {
        return Err(StoreError::Invalid("supervision_school"));
    }
    if new.deadline < today {
        return Err(StoreError::Invalid("supervision_deadline_past"));
    }
    if new.circular.is_some() && new.rung != Rung::Notice {
        return Err(StoreError::Invalid("supervision_circular"));
    }
    if let Some(h) = new.hazard_id {
        let hazard = crate::hazards::get(db, &Scope::subtree(&school.path), h, today)
            .await
            .map_err(|_| StoreError::Invalid("supervision_hazard"))?;
        if hazard.school_id != school.id {
            return Err(StoreError::Invalid("supervision_hazard"));
        }
    }
    let now = now_millis();
    let mut tx = db.begin_write().await?;
    let id = insert(
        &mut tx,
        actor,
        (issuer.id, &issuer.code),
        new,
        None,
        today,
        now,
    )
    .await?;
    let i = get_on(
        &mut tx,
        db.backend(),
        &Scope::subtree(&school.path),
        id,
        today,
    )
    .await?;
    tell(&mut tx, NotifyEvent::SupervisionIssued, &i, actor, now).await?;
    if let Some(title) = &new.circular {
        let circular = crate::announcements::NewAnnouncement {
            org_id: issuer.id,
            title: title.clone(),
            // The letter as issued: its number, then its text.
            body: format!("{}\n\n{}", i.number, i.body),
            roles: vec![],
        };
        crate::announcements::publish_on(
            &mut tx,
            db.backend(),
            actor,
            powers.user_id,
            (&issuer, &reach),
            &circular,
            Some(id),
        )
        .await?;
    }
    audit::append(
        &mut tx,
        actor,
        AuditEvent::ok("supervision.issue", "supervision", id, args(&i)),
    )
    .await?;
    tx.commit().await?;
    Ok(i)
}

/// The subtree an issuing org speaks for: a section speaks for its bureau.
async fn issuer_reach(db: &Db, issuer: &crate::orgs::Org) -> StoreResult<String> {
    if issuer.kind == OrgKind::Section
        && let Some(parent) = issuer.parent_id
    {
        return Ok(crate::orgs::get_unscoped(db, parent).await?.path);
    }
    Ok(issuer.path.clone())
}

/// What a step says: the response or the reason, and (for a response) the photos that
/// show the work, uploaded by the actor.
#[derive(Debug, Clone, Copy)]
pub struct Said<'a> {
    pub note: &'a str,
    pub attachments: &'a [i64],
}

/// Takes `step` (respond, accept or return) on item `id` of a school in `scope`.
#[allow(clippy::too_many_arguments)]
pub async fn act(
    db: &Db,
    actor: &Actor,
    powers: &Powers,
    scope: &Scope,
    id: i64,
    step: Step,
    said: Said<'_>,
    today: NaiveDate,
) -> StoreResult<Item> {
    let now = now_millis();
    let note = said.note;
    if said.attachments.len() > MAX_ATTACHMENTS
        || (step != Step::Respond && !said.attachments.is_empty())
    {
        return Err(StoreError::Invalid("supervision_attachment"));
    }
    let mut tx = db.begin_write().await?;
    if !crate::attachments::all_uploaded_by(&mut tx, actor.user_id, said.attachments).await? {
        return Err(StoreError::Invalid("supervision_attachment"));
    }
    let before = get_on(&mut tx, db.backend(), scope, id, today).await?;
    let who = Who {
        school_lead: powers.respond.contains(&before.school_path),
        issuer: powers.issue.contains(&before.issuer_path),
    };
    let to = decide(before.state, step, who).map_err(|r| match r {
        Refusal::State => StoreError::Illegal {
            from: before.state.code(),
            action: step.code(),
        },
        Refusal::Forbidden => StoreError::Forbidden("supervision_step"),
    })?;
    let moved = sqlx::query(
        "UPDATE supervision_items SET state = $1, updated_at = $2, version = version + 1 WHERE id = $3 AND version = $4",
    )
    .bind(to.code().to_string())
    .bind(now)
    .bind(id)
    .bind(before.version)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if moved != 1 {
        return Err(StoreError::Conflict("supervision_changed"));
    }
    let event_id = log(&mut tx, id, actor, step, Some(before.state), to, note, now).await?;
    let mut linked: Vec<i64> = Vec::new();
    for a in said.attachments {
        if linked.contains(a) {
            continue;
        }
        sqlx::query(
            "INSERT INTO supervision_attachments (event_id, attachment_id) VALUES ($1, $2)",
        )
        .bind(event_id)
        .bind(*a)
        .execute(&mut *tx)
        .await?;
        linked.push(*a);
    }
    let event = match step {
        Step::Respond => NotifyEvent::SupervisionResponded,
        Step::Accept => NotifyEvent::SupervisionAccepted,
        _ => NotifyEvent::SupervisionReturned,
    };
    let after = get_on(&mut tx, db.backend(), scope, id, today).await?;
    tell(&mut tx, event, &after, actor, now).await?;
    audit::append(
        &mut tx,
        actor,
        AuditEvent::ok(
            &format!("supervision.{}", step.code()),
            "supervision",
            id,
            serde_json::json!({"from": before.state, "to": to, "attachments": linked}),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

/// Replaces every item still awaiting a response after its deadline with one on the next
/// rung (due as many days after today as the first was given, at least three); an item on
/// the top rung stays overdue. Returns how many were escalated; a rerun changes nothing.
pub async fn escalate_overdue(db: &Db, today: NaiveDate) -> StoreResult<usize> {
    let mut sql = Sql::new(db.backend(), SELECT);
    sql.push(" WHERE s.state IN ")
        .codes(&State::AWAITING)
        .push(" AND s.deadline < ")
        .bind(today.to_string())
        .push(" AND s.rung <> ")
        .bind(Rung::Accountability.code().to_string())
        .push(" ORDER BY s.id");
    let (text, args_) = sql.build();
    let rows: Vec<Row> = sqlx::query_as_with(text, args_)
        .fetch_all(db.pool())
        .await?;
    let actor = Actor::system("supervision");
    let mut n = 0;
    for r in rows {
        let before = item(r, today)?;
        let Some(next) = before.rung.next() else {
            continue;
        };
        let now = now_millis();
        let mut tx = db.begin_write().await?;
        let moved = sqlx::query(
            "UPDATE supervision_items SET state = $1, updated_at = $2, version = version + 1 WHERE id = $3 AND version = $4",
        )
        .bind(State::Escalated.code().to_string())
        .bind(now)
        .bind(before.id)
        .bind(before.version)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if moved != 1 {
            continue;
        }
        log(
            &mut tx,
            before.id,
            &actor,
            Step::Escalate,
            Some(before.state),
            State::Escalated,
            "",
            now,
        )
        .await?;
        let given = (before.deadline
            - chrono::DateTime::from_timestamp_millis(before.created_at)
                .map(|d| d.date_naive())
                .unwrap_or(before.deadline))
        .num_days()
        .max(3);
        let body = before.body.clone();
        let fill = move |_: &str| body.clone();
        let new = NewItem {
            school_id: before.school_id,
            issuer_org_id: before.issuer_org_id,
            rung: next,
            subject: before.subject.clone(),
            hazard_id: before.hazard_id,
            deadline: today + chrono::Days::new(u64::try_from(given).unwrap_or(3)),
            fill: &fill,
            circular: None,
        };
        let issuer_code: String = sqlx::query_scalar("SELECT code FROM orgs WHERE id = $1")
            .bind(before.issuer_org_id)
            .fetch_one(&mut *tx)
            .await?;
        let id = insert(
            &mut tx,
            &actor,
            (before.issuer_org_id, &issuer_code),
            &new,
            Some(before.id),
            today,
            now,
        )
        .await?;
        let after = get_on(
            &mut tx,
            db.backend(),
            &Scope::subtree(&before.school_path),
            id,
            today,
        )
        .await?;
        tell(
            &mut tx,
            NotifyEvent::SupervisionEscalated,
            &after,
            &actor,
            now,
        )
        .await?;
        audit::append(
            &mut tx,
            &actor,
            AuditEvent::ok(
                "supervision.escalate",
                "supervision",
                before.id,
                serde_json::json!({"to": id, "rung": next}),
            ),
        )
        .await?;
        tx.commit().await?;
        n += 1;
    }
    Ok(n)
}
