//! `GET /api/v1/me` and `POST /api/v1/me/password`.

use super::password::change_own_password;
use crate::kit::AppState;
use crate::kit::Caller;
use crate::kit::error::AppResult;
use crate::kit::{ApiJson, ErrorBody};
use crate::users::RoleOut;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The signed-in caller.
#[derive(Serialize, ToSchema)]
pub struct MeOut {
    pub login: String,
    pub display_name: String,
    pub org_id: i64,
    pub must_change_password: bool,
    pub roles: Vec<RoleOut>,
    /// Permission codes the caller holds somewhere.
    pub permissions: Vec<String>,
}

/// Who the caller is and what they hold.
#[utoipa::path(get, path = "/api/v1/me", tag = "me", security(("bearer" = [])),
    responses((status = 200, body = MeOut), (status = 401, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn me(caller: Caller) -> Json<MeOut> {
    let permissions = xiaoan_domain::permission::PERMISSION_ROLES
        .iter()
        .map(|(p, _)| *p)
        .filter(|p| caller.can(*p))
        .map(|p| {
            serde_json::to_value(p)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default()
        })
        .collect();
    let u = &caller.user;
    Json(MeOut {
        login: u.login.clone(),
        display_name: u.display_name.clone(),
        org_id: u.org_id,
        must_change_password: u.must_change_password,
        roles: u
            .roles
            .iter()
            .map(|r| RoleOut {
                role: r.role,
                org_id: r.org_id,
            })
            .collect(),
        permissions,
    })
}

/// A password change.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordIn {
    pub current_password: String,
    pub new_password: String,
}

/// Changes the caller's own password; every session and token of the caller ends.
#[utoipa::path(post, path = "/api/v1/me/password", tag = "me", security(("bearer" = [])), request_body = PasswordIn,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn change_password(
    State(st): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<PasswordIn>,
) -> AppResult<StatusCode> {
    change_own_password(&st, &caller, &body.current_password, &body.new_password).await?;
    Ok(StatusCode::NO_CONTENT)
}
