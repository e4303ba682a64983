//! The hazard card of the home page: what needs attention in the caller's scope.

use crate::kit::AppState;
use crate::kit::Caller;
use crate::kit::error::AppResult;
use xiaoan_domain::Permission;
use xiaoan_domain::hazard::Status;
use xiaoan_store::hazards::{self, HazardFilter};

/// One tile: a count and the list it links to.
pub struct Tile {
    pub label: String,
    pub count: i64,
    pub href: &'static str,
    pub alert: bool,
}

/// The tiles for the caller, or `None` when they cannot see hazards.
#[tracing::instrument(skip_all)]
pub async fn summary(st: &AppState, caller: &Caller) -> AppResult<Option<Vec<Tile>>> {
    if !caller.can(Permission::HazardRead) {
        return Ok(None);
    }
    let l = caller.lang;
    let scope = caller.scope(Permission::HazardRead);
    let today = st.config.today();
    let all = hazards::counts(
        &st.db,
        &scope,
        &HazardFilter {
            open: true,
            ..Default::default()
        },
        today,
    )
    .await?;
    let n = |st: Status| {
        all.by_status
            .iter()
            .find(|(x, _)| *x == st)
            .map_or(0, |(_, n)| *n)
    };
    let open: i64 = all.by_status.iter().map(|(_, n)| n).sum();
    let escalated = hazards::counts(
        &st.db,
        &scope,
        &HazardFilter {
            open: true,
            escalation_at_least: Some(xiaoan_domain::hazard::Escalation::Centre),
            ..Default::default()
        },
        today,
    )
    .await?;
    let mine = hazards::counts(
        &st.db,
        &scope,
        &HazardFilter {
            open: true,
            owner_id: Some(caller.user.id),
            ..Default::default()
        },
        today,
    )
    .await?;
    let t = |key: &str, count, href, alert| Tile {
        label: l.t(key),
        count,
        href,
        alert,
    };
    Ok(Some(vec![
        t("hazards.view.open", open, "/hazards?view=open", false),
        t(
            "hazards.home.unregistered",
            n(Status::Reported),
            "/hazards?status=reported",
            false,
        ),
        t(
            "hazards.home.awaiting",
            n(Status::Submitted),
            "/hazards?status=submitted",
            false,
        ),
        t(
            "hazards.view.overdue",
            all.overdue,
            "/hazards?view=overdue",
            all.overdue > 0,
        ),
        t(
            "hazards.view.escalated",
            escalated.by_status.iter().map(|(_, n)| n).sum(),
            "/hazards?view=escalated",
            false,
        ),
        t(
            "hazards.view.listed",
            all.listed,
            "/hazards?view=listed",
            all.listed > 0,
        ),
        t(
            "hazards.home.mine",
            mine.by_status.iter().map(|(_, n)| n).sum(),
            "/hazards?view=mine",
            false,
        ),
    ]))
}
