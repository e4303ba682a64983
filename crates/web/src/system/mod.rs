//! What the application answers besides its features: the health check, the OpenAPI
//! document, the stylesheet and the icon.

use crate::kit::Routes;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use std::sync::OnceLock;
use xiaoan_domain::Permission::Public;

/// The routes.
pub fn routes() -> Routes {
    Routes::new()
        .get("/healthz", Public, || async { "ok" })
        .get("/api/v1/openapi.json", Public, openapi_json)
        .get("/static/app.css", Public, stylesheet)
        .get("/static/app.js", Public, script)
        .get("/static/icon.svg", Public, icon)
        // Asked for by browsers and tools that do not read the page's `<link rel="icon">`.
        .get("/favicon.ico", Public, icon)
}

async fn openapi_json() -> Response {
    static JSON: OnceLock<String> = OnceLock::new();
    let json = JSON.get_or_init(|| crate::openapi().to_json().unwrap_or_default());
    ([(header::CONTENT_TYPE, "application/json")], json.as_str()).into_response()
}

async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../static/app.js"),
    )
        .into_response()
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../static/app.css"),
    )
        .into_response()
}

async fn icon() -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        include_str!("../../static/icon.svg"),
    )
        .into_response()
}
