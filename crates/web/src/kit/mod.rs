//! The machinery every feature shares and that depends on no feature: state, the caller and
//! authorisation, route registration, memory budgets, errors and the localising layer,
//! extractors, page rendering and form widgets, languages, security layers and settings.

pub mod auth;
pub mod budget;
pub mod config;
pub mod error;
pub mod extract;
pub mod form_token;
pub mod i18n;
pub mod openapi;
pub mod page;
pub mod routes;
pub(crate) mod security;
pub mod state;
pub mod widgets;

pub use auth::Caller;
pub use error::{AppError, AppResult};
pub use extract::{ApiJson, ApiQuery, Id, from_json, parse_code};
pub use i18n::Lang;
pub use openapi::ErrorBody;
pub use page::{Layout, render, render_checked};
pub use routes::Routes;
pub use state::AppState;
pub use widgets::Choice;
