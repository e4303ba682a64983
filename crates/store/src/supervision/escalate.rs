//! The overdue round: an unanswered item replaced by one on the next rung.

use super::*;

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
