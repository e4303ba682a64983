//! The roles a user holds, with the names of the orgs they hold them at.

use crate::kit::page::role_label;
use crate::kit::{AppResult, AppState, Caller};
use xiaoan_store::orgs;

/// A role held, with the name of the org it is held at.
pub struct RoleLine {
    pub role: String,
    pub org: String,
    pub org_id: i64,
}

/// The caller's roles with org names.
#[tracing::instrument(skip_all)]
pub async fn role_lines(st: &AppState, caller: &Caller) -> AppResult<Vec<RoleLine>> {
    let mut out = Vec::new();
    for a in &caller.assignments {
        let org = orgs::get(
            &st.db,
            &xiaoan_domain::Scope::subtree(&a.org_path),
            a.org_id,
        )
        .await?;
        out.push(RoleLine {
            role: role_label(caller.lang, a.role),
            org: org.name,
            org_id: org.id,
        });
    }
    Ok(out)
}
