//! Alarms as people see them: lists, one alarm and its history, acknowledge, close,
//! the hazard link.

use super::*;

/// An alarm as callers see it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alarm {
    pub id: i64,
    pub device_id: i64,
    pub device_code: String,
    pub device_kind: DeviceKind,
    pub location: String,
    pub school_id: i64,
    pub school_name: String,
    #[serde(skip)]
    pub school_path: String,
    pub alarm_type: AlarmType,
    pub severity: Severity,
    pub condition: Condition,
    pub acked: bool,
    pub closed: bool,
    pub raised_at: Millis,
    pub last_seen_at: Millis,
    pub cleared_at: Option<Millis>,
    pub acked_at: Option<Millis>,
    pub closed_at: Option<Millis>,
    pub close_reason: Option<CloseReason>,
    pub occurrences: i64,
    pub trigger_value: Option<f64>,
    pub peak_value: Option<f64>,
    pub hazard_id: Option<i64>,
    /// Notifications held by a silence until then.
    pub silenced_until: Option<Millis>,
    /// How far up it went unacknowledged (0 the school, 1 the centre, 2 the bureau).
    pub level: i64,
    pub version: i64,
}

#[derive(sqlx::FromRow)]
struct AlarmRow {
    id: i64,
    device_id: i64,
    device_code: String,
    device_kind: String,
    location: String,
    school_id: i64,
    school_name: String,
    school_path: String,
    alarm_type: String,
    severity: String,
    condition: String,
    acked: i64,
    closed: i64,
    raised_at: i64,
    last_seen_at: i64,
    cleared_at: Option<i64>,
    acked_at: Option<i64>,
    closed_at: Option<i64>,
    close_reason: Option<String>,
    occurrences: i64,
    trigger_value: Option<f64>,
    peak_value: Option<f64>,
    hazard_id: Option<i64>,
    silenced_until: Option<i64>,
    level: i64,
    version: i64,
}

const ALARM: &str = "SELECT a.id, a.device_id, d.code AS device_code, d.kind AS device_kind, d.location, a.school_id, \
     o.name AS school_name, o.path AS school_path, a.alarm_type, a.severity, a.condition, CAST(a.acked AS BIGINT) AS acked, \
     CAST(a.closed AS BIGINT) AS closed, a.raised_at, a.last_seen_at, a.cleared_at, a.acked_at, a.closed_at, a.close_reason, \
     a.occurrences, a.trigger_value, a.peak_value, a.hazard_id, a.silenced_until, CAST(a.level AS BIGINT) AS level, a.version \
     FROM alarms a JOIN devices d ON d.id = a.device_id JOIN orgs o ON o.id = a.school_id";

fn alarm(r: AlarmRow) -> StoreResult<Alarm> {
    let bad = || StoreError::Invalid("alarm_row");
    Ok(Alarm {
        id: r.id,
        device_id: r.device_id,
        device_code: r.device_code,
        device_kind: DeviceKind::from_code(&r.device_kind).ok_or_else(bad)?,
        location: r.location,
        school_id: r.school_id,
        school_name: r.school_name,
        school_path: r.school_path,
        alarm_type: AlarmType::from_code(&r.alarm_type).ok_or_else(bad)?,
        severity: Severity::from_code(&r.severity).ok_or_else(bad)?,
        condition: Condition::from_code(&r.condition).ok_or_else(bad)?,
        acked: r.acked != 0,
        closed: r.closed != 0,
        raised_at: r.raised_at,
        last_seen_at: r.last_seen_at,
        cleared_at: r.cleared_at,
        acked_at: r.acked_at,
        closed_at: r.closed_at,
        close_reason: r.close_reason.as_deref().and_then(CloseReason::from_code),
        occurrences: r.occurrences,
        trigger_value: r.trigger_value,
        peak_value: r.peak_value,
        hazard_id: r.hazard_id,
        silenced_until: r.silenced_until,
        level: r.level,
        version: r.version,
    })
}

