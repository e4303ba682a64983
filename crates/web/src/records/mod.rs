//! Records: the evidence schools keep (drills, patrols, class hours, reports…), entered,
//! corrected and withdrawn with their history, and problems they found reported as hazards.

mod api;
pub mod input;
mod pages;

pub use pages::{RecordLine, record_lines};

use crate::kit::Routes;
use utoipa_axum::routes;
use xiaoan_domain::Permission::{HazardReport, RecordRead, RecordWrite};

/// The routes.
pub fn routes() -> Routes {
    Routes::new()
        .api(RecordRead, routes!(api::list))
        .api(RecordWrite, routes!(api::create))
        .api(RecordWrite, routes!(api::update))
        .get("/records", RecordRead, pages::list)
        .post("/records", RecordWrite, pages::create)
        .get("/records/new", RecordWrite, pages::new_form)
        .get("/records/{id}", RecordRead, pages::detail)
        .post("/records/{id}", RecordWrite, pages::correct)
        .post("/records/{id}/withdraw", RecordWrite, pages::withdraw)
        .post("/records/{id}/hazards", HazardReport, pages::report_hazard)
}
