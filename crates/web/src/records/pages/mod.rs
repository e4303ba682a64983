//! Record pages: the evidence in the caller's scope, one record with its history, and the
//! forms to enter, correct and withdraw records (see [`form`]).

mod form;
mod hazard;

pub use form::{correct, create, new_form, withdraw};
pub use hazard::report as report_hazard;

use crate::kit::AppState;
use crate::kit::Caller;
use crate::kit::Choice;
use crate::kit::Id;
use crate::kit::Lang;
use crate::kit::error::{AppError, AppResult};
use crate::kit::page::{Layout, Refused, display_names, render, take_refused};
use crate::plan::{choice_label, field_label, kind_label, writable_orgs};
use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value;
use tower_sessions::Session;
use xiaoan_domain::Permission;
use xiaoan_domain::plan::Plan;
use xiaoan_domain::plan::kinds::{FieldType, RecordKind};
use xiaoan_store::records::{self, Record, RecordFilter};

/// A record as one line of a list.
pub struct RecordLine {
    pub id: i64,
    pub day: String,
    pub org: String,
    pub kind: String,
    pub summary: String,
    pub author: String,
    pub withdrawn: bool,
}

/// A field value in words.
pub fn value_text(lang: Lang, spec: Option<&xiaoan_domain::plan::FieldSpec>, v: &Value) -> String {
    let unit = spec
        .and_then(|f| f.unit)
        .map(|u| format!(" {}", crate::plan::unit_label(lang, u)))
        .unwrap_or_default();
    match v {
        Value::Bool(b) => lang.t(if *b { "record.yes" } else { "record.no" }),
        Value::Number(n) => format!(
            "{}{unit}",
            crate::plan::words::number(n.as_f64().unwrap_or(0.0))
        ),
        Value::String(s) if spec.is_some_and(|f| f.ty == FieldType::Choice) => {
            choice_label(lang, s)
        }
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_str)
            .map(|s| match spec.map(|f| f.ty) {
                Some(FieldType::Multi) => choice_label(lang, s),
                _ => s.to_string(),
            })
            .collect::<Vec<_>>()
            .join(lang.list_separator()),
        _ => String::new(),
    }
}

/// The fields of a record as (label, value) pairs, in the kind's order.
pub fn field_pairs(lang: Lang, kind: Option<&RecordKind>, fields: &Value) -> Vec<(String, String)> {
    let Some(map) = fields.as_object() else {
        return vec![];
    };
    match kind {
        Some(k) => k
            .fields
            .iter()
            .filter_map(|f| {
                map.get(&f.name)
                    .map(|v| (field_label(lang, f), value_text(lang, Some(f), v)))
            })
            .collect(),
        None => map
            .iter()
            .map(|(k, v)| (k.clone(), value_text(lang, None, v)))
            .collect(),
    }
}

/// Records as list lines (the first fields as a summary).
pub fn record_lines(lang: Lang, plan: &Plan, list: &[Record]) -> Vec<RecordLine> {
    list.iter()
        .map(|r| {
            let kind = plan.kind(&r.kind);
            let summary = field_pairs(lang, kind.as_ref(), &r.fields)
                .into_iter()
                .filter(|(_, v)| !v.is_empty())
                .take(3)
                .map(|(k, v)| format!("{k}: {v}"))
                .collect::<Vec<_>>()
                .join(";");
            RecordLine {
                id: r.id,
                day: r.occurred_on.to_string(),
                org: r.org_name.clone(),
                kind: kind
                    .map(|k| kind_label(lang, &k))
                    .unwrap_or_else(|| r.kind.clone()),
                summary,
                // Records the system computes (the video obligation from the camera
                // inventory) are signed by it, not by an account.
                author: if r.author_login.starts_with("system:") {
                    lang.t("records.author_system")
                } else {
                    r.author_name.clone()
                },
                withdrawn: r.withdrawn,
            }
        })
        .collect()
}

#[derive(Template)]
#[template(path = "records/list.html")]
struct ListPage {
    l: Layout,
    rows: Vec<RecordLine>,
    kinds: Vec<Choice>,
    orgs: Vec<Choice>,
    from: String,
    to: String,
    page: i64,
    more: bool,
    query: String,
    can_write: bool,
}

/// Filters of the record list.
#[derive(Deserialize)]
pub struct ListForm {
    org_id: Option<String>,
    kind: Option<String>,
    from: Option<String>,
    to: Option<String>,
    page: Option<i64>,
}

const PAGE: i64 = 100;

