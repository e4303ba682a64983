//! The JSON API under `/api/v1`, described by an OpenAPI 3 document built from the
//! handlers themselves (utoipa), so the document lists exactly the routes that exist.

pub(crate) mod attachments;
mod audit;
mod auth;
pub(crate) mod compliance;
pub(crate) mod hazards;
pub(crate) mod me;
pub(crate) mod obligations;
mod orgs;
/// Input helpers shared with the org pages.
pub(crate) mod orgs_input {
    pub use super::orgs::SchoolIn;
}
pub(crate) use orgs::parse_id;
pub(crate) mod records;
pub(crate) mod users;

use crate::AppState;
use crate::error::{AppError, Surface};
use axum::Router;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use utoipa::openapi::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::router::UtoipaMethodRouterExt;
use utoipa_axum::routes;

#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "xiaoan API", description = "Campus-safety governance: org tree, accounts, hazards, obligations."),
    components(schemas(ErrorBody)),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The error body every failing API call returns.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// A stable code and a message in the caller's language.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
}

pub(crate) use me::change_own_password;
pub(crate) use users::reset as reset_user_password;

/// The API routes and their OpenAPI document.
pub fn router() -> (Router<AppState>, OpenApi) {
    let (router, doc) = OpenApiRouter::with_openapi(<ApiDoc as utoipa::OpenApi>::openapi())
        .routes(routes!(auth::login))
        .routes(routes!(auth::logout))
        .routes(routes!(me::me))
        .routes(routes!(me::change_password))
        .routes(routes!(orgs::list, orgs::create))
        .routes(routes!(orgs::get, orgs::update))
        .routes(routes!(users::list, users::create))
        .routes(routes!(users::get, users::update))
        .routes(routes!(users::reset_password))
        .routes(routes!(audit::list))
        .routes(routes!(audit::verify))
        .routes(routes!(hazards::create, hazards::list))
        .routes(routes!(hazards::counts))
        .routes(routes!(hazards::export))
        .routes(routes!(hazards::get))
        .routes(routes!(hazards::transition))
        .routes(
            routes!(attachments::upload).layer(axum::extract::DefaultBodyLimit::max(
                crate::photos::MAX_BYTES + 64 * 1024,
            )),
        )
        .routes(routes!(attachments::download))
        .routes(routes!(obligations::list))
        .routes(routes!(obligations::kinds))
        .routes(routes!(records::create, records::list))
        .routes(routes!(records::update))
        .routes(routes!(compliance::list))
        .routes(routes!(compliance::recompute))
        .split_for_parts();
    let json = std::sync::Arc::new(doc.to_json().unwrap_or_default());
    let router = router
        .route(
            "/api/v1/openapi.json",
            axum::routing::get(move || {
                let json = json.clone();
                async move {
                    (
                        [(axum::http::header::CONTENT_TYPE, "application/json")],
                        json.as_str().to_owned(),
                    )
                }
            }),
        )
        .route("/healthz", axum::routing::get(|| async { "ok" }));
    (router, doc)
}

/// The OpenAPI document alone (for tests and tooling).
pub fn openapi() -> OpenApi {
    router().1
}

/// A JSON body whose rejections (bad JSON, wrong types, unknown fields, missing content
/// type) become clear 400/415 errors in the caller's language.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let lang = crate::i18n::from_parts(&parts);
        let req = Request::from_parts(parts, body);
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(rej) => {
                use axum::extract::rejection::JsonRejection::*;
                let (status, code) = match &rej {
                    MissingJsonContentType(_) => {
                        (StatusCode::UNSUPPORTED_MEDIA_TYPE, "json_content_type")
                    }
                    JsonSyntaxError(_) => (StatusCode::BAD_REQUEST, "bad_json"),
                    JsonDataError(_) => (StatusCode::BAD_REQUEST, "bad_fields"),
                    _ => (StatusCode::BAD_REQUEST, "bad_json"),
                };
                Err(AppError::new(status, code, lang, Surface::Api).with_detail(rej.body_text()))
            }
        }
    }
}

/// Query parameters whose rejections become clear 400 errors.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let lang = crate::i18n::from_parts(parts);
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| ApiQuery(q.0))
            .map_err(|rej| {
                AppError::new(StatusCode::BAD_REQUEST, "bad_query", lang, Surface::Api)
                    .with_detail(rej.body_text())
            })
    }
}
