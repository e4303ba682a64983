//! Compliance: the obligations' statuses per school and period (API), the bureau's matrix
//! with its drill-in, and the full recompute.

mod api;
mod pages;

use crate::kit::Routes;
use utoipa_axum::routes;
use xiaoan_domain::Permission::{PlanManage, PlanRead};

/// The routes.
pub fn routes() -> Routes {
    Routes::new()
        .api(PlanRead, routes!(api::list))
        .api(PlanManage, routes!(api::recompute))
        .get("/compliance", PlanRead, pages::matrix)
        .get("/compliance/cell", PlanRead, pages::cell)
        .post("/compliance/recompute", PlanManage, pages::recompute)
}
