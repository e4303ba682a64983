//! User input and steps shared by the JSON API and the pages.

use crate::kit::{AppError, AppResult, AppState, Caller};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use xiaoan_domain::Permission;
use xiaoan_domain::Role;
use xiaoan_store::users::{self, RoleAt};

/// A role held at an org node.
#[derive(Serialize, Deserialize, ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct RoleOut {
    pub role: Role,
    pub org_id: i64,
}

/// Role assignments from the API, for the store.
pub fn parse_roles(roles: &[RoleOut]) -> AppResult<Vec<RoleAt>> {
    Ok(roles
        .iter()
        .map(|r| RoleAt {
            role: r.role,
            org_id: r.org_id,
        })
        .collect())
}

/// Resets `login`'s password (shared by the API and the user page).
#[tracing::instrument(skip_all)]
pub async fn reset(st: &AppState, caller: &Caller, login: &str) -> AppResult<String> {
    let _l = caller.lang;
    let user = users::by_login(&st.db, &caller.scope(Permission::UserManage), login).await?;
    // One's own password changes only with the current one (the account page), so that a
    // stolen session or token cannot take the account over.
    if user.id == caller.user.id {
        return Err(AppError::forbidden("own_password_reset"));
    }
    if user
        .roles
        .iter()
        .any(|r| !xiaoan_domain::permission::may_grant(&caller.roles(), r.role))
    {
        return Err(AppError::new(StatusCode::FORBIDDEN, "role_grant"));
    }
    let pw = users::generate_password();
    let hash = users::hash_password(&pw)?;
    users::set_password(&st.db, &caller.actor(), user.id, hash, true).await?;
    Ok(pw)
}
