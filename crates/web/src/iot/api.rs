//! `/api/v1/devices`, `/api/v1/ingest`, `/api/v1/alarms`: the device registry, the HTTP
//! ingest for devices and gateways, and the alarms.

use super::input;
use crate::kit::error::{AppError, AppResult};
use crate::kit::{ApiJson, ApiQuery, AppState, Caller, ErrorBody, Id};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use xiaoan_domain::Permission;
use xiaoan_domain::iot::{CloseReason, DeviceKind, Overrides};
use xiaoan_store::iot::{self, Alarm, AlarmEvent, Device, Gateway, Reading};

/// Which devices.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeviceQuery {
    pub school_id: Option<i64>,
    /// Include retired devices.
    pub retired: Option<bool>,
}

/// Devices of the schools in the caller's scope.
#[utoipa::path(get, path = "/api/v1/devices", tag = "monitoring", params(DeviceQuery), security(("bearer" = [])),
    responses((status = 200, body = Vec<Object>), (status = 400, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn list_devices(
    State(st): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<DeviceQuery>,
) -> AppResult<Json<Vec<Device>>> {
    Ok(Json(
        iot::list(
            &st.db,
            &caller.scope(Permission::DeviceRead),
            q.school_id,
            q.retired.unwrap_or(false),
        )
        .await?,
    ))
}

/// A device to register.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceIn {
    pub school_id: i64,
    /// Letters, digits, `-`, `_` and `.`; unique at the school.
    pub code: String,
    /// `temperature`, `smoke`, `electrical_fire`, `gas`, `cold_room`, `fire_panel` or
    /// `camera` (whose key areas and links are set by `POST /api/v1/devices/{id}/camera`).
    pub kind: DeviceKind,
    pub location: String,
    /// The key area it watches (canteen, dormitory, laboratory…).
    #[serde(default)]
    pub key_area: String,
    /// The device's own rule settings over its kind's defaults.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub overrides: Overrides,
    /// The hazard category its alarms are filed under (`lab_chemicals` for a laboratory's
    /// gas detector …); absent: by the alarm's type.
    #[serde(default)]
    pub category: Option<xiaoan_domain::hazard::Category>,
}

/// A registered device and its secret, shown this once.
#[derive(Serialize, ToSchema)]
pub struct DeviceCreated {
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub device: Device,
    /// The bearer the device sends to `POST /api/v1/ingest`; only its hash is kept.
    pub secret: String,
}

/// Registers a device at a school in the caller's scope.
#[utoipa::path(post, path = "/api/v1/devices", tag = "monitoring", request_body = DeviceIn, security(("bearer" = [])),
    responses((status = 201, body = DeviceCreated), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn create_device(
    State(st): State<AppState>,
    caller: Caller,
    ApiJson(b): ApiJson<DeviceIn>,
) -> AppResult<(StatusCode, Json<DeviceCreated>)> {
    let (device, secret) = input::register(&st, &caller, b).await?;
    Ok((StatusCode::CREATED, Json(DeviceCreated { device, secret })))
}

/// A change to a device; absent fields keep their value.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceChangeIn {
    pub location: Option<String>,
    pub key_area: Option<String>,
    /// A hazard category code, or `""` to file its alarms by their type.
    pub category: Option<String>,
    /// Replaces its rule settings over its kind's defaults.
    #[schema(value_type = Object)]
    pub overrides: Option<Overrides>,
}

/// Changes a device's location, key area, hazard category or rule settings (its code,
/// kind and school stay; a retired device cannot change).
#[utoipa::path(patch, path = "/api/v1/devices/{id}", tag = "monitoring", params(("id" = i64, Path)),
    request_body = DeviceChangeIn, security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn update_device(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
    ApiJson(b): ApiJson<DeviceChangeIn>,
) -> AppResult<Json<Device>> {
    Ok(Json(input::update(&st, &caller, id, b).await?))
}

/// The period of a readings query, in milliseconds since the epoch.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ReadingQuery {
    /// Default: 24 hours before `to`.
    pub from: Option<i64>,
    /// Default: now.
    pub to: Option<i64>,
}

