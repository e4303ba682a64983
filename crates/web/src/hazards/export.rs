//! The two lists (兩個清單) as xlsx: the problem list (every hazard found) and the
//! rectification list (registered hazards with owner, measures and deadline), for a school,
//! a centre or the district. Rows are streamed from the database into the workbook.

use crate::kit::AppState;
use crate::kit::Caller;
use crate::kit::Lang;
use crate::kit::error::{AppError, AppResult};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use xiaoan_domain::Permission;
use xiaoan_domain::hazard::{Category, Grade, Status};
use xiaoan_reports::{Cell, Table, write_table};
use xiaoan_store::hazards::{self, HazardFilter, ListEntry};

/// Which of the two lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListKind {
    Problems,
    Rectifications,
}

impl ListKind {
    /// Parses `problems` or `rectifications`.
    pub fn parse(s: &str) -> Option<ListKind> {
        match s {
            "problems" => Some(ListKind::Problems),
            "rectifications" => Some(ListKind::Rectifications),
            _ => None,
        }
    }

    /// The stable code.
    pub fn code(self) -> &'static str {
        match self {
            ListKind::Problems => "problems",
            ListKind::Rectifications => "rectifications",
        }
    }
}

/// The column headers of a list, translated.
pub fn headers(kind: ListKind, l: Lang) -> Vec<String> {
    let mut keys = vec![
        "school",
        "number",
        "category",
        "location",
        "description",
        "grade",
        "found_on",
        "owner",
        "measures",
        "deadline",
        "status",
        "closed_on",
        "verifier",
    ];
    if kind == ListKind::Rectifications {
        keys.insert(10, "interim_measures");
    }
    keys.into_iter()
        .map(|k| l.t(&format!("hazard.field.{k}")))
        .collect()
}

/// The words of a list in one language, looked up once for all its rows.
pub struct Words {
    category: Vec<(Category, String)>,
    grade: Vec<(Grade, String)>,
    status: Vec<(Status, String)>,
    on_plan: String,
    overdue: String,
}

impl Words {
    pub fn new(l: Lang) -> Words {
        Words {
            category: Category::ALL
                .iter()
                .map(|c| (*c, l.t(&format!("hazard.category.{}", c.code()))))
                .collect(),
            grade: Grade::ALL
                .iter()
                .map(|g| (*g, l.t(&format!("hazard.grade.{}", g.code()))))
                .collect(),
            status: Status::ALL
                .iter()
                .map(|s| (*s, l.t(&format!("hazard.status.{}", s.code()))))
                .collect(),
            on_plan: l.t("hazard.flag.on_plan"),
            overdue: l.t("hazard.flag.overdue"),
        }
    }

    fn of<T: PartialEq>(list: &[(T, String)], v: T) -> String {
        list.iter()
            .find(|(k, _)| *k == v)
            .map(|(_, w)| w.clone())
            .unwrap_or_default()
    }

    /// The status text of a hazard: the state, and whether it is on a plan or overdue.
    pub fn status_text(&self, h: &ListEntry) -> String {
        let mut s = Words::of(&self.status, h.status);
        if h.on_plan {
            s.push_str(&self.on_plan);
        }
        if h.overdue {
            s.push_str(&self.overdue);
        }
        s
    }
}

/// One hazard as a row of a list.
pub fn row(kind: ListKind, h: &ListEntry, w: &Words, offset: chrono::FixedOffset) -> Vec<Cell> {
    let closed_on = h
        .closed_at
        .and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| t.with_timezone(&offset).date_naive());
    let mut cells = vec![
        Cell::Text(h.school_name.clone()),
        Cell::Text(h.number.clone()),
        Cell::Text(Words::of(&w.category, h.category)),
        Cell::Text(h.location.clone()),
        Cell::Text(format!("{}：{}", h.title, h.description)),
        Cell::Text(Words::of(&w.grade, h.grade)),
        Cell::Date(h.found_on),
        Cell::Text(h.owner_name.clone()),
        Cell::Text(h.measures.clone()),
        Cell::from(h.deadline),
        Cell::Text(w.status_text(h)),
        Cell::from(closed_on),
        Cell::Text(h.verifier_name.clone()),
    ];
    if kind == ListKind::Rectifications {
        cells.insert(10, Cell::Text(h.interim_measures.clone()));
    }
    cells
}

