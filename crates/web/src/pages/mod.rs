//! Server-rendered pages. Each page is an askama template struct holding a [`Layout`]
//! (language, navigation for the caller's roles, form token); nothing needs JavaScript.

mod account;
mod audit;
mod calendar;
mod campaign;
pub(crate) mod compliance;
mod due;
mod hazards;
mod home;
mod login;
pub(crate) mod orgs;
pub(crate) mod records;
mod users;

use crate::AppState;
use crate::auth::Caller;
use crate::i18n::Lang;
use askama::Template;
use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use xiaoan_domain::Permission;

/// The most a page form with photos may send: five photos and the text.
const PAGE_UPLOAD_LIMIT: usize = 5 * crate::photos::MAX_BYTES + 256 * 1024;

/// The page routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/static/app.css", get(stylesheet))
        .route("/login", get(login::form).post(login::submit))
        .route("/logout", post(login::logout))
        .route("/", get(home::page))
        .route("/account", get(account::page))
        .route("/account/password", post(account::change_password))
        .route("/orgs", get(orgs::list).post(orgs::create))
        .route("/orgs/new", get(orgs::new_form))
        .route("/orgs/{id}", get(orgs::detail).post(orgs::update))
        .route("/users", get(users::list).post(users::create))
        .route("/users/new", get(users::new_form))
        .route("/users/{login}", get(users::detail).post(users::update))
        .route("/users/{login}/roles", post(users::roles))
        .route("/users/{login}/status", post(users::status))
        .route("/users/{login}/password", post(users::reset_password))
        .route("/audit", get(audit::page))
        .route(
            "/hazards",
            get(hazards::list)
                .post(hazards::create)
                .layer(axum::extract::DefaultBodyLimit::max(PAGE_UPLOAD_LIMIT)),
        )
        .route("/hazards/new", get(hazards::new_form))
        .route("/hazards/lists", get(hazards::print))
        .route("/hazards/export.xlsx", get(hazards::export))
        .route("/hazards/{id}", get(hazards::detail))
        .route(
            "/hazards/{id}/transitions",
            post(hazards::transition)
                .layer(axum::extract::DefaultBodyLimit::max(PAGE_UPLOAD_LIMIT)),
        )
        .route("/attachments/{id}", get(hazards::photo))
        .route("/due", get(due::page))
        .route("/compliance", get(compliance::matrix))
        .route("/compliance/cell", get(compliance::cell))
        .route("/compliance/recompute", post(compliance::recompute))
        .route("/campaign", get(campaign::overview))
        .route("/campaign/sections", get(campaign::sections))
        .route("/calendar", get(calendar::page))
        .route("/calendar/terms", post(calendar::set_term))
        .route("/calendar/terms/remove", post(calendar::remove_term))
        .route("/calendar/days", post(calendar::set_day))
        .route("/calendar/days/remove", post(calendar::remove_day))
        .route("/records", get(records::list).post(records::create))
        .route("/records/new", get(records::new_form))
        .route("/records/{id}", get(records::detail).post(records::correct))
        .route("/records/{id}/withdraw", post(records::withdraw))
        .route("/records/{id}/hazards", post(records::report_hazard))
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../static/app.css"),
    )
        .into_response()
}

/// One entry of the navigation bar.
pub struct NavItem {
    pub href: &'static str,
    pub label: String,
    pub active: bool,
}

/// What every page's frame needs.
pub struct Layout {
    pub lang: Lang,
    pub title: String,
    /// Display name and login of the signed-in user.
    pub user: Option<(String, String)>,
    pub nav: Vec<NavItem>,
    pub csrf: String,
    /// A flash message shown on top.
    pub notice: Option<String>,
}

impl Layout {
    /// The frame for a signed-in caller; `active` is the navigation entry to highlight.
    pub fn new(caller: &Caller, title_key: &str, active: &str) -> Layout {
        let lang = caller.lang;
        let entries: &[(&'static str, &str, Option<Permission>)] = &[
            ("/", "nav.home", None),
            ("/orgs", "nav.orgs", Some(Permission::OrgRead)),
            ("/users", "nav.users", Some(Permission::UserRead)),
            ("/hazards", "nav.hazards", Some(Permission::HazardRead)),
            ("/due", "nav.due", Some(Permission::PlanRead)),
            ("/compliance", "nav.compliance", Some(Permission::PlanRead)),
            ("/campaign", "nav.campaign", Some(Permission::PlanRead)),
            ("/records", "nav.records", Some(Permission::RecordRead)),
            ("/audit", "nav.audit", Some(Permission::AuditRead)),
            ("/account", "nav.account", None),
        ];
        let nav = entries
            .iter()
            .filter(|(_, _, p)| {
                p.is_none_or(|p| caller.can(p)) && !caller.user.must_change_password
            })
            .map(|(href, key, _)| NavItem {
                href,
                label: lang.t(key),
                active: *href == active,
            })
            .collect();
        Layout {
            lang,
            title: lang.t(title_key),
            user: Some((caller.user.display_name.clone(), caller.user.login.clone())),
            nav,
            csrf: caller.csrf.clone(),
            notice: None,
        }
    }

    /// The frame for a visitor who is not signed in.
    pub fn anonymous(lang: Lang, title_key: &str, csrf: String) -> Layout {
        Layout {
            lang,
            title: lang.t(title_key),
            user: None,
            nav: vec![],
            csrf,
            notice: None,
        }
    }

    /// Translates `key` in the page's language.
    pub fn t(&self, key: &str) -> String {
        self.lang.t(key)
    }

    /// The languages to offer in the switcher.
    pub fn langs(&self) -> [Lang; 3] {
        Lang::ALL
    }
}

/// Renders a template into a response, or a plain 500 if rendering fails.
pub fn render(t: &impl Template) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

/// Renders a page that may carry a form error: 400 when `bad`, so that nothing treats the
/// refused submission as a success.
pub fn render_checked(t: &impl Template, bad: bool) -> Response {
    let mut res = render(t);
    if bad {
        *res.status_mut() = StatusCode::BAD_REQUEST;
    }
    res
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    l: Layout,
    status: u16,
    message: String,
}

/// A full error page in the caller's language.
pub fn error_page(status: StatusCode, lang: Lang, message: &str) -> Response {
    let l = Layout::anonymous(lang, "error.title", String::new());
    let mut res = render(&ErrorPage {
        l,
        status: status.as_u16(),
        message: message.to_string(),
    });
    *res.status_mut() = status;
    res
}

/// The answer for paths that match no route.
pub async fn not_found(lang: Lang, uri: axum::http::Uri) -> Response {
    if uri.path().starts_with("/api/") {
        crate::error::AppError::not_found(lang, crate::error::Surface::Api).into_response()
    } else {
        error_page(StatusCode::NOT_FOUND, lang, &lang.t("error.not_found"))
    }
}

/// The label of a role code in `lang`.
pub fn role_label(lang: Lang, role: xiaoan_domain::Role) -> String {
    lang.t(&format!("role.{}", role.code()))
}

/// The label of an org kind or school type code in `lang`.
pub fn kind_label(lang: Lang, code: &str) -> String {
    lang.t(&format!("kind.{code}"))
}