/// Which alarms a list shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AlarmStatus {
    /// Not closed (the board).
    #[default]
    Open,
    /// Open and still active.
    Active,
    /// Open and not acknowledged.
    Unacked,
    /// Closed.
    Closed,
    /// Everything.
    All,
}

impl AlarmStatus {
    /// From its code (`open`, `active`, `unacked`, `closed`, `all`).
    pub fn parse(code: &str) -> Option<AlarmStatus> {
        Some(match code {
            "open" => AlarmStatus::Open,
            "active" => AlarmStatus::Active,
            "unacked" => AlarmStatus::Unacked,
            "closed" => AlarmStatus::Closed,
            "all" => AlarmStatus::All,
            _ => return None,
        })
    }
}

/// Alarms of schools in `scope`: urgent and newest first.
pub async fn list_alarms(
    db: &Db,
    scope: &Scope,
    status: AlarmStatus,
    school_id: Option<i64>,
    limit: i64,
) -> StoreResult<Vec<Alarm>> {
    let mut sql = Sql::new(db.backend(), ALARM);
    sql.push(" WHERE ").scope("o.path", scope);
    match status {
        AlarmStatus::Open => {
            sql.push(" AND a.closed = 0");
        }
        AlarmStatus::Active => {
            sql.push(" AND a.closed = 0 AND a.condition = 'active'");
        }
        AlarmStatus::Unacked => {
            sql.push(" AND a.closed = 0 AND a.acked = 0");
        }
        AlarmStatus::Closed => {
            sql.push(" AND a.closed = 1");
        }
        AlarmStatus::All => {}
    }
    if let Some(s) = school_id {
        sql.push(" AND a.school_id = ").bind(s);
    }
    sql.push(
        " ORDER BY a.closed, CASE a.severity WHEN 'critical' THEN 0 WHEN 'major' THEN 1 WHEN 'minor' THEN 2 ELSE 3 END, a.id DESC LIMIT ",
    )
    .bind(limit.clamp(1, 1000));
    let (text, args) = sql.build();
    let rows: Vec<AlarmRow> = sqlx::query_as_with(text, args).fetch_all(db.pool()).await?;
    rows.into_iter().map(alarm).collect()
}

/// One alarm of a school in `scope`.
pub async fn get_alarm(db: &Db, scope: &Scope, id: i64) -> StoreResult<Alarm> {
    let mut sql = Sql::new(db.backend(), ALARM);
    sql.push(" WHERE a.id = ")
        .bind(id)
        .push(" AND ")
        .scope("o.path", scope);
    let (text, args) = sql.build();
    let row: Option<AlarmRow> = sqlx::query_as_with(text, args)
        .fetch_optional(db.pool())
        .await?;
    alarm(row.ok_or(StoreError::NotFound)?)
}

/// A stamp of the open alarms of schools in `scope`: it changes whenever one is raised,
/// counted again, cleared, acknowledged, escalated or closed (the live board watches it).
pub async fn board_stamp(db: &Db, scope: &Scope) -> StoreResult<String> {
    let mut sql = Sql::new(
        db.backend(),
        "SELECT COUNT(*), CAST(COALESCE(SUM(a.version + a.occurrences + a.level), 0) AS BIGINT), COALESCE(MAX(a.id), 0) \
         FROM alarms a JOIN orgs o ON o.id = a.school_id WHERE a.closed = 0 AND ",
    );
    sql.scope("o.path", scope);
    let (text, args) = sql.build();
    let (n, sum, max): (i64, i64, i64) =
        sqlx::query_as_with(text, args).fetch_one(db.pool()).await?;
    Ok(format!("{n}-{sum}-{max}"))
}

/// One entry of an alarm's history.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct AlarmEvent {
    pub at: Millis,
    pub action: String,
    pub actor_login: String,
    pub value: Option<f64>,
    pub note: String,
}

