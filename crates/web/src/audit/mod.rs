//! The audit log: recent entries and the verification of its hash chain.

mod api;
mod page;

use crate::kit::Routes;
use utoipa_axum::routes;
use xiaoan_domain::Permission::AuditRead;

/// The routes.
pub fn routes() -> Routes {
    Routes::new()
        .api(AuditRead, routes!(api::list))
        .api(AuditRead, routes!(api::verify))
        .get("/audit", AuditRead, page::page)
}
