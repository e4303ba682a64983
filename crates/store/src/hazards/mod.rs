//! Hazards and their history. Reads are scoped through the school's org path; writes go
//! through the domain's state machine inside one transaction with their history entry and
//! audit entry.

mod entries;
mod escalate;
mod list;
mod search;
mod write;

pub use entries::{ListEntry, batch_after};
pub use escalate::escalate;
pub use list::{
    CountsCache, HazardFilter, HazardOrder, HazardPage, StatusCounts, count_rows, counts, list,
};
pub(crate) use write::insert_on;
pub use write::{Created, NewHazard, Powers, create, transition};

use crate::sql::Sql;
use crate::{Backend, Db, StoreError, StoreResult};
use chrono::NaiveDate;
use serde::Serialize;
use sqlx::FromRow;
use xiaoan_domain::hazard::{Category, Escalation, Grade, Source, Status, is_overdue};
use xiaoan_domain::{Millis, Scope};

/// A user as a hazard names them.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct UserRef {
    pub id: i64,
    pub login: String,
    pub display_name: String,
}

/// A hazard as callers see it.
#[derive(Debug, Clone, Serialize)]
pub struct Hazard {
    pub id: i64,
    pub number: String,
    pub school_id: i64,
    pub school_name: String,
    #[serde(skip)]
    pub school_path: String,
    pub category: Category,
    pub grade: Grade,
    pub source: Source,
    pub location: String,
    pub title: String,
    pub description: String,
    pub status: Status,
    pub found_by: String,
    pub found_on: NaiveDate,
    pub reporter: Option<UserRef>,
    pub owner: Option<UserRef>,
    pub measures: String,
    pub deadline: Option<NaiveDate>,
    pub on_plan: bool,
    pub interim_measures: String,
    pub rectifier: Option<UserRef>,
    pub rectification_note: String,
    pub verifier: Option<UserRef>,
    pub closed_at: Option<Millis>,
    /// How far up the tree it has gone: the centre was told, or listed for bureau
    /// supervision (掛牌督辦). Stored as its level, 0–2.
    pub escalation: Escalation,
    pub recurrence_of: Option<i64>,
    pub overdue: bool,
    pub created_at: Millis,
    pub updated_at: Millis,
    /// Bumped by every step of the closed loop; a step is written only on the version it
    /// was decided on.
    pub version: i64,
}

#[derive(FromRow)]
pub(crate) struct Row {
    id: i64,
    number: String,
    school_id: i64,
    school_name: String,
    school_path: String,
    #[sqlx(try_from = "String")]
    category: Category,
    #[sqlx(try_from = "String")]
    grade: Grade,
    #[sqlx(try_from = "String")]
    source: Source,
    location: String,
    title: String,
    description: String,
    #[sqlx(try_from = "String")]
    status: Status,
    found_by: String,
    found_on: String,
    reporter_id: Option<i64>,
    reporter_login: Option<String>,
    reporter_name: Option<String>,
    owner_id: Option<i64>,
    owner_login: Option<String>,
    owner_name: Option<String>,
    measures: String,
    deadline: Option<String>,
    on_plan: i64,
    interim_measures: String,
    rectifier_id: Option<i64>,
    rectifier_login: Option<String>,
    rectifier_name: Option<String>,
    rectification_note: String,
    verifier_id: Option<i64>,
    verifier_login: Option<String>,
    verifier_name: Option<String>,
    closed_at: Option<i64>,
    escalation: i64,
    recurrence_of: Option<i64>,
    created_at: i64,
    updated_at: i64,
    version: i64,
}

/// The SELECT list and joins every hazard read uses; `h` is the hazard, `o` its school.
pub(crate) const SELECT: &str = "SELECT h.id, h.number, h.school_id, o.name AS school_name, o.path AS school_path, \
     h.category, h.grade, h.source, h.location, h.title, h.description, h.status, h.found_by, h.found_on, \
     h.reporter_id, ur.login AS reporter_login, ur.display_name AS reporter_name, \
     h.owner_id, uo.login AS owner_login, uo.display_name AS owner_name, h.measures, h.deadline, h.on_plan, \
     h.interim_measures, h.rectifier_id, uc.login AS rectifier_login, uc.display_name AS rectifier_name, \
     h.rectification_note, h.verifier_id, uv.login AS verifier_login, uv.display_name AS verifier_name, \
     h.closed_at, h.escalation, h.recurrence_of, h.created_at, h.updated_at, h.version \
     FROM hazards h JOIN orgs o ON o.id = h.school_id \
     LEFT JOIN users ur ON ur.id = h.reporter_id LEFT JOIN users uo ON uo.id = h.owner_id \
     LEFT JOIN users uc ON uc.id = h.rectifier_id LEFT JOIN users uv ON uv.id = h.verifier_id";

fn user_ref(id: Option<i64>, login: Option<String>, name: Option<String>) -> Option<UserRef> {
    Some(UserRef {
        id: id?,
        login: login.unwrap_or_default(),
        display_name: name.unwrap_or_default(),
    })
}