/// A device's readings, oldest first (at most 20,000).
#[utoipa::path(get, path = "/api/v1/devices/{id}/readings", tag = "monitoring", params(("id" = i64, Path), ReadingQuery),
    security(("bearer" = [])), responses((status = 200, body = Vec<Object>), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn readings(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
    ApiQuery(q): ApiQuery<ReadingQuery>,
) -> AppResult<Json<Vec<Reading>>> {
    let d = iot::get(&st.db, &caller.scope(Permission::DeviceRead), id).await?;
    let to = q.to.unwrap_or_else(xiaoan_domain::now_millis);
    let from = q.from.unwrap_or(to.saturating_sub(86_400_000));
    if from > to {
        return Err(AppError::invalid("readings_period"));
    }
    Ok(Json(iot::readings(&st.db, d.id, from, to, 20_000).await?))
}

/// What a batch came to: how many were written, how many were repeats, and which were
/// refused (by position, with the reason's code).
#[derive(Serialize, ToSchema)]
pub struct IngestOut {
    pub accepted: usize,
    pub duplicates: usize,
    #[schema(value_type = Vec<Object>)]
    pub rejected: Vec<input::Rejected>,
}

/// A batch from a device (its secret as the bearer) or a gateway (its token as the bearer;
/// each record names its `device` by code, a device of the gateway's school): up to 1,000
/// records `{"device", "ts", "msg_id", "type": "telemetry"|"event"|"status", …}`; telemetry carries `values`
/// (numbers by metric), an event `event` and `state` (`active`/`cleared`), a status `online`,
/// `battery`, `signal`. Answered once the batch is durable.
#[utoipa::path(post, path = "/api/v1/ingest", tag = "monitoring", request_body = Vec<Object>,
    responses((status = 200, body = IngestOut), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
    (status = 409, body = ErrorBody), (status = 413, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn ingest(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> AppResult<Json<IngestOut>> {
    let secret = bearer(&headers)?;
    let sender = if secret.trim().starts_with(iot::GATEWAY_PREFIX) {
        input::Sender::Gateway(bearer_gateway(&st, &headers).await?)
    } else {
        input::Sender::Device(Box::new(
            iot::by_secret(&st.db, secret)
                .await?
                .ok_or_else(unauthenticated)?,
        ))
    };
    Ok(Json(input::ingest(&st, &sender, &body).await?))
}

fn unauthenticated() -> AppError {
    AppError::new(StatusCode::UNAUTHORIZED, "unauthenticated")
}

/// The bearer credential of a device or gateway request.
fn bearer(headers: &HeaderMap) -> AppResult<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .ok_or_else(unauthenticated)
}

/// The gateway whose token is the request's bearer (401 otherwise).
pub(super) async fn bearer_gateway(st: &AppState, headers: &HeaderMap) -> AppResult<Gateway> {
    let token = bearer(headers)?;
    if !token.trim().starts_with(iot::GATEWAY_PREFIX) {
        return Err(unauthenticated());
    }
    iot::gateway_by_token(&st.db, token)
        .await?
        .ok_or_else(unauthenticated)
}

/// Which alarms.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AlarmQuery {
    /// `open` (default), `active`, `unacked`, `closed` or `all`.
    pub status: Option<String>,
    pub school_id: Option<i64>,
}

/// Alarms of the schools in the caller's scope, most urgent and newest first.
#[utoipa::path(get, path = "/api/v1/alarms", tag = "monitoring", params(AlarmQuery), security(("bearer" = [])),
    responses((status = 200, body = Vec<Object>), (status = 400, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn list_alarms(
    State(st): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<AlarmQuery>,
) -> AppResult<Json<Vec<Alarm>>> {
    let status = input::status(q.status.as_deref())?;
    Ok(Json(
        iot::list_alarms(
            &st.db,
            &caller.scope(Permission::AlarmRead),
            status,
            q.school_id,
            500,
        )
        .await?,
    ))
}

/// An alarm with its history.
#[derive(Serialize, ToSchema)]
pub struct AlarmOut {
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub alarm: Alarm,
    #[schema(value_type = Vec<Object>)]
    pub history: Vec<AlarmEvent>,
}

/// One alarm and its history.
#[utoipa::path(get, path = "/api/v1/alarms/{id}", tag = "monitoring", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = AlarmOut), (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn get_alarm(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> AppResult<Json<AlarmOut>> {
    let alarm = iot::get_alarm(&st.db, &caller.scope(Permission::AlarmRead), id).await?;
    Ok(Json(AlarmOut {
        history: iot::alarm_events(&st.db, id).await?,
        alarm,
    }))
}

/// An acknowledgement's note.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AckIn {
    #[serde(default)]
    pub note: String,
}

/// Acknowledges an alarm: someone is on it.
#[utoipa::path(post, path = "/api/v1/alarms/{id}/ack", tag = "monitoring", params(("id" = i64, Path)), request_body = AckIn,
    security(("bearer" = [])), responses((status = 200, body = Object), (status = 409, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn ack(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
    ApiJson(b): ApiJson<AckIn>,
) -> AppResult<Json<Alarm>> {
    Ok(Json(input::ack(&st, &caller, id, &b.note).await?))
}

/// Why an alarm is closed.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseIn {
    /// `resolved`, `false_alarm`, `drill`, `test`, `maintenance` or `duplicate`.
    pub reason: CloseReason,
    #[serde(default)]
    pub note: String,
}

/// Closes an acknowledged alarm with a reason (cleared first, unless a false alarm, a
/// drill, a test or maintenance).
#[utoipa::path(post, path = "/api/v1/alarms/{id}/close", tag = "monitoring", params(("id" = i64, Path)), request_body = CloseIn,
    security(("bearer" = [])), responses((status = 200, body = Object), (status = 409, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn close(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
    ApiJson(b): ApiJson<CloseIn>,
) -> AppResult<Json<Alarm>> {
    Ok(Json(
        input::close(&st, &caller, id, b.reason, &b.note).await?,
    ))
}
