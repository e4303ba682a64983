//! Alarms nobody acknowledges: silences (maintenance, drill and test windows that hold
//! notifications), and the round that repeats an open alarm to its school and takes it up
//! the org tree — school, township centre, bureau — on the district's delays.

use super::*;
use xiaoan_domain::iot::{
    Escalation, LEVEL_BUREAU, LEVEL_CENTRE, MAX_SILENCE_MS, SilenceReason, Step, escalation_step,
};

/// A silence as callers see it.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Silence {
    pub id: i64,
    pub school_id: i64,
    pub school_name: String,
    #[serde(skip)]
    pub school_path: String,
    /// One device, or every device of the school.
    pub device_id: Option<i64>,
    pub device_code: Option<String>,
    pub reason: String,
    pub note: String,
    pub starts_at: Millis,
    pub ends_at: Millis,
    pub created_at: Millis,
}

const SILENCE: &str = "SELECT s.id, s.school_id, o.name AS school_name, o.path AS school_path, s.device_id, \
     d.code AS device_code, s.reason, s.note, s.starts_at, s.ends_at, s.created_at \
     FROM alarm_silences s JOIN orgs o ON o.id = s.school_id LEFT JOIN devices d ON d.id = s.device_id";

/// A silence to create.
#[derive(Debug, Clone)]
pub struct NewSilence {
    pub school_id: i64,
    pub device_id: Option<i64>,
    pub reason: SilenceReason,
    pub note: String,
    pub starts_at: Millis,
    pub ends_at: Millis,
}

