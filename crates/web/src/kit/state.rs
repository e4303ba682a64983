//! What every handler can reach.

use crate::kit::config::WebConfig;
use std::sync::Arc;
use xiaoan_store::Db;

/// The application's shared state.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub config: Arc<WebConfig>,
    /// Sign-in attempts per client address.
    pub login_limiter: Arc<crate::kit::auth::LoginLimiter>,
}

impl AppState {
    /// State over `db` with `config`.
    pub fn new(db: Db, config: WebConfig) -> Self {
        let login_limiter = Arc::new(crate::kit::auth::login_limiter(
            config.login_attempts_per_minute,
        ));
        AppState {
            db,
            config: Arc::new(config),
            login_limiter,
        }
    }
}