/// The unit whose lists the caller keeps when no org is chosen: the one org their export
/// roles are held at (a section's officers act for the bureau above it); none when their
/// roles are held at several.
async fn own_unit(st: &AppState, caller: &Caller) -> AppResult<Option<xiaoan_store::orgs::Org>> {
    let scope = caller.scope(Permission::HazardRead);
    let mut units = Vec::new();
    for a in caller
        .assignments
        .iter()
        .filter(|a| Permission::HazardExport.granted_to(a.role))
    {
        let org = xiaoan_store::orgs::get(&st.db, &scope, a.org_id).await?;
        let org = match org.parent_id {
            Some(parent) if a.role.reaches_parent_of(a.org_kind) => {
                xiaoan_store::orgs::get(&st.db, &scope, parent).await?
            }
            _ => org,
        };
        if !units
            .iter()
            .any(|u: &xiaoan_store::orgs::Org| u.id == org.id)
        {
            units.push(org);
        }
    }
    Ok(if units.len() == 1 { units.pop() } else { None })
}

/// The filter of a list under `org_id` (or the caller's whole scope).
#[tracing::instrument(skip_all)]
pub async fn list_filter(
    st: &AppState,
    caller: &Caller,
    kind: ListKind,
    org_id: Option<i64>,
) -> AppResult<(HazardFilter, String, String)> {
    let l = caller.lang;
    let (path, name, code) = match org_id {
        Some(id) => {
            let org = xiaoan_store::orgs::get(&st.db, &caller.scope(Permission::HazardRead), id)
                .await
                .map_err(|_| AppError::invalid("org_unknown"))?;
            (Some(org.path), org.name, org.code)
        }
        None => match own_unit(st, caller).await? {
            Some(org) => (None, org.name, org.code),
            None => (None, l.t("hazard.lists.all_in_scope"), "all".to_string()),
        },
    };
    let f = HazardFilter {
        under_path: path,
        not_dismissed: true,
        registered: kind == ListKind::Rectifications,
        ..HazardFilter::default()
    };
    Ok((f, name, code))
}

/// Rows read from the database at a time while the workbook is written.
const BATCH: i64 = 5000;

/// Streams a list into an xlsx download.
#[tracing::instrument(skip_all)]
pub async fn xlsx(
    st: &AppState,
    caller: &Caller,
    kind: ListKind,
    org_id: Option<i64>,
) -> AppResult<Response> {
    let l = caller.lang;
    let (filter, org_name, org_code) = list_filter(st, caller, kind, org_id).await?;
    let today = st.config.today();
    let title_key = format!("hazard.lists.{}", kind.code());
    let table = Table {
        sheet: l.t(&title_key),
        title: format!("{} {}", org_name, l.t(&title_key)),
        subtitle: l
            .t("hazard.lists.subtitle")
            .replace("%{date}", &today.to_string())
            .replace("%{user}", &caller.user.display_name),
        headers: headers(kind, l),
        signature: vec![l.t("hazard.lists.signature")],
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<Vec<Cell>>>(4);
    let offset = st.config.offset();
    let writer = tokio::task::spawn_blocking(move || {
        write_table(
            &table,
            std::iter::from_fn(move || rx.blocking_recv()).flatten(),
        )
    });
    let words = Words::new(l);
    let mut after = 0;
    loop {
        let batch = hazards::batch_after(
            &st.db,
            &caller.scope(Permission::HazardExport),
            &filter,
            after,
            BATCH,
            today,
        )
        .await?;
        let Some(last) = batch.last() else { break };
        after = last.id;
        let n = batch.len();
        let rows = batch.iter().map(|h| row(kind, h, &words, offset)).collect();
        if tx.send(rows).await.is_err() || n < BATCH as usize {
            break;
        }
    }
    drop(tx);
    let bytes = writer
        .await
        .map_err(|_| AppError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal"))?
        .map_err(|e| {
            tracing::error!(error = %e, "xlsx export failed");
            AppError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal")
        })?;
    let ascii = format!("{}-{}-{today}.xlsx", kind.code(), org_code);
    let utf8 = format!("{}-{}-{today}.xlsx", org_name, l.t(&title_key));
    let encoded: String = url::form_urlencoded::byte_serialize(utf8.as_bytes())
        .collect::<String>()
        .replace('+', "%20");
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_string(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"),
            ),
        ],
        bytes,
    )
        .into_response())
}
