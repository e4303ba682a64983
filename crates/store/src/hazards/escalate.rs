//! The escalation step: overdue hazards go to the centre; major ones and those overdue for
//! longer than the district allows are listed for bureau supervision (掛牌督辦). Idempotent:
//! running it twice on the same day changes nothing the second time.

use super::{Hazard, Row, SELECT};
use crate::audit::{self, Event};
use crate::notify;
use crate::sql::Sql;
use crate::{Db, StoreResult};
use chrono::NaiveDate;
use xiaoan_domain::audit::Actor;
use xiaoan_domain::hazard::{Escalation, Grade, HazardFacts, Status, escalation_level};
use xiaoan_domain::notify::Event as NotifyEvent;
use xiaoan_domain::now_millis;

fn facts(h: &Hazard) -> HazardFacts {
    HazardFacts {
        status: h.status,
        grade: h.grade,
        owner_id: h.owner.as_ref().map(|u| u.id),
        rectifier_id: h.rectifier.as_ref().map(|u| u.id),
        deadline: h.deadline,
        on_plan: h.on_plan,
    }
}

/// Raises the escalation of every open hazard that has become overdue or major; returns how
/// many were raised.
#[tracing::instrument(skip_all)]
pub async fn escalate(db: &Db, today: NaiveDate, listing_days: i64) -> StoreResult<usize> {
    // Candidates: open, not yet listed, and either past their deadline or major.
    let mut sql = Sql::new(db.backend(), SELECT);
    sql.push(" WHERE h.status NOT IN ")
        .codes(&Status::DONE)
        .push(" AND h.escalation < ")
        .bind(Escalation::Listed.level())
        .push(" AND ((h.status IN ")
        .codes(&Status::OVERDUE_ABLE)
        .push(" AND h.deadline < ")
        .bind(today.to_string())
        .push(") OR h.grade = ")
        .bind(Grade::Major.code().to_string())
        .push(")");
    let (text, args) = sql.build();
    let rows: Vec<Row> = sqlx::query_as_with(text, args).fetch_all(db.pool()).await?;
    let actor = Actor::system("escalation");
    let mut raised = 0;
    for row in rows {
        let h = row.into_hazard(today)?;
        let level = escalation_level(&facts(&h), today, listing_days);
        if level <= h.escalation {
            continue;
        }
        let mut tx = db.begin_write().await?;
        let n = sqlx::query("UPDATE hazards SET escalation = $1, escalated_at = $2 WHERE id = $3 AND escalation < $1")
            .bind(level.level())
            .bind(now_millis())
            .bind(h.id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            continue;
        }
        let action = if level == Escalation::Listed {
            "list"
        } else {
            "escalate"
        };
        let detail =
            serde_json::json!({"level": level.level(), "deadline": h.deadline, "grade": h.grade});
        sqlx::query(
            "INSERT INTO hazard_events (hazard_id, at, actor_id, actor_login, action, from_status, to_status, note, detail) \
             VALUES ($1, $2, NULL, $3, $4, $5, $5, '', $6)",
        )
        .bind(h.id)
        .bind(now_millis())
        .bind(actor.login.clone())
        .bind(action.to_string())
        .bind(h.status.code().to_string())
        .bind(detail.to_string())
        .execute(&mut *tx)
        .await?;
        let intent = notify::Intent {
            event: if level == Escalation::Listed {
                NotifyEvent::HazardListed
            } else {
                NotifyEvent::HazardOverdue
            },
            object_kind: "hazard",
            object_id: h.id,
            org_id: h.school_id,
            actor_id: None,
            user_id: h.owner.as_ref().map(|u| u.id),
            args: serde_json::json!({"number": h.number, "title": h.title, "school": h.school_name, "deadline": h.deadline}),
        };
        notify::record(&mut tx, &intent, now_millis()).await?;
        audit::append(
            &mut tx,
            &actor,
            Event::ok(&format!("hazard.{action}"), "hazard", h.id, detail),
        )
        .await?;
        tx.commit().await?;
        raised += 1;
    }
    Ok(raised)
}
