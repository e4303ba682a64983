//! The alarm pages: the board and one alarm, acknowledged and closed from a phone; the
//! local time shared by the monitoring pages.

use super::input;
use crate::kit::error::AppResult;
use crate::kit::page::{Layout, Refused, refuse, render, take_refused};
use crate::kit::widgets::Choice;
use crate::kit::{AppState, Caller, Id};
use askama::Template;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;
use serde::Deserialize;
use tower_sessions::Session;
use xiaoan_domain::Permission;
use xiaoan_domain::code::Code;
use xiaoan_domain::iot::CloseReason;
use xiaoan_domain::now_millis;
use xiaoan_store::iot::{self, Alarm};

pub(super) fn when(st: &AppState, at: Option<i64>) -> String {
    at.and_then(|a| st.config.district.local(a))
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| "—".to_string())
}

/// An alarm as a line of the board.
struct AlarmLine {
    a: Alarm,
    kind: String,
    severity: String,
    condition: String,
    raised: String,
    last_seen: String,
    may_ack: bool,
    /// Its notifications are held by a silence.
    silenced: bool,
    /// How far up it went, in words.
    level: String,
}

fn line(st: &AppState, caller: &Caller, a: Alarm) -> AlarmLine {
    let l = caller.lang;
    AlarmLine {
        kind: l.t(&format!("iot.alarm.{}", a.alarm_type.code())),
        severity: l.t(&format!("iot.severity.{}", a.severity.code())),
        condition: l.t(&format!("iot.condition.{}", a.condition.code())),
        raised: when(st, Some(a.raised_at)),
        last_seen: when(st, Some(a.last_seen_at)),
        may_ack: !a.closed
            && !a.acked
            && caller.scope(Permission::AlarmAct).contains(&a.school_path),
        silenced: !a.closed && a.silenced_until.is_some_and(|u| u > now_millis()),
        level: if a.level > 0 {
            l.t(&format!("iot.level.{}", a.level.min(2)))
        } else {
            String::new()
        },
        a,
    }
}

#[derive(Template)]
#[template(path = "iot/alarms.html")]
struct BoardPage {
    l: Layout,
    lines: Vec<AlarmLine>,
    statuses: Vec<Choice>,
    error: Option<String>,
}

/// The board's filter.
#[derive(Deserialize)]
pub struct BoardQuery {
    #[serde(default)]
    status: String,
}

/// `GET /alarms`: the open alarms, most urgent first.
#[tracing::instrument(skip_all)]
pub async fn board(
    State(st): State<AppState>,
    caller: Caller,
    session: Session,
    Query(q): Query<BoardQuery>,
) -> AppResult<Response> {
    let refused = take_refused(&session, "/alarms").await;
    let status = input::status(Some(&q.status))?;
    let alarms = iot::list_alarms(
        &st.db,
        &caller.scope(Permission::AlarmRead),
        status,
        None,
        300,
    )
    .await?;
    let statuses = ["open", "active", "unacked", "closed", "all"]
        .iter()
        .map(|s| Choice {
            value: (*s).to_string(),
            label: caller.lang.t(&format!("iot.status.{s}")),
            selected: *s == q.status.trim() || (q.status.trim().is_empty() && *s == "open"),
        })
        .collect();
    Ok(render(&BoardPage {
        l: Layout::new(&caller, "iot.alarms", "/alarms"),
        lines: alarms.into_iter().map(|a| line(&st, &caller, a)).collect(),
        statuses,
        error: refused.map(|r| r.error),
    }))
}

struct EventLine {
    at: String,
    action: String,
    who: String,
    value: String,
    note: String,
}

#[derive(Template)]
#[template(path = "iot/alarm.html")]
struct AlarmPage {
    l: Layout,
    x: AlarmLine,
    history: Vec<EventLine>,
    reasons: Vec<Choice>,
    may_close: bool,
    /// The caller may open the device's page.
    may_see_device: bool,
    error: Option<String>,
    note: String,
}

