//! Photos: uploads cleaned of every piece of metadata, stored outside any served path, and
//! handed out only to those who may see them. Other features take photos through
//! [`store_photo`] and show them through [`file_response`].

mod api;
pub mod form;
pub mod photos;
mod service;

pub use form::{Submitted, read as read_form};
pub use service::{Disposition, file_response, store_photo};

use crate::kit::{AppResult, AppState, Caller, Id, Routes};
use axum::extract::{DefaultBodyLimit, State};
use axum::response::Response;
use utoipa_axum::router::UtoipaMethodRouterExt;
use utoipa_axum::routes;
use xiaoan_domain::Permission::{HazardRead, HazardReport};

/// The body limit of a page form that carries photos (five at most, and its text).
pub const PAGE_UPLOAD_LIMIT: usize = 5 * photos::MAX_BYTES + 256 * 1024;

/// The routes.
pub fn routes() -> Routes {
    Routes::new()
        .api(
            HazardReport,
            routes!(api::upload).layer(DefaultBodyLimit::max(photos::MAX_BYTES + 64 * 1024)),
        )
        .api(HazardRead, routes!(api::download))
        .get("/attachments/{id}", HazardRead, page_download)
}

/// `GET /attachments/{id}`: a photo for the pages.
async fn page_download(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> AppResult<Response> {
    file_response(&st, &caller, id, Disposition::Inline).await
}
