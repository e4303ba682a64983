//! Issuing an item and the steps people take on it (respond, accept, return).

use super::*;

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
