//! `/api/v1/obligations` and `/api/v1/record-kinds`: the active plan's obligations with
//! their stable ids, and the record kinds (with typed fields) that satisfy them. Also the
//! helpers the compliance API and pages share: the active plan with its calendar and the
//! district's date, and the orgs a caller may enter records for.

use crate::AppState;
use crate::auth::Caller;
use crate::error::{AppError, AppResult, StoreCtx};
use crate::i18n::Lang;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::NaiveDate;
use serde::Serialize;
use utoipa::ToSchema;
use xiaoan_domain::calendar::SchoolCalendar;
use xiaoan_domain::compliance::unit;
use xiaoan_domain::plan::kinds::{FieldType, RecordKind, Unit};
use xiaoan_domain::plan::{Level, Obligation, Plan};
use xiaoan_domain::{OrgKind, Permission};
use xiaoan_store::plans::{self, StoredPlan};

/// The active plan with what evaluating it needs.
pub(crate) struct Active {
    pub plan: StoredPlan,
    pub calendar: SchoolCalendar,
    /// Today in the district's time zone.
    pub today: NaiveDate,
}

/// The active plan, its calendar and today's date; `None` when no plan is loaded.
pub(crate) async fn active(st: &AppState, caller: &Caller) -> AppResult<Option<Active>> {
    let (l, s) = (caller.lang, caller.surface);
    let Some(plan) = plans::active(&st.db).await.ctx(l, s)? else {
        return Ok(None);
    };
    let calendar = xiaoan_store::calendar::load(&st.db).await.ctx(l, s)?;
    let today = plan.plan.local_date(xiaoan_domain::now_millis());
    Ok(Some(Active {
        plan,
        calendar,
        today,
    }))
}

/// Like [`active`], but a clear 409 when no plan has been loaded.
pub(crate) async fn require_active(st: &AppState, caller: &Caller) -> AppResult<Active> {
    active(st, caller)
        .await?
        .ok_or_else(|| caller.error(StatusCode::CONFLICT, "no_active_plan"))
}

/// The orgs the caller may enter records for: where they hold a role that writes records
/// (a section's officers write for the bureau above it).
pub(crate) fn writable_orgs(caller: &Caller) -> Vec<i64> {
    let mut out: Vec<i64> = caller
        .assignments
        .iter()
        .filter(|a| Permission::RecordWrite.granted_to(a.role))
        .filter_map(|a| {
            if a.org_kind == OrgKind::Section {
                let parent = a.parent_path.as_deref()?;
                parent
                    .trim_end_matches('/')
                    .rsplit('/')
                    .next()?
                    .parse()
                    .ok()
            } else {
                Some(a.org_id)
            }
        })
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// The label of a record kind in `lang`.
pub(crate) fn kind_label(lang: Lang, k: &RecordKind) -> String {
    match &k.label {
        Some(t) => t.get(lang.code()).to_string(),
        None => lang.t(&format!("record_kind.{}", k.code)),
    }
}

/// The label of a unit in `lang`.
pub(crate) fn unit_label(lang: Lang, u: Unit) -> String {
    lang.t(&format!("unit.{}", u.code()))
}

/// The label of a choice option: the interface's translation when there is one.
pub(crate) fn choice_label(lang: Lang, option: &str) -> String {
    let key = format!("record_choice.{option}");
    let t = lang.t(&key);
    if t == key { option.to_string() } else { t }
}

/// An obligation as the API shows it.
#[derive(Serialize, ToSchema)]
pub struct ObligationOut {
    /// Stable id, the same in every version of the plan.
    pub id: String,
    pub plan: String,
    pub plan_version: i64,
    /// The title in the caller's language.
    pub title: String,
    /// The task it belongs to, e.g. `4` or `6-2`.
    pub task: String,
    /// The task's numeral, e.g. `四` or `六.2`.
    pub task_numeral: String,
    /// `school`, `centre` or `bureau`.
    pub level: String,
    /// The role that owes it, if the plan names one.
    pub owner: Option<String>,
    /// School types it applies to (empty: all).
    pub school_types: Vec<String>,
    /// School facts it requires (`canteen`, `buses` …).
    pub facts: Vec<String>,
    /// The cadence, e.g. `{"every":"month","due_day":10}`.
    #[schema(value_type = Object)]
    pub cadence: serde_json::Value,
    /// The threshold, e.g. `{"type":"sum","field":"hours","target":12}`.
    #[schema(value_type = Object)]
    pub threshold: serde_json::Value,
    /// The parameter the threshold's number comes from.
    pub threshold_param: Option<String>,
    /// Conditions a record must meet to count.
    #[schema(value_type = Vec<Object>)]
    pub conditions: serde_json::Value,
    /// The record kind that satisfies it.
    pub record_kind: String,
    /// The unit of one occurrence's measure.
    pub unit: String,
    #[schema(value_type = Option<String>, format = Date)]
    pub from: Option<NaiveDate>,
    #[schema(value_type = Option<String>, format = Date)]
    pub until: Option<NaiveDate>,
    /// The plan's wording and the regulation behind it.
    pub source: String,
}

pub(crate) fn obligation_out(lang: Lang, p: &StoredPlan, o: &Obligation) -> ObligationOut {
    let plan: &Plan = &p.plan;
    let json = |v: serde_json::Result<serde_json::Value>| v.unwrap_or_default();
    ObligationOut {
        id: o.id.clone(),
        plan: p.code.clone(),
        plan_version: p.version,
        title: o.title.get(lang.code()).to_string(),
        task: o.task.clone(),
        task_numeral: plan
            .task(&o.task)
            .map(|t| t.numeral.clone())
            .unwrap_or_default(),
        level: match o.applies.level {
            Level::School => "school",
            Level::Centre => "centre",
            Level::Bureau => "bureau",
        }
        .into(),
        owner: o.owner.map(|r| r.code().to_string()),
        school_types: o
            .applies
            .school_types
            .iter()
            .map(|t| t.code().to_string())
            .collect(),
        facts: o
            .applies
            .facts
            .iter()
            .map(|f| f.code().to_string())
            .collect(),
        cadence: json(serde_json::to_value(&o.cadence)),
        threshold: json(serde_json::to_value(&o.threshold)),
        threshold_param: o.threshold_param.clone(),
        conditions: json(serde_json::to_value(&o.conditions)),
        record_kind: o.record.clone(),
        unit: unit(o, plan).code().to_string(),
        from: o.from,
        until: o.until,
        source: o.source.clone(),
    }
}

/// The obligations of the active plan (an empty list before a plan is loaded).
#[utoipa::path(get, path = "/api/v1/obligations", tag = "compliance", security(("bearer" = [])),
    responses((status = 200, body = Vec<ObligationOut>), (status = 401, body = crate::api::ErrorBody)))]
