//! Reporting a hazard and taking it through its closed loop.

use super::{Hazard, get};
use crate::audit::{self, Event};
use crate::notify;
use crate::sql::Sql;
use crate::{Db, StoreError, StoreResult};
use chrono::{Datelike, NaiveDate};
use sqlx::AnyConnection;
use xiaoan_domain::audit::Actor;
use xiaoan_domain::hazard::{
    Action, ActorFacts, Category, Escalation, Grade, HazardFacts, Source, Status, decide,
    location_key,
};
use xiaoan_domain::notify::Event as NotifyEvent;
use xiaoan_domain::text::{Name, Text};
use xiaoan_domain::{OrgKind, Scope, now_millis};

/// What the person acting may do, as scopes: the store checks them against the hazard's
/// school inside the transaction.
#[derive(Debug, Clone)]
pub struct Powers {
    pub user_id: i64,
    /// Where the actor may register, dismiss, plan and reopen.
    pub manage: Scope,
    /// Where the actor may verify and send back.
    pub verify: Scope,
}

/// A hazard as reported.
#[derive(Debug, Clone)]
pub struct NewHazard {
    pub school_id: i64,
    pub category: Category,
    pub grade: Grade,
    pub source: Source,
    /// One line, at most [`xiaoan_domain::hazard::LOCATION_MAX`] characters.
    pub location: Text,
    /// One line, at most [`xiaoan_domain::hazard::TITLE_MAX`] characters.
    pub title: Text,
    /// Several lines, at most [`xiaoan_domain::hazard::DESCRIPTION_MAX`] characters.
    pub description: Text,
    /// Who found it (a name; defaults to the reporter).
    pub found_by: Name,
    pub found_on: NaiveDate,
    /// Photos uploaded by the reporter.
    pub attachments: Vec<i64>,
}

/// A created hazard, with open hazards at the same place that may be the same one.
#[derive(Debug, Clone)]
pub struct Created {
    pub hazard: Hazard,
    pub possible_duplicates: Vec<i64>,
}

/// One step of a hazard's history, as written.
struct Step<'a> {
    action: &'a str,
    from: Option<Status>,
    to: Status,
    note: &'a str,
    detail: serde_json::Value,
}

async fn insert_event(
    conn: &mut AnyConnection,
    hazard_id: i64,
    actor: &Actor,
    step: Step<'_>,
) -> StoreResult<i64> {
    let Step {
        action,
        from,
        to,
        note,
        detail,
    } = step;
    Ok(sqlx::query_scalar(
        "INSERT INTO hazard_events (hazard_id, at, actor_id, actor_login, action, from_status, to_status, note, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
    )
    .bind(hazard_id)
    .bind(now_millis())
    .bind(actor.user_id)
    .bind(actor.login.clone())
    .bind(action.to_string())
    .bind(from.map(|s| s.code().to_string()))
    .bind(to.code().to_string())
    .bind(note.trim().to_string())
    .bind(detail.to_string())
    .fetch_one(&mut *conn)
    .await?)
}

/// Links photos to a step. Only the actor's own uploads may be used; bytes already used on
/// another step are linked but flagged.
async fn attach(
    conn: &mut AnyConnection,
    hazard_id: i64,
    event_id: i64,
    uploader: i64,
    ids: &[i64],
) -> StoreResult<()> {
    for id in ids {
        let row: Option<(i64, String, Option<i64>)> = sqlx::query_as(
            "SELECT uploader_id, source_sha256, duplicate_of FROM attachments WHERE id = $1",
        )
        .bind(*id)
        .fetch_optional(&mut *conn)
        .await?;
        let Some((owner, sha, duplicate_of)) = row else {
            return Err(StoreError::Invalid("attachment_unknown"));
        };
        if owner != uploader {
            return Err(StoreError::Invalid("attachment_unknown"));
        }
        let used: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM hazard_attachments ha JOIN attachments a ON a.id = ha.attachment_id \
             WHERE a.source_sha256 = $1",
        )
        .bind(sha)
        .fetch_one(&mut *conn)
        .await?;
        sqlx::query("INSERT INTO hazard_attachments (hazard_id, event_id, attachment_id, reused) VALUES ($1, $2, $3, $4)")
            .bind(hazard_id)
            .bind(event_id)
            .bind(*id)
            .bind((used > 0 || duplicate_of.is_some()) as i64)
            .execute(&mut *conn)
            .await
            .map_err(crate::error::unique_as("attachment_twice"))?;
    }
    Ok(())
}

