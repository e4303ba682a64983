//! Page rendering shared by every feature. Each page is an askama template struct holding a
//! [`Layout`] (language, navigation for the caller's roles, form token); nothing needs
//! JavaScript.

use crate::kit::auth::Caller;
use crate::kit::i18n::Lang;
use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use tower_sessions::Session;
use xiaoan_domain::Permission;

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
    /// The page's query string without `lang` (the language switcher keeps the rest).
    pub query: String,
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
            (
                "/supervision",
                "nav.supervision",
                Some(Permission::SupervisionRead),
            ),
            ("/alarms", "nav.alarms", Some(Permission::AlarmRead)),
            ("/devices", "nav.devices", Some(Permission::DeviceRead)),
            ("/announcements", "nav.announcements", None),
            ("/inbox", "nav.inbox", None),
            ("/jobs", "nav.jobs", Some(Permission::JobManage)),
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
                label: if *href == "/inbox" && caller.unread > 0 {
                    lang.t1("nav.inbox_unread", "n", &caller.unread.to_string())
                } else {
                    lang.t(key)
                },
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
            query: caller.query.clone(),
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
            query: String::new(),
        }
    }

    /// Translates `key` in the page's language.
    pub fn t(&self, key: &str) -> String {
        self.lang.t(key)
    }

    /// The languages to offer in the switcher, each with the address of this page in it.
    pub fn langs(&self) -> Vec<(Lang, String)> {
        Lang::ALL
            .iter()
            .map(|lg| {
                let href = if self.query.is_empty() {
                    format!("?lang={}", lg.code())
                } else {
                    format!("?{}&lang={}", self.query, lg.code())
                };
                (*lg, href)
            })
            .collect()
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

/// Session key of a refused form waiting for its page.
const REFUSED_KEY: &str = "refused_form";

/// A refused form submission, kept in the session for the page that shows the form again:
/// Post/Redirect/Get, so that the address never carries the form and reloading the page
/// does not post it again.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Refused {
    /// The page (path) that shows the form.
    pub path: String,
    /// Why it was refused, in the caller's language.
    pub error: String,
    /// The text fields as submitted, to fill the form in again.
    pub fields: HashMap<String, String>,
    /// Every text field in order, repeated names included (checkboxes of one field).
    #[serde(default)]
    pub pairs: Vec<(String, String)>,
    /// Photos already uploaded with it, shown again so that they need not be sent twice.
    #[serde(default)]
    pub photos: Vec<i64>,
}

/// The field of [`Refused::fields`] holding a whole typed form (see [`Refused::with_form`]).
const FORM_JSON: &str = "form_json";

impl Refused {
    /// A refusal of the form `form` shown on the page at `path`, kept whole (as JSON).
    pub fn with_form<T: Serialize>(path: &str, error: String, form: &T) -> Refused {
        let mut fields = HashMap::new();
        match serde_json::to_string(form) {
            Ok(json) => {
                fields.insert(FORM_JSON.to_string(), json);
            }
            Err(e) => tracing::warn!(error = %e, "could not keep a refused form"),
        }
        Refused {
            path: path.to_string(),
            error,
            fields,
            ..Refused::default()
        }
    }

    /// The typed form kept by [`Refused::with_form`].
    pub fn form<T: serde::de::DeserializeOwned>(&self) -> Option<T> {
        serde_json::from_str(self.fields.get(FORM_JSON)?).ok()
    }
}

/// Answers a refused form: keeps it for the page at `refused.path` and sends the browser to
/// `to` (that page, with its query) with a 303 See Other.
pub async fn refuse(session: &Session, to: &str, refused: Refused) -> Response {
    if let Err(e) = session.insert(REFUSED_KEY, &refused).await {
        tracing::warn!(error = %e, "could not keep a refused form for its page");
    }
    Redirect::to(to).into_response()
}

/// What a form's POST answers: on success a redirect to `done`; refused for what was sent
/// (a 4xx), back to the page at `path` with the error in `lang` and every field of `form`
/// kept; any other error as it is.
pub async fn form_outcome<F: Serialize>(
    session: &Session,
    path: &str,
    done: &str,
    lang: crate::kit::i18n::Lang,
    form: &F,
    result: crate::kit::error::AppResult<()>,
) -> crate::kit::error::AppResult<Response> {
    match result {
        Ok(()) => Ok(Redirect::to(done).into_response()),
        Err(e) if e.status.is_client_error() => {
            let refused = Refused::with_form(path, e.message(lang), form);
            Ok(refuse(session, path, refused).await)
        }
        Err(e) => Err(e),
    }
}

/// Answers a step refused without a form to keep (retire, end, cancel): the page at `path`
/// shows `error` once.
pub async fn refuse_step(session: &Session, path: &str, error: String) -> Response {
    let refused = Refused {
        path: path.to_string(),
        error,
        ..Refused::default()
    };
    refuse(session, path, refused).await
}

/// The refused form waiting for the page at `path`, if any; it is shown once.
pub async fn take_refused(session: &Session, path: &str) -> Option<Refused> {
    let refused = session
        .remove::<Refused>(REFUSED_KEY)
        .await
        .ok()
        .flatten()?;
    (refused.path == path).then_some(refused)
}

#[derive(Template)]
#[template(path = "kit/error.html")]
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
#[tracing::instrument(skip_all)]
pub async fn not_found() -> crate::kit::error::AppError {
    crate::kit::error::AppError::not_found()
}

/// People's names by login, each login looked up once: `name (login)` for an account,
/// the login itself for one that no longer exists. Logins starting with `system` (the
/// background rounds) are left out for the caller to word.
pub async fn display_names(db: &xiaoan_store::Db, logins: &[String]) -> HashMap<String, String> {
    let mut names = HashMap::new();
    for login in logins.iter().map(String::as_str) {
        if names.contains_key(login) || login.starts_with("system") {
            continue;
        }
        let name = xiaoan_store::users::by_login(db, &xiaoan_domain::Scope::everything(), login)
            .await
            .map(|u| format!("{} ({})", u.display_name, u.login))
            .unwrap_or_else(|_| login.to_string());
        names.insert(login.to_string(), name);
    }
    names
}

/// The label of a role code in `lang`.
pub fn role_label(lang: Lang, role: xiaoan_domain::Role) -> String {
    lang.t(&format!("role.{}", role.code()))
}

/// The label of an org kind or school type code in `lang`.
pub fn kind_label(lang: Lang, code: &str) -> String {
    lang.t(&format!("kind.{code}"))
}

#[cfg(test)]
mod tests {
    use super::{Lang, Layout};

    #[test]
    fn language_links_keep_the_page() {
        let mut l = Layout::anonymous(Lang::ZhTw, "app.name", String::new());
        assert_eq!(l.langs()[2].1, "?lang=en");
        l.query = "org_id=20&obligation=weekly-check".into();
        let links: Vec<String> = l.langs().into_iter().map(|(_, href)| href).collect();
        assert_eq!(
            links,
            [
                "?org_id=20&obligation=weekly-check&lang=zh-TW",
                "?org_id=20&obligation=weekly-check&lang=zh-CN",
                "?org_id=20&obligation=weekly-check&lang=en",
            ]
        );
    }
}
