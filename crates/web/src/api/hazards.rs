//! `/api/v1/hazards`: report, list, read and take hazards through their closed loop.

use super::{ApiJson, ApiQuery, ErrorBody};
use crate::AppState;
use crate::auth::Caller;
use crate::error::{AppError, AppResult, StoreCtx};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use xiaoan_domain::Permission;
use xiaoan_domain::hazard::{Action, Category, Escalation, Grade, Source, Status};
use xiaoan_store::hazards::{self, Event, Hazard, HazardFilter, NewHazard, Powers, UserRef};

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
    /// `security`, `buildings`, `teaching_facilities`, `fire_heating`, `canteen_food`,
    /// `traffic_bus`, `lab_chemicals`, `surroundings`, `other`.
    pub category: String,
    /// `general` or `major`.
    pub grade: String,
    pub source: String,
    pub location: String,
    pub title: String,
    pub description: String,
    /// `reported`, `registered`, `rectifying`, `submitted`, `closed`, `dismissed`.
    pub status: String,
    pub found_by: String,
    pub found_on: String,
    pub reporter: Option<PersonOut>,
    pub owner: Option<PersonOut>,
    pub measures: String,
    pub deadline: Option<String>,
    /// On a long-term rectification plan (整改計劃).
    pub on_plan: bool,
    pub interim_measures: String,
    pub rectifier: Option<PersonOut>,
    pub rectification_note: String,
    pub verifier: Option<PersonOut>,
    pub closed_at: Option<String>,
    /// `none`, `centre` (the centre was told) or `listed` (bureau supervision, 掛牌督辦).
    pub escalation: String,
    pub recurrence_of: Option<i64>,
    pub overdue: bool,
    pub created_at: String,
    pub updated_at: String,
}

/// The escalation code of a level.
pub fn escalation_code(level: Escalation) -> &'static str {
    level.code()
}

