//! Who is calling and what they may do. [`authorize`] runs before every matched route: it
//! looks the route up in the assembled [`RouteTable`], signs the caller in (bearer token
//! under `/api`, session cookie elsewhere), checks the permission, checks the form token on
//! page posts, and leaves a [`Caller`]. A handler asks the caller for the scope of the
//! permission it acts under: `caller.scope(Permission::HazardRead)`.

use crate::kit::error::{AppError, Surface};
use crate::kit::i18n::Lang;
use crate::kit::routes::{Lookup, RouteTable};
use crate::kit::security::REQUEST_ID;
use crate::kit::state::AppState;
use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use std::sync::Arc;
use tower_sessions::Session;

use crate::kit::form_token::check_form_token;
pub use crate::kit::form_token::{CSRF_FIELD, CSRF_KEY, new_csrf_token, session_csrf};
use xiaoan_domain::audit::Actor;
use xiaoan_domain::scope::Assignment;
use xiaoan_domain::{Permission, Role, Scope};
use xiaoan_store::audit::{self, Event};
use xiaoan_store::sessions::USER_ID_KEY;
use xiaoan_store::users::{self, User};

/// Session key: when the user signed in (ms).
pub const LOGIN_AT_KEY: &str = "login_at";
/// The signed-in caller of a request.
#[derive(Clone, Debug)]
pub struct Caller {
    pub user: User,
    pub assignments: Vec<Assignment>,
    /// The language of the request (pages word themselves in it).
    pub lang: Lang,
    pub request_id: String,
    /// The request id the client sent, if any (kept apart from ours in the audit log).
    pub client_request_id: Option<String>,
    /// The form token of the page session, for forms the page renders.
    pub csrf: String,
    /// The application's routes, for [`Caller::may`].
    pub routes: Arc<RouteTable>,
    /// The request's query string without `lang`, so that the language switcher keeps the
    /// page as it is.
    pub query: String,
    /// Unread inbox entries (counted for pages only, shown in the header).
    pub unread: i64,
}

impl Caller {
    /// The caller as the audit log records them.
    pub fn actor(&self) -> Actor {
        let mut roles: Vec<&str> = self.assignments.iter().map(|a| a.role.code()).collect();
        roles.dedup();
        Actor {
            user_id: Some(self.user.id),
            login: self.user.login.clone(),
            roles: roles.join(","),
            scope_org_id: self.assignments.first().map(|a| a.org_id),
            request_id: self.request_id.clone(),
            client_request_id: self.client_request_id.clone(),
        }
    }

    /// The distinct roles the caller holds.
    pub fn roles(&self) -> Vec<Role> {
        let mut r: Vec<Role> = self.assignments.iter().map(|a| a.role).collect();
        r.sort();
        r.dedup();
        r
    }

    /// Whether the caller holds `p` anywhere.
    pub fn can(&self, p: Permission) -> bool {
        self.assignments.iter().any(|a| p.granted_to(a.role))
    }

    /// Whether the caller may use the route `method path` (`path` as declared, e.g.
    /// `/hazards/{id}`), by the permission the route declares: pages offer only the links and
    /// buttons whose routes would let the caller through.
    pub fn may(&self, method: &str, path: &str) -> bool {
        match self.routes.lookup(method, path) {
            Lookup::Found(rule) => match rule.permission {
                Permission::Public | Permission::Device | Permission::SelfService => true,
                p => self.can(p),
            },
            Lookup::WrongMethod(_) | Lookup::Missing => false,
        }
    }

    /// Where the caller holds `p`: the subtrees of the orgs where they hold a role granting it.
    pub fn scope(&self, p: Permission) -> Scope {
        Scope::for_permission(&self.assignments, p)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Caller>().cloned().ok_or_else(|| {
            tracing::error!(path = %parts.uri.path(), "handler needs a caller but the route is public");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        })
    }
}

/// The request's ids: ours, and the one the client sent, if any.
pub fn request_ids(parts: &Parts) -> (String, Option<String>) {
    let ours = parts
        .headers
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let client = parts
        .extensions
        .get::<crate::kit::security::ClientRequestId>()
        .map(|c| c.0.clone());
    (ours, client)
}

fn bearer(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
}

/// Sign-in attempts allowed per client address.
pub type LoginLimiter = governor::DefaultKeyedRateLimiter<std::net::IpAddr>;

