//! The frame of the OpenAPI document: title, the bearer scheme and the error body. Each
//! feature's API routes add their operations to it when the routes are assembled.

use utoipa::openapi::OpenApi;

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

/// The document's frame, before the features' operations are merged in.
pub fn frame() -> OpenApi {
    <ApiDoc as utoipa::OpenApi>::openapi()
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
