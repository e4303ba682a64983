//! `/api/v1/hazards`: report, list, read and take hazards through their closed loop.

use super::input::{HazardIn, ListQuery, TransitionIn, action, filter, powers, transition_body};
use crate::kit::AppState;
use crate::kit::Caller;
use crate::kit::Id;
use crate::kit::error::{AppError, AppResult};
use crate::kit::{ApiJson, ApiQuery, ErrorBody};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use xiaoan_domain::Permission;
use xiaoan_domain::hazard::{Category, Escalation, Grade, Source, Status};
use xiaoan_store::hazards::{self, Event, Hazard, UserRef};

/// A person named on a hazard.
#[derive(Serialize, ToSchema)]
pub struct PersonOut {
    pub login: String,
    pub display_name: String,
}

fn person(u: Option<UserRef>) -> Option<PersonOut> {
    u.map(|u| PersonOut {
        login: u.login,
        display_name: u.display_name,
    })
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339())
        .unwrap_or_default()
}

/// A hazard. Codes are stable English; dates are `YYYY-MM-DD`, instants RFC 3339 UTC.
#[derive(Serialize, ToSchema)]
pub struct HazardOut {
    pub id: i64,
    /// `SCHOOLCODE-YEAR-SEQ`.
    pub number: String,
    pub school_id: i64,
    pub school_name: String,
    pub category: Category,
    pub grade: Grade,
    pub source: Source,
    pub location: String,
    pub title: String,
    pub description: String,
    pub status: Status,
    pub found_by: String,
    pub found_on: NaiveDate,
    pub reporter: Option<PersonOut>,
    pub owner: Option<PersonOut>,
    pub measures: String,
    pub deadline: Option<NaiveDate>,
    /// On a long-term rectification plan (整改計劃).
    pub on_plan: bool,
    pub interim_measures: String,
    pub rectifier: Option<PersonOut>,
    pub rectification_note: String,
    pub verifier: Option<PersonOut>,
    pub closed_at: Option<String>,
    /// `centre`: the centre was told; `listed`: bureau supervision (掛牌督辦).
    pub escalation: Escalation,
    pub recurrence_of: Option<i64>,
    pub overdue: bool,
    pub created_at: String,
    pub updated_at: String,
}

impl From<Hazard> for HazardOut {
    fn from(h: Hazard) -> Self {
        HazardOut {
            id: h.id,
            number: h.number,
            school_id: h.school_id,
            school_name: h.school_name,
            category: h.category,
            grade: h.grade,
            source: h.source,
            location: h.location,
            title: h.title,
            description: h.description,
            status: h.status,
            found_by: h.found_by,
            found_on: h.found_on,
            reporter: person(h.reporter),
            owner: person(h.owner),
            measures: h.measures,
            deadline: h.deadline,
            on_plan: h.on_plan,
            interim_measures: h.interim_measures,
            rectifier: person(h.rectifier),
            rectification_note: h.rectification_note,
            verifier: person(h.verifier),
            closed_at: h.closed_at.map(rfc3339),
            escalation: h.escalation,
            recurrence_of: h.recurrence_of,
            overdue: h.overdue,
            created_at: rfc3339(h.created_at),
            updated_at: rfc3339(h.updated_at),
        }
    }
}

/// A photo on a step.
#[derive(Serialize, ToSchema)]
pub struct EventAttachmentOut {
    pub id: i64,
    /// The same bytes were already used on another step.
    pub reused: bool,
}

/// One step of the history.
#[derive(Serialize, ToSchema)]
pub struct EventOut {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub from_status: Option<Status>,
    pub to_status: Status,
    pub note: String,
    pub attachments: Vec<EventAttachmentOut>,
}

impl From<Event> for EventOut {
    fn from(e: Event) -> Self {
        EventOut {
            at: rfc3339(e.at),
            actor: e.actor_login,
            action: e.action,
            from_status: e.from_status,
            to_status: e.to_status,
            note: e.note,
            attachments: e
                .attachments
                .into_iter()
                .map(|a| EventAttachmentOut {
                    id: a.id,
                    reused: a.reused,
                })
                .collect(),
        }
    }
}

/// A hazard with its history.
#[derive(Serialize, ToSchema)]
pub struct HazardDetail {
    #[serde(flatten)]
    pub hazard: HazardOut,
    pub history: Vec<EventOut>,
}

/// A newly reported hazard, with open hazards at the same place that may be the same.
#[derive(Serialize, ToSchema)]
pub struct CreatedOut {
    #[serde(flatten)]
    pub hazard: HazardOut,
    pub possible_duplicates: Vec<i64>,
}

