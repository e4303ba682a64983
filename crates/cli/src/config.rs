//! The typed configuration: documented defaults → TOML file → `XIAOAN_…` environment
//! variables → command-line flags. Passed down, never global.

use anyhow::Context;
use serde::Deserialize;
use std::path::Path;
use xiaoan_web::WebConfig;

/// The documented default configuration, printed by `xiaoan config`.
pub const DEFAULT_TOML: &str = include_str!("../config.default.toml");

/// Everything the binary can be told.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppConfig {
    pub database: DatabaseConfig,
    pub server: ServerConfig,
    pub district: DistrictConfig,
    pub web: WebConfig,
    pub jobs: JobsConfig,
}

/// Background work.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobsConfig {
    /// Minutes between rounds of escalation and clean-up.
    pub interval_minutes: u64,
}

impl AppConfig {
    /// The settings the background jobs run with.
    pub fn job_settings(&self) -> xiaoan_jobs::JobSettings {
        xiaoan_jobs::JobSettings {
            interval: std::time::Duration::from_secs(self.jobs.interval_minutes.max(1) * 60),
            utc_offset_minutes: self.web.utc_offset_minutes,
            listing_overdue_days: self.web.listing_overdue_days,
        }
    }
}

/// Where the data lives.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://path` (embedded) or `postgres://user@host/db`.
    pub url: String,
}

/// Where to listen.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub addr: String,
}

/// The top of the org tree created on first run.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistrictConfig {
    pub bureau_name: String,
    pub bureau_code: String,
}

/// Loads the configuration from the defaults, `file` (or `./xiaoan.toml`), and the
/// environment (`XIAOAN_DATABASE__URL`, `XIAOAN_WEB__SESSION_IDLE_MINUTES`, …).
pub fn load(file: Option<&Path>) -> anyhow::Result<AppConfig> {
    let mut b = config::Config::builder().add_source(config::File::from_str(
        DEFAULT_TOML,
        config::FileFormat::Toml,
    ));
    match file {
        Some(p) => b = b.add_source(config::File::from(p).required(true)),
        None if Path::new("xiaoan.toml").exists() => {
            b = b.add_source(config::File::with_name("xiaoan.toml"))
        }
        None => {}
    }
    // Only `XIAOAN_<SECTION>__<KEY>` variables are settings; others such as XIAOAN_CONFIG
    // (the config file flag) or test variables are not.
    let settings: config::Map<String, String> = std::env::vars()
        .filter(|(k, _)| k.starts_with("XIAOAN_") && k.contains("__"))
        .collect();
    b = b.add_source(
        config::Environment::with_prefix("XIAOAN")
            .prefix_separator("_")
            .separator("__")
            .try_parsing(true)
            .ignore_empty(true)
            .source(Some(settings)),
    );
    b.build()
        .and_then(|c| c.try_deserialize())
        .context("invalid configuration (see `xiaoan config` for every key and its default)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_defaults_load_and_match_the_code() {
        let cfg: AppConfig = toml::from_str(DEFAULT_TOML).expect("default config parses");
        let web = WebConfig::default();
        assert_eq!(cfg.web.session_idle_minutes, web.session_idle_minutes);
        assert_eq!(cfg.web.session_absolute_hours, web.session_absolute_hours);
        assert_eq!(cfg.web.lockout_failures, web.lockout_failures);
        assert_eq!(cfg.web.lockout_minutes, web.lockout_minutes);
        assert_eq!(cfg.web.password.min_length, web.password.min_length);
        assert!(cfg.database.url.starts_with("sqlite://"));
    }
}
