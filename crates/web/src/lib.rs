//! The web face of xiaoan: server-rendered pages (askama, no JavaScript needed) and the
//! JSON API under `/api/v1` with its OpenAPI document. The code is cut by feature: each
//! folder owns its routes (with the permission each needs), its input parsing shared by the
//! API and its pages, its handlers, its templates (`templates/<feature>/`) and its strings
//! (`locales/<feature>.yml`). [`kit`] is what they share. [`router`] builds everything and
//! never opens a socket; [`serve`] binds it.
#![forbid(unsafe_code)]

rust_i18n::i18n!("locales", fallback = "zh-TW");

pub mod kit;

pub mod account;
pub mod announcements;
pub mod attachments;
pub mod audit;
pub mod compliance;
pub mod hazards;
pub mod home;
pub mod iot;
pub mod jobs;
pub mod notify;
pub mod orgs;
pub mod plan;
pub mod records;
pub mod supervision;
pub mod system;
pub mod users;

use axum::Router;
use kit::routes::{RouteTable, Routes};
use std::sync::Arc;

pub use kit::config::WebConfig;
pub use kit::state::AppState;

/// Every route of every feature. Adding a feature is one line here.
pub fn routes() -> Routes {
    Routes::new()
        .merge(system::routes())
        .merge(account::routes())
        .merge(home::routes())
        .merge(orgs::routes())
        .merge(users::routes())
        .merge(audit::routes())
        .merge(attachments::routes())
        .merge(hazards::routes())
        .merge(plan::routes())
        .merge(records::routes())
        .merge(compliance::routes())
        .merge(notify::routes())
        .merge(supervision::routes())
        .merge(announcements::routes())
        .merge(iot::routes())
        .merge(jobs::routes())
}

/// The assembled route table (what the authorisation middleware consults).
pub fn route_table() -> RouteTable {
    routes().into_parts(kit::openapi::frame()).2
}

/// The OpenAPI document of the API routes.
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes().into_parts(kit::openapi::frame()).1
}

/// The whole application: pages, API, static files and the security layers around them.
pub fn router(state: AppState) -> Router {
    let (app, _doc, table) = routes().into_parts(kit::openapi::frame());
    let app = app
        .route_layer(axum::middleware::from_fn_with_state(
            (state.clone(), Arc::new(table)),
            kit::auth::authorize,
        ))
        .fallback(kit::page::not_found)
        .with_state(state.clone());
    kit::security::wrap(app, state)
}

/// Serves the application on `listener` until `shutdown` resolves.
#[tracing::instrument(skip_all)]
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(state);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
