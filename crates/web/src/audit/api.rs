//! `/api/v1/audit`: the audit log and its chain check.

use crate::kit::AppState;
use crate::kit::error::AppResult;
use crate::kit::{ApiQuery, ErrorBody};
use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use xiaoan_store::audit::{self, Verification};

/// One audit entry.
#[derive(Serialize, ToSchema)]
pub struct AuditOut {
    pub seq: i64,
    /// RFC 3339 UTC.
    pub at: String,
    pub actor_login: String,
    pub roles: String,
    pub action: String,
    pub object_type: String,
    pub object_id: String,
    pub result: String,
    pub request_id: String,
    pub hash: String,
}

/// A page of entries, newest first.
#[derive(Serialize, ToSchema)]
pub struct AuditPage {
    pub items: Vec<AuditOut>,
    /// Pass as `before` for the next page.
    pub next_before: Option<i64>,
}

/// Paging for the audit log.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    pub before: Option<i64>,
    pub limit: Option<i64>,
}

/// The newest audit entries.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditQuery), security(("bearer" = [])),
    responses((status = 200, body = AuditPage), (status = 403, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn list(
    State(st): State<AppState>,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> AppResult<Json<AuditPage>> {
    let limit = q.limit.unwrap_or(100).clamp(1, 500);
    let entries = audit::recent(&st.db, q.before, limit).await?;
    let next_before = (entries.len() as i64 == limit)
        .then(|| entries.last().map(|e| e.seq))
        .flatten();
    let items = entries
        .into_iter()
        .map(|e| AuditOut {
            seq: e.seq,
            at: chrono::DateTime::from_timestamp_millis(e.at)
                .map(|t| t.to_rfc3339())
                .unwrap_or_default(),
            actor_login: e.actor_login,
            roles: e.roles,
            action: e.action,
            object_type: e.object_type,
            object_id: e.object_id,
            result: e.result,
            request_id: e.request_id,
            hash: e.hash,
        })
        .collect();
    Ok(Json(AuditPage { items, next_before }))
}

/// The outcome of a chain check.
#[derive(Serialize, ToSchema)]
pub struct VerifyOut {
    pub intact: bool,
    pub entries: Option<i64>,
    pub broken_at: Option<i64>,
    pub reason: Option<String>,
}

/// Verifies the whole hash chain and reports the first broken link.
#[utoipa::path(get, path = "/api/v1/audit/verify", tag = "audit", security(("bearer" = [])),
    responses((status = 200, body = VerifyOut), (status = 403, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn verify(State(st): State<AppState>) -> AppResult<Json<VerifyOut>> {
    Ok(Json(match audit::verify(&st.db).await? {
        Verification::Intact { entries } => VerifyOut {
            intact: true,
            entries: Some(entries),
            broken_at: None,
            reason: None,
        },
        Verification::Broken(b) => VerifyOut {
            intact: false,
            entries: None,
            broken_at: Some(b.seq),
            reason: Some(b.reason.into()),
        },
    }))
}
