//! The campaign: its phase timeline with today's place in it, progress by task (the share
//! of met cells in the caller's scope), the regulation-backed parameters a district should
//! confirm, and each section's view of the tasks it leads.

use crate::kit::AppState;
use crate::kit::Caller;
use crate::kit::Choice;
use crate::kit::error::AppResult;
use crate::kit::page::{Layout, render};
use crate::plan::active;
use crate::plan::page_period;
use crate::plan::words::{
    cadence_text, local_or, obligation_ids, period_choices, period_label, short_code, status_label,
    title,
};
use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;
use std::collections::HashMap;
use xiaoan_domain::Permission;
use xiaoan_domain::compliance::Status;
use xiaoan_domain::plan::{Basis, Plan, Task};
use xiaoan_domain::{OrgKind, Scope};
use xiaoan_store::compliance::{self, MatrixQuery};
use xiaoan_store::orgs;

/// A phase on the timeline.
pub struct PhaseView {
    pub title: String,
    pub summary: String,
    pub start: String,
    pub end: String,
    /// `done`, `current` or `upcoming`.
    pub state: &'static str,
    pub state_label: String,
    pub left: i64,
    pub width: i64,
}

/// Status counts with labels, and the share met.
pub struct Progress {
    pub counts: Vec<(&'static str, String, i64)>,
    pub met_pct: i64,
    pub cells: i64,
}

fn progress(l: crate::kit::i18n::Lang, c: [i64; 5]) -> Progress {
    let applicable: i64 = c[..4].iter().sum();
    let met = c[Status::ALL
        .iter()
        .position(|s| *s == Status::Met)
        .unwrap_or(3)];
    Progress {
        counts: Status::ALL
            .iter()
            .zip(c)
            .take(4)
            .map(|(s, n)| (s.code(), status_label(l, *s), n))
            .collect(),
        met_pct: if applicable == 0 {
            0
        } else {
            met * 100 / applicable
        },
        cells: applicable,
    }
}

/// A task with its leads and progress.
pub struct TaskView {
    pub id: String,
    pub numeral: String,
    pub title: String,
    pub leads: String,
    pub support: String,
    pub obligations: usize,
    pub progress: Progress,
    pub parts: Vec<TaskView>,
}

/// A parameter drawn from a regulation.
pub struct ParamView {
    pub name: String,
    pub value: String,
    pub basis: &'static str,
    pub basis_label: String,
    pub source: String,
    pub note: String,
}

#[derive(Template)]
#[template(path = "plan/campaign.html")]
struct OverviewPage {
    l: Layout,
    no_plan: bool,
    name: String,
    version: String,
    start: String,
    end: String,
    today: String,
    today_left: i64,
    phases: Vec<PhaseView>,
    period: String,
    period_label: String,
    periods: Vec<Choice>,
    tasks: Vec<TaskView>,
    params: Vec<ParamView>,
}

/// The period asked for.
#[derive(Deserialize)]
pub struct PeriodQuery {
    period: Option<String>,
    section: Option<String>,
}

fn pct(part: i64, whole: i64) -> i64 {
    if whole <= 0 {
        0
    } else {
        (part * 100 / whole).clamp(0, 100)
    }
}

fn sum(counts: &HashMap<String, [i64; 5]>, ids: &[String]) -> [i64; 5] {
    let mut out = [0; 5];
    for id in ids {
        if let Some(c) = counts.get(id) {
            for i in 0..5 {
                out[i] += c[i];
            }
        }
    }
    out
}

fn task_view(
    l: crate::kit::i18n::Lang,
    plan: &Plan,
    t: &Task,
    counts: &HashMap<String, [i64; 5]>,
) -> TaskView {
    let ids = obligation_ids(plan, Some(&t.id), None);
    TaskView {
        id: t.id.clone(),
        numeral: t.numeral.clone(),
        title: t.title.get(l.code()).to_string(),
        leads: t
            .lead
            .iter()
            .filter_map(|id| plan.sections.iter().find(|s| s.id == *id))
            .map(|s| s.name.get(l.code()).to_string())
            .collect::<Vec<_>>()
            .join(l.list_separator()),
        support: t.support.join(l.list_separator()),
        obligations: ids.len(),
        progress: progress(l, sum(counts, &ids)),
        parts: plan
            .tasks
            .iter()
            .filter(|p| p.part_of.as_deref() == Some(&t.id))
            .map(|p| task_view(l, plan, p, counts))
            .collect(),
    }
}

/// `GET /campaign`.
#[tracing::instrument(skip_all)]
pub async fn overview(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<PeriodQuery>,
) -> AppResult<Response> {
    let l = caller.lang;
    let layout = Layout::new(&caller, "campaign.title", "/campaign");
    let Some(a) = active(&st).await? else {
        return Ok(render(&empty(layout)));
    };
    let plan = &a.plan.plan;
    let period = match q.period.as_deref().filter(|p| !p.trim().is_empty()) {
        Some(p) => page_period(&a, Some(p))?,
        None => xiaoan_domain::compliance::Period::year(chrono::Datelike::year(&a.today)),
    };
    let mq = MatrixQuery {
        period: period.clone(),
        under: None,
        school_type: None,
        name: None,
        obligations: vec![],
        offset: 0,
        limit: 1,
    };
    let counts: HashMap<String, [i64; 5]> = compliance::status_counts(
        &st.db,
        &caller.scope(Permission::PlanRead),
        &a.plan,
        &a.calendar,
        a.today,
        &mq,
    )
    .await?
    .into_iter()
    .collect();
    let span = (plan.ends_on - plan.starts_on).num_days().max(1);
    let at = |d: chrono::NaiveDate| pct((d - plan.starts_on).num_days(), span);
    let page = OverviewPage {
        no_plan: false,
        name: plan.name.get(l.code()).to_string(),
        version: format!("{} v{}", a.plan.code, a.plan.version),
        start: plan.starts_on.to_string(),
        end: plan.ends_on.to_string(),
        today: a.today.to_string(),
        today_left: at(a.today),
        phases: plan
            .phases
            .iter()
            .map(|p| PhaseView {
                title: p.title.get(l.code()).to_string(),
                summary: with_years(p.summary.get(l.code()), plan),
                start: p.starts_on.to_string(),
                end: p.ends_on.to_string(),
                state: phase_state(a.today, p.starts_on, p.ends_on),
                state_label: l.t(&format!(
                    "campaign.phase_{}",
                    phase_state(a.today, p.starts_on, p.ends_on)
                )),
                left: at(p.starts_on),
                width: (at(p.ends_on) - at(p.starts_on)).max(2),
            })
            .collect(),
        period: period.key.clone(),
        period_label: period_label(l, &period),
        periods: period_choices(l, plan, a.today, &period.key),
        tasks: plan
            .main_tasks()
            .map(|t| task_view(l, plan, t, &counts))
            .collect(),
        params: plan
            .params
            .iter()
            .map(|p| ParamView {
                name: local_or(l, &p.title, &p.name),
                value: crate::plan::amount(l, p.value, p.unit),
                basis: basis_code(p.basis),
                basis_label: l.t(&format!("campaign.basis_{}", basis_code(p.basis))),
                source: local_or(l, &p.citation, &p.source),
                note: p.advice.get(l.code()).to_string(),
            })
            .collect(),
        l: layout,
    };
    Ok(render(&page))
}

/// A phase summary with the campaign's own years for `{start_year}` and `{end_year}`, so
/// that a plan copied for a later campaign names its years right.
fn with_years(text: &str, plan: &xiaoan_domain::plan::Plan) -> String {
    use chrono::Datelike;
    text.replace("{start_year}", &plan.starts_on.year().to_string())
        .replace("{end_year}", &plan.ends_on.year().to_string())
}

fn phase_state(
    today: chrono::NaiveDate,
    start: chrono::NaiveDate,
    end: chrono::NaiveDate,
) -> &'static str {
    if today > end {
        "done"
    } else if today >= start {
        "current"
    } else {
        "upcoming"
    }
}

