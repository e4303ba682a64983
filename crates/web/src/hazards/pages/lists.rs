//! The two lists as pages that print well, and their xlsx download for the pages.

use crate::hazards::export::{ListKind, Words, headers, list_filter, row};
use crate::kit::AppState;
use crate::kit::Caller;
use crate::kit::Choice;
use crate::kit::error::{AppError, AppResult};
use crate::kit::page::{Layout, render};
use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;
use xiaoan_domain::OrgKind;
use xiaoan_domain::Permission;
use xiaoan_reports::Cell;
use xiaoan_store::orgs::OrgFilter;

/// Most rows a printed list shows; the xlsx has them all.
const PRINT_ROWS: usize = 2000;

/// Which list, for which org.
#[derive(Deserialize)]
pub struct ListsQuery {
    list: Option<String>,
    org_id: Option<String>,
}

impl ListsQuery {
    fn parse(&self) -> AppResult<(ListKind, Option<i64>)> {
        let kind = ListKind::parse(self.list.as_deref().unwrap_or("problems"))
            .ok_or_else(|| AppError::invalid("hazard_list"))?;
        let org = match self
            .org_id
            .as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
        {
            Some(v) => Some(v.parse().map_err(|_| AppError::invalid("org_unknown"))?),
            None => None,
        };
        Ok((kind, org))
    }
}

#[derive(Template)]
#[template(path = "hazards/lists.html")]
struct ListsPage {
    l: Layout,
    heading: String,
    subtitle: String,
    kind: &'static str,
    org_id: String,
    orgs: Vec<Choice>,
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
    truncated: bool,
}

fn text(c: Cell) -> String {
    match c {
        Cell::Text(s) => s,
        Cell::Date(d) => d.to_string(),
        Cell::Int(n) => n.to_string(),
        Cell::Empty => String::new(),
    }
}

/// `GET /hazards/lists`: the problem or rectification list of a school, centre or district.
#[tracing::instrument(skip_all)]
pub async fn print(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<ListsQuery>,
) -> AppResult<Response> {
    let l = caller.lang;
    let (kind, org_id) = q.parse()?;
    let (filter, org_name, _) = list_filter(&st, &caller, kind, org_id).await?;
    let today = st.config.today();
    let offset = st.config.offset();
    let words = Words::new(l);
    let mut rows = Vec::new();
    let mut after = 0;
    let mut truncated = false;
    loop {
        let batch = xiaoan_store::hazards::batch_after(
            &st.db,
            &caller.scope(Permission::HazardExport),
            &filter,
            after,
            1000,
            today,
        )
        .await?;
        let Some(last) = batch.last() else { break };
        after = last.id;
        let n = batch.len();
        for h in &batch {
            if rows.len() == PRINT_ROWS {
                truncated = true;
                break;
            }
            rows.push(row(kind, h, &words, offset).into_iter().map(text).collect());
        }
        if truncated || n < 1000 {
            break;
        }
    }
    let orgs = xiaoan_store::orgs::list(
        &st.db,
        &caller.scope(Permission::HazardExport),
        &OrgFilter::default(),
    )
    .await?;
    let title_key = format!("hazard.lists.{}", kind.code());
    let page = ListsPage {
        heading: format!("{} {}", org_name, l.t(&title_key)),
        subtitle: l
            .t("hazard.lists.subtitle")
            .replace("%{date}", &today.to_string())
            .replace("%{user}", &caller.user.display_name),
        kind: kind.code(),
        org_id: org_id.map(|o| o.to_string()).unwrap_or_default(),
        orgs: orgs
            .iter()
            .filter(|o| o.kind != OrgKind::Section)
            .map(|o| Choice {
                value: o.id.to_string(),
                label: o.name.clone(),
                selected: Some(o.id) == org_id,
            })
            .collect(),
        headers: headers(kind, l),
        rows,
        truncated,
        l: Layout::new(&caller, "hazards.lists", "/hazards"),
    };
    Ok(render(&page))
}

/// `GET /hazards/export.xlsx` for the pages (same file as the API).
#[tracing::instrument(skip_all)]
pub async fn export(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<ListsQuery>,
) -> AppResult<Response> {
    let (kind, org_id) = q.parse()?;
    crate::hazards::export::xlsx(&st, &caller, kind, org_id).await
}