/// `GET /records`.
#[tracing::instrument(skip_all)]
pub async fn list(
    State(st): State<AppState>,
    caller: Caller,
    Query(f): Query<ListForm>,
) -> AppResult<Response> {
    let l = caller.lang;
    let a = crate::plan::active(&st).await?;
    let blank = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(String::from)
    };
    let day = |v: &Option<String>| -> AppResult<Option<chrono::NaiveDate>> {
        blank(v)
            .map(|d| d.parse().map_err(|_| AppError::invalid("record_date")))
            .transpose()
    };
    let org_id = match blank(&f.org_id) {
        Some(v) => Some(v.parse::<i64>().map_err(|_| AppError::not_found())?),
        None => None,
    };
    let page = f.page.unwrap_or(1).max(1);
    let filter = RecordFilter {
        org_id,
        kinds: blank(&f.kind).into_iter().collect(),
        from: day(&f.from)?,
        to: day(&f.to)?,
        include_withdrawn: true,
        offset: (page - 1) * PAGE,
        limit: PAGE + 1,
    };
    let mut found = records::list(&st.db, &caller.scope(Permission::RecordRead), &filter).await?;
    let more = found.len() as i64 > PAGE;
    found.truncate(PAGE as usize);
    let plan = plan_or_empty(a.as_ref());
    let kinds = plan.all_kinds();
    let orgs = form::org_choices(&st, &caller, org_id).await?;
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in [
        ("org_id", &f.org_id),
        ("kind", &f.kind),
        ("from", &f.from),
        ("to", &f.to),
    ] {
        if let Some(v) = blank(v) {
            q.append_pair(k, &v);
        }
    }
    let page_view = ListPage {
        rows: record_lines(l, &plan, &found),
        kinds: kinds
            .iter()
            .map(|k| Choice {
                selected: blank(&f.kind).as_deref() == Some(k.code.as_str()),
                value: k.code.clone(),
                label: kind_label(l, k),
            })
            .collect(),
        orgs,
        from: blank(&f.from).unwrap_or_default(),
        to: blank(&f.to).unwrap_or_default(),
        page,
        more,
        query: q.finish(),
        can_write: caller.can(Permission::RecordWrite)
            && !writable_orgs(&caller).is_empty()
            && a.is_some(),
        l: Layout::new(&caller, "records.title", "/records"),
    };
    Ok(render(&page_view))
}

/// The active plan, or one that knows the built-in record kinds only.
pub(crate) fn plan_or_empty(a: Option<&crate::plan::Active>) -> std::sync::Arc<Plan> {
    a.map_or_else(
        || std::sync::Arc::new(empty_plan()),
        |a| a.plan.plan.clone(),
    )
}

/// A plan with no obligations and no kinds of its own (built-in kinds only).
fn empty_plan() -> Plan {
    Plan {
        code: String::new(),
        name: Default::default(),
        starts_on: chrono::NaiveDate::MIN,
        ends_on: chrono::NaiveDate::MIN,
        record_edit_hours: 24,
        source: String::new(),
        sections: vec![],
        phases: vec![],
        tasks: vec![],
        params: vec![],
        kinds: vec![],
        obligations: vec![],
    }
}

/// One earlier version as a table row.
pub struct RevisionView {
    pub revision: i64,
    pub day: String,
    pub fields: Vec<(String, String)>,
    pub withdrawn: bool,
    pub reason: String,
    pub by: String,
    pub at: String,
}

