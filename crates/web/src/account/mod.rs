//! Signing in and out (pages and API tokens), the caller's own account and password.

mod api;
mod login;
mod page;
mod password;
mod roles;
mod tokens;

pub use roles::{RoleLine, role_lines};

use crate::kit::Routes;
use utoipa_axum::routes;
use xiaoan_domain::Permission::{Public, SelfService};

/// The routes.
pub fn routes() -> Routes {
    Routes::new()
        .api(Public, routes!(tokens::login))
        .api(SelfService, routes!(tokens::logout))
        .api(SelfService, routes!(api::me))
        .api(SelfService, routes!(api::change_password))
        .get("/login", Public, login::form)
        .post("/login", Public, login::submit)
        .post("/logout", SelfService, login::logout)
        .get("/account", SelfService, page::page)
        .post("/account/password", SelfService, page::change_password)
}