/// Reports a hazard at a school inside `scope` (the reporter's HazardReport scope).
#[tracing::instrument(skip_all)]
pub async fn create(
    db: &Db,
    actor: &Actor,
    reporter_id: i64,
    scope: &Scope,
    new: NewHazard,
    today: NaiveDate,
) -> StoreResult<Created> {
    let school = crate::orgs::get(db, scope, new.school_id)
        .await
        .map_err(|_| StoreError::Invalid("hazard_school"))?;
    let mut tx = db.begin_write().await?;
    let (id, duplicates) = insert_on(
        &mut tx,
        db.backend(),
        &school,
        actor,
        reporter_id,
        &new,
        today,
    )
    .await?;
    tx.commit().await?;
    let hazard = get(db, &Scope::subtree(&school.path), id, today).await?;
    Ok(Created {
        hazard,
        possible_duplicates: duplicates,
    })
}

/// Reports hazard `new` at `school` inside the caller's write transaction (its number, its
/// first history entry, photos, notification and audit entry), so that a writer filing a
/// hazard for something of its own (a video gap) commits both or neither. Returns its id
/// and the open hazards it may duplicate.
pub(crate) async fn insert_on(
    conn: &mut AnyConnection,
    backend: crate::Backend,
    school: &crate::orgs::Org,
    actor: &Actor,
    reporter_id: i64,
    new: &NewHazard,
    today: NaiveDate,
) -> StoreResult<(i64, Vec<i64>)> {
    if school.kind != OrgKind::School || school.id != new.school_id {
        return Err(StoreError::Invalid("hazard_school"));
    }
    if new.found_on > today {
        return Err(StoreError::Invalid("found_on_future"));
    }
    if new.attachments.len() > 5 {
        return Err(StoreError::Invalid("too_many_photos"));
    }
    let key = location_key(new.location.as_str());
    let now = now_millis();
    let mut sql = Sql::new(backend, "SELECT id FROM hazards WHERE school_id = ");
    sql.bind(school.id)
        .push(" AND category = ")
        .bind(new.category.code().to_string())
        .push(" AND location_key = ")
        .bind(key.clone())
        .push(" AND status NOT IN ")
        .codes(&Status::DONE)
        .push(" ORDER BY id");
    let (text, args) = sql.build();
    let duplicates: Vec<i64> = sqlx::query_scalar_with(text, args)
        .fetch_all(&mut *conn)
        .await?;
    let recurrence_of: Option<i64> = sqlx::query_scalar(
        "SELECT MAX(id) FROM hazards WHERE school_id = $1 AND category = $2 AND location_key = $3 AND status = $4",
    )
    .bind(school.id)
    .bind(new.category.code().to_string())
    .bind(key.clone())
    .bind(Status::Closed.code().to_string())
    .fetch_one(&mut *conn)
    .await?;
    let year = today.year() as i64;
    sqlx::query("INSERT INTO hazard_counters (school_id, year, seq) VALUES ($1, $2, 0) ON CONFLICT DO NOTHING")
        .bind(school.id)
        .bind(year)
        .execute(&mut *conn)
        .await?;
    let seq: i64 = sqlx::query_scalar(
        "UPDATE hazard_counters SET seq = seq + 1 WHERE school_id = $1 AND year = $2 RETURNING seq",
    )
    .bind(school.id)
    .bind(year)
    .fetch_one(&mut *conn)
    .await?;
    let number = format!("{}-{year}-{seq:04}", school.code);
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO hazards (school_id, number, category, grade, source, location, location_key, title, description, \
         status, reporter_id, found_by, found_on, recurrence_of, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $15, $10, $11, $12, $13, $14, $14) RETURNING id",
    )
    .bind(school.id)
    .bind(number.clone())
    .bind(new.category.code().to_string())
    .bind(new.grade.code().to_string())
    .bind(new.source.code().to_string())
    .bind(new.location.as_str().to_string())
    .bind(key)
    .bind(new.title.as_str().to_string())
    .bind(new.description.as_str().to_string())
    .bind(reporter_id)
    .bind(new.found_by.as_str().to_string())
    .bind(new.found_on.to_string())
    .bind(recurrence_of)
    .bind(now)
    .bind(Status::Reported.code().to_string())
    .fetch_one(&mut *conn)
    .await?;
    let detail =
        serde_json::json!({"possible_duplicates": duplicates, "recurrence_of": recurrence_of});
    let step = Step {
        action: "report",
        from: None,
        to: Status::Reported,
        note: "",
        detail,
    };
    let event = insert_event(conn, id, actor, step).await?;
    attach(conn, id, event, reporter_id, &new.attachments).await?;
    let intent = notify::Intent {
        event: NotifyEvent::HazardReported,
        object_kind: "hazard",
        object_id: id,
        org_id: school.id,
        actor_id: Some(reporter_id),
        user_id: None,
        args: serde_json::json!({"number": number, "title": new.title.as_str(), "school": school.name, "deadline": null}),
    };
    notify::record(conn, &intent, now).await?;
    let detail = serde_json::json!({"number": number, "school_id": school.id, "category": new.category, "grade": new.grade});
    audit::append(
        conn,
        actor,
        Event::ok("hazard.report", "hazard", id, detail),
    )
    .await?;
    Ok((id, duplicates))
}

