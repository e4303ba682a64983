//! `POST /api/v1/auth/login` and `/logout`: bearer tokens for integrations and scripts.

use crate::kit::AppState;
use crate::kit::Caller;
use crate::kit::Lang;
use crate::kit::error::{AppError, AppResult};
use crate::kit::{ApiJson, ErrorBody};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use xiaoan_store::users;

/// Credentials.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginIn {
    pub username: String,
    pub password: String,
}

/// A bearer token and when it stops working (RFC 3339, UTC).
#[derive(Serialize, ToSchema)]
pub struct LoginOut {
    pub token: String,
    pub expires_at: String,
    pub must_change_password: bool,
}

/// Exchanges a login and password for a bearer token.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginIn,
    responses((status = 200, body = LoginOut), (status = 401, body = ErrorBody), (status = 400, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn login(
    State(st): State<AppState>,
    _lang: Lang,
    from: crate::kit::auth::SignInFrom,
    ApiJson(body): ApiJson<LoginIn>,
) -> AppResult<Json<LoginOut>> {
    crate::kit::auth::check_login_rate(&st, from.ip)?;
    if body.username.len() > 64 || body.password.len() > 1024 {
        return Err(AppError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
        ));
    }
    let user = users::sign_in(
        &st.db,
        &body.username,
        &body.password,
        st.config.lockout(),
        &from.origin,
    )
    .await?;
    let Some(user) = user else {
        return Err(AppError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
        ));
    };
    let hours = st.config.api_token_hours;
    let idle = st.config.session_idle_minutes * 60_000;
    let mut tx = st.db.begin_write().await?;
    let issued =
        xiaoan_store::tokens::issue(&mut tx, user.id, "api-login", hours * 3_600_000, idle).await?;
    tx.commit()
        .await
        .map_err(|e| AppError::from(xiaoan_store::StoreError::from(e)))?;
    let expires_at = chrono::DateTime::from_timestamp_millis(issued.expires_at)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    Ok(Json(LoginOut {
        token: issued.secret,
        expires_at,
        must_change_password: user.must_change_password,
    }))
}

/// Ends the bearer token used for this call.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn logout(
    State(st): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
) -> AppResult<StatusCode> {
    let token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.get(7..))
        .unwrap_or("")
        .trim()
        .to_string();
    let mut tx = st.db.begin_write().await?;
    xiaoan_store::tokens::revoke(&mut tx, &token).await?;
    let ev = xiaoan_store::audit::Event::ok(
        "auth.logout",
        "user",
        caller.user.id,
        serde_json::json!({}),
    );
    xiaoan_store::audit::append(&mut tx, &caller.actor(), ev).await?;
    tx.commit()
        .await
        .map_err(|e| AppError::from(xiaoan_store::StoreError::from(e)))?;
    Ok(StatusCode::NO_CONTENT)
}
