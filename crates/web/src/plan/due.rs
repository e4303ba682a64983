//! "What is due": for one school (or the bureau), what is overdue, what falls due this
//! week, what is open for later and what was recently missed, each with a link to enter
//! the record that satisfies it. The home page shows the same as reminders until a
//! notification system exists.

use crate::kit::AppState;
use crate::kit::Caller;
use crate::kit::Choice;
use crate::kit::error::AppResult;
use crate::kit::page::{Layout, render, role_label};
use crate::plan::words::{number, occurrence_label, short_code, status_label, title};
use crate::plan::{Active, active, unit_label, writable_orgs};
use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use chrono::{Days, NaiveDate};
use serde::Deserialize;
use xiaoan_domain::compliance::{Period, Status};
use xiaoan_domain::plan::Cadence;
use xiaoan_domain::{OrgKind, Permission, Role, Scope};
use xiaoan_store::compliance::evaluate_orgs;
use xiaoan_store::orgs::{self, Org, OrgFilter};

/// One thing to do (or that was not done).
pub struct DueItem {
    pub code: String,
    pub title: String,
    pub occurrence: String,
    pub due: String,
    /// Days until due (negative: days overdue).
    pub days: i64,
    pub status: &'static str,
    pub status_label: String,
    pub numbers: String,
    pub owner: String,
    pub record_href: Option<String>,
    pub cell_href: String,
}

/// What one org has to do, sorted into groups.
pub struct Agenda {
    pub org_id: i64,
    pub org_name: String,
    pub overdue: Vec<DueItem>,
    pub this_week: Vec<DueItem>,
    pub later: Vec<DueItem>,
    pub missed: Vec<DueItem>,
}

/// The agenda of `org` on `a.today`; `roles` limits it to obligations those roles owe
/// (empty: everything).
#[tracing::instrument(skip_all)]
pub async fn agenda(
    st: &AppState,
    caller: &Caller,
    a: &Active,
    org: &Org,
    roles: &[Role],
) -> AppResult<Agenda> {
    let l = caller.lang;
    let plan = &a.plan.plan;
    let today = a.today;
    let week_end = today + Days::new(7);
    let window = Period::between(today - Days::new(31), week_end);
    let obs: Vec<_> = plan
        .obligations
        .iter()
        .filter(|o| roles.is_empty() || o.owner.is_some_and(|r| roles.contains(&r)))
        .collect();
    let cells = evaluate_orgs(
        &st.db,
        &a.plan,
        &a.calendar,
        today,
        &window,
        std::slice::from_ref(org),
        &obs,
    )
    .await?;
    let may_write = writable_orgs(caller).contains(&org.id);
    let mut ag = Agenda {
        org_id: org.id,
        org_name: org.name.clone(),
        overdue: vec![],
        this_week: vec![],
        later: vec![],
        missed: vec![],
    };
    for (ob, cell) in obs.iter().zip(&cells[0]) {
        let item = |key: String, due: NaiveDate, status: Status, numbers: String| DueItem {
            code: short_code(plan, ob),
            title: title(l, ob),
            occurrence: occurrence_label(l, &key),
            due: due.to_string(),
            days: (due - today).num_days(),
            status: status.code(),
            status_label: status_label(l, status),
            numbers,
            owner: ob.owner.map(|r| role_label(l, r)).unwrap_or_default(),
            record_href: may_write.then(|| {
                format!(
                    "/records/new?kind={}&org_id={}&obligation={}",
                    ob.record, org.id, ob.id
                )
            }),
            cell_href: format!(
                "/compliance/cell?org_id={}&obligation={}&period={}",
                org.id,
                ob.id,
                Period::month_of(due.min(today)).key
            ),
        };
        let one_unit = xiaoan_domain::compliance::unit(ob, plan);
        if matches!(ob.cadence, Cadence::SchoolDay) {
            // Daily duties: today's, and the days missed this past month in one line.
            let missed: Vec<_> = cell
                .occurrences
                .iter()
                .filter(|o| o.status == Status::Missed)
                .collect();
            if let Some(last) = missed.last() {
                let n =
                    crate::plan::amount(l, missed.len() as f64, xiaoan_domain::plan::Unit::Days);
                ag.missed.push(item(
                    l.t("due.missed_days"),
                    last.occurrence.due,
                    Status::Missed,
                    n,
                ));
            }
            if let Some(o) = cell
                .occurrences
                .iter()
                .find(|o| o.occurrence.start == today && o.status == Status::Due)
            {
                ag.this_week.push(item(
                    o.occurrence.key.clone(),
                    today,
                    Status::Due,
                    String::new(),
                ));
            }
            continue;
        }
        for o in &cell.occurrences {
            let numbers = format!(
                "{} / {} {}",
                number(o.measured),
                number(o.target),
                unit_label(l, one_unit)
            );
            let it = || {
                item(
                    o.occurrence.key.clone(),
                    o.occurrence.due,
                    o.status,
                    numbers.clone(),
                )
            };
            match o.status {
                Status::Overdue => ag.overdue.push(it()),
                Status::Due if o.occurrence.due <= week_end && o.occurrence.start <= week_end => {
                    ag.this_week.push(it())
                }
                Status::Due if o.occurrence.start <= today => ag.later.push(it()),
                Status::Missed if o.occurrence.end >= today - Days::new(31) => ag.missed.push(it()),
                _ => {}
            }
        }
    }
    for list in [&mut ag.overdue, &mut ag.this_week, &mut ag.later] {
        list.sort_by_key(|i| (i.days, i.code.clone()));
    }
    ag.missed.sort_by_key(|i| std::cmp::Reverse(i.due.clone()));
    Ok(ag)
}

