//! Records: the evidence schools keep (drills, patrols, class hours, reports…), entered,
//! corrected and withdrawn with their history, and problems they found reported as hazards.

mod api;
pub mod input;
mod pages;

pub use pages::{RecordLine, record_lines};

use crate::attachments::PAGE_UPLOAD_LIMIT;
use crate::kit::Routes;
use axum::extract::DefaultBodyLimit;
use axum::http::Method;
use axum::routing::post;
use utoipa_axum::routes;
use xiaoan_domain::Permission::{HazardReport, RecordRead, RecordWrite};

/// The routes.
pub fn routes() -> Routes {
    Routes::new()
        .api(RecordRead, routes!(api::list))
        .api(RecordWrite, routes!(api::create))
        .api(RecordWrite, routes!(api::update))
        .get("/records", RecordRead, pages::list)
        .route(
            Method::POST,
            "/records",
            RecordWrite,
            post(pages::create).layer(DefaultBodyLimit::max(PAGE_UPLOAD_LIMIT)),
        )
        .get("/records/new", RecordWrite, pages::new_form)
        .get("/records/{id}", RecordRead, pages::detail)
        .route(
            Method::POST,
            "/records/{id}",
            RecordWrite,
            post(pages::correct).layer(DefaultBodyLimit::max(PAGE_UPLOAD_LIMIT)),
        )
        .post("/records/{id}/withdraw", RecordWrite, pages::withdraw)
        .post("/records/{id}/hazards", HazardReport, pages::report_hazard)
}