pub async fn list(
    State(st): State<AppState>,
    caller: Caller,
) -> AppResult<Json<Vec<ObligationOut>>> {
    let Some(plan) = plans::active(&st.db)
        .await
        .ctx(caller.lang, caller.surface)?
    else {
        return Ok(Json(vec![]));
    };
    Ok(Json(
        plan.plan
            .obligations
            .iter()
            .map(|o| obligation_out(caller.lang, &plan, o))
            .collect(),
    ))
}

/// A field of a record kind.
#[derive(Serialize, ToSchema)]
pub struct FieldOut {
    pub name: String,
    /// `int`, `number`, `text`, `date`, `month`, `bool`, `choice`, `multi` or `list`.
    #[serde(rename = "type")]
    pub ty: String,
    pub required: bool,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub max_len: Option<usize>,
    pub options: Vec<String>,
    pub unit: Option<String>,
    pub label: String,
}

/// A record kind and its fields.
#[derive(Serialize, ToSchema)]
pub struct RecordKindOut {
    pub code: String,
    pub label: String,
    /// Defined by the product rather than the plan.
    pub builtin: bool,
    pub fields: Vec<FieldOut>,
}

pub(crate) fn field_label(lang: Lang, f: &xiaoan_domain::plan::FieldSpec) -> String {
    match &f.label {
        Some(t) => t.get(lang.code()).to_string(),
        None => lang.t(&format!("record_field.{}", f.name)),
    }
}

fn type_code(t: FieldType) -> &'static str {
    FieldType::ALL
        .iter()
        .find(|(x, _)| *x == t)
        .map_or("text", |(_, c)| c)
}

/// The record kinds usable now: the built-in ones and those of the active plan.
#[utoipa::path(get, path = "/api/v1/record-kinds", tag = "compliance", security(("bearer" = [])),
    responses((status = 200, body = Vec<RecordKindOut>), (status = 401, body = crate::api::ErrorBody)))]
pub async fn kinds(
    State(st): State<AppState>,
    caller: Caller,
) -> AppResult<Json<Vec<RecordKindOut>>> {
    let l = caller.lang;
    let plan = plans::active(&st.db).await.ctx(l, caller.surface)?;
    let kinds = match &plan {
        Some(p) => p.plan.all_kinds(),
        None => xiaoan_domain::plan::kinds::builtins(),
    };
    Ok(Json(
        kinds
            .iter()
            .map(|k| RecordKindOut {
                code: k.code.clone(),
                label: kind_label(l, k),
                builtin: k.label.is_none(),
                fields: k
                    .fields
                    .iter()
                    .map(|f| FieldOut {
                        name: f.name.clone(),
                        ty: type_code(f.ty).into(),
                        required: f.required,
                        min: f.min,
                        max: f.max,
                        max_len: f.max_len,
                        options: f.options.clone(),
                        unit: f.unit.map(|u| u.code().to_string()),
                        label: field_label(l, f),
                    })
                    .collect(),
            })
            .collect(),
    ))
}

/// Maps a refused record field to a 400 naming the field in the caller's language.
pub(crate) fn field_error(
    caller: &Caller,
    kind: &RecordKind,
    e: xiaoan_domain::plan::FieldError,
) -> AppError {
    use xiaoan_domain::plan::kinds::FieldErrorKind::*;
    let code = match e.kind {
        Unknown => "record_field_unknown",
        Missing => "record_field_missing",
        Type => "record_field_type",
        Range => "record_field_range",
        TooLong => "record_field_too_long",
        Choice => "record_field_choice",
    };
    let label = kind
        .field(&e.field)
        .map(|f| field_label(caller.lang, f))
        .unwrap_or_else(|| e.field.clone());
    let mut err = caller.error(StatusCode::BAD_REQUEST, code);
    err.message = err
        .message
        .replace("%{field}", &format!("{label} ({})", e.field));
    err
}