/// Silences a school in `scope` (or one of its devices) from `starts_at` to `ends_at`:
/// alarms raised then are recorded and shown, their notifications wait for the end.
pub async fn create_silence(
    db: &Db,
    actor: &Actor,
    scope: &Scope,
    new: &NewSilence,
) -> StoreResult<Silence> {
    let school = crate::orgs::get(db, scope, new.school_id)
        .await
        .map_err(|_| StoreError::Invalid("silence_school"))?;
    if school.kind != OrgKind::School {
        return Err(StoreError::Invalid("silence_school"));
    }
    if let Some(id) = new.device_id {
        let d = get(db, scope, id)
            .await
            .map_err(|_| StoreError::Invalid("silence_device"))?;
        if d.school_id != school.id {
            return Err(StoreError::Invalid("silence_device"));
        }
    }
    let now = now_millis();
    if new.ends_at <= now {
        return Err(StoreError::Invalid("silence_past"));
    }
    if new.ends_at <= new.starts_at {
        return Err(StoreError::Invalid("silence_window"));
    }
    if new.ends_at.saturating_sub(new.starts_at) > MAX_SILENCE_MS {
        return Err(StoreError::Invalid("silence_too_long"));
    }
    let note = new.note.trim();
    if note.chars().count() > 200 {
        return Err(StoreError::Invalid("silence_note"));
    }
    let mut tx = db.begin_write().await?;
    let q = match new.device_id {
        Some(device) => sqlx::query_scalar(
            "INSERT INTO alarm_silences (school_id, device_id, reason, note, starts_at, ends_at, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(school.id)
        .bind(device),
        None => sqlx::query_scalar(
            "INSERT INTO alarm_silences (school_id, device_id, reason, note, starts_at, ends_at, created_by, created_at) \
             VALUES ($1, NULL, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(school.id),
    };
    let id: i64 = q
        .bind(new.reason.code().to_string())
        .bind(note.to_string())
        .bind(new.starts_at)
        .bind(new.ends_at)
        .bind(actor.user_id)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
    audit::append(
        &mut tx,
        actor,
        AuditEvent::ok(
            "alarm.silence",
            "alarm_silence",
            id,
            serde_json::json!({"school_id": school.id, "device_id": new.device_id, "reason": new.reason,
                "starts_at": new.starts_at, "ends_at": new.ends_at}),
        ),
    )
    .await?;
    tx.commit().await?;
    get_silence(db, scope, id).await
}

/// One silence of a school in `scope`.
pub async fn get_silence(db: &Db, scope: &Scope, id: i64) -> StoreResult<Silence> {
    let mut sql = Sql::new(db.backend(), SILENCE);
    sql.push(" WHERE s.id = ")
        .bind(id)
        .push(" AND ")
        .scope("o.path", scope);
    let (text, args) = sql.build();
    sqlx::query_as_with(text, args)
        .fetch_optional(db.pool())
        .await?
        .ok_or(StoreError::NotFound)
}

/// Silences of schools in `scope` (at one school when given) that have not ended, soonest
/// first; with `past`, the last 200 that have.
pub async fn list_silences(
    db: &Db,
    scope: &Scope,
    school_id: Option<i64>,
    past: bool,
) -> StoreResult<Vec<Silence>> {
    let mut sql = Sql::new(db.backend(), SILENCE);
    sql.push(" WHERE ").scope("o.path", scope);
    if let Some(s) = school_id {
        sql.push(" AND s.school_id = ").bind(s);
    }
    if past {
        sql.push(" AND s.ends_at <= ")
            .bind(now_millis())
            .push(" ORDER BY s.ends_at DESC LIMIT 200");
    } else {
        sql.push(" AND s.ends_at > ")
            .bind(now_millis())
            .push(" ORDER BY s.starts_at, s.id LIMIT 500");
    }
    let (text, args) = sql.build();
    Ok(sqlx::query_as_with(text, args).fetch_all(db.pool()).await?)
}

/// Ends silence `id` now (a window finished early, or a future one called off); the
/// notifications it held go out with the next round.
pub async fn end_silence(db: &Db, actor: &Actor, scope: &Scope, id: i64) -> StoreResult<Silence> {
    let s = get_silence(db, scope, id).await?;
    let now = now_millis();
    if s.ends_at <= now {
        return Err(StoreError::Conflict("silence_over"));
    }
    let mut tx = db.begin_write().await?;
    sqlx::query(
        "UPDATE alarm_silences SET starts_at = CASE WHEN starts_at < $1 THEN starts_at ELSE $1 - 1 END, ends_at = $1 \
         WHERE id = $2",
    )
    .bind(now)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    // What it held is released unless another silence still covers its device: then it
    // waits for the latest end among those.
    sqlx::query(
        "UPDATE alarms SET silenced_until = COALESCE((SELECT MAX(s.ends_at) FROM alarm_silences s \
         WHERE s.school_id = alarms.school_id AND (s.device_id IS NULL OR s.device_id = alarms.device_id) \
         AND s.starts_at <= $1 AND s.ends_at > $1), $1) \
         WHERE school_id = $2 AND closed = 0 AND silenced_until > $1",
    )
    .bind(now)
    .bind(s.school_id)
    .execute(&mut *tx)
    .await?;
    audit::append(
        &mut tx,
        actor,
        AuditEvent::ok(
            "alarm.silence_end",
            "alarm_silence",
            id,
            serde_json::json!({}),
        ),
    )
    .await?;
    tx.commit().await?;
    get_silence(db, scope, id).await
}

/// What an escalation round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Escalated {
    /// Alarms told once a silence was over.
    pub released: usize,
    /// Reminders to schools.
    pub reminded: usize,
    /// Alarms taken up a level.
    pub escalated: usize,
}

#[derive(sqlx::FromRow)]
struct Pending {
    id: i64,
    device_id: i64,
    alarm_type: String,
    severity: String,
    condition: String,
    raised_at: i64,
    notified_at: Option<i64>,
    level: i64,
    silenced_until: Option<i64>,
    trigger_value: Option<f64>,
}

/// The escalation round (on a timer): for every open alarm nobody has acknowledged, tells
/// people once its silence is over, reminds its school every `p.repeat_ms`, and takes
/// critical and major ones to the centre and the bureau as they age. Each step is guarded
/// by the value it read, so two nodes running a round at once tell each thing once.
#[tracing::instrument(skip_all)]
pub async fn escalate(db: &Db, p: &Escalation, now: Millis) -> StoreResult<Escalated> {
    let rows: Vec<Pending> = sqlx::query_as(
        "SELECT id, device_id, alarm_type, severity, condition, raised_at, notified_at, CAST(level AS BIGINT) AS level, \
         silenced_until, trigger_value FROM alarms WHERE closed = 0 AND acked = 0 ORDER BY id LIMIT 5000",
    )
    .fetch_all(db.pool())
    .await?;
    let mut out = Escalated::default();
    for a in rows {
        if a.silenced_until.is_some_and(|u| u > now) {
            continue;
        }
        let (Some(t), Some(severity)) = (
            AlarmType::from_code(&a.alarm_type),
            Severity::from_code(&a.severity),
        ) else {
            continue;
        };
        let active = a.condition == Condition::Active.code();
        let step = match a.notified_at {
            None => None,
            Some(_) if !active => continue,
            Some(at) => Some(escalation_step(
                p,
                severity,
                a.raised_at,
                at,
                u8::try_from(a.level).unwrap_or(0),
                now,
            )),
        };
        if step == Some(Step::Nothing) {
            continue;
        }
        let d = get(db, &Scope::everything(), a.device_id).await?;
        let mut tx = db.begin_write().await?;
        match step {
            // Held by a silence that is over: told now if it still holds.
            None => {
                let n = sqlx::query(
                    "UPDATE alarms SET notified_at = $1, silenced_until = NULL WHERE id = $2 AND notified_at IS NULL",
                )
                .bind(now)
                .bind(a.id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if n == 1 && active {
                    announce(&mut tx, &d, a.id, t, a.trigger_value, now).await?;
                    event(&mut tx, a.id, "released", "system", None, "", now).await?;
                    out.released += 1;
                }
            }
            Some(Step::Remind) => {
                let n = sqlx::query(
                    "UPDATE alarms SET notified_at = $1 WHERE id = $2 AND notified_at = $3",
                )
                .bind(now)
                .bind(a.id)
                .bind(a.notified_at.unwrap_or(0))
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if n == 1 {
                    let e = if t.urgent() {
                        NotifyEvent::AlarmFire
                    } else {
                        NotifyEvent::AlarmUnacked
                    };
                    tell(&mut tx, &d, a.id, t, a.trigger_value, e, now).await?;
                    event(&mut tx, a.id, "reminded", "system", None, "", now).await?;
                    out.reminded += 1;
                }
            }
            Some(Step::Escalate(level)) => {
                let n = sqlx::query(
                    "UPDATE alarms SET level = $1, notified_at = $2 WHERE id = $3 AND level = $4",
                )
                .bind(i64::from(level))
                .bind(now)
                .bind(a.id)
                .bind(a.level)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if n == 1 {
                    let from = u8::try_from(a.level).unwrap_or(0);
                    for l in (from + 1)..=level {
                        let (e, note) = match l {
                            LEVEL_CENTRE => (NotifyEvent::AlarmToCentre, "centre"),
                            LEVEL_BUREAU => (NotifyEvent::AlarmToBureau, "bureau"),
                            _ => continue,
                        };
                        tell(&mut tx, &d, a.id, t, a.trigger_value, e, now).await?;
                        event(&mut tx, a.id, "escalated", "system", None, note, now).await?;
                    }
                    out.escalated += 1;
                }
            }
            Some(Step::Nothing) => {}
        }
        tx.commit().await?;
    }
    Ok(out)
}