fn date(s: &str) -> StoreResult<NaiveDate> {
    s.parse()
        .map_err(|_| StoreError::Internal(format!("bad date {s:?}")))
}

impl Row {
    pub(crate) fn into_hazard(self, today: NaiveDate) -> StoreResult<Hazard> {
        let status = self.status;
        let deadline = self.deadline.as_deref().map(date).transpose()?;
        Ok(Hazard {
            id: self.id,
            number: self.number,
            school_id: self.school_id,
            school_name: self.school_name,
            school_path: self.school_path,
            category: self.category,
            grade: self.grade,
            source: self.source,
            location: self.location,
            title: self.title,
            description: self.description,
            status,
            found_by: self.found_by,
            found_on: date(&self.found_on)?,
            reporter: user_ref(self.reporter_id, self.reporter_login, self.reporter_name),
            owner: user_ref(self.owner_id, self.owner_login, self.owner_name),
            measures: self.measures,
            deadline,
            on_plan: self.on_plan != 0,
            interim_measures: self.interim_measures,
            rectifier: user_ref(self.rectifier_id, self.rectifier_login, self.rectifier_name),
            rectification_note: self.rectification_note,
            verifier: user_ref(self.verifier_id, self.verifier_login, self.verifier_name),
            closed_at: self.closed_at,
            escalation: Escalation::from_level(self.escalation).ok_or_else(|| {
                StoreError::Internal(format!("bad escalation {}", self.escalation))
            })?,
            recurrence_of: self.recurrence_of,
            overdue: is_overdue(status, deadline, today),
            created_at: self.created_at,
            updated_at: self.updated_at,
            version: self.version,
        })
    }
}

/// One hazard inside `scope` (NotFound otherwise).
#[tracing::instrument(skip_all, fields(id))]
pub async fn get(db: &Db, scope: &Scope, id: i64, today: NaiveDate) -> StoreResult<Hazard> {
    get_with(db.pool(), db.backend(), scope, id, today).await
}

/// [`get`] through any executor: the pool, or a write transaction that decides on what it
/// reads.
pub(crate) async fn get_with<'e, E>(
    executor: E,
    backend: Backend,
    scope: &Scope,
    id: i64,
    today: NaiveDate,
) -> StoreResult<Hazard>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let mut sql = Sql::new(backend, SELECT);
    sql.push(" WHERE h.id = ")
        .bind(id)
        .push(" AND ")
        .scope("o.path", scope);
    let (text, args) = sql.build();
    let row: Option<Row> = sqlx::query_as_with(text, args)
        .fetch_optional(executor)
        .await?;
    row.ok_or(StoreError::NotFound)?.into_hazard(today)
}

/// A photo or file attached to a step.
#[derive(Debug, Clone, Serialize)]
pub struct EventAttachment {
    pub id: i64,
    /// These bytes were already used on another step (a re-used photo).
    pub reused: bool,
}

/// One step of a hazard's history.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub id: i64,
    pub at: Millis,
    pub actor_login: String,
    pub action: String,
    pub from_status: Option<Status>,
    pub to_status: Status,
    pub note: String,
    pub detail: serde_json::Value,
    pub attachments: Vec<EventAttachment>,
}

/// The history of a hazard the caller may see, oldest first.
#[tracing::instrument(skip_all)]
pub async fn history(db: &Db, hazard: &Hazard) -> StoreResult<Vec<Event>> {
    #[derive(FromRow)]
    struct EventRow {
        id: i64,
        at: i64,
        actor_login: String,
        action: String,
        from_status: Option<String>,
        #[sqlx(try_from = "String")]
        to_status: Status,
        note: String,
        detail: String,
    }
    let rows: Vec<EventRow> = sqlx::query_as(
        "SELECT id, at, actor_login, action, from_status, to_status, note, detail FROM hazard_events \
         WHERE hazard_id = $1 ORDER BY id",
    )
    .bind(hazard.id)
    .fetch_all(db.pool())
    .await?;
    let links: Vec<(i64, i64, i64)> = sqlx::query_as(
        "SELECT event_id, attachment_id, reused FROM hazard_attachments WHERE hazard_id = $1 ORDER BY attachment_id",
    )
    .bind(hazard.id)
    .fetch_all(db.pool())
    .await?;
    rows.into_iter()
        .map(|r| {
            let from_status = r
                .from_status
                .map(|s| s.parse::<Status>())
                .transpose()
                .map_err(|e| StoreError::Internal(e.to_string()))?;
            Ok(Event {
                attachments: links
                    .iter()
                    .filter(|(e, _, _)| *e == r.id)
                    .map(|(_, a, reused)| EventAttachment {
                        id: *a,
                        reused: *reused != 0,
                    })
                    .collect(),
                id: r.id,
                at: r.at,
                actor_login: r.actor_login,
                action: r.action,
                from_status,
                to_status: r.to_status,
                note: r.note,
                detail: serde_json::from_str(&r.detail).unwrap_or_default(),
            })
        })
        .collect()
}