/// Reports a hazard at a school in the caller's scope.
#[utoipa::path(post, path = "/api/v1/hazards", tag = "hazards", request_body = HazardIn, security(("bearer" = [])),
    responses((status = 201, body = CreatedOut), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn create(
    State(st): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<HazardIn>,
) -> AppResult<(StatusCode, Json<CreatedOut>)> {
    let c = super::report(&st, &caller, body).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedOut {
            hazard: c.hazard.into(),
            possible_duplicates: c.possible_duplicates,
        }),
    ))
}

/// A page of hazards.
#[derive(Serialize, ToSchema)]
pub struct HazardPageOut {
    pub items: Vec<HazardOut>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// The hazards in the caller's scope, newest first, with keyset pagination.
#[utoipa::path(get, path = "/api/v1/hazards", tag = "hazards", params(ListQuery), security(("bearer" = [])),
    responses((status = 200, body = HazardPageOut), (status = 400, body = ErrorBody)))]
pub async fn list(
    State(st): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> AppResult<Json<HazardPageOut>> {
    let f = filter(&st, &caller, &q).await?;
    let page = hazards::list(
        &st.db,
        &caller.scope(Permission::HazardRead),
        &f,
        q.cursor.as_deref(),
        q.limit.unwrap_or(50),
        st.config.today(),
    )
    .await?;
    Ok(Json(HazardPageOut {
        items: page.items.into_iter().map(Into::into).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Counts per status for the same filters (status ignored).
#[derive(Serialize, ToSchema)]
pub struct CountsOut {
    /// Status code → count.
    pub by_status: std::collections::BTreeMap<String, i64>,
    pub overdue: i64,
    /// Open hazards listed for bureau supervision.
    pub listed: i64,
}

/// How many hazards are in each state, overdue and listed.
#[utoipa::path(get, path = "/api/v1/hazards/counts", tag = "hazards", params(ListQuery), security(("bearer" = [])),
    responses((status = 200, body = CountsOut), (status = 400, body = ErrorBody)))]
pub async fn counts(
    State(st): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> AppResult<Json<CountsOut>> {
    let f = filter(&st, &caller, &q).await?;
    let c = hazards::counts(
        &st.db,
        &caller.scope(Permission::HazardRead),
        &f,
        st.config.today(),
    )
    .await?;
    Ok(Json(CountsOut {
        by_status: c
            .by_status
            .into_iter()
            .map(|(s, n)| (s.code().to_string(), n))
            .collect(),
        overdue: c.overdue,
        listed: c.listed,
    }))
}

/// One hazard with its history (404 outside the caller's scope).
#[utoipa::path(get, path = "/api/v1/hazards/{id}", tag = "hazards", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = HazardDetail), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> AppResult<Json<HazardDetail>> {
    let h = hazards::get(
        &st.db,
        &caller.scope(Permission::HazardRead),
        id,
        st.config.today(),
    )
    .await?;
    let history = hazards::history(&st.db, &h).await?;
    Ok(Json(HazardDetail {
        hazard: h.into(),
        history: history.into_iter().map(Into::into).collect(),
    }))
}

/// Takes one step of the closed loop: 409 `illegal_transition` when the step does not apply
/// in the hazard's state, 403 when the caller may not take it (e.g. verifying their own
/// rectification).
#[utoipa::path(post, path = "/api/v1/hazards/{id}/transitions", tag = "hazards", params(("id" = i64, Path)),
    request_body = TransitionIn, security(("bearer" = [])),
    responses((status = 200, body = HazardOut), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn transition(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> AppResult<Json<HazardOut>> {
    let action = action(&st, &caller, transition_body(body)?).await?;
    let h = hazards::transition(
        &st.db,
        &caller.actor(),
        &powers(&caller),
        &caller.scope(Permission::HazardRead),
        id,
        action,
        st.config.today(),
    )
    .await?;
    Ok(Json(h.into()))
}

/// Which list to export, and for which org.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    /// `problems` (every hazard found) or `rectifications` (registered hazards).
    pub list: String,
    /// A school, a centre or the bureau; default: everything in the caller's scope.
    pub org_id: Option<i64>,
}

/// The problem list or the rectification list (兩個清單) as an xlsx file.
#[utoipa::path(get, path = "/api/v1/hazards/export.xlsx", tag = "hazards", params(ExportQuery), security(("bearer" = [])),
    responses((status = 200, description = "the xlsx file", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (status = 400, body = ErrorBody)))]
pub async fn export(
    State(st): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ExportQuery>,
) -> AppResult<axum::response::Response> {
    let kind = crate::hazards::export::ListKind::parse(&q.list)
        .ok_or_else(|| AppError::invalid("hazard_list"))?;
    crate::hazards::export::xlsx(&st, &caller, kind, q.org_id).await
}