pub(crate) fn when(millis: i64) -> String {
    chrono::DateTime::from_timestamp_millis(millis + 8 * 3_600_000)
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

#[derive(Template)]
#[template(path = "records/detail.html")]
struct DetailPage {
    l: Layout,
    r: RecordLine,
    note: String,
    fields: Vec<(String, String)>,
    revision: i64,
    created: String,
    attachments: Vec<i64>,
    history: Vec<RevisionView>,
    /// The correction form, when the caller may still change the record.
    edit: Option<form::FieldsForm>,
    edit_until: String,
    error: Option<String>,
    /// The withdrawal's reason as sent, after a refusal.
    withdraw_reason: String,
    /// The problem whose hazard report was refused: its number, category and location.
    problem_kept: Option<(usize, String, String)>,
    /// Problems the record found, by position, that can be reported as hazards.
    problems: Vec<(usize, String)>,
    categories: Vec<Choice>,
    /// Just saved: the page says so, and the correction forms stay folded.
    saved: bool,
}

impl DetailPage {
    /// The category and location sent for problem `i` when its report was refused.
    fn kept_problem(&self, i: &usize) -> (&str, &str) {
        match &self.problem_kept {
            Some((k, category, location)) if k == i => (category, location),
            _ => ("", ""),
        }
    }
}

/// `?saved=1` after a record was entered or corrected.
#[derive(Deserialize)]
pub struct DetailQuery {
    saved: Option<String>,
}

/// `GET /records/{id}`.
#[tracing::instrument(skip_all, fields(id = id))]
pub async fn detail(
    State(st): State<AppState>,
    caller: Caller,
    session: Session,
    Id(id): Id,
    Query(q): Query<DetailQuery>,
) -> AppResult<Response> {
    let saved = q.saved.as_deref() == Some("1");
    let refused = take_refused(&session, &page_of(id)).await;
    show(&st, &caller, id, refused, saved).await
}

/// The address of a record's page.
pub(crate) fn page_of(id: i64) -> String {
    format!("/records/{id}")
}

/// Which of a record page's forms a refusal came from (in [`Refused::fields`]).
pub(crate) const REFUSED_FORM: &str = "form";

/// A refusal of the record page's form `form` (`correct`, `withdraw`, `hazard`), its fields
/// `pairs` kept.
pub(crate) fn refused(id: i64, form: &str, error: String, pairs: &[(String, String)]) -> Refused {
    Refused {
        path: page_of(id),
        error,
        fields: [(REFUSED_FORM.to_string(), form.to_string())].into(),
        pairs: pairs
            .iter()
            .filter(|(k, _)| k != "_csrf")
            .cloned()
            .collect(),
        photos: vec![],
    }
}

/// Renders a record; after a refused change, with why and the values as sent.
pub(crate) async fn show(
    st: &AppState,
    caller: &Caller,
    id: i64,
    refused: Option<Refused>,
    saved: bool,
) -> AppResult<Response> {
    let l = caller.lang;
    let r = records::get(&st.db, &caller.scope(Permission::RecordRead), id).await?;
    let (error, form_of, pairs) = match refused {
        Some(x) => {
            let form = x.fields.get(REFUSED_FORM).cloned().unwrap_or_default();
            (Some(x.error), form, x.pairs)
        }
        None => (None, String::new(), vec![]),
    };
    let sent = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let history = records::history(&st.db, &caller.scope(Permission::RecordRead), id).await?;
    let a = crate::plan::active(st).await?;
    let plan = plan_or_empty(a.as_ref());
    let kind = plan.kind(&r.kind);
    let window = i64::from(plan.record_edit_hours) * 3_600_000;
    let editable = caller.can(Permission::RecordWrite)
        && r.author_id == Some(caller.user.id)
        && !r.withdrawn
        && xiaoan_domain::now_millis() - r.created_at <= window
        && a.is_some();
    let bad = error.is_some();
    let edit = match (form_of.as_str(), kind.as_ref()) {
        ("correct", Some(k)) => {
            let mut f = form::posted(l, k, &pairs);
            f.org_id = r.org_id;
            Some(f)
        }
        _ => None,
    };
    let problem_kept = (form_of == "hazard")
        .then(|| {
            let i = sent("problem").parse::<usize>().ok()?;
            Some((i, sent("category"), sent("location")))
        })
        .flatten();
    let by = display_names(
        &st.db,
        &history
            .iter()
            .map(|h| h.changed_by.clone())
            .collect::<Vec<_>>(),
    )
    .await;
    let page = DetailPage {
        fields: field_pairs(l, kind.as_ref(), &r.fields),
        note: r.note.clone(),
        revision: r.revision,
        created: when(r.created_at),
        attachments: r.attachment_ids.clone(),
        history: history
            .iter()
            .map(|h| RevisionView {
                revision: h.revision,
                day: h.occurred_on.to_string(),
                fields: field_pairs(l, kind.as_ref(), &h.fields),
                withdrawn: h.withdrawn,
                reason: h.reason.clone(),
                by: by
                    .get(&h.changed_by)
                    .cloned()
                    .unwrap_or_else(|| h.changed_by.clone()),
                at: when(h.changed_at),
            })
            .collect(),
        edit: match (editable, kind.as_ref()) {
            (true, Some(k)) => Some(edit.unwrap_or_else(|| form::FieldsForm::of_record(l, k, &r))),
            _ => None,
        },
        edit_until: when(r.created_at + window),
        error,
        withdraw_reason: if form_of == "withdraw" {
            sent("reason")
        } else {
            String::new()
        },
        problem_kept,
        problems: if caller.can(Permission::HazardReport) && !r.withdrawn {
            hazard::problems(&r).into_iter().enumerate().collect()
        } else {
            vec![]
        },
        categories: xiaoan_domain::hazard::Category::ALL
            .iter()
            .map(|c| Choice {
                value: c.code().into(),
                label: l.t(&format!("hazard.category.{}", c.code())),
                selected: false,
            })
            .collect(),
        saved,
        r: record_lines(l, &plan, std::slice::from_ref(&r)).remove(0),
        l: Layout::new(caller, "records.detail_title", "/records"),
    };
    let mut res = render(&page);
    if bad {
        *res.status_mut() = axum::http::StatusCode::BAD_REQUEST;
    }
    Ok(res)
}
