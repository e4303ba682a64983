//! The layers around every response: request ids, sessions, CSRF, security headers,
//! body limits and tracing.

use crate::kit::error::AppError;
use crate::kit::state::AppState;
use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use tower_http::csrf::{CsrfLayer, ProtectionError};
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};
use xiaoan_store::sessions::DbSessionStore;

/// Request ids: 16 random bytes in hex, echoed in `x-request-id`.
#[derive(Clone, Copy, Default)]
struct RandomId;

impl MakeRequestId for RandomId {
    fn make_request_id<B>(&mut self, _request: &axum::http::Request<B>) -> Option<RequestId> {
        let bytes: [u8; 16] = rand::random();
        HeaderValue::from_str(&hex::encode(bytes))
            .ok()
            .map(RequestId::new)
    }
}

/// The `X-Request-Id` a client sent, taken off the request so that every request gets an
/// id of ours; the audit log keeps it apart, in an entry's detail.
#[derive(Clone, Debug)]
pub struct ClientRequestId(pub String);

/// Moves a client-sent request id into [`ClientRequestId`].
async fn take_client_request_id(mut req: Request, next: Next) -> Response {
    if let Some(v) = req.headers_mut().remove(REQUEST_ID) {
        let text = String::from_utf8_lossy(v.as_bytes()).into_owned();
        req.extensions_mut().insert(ClientRequestId(text));
    }
    next.run(req).await
}

/// The name of the request-id header.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The session cookie's name: `__Host-` prefixed when cookies are `Secure`.
pub fn session_cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-xiaoan"
    } else {
        "xiaoan_session"
    }
}

/// Turns the CSRF layer's bare 403 into a clear, localised error.
async fn explain_csrf(req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    if res.status() == StatusCode::FORBIDDEN && res.extensions().get::<ProtectionError>().is_some()
    {
        return axum::response::IntoResponse::into_response(AppError::forbidden("csrf"));
    }
    res
}

/// Remembers a language chosen with `?lang=` in a cookie.
async fn remember_lang(req: Request, next: Next) -> Response {
    let chosen = req.uri().query().and_then(crate::kit::i18n::query_lang);
    let mut res = next.run(req).await;
    if let Some(lang) = chosen
        && let Ok(v) = HeaderValue::from_str(&format!(
            "lang={}; Path=/; Max-Age=31536000; SameSite=Lax",
            lang.code()
        ))
    {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

/// Sets `Cache-Control: no-store` on everything but static assets.
async fn no_store(req: Request, next: Next) -> Response {
    let is_static = req.uri().path().starts_with("/static/") || req.uri().path() == "/favicon.ico";
    let mut res = next.run(req).await;
    if !is_static {
        res.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}

/// Wraps the application in its security layers.
pub fn wrap(app: Router, state: AppState) -> Router {
    let cfg = &state.config;
    let sessions = SessionManagerLayer::new(DbSessionStore::new(state.db.clone()))
        .with_name(session_cookie_name(cfg.secure_cookies))
        .with_secure(cfg.secure_cookies)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(time::Duration::minutes(
            cfg.session_idle_minutes,
        )))
        // Save on every request so that activity extends the idle expiry.
        .with_always_save(true);
    let mut csrf = CsrfLayer::new();
    for origin in &cfg.trusted_origins {
        match csrf.clone().add_trusted_origin(origin) {
            Ok(c) => csrf = c,
            Err(e) => tracing::warn!(%origin, error = %e, "ignoring invalid trusted origin"),
        }
    }
    let hsts = cfg.secure_cookies;
    app.layer(axum::extract::DefaultBodyLimit::max(2 * 1024 * 1024))
        .layer(sessions)
        .layer(csrf)
        .layer(middleware::from_fn(explain_csrf))
        .layer(middleware::from_fn(crate::kit::error::localise))
        .layer(middleware::from_fn(no_store))
        .layer(middleware::from_fn(remember_lang))
        // A handler's own policy (a download's `sandbox`) is kept.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
                 object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
            ),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::STRICT_TRANSPORT_SECURITY,
            if hsts {
                HeaderValue::from_static("max-age=31536000; includeSubDomains")
            } else {
                HeaderValue::from_static("max-age=0")
            },
        ))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .layer(tower_http::catch_panic::CatchPanicLayer::new())
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, RandomId))
        .layer(middleware::from_fn(take_client_request_id))
}

#[cfg(test)]
mod tests {
    /// The policy allows no inline styles or scripts, so no template may carry any: a
    /// `style="…"` would be silently dropped by the browser (a bar drawn at full width).
    #[test]
    fn templates_carry_no_inline_styles_or_scripts() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        let mut dirs = vec![root];
        let mut seen = 0;
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).expect("templates") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    dirs.push(path);
                    continue;
                }
                let text = std::fs::read_to_string(&path).expect("template");
                seen += 1;
                for bad in [
                    " style=",
                    "<style",
                    "<script>",
                    " onclick=",
                    " onload=",
                    " onsubmit=",
                    "javascript:",
                ] {
                    assert!(!text.contains(bad), "{} has {bad:?}", path.display());
                }
            }
        }
        assert!(seen > 20, "only {seen} templates found");
    }
}