/// An alarm's history, oldest first.
pub async fn alarm_events(db: &Db, id: i64) -> StoreResult<Vec<AlarmEvent>> {
    Ok(sqlx::query_as(
        "SELECT at, action, actor_login, value, note FROM alarm_events WHERE alarm_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(db.pool())
    .await?)
}

/// Acknowledges alarm `id` (someone is on it): stops its reminders, kept across restarts.
pub async fn ack(db: &Db, actor: &Actor, scope: &Scope, id: i64, note: &str) -> StoreResult<Alarm> {
    let a = get_alarm(db, scope, id).await?;
    if a.closed {
        return Err(StoreError::Conflict("alarm_closed"));
    }
    if a.acked {
        return Err(StoreError::Conflict("alarm_acked"));
    }
    let now = now_millis();
    let mut tx = db.begin_write().await?;
    let n = sqlx::query(
        "UPDATE alarms SET acked = 1, acked_at = $1, acked_by = $2, version = version + 1 WHERE id = $3 AND version = $4",
    )
    .bind(now)
    .bind(actor.user_id)
    .bind(id)
    .bind(a.version)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if n != 1 {
        return Err(StoreError::Conflict("alarm_changed"));
    }
    event(&mut tx, id, "acked", &actor.login, None, note, now).await?;
    audit::append(
        &mut tx,
        actor,
        AuditEvent::ok("alarm.ack", "alarm", id, serde_json::json!({})),
    )
    .await?;
    tx.commit().await?;
    get_alarm(db, scope, id).await
}

/// Closes alarm `id` with a reason: it must be acknowledged and its condition cleared
/// (a false alarm, a drill, a test or maintenance may be closed while still active).
pub async fn close(
    db: &Db,
    actor: &Actor,
    scope: &Scope,
    id: i64,
    reason: CloseReason,
    note: &str,
) -> StoreResult<Alarm> {
    let a = get_alarm(db, scope, id).await?;
    if a.closed {
        return Err(StoreError::Conflict("alarm_closed"));
    }
    if !a.acked {
        return Err(StoreError::Conflict("alarm_not_acked"));
    }
    let may_close_active = matches!(
        reason,
        CloseReason::FalseAlarm | CloseReason::Drill | CloseReason::Test | CloseReason::Maintenance
    );
    if a.condition == Condition::Active && !may_close_active {
        return Err(StoreError::Conflict("alarm_still_active"));
    }
    let now = now_millis();
    let mut tx = db.begin_write().await?;
    let n = sqlx::query(
        "UPDATE alarms SET closed = 1, closed_at = $1, closed_by = $2, close_reason = $3, version = version + 1 \
         WHERE id = $4 AND version = $5",
    )
    .bind(now)
    .bind(actor.user_id)
    .bind(reason.code().to_string())
    .bind(id)
    .bind(a.version)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if n != 1 {
        return Err(StoreError::Conflict("alarm_changed"));
    }
    // The rule starts afresh: the next crossing raises a new alarm.
    sqlx::query("DELETE FROM rule_states WHERE device_id = $1")
        .bind(a.device_id)
        .execute(&mut *tx)
        .await?;
    event(&mut tx, id, "closed", &actor.login, None, note, now).await?;
    audit::append(
        &mut tx,
        actor,
        AuditEvent::ok(
            "alarm.close",
            "alarm",
            id,
            serde_json::json!({"reason": reason}),
        ),
    )
    .await?;
    tx.commit().await?;
    get_alarm(db, scope, id).await
}

/// Links the hazard filed for alarm `id` (once; a second link is ignored).
pub async fn link_hazard(db: &Db, id: i64, hazard_id: i64) -> StoreResult<bool> {
    let mut tx = db.begin_write().await?;
    let n = sqlx::query("UPDATE alarms SET hazard_id = $1 WHERE id = $2 AND hazard_id IS NULL")
        .bind(hazard_id)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if n == 1 {
        event(
            &mut tx,
            id,
            "hazard_linked",
            "system",
            None,
            &hazard_id.to_string(),
            now_millis(),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(n == 1)
}

/// An alarm for the hazard job, whatever the scope.
pub async fn alarm_unscoped(db: &Db, id: i64) -> StoreResult<Alarm> {
    get_alarm(db, &Scope::everything(), id).await
}