/// A limiter allowing `per_minute` attempts a minute per address, in bursts of as many.
pub fn login_limiter(per_minute: u32) -> LoginLimiter {
    let n = std::num::NonZeroU32::new(per_minute.max(1)).unwrap_or(std::num::NonZeroU32::MIN);
    governor::RateLimiter::keyed(governor::Quota::per_minute(n))
}

/// The client's address: the connected peer, or, when the peer is a configured trusted
/// proxy, the last address it appended to `X-Forwarded-For`. Unspecified when unknown
/// (in-process tests).
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub std::net::IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip())
            .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
        if state.config.trusted_proxies.contains(&peer)
            && let Some(forwarded) = parts
                .headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit(',').next())
                .and_then(|v| v.trim().parse().ok())
        {
            return Ok(ClientIp(forwarded));
        }
        Ok(ClientIp(peer))
    }
}

/// Where a sign-in attempt comes from: the client's address (for the rate limit and the
/// lockout) and the request's ids (for the audit log).
pub struct SignInFrom {
    pub ip: ClientIp,
    pub origin: users::Origin,
}

impl FromRequestParts<AppState> for SignInFrom {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let ip = ClientIp::from_request_parts(parts, state).await?;
        let (request_id, client_request_id) = request_ids(parts);
        Ok(SignInFrom {
            ip,
            origin: users::Origin {
                client: ip.0.to_string(),
                request_id,
                client_request_id,
            },
        })
    }
}

/// Counts a sign-in attempt from `ip`; a 429 when the address is over its quota.
pub fn check_login_rate(state: &AppState, ip: ClientIp) -> Result<(), AppError> {
    let limiter = &state.login_limiter;
    if limiter.len() > 10_000 {
        limiter.retain_recent();
    }
    limiter
        .check_key(&ip.0)
        .map_err(|_| AppError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited"))
}

/// Signs the caller in from the session cookie; `None` when there is no live session.
/// Returns the user id and when they signed in.
async fn session_user(state: &AppState, session: &Session) -> Result<Option<(i64, i64)>, AppError> {
    let uid = session.get::<i64>(USER_ID_KEY).await.ok().flatten();
    let login_at = session
        .get::<i64>(LOGIN_AT_KEY)
        .await
        .ok()
        .flatten()
        .unwrap_or(0);
    let Some(uid) = uid else { return Ok(None) };
    let absolute_ms = state.config.session_absolute_hours * 3_600_000;
    if xiaoan_domain::now_millis() - login_at > absolute_ms {
        let _ = session.flush().await;
        return Ok(None);
    }
    Ok(Some((uid, login_at)))
}

/// `query` without its `lang` parameters.
fn without_lang(query: &str) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(url::form_urlencoded::parse(query.as_bytes()).filter(|(k, _)| k != "lang"))
        .finish()
}

/// What a user signed in with a one-time password may reach before choosing a password:
/// the change-password page and its form, signing out, and the API's own password change,
/// sign-out and `me`. Everything else sends pages to `/account` and answers the API with
/// 403 `password_change_required`.
const BEFORE_PASSWORD_CHANGE: &[(&str, &str)] = &[
    ("GET", "/account"),
    ("POST", "/account/password"),
    ("POST", "/logout"),
    ("GET", "/api/v1/me"),
    ("POST", "/api/v1/me/password"),
    ("POST", "/api/v1/auth/logout"),
];

fn reachable_before_password_change(rule: &crate::kit::routes::RouteRule) -> bool {
    BEFORE_PASSWORD_CHANGE
        .iter()
        .any(|(m, p)| *m == rule.method && *p == rule.path)
}

