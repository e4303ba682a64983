//! The caller's own account: profile, roles, password change (forced after a one-time
//! password).

use super::roles::{RoleLine, role_lines};
use crate::kit::AppState;
use crate::kit::Caller;
use crate::kit::error::AppResult;
use crate::kit::page::{Layout, Refused, refuse, render, take_refused};
use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

#[derive(Template)]
#[template(path = "account/account.html")]
struct AccountPage {
    l: Layout,
    login: String,
    display_name: String,
    must_change: bool,
    roles: Vec<RoleLine>,
    error: Option<String>,
    min_length: usize,
}

async fn show(st: &AppState, caller: &Caller, error: Option<String>) -> AppResult<Response> {
    let page = AccountPage {
        l: Layout::new(caller, "account.title", "/account"),
        login: caller.user.login.clone(),
        display_name: caller.user.display_name.clone(),
        must_change: caller.user.must_change_password,
        roles: role_lines(st, caller).await?,
        error,
        min_length: st.config.password.min_length,
    };
    Ok(render(&page))
}

/// `GET /account`.
#[tracing::instrument(skip_all)]
pub async fn page(
    State(st): State<AppState>,
    caller: Caller,
    session: tower_sessions::Session,
) -> AppResult<Response> {
    let refused = take_refused(&session, ACCOUNT).await;
    show(&st, &caller, refused.map(|r| r.error)).await
}

/// The account page.
const ACCOUNT: &str = "/account";

/// A refused password change: back to the page with why (Post/Redirect/Get), so that a
/// reload never sends the passwords again; they are not kept.
async fn refused(session: &tower_sessions::Session, error: String) -> Response {
    let r = Refused {
        path: ACCOUNT.to_string(),
        error,
        ..Refused::default()
    };
    refuse(session, ACCOUNT, r).await
}

/// The password form.
#[derive(Deserialize)]
pub struct PasswordForm {
    current_password: String,
    new_password: String,
    confirm_password: String,
}

/// `POST /account/password`: every session ends, so the user signs in again.
#[tracing::instrument(skip_all)]
pub async fn change_password(
    State(st): State<AppState>,
    caller: Caller,
    session: tower_sessions::Session,
    Form(f): Form<PasswordForm>,
) -> AppResult<Response> {
    if f.new_password != f.confirm_password {
        return Ok(refused(&session, caller.lang.t("error.password_mismatch")).await);
    }
    match super::password::change_own_password(&st, &caller, &f.current_password, &f.new_password)
        .await
    {
        Ok(()) => {
            // The store ended every session of the user; drop this one's cookie too.
            let _ = session.flush().await;
            Ok(Redirect::to("/login?changed=1").into_response())
        }
        Err(e) if e.status == StatusCode::BAD_REQUEST => {
            Ok(refused(&session, e.message(caller.lang)).await)
        }
        Err(e) => Err(e),
    }
}
