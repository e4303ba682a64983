//! One error type for handlers, turned into a response in one place: JSON
//! `{"error":{"code","message"}}` under `/api`, a page elsewhere; messages in the caller's
//! language; database failures logged once and answered with an opaque 500.

use crate::i18n::Lang;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use xiaoan_store::StoreError;

/// Whether the error goes to an API client or a browser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    Api,
    Page,
}

/// A failed request: status, stable code, translated message.
#[derive(Debug)]
pub struct AppError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub surface: Surface,
    pub lang: Lang,
}

impl AppError {
    /// An error whose message is the translation of `error.<code>`.
    pub fn new(status: StatusCode, code: &'static str, lang: Lang, surface: Surface) -> Self {
        let message = lang.t(&format!("error.{code}"));
        AppError {
            status,
            code,
            message,
            surface,
            lang,
        }
    }

    /// Adds detail after the translated message.
    pub fn with_detail(mut self, detail: impl AsRef<str>) -> Self {
        self.message = format!("{} ({})", self.message, detail.as_ref());
        self
    }

    /// 404, the same for missing and out-of-scope objects.
    pub fn not_found(lang: Lang, surface: Surface) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", lang, surface)
    }

    /// 400 for input that breaks a rule named by `code`.
    pub fn invalid(code: &'static str, lang: Lang, surface: Surface) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, lang, surface)
    }

    /// Maps a store error.
    pub fn from_store(e: StoreError, lang: Lang, surface: Surface) -> Self {
        match e {
            StoreError::NotFound => Self::not_found(lang, surface),
            StoreError::Conflict(code) => Self::new(StatusCode::CONFLICT, code, lang, surface),
            StoreError::Invalid(code) => Self::new(StatusCode::BAD_REQUEST, code, lang, surface),
            StoreError::Forbidden(code) => Self::new(StatusCode::FORBIDDEN, code, lang, surface),
            StoreError::Illegal { from, action } => {
                let mut e = Self::new(StatusCode::CONFLICT, "illegal_transition", lang, surface);
                e.message = e
                    .message
                    .replace("%{action}", &lang.t(&format!("hazard.action.{action}")))
                    .replace("%{from}", &lang.t(&format!("hazard.status.{from}")));
                e
            }
            StoreError::Db(e) => {
                tracing::error!(error = %e, "database error");
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", lang, surface)
            }
            StoreError::Internal(e) => {
                tracing::error!(error = %e, "internal error");
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", lang, surface)
            }
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        match self.surface {
            Surface::Api => {
                let body =
                    serde_json::json!({"error": {"code": self.code, "message": self.message}});
                (self.status, axum::Json(body)).into_response()
            }
            Surface::Page => crate::pages::error_page(self.status, self.lang, &self.message),
        }
    }
}

/// Result alias for handlers.
pub type AppResult<T> = Result<T, AppError>;

/// Attaches a language and surface to store results: `store_call().await.ctx(lang, surface)?`.
pub trait StoreCtx<T> {
    fn ctx(self, lang: Lang, surface: Surface) -> AppResult<T>;
}

impl<T> StoreCtx<T> for Result<T, StoreError> {
    fn ctx(self, lang: Lang, surface: Surface) -> AppResult<T> {
        self.map_err(|e| AppError::from_store(e, lang, surface))
    }
}

/// Maps a rejected text field to a 400 naming the field.
pub fn text_error(e: xiaoan_domain::text::TextError, lang: Lang, surface: Surface) -> AppError {
    use xiaoan_domain::text::TextErrorKind::*;
    let field = lang.t(&format!("field.{}", e.field));
    let (code, msg) = match e.kind {
        Empty => ("field_empty", lang.t1("error.field_empty", "field", &field)),
        TooLong { max } => (
            "field_too_long",
            lang.t1("error.field_too_long", "field", &field)
                .replace("%{max}", &max.to_string()),
        ),
        BadCharacters => (
            "field_bad_characters",
            lang.t1("error.field_bad_characters", "field", &field),
        ),
    };
    AppError {
        status: StatusCode::BAD_REQUEST,
        code,
        message: msg,
        surface,
        lang,
    }
}
