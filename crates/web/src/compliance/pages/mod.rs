//! The bureau's compliance matrix: schools × obligations for a period, coloured by status,
//! filtered by centre, school type, task and section (and by status), with a drill-in to
//! each cell's occurrences and evidence, and the full recompute for those allowed to run it.

mod cell;

pub use cell::cell;

use crate::kit::AppState;
use crate::kit::Caller;
use crate::kit::Choice;
use crate::kit::error::{AppError, AppResult};
use crate::kit::page::{Layout, kind_label, render};
use crate::plan::active;
use crate::plan::page_period;
use crate::plan::words::{
    cell_text, obligation_ids, period_choices, period_label, short_code, status_label, title,
};
use askama::Template;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use xiaoan_domain::compliance::Status;
use xiaoan_domain::{OrgKind, Permission, SchoolType};
use xiaoan_store::compliance::{self, MatrixQuery};
use xiaoan_store::orgs::{self, OrgFilter};

/// One cell as the page shows it.
pub struct CellView {
    pub status: &'static str,
    pub label: String,
    pub text: String,
    pub href: String,
}

/// A column: one obligation.
pub struct Column {
    pub code: String,
    pub title: String,
}

/// A row: one org, with its cells and how many of them stand at each status.
pub struct RowView {
    pub org_id: i64,
    pub name: String,
    pub kind: String,
    pub cells: Vec<CellView>,
    /// (status code, label, count) for the statuses present, worst first.
    pub totals: Vec<(&'static str, String, i64)>,
}

/// How many cells of a row stand at each status, in [`Status::ALL`] order (worst first).
fn tally(cells: &[xiaoan_domain::compliance::Cell]) -> [i64; 5] {
    let mut n = [0i64; 5];
    for c in cells {
        if let Some(i) = Status::ALL.iter().position(|x| *x == c.status) {
            n[i] += 1;
        }
    }
    n
}

/// The order of "worst first": most overdue or missed, then most merely due.
fn worst_key(t: &[i64; 5]) -> (std::cmp::Reverse<i64>, std::cmp::Reverse<i64>) {
    let at = |s: Status| Status::ALL.iter().position(|x| *x == s).map_or(0, |i| t[i]);
    (
        std::cmp::Reverse(at(Status::Overdue) + at(Status::Missed)),
        std::cmp::Reverse(at(Status::Due)),
    )
}

#[derive(Template)]
#[template(path = "compliance/matrix.html")]
struct MatrixPage {
    l: Layout,
    no_plan: bool,
    period_key: String,
    period_label: String,
    periods: Vec<Choice>,
    centres: Vec<Choice>,
    types: Vec<Choice>,
    tasks: Vec<Choice>,
    sections: Vec<Choice>,
    statuses: Vec<Choice>,
    columns: Vec<Column>,
    rows: Vec<RowView>,
    /// One org only (a principal's own school, or one chosen): shown as a list.
    single: bool,
    /// The text searched for among org names and codes.
    q: String,
    worst_first: bool,
    /// (status code, label, count) over every matching org.
    counts: Vec<(&'static str, String, i64)>,
    /// The counts (and the status filter) cover the page shown only.
    page_only: bool,
    total: i64,
    page: i64,
    pages: i64,
    query: String,
    can_recompute: bool,
}

/// The matrix's filters.
#[derive(Deserialize, Default)]
pub struct MatrixForm {
    period: Option<String>,
    centre_id: Option<String>,
    school_type: Option<String>,
    task: Option<String>,
    section: Option<String>,
    status: Option<String>,
    /// One org (and what lies under it).
    org_id: Option<String>,
    /// Part of an org's name or code.
    q: Option<String>,
    /// `worst`: the orgs with most overdue or missed duties first.
    sort: Option<String>,
    page: Option<i64>,
    done: Option<String>,
}

const PAGE: i64 = 50;
/// Above this many orgs (a district has 50–300 schools), counts and the status filter cover
/// the page shown; below, every matching org is evaluated.
const FULL_LIMIT: i64 = 600;

fn blank(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn choices(items: Vec<(String, String)>, selected: Option<&str>) -> Vec<Choice> {
    items
        .into_iter()
        .map(|(value, label)| Choice {
            selected: selected == Some(value.as_str()),
            value,
            label,
        })
        .collect()
}

/// `GET /compliance`.
#[tracing::instrument(skip_all)]
pub async fn matrix(
    State(st): State<AppState>,
    caller: Caller,
    Query(f): Query<MatrixForm>,
) -> AppResult<Response> {
    let l = caller.lang;
    let mut layout = Layout::new(&caller, "compliance.title", "/compliance");
    if f.done.as_deref() == Some("recompute") {
        layout.notice = Some(l.t("compliance.recomputed"));
    }
    let Some(a) = active(&st).await? else {
        return Ok(render(&empty_page(layout)));
    };
    let plan = &a.plan.plan;
    let period = page_period(&a, blank(&f.period))?;
    let centre = match blank(&f.org_id).or(blank(&f.centre_id)) {
        Some(id) => {
            let id = id.parse().map_err(|_| AppError::not_found())?;
            Some(orgs::get(&st.db, &caller.scope(Permission::PlanRead), id).await?)
        }
        None => None,
    };
    let worst_first = blank(&f.sort) == Some("worst");
    let school_type = match blank(&f.school_type) {
        Some(t) => Some(SchoolType::from_code(t).ok_or_else(|| AppError::invalid("school_type"))?),
        None => None,
    };
    let task = blank(&f.task).filter(|t| plan.task(t).is_some());
    let section = blank(&f.section).filter(|x| plan.sections.iter().any(|s| s.id == *x));
    let status = blank(&f.status).and_then(Status::from_code);
    let mut q = MatrixQuery {
        period: period.clone(),
        under: centre.as_ref().map(|c| c.path.clone()),
        school_type,
        name: blank(&f.q).map(str::to_string),
        obligations: if task.is_some() || section.is_some() {
            obligation_ids(plan, task, section)
        } else {
            vec![]
        },
        offset: 0,
        limit: FULL_LIMIT,
    };
    if (task.is_some() || section.is_some()) && q.obligations.is_empty() {
        q.obligations = vec!["-".into()];
    }
    let page = f.page.unwrap_or(1).max(1);
    let total = compliance::count(&st.db, &caller.scope(Permission::PlanRead), &a.plan, &q).await?;
    let whole = total <= FULL_LIMIT;
    if !whole {
        q.offset = (page - 1) * PAGE;
        q.limit = PAGE;
    }
    let m = compliance::matrix_counted(
        &st.db,
        &caller.scope(Permission::PlanRead),
        &a.plan,
        &a.calendar,
        a.today,
        &q,
        total,
    )
    .await?;
    let mut counts = [0i64; 5];
    let mut rows: Vec<_> = m
        .rows
        .iter()
        .filter(|r| status.is_none_or(|st| r.cells.iter().any(|c| c.status == st)))
        .map(|r| (r, tally(&r.cells)))
        .collect();
    for (_, t) in &rows {
        for (n, x) in counts.iter_mut().zip(t) {
            *n += x;
        }
    }
    if worst_first {
        // Stable: equally bad orgs keep their tree order.
        rows.sort_by_key(|(_, t)| worst_key(t));
    }
    let total = if whole { rows.len() as i64 } else { m.total };
    if whole {
        rows = rows
            .into_iter()
            .skip(((page - 1) * PAGE) as usize)
            .take(PAGE as usize)
            .collect();
    }
    let cell_href = |org: i64, ob: &str| {
        format!(
            "/compliance/cell?org_id={org}&obligation={ob}&period={}",
            period.key
        )
    };
    let centres = orgs::list(
        &st.db,
        &caller.scope(Permission::PlanRead),
        &OrgFilter {
            kind: Some(OrgKind::Centre),
            ..Default::default()
        },
    )
    .await?;
    let page_view = MatrixPage {
        no_plan: false,
        period_key: period.key.clone(),
        period_label: period_label(l, &period),
        periods: period_choices(l, plan, a.today, &period.key),
        centres: choices(
            centres
                .into_iter()
                .map(|c| (c.id.to_string(), c.name))
                .collect(),
            blank(&f.centre_id),
        ),
        types: choices(
            SchoolType::ALL
                .iter()
                .map(|t| (t.code().to_string(), kind_label(l, t.code())))
                .collect(),
            blank(&f.school_type),
        ),
        tasks: choices(
            plan.tasks
                .iter()
                .map(|t| {
                    (
                        t.id.clone(),
                        format!("({}) {}", t.numeral, t.title.get(l.code())),
                    )
                })
                .collect(),
            task,
        ),
        sections: choices(
            plan.sections
                .iter()
                .map(|x| (x.id.clone(), x.name.get(l.code()).to_string()))
                .collect(),
            section,
        ),
        statuses: choices(
            Status::ALL
                .iter()
                .map(|x| (x.code().to_string(), status_label(l, *x)))
                .collect(),
            status.map(|x| x.code()),
        ),
        columns: m
            .obligations
            .iter()
            .map(|o| Column {
                code: short_code(plan, o),
                title: title(l, o),
            })
            .collect(),
        single: total == 1 && page == 1,
        q: blank(&f.q).unwrap_or_default().to_string(),
        worst_first,
        rows: rows
            .iter()
            .map(|(r, t)| RowView {
                totals: Status::ALL
                    .iter()
                    .zip(t)
                    .filter(|(x, n)| **n > 0 && **x != Status::NotApplicable)
                    .map(|(x, n)| (x.code(), status_label(l, *x), *n))
                    .collect(),
                org_id: r.org.id,
                name: r.org.name.clone(),
                kind: r.org.school.as_ref().map_or_else(
                    || kind_label(l, r.org.kind.code()),
                    |f| kind_label(l, f.school_type.code()),
                ),
                cells: m
                    .obligations
                    .iter()
                    .zip(&r.cells)
                    .map(|(o, c)| CellView {
                        status: c.status.code(),
                        label: status_label(l, c.status),
                        text: cell_text(l, c),
                        href: cell_href(r.org.id, &o.id),
                    })
                    .collect(),
            })
            .collect(),
        counts: Status::ALL
            .iter()
            .zip(counts)
            .map(|(x, n)| (x.code(), status_label(l, *x), n))
            .collect(),
        page_only: !whole,
        total,
        page,
        pages: ((total + PAGE - 1) / PAGE).max(1),
        query: filter_query(&f),
        can_recompute: caller.can(Permission::PlanManage),
        l: layout,
    };
    Ok(render(&page_view))
}

fn empty_page(l: Layout) -> MatrixPage {
    MatrixPage {
        l,
        no_plan: true,
        period_key: String::new(),
        period_label: String::new(),
        periods: vec![],
        centres: vec![],
        types: vec![],
        tasks: vec![],
        sections: vec![],
        statuses: vec![],
        columns: vec![],
        rows: vec![],
        single: false,
        q: String::new(),
        worst_first: false,
        counts: vec![],
        page_only: false,
        total: 0,
        page: 1,
        pages: 1,
        query: String::new(),
        can_recompute: false,
    }
}

/// The filters as a query string (without the page), for the pager's links.
fn filter_query(f: &MatrixForm) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in [
        ("period", &f.period),
        ("centre_id", &f.centre_id),
        ("school_type", &f.school_type),
        ("task", &f.task),
        ("section", &f.section),
        ("status", &f.status),
        ("org_id", &f.org_id),
        ("q", &f.q),
        ("sort", &f.sort),
    ] {
        if let Some(v) = blank(v) {
            q.append_pair(k, v);
        }
    }
    q.finish()
}

/// `POST /compliance/recompute`: rebuilds every measure, then back to the matrix.
#[tracing::instrument(skip_all)]
pub async fn recompute(State(st): State<AppState>, caller: Caller) -> AppResult<Response> {
    let a = crate::plan::require_active(&st).await?;
    compliance::recompute(&st.db, &caller.actor(), &a.plan, &a.calendar, None).await?;
    Ok(Redirect::to("/compliance?done=recompute").into_response())
}
