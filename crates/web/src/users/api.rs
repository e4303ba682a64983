//! `/api/v1/users`: accounts in the caller's scope and their administration.

use super::input::RoleOut;
use super::input::{parse_roles, reset};
use crate::kit::AppState;
use crate::kit::Caller;
use crate::kit::error::{AppError, AppResult, text_error};
use crate::kit::{ApiJson, ApiQuery, ErrorBody};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use xiaoan_domain::Permission;
use xiaoan_domain::text::{Login, Name};
use xiaoan_store::users::{self, NewUser, User, UserFilter};

/// An account (never its password).
#[derive(Serialize, ToSchema)]
pub struct UserOut {
    pub login: String,
    pub display_name: String,
    /// The user's home org.
    pub org_id: i64,
    pub disabled: bool,
    pub must_change_password: bool,
    pub roles: Vec<RoleOut>,
    /// Last sign-in, RFC 3339 UTC.
    pub last_login_at: Option<String>,
}

impl From<User> for UserOut {
    fn from(u: User) -> Self {
        UserOut {
            login: u.login,
            display_name: u.display_name,
            org_id: u.org_id,
            disabled: u.disabled,
            must_change_password: u.must_change_password,
            roles: u
                .roles
                .iter()
                .map(|r| RoleOut {
                    role: r.role,
                    org_id: r.org_id,
                })
                .collect(),
            last_login_at: u
                .last_login_at
                .and_then(chrono::DateTime::from_timestamp_millis)
                .map(|t| t.to_rfc3339()),
        }
    }
}

/// Filters for the user list.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only users whose home org is this node.
    pub org_id: Option<i64>,
    /// Text in the login or name.
    pub q: Option<String>,
    /// Include disabled accounts (default true).
    pub include_disabled: Option<bool>,
}

/// The users whose home org is in the caller's scope.
#[utoipa::path(get, path = "/api/v1/users", tag = "users", params(ListQuery), security(("bearer" = [])),
    responses((status = 200, body = Vec<UserOut>), (status = 403, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn list(
    State(st): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> AppResult<Json<Vec<UserOut>>> {
    let filter = UserFilter {
        org_id: q.org_id,
        q: q.q,
        include_disabled: q.include_disabled.unwrap_or(true),
    };
    let list = users::list(&st.db, &caller.scope(Permission::UserRead), &filter).await?;
    Ok(Json(list.into_iter().map(UserOut::from).collect()))
}

/// One user (404 when outside the caller's scope).
#[utoipa::path(get, path = "/api/v1/users/{login}", tag = "users", params(("login" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = UserOut), (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn get(
    State(st): State<AppState>,
    caller: Caller,
    Path(login): Path<String>,
) -> AppResult<Json<UserOut>> {
    let u = users::by_login(&st.db, &caller.scope(Permission::UserRead), &login).await?;
    Ok(Json(u.into()))
}

/// An account to create.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserIn {
    pub login: String,
    pub display_name: String,
    pub org_id: i64,
    #[serde(default)]
    pub roles: Vec<RoleOut>,
    /// An initial password; when absent a one-time password is generated and returned.
    pub password: Option<String>,
}

/// A created account and, when generated, its one-time password.
#[derive(Serialize, ToSchema)]
pub struct CreatedOut {
    pub user: UserOut,
    pub one_time_password: Option<String>,
}

/// Creates an account in the caller's scope.
#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = UserIn, security(("bearer" = [])),
    responses((status = 201, body = CreatedOut), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn create(
    State(st): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<UserIn>,
) -> AppResult<(StatusCode, Json<CreatedOut>)> {
    let _l = caller.lang;
    let login = Login::parse(&body.login).map_err(text_error)?;
    let display_name = Name::parse("display_name", &body.display_name).map_err(text_error)?;
    let roles = parse_roles(&body.roles)?;
    let password_hash = match &body.password {
        Some(pw) => {
            st.config
                .password
                .check(pw, &[login.as_str(), display_name.as_str()])
                .map_err(|e| AppError::invalid(e.code()))?;
            Some(users::hash_password(pw)?)
        }
        None => None,
    };
    let new = NewUser {
        login,
        display_name,
        org_id: body.org_id,
        password_hash,
        must_change_password: true,
        roles,
    };
    let (user, one_time) = users::create(
        &st.db,
        &caller.actor(),
        &caller.roles(),
        &caller.scope(Permission::UserManage),
        new,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedOut {
            user: user.into(),
            one_time_password: one_time,
        }),
    ))
}

/// Changes to an account; absent fields stay as they are.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatchIn {
    pub display_name: Option<String>,
    pub org_id: Option<i64>,
    pub disabled: Option<bool>,
    /// Replaces all role assignments.
    pub roles: Option<Vec<RoleOut>>,
}

/// Edits an account: name, home org, roles, disabled.
#[utoipa::path(patch, path = "/api/v1/users/{login}", tag = "users", params(("login" = String, Path)), request_body = UserPatchIn,
    security(("bearer" = [])),
    responses((status = 200, body = UserOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn update(
    State(st): State<AppState>,
    caller: Caller,
    Path(login): Path<String>,
    ApiJson(body): ApiJson<UserPatchIn>,
) -> AppResult<Json<UserOut>> {
    let _l = caller.lang;
    let name = body
        .display_name
        .as_deref()
        .map(|n| Name::parse("display_name", n))
        .transpose()
        .map_err(text_error)?;
    let roles = body.roles.as_deref().map(parse_roles).transpose()?;
    // One transaction: every part is checked first, then all take effect or none does.
    let change = users::UserChange {
        display_name: name,
        org_id: body.org_id,
        roles,
        disabled: body.disabled,
    };
    let user = users::update(
        &st.db,
        &caller.actor(),
        &caller.roles(),
        &caller.scope(Permission::UserManage),
        &login,
        change,
    )
    .await?;
    Ok(Json(user.into()))
}

/// A new one-time password.
#[derive(Serialize, ToSchema)]
pub struct ResetOut {
    pub one_time_password: String,
}

/// Resets a user's password to a one-time password they must change at next sign-in;
/// ends their sessions and tokens.
#[utoipa::path(post, path = "/api/v1/users/{login}/password", tag = "users", params(("login" = String, Path)),
    security(("bearer" = [])), responses((status = 200, body = ResetOut), (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn reset_password(
    State(st): State<AppState>,
    caller: Caller,
    Path(login): Path<String>,
) -> AppResult<Json<ResetOut>> {
    let pw = reset(&st, &caller, &login).await?;
    Ok(Json(ResetOut {
        one_time_password: pw,
    }))
}
