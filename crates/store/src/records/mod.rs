//! Records: the typed evidence of activities (drills, lessons, trainings, reports …) that
//! satisfies obligations. Reads are scoped through the org's path. Records are never
//! deleted: a correction or withdrawal keeps the earlier version in `record_revisions`,
//! and only the author may make one, within the plan's editing window.

mod bulk;
mod write;

pub use bulk::{BulkRecord, insert_bulk};
pub use write::{NewRecord, RecordPatch, create, update};
pub(crate) use write::{checked, insert_on};

use crate::sql::Sql;
use crate::{Db, StoreError, StoreResult};
use chrono::NaiveDate;
use serde::Serialize;
use serde_json::Value;
use sqlx::FromRow;
use xiaoan_domain::{Millis, Scope};

/// A record as callers see it.
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    pub id: i64,
    pub org_id: i64,
    pub org_name: String,
    pub kind: String,
    pub occurred_on: NaiveDate,
    pub fields: Value,
    pub note: String,
    pub author_id: Option<i64>,
    pub author_login: String,
    /// The author's name as the users table has it now (the login when the account is gone).
    pub author_name: String,
    pub revision: i64,
    pub withdrawn: bool,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub attachment_ids: Vec<i64>,
}

/// An earlier version of a record and why it was changed.
#[derive(Debug, Clone, Serialize)]
pub struct Revision {
    pub revision: i64,
    pub occurred_on: NaiveDate,
    pub fields: Value,
    pub note: String,
    pub withdrawn: bool,
    /// Why this version was replaced.
    pub reason: String,
    pub changed_by: String,
    pub changed_at: Millis,
}

#[derive(FromRow)]
struct Row {
    id: i64,
    org_id: i64,
    org_name: String,
    kind: String,
    occurred_on: String,
    fields: String,
    note: String,
    author_id: Option<i64>,
    author_login: String,
    author_name: String,
    revision: i64,
    withdrawn: i64,
    created_at: i64,
    updated_at: i64,
}

const COLUMNS: &str = "r.id, r.org_id, o.name AS org_name, r.kind, r.occurred_on, r.fields, r.note, r.author_id, \
                       r.author_login, COALESCE((SELECT u.display_name FROM users u WHERE u.id = r.author_id), \
                       r.author_login) AS author_name, r.revision, r.withdrawn, r.created_at, r.updated_at";

pub(crate) fn parse_day(s: &str) -> StoreResult<NaiveDate> {
    s.parse()
        .map_err(|_| StoreError::Internal(format!("bad stored date {s:?}")))
}

fn parse_json(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or(Value::Null)
}

impl Row {
    fn into_record(self) -> StoreResult<Record> {
        Ok(Record {
            occurred_on: parse_day(&self.occurred_on)?,
            fields: parse_json(&self.fields),
            id: self.id,
            org_id: self.org_id,
            org_name: self.org_name,
            kind: self.kind,
            note: self.note,
            author_id: self.author_id,
            author_login: self.author_login,
            author_name: self.author_name,
            revision: self.revision,
            withdrawn: self.withdrawn != 0,
            created_at: self.created_at,
            updated_at: self.updated_at,
            attachment_ids: vec![],
        })
    }
}

async fn with_attachments(db: &Db, mut records: Vec<Record>) -> StoreResult<Vec<Record>> {
    if records.is_empty() {
        return Ok(records);
    }
    let mut sql = Sql::new(
        db.backend(),
        "SELECT record_id, attachment_id FROM record_attachments WHERE record_id IN ",
    );
    sql.list(records.iter().map(|r| r.id))
        .push(" ORDER BY attachment_id");
    let (text, args) = sql.build();
    let links: Vec<(i64, i64)> = sqlx::query_as_with(text, args).fetch_all(db.pool()).await?;
    for r in &mut records {
        r.attachment_ids = links
            .iter()
            .filter(|(rid, _)| *rid == r.id)
            .map(|(_, a)| *a)
            .collect();
    }
    Ok(records)
}