impl From<Hazard> for HazardOut {
    fn from(h: Hazard) -> Self {
        HazardOut {
            id: h.id,
            number: h.number,
            school_id: h.school_id,
            school_name: h.school_name,
            category: h.category.code().into(),
            grade: h.grade.code().into(),
            source: h.source.code().into(),
            location: h.location,
            title: h.title,
            description: h.description,
            status: h.status.code().into(),
            found_by: h.found_by,
            found_on: h.found_on.to_string(),
            reporter: person(h.reporter),
            owner: person(h.owner),
            measures: h.measures,
            deadline: h.deadline.map(|d| d.to_string()),
            on_plan: h.on_plan,
            interim_measures: h.interim_measures,
            rectifier: person(h.rectifier),
            rectification_note: h.rectification_note,
            verifier: person(h.verifier),
            closed_at: h.closed_at.map(rfc3339),
            escalation: escalation_code(h.escalation).into(),
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
    pub from_status: Option<String>,
    pub to_status: String,
    pub note: String,
    pub attachments: Vec<EventAttachmentOut>,
}

impl From<Event> for EventOut {
    fn from(e: Event) -> Self {
        EventOut {
            at: rfc3339(e.at),
            actor: e.actor_login,
            action: e.action,
            from_status: e.from_status.map(|s| s.code().into()),
            to_status: e.to_status.code().into(),
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

/// A hazard to report.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HazardIn {
    pub school_id: i64,
    pub category: String,
    #[serde(default = "general")]
    pub grade: String,
    #[serde(default = "self_inspection")]
    pub source: String,
    pub location: String,
    pub title: String,
    pub description: String,
    /// Who found it; defaults to the reporter's name.
    pub found_by: Option<String>,
    /// `YYYY-MM-DD`; defaults to today.
    pub found_on: Option<String>,
    /// Ids of photos uploaded with `POST /api/v1/attachments`.
    #[serde(default)]
    pub attachments: Vec<i64>,
}

fn general() -> String {
    "general".into()
}

fn self_inspection() -> String {
    "self_inspection".into()
}

/// Parses a `YYYY-MM-DD` date or answers 400 with `code`.
pub fn parse_date(s: &str, code: &'static str, caller: &Caller) -> AppResult<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| AppError::invalid(code, caller.lang, caller.surface))
}

/// Turns a report into the store's input (shared with the page form).
pub fn new_hazard(st: &AppState, caller: &Caller, body: HazardIn) -> AppResult<NewHazard> {
    let (l, s) = (caller.lang, caller.surface);
    Ok(NewHazard {
        school_id: body.school_id,
        category: Category::from_code(&body.category)
            .ok_or_else(|| AppError::invalid("hazard_category", l, s))?,
        grade: Grade::from_code(&body.grade)
            .ok_or_else(|| AppError::invalid("hazard_grade", l, s))?,
        source: Source::from_code(&body.source)
            .ok_or_else(|| AppError::invalid("hazard_source", l, s))?,
        location: body.location,
        title: body.title,
        description: body.description,
        found_by: body
            .found_by
            .filter(|f| !f.trim().is_empty())
            .unwrap_or_else(|| caller.user.display_name.clone()),
        found_on: match body.found_on.as_deref().filter(|d| !d.trim().is_empty()) {
            Some(d) => parse_date(d, "found_on_format", caller)?,
            None => st.config.today(),
        },
        attachments: body.attachments,
    })
}

/// Reports a hazard at a school in the caller's scope.
#[utoipa::path(post, path = "/api/v1/hazards", tag = "hazards", request_body = HazardIn, security(("bearer" = [])),
    responses((status = 201, body = CreatedOut), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn create(
    State(st): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<HazardIn>,
) -> AppResult<(StatusCode, Json<CreatedOut>)> {
    let new = new_hazard(&st, &caller, body)?;
    let c = hazards::create(
        &st.db,
        &caller.actor(),
        caller.user.id,
        &caller.scope,
        new,
        st.config.today(),
    )
    .await
    .ctx(caller.lang, caller.surface)?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedOut {
            hazard: c.hazard.into(),
            possible_duplicates: c.possible_duplicates,
        }),
    ))
}

/// Filters of the hazard list.
#[derive(Deserialize, IntoParams, Default)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub status: Option<String>,
    pub category: Option<String>,
    pub grade: Option<String>,
    pub source: Option<String>,
    pub school_id: Option<i64>,
    /// A centre (or any org): hazards of the schools under it.
    pub centre_id: Option<i64>,
    pub overdue: Option<bool>,
    pub on_plan: Option<bool>,
    /// Only open hazards.
    pub open: Option<bool>,
    /// `centre` or `listed`: at least this escalation.
    pub escalation: Option<String>,
    /// Found on or after (`YYYY-MM-DD`).
    pub from: Option<String>,
    /// Found on or before (`YYYY-MM-DD`).
    pub to: Option<String>,
    /// Text in the number, title, location or description.
    pub q: Option<String>,
    pub cursor: Option<String>,
    /// 1–200, default 50.
    pub limit: Option<i64>,
}

/// Turns list parameters into a store filter (shared with the pages and exports).
pub async fn filter(st: &AppState, caller: &Caller, q: &ListQuery) -> AppResult<HazardFilter> {
    let (l, s) = (caller.lang, caller.surface);
    fn code<T>(
        v: Option<&str>,
        parse: fn(&str) -> Option<T>,
        err: &'static str,
        c: &Caller,
    ) -> AppResult<Option<T>> {
        match v.filter(|v| !v.is_empty()) {
            Some(v) => parse(v)
                .map(Some)
                .ok_or_else(|| AppError::invalid(err, c.lang, c.surface)),
            None => Ok(None),
        }
    }
    let under_path = match q.centre_id {
        Some(id) => Some(
            xiaoan_store::orgs::get(&st.db, &caller.scope_for(Permission::HazardRead), id)
                .await
                .map_err(|_| AppError::invalid("org_unknown", l, s))?
                .path,
        ),
        None => None,
    };
    Ok(HazardFilter {
        status: code(
            q.status.as_deref(),
            Status::from_code,
            "hazard_status",
            caller,
        )?,
        open: q.open.unwrap_or(false),
        category: code(
            q.category.as_deref(),
            Category::from_code,
            "hazard_category",
            caller,
        )?,
        grade: code(q.grade.as_deref(), Grade::from_code, "hazard_grade", caller)?,
        source: code(
            q.source.as_deref(),
            Source::from_code,
            "hazard_source",
            caller,
        )?,
        overdue: q.overdue,
        on_plan: q.on_plan,
        escalation_at_least: match q.escalation.as_deref().filter(|e| !e.is_empty()) {
            Some("centre") => Some(Escalation::Centre),
            Some("listed") => Some(Escalation::Listed),
            Some(_) => return Err(AppError::invalid("hazard_escalation", l, s)),
            None => None,
        },
        school_id: q.school_id,
        under_path,
        found_from: q
            .from
            .as_deref()
            .filter(|d| !d.is_empty())
            .map(|d| parse_date(d, "date_format", caller))
            .transpose()?,
        found_to: q
            .to
            .as_deref()
            .filter(|d| !d.is_empty())
            .map(|d| parse_date(d, "date_format", caller))
            .transpose()?,
        q: q.q.clone(),
        ..HazardFilter::default()
    })
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
        &caller.scope,
        &f,
        q.cursor.as_deref(),
        q.limit.unwrap_or(50),
        st.config.today(),
    )
    .await
    .ctx(caller.lang, caller.surface)?;
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
    let c = hazards::counts(&st.db, &caller.scope, &f, st.config.today())
        .await
        .ctx(caller.lang, caller.surface)?;
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
    Path(id): Path<String>,
) -> AppResult<Json<HazardDetail>> {
    let id = super::parse_id(&id, &caller)?;
    let h = hazards::get(&st.db, &caller.scope, id, st.config.today())
        .await
        .ctx(caller.lang, caller.surface)?;
    let history = hazards::history(&st.db, &h)
        .await
        .ctx(caller.lang, caller.surface)?;
    Ok(Json(HazardDetail {
        hazard: h.into(),
        history: history.into_iter().map(Into::into).collect(),
    }))
}

