//! Signing in and out of the web interface.

use crate::kit::AppState;
use crate::kit::Lang;
use crate::kit::auth::{CSRF_KEY, Caller, LOGIN_AT_KEY, new_csrf_token, session_csrf};
use crate::kit::error::AppError;
use crate::kit::page::{Layout, Refused, refuse, render, take_refused};
use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tower_sessions::Session;
use xiaoan_store::sessions::USER_ID_KEY;
use xiaoan_store::users;

#[derive(Template)]
#[template(path = "account/login.html")]
struct LoginPage {
    l: Layout,
    next: String,
    login: String,
    error: Option<String>,
}

/// Where to go after signing in.
#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
    /// Set after a password change.
    changed: Option<String>,
}

/// Only local paths are followed after sign-in (no open redirect): a single leading
/// slash, no backslash, no control characters (browsers drop tabs and newlines, which would
/// turn `/\t/host` into `//host`), at most 1000 bytes.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.contains('\\')
                && !n.chars().any(char::is_control)
                && n.len() <= 1000 =>
        {
            n.to_string()
        }
        _ => "/".to_string(),
    }
}

/// `GET /login`.
#[tracing::instrument(skip_all)]
pub async fn form(lang: Lang, session: Session, Query(q): Query<NextQuery>) -> Response {
    let csrf = session_csrf(&session).await;
    let mut l = Layout::anonymous(lang, "login.title", csrf);
    if q.changed.is_some() {
        l.notice = Some(lang.t("login.changed"));
    }
    // The language switcher keeps where the sign-in leads.
    if let Some(next) = q.next.as_deref() {
        l.query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("next", &safe_next(Some(next)))
            .finish();
    }
    // After a refused sign-in: the login name again (never the password), and why.
    let refused = take_refused(&session, LOGIN).await;
    render(&LoginPage {
        l,
        next: safe_next(q.next.as_deref()),
        login: refused
            .as_ref()
            .and_then(|r| r.fields.get("login").cloned())
            .unwrap_or_default(),
        error: refused.map(|r| r.error),
    })
}

/// The sign-in page.
const LOGIN: &str = "/login";

/// The sign-in form.
#[derive(Deserialize)]
pub struct LoginForm {
    login: String,
    password: String,
    next: Option<String>,
}

/// `POST /login`: one answer for every failure; a new session id on success.
#[tracing::instrument(skip_all)]
pub async fn submit(
    State(st): State<AppState>,
    lang: Lang,
    from: crate::kit::auth::SignInFrom,
    session: Session,
    Form(f): Form<LoginForm>,
) -> Response {
    if let Err(e) = crate::kit::auth::check_login_rate(&st, from.ip) {
        return e.into_response();
    }
    let result = if f.login.len() > 64 || f.password.len() > 1024 {
        Ok(None)
    } else {
        users::sign_in(
            &st.db,
            &f.login,
            &f.password,
            st.config.lockout(),
            &from.origin,
        )
        .await
    };
    match result {
        Ok(Some(user)) => {
            if let Err(e) = start_session(&session, user.id).await {
                return e.into_response();
            }
            let target = if user.must_change_password {
                "/account".to_string()
            } else {
                safe_next(f.next.as_deref())
            };
            Redirect::to(&target).into_response()
        }
        // Refused: back to the form (Post/Redirect/Get), so that a reload does not send the
        // password again; the login name is kept.
        Ok(None) => {
            let next = safe_next(f.next.as_deref());
            let to = if next == "/" {
                LOGIN.to_string()
            } else {
                url::form_urlencoded::Serializer::new(format!("{LOGIN}?"))
                    .append_pair("next", &next)
                    .finish()
            };
            let refused = Refused {
                path: LOGIN.to_string(),
                error: lang.t("error.invalid_credentials"),
                fields: [("login".to_string(), f.login)].into(),
                ..Refused::default()
            };
            refuse(&session, &to, refused).await
        }
        Err(e) => AppError::from(e).into_response(),
    }
}

/// Starts the signed-in session under a new id. A failure of the session store is an
/// error (logged, answered 500), never a sign-in that silently did not stick; whatever was
/// written is flushed so that no half-made session is left behind.
async fn start_session(session: &Session, user_id: i64) -> Result<(), AppError> {
    let r = async {
        session.cycle_id().await?;
        session.insert(USER_ID_KEY, user_id).await?;
        session
            .insert(LOGIN_AT_KEY, xiaoan_domain::now_millis())
            .await?;
        session.insert(CSRF_KEY, new_csrf_token()).await?;
        // Write now, so that a store failure is met here rather than after the answer.
        session.save().await
    }
    .await;
    if let Err(e) = r {
        tracing::error!(error = %e, "could not start a session at sign-in");
        if let Err(e) = session.flush().await {
            tracing::error!(error = %e, "could not discard the half-made session");
        }
        return Err(AppError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "session_store",
        ));
    }
    Ok(())
}

/// `POST /logout`: ends the session and clears the browser's copy of pages.
#[tracing::instrument(skip_all)]
pub async fn logout(State(st): State<AppState>, caller: Caller, session: Session) -> Response {
    let ev = xiaoan_store::audit::Event::ok(
        "auth.logout",
        "user",
        caller.user.id,
        serde_json::json!({}),
    );
    if let Err(e) = xiaoan_store::audit::record(&st.db, &caller.actor(), ev).await {
        tracing::error!(error = %e, "could not record logout");
    }
    let _ = session.flush().await;
    (
        [("clear-site-data", "\"cache\", \"storage\"")],
        Redirect::to("/login"),
    )
        .into_response()
}