/// One record, if it exists and its org lies inside `scope`; otherwise `NotFound`.
#[tracing::instrument(skip_all, fields(id))]
pub async fn get(db: &Db, scope: &Scope, id: i64) -> StoreResult<Record> {
    let mut sql = Sql::new(db.backend(), "SELECT ");
    sql.push(COLUMNS)
        .push(" FROM records r JOIN orgs o ON o.id = r.org_id WHERE r.id = ")
        .bind(id)
        .push(" AND ")
        .scope("o.path", scope);
    let (text, args) = sql.build();
    let row: Option<Row> = sqlx::query_as_with(text, args)
        .fetch_optional(db.pool())
        .await?;
    let r = row.ok_or(StoreError::NotFound)?.into_record()?;
    Ok(with_attachments(db, vec![r]).await?.remove(0))
}

/// The earlier versions of a record the caller can see, oldest first.
#[tracing::instrument(skip_all, fields(id))]
pub async fn history(db: &Db, scope: &Scope, id: i64) -> StoreResult<Vec<Revision>> {
    get(db, scope, id).await?;
    let rows: Vec<RevisionRow> = sqlx::query_as(
        "SELECT revision, occurred_on, fields, note, withdrawn, reason, changed_by, changed_at \
         FROM record_revisions WHERE record_id = $1 ORDER BY revision",
    )
    .bind(id)
    .fetch_all(db.pool())
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(Revision {
                revision: r.revision,
                occurred_on: parse_day(&r.occurred_on)?,
                fields: parse_json(&r.fields),
                note: r.note,
                withdrawn: r.withdrawn != 0,
                reason: r.reason,
                changed_by: r.changed_by,
                changed_at: r.changed_at,
            })
        })
        .collect()
}

#[derive(FromRow)]
struct RevisionRow {
    revision: i64,
    occurred_on: String,
    fields: String,
    note: String,
    withdrawn: i64,
    reason: String,
    changed_by: String,
    changed_at: i64,
}

/// Filters for [`list`].
#[derive(Debug, Clone, Default)]
pub struct RecordFilter {
    /// Only records of this org.
    pub org_id: Option<i64>,
    /// Only records of these kinds (empty: all).
    pub kinds: Vec<String>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub include_withdrawn: bool,
    pub offset: i64,
    /// At most this many (1–500).
    pub limit: i64,
}

/// Records inside `scope` matching `filter`, newest first.
#[tracing::instrument(skip_all)]
pub async fn list(db: &Db, scope: &Scope, filter: &RecordFilter) -> StoreResult<Vec<Record>> {
    let mut sql = Sql::new(db.backend(), "SELECT ");
    sql.push(COLUMNS)
        .push(" FROM records r JOIN orgs o ON o.id = r.org_id WHERE ")
        .scope("o.path", scope);
    if let Some(org) = filter.org_id {
        sql.push(" AND r.org_id = ").bind(org);
    }
    if !filter.kinds.is_empty() {
        sql.push(" AND r.kind IN ")
            .list(filter.kinds.iter().cloned());
    }
    if let Some(from) = filter.from {
        sql.push(" AND r.occurred_on >= ").bind(from.to_string());
    }
    if let Some(to) = filter.to {
        sql.push(" AND r.occurred_on <= ").bind(to.to_string());
    }
    if !filter.include_withdrawn {
        sql.push(" AND r.withdrawn = 0");
    }
    sql.push(" ORDER BY r.occurred_on DESC, r.id DESC LIMIT ")
        .bind(filter.limit.clamp(1, 500))
        .push(" OFFSET ")
        .bind(filter.offset.max(0));
    let (text, args) = sql.build();
    let rows: Vec<Row> = sqlx::query_as_with(text, args).fetch_all(db.pool()).await?;
    let records = rows
        .into_iter()
        .map(Row::into_record)
        .collect::<StoreResult<Vec<_>>>()?;
    with_attachments(db, records).await
}
