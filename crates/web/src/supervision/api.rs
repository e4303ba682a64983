//! `/api/v1/supervision`: issue, list, read, respond, accept, return.

use super::input::{self, Issue};
use crate::kit::error::AppResult;
use crate::kit::extract::parse_code;
use crate::kit::{ApiJson, ApiQuery, AppState, Caller, ErrorBody, Id};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use xiaoan_domain::supervision::{Rung, State as ItemState, Step};
use xiaoan_domain::{Millis, Permission};
use xiaoan_store::supervision::{self, Filter, Item, ItemEvent};

/// A supervision item.
#[derive(Serialize, ToSchema)]
pub struct ItemOut {
    pub id: i64,
    pub number: String,
    pub school_id: i64,
    pub school_name: String,
    pub issuer_org_id: i64,
    pub issuer_name: String,
    /// `reminder`, `notice`, `warning`, `interview` or `accountability`.
    pub rung: String,
    pub subject: String,
    /// The letter's text.
    pub body: String,
    pub hazard_id: Option<i64>,
    #[schema(value_type = String, format = Date)]
    pub deadline: NaiveDate,
    /// `open`, `responded`, `accepted`, `returned` or `escalated`.
    pub state: String,
    /// The item this one replaced when that was not answered in time.
    pub escalated_from: Option<i64>,
    pub overdue: bool,
    pub created_at: Millis,
    pub updated_at: Millis,
}

impl From<Item> for ItemOut {
    fn from(i: Item) -> Self {
        ItemOut {
            id: i.id,
            number: i.number,
            school_id: i.school_id,
            school_name: i.school_name,
            issuer_org_id: i.issuer_org_id,
            issuer_name: i.issuer_name,
            rung: i.rung.code().to_string(),
            subject: i.subject,
            body: i.body,
            hazard_id: i.hazard_id,
            deadline: i.deadline,
            state: i.state.code().to_string(),
            escalated_from: i.escalated_from,
            overdue: i.overdue,
            created_at: i.created_at,
            updated_at: i.updated_at,
        }
    }
}

/// Filters of the list.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub school_id: Option<i64>,
    pub state: Option<String>,
    pub rung: Option<String>,
    pub limit: Option<i64>,
}

/// Items of the schools in the caller's scope, newest first.
#[utoipa::path(get, path = "/api/v1/supervision", tag = "supervision", params(ListQuery), security(("bearer" = [])),
    responses((status = 200, body = Vec<ItemOut>), (status = 400, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn list(
    State(st): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> AppResult<Json<Vec<ItemOut>>> {
    let filter = Filter {
        school_id: q.school_id,
        state: q
            .state
            .as_deref()
            .map(parse_code::<ItemState>)
            .transpose()?,
        rung: q.rung.as_deref().map(parse_code::<Rung>).transpose()?,
    };
    let items = supervision::list(
        &st.db,
        &caller.scope(Permission::SupervisionRead),
        &filter,
        st.config.district.today(),
        q.limit.unwrap_or(100),
    )
    .await?;
    Ok(Json(items.into_iter().map(ItemOut::from).collect()))
}

/// An item to issue.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueIn {
    pub school_id: i64,
    /// The issuing org (the bureau, a section or a centre where the caller holds an
    /// issuing role); the caller's first when left out.
    pub issuer_org_id: Option<i64>,
    pub rung: String,
    pub subject: String,
    /// The letter, with placeholders {{issuer}}, {{school}}, {{number}}, {{date}},
    /// {{deadline}}, {{subject}}, {{hazard}}, {{rung}}; the rung's template when left out.
    pub body: Option<String>,
    pub hazard_id: Option<i64>,
    #[schema(value_type = String, format = Date)]
    pub deadline: NaiveDate,
    /// A notice only: also publish it to every school under the issuer as a circular
    /// (an announcement with read acknowledgement); needs the right to publish there.
    #[serde(default)]
    pub circular: bool,
}

/// Issues an item to a school.
#[utoipa::path(post, path = "/api/v1/supervision", tag = "supervision", request_body = IssueIn, security(("bearer" = [])),
    responses((status = 201, body = ItemOut), (status = 400, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn issue(
    State(st): State<AppState>,
    caller: Caller,
    ApiJson(b): ApiJson<IssueIn>,
) -> AppResult<(StatusCode, Json<ItemOut>)> {
    let rung = parse_code::<Rung>(&b.rung)?;
    let body = b.body.unwrap_or_else(|| input::template(caller.lang, rung));
    let item = input::issue(
        &st,
        &caller,
        Issue {
            school_id: b.school_id,
            issuer_org_id: b.issuer_org_id,
            rung,
            subject: b.subject,
            body,
            hazard_id: b.hazard_id,
            deadline: b.deadline,
            circular: b.circular,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(item.into())))
}

/// An item and its history.
#[derive(Serialize, ToSchema)]
pub struct DetailOut {
    #[serde(flatten)]
    pub item: ItemOut,
    #[schema(value_type = Vec<Object>)]
    pub history: Vec<ItemEvent>,
}

/// One item with its history.
#[utoipa::path(get, path = "/api/v1/supervision/{id}", tag = "supervision", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = DetailOut), (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn get(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> AppResult<Json<DetailOut>> {
    let item = supervision::get(
        &st.db,
        &caller.scope(Permission::SupervisionRead),
        id,
        st.config.district.today(),
    )
    .await?;
    Ok(Json(DetailOut {
        history: supervision::events(&st.db, id).await?,
        item: item.into(),
    }))
}

/// A response, or a reason.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteIn {
    #[serde(default)]
    pub note: String,
    /// With a response only: up to five photos uploaded by the caller
    /// (`POST /api/v1/attachments`) that show the work.
    #[serde(default)]
    pub attachments: Vec<i64>,
}

async fn step(
    st: &AppState,
    caller: &Caller,
    id: i64,
    step: Step,
    b: &NoteIn,
) -> AppResult<Json<ItemOut>> {
    Ok(Json(
        input::act(st, caller, id, step, &b.note, &b.attachments)
            .await?
            .into(),
    ))
}

/// The school's response (its leads, while a response is owed).
#[utoipa::path(post, path = "/api/v1/supervision/{id}/respond", tag = "supervision", params(("id" = i64, Path)), request_body = NoteIn,
    security(("bearer" = [])), responses((status = 200, body = ItemOut), (status = 409, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn respond(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
    ApiJson(b): ApiJson<NoteIn>,
) -> AppResult<Json<ItemOut>> {
    step(&st, &caller, id, Step::Respond, &b).await
}

/// The issuer accepts the response.
#[utoipa::path(post, path = "/api/v1/supervision/{id}/accept", tag = "supervision", params(("id" = i64, Path)), request_body = NoteIn,
    security(("bearer" = [])), responses((status = 200, body = ItemOut), (status = 409, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn accept(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
    ApiJson(b): ApiJson<NoteIn>,
) -> AppResult<Json<ItemOut>> {
    step(&st, &caller, id, Step::Accept, &b).await
}

/// The issuer returns the response with a reason: a new one is owed.
#[utoipa::path(post, path = "/api/v1/supervision/{id}/return", tag = "supervision", params(("id" = i64, Path)), request_body = NoteIn,
    security(("bearer" = [])), responses((status = 200, body = ItemOut), (status = 409, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn send_back(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
    ApiJson(b): ApiJson<NoteIn>,
) -> AppResult<Json<ItemOut>> {
    step(&st, &caller, id, Step::Return, &b).await
}