/// The authorisation middleware (see the module documentation), over the application's
/// state and its route table.
#[tracing::instrument(skip_all)]
pub async fn authorize(
    State((state, table)): State<(AppState, Arc<RouteTable>)>,
    req: Request,
    next: Next,
) -> Response {
    match authorize_inner(&state, &table, req, next).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn authorize_inner(
    state: &AppState,
    table: &Arc<RouteTable>,
    req: Request,
    next: Next,
) -> Result<Response, AppError> {
    let (mut parts, body) = req.into_parts();
    let lang = crate::kit::i18n::from_parts(&parts);
    let path = parts
        .extensions
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_default();
    let surface = Surface::of(&path);
    let method = parts.method.clone();
    let rule = match table.lookup(method.as_str(), &path) {
        Lookup::Found(rule) => rule,
        Lookup::WrongMethod(allowed) => {
            tracing::debug!(%method, %path, "method not allowed");
            let allow = allowed.join(", ");
            return Ok((
                [(header::ALLOW, allow)],
                AppError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            )
                .into_response());
        }
        Lookup::Missing => {
            tracing::error!(%method, %path, "route missing from the route table; refusing");
            return Err(AppError::forbidden("forbidden"));
        }
    };
    let session = parts.extensions.get::<Session>().cloned();
    let is_post = method != Method::GET && method != Method::HEAD;
    if matches!(rule.permission, Permission::Public | Permission::Device) {
        let mut req = Request::from_parts(parts, body);
        if surface == Surface::Page && is_post {
            let expected = match &session {
                Some(s) => s
                    .get::<String>(CSRF_KEY)
                    .await
                    .ok()
                    .flatten()
                    .unwrap_or_default(),
                None => String::new(),
            };
            req = check_form_token(req, &expected).await?;
        }
        return Ok(next.run(req).await);
    }
    let unauthenticated = || AppError::new(StatusCode::UNAUTHORIZED, "unauthenticated");
    let user_id = match surface {
        Surface::Api => match bearer(&parts) {
            Some(token) => xiaoan_store::tokens::authenticate(
                &state.db,
                token,
                state.config.session_idle_minutes * 60_000,
            )
            .await?
            .map(|uid| (uid, i64::MAX)),
            None => None,
        },
        Surface::Page => match &session {
            Some(s) => session_user(state, s).await?,
            None => None,
        },
    };
    let Some((user_id, signed_in_at)) = user_id else {
        if surface == Surface::Page && !is_post {
            let next_path = parts
                .uri
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/");
            let target = format!(
                "/login?next={}",
                url::form_urlencoded::byte_serialize(next_path.as_bytes()).collect::<String>()
            );
            return Ok(Redirect::to(&target).into_response());
        }
        return Err(unauthenticated());
    };
    let (user, assignments) = match users::signed_in(&state.db, user_id).await {
        // A session from before the last password change is over (tokens are revoked then).
        Ok((u, a)) if !u.disabled && u.password_changed_at <= signed_in_at => (u, a),
        Ok(_) | Err(xiaoan_store::StoreError::NotFound) => {
            if let Some(s) = &session {
                let _ = s.flush().await;
            }
            return Err(unauthenticated());
        }
        Err(e) => return Err(e.into()),
    };
    let csrf = match &session {
        Some(s) if surface == Surface::Page => session_csrf(s).await,
        _ => String::new(),
    };
    let (request_id, client_request_id) = request_ids(&parts);
    let unread = if surface == Surface::Page && !is_post {
        xiaoan_store::notify::unread_count(&state.db, user.id).await?
    } else {
        0
    };
    let caller = Caller {
        user,
        assignments,
        lang,
        request_id,
        client_request_id,
        csrf: csrf.clone(),
        routes: table.clone(),
        query: parts.uri.query().map(without_lang).unwrap_or_default(),
        unread,
    };
    if caller.user.must_change_password && !reachable_before_password_change(rule) {
        return match surface {
            Surface::Page => Ok(Redirect::to("/account").into_response()),
            Surface::Api => Err(AppError::forbidden("password_change_required")),
        };
    }
    if rule.permission != Permission::SelfService && !caller.can(rule.permission) {
        let event = Event {
            result: "denied",
            ..Event::ok(
                "access.denied",
                "route",
                format!("{method} {path}"),
                serde_json::json!({}),
            )
        };
        if let Err(e) = audit::record(&state.db, &caller.actor(), event).await {
            tracing::error!(error = %e, "could not record a denied request");
        }
        return Err(AppError::forbidden("forbidden"));
    }
    parts.extensions.insert(caller);
    let mut req = Request::from_parts(parts, body);
    if surface == Surface::Page && is_post {
        req = check_form_token(req, &csrf).await?;
    }
    Ok(next.run(req).await)
}

#[cfg(test)]
mod tests {
    use super::without_lang;

    #[test]
    fn the_language_switcher_keeps_the_rest_of_the_query() {
        assert_eq!(
            without_lang("org_id=20&lang=en&period=2026-12"),
            "org_id=20&period=2026-12"
        );
        assert_eq!(without_lang("lang=zh-CN"), "");
    }
}