/// `GET /alarms/{id}`.
#[tracing::instrument(skip_all)]
pub async fn alarm(
    State(st): State<AppState>,
    caller: Caller,
    session: Session,
    Id(id): Id,
) -> AppResult<Response> {
    let path = format!("/alarms/{id}");
    let refused = take_refused(&session, &path).await;
    let a = iot::get_alarm(&st.db, &caller.scope(Permission::AlarmRead), id).await?;
    let l = caller.lang;
    let history = iot::alarm_events(&st.db, id)
        .await?
        .into_iter()
        .map(|e| EventLine {
            at: when(&st, Some(e.at)),
            action: l.t(&format!("iot.step.{}", e.action)),
            who: if e.actor_login == "device" || e.actor_login == "system" {
                l.t(&format!("iot.by.{}", e.actor_login))
            } else {
                e.actor_login
            },
            value: e.value.map(|v| format!("{v}")).unwrap_or_default(),
            note: e.note,
        })
        .collect();
    let reasons = CloseReason::ALL
        .iter()
        .map(|r| Choice {
            value: r.code().to_string(),
            label: l.t(&format!("iot.reason.{}", r.code())),
            selected: false,
        })
        .collect();
    let may_close = !a.closed && caller.scope(Permission::AlarmAct).contains(&a.school_path);
    Ok(render(&AlarmPage {
        l: Layout::new(&caller, "iot.alarm", "/alarms"),
        x: line(&st, &caller, a),
        history,
        reasons,
        may_close,
        may_see_device: caller.can(Permission::DeviceRead),
        error: refused.as_ref().map(|r| r.error.clone()),
        note: refused
            .and_then(|r| r.fields.get("note").cloned())
            .unwrap_or_default(),
    }))
}

/// The fields of an acknowledgement or a closing.
#[derive(Debug, Default, Deserialize)]
pub struct StepForm {
    #[serde(default)]
    reason: String,
    #[serde(default)]
    note: String,
    /// Where to go back to: `board` for the board, else the alarm.
    #[serde(default)]
    back: String,
}

async fn step_done(
    caller: &Caller,
    session: &Session,
    id: i64,
    f: &StepForm,
    r: AppResult<Alarm>,
) -> AppResult<Response> {
    let (path, to) = if f.back == "board" {
        ("/alarms".to_string(), "/alarms".to_string())
    } else {
        (format!("/alarms/{id}"), format!("/alarms/{id}"))
    };
    match r {
        Ok(_) => Ok(Redirect::to(&to).into_response()),
        Err(e) if e.status.is_client_error() && e.status != axum::http::StatusCode::NOT_FOUND => {
            let mut refused = Refused {
                path: path.clone(),
                error: e.message(caller.lang),
                ..Refused::default()
            };
            refused.fields.insert("note".into(), f.note.clone());
            Ok(refuse(session, &to, refused).await)
        }
        Err(e) => Err(e),
    }
}

/// `POST /alarms/{id}/ack`.
#[tracing::instrument(skip_all)]
pub async fn ack(
    State(st): State<AppState>,
    caller: Caller,
    session: Session,
    Id(id): Id,
    Form(f): Form<StepForm>,
) -> AppResult<Response> {
    let r = input::ack(&st, &caller, id, &f.note).await;
    step_done(&caller, &session, id, &f, r).await
}

/// `POST /alarms/{id}/close`.
#[tracing::instrument(skip_all)]
pub async fn close(
    State(st): State<AppState>,
    caller: Caller,
    session: Session,
    Id(id): Id,
    Form(f): Form<StepForm>,
) -> AppResult<Response> {
    let r = async {
        let reason = crate::kit::extract::parse_code::<CloseReason>(&f.reason)?;
        input::close(&st, &caller, id, reason, &f.note).await
    }
    .await;
    step_done(&caller, &session, id, &f, r).await
}
