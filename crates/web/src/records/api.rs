//! `/api/v1/records`: entering the evidence that satisfies obligations (fields validated
//! against the record kind; unknown fields refused), listing it, and correcting or
//! withdrawing one's own records within the plan's editing window.

use crate::kit::AppState;
use crate::kit::Caller;
use crate::kit::Id;
use crate::kit::error::{AppError, AppResult};
use crate::kit::{ApiJson, ApiQuery, ErrorBody};
use crate::plan::{check_writable, field_error, require_active, writable_orgs};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};
use xiaoan_domain::plan::kinds::validate;
use xiaoan_domain::{Millis, Permission};
use xiaoan_store::records::{self, NewRecord, Record, RecordFilter, RecordPatch};

/// A record.
#[derive(Serialize, ToSchema)]
pub struct RecordOut {
    pub id: i64,
    pub org_id: i64,
    pub org_name: String,
    pub kind: String,
    #[schema(value_type = String, format = Date)]
    pub occurred_on: NaiveDate,
    #[schema(value_type = Object)]
    pub fields: Value,
    pub note: String,
    pub author_login: String,
    /// The author's name (the login when the account is gone).
    pub author_name: String,
    /// 1 for a record as entered; each correction or withdrawal adds one.
    pub revision: i64,
    pub withdrawn: bool,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub attachment_ids: Vec<i64>,
}

impl From<Record> for RecordOut {
    fn from(r: Record) -> Self {
        RecordOut {
            id: r.id,
            org_id: r.org_id,
            org_name: r.org_name,
            kind: r.kind,
            occurred_on: r.occurred_on,
            fields: r.fields,
            note: r.note,
            author_login: r.author_login,
            author_name: r.author_name,
            revision: r.revision,
            withdrawn: r.withdrawn,
            created_at: r.created_at,
            updated_at: r.updated_at,
            attachment_ids: r.attachment_ids,
        }
    }
}

/// A record to enter.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordIn {
    /// The org it is for; may be left out when the caller writes for one org only.
    pub org_id: Option<i64>,
    /// The record kind (see `/api/v1/record-kinds`).
    pub kind: String,
    /// When it happened, `YYYY-MM-DD` (not in the future).
    pub occurred_on: String,
    /// The kind's fields; unknown fields are refused.
    #[schema(value_type = Object)]
    pub fields: Map<String, Value>,
    pub note: Option<String>,
    /// Files uploaded with `POST /api/v1/attachments` by the same user.
    pub attachment_ids: Option<Vec<i64>>,
}

/// Enters a record; the compliance it affects is current when the answer arrives.
#[utoipa::path(post, path = "/api/v1/records", tag = "compliance", request_body = RecordIn, security(("bearer" = [])),
    responses((status = 201, body = RecordOut), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn create(
    State(st): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<RecordIn>,
) -> AppResult<(StatusCode, Json<RecordOut>)> {
    let _l = caller.lang;
    let active = require_active(&st).await?;
    let kind = active
        .plan
        .plan
        .kind(&body.kind)
        .ok_or_else(|| AppError::invalid("record_kind"))?;
    let fields = validate(&kind, &body.fields).map_err(|e| field_error(&kind, e, &body.fields))?;
    let day = super::input::parse_day(&body.occurred_on)?;
    let writable = writable_orgs(&caller);
    let org_id = match (body.org_id, writable.as_slice()) {
        (Some(id), _) => id,
        (None, [only]) => *only,
        (None, _) => return Err(AppError::invalid("record_org_required")),
    };
    check_writable(&st, &caller, org_id).await?;
    let new = NewRecord {
        org_id,
        kind: body.kind,
        occurred_on: day,
        fields,
        note: body.note.unwrap_or_default(),
        attachment_ids: body.attachment_ids.unwrap_or_default(),
    };
    let r = records::create(
        &st.db,
        &caller.actor(),
        &writable,
        &active.plan,
        &active.calendar,
        new,
        st.config.today(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(r.into())))
}

/// Filters for the record list.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub org_id: Option<i64>,
    pub kind: Option<String>,
    /// First day, `YYYY-MM-DD`.
    pub from: Option<String>,
    /// Last day, `YYYY-MM-DD`.
    pub to: Option<String>,
    /// Include withdrawn records.
    pub include_withdrawn: Option<bool>,
    /// At most this many (default 100, at most 500).
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// Records in the caller's scope, newest first.
#[utoipa::path(get, path = "/api/v1/records", tag = "compliance", params(ListQuery), security(("bearer" = [])),
    responses((status = 200, body = Vec<RecordOut>), (status = 400, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn list(
    State(st): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> AppResult<Json<Vec<RecordOut>>> {
    let day = |v: &Option<String>| v.as_deref().map(super::input::parse_day).transpose();
    let filter = RecordFilter {
        org_id: q.org_id,
        kinds: q.kind.into_iter().collect(),
        from: day(&q.from)?,
        to: day(&q.to)?,
        include_withdrawn: q.include_withdrawn.unwrap_or(false),
        offset: q.offset.unwrap_or(0),
        limit: q.limit.unwrap_or(100),
    };
    let list = records::list(&st.db, &caller.scope(Permission::RecordRead), &filter).await?;
    Ok(Json(list.into_iter().map(RecordOut::from).collect()))
}

/// A correction or withdrawal. `reason` is required and kept with the version replaced.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordPatchIn {
    pub reason: String,
    pub occurred_on: Option<String>,
    /// The kind's fields, all of them (they replace the current ones).
    #[schema(value_type = Option<Object>)]
    pub fields: Option<Map<String, Value>>,
    pub note: Option<String>,
    /// Withdraw the record: it is kept, marked withdrawn, and no longer counts.
    pub withdraw: Option<bool>,
}

/// Corrects or withdraws one of the caller's own records, within the editing window.
#[utoipa::path(patch, path = "/api/v1/records/{id}", tag = "compliance", params(("id" = i64, Path)),
    request_body = RecordPatchIn, security(("bearer" = [])),
    responses((status = 200, body = RecordOut), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(id = id))]
pub async fn update(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
    ApiJson(body): ApiJson<RecordPatchIn>,
) -> AppResult<Json<RecordOut>> {
    let _l = caller.lang;
    if body.reason.trim().is_empty() {
        return Err(AppError::invalid("record_reason"));
    }
    let active = require_active(&st).await?;
    let scope = caller.scope(Permission::RecordRead);
    let current = records::get(&st.db, &scope, id).await?;
    let fields = match &body.fields {
        Some(f) => {
            let kind = active
                .plan
                .plan
                .kind(&current.kind)
                .ok_or_else(|| AppError::invalid("record_kind"))?;
            Some(validate(&kind, f).map_err(|e| field_error(&kind, e, f))?)
        }
        None => None,
    };
    let patch = RecordPatch {
        occurred_on: body
            .occurred_on
            .as_deref()
            .map(super::input::parse_day)
            .transpose()?,
        fields,
        note: body.note,
        withdraw: body.withdraw.unwrap_or(false),
        reason: body.reason,
    };
    let r = records::update(
        &st.db,
        &caller.actor(),
        &scope,
        &active.plan,
        &active.calendar,
        id,
        patch,
        st.config.today(),
    )
    .await?;
    Ok(Json(r.into()))
}
