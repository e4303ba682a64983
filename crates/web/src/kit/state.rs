//! What every handler can reach.

use crate::kit::budget::MemoryBudget;
use crate::kit::config::WebConfig;
use std::sync::Arc;
use std::time::Duration;
use xiaoan_store::Db;

/// The application's shared state.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub config: Arc<WebConfig>,
    /// Sign-in attempts per client address.
    pub login_limiter: Arc<crate::kit::auth::LoginLimiter>,
    /// Memory that photo decodes in flight may take together.
    pub photo_decodes: Arc<MemoryBudget>,
    /// Monitoring messages allowed per device (shared with this node's MQTT subscriber).
    pub flood: xiaoan_iot::FloodLimit,
}

impl AppState {
    /// State over `db` with `config`.
    pub fn new(db: Db, config: WebConfig) -> Self {
        let login_limiter = Arc::new(crate::kit::auth::login_limiter(
            config.login_attempts_per_minute,
        ));
        let photo_decodes = Arc::new(MemoryBudget::new(
            config.photo_decode_budget_mib,
            Duration::from_millis(config.photo_decode_wait_ms),
        ));
        AppState {
            db,
            config: Arc::new(config),
            login_limiter,
            photo_decodes,
            flood: xiaoan_iot::FloodLimit::per_minute(xiaoan_iot::flood::DEFAULT_PER_MINUTE),
        }
    }
}
