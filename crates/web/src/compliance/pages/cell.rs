//! The drill-in behind one matrix cell: the obligation in words with its citation, each
//! occurrence in the period with its dates, status and numbers, and the records that
//! count as evidence (withdrawn ones shown apart).

use super::blank;
use crate::kit::AppState;
use crate::kit::Caller;
use crate::kit::Choice;
use crate::kit::error::{AppError, AppResult};
use crate::kit::page::{Layout, render, role_label};
use crate::plan::page_period;
use crate::plan::words::{
    cadence_text, cell_text, number, occurrence_label, period_choices, period_label, status_label,
    threshold_text, title,
};
use crate::plan::writable_orgs;
use crate::records::{RecordLine, record_lines};
use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;
use xiaoan_domain::Permission;
use xiaoan_domain::compliance::{Status, applies, bucket_named, period_field};
use xiaoan_store::compliance::evaluate_orgs;
use xiaoan_store::orgs;
use xiaoan_store::records::{self, RecordFilter};

/// One occurrence as a table row.
pub struct OccurrenceView {
    pub key: String,
    pub start: String,
    pub due: String,
    pub end: String,
    pub status: &'static str,
    pub label: String,
    pub numbers: String,
}

#[derive(Template)]
#[template(path = "compliance/cell.html")]
struct CellPage {
    l: Layout,
    org_id: i64,
    org_name: String,
    ob_id: String,
    ob_title: String,
    task: String,
    cadence: String,
    threshold: String,
    owner: String,
    source: String,
    period_label: String,
    periods: Vec<Choice>,
    applicable: bool,
    status: &'static str,
    status_label: String,
    numbers: String,
    occurrences: Vec<OccurrenceView>,
    records: Vec<RecordLine>,
    withdrawn: Vec<RecordLine>,
    new_href: Option<String>,
}

/// Which cell.
#[derive(Deserialize)]
pub struct CellForm {
    org_id: Option<String>,
    obligation: Option<String>,
    period: Option<String>,
}

/// `GET /compliance/cell`.
#[tracing::instrument(skip_all)]
pub async fn cell(
    State(st): State<AppState>,
    caller: Caller,
    Query(f): Query<CellForm>,
) -> AppResult<Response> {
    let l = caller.lang;
    let a = crate::plan::require_active(&st).await?;
    let plan = &a.plan.plan;
    let org_id: i64 = blank(&f.org_id)
        .and_then(|x| x.parse().ok())
        .ok_or_else(|| AppError::invalid("bad_query"))?;
    let org = orgs::get(&st.db, &caller.scope(Permission::PlanRead), org_id).await?;
    let ob = blank(&f.obligation)
        .and_then(|id| plan.obligation(id))
        .ok_or_else(|| AppError::invalid("obligation_unknown"))?;
    let period = page_period(&a, blank(&f.period))?;
    let cells = evaluate_orgs(
        &st.db,
        &a.plan,
        &a.calendar,
        a.today,
        &period,
        std::slice::from_ref(&org),
        &[ob],
    )
    .await?;
    let c = &cells[0][0];
    let (from, to) = c
        .occurrences
        .iter()
        .fold((period.start, period.end), |(f, t), o| {
            (f.min(o.occurrence.start), t.max(o.occurrence.end))
        });
    // Records that name their period count for it whatever their day: those naming one of
    // the period's occurrences are shown.
    let named = period_field(plan, ob);
    let filter = RecordFilter {
        org_id: Some(org.id),
        kinds: vec![ob.record.clone()],
        from: named.is_none().then_some(from),
        to: named.is_none().then_some(to),
        include_withdrawn: true,
        offset: 0,
        limit: 200,
    };
    let mut found = records::list(&st.db, &caller.scope(Permission::RecordRead), &filter).await?;
    if let Some(field) = &named {
        let campaign = (plan.starts_on, plan.ends_on);
        found.retain(|r| {
            bucket_named(ob, campaign, &a.calendar, &r.fields[field])
                .is_some_and(|b| c.occurrences.iter().any(|o| o.occurrence.bucket == b.key))
        });
    }
    let (live, gone): (Vec<_>, Vec<_>) = found.into_iter().partition(|r| !r.withdrawn);
    let may_write = caller.can(Permission::RecordWrite) && writable_orgs(&caller).contains(&org.id);
    let page = CellPage {
        org_id: org.id,
        org_name: org.name.clone(),
        ob_id: ob.id.clone(),
        ob_title: title(l, ob),
        task: plan
            .task(&ob.task)
            .map(|t| format!("({}) {}", t.numeral, t.title.get(l.code())))
            .unwrap_or_default(),
        cadence: cadence_text(l, ob),
        threshold: threshold_text(l, plan, ob),
        owner: ob.owner.map(|r| role_label(l, r)).unwrap_or_default(),
        source: crate::plan::words::citation(l, ob),
        period_label: period_label(l, &period),
        periods: period_choices(l, plan, a.today, &period.key),
        // Applicable now, or in the period under the facts it had then.
        applicable: c.status != Status::NotApplicable || applies(ob, org.kind, org.school.as_ref()),
        status: c.status.code(),
        status_label: status_label(l, c.status),
        numbers: cell_text(l, c),
        occurrences: c
            .occurrences
            .iter()
            .map(|o| OccurrenceView {
                key: occurrence_label(l, &o.occurrence.key),
                start: o.occurrence.start.to_string(),
                due: o.occurrence.due.to_string(),
                end: o.occurrence.end.to_string(),
                status: o.status.code(),
                label: if o.late {
                    format!("{} · {}", status_label(l, o.status), l.t("compliance.late"))
                } else {
                    status_label(l, o.status)
                },
                numbers: format!("{} / {}", number(o.measured), number(o.target)),
            })
            .collect(),
        records: record_lines(l, plan, &live),
        withdrawn: record_lines(l, plan, &gone),
        new_href: (may_write && c.status != Status::NotApplicable).then(|| {
            format!(
                "/records/new?kind={}&org_id={}&obligation={}",
                ob.record, org.id, ob.id
            )
        }),
        l: Layout::new(&caller, "compliance.cell_title", "/compliance"),
    };
    Ok(render(&page))
}
