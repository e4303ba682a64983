//! The web face of xiaoan: server-rendered pages (askama, no JavaScript needed) and the
//! JSON API under `/api/v1` with its OpenAPI document. [`router`] builds everything and never
//! opens a socket; [`serve`] binds it.
#![forbid(unsafe_code)]

rust_i18n::i18n!("locales", fallback = "zh-TW");

pub mod api;
pub mod auth;
pub mod config;
pub mod error;
pub mod exports;
pub mod i18n;
pub mod pages;
pub mod photos;
pub mod routes;
mod security;

use axum::Router;
use std::sync::Arc;
use xiaoan_store::Db;

pub use config::WebConfig;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub config: Arc<WebConfig>,
    /// Sign-in attempts per client address.
    pub login_limiter: Arc<auth::LoginLimiter>,
}

impl AppState {
    /// State over `db` with `config`.
    pub fn new(db: Db, config: WebConfig) -> Self {
        let login_limiter = Arc::new(auth::login_limiter(config.login_attempts_per_minute));
        AppState {
            db,
            config: Arc::new(config),
            login_limiter,
        }
    }
}

/// The whole application: pages, API, static files and the security layers around them.
pub fn router(state: AppState) -> Router {
    let (api, _doc) = api::router();
    let app = Router::new()
        .merge(pages::router())
        .merge(api)
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::authorize,
        ))
        .fallback(pages::not_found)
        .with_state(state.clone());
    security::wrap(app, state)
}

/// Serves the application on `listener` until `shutdown` resolves.
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
