//! Entering, correcting and withdrawing records. Each write runs in one transaction with
//! its audit entry and the refresh of the compliance measures it affects, so the matrix is
//! current the moment the write is acknowledged.

use super::{Record, get, parse_day};
use crate::audit::{self, Event};
use crate::compliance::refresh;
use crate::orgs;
use crate::plans::StoredPlan;
use crate::{Db, StoreError, StoreResult};
use chrono::NaiveDate;
use serde_json::{Map, Value};
use xiaoan_domain::Scope;
use xiaoan_domain::audit::Actor;
use xiaoan_domain::calendar::SchoolCalendar;
use xiaoan_domain::compliance::Evidence;
use xiaoan_domain::now_millis;
use xiaoan_domain::plan::kinds::validate;
use xiaoan_domain::text;

/// A record to enter. `fields` are checked against the kind again here.
#[derive(Debug, Clone)]
pub struct NewRecord {
    pub org_id: i64,
    pub kind: String,
    pub occurred_on: NaiveDate,
    pub fields: Map<String, Value>,
    pub note: String,
    pub attachment_ids: Vec<i64>,
}

/// A correction or a withdrawal; `reason` is required and kept in the history.
#[derive(Debug, Clone, Default)]
pub struct RecordPatch {
    pub occurred_on: Option<NaiveDate>,
    pub fields: Option<Map<String, Value>>,
    pub note: Option<String>,
    /// Withdraw the record (it stays, marked withdrawn, and no longer counts).
    pub withdraw: bool,
    pub reason: String,
}

const MAX_ATTACHMENTS: usize = 20;

/// An optional multi-line note or reason under the one text rule of `domain::text`.
fn clean_note(note: &str, max: usize, code: &'static str) -> StoreResult<String> {
    text::clean("note", note, max, text::Lines::Many, false).map_err(|_| StoreError::Invalid(code))
}

/// A record's day: not after `today` (the district's), not before 2000.
fn check_date(day: NaiveDate, today: NaiveDate) -> StoreResult<()> {
    if day > today {
        return Err(StoreError::Invalid("record_date_future"));
    }
    if day < NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or(day) {
        return Err(StoreError::Invalid("record_date_range"));
    }
    Ok(())
}

fn check_fields(
    plan: &StoredPlan,
    kind: &str,
    fields: &Map<String, Value>,
) -> StoreResult<Map<String, Value>> {
    let k = plan
        .plan
        .kind(kind)
        .ok_or(StoreError::Invalid("record_kind"))?;
    validate(&k, fields).map_err(|_| StoreError::Invalid("record_fields"))
}

/// Enters a record for an org the actor may write for (`writable`), refreshing the
/// measures of the obligations it counts for.
#[tracing::instrument(skip_all)]
pub async fn create(
    db: &Db,
    actor: &Actor,
    writable: &[i64],
    plan: &StoredPlan,
    calendar: &SchoolCalendar,
    new: NewRecord,
    today: NaiveDate,
) -> StoreResult<Record> {
    if !writable.contains(&new.org_id) {
        return Err(StoreError::Forbidden("record_org"));
    }
    let (fields, note) = checked(plan, &new, today)?;
    if new.kind == crate::iot::video::VIDEO_RECORD_KIND
        && actor.user_id.is_some()
        && crate::iot::video::has_cameras(db, new.org_id).await?
    {
        // The school's camera inventory says it; a hand-entered record would contradict it.
        return Err(StoreError::Invalid("record_computed"));
    }
    let mut attachments = new.attachment_ids.clone();
    attachments.sort_unstable();
    attachments.dedup();
    if attachments.len() > MAX_ATTACHMENTS {
        return Err(StoreError::Invalid("record_attachment"));
    }
    let org = orgs::get(db, &Scope::everything(), new.org_id).await?;
    let mut tx = db.begin_write().await?;
    let id = insert_on(
        &mut tx,
        actor,
        plan,
        calendar,
        &org,
        &new,
        fields,
        note,
        &attachments,
    )
    .await?;
    tx.commit().await?;
    get(db, &Scope::everything(), id).await
}

/// A new record's fields checked against its kind, its day and its note: what
/// [`insert_on`] writes.
pub(crate) fn checked(
    plan: &StoredPlan,
    new: &NewRecord,
    today: NaiveDate,
) -> StoreResult<(Map<String, Value>, String)> {
    let fields = check_fields(plan, &new.kind, &new.fields)?;
    check_date(new.occurred_on, today)?;
    Ok((fields, clean_note(&new.note, 1000, "record_note")?))
}

