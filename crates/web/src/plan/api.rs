//! `/api/v1/obligations` and `/api/v1/record-kinds`: the active plan's obligations with
//! their stable ids, and the record kinds (with typed fields) that satisfy them.

use super::context::{field_label, kind_label};
use crate::kit::AppState;
use crate::kit::Caller;
use crate::kit::Lang;
use crate::kit::error::AppResult;
use axum::Json;
use axum::extract::State;
use chrono::NaiveDate;
use serde::Serialize;
use utoipa::ToSchema;
use xiaoan_domain::compliance::unit;
use xiaoan_domain::plan::kinds::FieldType;
use xiaoan_domain::plan::{Level, Obligation, Plan};
use xiaoan_store::plans::{self, StoredPlan};

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
    responses((status = 200, body = Vec<ObligationOut>), (status = 401, body = crate::kit::ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn list(
    State(st): State<AppState>,
    caller: Caller,
) -> AppResult<Json<Vec<ObligationOut>>> {
    let Some(plan) = plans::active(&st.db).await? else {
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

fn type_code(t: FieldType) -> &'static str {
    FieldType::ALL
        .iter()
        .find(|(x, _)| *x == t)
        .map_or("text", |(_, c)| c)
}

/// The record kinds usable now: the built-in ones and those of the active plan.
#[utoipa::path(get, path = "/api/v1/record-kinds", tag = "compliance", security(("bearer" = [])),
    responses((status = 200, body = Vec<RecordKindOut>), (status = 401, body = crate::kit::ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn kinds(
    State(st): State<AppState>,
    caller: Caller,
) -> AppResult<Json<Vec<RecordKindOut>>> {
    let l = caller.lang;
    let plan = plans::active(&st.db).await?;
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