/// The org a caller's agenda is about by default: their first school, else the bureau or
/// centre they work at.
async fn home_org(st: &AppState, caller: &Caller) -> AppResult<Option<Org>> {
    let _l = caller.lang;
    let mut picks: Vec<&xiaoan_domain::scope::Assignment> = caller.assignments.iter().collect();
    picks.sort_by_key(|a| match a.org_kind {
        OrgKind::School => 0,
        OrgKind::Bureau | OrgKind::Centre => 1,
        OrgKind::Section => 2,
    });
    for a in picks {
        let id = match a.org_kind {
            OrgKind::Section => match writable_orgs(caller).first() {
                Some(id) => *id,
                None => continue,
            },
            _ => a.org_id,
        };
        return Ok(Some(orgs::get(&st.db, &Scope::everything(), id).await?));
    }
    Ok(None)
}

#[derive(Template)]
#[template(path = "plan/due.html")]
struct DuePage {
    l: Layout,
    no_plan: bool,
    orgs: Vec<Choice>,
    agenda: Option<Agenda>,
    today: String,
}

/// Which org.
#[derive(Deserialize)]
pub struct DueQuery {
    org_id: Option<String>,
}

/// `GET /due`.
#[tracing::instrument(skip_all)]
pub async fn page(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<DueQuery>,
) -> AppResult<Response> {
    let _l = caller.lang;
    let layout = Layout::new(&caller, "due.title", "/due");
    let Some(a) = active(&st).await? else {
        return Ok(render(&DuePage {
            l: layout,
            no_plan: true,
            orgs: vec![],
            agenda: None,
            today: String::new(),
        }));
    };
    let org = match q.org_id.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
        Some(id) => {
            let id = id
                .parse()
                .map_err(|_| crate::kit::error::AppError::not_found())?;
            Some(orgs::get(&st.db, &caller.scope(Permission::PlanRead), id).await?)
        }
        None => home_org(&st, &caller).await?,
    };
    let schools = orgs::list(
        &st.db,
        &caller.scope(Permission::PlanRead),
        &OrgFilter {
            kind: Some(OrgKind::School),
            ..Default::default()
        },
    )
    .await?;
    let choices = if schools.len() > 1 && schools.len() <= 600 {
        // The org shown comes first when it is not one of the schools (the bureau's or a
        // centre's own duties), so that the selector always names what the page shows.
        let own = org
            .as_ref()
            .filter(|o| o.kind != OrgKind::School)
            .map(|o| Choice {
                selected: true,
                value: o.id.to_string(),
                label: o.name.clone(),
            });
        own.into_iter()
            .chain(schools.into_iter().map(|o| Choice {
                selected: org.as_ref().is_some_and(|x| x.id == o.id),
                value: o.id.to_string(),
                label: o.name,
            }))
            .collect()
    } else {
        vec![]
    };
    let agenda = match &org {
        Some(o) => Some(agenda(&st, &caller, &a, o, &[]).await?),
        None => None,
    };
    Ok(render(&DuePage {
        l: layout,
        no_plan: false,
        orgs: choices,
        agenda,
        today: a.today.to_string(),
    }))
}

/// The home page's reminders: the caller's own duties at their first school (or bureau).
pub struct Reminders {
    pub agenda: Agenda,
    pub all: bool,
}

/// Reminders for the home page, when there is a plan and an org the caller works for.
#[tracing::instrument(skip_all)]
pub async fn reminders(st: &AppState, caller: &Caller) -> AppResult<Option<Reminders>> {
    if !caller.can(Permission::PlanRead) {
        return Ok(None);
    }
    let Some(a) = active(st).await? else {
        return Ok(None);
    };
    let Some(org) = home_org(st, caller).await? else {
        return Ok(None);
    };
    let roles: Vec<Role> = caller
        .assignments
        .iter()
        .filter(|x| x.org_id == org.id)
        .map(|x| x.role)
        .collect();
    // Principals, safety officers and the bureau see everything the org owes.
    let all = roles.is_empty()
        || roles.iter().any(|r| {
            matches!(
                r,
                Role::Principal | Role::SafetyOfficer | Role::BureauSafety
            )
        });
    let mut ag = agenda(st, caller, &a, &org, if all { &[] } else { &roles }).await?;
    ag.later.clear();
    ag.this_week.truncate(8);
    ag.missed.truncate(5);
    Ok(Some(Reminders { agenda: ag, all }))
}
