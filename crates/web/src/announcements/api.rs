//! `/api/v1/announcements`.

use crate::kit::error::AppResult;
use crate::kit::{ApiJson, AppState, Caller, ErrorBody, Id};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;
use xiaoan_domain::{Permission, now_millis};
use xiaoan_store::announcements::{self, Announcement};

/// Announcements the caller received, and those they may see as a publisher, newest first.
#[utoipa::path(get, path = "/api/v1/announcements", tag = "announcements", security(("bearer" = [])),
    responses((status = 200, body = Vec<Object>)))]
#[tracing::instrument(skip_all)]
pub async fn list(
    State(st): State<AppState>,
    caller: Caller,
) -> AppResult<Json<Vec<Announcement>>> {
    Ok(Json(
        announcements::list(
            &st.db,
            caller.user.id,
            &caller.scope(Permission::AnnouncementPublish),
            200,
        )
        .await?,
    ))
}

/// An announcement to publish.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishIn {
    /// The publishing org (the caller's first bureau, section or centre when left out).
    pub org_id: Option<i64>,
    pub title: String,
    pub body: String,
    /// School roles it goes to; everyone at the schools when empty.
    #[serde(default)]
    pub roles: Vec<String>,
}

/// Publishes an announcement to the schools under the org (publishers only).
#[utoipa::path(post, path = "/api/v1/announcements", tag = "announcements", request_body = PublishIn, security(("bearer" = [])),
    responses((status = 201, body = Object), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn publish_route(
    State(st): State<AppState>,
    caller: Caller,
    ApiJson(b): ApiJson<PublishIn>,
) -> AppResult<(StatusCode, Json<Announcement>)> {
    let a = super::publish(&st, &caller, b.org_id, &b.title, &b.body, &b.roles).await?;
    Ok((StatusCode::CREATED, Json(a)))
}

/// Acknowledges reading an announcement the caller received.
#[utoipa::path(post, path = "/api/v1/announcements/{id}/ack", tag = "announcements", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn ack(State(st): State<AppState>, caller: Caller, Id(id): Id) -> AppResult<StatusCode> {
    announcements::ack(&st.db, caller.user.id, id, now_millis()).await?;
    Ok(StatusCode::NO_CONTENT)
}
