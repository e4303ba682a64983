//! Supervision: the bureau or a centre issues reminders, notices, warnings, interview
//! summons and accountability decisions to schools, each with a letter (a printable page
//! and a docx); the school responds by the deadline, the issuer accepts or returns the
//! response, and an unanswered item climbs to the next rung by itself.

mod api;
mod input;
mod pages;

use crate::attachments::PAGE_UPLOAD_LIMIT;
use crate::kit::Routes;
use axum::extract::DefaultBodyLimit;
use axum::http::Method;
use axum::routing::post;
use utoipa_axum::routes;
use xiaoan_domain::Permission::{SupervisionIssue, SupervisionRead, SupervisionRespond};

/// The routes.
pub fn routes() -> Routes {
    Routes::new()
        .api(SupervisionRead, routes!(api::list))
        .api(SupervisionIssue, routes!(api::issue))
        .api(SupervisionRead, routes!(api::get))
        .api(SupervisionRespond, routes!(api::respond))
        .api(SupervisionIssue, routes!(api::accept))
        .api(SupervisionIssue, routes!(api::send_back))
        .get("/supervision", SupervisionRead, pages::list)
        .get("/supervision/new", SupervisionIssue, pages::new_form)
        .post("/supervision", SupervisionIssue, pages::issue)
        .get("/supervision/{id}", SupervisionRead, pages::detail)
        .get(
            "/supervision/{id}/letter.docx",
            SupervisionRead,
            pages::letter,
        )
        .route(
            Method::POST,
            "/supervision/{id}/respond",
            SupervisionRespond,
            post(pages::respond).layer(DefaultBodyLimit::max(PAGE_UPLOAD_LIMIT)),
        )
        .post("/supervision/{id}/accept", SupervisionIssue, pages::accept)
        .post(
            "/supervision/{id}/return",
            SupervisionIssue,
            pages::send_back,
        )
}
