//! Gateways: one token for the devices of a school behind a gateway or an existing
//! platform (a video platform's alarm webhook). `GET|POST /api/v1/gateways`,
//! `POST /api/v1/gateways/{id}/retire`, and the page `/devices/gateways`.

use crate::kit::error::{AppError, AppResult};
use crate::kit::page::{Layout, Refused, refuse, refuse_step, render, take_refused};
use crate::kit::widgets::Choice;
use crate::kit::{ApiJson, ApiQuery, AppState, Caller, ErrorBody, Id};
use askama::Template;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;
use serde::{Deserialize, Serialize};
use tower_sessions::Session;
use utoipa::{IntoParams, ToSchema};
use xiaoan_domain::Permission;
use xiaoan_store::iot::{self, Gateway};

/// Which gateways.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct GatewayQuery {
    pub school_id: Option<i64>,
}

/// Gateways of the schools in the caller's scope.
#[utoipa::path(get, path = "/api/v1/gateways", tag = "monitoring", params(GatewayQuery), security(("bearer" = [])),
    responses((status = 200, body = Vec<Object>), (status = 400, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn list(
    State(st): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<GatewayQuery>,
) -> AppResult<Json<Vec<Gateway>>> {
    Ok(Json(
        iot::list_gateways(&st.db, &caller.scope(Permission::DeviceRead), q.school_id).await?,
    ))
}

/// A gateway to register.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GatewayIn {
    pub school_id: i64,
    /// What it is ("video platform", "gateway in building A"); unique at the school.
    pub name: String,
}

/// A registered gateway and its token, shown this once.
#[derive(Serialize, ToSchema)]
pub struct GatewayCreated {
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub gateway: Gateway,
    /// The bearer it sends to `POST /api/v1/ingest`; only its hash is kept.
    pub token: String,
}

async fn create_as(st: &AppState, caller: &Caller, b: &GatewayIn) -> AppResult<(Gateway, String)> {
    Ok(iot::create_gateway(
        &st.db,
        &caller.actor(),
        &caller.scope(Permission::DeviceManage),
        b.school_id,
        &b.name,
    )
    .await?)
}

/// Registers a gateway at a school in the caller's scope.
#[utoipa::path(post, path = "/api/v1/gateways", tag = "monitoring", request_body = GatewayIn, security(("bearer" = [])),
    responses((status = 201, body = GatewayCreated), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn create(
    State(st): State<AppState>,
    caller: Caller,
    ApiJson(b): ApiJson<GatewayIn>,
) -> AppResult<(StatusCode, Json<GatewayCreated>)> {
    let (gateway, token) = create_as(&st, &caller, &b).await?;
    Ok((StatusCode::CREATED, Json(GatewayCreated { gateway, token })))
}

/// Retires a gateway: its token stops working at once.
#[utoipa::path(post, path = "/api/v1/gateways/{id}/retire", tag = "monitoring", params(("id" = i64, Path)),
    security(("bearer" = [])), responses((status = 200, body = Object), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn retire(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> AppResult<Json<Gateway>> {
    Ok(Json(
        iot::retire_gateway(
            &st.db,
            &caller.actor(),
            &caller.scope(Permission::DeviceManage),
            id,
        )
        .await?,
    ))
}

struct GatewayLine {
    g: Gateway,
    last_seen: String,
    may_retire: bool,
}

#[derive(Template)]
#[template(path = "iot/gateways.html")]
struct GatewaysPage {
    l: Layout,
    lines: Vec<GatewayLine>,
    schools: Vec<Choice>,
    f: GatewayForm,
    may_register: bool,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "iot/gateway_created.html")]
struct CreatedPage {
    l: Layout,
    g: Gateway,
    token: String,
}

/// The page's form.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct GatewayForm {
    #[serde(default)]
    school_id: String,
    #[serde(default)]
    name: String,
}

/// `GET /devices/gateways`.
#[tracing::instrument(skip_all)]
pub async fn page(
    State(st): State<AppState>,
    caller: Caller,
    session: Session,
) -> AppResult<Response> {
    let refused = take_refused(&session, "/devices/gateways").await;
    let f = refused
        .as_ref()
        .and_then(|r| r.form::<GatewayForm>())
        .unwrap_or_default();
    let manage = caller.scope(Permission::DeviceManage);
    let lines = iot::list_gateways(&st.db, &caller.scope(Permission::DeviceRead), None)
        .await?
        .into_iter()
        .map(|g| GatewayLine {
            last_seen: super::pages::when(&st, g.last_seen_at),
            may_retire: g.retired_at.is_none() && manage.contains(&g.school_path),
            g,
        })
        .collect();
    let may_register = caller.can(Permission::DeviceManage);
    let schools = if may_register {
        crate::kit::widgets::school_choices(&st.db, &manage, &f.school_id).await?
    } else {
        vec![]
    };
    Ok(render(&GatewaysPage {
        l: Layout::new(&caller, "iot.gateways", "/devices"),
        lines,
        schools,
        f,
        may_register,
        error: refused.map(|r| r.error),
    }))
}

/// `POST /devices/gateways`: registers a gateway and shows its token this once.
#[tracing::instrument(skip_all)]
pub async fn create_page(
    State(st): State<AppState>,
    caller: Caller,
    session: Session,
    Form(f): Form<GatewayForm>,
) -> AppResult<Response> {
    let r = async {
        let b = GatewayIn {
            school_id: f
                .school_id
                .trim()
                .parse()
                .map_err(|_| AppError::invalid("gateway_school"))?,
            name: f.name.clone(),
        };
        create_as(&st, &caller, &b).await
    }
    .await;
    match r {
        Ok((g, token)) => Ok(render(&CreatedPage {
            l: Layout::new(&caller, "iot.gateway_created", "/devices"),
            g,
            token,
        })),
        Err(e) if e.status.is_client_error() => {
            let refused = Refused::with_form("/devices/gateways", e.message(caller.lang), &f);
            Ok(refuse(&session, "/devices/gateways", refused).await)
        }
        Err(e) => Err(e),
    }
}

/// `POST /devices/gateways/{id}/retire`.
#[tracing::instrument(skip_all)]
pub async fn retire_page(
    State(st): State<AppState>,
    caller: Caller,
    session: Session,
    Id(id): Id,
) -> AppResult<Response> {
    match iot::retire_gateway(
        &st.db,
        &caller.actor(),
        &caller.scope(Permission::DeviceManage),
        id,
    )
    .await
    {
        Ok(_) => Ok(Redirect::to("/devices/gateways").into_response()),
        Err(e @ xiaoan_store::StoreError::Conflict(_)) => {
            let error = AppError::from(e).message(caller.lang);
            Ok(refuse_step(&session, "/devices/gateways", error).await)
        }
        Err(e) => Err(e.into()),
    }
}
