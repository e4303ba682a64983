//! The hazard closed loop (排查 → 登記 → 整治 → 報告 → 銷賬): reporting from a phone, the
//! list every level sees, one hazard with its history and next step, and the two lists
//! (兩個清單) printed or exported. Input is parsed once, in [`input`], for the API and the
//! pages alike.

mod api;
pub(crate) mod export;
pub mod input;
mod pages;

pub use input::HazardIn;
pub use pages::{Tile, summary};

use crate::kit::{AppResult, AppState, Caller, Routes};
use axum::extract::DefaultBodyLimit;
use axum::http::Method;
use axum::routing::post;
use utoipa_axum::routes;
use xiaoan_domain::Permission;
use xiaoan_domain::Permission::{HazardExport, HazardRead, HazardReport};
use xiaoan_store::hazards::Created;

use crate::attachments::PAGE_UPLOAD_LIMIT;

/// The routes.
pub fn routes() -> Routes {
    Routes::new()
        .api(HazardReport, routes!(api::create))
        .api(HazardRead, routes!(api::list))
        .api(HazardRead, routes!(api::counts))
        .api(HazardExport, routes!(api::export))
        .api(HazardRead, routes!(api::get))
        .api(HazardRead, routes!(api::transition))
        .get("/hazards", HazardRead, pages::list)
        .route(
            Method::POST,
            "/hazards",
            HazardReport,
            post(pages::create).layer(DefaultBodyLimit::max(PAGE_UPLOAD_LIMIT)),
        )
        .get("/hazards/new", HazardReport, pages::new_form)
        .get("/hazards/lists", HazardExport, pages::print)
        .get("/hazards/export.xlsx", HazardExport, pages::export)
        .get("/hazards/{id}", HazardRead, pages::detail)
        .route(
            Method::POST,
            "/hazards/{id}/transitions",
            HazardRead,
            post(pages::transition).layer(DefaultBodyLimit::max(PAGE_UPLOAD_LIMIT)),
        )
}

/// Reports a hazard at a school in the caller's scope: the one way into the closed loop, for
/// the API, the report page and problems found on a record.
#[tracing::instrument(skip_all)]
pub async fn report(st: &AppState, caller: &Caller, body: HazardIn) -> AppResult<Created> {
    let new = input::new_hazard(st, caller, body)?;
    Ok(xiaoan_store::hazards::create(
        &st.db,
        &caller.actor(),
        caller.user.id,
        &caller.scope(Permission::HazardReport),
        new,
        st.config.today(),
    )
    .await?)
}