fn basis_code(b: Basis) -> &'static str {
    match b {
        Basis::V => "V",
        Basis::S => "S",
        Basis::U => "U",
    }
}

fn empty(l: Layout) -> OverviewPage {
    OverviewPage {
        l,
        no_plan: true,
        name: String::new(),
        version: String::new(),
        start: String::new(),
        end: String::new(),
        today: String::new(),
        today_left: 0,
        phases: vec![],
        period: String::new(),
        period_label: String::new(),
        periods: vec![],
        tasks: vec![],
        params: vec![],
    }
}

/// An obligation a section leads, with the schools behind on it.
pub struct LedObligation {
    pub id: String,
    pub code: String,
    pub title: String,
    pub cadence: String,
    pub progress: Progress,
    /// (org id, name, status code, status label) of orgs overdue or missed.
    pub behind: Vec<(i64, String, &'static str, String)>,
    pub more_behind: usize,
}

#[derive(Template)]
#[template(path = "plan/sections.html")]
struct SectionsPage {
    l: Layout,
    no_plan: bool,
    sections: Vec<Choice>,
    section: String,
    section_name: String,
    tasks: Vec<TaskView>,
    obligations: Vec<LedObligation>,
    period: String,
    period_label: String,
    periods: Vec<Choice>,
}

/// `GET /campaign/sections`.
#[tracing::instrument(skip_all)]
pub async fn sections(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<PeriodQuery>,
) -> AppResult<Response> {
    let l = caller.lang;
    let layout = Layout::new(&caller, "campaign.sections_title", "/campaign");
    let Some(a) = active(&st).await? else {
        let page = SectionsPage {
            l: layout,
            no_plan: true,
            sections: vec![],
            section: String::new(),
            section_name: String::new(),
            tasks: vec![],
            obligations: vec![],
            period: String::new(),
            period_label: String::new(),
            periods: vec![],
        };
        return Ok(render(&page));
    };
    let plan = &a.plan.plan;
    // Default: the section the caller works in, matched by name.
    let mut mine = None;
    for x in caller
        .assignments
        .iter()
        .filter(|x| x.org_kind == OrgKind::Section)
    {
        let org = orgs::get(&st.db, &Scope::everything(), x.org_id).await?;
        mine = plan
            .sections
            .iter()
            .find(|sec| sec.name.zh_tw == org.name)
            .map(|sec| sec.id.clone());
    }
    let section = q
        .section
        .filter(|x| plan.sections.iter().any(|sec| sec.id == *x))
        .or(mine)
        .or_else(|| plan.sections.first().map(|x| x.id.clone()))
        .unwrap_or_default();
    let period = page_period(&a, q.period.as_deref().filter(|p| !p.trim().is_empty()))?;
    let ids = obligation_ids(plan, None, Some(&section));
    let mq = MatrixQuery {
        period: period.clone(),
        under: None,
        school_type: None,
        name: None,
        obligations: if ids.is_empty() {
            vec!["-".into()]
        } else {
            ids.clone()
        },
        offset: 0,
        limit: 3000,
    };
    let m = compliance::matrix(
        &st.db,
        &caller.scope(Permission::PlanRead),
        &a.plan,
        &a.calendar,
        a.today,
        &mq,
    )
    .await?;
    let mut counts: HashMap<String, [i64; 5]> = HashMap::new();
    let mut obligations = Vec::new();
    for (i, ob) in m.obligations.iter().enumerate() {
        let mut c = [0i64; 5];
        let mut behind = Vec::new();
        for row in &m.rows {
            let st = row.cells[i].status;
            if let Some(k) = Status::ALL.iter().position(|x| *x == st) {
                c[k] += 1;
            }
            if matches!(st, Status::Overdue | Status::Missed) {
                behind.push((
                    row.org.id,
                    row.org.name.clone(),
                    st.code(),
                    status_label(l, st),
                ));
            }
        }
        counts.insert(ob.id.clone(), c);
        let more_behind = behind.len().saturating_sub(12);
        behind.truncate(12);
        obligations.push(LedObligation {
            id: ob.id.clone(),
            code: short_code(plan, ob),
            title: title(l, ob),
            cadence: cadence_text(l, ob),
            progress: progress(l, c),
            behind,
            more_behind,
        });
    }
    let led: Vec<&Task> = plan
        .tasks
        .iter()
        .filter(|t| {
            t.lead.contains(&section)
                && !plan
                    .tasks
                    .iter()
                    .any(|p| p.part_of.as_deref() == Some(&t.id))
        })
        .collect();
    let page = SectionsPage {
        no_plan: false,
        sections: plan
            .sections
            .iter()
            .map(|x| Choice {
                selected: x.id == section,
                value: x.id.clone(),
                label: x.name.get(l.code()).to_string(),
            })
            .collect(),
        section_name: plan
            .sections
            .iter()
            .find(|x| x.id == section)
            .map(|x| x.name.get(l.code()).to_string())
            .unwrap_or_default(),
        section,
        tasks: led.iter().map(|t| task_view(l, plan, t, &counts)).collect(),
        obligations,
        period: period.key.clone(),
        period_label: period_label(l, &period),
        periods: period_choices(l, plan, a.today, &period.key),
        l: layout,
    };
    Ok(render(&page))
}
