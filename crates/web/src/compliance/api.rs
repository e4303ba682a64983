//! `/api/v1/compliance`: one row per org × obligation for a period (`YYYY-MM`, `YYYY-Qn` or
//! `YYYY`) with its status and the measured value against the target; and the full
//! recompute on demand.

use crate::kit::AppState;
use crate::kit::Caller;
use crate::kit::error::{AppError, AppResult};
use crate::kit::{ApiQuery, ErrorBody};
use crate::plan::active;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use xiaoan_domain::OrgKind;
use xiaoan_domain::Permission;
use xiaoan_domain::SchoolType;
use xiaoan_domain::compliance::Status as ComplianceStatus;
use xiaoan_domain::compliance::{Cell, Period};
use xiaoan_store::compliance::{self, MatrixQuery};
use xiaoan_store::orgs;

/// One occurrence behind a row.
#[derive(Serialize, ToSchema)]
pub struct OccurrenceOut {
    /// `2021-03`, `2021-Q2`, `T2021-1`, `SY2021`, `2021-03-02` …
    pub key: String,
    #[schema(value_type = String, format = Date)]
    pub start: NaiveDate,
    #[schema(value_type = String, format = Date)]
    pub due: NaiveDate,
    #[schema(value_type = String, format = Date)]
    pub end: NaiveDate,
    pub status: ComplianceStatus,
    pub measured: f64,
    pub target: f64,
    /// Met, but only after its due day.
    pub late: bool,
}

/// The status of one org × obligation over the period.
#[derive(Serialize, ToSchema)]
pub struct ComplianceRow {
    pub org_id: i64,
    pub org_code: String,
    pub org_name: String,
    pub org_kind: OrgKind,
    pub obligation_id: String,
    pub task: String,
    pub period: String,
    pub status: ComplianceStatus,
    /// For one occurrence its measure (hours, records, people); for several, how many were met.
    pub measured: f64,
    /// For one occurrence its target; for several, how many have opened.
    pub target: f64,
    pub unit: String,
    /// The earliest due day of an occurrence not yet met.
    #[schema(value_type = Option<String>, format = Date)]
    pub next_due: Option<NaiveDate>,
    /// With `detail=true`: the occurrences in the period.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub occurrences: Option<Vec<OccurrenceOut>>,
}

/// What to report on.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ComplianceQuery {
    /// An org in the caller's scope; its subtree is reported (default: the whole scope).
    pub org_id: Option<i64>,
    /// `YYYY-MM`, `YYYY-Qn` or `YYYY` (default: the current month).
    pub period: Option<String>,
    /// Only this obligation.
    pub obligation: Option<String>,
    /// Only schools of this type.
    #[serde(default, deserialize_with = "crate::kit::extract::blank")]
    pub school_type: Option<SchoolType>,
    /// Only orgs whose name or code contains this text.
    #[serde(default, deserialize_with = "crate::kit::extract::blank")]
    pub q: Option<String>,
    /// Include each row's occurrences.
    pub detail: Option<bool>,
    /// Orgs per page (default 1000, at most 5000); the total is in `X-Total-Count`.
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

pub(crate) fn occurrences_out(c: &Cell) -> Vec<OccurrenceOut> {
    c.occurrences
        .iter()
        .map(|o| OccurrenceOut {
            key: o.occurrence.key.clone(),
            start: o.occurrence.start,
            due: o.occurrence.due,
            end: o.occurrence.end,
            status: o.status,
            measured: o.measured,
            target: o.target,
            late: o.late,
        })
        .collect()
}

/// Compliance per org × obligation for a period.
#[utoipa::path(get, path = "/api/v1/compliance", tag = "compliance", params(ComplianceQuery), security(("bearer" = [])),
    responses((status = 200, body = Vec<ComplianceRow>, headers(("X-Total-Count" = i64, description = "orgs matching"))),
              (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn list(
    State(st): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ComplianceQuery>,
) -> AppResult<(HeaderMap, Json<Vec<ComplianceRow>>)> {
    let mut headers = HeaderMap::new();
    let Some(active) = active(&st).await? else {
        headers.insert("x-total-count", HeaderValue::from(0));
        return Ok((headers, Json(vec![])));
    };
    let period = match q.period.as_deref() {
        Some(p) => Period::parse(p).ok_or_else(|| AppError::invalid("period"))?,
        None => Period::month_of(active.today),
    };
    let under = match q.org_id {
        Some(id) => Some(
            orgs::get(&st.db, &caller.scope(Permission::PlanRead), id)
                .await?
                .path,
        ),
        None => None,
    };
    let school_type = q.school_type;
    if let Some(ob) = &q.obligation
        && active.plan.plan.obligation(ob).is_none()
    {
        return Err(AppError::invalid("obligation_unknown"));
    }
    let mq = MatrixQuery {
        period: period.clone(),
        under,
        school_type,
        name: q.q,
        obligations: q.obligation.into_iter().collect(),
        offset: q.offset.unwrap_or(0).max(0),
        limit: q.limit.unwrap_or(1000).clamp(1, 5000),
    };
    let m = compliance::matrix(
        &st.db,
        &caller.scope(Permission::PlanRead),
        &active.plan,
        &active.calendar,
        active.today,
        &mq,
    )
    .await?;
    headers.insert("x-total-count", HeaderValue::from(m.total));
    let detail = q.detail.unwrap_or(false);
    let mut rows = Vec::new();
    for row in &m.rows {
        for (ob, cell) in m.obligations.iter().zip(&row.cells) {
            rows.push(ComplianceRow {
                org_id: row.org.id,
                org_code: row.org.code.clone(),
                org_name: row.org.name.clone(),
                org_kind: row.org.kind,
                obligation_id: ob.id.clone(),
                task: ob.task.clone(),
                period: period.key.clone(),
                status: cell.status,
                measured: cell.measured,
                target: cell.target,
                unit: cell.unit.code().into(),
                next_due: cell.next_due(),
                occurrences: detail.then(|| occurrences_out(cell)),
            });
        }
    }
    Ok((headers, Json(rows)))
}

/// What a recompute did.
#[derive(Serialize, ToSchema)]
pub struct RecomputeOut {
    /// The plan version recomputed (none when no plan is loaded: nothing to do).
    pub plan_id: Option<i64>,
    pub plan_version: Option<i64>,
    pub obligations: usize,
    pub rows_read: u64,
    pub measures_written: u64,
    pub elapsed_ms: u64,
}

/// Rebuilds every measure of the active plan from the records.
#[utoipa::path(post, path = "/api/v1/compliance/recompute", tag = "compliance", security(("bearer" = [])),
    responses((status = 200, body = RecomputeOut), (status = 403, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn recompute(
    State(st): State<AppState>,
    caller: Caller,
) -> AppResult<Json<RecomputeOut>> {
    let Some(active) = active(&st).await? else {
        return Ok(Json(RecomputeOut {
            plan_id: None,
            plan_version: None,
            obligations: 0,
            rows_read: 0,
            measures_written: 0,
            elapsed_ms: 0,
        }));
    };
    let s = compliance::recompute(
        &st.db,
        &caller.actor(),
        &active.plan,
        &active.calendar,
        None,
    )
    .await?;
    Ok(Json(RecomputeOut {
        plan_id: Some(active.plan.id),
        plan_version: Some(active.plan.version),
        obligations: s.obligations,
        rows_read: s.rows_read,
        measures_written: s.measures_written,
        elapsed_ms: s.elapsed_ms,
    }))
}
