//! One error type for handlers. An [`AppError`] carries only what went wrong: a status, a
//! stable code, the arguments of its message and an optional detail. It knows neither the
//! caller's language nor whether the caller is an API client or a browser: the [`localise`]
//! layer, installed once around the whole application, renders it as JSON
//! `{"error":{"code","message"}}` under `/api` or as a page elsewhere, in the request's
//! language. Database and internal failures are logged once, where they are converted, with
//! the place in the code that met them and the request's span, and answered with an opaque 500.

use crate::kit::i18n::Lang;
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use xiaoan_store::StoreError;

/// Whether a response goes to an API client or a browser; decided from the path alone, here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    Api,
    Page,
}

impl Surface {
    /// The surface of a request path: everything under `/api/` is the JSON API.
    pub fn of(path: &str) -> Surface {
        if path.starts_with("/api/") {
            Surface::Api
        } else {
            Surface::Page
        }
    }
}

/// A value substituted for `%{name}` in an error message.
#[derive(Debug, Clone)]
pub enum Arg {
    /// Shown as it is (a number, a name the user typed).
    Text(String),
    /// A translation key, translated in the caller's language.
    Key(String),
    /// Already worded in each language, in the order of [`Lang::ALL`].
    Each([String; 3]),
}

impl Arg {
    fn render(&self, lang: Lang) -> String {
        match self {
            Arg::Text(t) => t.clone(),
            Arg::Key(k) => lang.t(k),
            Arg::Each(each) => {
                let i = Lang::ALL.iter().position(|l| *l == lang).unwrap_or(0);
                each[i].clone()
            }
        }
    }
}

/// A failed request: status, stable code, the arguments of its message, optional detail.
#[derive(Debug, Clone)]
pub struct AppError {
    pub status: StatusCode,
    pub code: &'static str,
    pub args: Vec<(&'static str, Arg)>,
    pub detail: Option<String>,
    /// The message key (`error.<key>`) when it is not the code's own: one code, worded
    /// more precisely (`bad_fields` naming the field that is missing).
    pub wording: Option<&'static str>,
    /// Seconds after which trying again may succeed: sent as `Retry-After`.
    pub retry_after: Option<u64>,
    /// The input fields refused, by their keys: `error.fields` in the API's answer (the
    /// message names them in words).
    pub fields: Box<[String]>,
}

impl AppError {
    /// An error whose message is the translation of `error.<code>`.
    pub fn new(status: StatusCode, code: &'static str) -> Self {
        AppError {
            status,
            code,
            args: Vec::new(),
            detail: None,
            wording: None,
            retry_after: None,
            fields: Box::default(),
        }
    }

    /// Names the refused input fields by key for API clients.
    pub fn with_fields(mut self, fields: Vec<String>) -> Self {
        self.fields = fields.into_boxed_slice();
        self
    }

    /// 404, the same for missing and out-of-scope objects.
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found")
    }

    /// 400 for input that breaks a rule named by `code`.
    pub fn invalid(code: &'static str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code)
    }

    /// 403 for a step the caller may not take.
    pub fn forbidden(code: &'static str) -> Self {
        Self::new(StatusCode::FORBIDDEN, code)
    }

    /// 409 for a request that conflicts with the current state.
    pub fn conflict(code: &'static str) -> Self {
        Self::new(StatusCode::CONFLICT, code)
    }

    /// Adds detail after the translated message.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// Tells the client to try again after `seconds` (`Retry-After`).
    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// Words the message with `error.<key>` instead of `error.<code>` (the code stays).
    pub fn worded(mut self, key: &'static str) -> Self {
        self.wording = Some(key);
        self
    }

    /// Substitutes `value` as it is for `%{name}`.
    pub fn arg(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.args.push((name, Arg::Text(value.into())));
        self
    }

    /// Substitutes the translation of `key` for `%{name}`.
    pub fn arg_key(mut self, name: &'static str, key: impl Into<String>) -> Self {
        self.args.push((name, Arg::Key(key.into())));
        self
    }

