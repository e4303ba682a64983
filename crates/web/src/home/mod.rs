//! The home page: who you are, what you hold, and the size of what you can see.

use crate::account::{RoleLine, role_lines};
use crate::kit::AppState;
use crate::kit::Caller;
use crate::kit::Routes;
use crate::kit::error::AppResult;
use crate::kit::page::{Layout, kind_label, render};
use askama::Template;
use axum::extract::State;
use axum::response::Response;
use xiaoan_domain::{OrgKind, Permission};
use xiaoan_store::orgs::{self, OrgFilter};

/// The routes.
pub fn routes() -> Routes {
    Routes::new().get("/", Permission::SelfService, page)
}

#[derive(Template)]
#[template(path = "home/home.html")]
struct HomePage {
    l: Layout,
    roles: Vec<RoleLine>,
    /// (label, count) per org kind in scope.
    counts: Vec<(String, i64)>,
    /// (label, count) per school type in scope.
    school_types: Vec<(String, i64)>,
    /// What needs attention among the hazards in scope.
    hazards: Option<Vec<crate::hazards::Tile>>,
    /// Alarms, devices offline and video gaps in scope.
    monitoring: Option<Vec<crate::hazards::Tile>>,
    /// Obligations overdue, due this week or just missed (until notifications exist).
    reminders: Option<crate::plan::Reminders>,
    /// Whether the caller may report a hazard (the route's permission).
    can_report: bool,
}

/// `GET /`.
#[tracing::instrument(skip_all)]
pub async fn page(State(st): State<AppState>, caller: Caller) -> AppResult<Response> {
    let l = caller.lang;
    let scope = caller.scope(Permission::OrgRead);
    let counts = orgs::count_by_kind(&st.db, &scope).await?;
    let counts = OrgKind::ALL
        .iter()
        .filter_map(|k| {
            counts
                .iter()
                .find(|(c, _)| c == k)
                .map(|(_, n)| (kind_label(l, k.code()), *n))
        })
        .collect();
    let schools = orgs::list(
        &st.db,
        &scope,
        &OrgFilter {
            kind: Some(OrgKind::School),
            ..Default::default()
        },
    )
    .await?;
    let school_types = xiaoan_domain::SchoolType::ALL
        .iter()
        .map(|t| {
            (
                kind_label(l, t.code()),
                schools
                    .iter()
                    .filter(|o| o.school.as_ref().is_some_and(|f| f.school_type == *t))
                    .count() as i64,
            )
        })
        .filter(|(_, n)| *n > 0)
        .collect();
    let page = HomePage {
        l: Layout::new(&caller, "home.title", "/"),
        roles: role_lines(&st, &caller).await?,
        counts,
        school_types,
        hazards: crate::hazards::summary(&st, &caller).await?,
        monitoring: crate::iot::summary(&st, &caller).await?,
        reminders: crate::plan::reminders(&st, &caller).await?,
        can_report: caller.may("GET", "/hazards/new"),
    };
    Ok(render(&page))
}
