//! `GET /hazards`: the hazards in the caller's scope with filters, counts per state, quick
//! views (overdue, escalated, listed for supervision, on a plan) and page-by-page browsing.

use super::HazardRow;
use crate::hazards::input::{ListQuery, filter, parse_date};
use crate::kit::AppState;
use crate::kit::Caller;
use crate::kit::Choice;
use crate::kit::error::{AppError, AppResult};
use crate::kit::page::{Layout, render_checked};
use crate::kit::parse_code;
use crate::kit::widgets::code_choices;
use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;
use xiaoan_domain::hazard::{Category, Escalation, Grade, Source, Status};
use xiaoan_domain::{OrgKind, Permission};
use xiaoan_store::hazards;
use xiaoan_store::orgs::OrgFilter;

/// The list's filters as a browser sends them (blank means "any").
#[derive(Deserialize, Default, Clone)]
pub struct PageQuery {
    pub status: Option<String>,
    pub category: Option<String>,
    pub grade: Option<String>,
    pub source: Option<String>,
    pub school_id: Option<String>,
    pub centre_id: Option<String>,
    pub view: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub q: Option<String>,
    pub sort: Option<String>,
    pub cursor: Option<String>,
}

fn blank(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

fn code<T: xiaoan_domain::code::Code>(v: &Option<String>) -> AppResult<Option<T>> {
    blank(v).map(parse_code).transpose()
}

fn date(v: &Option<String>) -> AppResult<Option<chrono::NaiveDate>> {
    blank(v).map(|d| parse_date(d, "date_format")).transpose()
}

impl PageQuery {
    fn to_api(&self) -> AppResult<ListQuery> {
        let id = |v: &Option<String>| -> AppResult<Option<i64>> {
            blank(v)
                .map(|v| v.parse().map_err(|_| AppError::invalid("org_unknown")))
                .transpose()
        };
        let view = blank(&self.view).unwrap_or("");
        Ok(ListQuery {
            status: code(&self.status)?,
            category: code(&self.category)?,
            grade: code(&self.grade)?,
            source: code(&self.source)?,
            school_id: id(&self.school_id)?,
            centre_id: id(&self.centre_id)?,
            overdue: (view == "overdue").then_some(true),
            on_plan: (view == "plan").then_some(true),
            open: Some(matches!(view, "open" | "escalated" | "listed" | "plan")),
            escalation: match view {
                "escalated" => Some(Escalation::Centre),
                "listed" => Some(Escalation::Listed),
                _ => None,
            },
            from: date(&self.from)?,
            to: date(&self.to)?,
            q: blank(&self.q).map(String::from),
            sort: blank(&self.sort).map(String::from),
            cursor: blank(&self.cursor).map(String::from),
            limit: Some(50),
        })
    }

    /// The query string of these filters without the cursor (for tabs and paging links).
    fn query_without(&self, drop: &[&str]) -> String {
        let pairs = [
            ("status", &self.status),
            ("category", &self.category),
            ("grade", &self.grade),
            ("source", &self.source),
            ("school_id", &self.school_id),
            ("centre_id", &self.centre_id),
            ("view", &self.view),
            ("from", &self.from),
            ("to", &self.to),
            ("q", &self.q),
            ("sort", &self.sort),
        ];
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs {
            if let Some(v) = blank(v)
                && !drop.contains(&k)
            {
                ser.append_pair(k, v);
            }
        }
        ser.finish()
    }
}

/// A quick view tab.
pub struct Tab {
    pub href: String,
    pub label: String,
    pub active: bool,
}

#[derive(Template)]
#[template(path = "hazards/list.html")]
struct ListPage {
    l: Layout,
    rows: Vec<HazardRow>,
    tabs: Vec<Tab>,
    counts: Vec<(String, String, i64)>,
    overdue: i64,
    listed: i64,
    statuses: Vec<Choice>,
    categories: Vec<Choice>,
    grades: Vec<Choice>,
    sources: Vec<Choice>,
    sorts: Vec<Choice>,
    schools: Vec<Choice>,
    centres: Vec<Choice>,
    q: String,
    from: String,
    to: String,
    view: String,
    next: Option<String>,
    first: Option<String>,
    can_report: bool,
    can_export: bool,
    export_query: String,
    /// Some filter is set: on a phone the filters show unfolded.
    filtered: bool,
    error: Option<String>,
}

fn org_choices(
    list: &[xiaoan_store::orgs::Org],
    kind: OrgKind,
    selected: Option<&str>,
) -> Vec<Choice> {
    list.iter()
        .filter(|o| o.kind == kind)
        .map(|o| Choice {
            value: o.id.to_string(),
            label: o.name.clone(),
            selected: Some(o.id.to_string().as_str()) == selected,
        })
        .collect()
}

/// `GET /hazards`.
#[tracing::instrument(skip_all)]
pub async fn list(
    State(st): State<AppState>,
    caller: Caller,
    Query(pq): Query<PageQuery>,
) -> AppResult<Response> {
    let l = caller.lang;
    let today = st.config.today();
    let orgs = xiaoan_store::orgs::list(
        &st.db,
        &caller.scope(Permission::HazardRead),
        &OrgFilter::default(),
    )
    .await?;
    let (page, counts, error) = match pq.to_api() {
        Ok(q) => match filter(&st, &caller, &q).await {
            Ok(mut f) => {
                if blank(&pq.view) == Some("mine") {
                    f.owner_id = Some(caller.user.id);
                    f.open = true;
                }
                let page = hazards::list(
                    &st.db,
                    &caller.scope(Permission::HazardRead),
                    &f,
                    q.cursor.as_deref(),
                    50,
                    today,
                )
                .await?;
                let counts =
                    hazards::counts(&st.db, &caller.scope(Permission::HazardRead), &f, today)
                        .await?;
                (page, counts, None)
            }
            Err(e) => (
                hazards::HazardPage {
                    items: vec![],
                    next_cursor: None,
                },
                Default::default(),
                Some(e.message(caller.lang)),
            ),
        },
        Err(e) => (
            hazards::HazardPage {
                items: vec![],
                next_cursor: None,
            },
            Default::default(),
            Some(e.message(caller.lang)),
        ),
    };
    let view = blank(&pq.view).unwrap_or("").to_string();
    let base = pq.query_without(&["view"]);
    let tabs = ["", "open", "mine", "overdue", "escalated", "listed", "plan"]
        .iter()
        .map(|v| Tab {
            href: format!(
                "/hazards?{}",
                if base.is_empty() {
                    format!("view={v}")
                } else {
                    format!("{base}&view={v}")
                }
            ),
            label: l.t(&format!(
                "hazards.view.{}",
                if v.is_empty() { "all" } else { v }
            )),
            active: *v == view,
        })
        .collect();
    let here = pq.query_without(&[]);
    let status_codes: Vec<&'static str> = Status::ALL.iter().map(|x| x.code()).collect();
    let page_out = ListPage {
        rows: page.items.iter().map(|h| HazardRow::new(h, l)).collect(),
        tabs,
        counts: counts
            .by_status
            .iter()
            .map(|(st, n)| {
                (
                    st.code().to_string(),
                    l.t(&format!("hazard.status.{}", st.code())),
                    *n,
                )
            })
            .collect(),
        overdue: counts.overdue,
        listed: counts.listed,
        statuses: code_choices(
            &status_codes,
            "hazard.status",
            l,
            blank(&pq.status).unwrap_or(""),
        ),
        categories: code_choices(
            &Category::ALL.iter().map(|x| x.code()).collect::<Vec<_>>(),
            "hazard.category",
            l,
            blank(&pq.category).unwrap_or(""),
        ),
        grades: code_choices(
            &Grade::ALL.iter().map(|x| x.code()).collect::<Vec<_>>(),
            "hazard.grade",
            l,
            blank(&pq.grade).unwrap_or(""),
        ),
        sources: code_choices(
            &Source::ALL.iter().map(|x| x.code()).collect::<Vec<_>>(),
            "hazard.source",
            l,
            blank(&pq.source).unwrap_or(""),
        ),
        sorts: code_choices(
            &["newest", "overdue"],
            "hazards.sort",
            l,
            blank(&pq.sort).unwrap_or("newest"),
        ),
        schools: org_choices(&orgs, OrgKind::School, blank(&pq.school_id)),
        centres: org_choices(&orgs, OrgKind::Centre, blank(&pq.centre_id)),
        q: pq.q.clone().unwrap_or_default(),
        from: pq.from.clone().unwrap_or_default(),
        to: pq.to.clone().unwrap_or_default(),
        next: page.next_cursor.map(|c| {
            format!(
                "/hazards?{}{}cursor={c}",
                here,
                if here.is_empty() { "" } else { "&" }
            )
        }),
        first: blank(&pq.cursor).map(|_| format!("/hazards?{here}")),
        view,
        can_report: caller.may("GET", "/hazards/new"),
        can_export: caller.can(Permission::HazardExport),
        filtered: [
            &pq.status,
            &pq.category,
            &pq.grade,
            &pq.source,
            &pq.school_id,
            &pq.centre_id,
            &pq.from,
            &pq.to,
            &pq.q,
        ]
        .iter()
        .any(|v| blank(v).is_some()),
        export_query: blank(&pq.school_id)
            .or(blank(&pq.centre_id))
            .map(|id| format!("&org_id={id}"))
            .unwrap_or_default(),
        error,
        l: Layout::new(&caller, "hazards.title", "/hazards"),
    };
    let bad = page_out.error.is_some();
    Ok(render_checked(&page_out, bad))
}