/// A step of the closed loop. Which fields are needed depends on `action`:
/// `register` (owner login, measures, deadline, optional grade), `start`, `submit` (note,
/// attachments), `verify` (optional note), `send_back` (reason), `dismiss` (reason),
/// `plan` (interim_measures, deadline), `reopen` (reason).
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct TransitionIn {
    pub action: String,
    pub owner: Option<String>,
    pub measures: Option<String>,
    pub deadline: Option<String>,
    pub grade: Option<String>,
    pub note: Option<String>,
    #[serde(default)]
    pub attachments: Vec<i64>,
    pub reason: Option<String>,
    pub interim_measures: Option<String>,
}

/// Turns a step request into a domain action (shared with the page forms).
pub async fn action(st: &AppState, caller: &Caller, t: TransitionIn) -> AppResult<Action> {
    let (l, s) = (caller.lang, caller.surface);
    let need = |v: Option<String>, code: &'static str| {
        v.filter(|v| !v.trim().is_empty())
            .ok_or_else(|| AppError::invalid(code, l, s))
    };
    Ok(match t.action.as_str() {
        "register" => {
            let login = need(t.owner, "owner_required")?;
            let owner_id = xiaoan_store::users::id_by_login(&st.db, &login)
                .await
                .ctx(l, s)?
                .ok_or_else(|| AppError::invalid("owner_not_at_school", l, s))?;
            Action::Register {
                owner_id,
                measures: need(t.measures, "measures_required")?,
                deadline: parse_date(
                    &need(t.deadline, "deadline_required")?,
                    "date_format",
                    caller,
                )?,
                grade: match t.grade.as_deref().filter(|g| !g.is_empty()) {
                    Some(g) => Some(
                        Grade::from_code(g)
                            .ok_or_else(|| AppError::invalid("hazard_grade", l, s))?,
                    ),
                    None => None,
                },
            }
        }
        "start" => Action::Start,
        "submit" => Action::Submit {
            note: need(t.note, "note_required")?,
            attachments: t.attachments,
        },
        "verify" => Action::Verify {
            note: t.note.unwrap_or_default(),
        },
        "send_back" => Action::SendBack {
            reason: need(t.reason, "reason_required")?,
        },
        "dismiss" => Action::Dismiss {
            reason: need(t.reason, "reason_required")?,
        },
        "plan" => Action::Plan {
            interim_measures: need(t.interim_measures, "interim_required")?,
            deadline: parse_date(
                &need(t.deadline, "deadline_required")?,
                "date_format",
                caller,
            )?,
        },
        "reopen" => Action::Reopen {
            reason: need(t.reason, "reason_required")?,
        },
        _ => return Err(AppError::invalid("hazard_action", l, s)),
    })
}

/// The caller's powers over hazards.
pub fn powers(caller: &Caller) -> Powers {
    Powers {
        user_id: caller.user.id,
        manage: caller.scope_for(Permission::HazardManage),
        verify: caller.scope_for(Permission::HazardVerify),
    }
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
    Path(id): Path<String>,
    ApiJson(body): ApiJson<TransitionIn>,
) -> AppResult<Json<HazardOut>> {
    let id = super::parse_id(&id, &caller)?;
    let action = action(&st, &caller, body).await?;
    let h = hazards::transition(
        &st.db,
        &caller.actor(),
        &powers(&caller),
        &caller.scope,
        id,
        action,
        st.config.today(),
    )
    .await
    .ctx(caller.lang, caller.surface)?;
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
    let kind = crate::exports::ListKind::parse(&q.list)
        .ok_or_else(|| AppError::invalid("hazard_list", caller.lang, caller.surface))?;
    crate::exports::xlsx(&st, &caller, kind, q.org_id).await
}
