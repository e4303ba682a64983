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

/// Completes the assembled document with the answers every operation can give because of
/// where it sits rather than what it does, so that no status a client meets is undocumented:
/// 401 on every signed-in operation, 403 on every operation that needs a permission (a
/// user may hold no role in scope), 404 on
/// every path with an id, 400 on every operation with parameters or a body, 413 and 415 on
/// every body, 429 on sign-in and 503 on every operation (the service busy or its session
/// store unreachable).
pub fn complete(doc: &mut OpenApi, table: &super::routes::RouteTable) {
    use utoipa::openapi::{RefOr, ResponseBuilder, content::ContentBuilder};
    use xiaoan_domain::Permission;
    let error = |what: &str| {
        RefOr::T(
            ResponseBuilder::new()
                .description(what)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                            "ErrorBody",
                        ))))
                        .build(),
                )
                .build(),
        )
    };
    for (path, item) in &mut doc.paths.paths {
        let ops = [
            ("GET", item.get.as_mut()),
            ("POST", item.post.as_mut()),
            ("PUT", item.put.as_mut()),
            ("PATCH", item.patch.as_mut()),
            ("DELETE", item.delete.as_mut()),
        ];
        for (method, op) in ops {
            let Some(op) = op else { continue };
            let permission = table
                .rules()
                .iter()
                .find(|r| r.method == method && r.path == *path)
                .map(|r| r.permission)
                .unwrap_or(Permission::Public);
            let mut add = |status: &str, what: &str| {
                op.responses
                    .responses
                    .entry(status.to_string())
                    .or_insert_with(|| error(what));
            };
            if permission != Permission::Public {
                add("401", "Not signed in, or the session or token has expired.");
            }
            if !matches!(
                permission,
                Permission::Public | Permission::Device | Permission::SelfService
            ) {
                add("403", "The caller's roles do not allow this.");
            }
            if path.contains('{') {
                add("404", "No such object in the caller's scope.");
            }
            let has_params = op.parameters.as_ref().is_some_and(|p| !p.is_empty());
            if has_params || op.request_body.is_some() {
                add(
                    "400",
                    "A parameter or field is invalid; the message names it.",
                );
            }
            if op.request_body.is_some() {
                add("413", "The body is over the size limit.");
                add("415", "The body is not of the declared content type.");
            }
            if path.ends_with("/auth/login") {
                add(
                    "429",
                    "Too many sign-in attempts from this address; retry later.",
                );
            }
            add(
                "503",
                "The service is busy or a store it needs is unreachable; retry later.",
            );
        }
    }
}
