//! Changing one's own password: the API and the account page share this step.

use crate::kit::{AppError, AppResult, AppState, Caller};
use axum::http::StatusCode;
use xiaoan_store::users;

/// Checks the current password and the policy, then stores the new one (shared by the
/// API and the account page).
#[tracing::instrument(skip_all)]
pub async fn change_own_password(
    st: &AppState,
    caller: &Caller,
    current: &str,
    new: &str,
) -> AppResult<()> {
    if !users::check_password(&st.db, caller.user.id, current).await? {
        return Err(AppError::new(
            StatusCode::BAD_REQUEST,
            "current_password_wrong",
        ));
    }
    if current == new {
        return Err(AppError::new(StatusCode::BAD_REQUEST, "password_unchanged"));
    }
    let context = [
        caller.user.login.as_str(),
        caller.user.display_name.as_str(),
    ];
    st.config
        .password
        .check(new, &context)
        .map_err(|e| AppError::new(StatusCode::BAD_REQUEST, e.code()))?;
    let hash = users::hash_password(new)?;
    users::set_password(&st.db, &caller.actor(), caller.user.id, hash, false)
        .await
        .map_err(AppError::from)
}
