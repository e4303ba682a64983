//! Silences: maintenance, drill and test windows at a school (or for one device) in which
//! alarms are recorded and shown but their notifications wait. `GET|POST /api/v1/silences`,
//! `POST /api/v1/silences/{id}/end`, and the page `/alarms/silences`.

use crate::kit::error::{AppError, AppResult};
use crate::kit::page::{Layout, form_outcome, refuse_step, render, take_refused};
use crate::kit::widgets::Choice;
use crate::kit::{ApiJson, ApiQuery, AppState, Caller, ErrorBody, Id};
use askama::Template;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;
use serde::{Deserialize, Serialize};
use tower_sessions::Session;
use utoipa::{IntoParams, ToSchema};
use xiaoan_domain::Permission;
use xiaoan_domain::code::Code;
use xiaoan_domain::iot::SilenceReason;
use xiaoan_store::iot::{self, NewSilence, Silence};

/// Which silences.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SilenceQuery {
    pub school_id: Option<i64>,
    /// Those already over (the last 200) instead of the current and coming ones.
    pub past: Option<bool>,
}

/// Silences of schools in the caller's scope that have not ended, soonest first.
#[utoipa::path(get, path = "/api/v1/silences", tag = "monitoring", params(SilenceQuery), security(("bearer" = [])),
    responses((status = 200, body = Vec<Object>), (status = 400, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn list(
    State(st): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<SilenceQuery>,
) -> AppResult<Json<Vec<Silence>>> {
    Ok(Json(
        iot::list_silences(
            &st.db,
            &caller.scope(Permission::AlarmRead),
            q.school_id,
            q.past.unwrap_or(false),
        )
        .await?,
    ))
}

/// A silence to create.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SilenceIn {
    pub school_id: i64,
    /// One device of the school; absent: all of them.
    pub device_id: Option<i64>,
    /// `maintenance`, `drill` or `test`.
    pub reason: SilenceReason,
    #[serde(default)]
    pub note: String,
    /// Milliseconds since the epoch; absent: now.
    pub starts_at: Option<i64>,
    /// Milliseconds since the epoch; at most a week after the start.
    pub ends_at: i64,
}

async fn create_as(st: &AppState, caller: &Caller, b: SilenceIn) -> AppResult<Silence> {
    let new = NewSilence {
        school_id: b.school_id,
        device_id: b.device_id,
        reason: b.reason,
        note: b.note,
        starts_at: b.starts_at.unwrap_or_else(xiaoan_domain::now_millis),
        ends_at: b.ends_at,
    };
    Ok(iot::create_silence(
        &st.db,
        &caller.actor(),
        &caller.scope(Permission::AlarmAct),
        &new,
    )
    .await?)
}

/// Silences a school (or one device) for a window: alarms then are recorded and shown,
/// their notifications wait for its end.
#[utoipa::path(post, path = "/api/v1/silences", tag = "monitoring", request_body = SilenceIn, security(("bearer" = [])),
    responses((status = 201, body = Object), (status = 400, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn create(
    State(st): State<AppState>,
    caller: Caller,
    ApiJson(b): ApiJson<SilenceIn>,
) -> AppResult<(StatusCode, Json<Silence>)> {
    Ok((StatusCode::CREATED, Json(create_as(&st, &caller, b).await?)))
}

/// Ends a silence now; the notifications it held go out with the next round.
#[utoipa::path(post, path = "/api/v1/silences/{id}/end", tag = "monitoring", params(("id" = i64, Path)),
    security(("bearer" = [])), responses((status = 200, body = Object), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn end(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> AppResult<Json<Silence>> {
    Ok(Json(
        iot::end_silence(
            &st.db,
            &caller.actor(),
            &caller.scope(Permission::AlarmAct),
            id,
        )
        .await?,
    ))
}

/// A silence as a line of the page.
struct SilenceLine {
    s: Silence,
    reason: String,
    starts: String,
    ends: String,
    current: bool,
    may_end: bool,
}

#[derive(Template)]
#[template(path = "iot/silences.html")]
struct SilencesPage {
    l: Layout,
    lines: Vec<SilenceLine>,
    past: Vec<SilenceLine>,
    schools: Vec<Choice>,
    reasons: Vec<Choice>,
    f: SilenceForm,
    may_create: bool,
    error: Option<String>,
}

/// The page's form: times as the browser's local date-time fields give them.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct SilenceForm {
    #[serde(default)]
    school_id: String,
    #[serde(default)]
    device_code: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    starts: String,
    #[serde(default)]
    ends: String,
    #[serde(default)]
    note: String,
}

fn lines(st: &AppState, caller: &Caller, list: Vec<Silence>) -> Vec<SilenceLine> {
    let now = xiaoan_domain::now_millis();
    let act = caller.scope(Permission::AlarmAct);
    list.into_iter()
        .map(|s| SilenceLine {
            reason: caller.lang.t(&format!("iot.silence.reason.{}", s.reason)),
            starts: super::pages::when(st, Some(s.starts_at)),
            ends: super::pages::when(st, Some(s.ends_at)),
            current: s.starts_at <= now && s.ends_at > now,
            may_end: s.ends_at > now && act.contains(&s.school_path),
            s,
        })
        .collect()
}

/// `GET /alarms/silences`.
#[tracing::instrument(skip_all)]
pub async fn page(
    State(st): State<AppState>,
    caller: Caller,
    session: Session,
) -> AppResult<Response> {
    let refused = take_refused(&session, "/alarms/silences").await;
    let f = refused
        .as_ref()
        .and_then(|r| r.form::<SilenceForm>())
        .unwrap_or_default();
    let scope = caller.scope(Permission::AlarmRead);
    let current = iot::list_silences(&st.db, &scope, None, false).await?;
    let past = iot::list_silences(&st.db, &scope, None, true).await?;
    let may_create = caller.can(Permission::AlarmAct);
    let schools = if may_create {
        crate::kit::widgets::school_choices(
            &st.db,
            &caller.scope(Permission::AlarmAct),
            &f.school_id,
        )
        .await?
    } else {
        vec![]
    };
    let reasons = SilenceReason::ALL
        .iter()
        .map(|r| Choice {
            value: r.code().to_string(),
            label: caller.lang.t(&format!("iot.silence.reason.{}", r.code())),
            selected: r.code() == f.reason,
        })
        .collect();
    Ok(render(&SilencesPage {
        l: Layout::new(&caller, "iot.silences", "/alarms"),
        lines: lines(&st, &caller, current),
        past: lines(&st, &caller, past.into_iter().take(20).collect()),
        schools,
        reasons,
        f,
        may_create,
        error: refused.map(|r| r.error),
    }))
}

/// A local date-time field (`2026-12-04T08:30`) in the district's time, as milliseconds.
fn local_time(st: &AppState, raw: &str, code: &'static str) -> AppResult<i64> {
    let t = chrono::NaiveDateTime::parse_from_str(raw.trim(), "%Y-%m-%dT%H:%M")
        .map_err(|_| AppError::invalid(code))?;
    t.and_local_timezone(st.config.district.offset())
        .single()
        .map(|t| t.timestamp_millis())
        .ok_or_else(|| AppError::invalid(code))
}

/// `POST /alarms/silences`.
#[tracing::instrument(skip_all)]
pub async fn create_page(
    State(st): State<AppState>,
    caller: Caller,
    session: Session,
    Form(f): Form<SilenceForm>,
) -> AppResult<Response> {
    let r = async {
        let school_id: i64 = f
            .school_id
            .trim()
            .parse()
            .map_err(|_| AppError::invalid("silence_school"))?;
        let device_id = match f.device_code.trim() {
            "" => None,
            code => {
                let devices = iot::list(
                    &st.db,
                    &caller.scope(Permission::AlarmAct),
                    Some(school_id),
                    false,
                )
                .await?;
                Some(
                    devices
                        .into_iter()
                        .find(|d| d.code == code)
                        .ok_or_else(|| AppError::invalid("silence_device"))?
                        .id,
                )
            }
        };
        let starts_at = if f.starts.trim().is_empty() {
            None
        } else {
            Some(local_time(&st, &f.starts, "silence_window")?)
        };
        let body = SilenceIn {
            school_id,
            device_id,
            reason: crate::kit::extract::parse_code::<SilenceReason>(&f.reason)?,
            note: f.note.clone(),
            starts_at,
            ends_at: local_time(&st, &f.ends, "silence_window")?,
        };
        create_as(&st, &caller, body).await.map(|_| ())
    }
    .await;
    let page = "/alarms/silences";
    form_outcome(&session, page, page, caller.lang, &f, r).await
}

/// `POST /alarms/silences/{id}/end`.
#[tracing::instrument(skip_all)]
pub async fn end_page(
    State(st): State<AppState>,
    caller: Caller,
    session: Session,
    Id(id): Id,
) -> AppResult<Response> {
    match iot::end_silence(
        &st.db,
        &caller.actor(),
        &caller.scope(Permission::AlarmAct),
        id,
    )
    .await
    {
        Ok(_) => Ok(Redirect::to("/alarms/silences").into_response()),
        Err(
            e @ (xiaoan_store::StoreError::Conflict(_) | xiaoan_store::StoreError::Forbidden(_)),
        ) => {
            let error = AppError::from(e).message(caller.lang);
            Ok(refuse_step(&session, "/alarms/silences", error).await)
        }
        Err(e) => Err(e.into()),
    }
}