/// Writes checked record `new` of `org` inside the caller's write transaction, with its
/// photos, the refresh of the measures it counts for and its audit entry; its id.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn insert_on(
    conn: &mut sqlx::AnyConnection,
    actor: &Actor,
    plan: &StoredPlan,
    calendar: &SchoolCalendar,
    org: &orgs::Org,
    new: &NewRecord,
    fields: Map<String, Value>,
    note: String,
    attachments: &[i64],
) -> StoreResult<i64> {
    let now = now_millis();
    if !crate::attachments::all_uploaded_by(conn, actor.user_id, attachments).await? {
        return Err(StoreError::Invalid("record_attachment"));
    }
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO records (org_id, kind, occurred_on, fields, note, author_id, author_login, revision, withdrawn, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 1, 0, $8, $8) RETURNING id",
    )
    .bind(new.org_id)
    .bind(new.kind.clone())
    .bind(new.occurred_on.to_string())
    .bind(Value::Object(fields.clone()).to_string())
    .bind(note)
    .bind(actor.user_id)
    .bind(actor.login.clone())
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    for a in attachments {
        sqlx::query("INSERT INTO record_attachments (record_id, attachment_id) VALUES ($1, $2)")
            .bind(id)
            .bind(*a)
            .execute(&mut *conn)
            .await?;
    }
    let touched = [Evidence {
        day: new.occurred_on,
        fields: Value::Object(fields.clone()),
    }];
    refresh(conn, plan, calendar, org, &new.kind, &touched).await?;
    let detail = serde_json::json!({"org_id": new.org_id, "kind": new.kind, "occurred_on": new.occurred_on,
        "fields": fields, "attachments": attachments});
    audit::append(
        conn,
        actor,
        Event::ok("record.create", "record", id, detail),
    )
    .await?;
    Ok(id)
}

/// Corrects or withdraws a record. Only its author may, within the plan's editing window;
/// the version replaced is kept with the reason.
#[tracing::instrument(skip_all, fields(id))]
#[expect(
    clippy::too_many_arguments,
    reason = "who, in which scope, under which plan and calendar, on which day: each is its own input"
)]
pub async fn update(
    db: &Db,
    actor: &Actor,
    scope: &Scope,
    plan: &StoredPlan,
    calendar: &SchoolCalendar,
    id: i64,
    patch: RecordPatch,
    today: NaiveDate,
) -> StoreResult<Record> {
    let current = get(db, scope, id).await?;
    if current.author_id.is_none() || current.author_id != actor.user_id {
        return Err(StoreError::Forbidden("record_not_author"));
    }
    let window = i64::from(plan.plan.record_edit_hours) * 3_600_000;
    if now_millis() - current.created_at > window {
        return Err(StoreError::Forbidden("record_edit_window"));
    }
    if current.withdrawn {
        return Err(StoreError::Conflict("record_withdrawn"));
    }
    let reason = clean_note(&patch.reason, 500, "record_reason")?;
    if reason.is_empty() {
        return Err(StoreError::Invalid("record_reason"));
    }
    let fields = match &patch.fields {
        Some(f) => check_fields(plan, &current.kind, f)?,
        None => current.fields.as_object().cloned().unwrap_or_default(),
    };
    let day = patch.occurred_on.unwrap_or(current.occurred_on);
    check_date(day, today)?;
    let note = match &patch.note {
        Some(n) => clean_note(n, 1000, "record_note")?,
        None => current.note.clone(),
    };
    let org = orgs::get(db, &Scope::everything(), current.org_id).await?;
    let now = now_millis();
    let mut tx = db.begin_write().await?;
    // The revision check makes a concurrent correction of the same version fail cleanly.
    let stale: Option<(String, String, String, i64)> = sqlx::query_as(
        "SELECT occurred_on, fields, note, withdrawn FROM records WHERE id = $1 AND revision = $2",
    )
    .bind(id)
    .bind(current.revision)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((old_day, old_fields, old_note, old_withdrawn)) = stale else {
        return Err(StoreError::Conflict("record_changed"));
    };
    // Where the record counted before and where it counts now (the period it names may
    // have changed with its fields).
    let touched = [
        Evidence {
            day: parse_day(&old_day)?,
            fields: serde_json::from_str(&old_fields).unwrap_or_default(),
        },
        Evidence {
            day,
            fields: Value::Object(fields.clone()),
        },
    ];
    sqlx::query(
        "INSERT INTO record_revisions (record_id, revision, occurred_on, fields, note, withdrawn, reason, changed_by, \
         changed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(id)
    .bind(current.revision)
    .bind(old_day.clone())
    .bind(old_fields)
    .bind(old_note)
    .bind(old_withdrawn)
    .bind(reason.clone())
    .bind(actor.login.clone())
    .bind(now)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE records SET occurred_on = $1, fields = $2, note = $3, withdrawn = $4, revision = revision + 1, \
         updated_at = $5 WHERE id = $6",
    )
    .bind(day.to_string())
    .bind(Value::Object(fields.clone()).to_string())
    .bind(note)
    .bind(i64::from(patch.withdraw))
    .bind(now)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    refresh(&mut tx, plan, calendar, &org, &current.kind, &touched).await?;
    let (action, detail) = if patch.withdraw {
        ("record.withdraw", serde_json::json!({"reason": reason}))
    } else {
        (
            "record.correct",
            serde_json::json!({"reason": reason, "occurred_on": day, "fields": fields}),
        )
    };
    audit::append(&mut tx, actor, Event::ok(action, "record", id, detail)).await?;
    tx.commit().await?;
    get(db, scope, id).await
}
