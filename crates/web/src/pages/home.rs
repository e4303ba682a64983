//! The home page: who you are, what you hold, and the size of what you can see.

use super::{Layout, kind_label, render, role_label};
use crate::AppState;
use crate::auth::Caller;
use crate::error::{AppResult, StoreCtx};
use askama::Template;
use axum::extract::State;
use axum::response::Response;
use xiaoan_domain::{OrgKind, Permission};
use xiaoan_store::orgs::{self, OrgFilter};

/// A role held, with the name of the org it is held at.
pub struct RoleLine {
    pub role: String,
    pub org: String,
    pub org_id: i64,
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    l: Layout,
    roles: Vec<RoleLine>,
    /// (label, count) per org kind in scope.
    counts: Vec<(String, i64)>,
    /// (label, count) per school type in scope.
    school_types: Vec<(String, i64)>,
    /// What needs attention among the hazards in scope.
    hazards: Option<Vec<super::hazards::Tile>>,
    /// Obligations overdue, due this week or just missed (until notifications exist).
    reminders: Option<super::due::Reminders>,
}

/// The caller's roles with org names.
pub async fn role_lines(st: &AppState, caller: &Caller) -> AppResult<Vec<RoleLine>> {
    let mut out = Vec::new();
    for a in &caller.assignments {
        let org = orgs::get(
            &st.db,
            &xiaoan_domain::Scope::subtree(&a.org_path),
            a.org_id,
        )
        .await
        .ctx(caller.lang, caller.surface)?;
        out.push(RoleLine {
            role: role_label(caller.lang, a.role),
            org: org.name,
            org_id: org.id,
        });
    }
    Ok(out)
}

/// `GET /`.
pub async fn page(State(st): State<AppState>, caller: Caller) -> AppResult<Response> {
    let (l, s) = (caller.lang, caller.surface);
    let scope = caller.scope_for(Permission::OrgRead);
    let counts = orgs::count_by_kind(&st.db, &scope).await.ctx(l, s)?;
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
    .await
    .ctx(l, s)?;
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
        hazards: super::hazards::summary(&st, &caller).await?,
        reminders: super::due::reminders(&st, &caller).await?,
    };
    Ok(render(&page))
}
