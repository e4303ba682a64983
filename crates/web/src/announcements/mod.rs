//! Announcements: the bureau or a centre publishes to the schools under it (everyone, or
//! chosen roles); each recipient acknowledges reading it and the publisher sees who has not.

mod api;
mod pages;

use crate::kit::Routes;
use utoipa_axum::routes;
use xiaoan_domain::Permission::{AnnouncementPublish, SelfService};

/// The routes.
pub fn routes() -> Routes {
    Routes::new()
        .api(SelfService, routes!(api::list))
        .api(AnnouncementPublish, routes!(api::publish_route))
        .api(SelfService, routes!(api::ack))
        .get("/announcements", SelfService, pages::list)
        .get("/announcements/new", AnnouncementPublish, pages::new_form)
        .post("/announcements", AnnouncementPublish, pages::publish)
        .get("/announcements/{id}", SelfService, pages::detail)
        .post("/announcements/{id}/ack", SelfService, pages::ack)
}

use crate::kit::error::{AppError, AppResult};
use crate::kit::{AppState, Caller};
use xiaoan_domain::{Permission, Role};
use xiaoan_store::announcements::{self, Announcement, NewAnnouncement};

/// Publishes as `caller` from `org_id` (their first publishing org when none).
pub(crate) async fn publish(
    st: &AppState,
    caller: &Caller,
    org_id: Option<i64>,
    title: &str,
    body: &str,
    roles: &[String],
) -> AppResult<Announcement> {
    if !caller.can(Permission::AnnouncementPublish) {
        return Err(AppError::forbidden("forbidden"));
    }
    let title = title.trim();
    if title.is_empty() || title.chars().count() > 200 {
        return Err(AppError::invalid("announcement_title"));
    }
    let body = body.trim();
    if body.is_empty() || body.chars().count() > 20_000 {
        return Err(AppError::invalid("announcement_body"));
    }
    let mut parsed = Vec::new();
    for r in roles.iter().filter(|r| !r.trim().is_empty()) {
        let role = Role::from_code(r.trim()).ok_or_else(|| AppError::invalid("role_unknown"))?;
        if !role.is_school_role() {
            return Err(AppError::invalid("announcement_role"));
        }
        parsed.push(role);
    }
    let org_id = match org_id {
        Some(o) => o,
        None => *publisher_orgs(caller)
            .first()
            .ok_or_else(|| AppError::invalid("announcement_org"))?,
    };
    let new = NewAnnouncement {
        org_id,
        title: title.to_string(),
        body: body.to_string(),
        roles: parsed,
    };
    Ok(announcements::publish(
        &st.db,
        &caller.actor(),
        caller.user.id,
        &caller.scope(Permission::AnnouncementPublish),
        &new,
    )
    .await?)
}

/// The orgs the caller publishes from.
pub(crate) fn publisher_orgs(caller: &Caller) -> Vec<i64> {
    let mut v: Vec<i64> = caller
        .assignments
        .iter()
        .filter(|a| Permission::AnnouncementPublish.granted_to(a.role))
        .map(|a| a.org_id)
        .collect();
    v.dedup();
    v
}
