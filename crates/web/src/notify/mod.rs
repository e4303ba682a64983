//! Notifications as people meet them: the inbox (unread count in the header, mark read,
//! a link to the object), their own preferences, and the delivery channels of the orgs
//! they run.

mod api;
mod input;
mod pages;

use crate::kit::Routes;
use utoipa_axum::routes;
use xiaoan_domain::Permission::{ChannelManage, SelfService};

pub use input::{entry_title, object_path};

/// The routes.
pub fn routes() -> Routes {
    Routes::new()
        .api(SelfService, routes!(api::inbox))
        .api(SelfService, routes!(api::read))
        .api(SelfService, routes!(api::get_settings, api::put_settings))
        .api(ChannelManage, routes!(api::add_channel))
        .api(ChannelManage, routes!(api::remove_channel))
        .get("/inbox", SelfService, pages::inbox)
        .post("/inbox/{id}/read", SelfService, pages::read)
        .post("/inbox/read-all", SelfService, pages::read_all)
        .get("/settings/notifications", SelfService, pages::settings)
        .post("/settings/notifications", SelfService, pages::save_prefs)
        .post("/settings/channels", ChannelManage, pages::add_channel)
        .post(
            "/settings/channels/{id}/remove",
            ChannelManage,
            pages::remove_channel,
        )
}