/// Whether `user_id` belongs to the school (home org there, or a role held there).
async fn belongs_to(conn: &mut AnyConnection, user_id: i64, school_id: i64) -> StoreResult<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM users u WHERE u.id = $1 AND u.disabled = 0 AND (u.org_id = $2 OR EXISTS \
         (SELECT 1 FROM role_assignments ra WHERE ra.user_id = u.id AND ra.org_id = $2))",
    )
    .bind(user_id)
    .bind(school_id)
    .fetch_one(&mut *conn)
    .await?;
    Ok(n > 0)
}

/// Takes one step of the closed loop on a hazard inside `scope` (the actor's HazardRead
/// scope), as the domain's state machine allows. The hazard is read, judged by
/// [`decide`] and written in one write transaction; the write is guarded by the version
/// that was read, so a step decided on facts that another step changed meanwhile answers
/// `Conflict("hazard_changed")` and changes nothing.
#[tracing::instrument(skip_all, fields(id))]
pub async fn transition(
    db: &Db,
    actor: &Actor,
    powers: &Powers,
    scope: &Scope,
    id: i64,
    action: Action,
    today: NaiveDate,
) -> StoreResult<Hazard> {
    let now = now_millis();
    let mut tx = db.begin_write().await?;
    let before = super::get_with(&mut *tx, db.backend(), scope, id, today).await?;
    let facts = HazardFacts {
        status: before.status,
        grade: before.grade,
        owner_id: before.owner.as_ref().map(|u| u.id),
        rectifier_id: before.rectifier.as_ref().map(|u| u.id),
        deadline: before.deadline,
        on_plan: before.on_plan,
    };
    let who = ActorFacts {
        user_id: powers.user_id,
        can_manage: powers.manage.contains(&before.school_path),
        can_verify: powers.verify.contains(&before.school_path),
    };
    let decision = decide(&facts, &action, &who, today)?;
    // Optimistic concurrency: the row must still be the version the decision was made on
    // (on PostgreSQL another transaction may have read the same version and written first).
    let moved = sqlx::query(
        "UPDATE hazards SET status = $1, on_plan = $2, updated_at = $3, version = version + 1 \
         WHERE id = $4 AND version = $5",
    )
    .bind(decision.to.code().to_string())
    .bind(decision.on_plan as i64)
    .bind(now)
    .bind(id)
    .bind(before.version)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if moved != 1 {
        return Err(StoreError::Conflict("hazard_changed"));
    }
    let (note, detail, photos): (String, serde_json::Value, Vec<i64>) = match &action {
        Action::Register {
            owner_id,
            measures,
            deadline,
            grade,
        } => {
            if !belongs_to(&mut tx, *owner_id, before.school_id).await? {
                return Err(StoreError::Invalid("owner_not_at_school"));
            }
            let grade = grade.unwrap_or(before.grade);
            sqlx::query("UPDATE hazards SET owner_id = $1, measures = $2, deadline = $3, grade = $4 WHERE id = $5")
                .bind(*owner_id)
                .bind(measures.trim().to_string())
                .bind(deadline.to_string())
                .bind(grade.code().to_string())
                .bind(id)
                .execute(&mut *tx)
                .await?;
            let detail =
                serde_json::json!({"owner_id": owner_id, "deadline": deadline, "grade": grade});
            (measures.clone(), detail, vec![])
        }
        Action::Start => (String::new(), serde_json::json!({}), vec![]),
        Action::Submit { note, attachments } => {
            sqlx::query(
                "UPDATE hazards SET rectifier_id = $1, rectification_note = $2 WHERE id = $3",
            )
            .bind(powers.user_id)
            .bind(note.trim().to_string())
            .bind(id)
            .execute(&mut *tx)
            .await?;
            (note.clone(), serde_json::json!({}), attachments.clone())
        }
        Action::Verify { note } => {
            sqlx::query("UPDATE hazards SET verifier_id = $1, closed_at = $2 WHERE id = $3")
                .bind(powers.user_id)
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            (note.clone(), serde_json::json!({}), vec![])
        }
        Action::SendBack { reason } | Action::Dismiss { reason } => {
            (reason.clone(), serde_json::json!({}), vec![])
        }
        Action::Plan {
            interim_measures,
            deadline,
        } => {
            sqlx::query("UPDATE hazards SET interim_measures = $1, deadline = $2 WHERE id = $3")
                .bind(interim_measures.trim().to_string())
                .bind(deadline.to_string())
                .bind(id)
                .execute(&mut *tx)
                .await?;
            let detail =
                serde_json::json!({"deadline": deadline, "previous_deadline": before.deadline});
            (interim_measures.clone(), detail, vec![])
        }
        Action::Reopen { reason } => {
            sqlx::query(
                "UPDATE hazards SET owner_id = NULL, deadline = NULL, rectifier_id = NULL, verifier_id = NULL, \
                 closed_at = NULL, escalation = $1, escalated_at = NULL WHERE id = $2",
            )
            .bind(Escalation::None.level())
            .bind(id)
            .execute(&mut *tx)
            .await?;
            (
                reason.clone(),
                serde_json::json!({"recurrence": true}),
                vec![],
            )
        }
    };
    let step = Step {
        action: action.code(),
        from: Some(before.status),
        to: decision.to,
        note: &note,
        detail: detail.clone(),
    };
    let event = insert_event(&mut tx, id, actor, step).await?;
    attach(&mut tx, id, event, powers.user_id, &photos).await?;
    let owner = before.owner.as_ref().map(|u| u.id);
    let told = match &action {
        Action::Register {
            owner_id, deadline, ..
        } => Some((
            NotifyEvent::HazardAssigned,
            Some(*owner_id),
            Some(*deadline),
        )),
        Action::Submit { .. } => Some((NotifyEvent::HazardSubmitted, None, before.deadline)),
        Action::SendBack { .. } => Some((
            NotifyEvent::HazardSentBack,
            before.rectifier.as_ref().map(|u| u.id).or(owner),
            before.deadline,
        )),
        Action::Verify { .. } => Some((NotifyEvent::HazardClosed, owner, before.deadline)),
        _ => None,
    };
    if let Some((event, user_id, deadline)) = told {
        let intent = notify::Intent {
            event,
            object_kind: "hazard",
            object_id: id,
            org_id: before.school_id,
            actor_id: Some(powers.user_id),
            user_id,
            args: serde_json::json!({"number": before.number, "title": before.title, "school": before.school_name, "deadline": deadline}),
        };
        notify::record(&mut tx, &intent, now).await?;
    }
    let audit_detail =
        serde_json::json!({"from": before.status, "to": decision.to, "detail": detail});
    audit::append(
        &mut tx,
        actor,
        Event::ok(
            &format!("hazard.{}", action.code()),
            "hazard",
            id,
            audit_detail,
        ),
    )
    .await?;
    tx.commit().await?;
    get(db, &Scope::subtree(&before.school_path), id, today).await
}
