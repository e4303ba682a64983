//! Accounts and their roles: lists, creation, role assignment, disabling and password resets.

mod api;
mod input;
mod pages;

pub use input::RoleOut;

use crate::kit::Routes;
use utoipa_axum::routes;
use xiaoan_domain::Permission::{UserManage, UserRead};

/// The routes.
pub fn routes() -> Routes {
    Routes::new()
        .api(UserRead, routes!(api::list))
        .api(UserManage, routes!(api::create))
        .api(UserRead, routes!(api::get))
        .api(UserManage, routes!(api::update))
        .api(UserManage, routes!(api::reset_password))
        .get("/users", UserRead, pages::list)
        .post("/users", UserManage, pages::create)
        .get("/users/new", UserManage, pages::new_form)
        .get("/users/{login}", UserRead, pages::detail)
        .post("/users/{login}", UserManage, pages::update)
        .post("/users/{login}/roles", UserManage, pages::roles)
        .post("/users/{login}/status", UserManage, pages::status)
        .post("/users/{login}/password", UserManage, pages::reset_password)
}
