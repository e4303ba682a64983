//! The org tree: the nodes in the caller's scope, school facts, and their administration.

mod api;
mod form;
mod input;
mod pages;

use crate::kit::Routes;
use utoipa_axum::routes;
use xiaoan_domain::Permission::{OrgManage, OrgRead};

/// The routes.
pub fn routes() -> Routes {
    Routes::new()
        .api(OrgRead, routes!(api::list))
        .api(OrgManage, routes!(api::create))
        .api(OrgRead, routes!(api::get))
        .api(OrgManage, routes!(api::update))
        .api(OrgRead, routes!(api::facts))
        .get("/orgs", OrgRead, pages::list)
        .post("/orgs", OrgManage, pages::create)
        .get("/orgs/new", OrgManage, pages::new_form)
        .get("/orgs/{id}", OrgRead, pages::detail)
        .post("/orgs/{id}", OrgManage, pages::update)
}