    /// Substitutes `word(lang)` for `%{name}`, worded once per language.
    pub fn arg_each(mut self, name: &'static str, word: impl Fn(Lang) -> String) -> Self {
        self.args.push((name, Arg::Each(Lang::ALL.map(word))));
        self
    }

    /// The message in `lang`: the translation of `error.<code>` with its arguments, and the
    /// detail in parentheses.
    pub fn message(&self, lang: Lang) -> String {
        let mut m = lang.t(&format!("error.{}", self.wording.unwrap_or(self.code)));
        for (name, value) in &self.args {
            m = m.replace(&format!("%{{{name}}}"), &value.render(lang));
        }
        match &self.detail {
            Some(d) => format!("{m} ({d})"),
            None => m,
        }
    }

    /// The rendered response for `lang` and `surface`.
    pub fn render(&self, lang: Lang, surface: Surface) -> Response {
        let message = self.message(lang);
        match surface {
            Surface::Api => {
                let mut body =
                    serde_json::json!({"error": {"code": self.code, "message": message}});
                if !self.fields.is_empty() {
                    body["error"]["fields"] = serde_json::json!(self.fields);
                }
                (self.status, axum::Json(body)).into_response()
            }
            Surface::Page => crate::kit::page::error_page(self.status, lang, &message),
        }
    }
}

impl From<StoreError> for AppError {
    #[track_caller]
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::not_found(),
            StoreError::Conflict(code) => Self::conflict(code),
            StoreError::Invalid(code) => Self::invalid(code),
            StoreError::Forbidden(code) => Self::forbidden(code),
            StoreError::Illegal { from, action } => Self::conflict("illegal_transition")
                .arg_key("action", format!("hazard.action.{action}"))
                .arg_key("from", format!("hazard.status.{from}")),
            StoreError::Db(e) => {
                let at = std::panic::Location::caller();
                tracing::error!(error = %e, %at, "database error");
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
            StoreError::Internal(e) => {
                let at = std::panic::Location::caller();
                tracing::error!(error = %e, %at, "internal error");
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
        }
    }
}

/// The error waiting in a response's extensions for [`localise`] to render it.
#[derive(Clone)]
struct Unrendered(AppError);

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let mut res = self.status.into_response();
        if let Some(seconds) = self.retry_after {
            res.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(seconds));
        }
        res.extensions_mut().insert(Unrendered(self));
        res
    }
}

/// The localising layer: renders every [`AppError`] the inner service answered with, in the
/// request's language, as JSON or a page by the request's path. Headers the error response
/// carried (`Allow`, `Retry-After`…) are kept.
#[tracing::instrument(skip_all)]
pub async fn localise(req: Request, next: Next) -> Response {
    let lang = crate::kit::i18n::from_request(req.uri(), req.headers());
    let surface = Surface::of(req.uri().path());
    let mut res = next.run(req).await;
    let Some(Unrendered(e)) = res.extensions_mut().remove::<Unrendered>() else {
        return res;
    };
    let mut rendered = e.render(lang, surface);
    let kept: HeaderMap = std::mem::take(res.headers_mut());
    for (name, value) in &kept {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            rendered.headers_mut().append(name.clone(), value.clone());
        }
    }
    rendered
}

/// Result alias for handlers.
pub type AppResult<T> = Result<T, AppError>;

/// Maps a rejected text field to a 400 naming the field.
pub fn text_error(e: xiaoan_domain::text::TextError) -> AppError {
    use xiaoan_domain::text::TextErrorKind::*;
    let field = format!("field.{}", e.field);
    match e.kind {
        Empty => AppError::invalid("field_empty").arg_key("field", field),
        TooLong { max } => AppError::invalid("field_too_long")
            .arg_key("field", field)
            .arg("max", max.to_string()),
        BadCharacters => AppError::invalid("field_bad_characters").arg_key("field", field),
    }
}
