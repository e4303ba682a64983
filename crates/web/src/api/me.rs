//! `GET /api/v1/me` and `POST /api/v1/me/password`.

use super::{ApiJson, ErrorBody};
use crate::AppState;
use crate::auth::Caller;
use crate::error::{AppError, AppResult, StoreCtx};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use xiaoan_store::users;

/// A role held at an org node.
#[derive(Serialize, Deserialize, ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct RoleOut {
    /// Role code, e.g. `principal`.
    pub role: String,
    pub org_id: i64,
}

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
                role: r.role.code().into(),
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
pub async fn change_password(
    State(st): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<PasswordIn>,
) -> AppResult<StatusCode> {
    change_own_password(&st, &caller, &body.current_password, &body.new_password).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Checks the current password and the policy, then stores the new one (shared by the
/// API and the account page).
pub async fn change_own_password(
    st: &AppState,
    caller: &Caller,
    current: &str,
    new: &str,
) -> AppResult<()> {
    let (l, s) = (caller.lang, caller.surface);
    if !users::check_password(&st.db, caller.user.id, current)
        .await
        .ctx(l, s)?
    {
        return Err(AppError::new(
            StatusCode::BAD_REQUEST,
            "current_password_wrong",
            l,
            s,
        ));
    }
    if current == new {
        return Err(AppError::new(
            StatusCode::BAD_REQUEST,
            "password_unchanged",
            l,
            s,
        ));
    }
    let context = [
        caller.user.login.as_str(),
        caller.user.display_name.as_str(),
    ];
    st.config
        .password
        .check(new, &context)
        .map_err(|e| AppError::new(StatusCode::BAD_REQUEST, e.code(), l, s))?;
    let hash = users::hash_password(new).ctx(l, s)?;
    users::set_password(&st.db, &caller.actor(), caller.user.id, hash, false)
        .await
        .ctx(l, s)
}
