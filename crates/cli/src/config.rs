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
    pub notify: NotifyConfig,
    pub iot: IotConfig,
}

/// Monitoring ingest over MQTT.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IotConfig {
    /// The broker's host; empty: no MQTT subscriber on this node.
    pub mqtt_host: String,
    pub mqtt_port: u16,
    /// A shared-subscription group for several ingest nodes; empty: none.
    pub mqtt_share_group: String,
    /// This node's client id (stable, so the broker keeps its session); empty: from the host name.
    pub mqtt_client_id: String,
    /// The most messages written in one round.
    pub mqtt_batch: usize,
    /// How long a round waits for more messages, in milliseconds.
    pub mqtt_window_millis: u64,
    /// HOST:PORT of the GB/T 26875.3 receiver for fire-alarm transmission devices; empty: none.
    pub gb26875_listen: String,
    /// Messages one device may send a minute (MQTT and HTTP together); more are counted as
    /// a flood and dropped.
    pub device_messages_per_minute: u32,
}

impl IotConfig {
    /// The subscriber's settings, when a broker is configured.
    pub fn mqtt(&self) -> Option<xiaoan_iot::mqtt::MqttSettings> {
        let host = self.mqtt_host.trim();
        if host.is_empty() {
            return None;
        }
        let client_id = if self.mqtt_client_id.trim().is_empty() {
            format!(
                "xiaoan-{}",
                std::env::var("HOSTNAME").unwrap_or_else(|_| "node".into())
            )
        } else {
            self.mqtt_client_id.trim().to_string()
        };
        let group = self.mqtt_share_group.trim();
        Some(xiaoan_iot::mqtt::MqttSettings {
            host: host.to_string(),
            port: self.mqtt_port,
            client_id,
            share_group: (!group.is_empty()).then(|| group.to_string()),
            batch: self.mqtt_batch.clamp(1, 10_000),
            window: std::time::Duration::from_millis(self.mqtt_window_millis.clamp(1, 5_000)),
            stats: Default::default(),
            flood: xiaoan_iot::FloodLimit::per_minute(self.device_messages_per_minute),
        })
    }
}

/// Notifications: links, language, grouping, retries, the digest, the mail server.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    pub public_url: String,
    pub lang: String,
    pub group_window_minutes: u64,
    pub retry_base_seconds: u64,
    pub retry_max_attempts: i64,
    pub digest_hour: u32,
    pub http_timeout_seconds: u64,
    pub smtp_host: String,
    pub smtp_port: u16,
    pub smtp_from: String,
    pub smtp_security: String,
    pub smtp_username: String,
    pub smtp_password: String,
}

/// Background work.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobsConfig {
    /// Minutes between rounds of escalation and clean-up.
    pub interval_minutes: u64,
    /// Hours an upload may stay unused by any hazard step or record before it is removed.
    pub unreferenced_upload_hours: u64,
    /// Milliseconds between polls of the job queue when it is idle.
    pub poll_millis: u64,
    /// Seconds a claimed job is held (extended while it runs).
    pub lease_seconds: u64,
    /// Jobs a node runs at once.
    pub batch: i64,
    /// Days device readings are kept before the monitoring sweep prunes them.
    pub reading_retention_days: u64,
    /// Minutes between reminders of an unacknowledged critical or major alarm.
    pub alarm_repeat_minutes: u64,
    /// Minutes after its raise an unacknowledged alarm reaches the township centre…
    pub alarm_centre_minutes: u64,
    /// …and the bureau.
    pub alarm_bureau_minutes: u64,
}

impl AppConfig {
    /// The settings the background jobs run with.
    pub fn job_settings(&self) -> xiaoan_jobs::JobSettings {
        xiaoan_jobs::JobSettings {
            interval: std::time::Duration::from_secs(self.jobs.interval_minutes.max(1) * 60),
            district: self.district.rules(),
            storage_dir: self.web.storage_dir.clone(),
            unreferenced_upload_grace: std::time::Duration::from_secs(
                self.jobs.unreferenced_upload_hours.saturating_mul(3600),
            ),
            notify: xiaoan_jobs::NotifySettings {
                public_url: self.notify.public_url.clone(),
                lang: self.notify.lang.clone(),
                group_window: std::time::Duration::from_secs(
                    self.notify.group_window_minutes.saturating_mul(60),
                ),
                retry: xiaoan_store::jobs::Retry {
                    base_ms: i64::try_from(self.notify.retry_base_seconds.saturating_mul(1000))
                        .unwrap_or(30_000)
                        .max(1),
                    max_ms: 3_600_000,
                    max_attempts: self.notify.retry_max_attempts.max(1),
                },
                digest_hour: self.notify.digest_hour.min(23),
            },
            reading_retention: std::time::Duration::from_secs(
                self.jobs
                    .reading_retention_days
                    .max(1)
                    .saturating_mul(86_400),
            ),
            alarm_escalation: {
                let ms =
                    |m: u64| i64::try_from(m.max(1).saturating_mul(60_000)).unwrap_or(i64::MAX);
                xiaoan_domain::iot::Escalation {
                    repeat_ms: ms(self.jobs.alarm_repeat_minutes),
                    centre_ms: ms(self.jobs.alarm_centre_minutes),
                    bureau_ms: ms(self.jobs.alarm_bureau_minutes),
                }
            },
        }
    }

    /// The worker settings of this node.
    pub fn worker_settings(&self) -> xiaoan_jobs::worker::WorkerSettings {
        xiaoan_jobs::worker::WorkerSettings {
            node: xiaoan_jobs::worker::node_name(),
            poll: std::time::Duration::from_millis(self.jobs.poll_millis.max(50)),
            lease: std::time::Duration::from_secs(self.jobs.lease_seconds.max(3)),
            batch: self.jobs.batch.clamp(1, 200),
        }
    }

    /// The sender of robot, webhook and email deliveries.
    pub fn sender(&self) -> xiaoan_notify::Sender {
        let n = &self.notify;
        let smtp = (!n.smtp_host.trim().is_empty()).then(|| xiaoan_notify::SmtpSettings {
            host: n.smtp_host.trim().to_string(),
            port: n.smtp_port,
            from: n.smtp_from.clone(),
            security: xiaoan_notify::SmtpSecurity::parse(&n.smtp_security).unwrap_or_default(),
            username: (!n.smtp_username.is_empty()).then(|| n.smtp_username.clone()),
            password: (!n.smtp_password.is_empty()).then(|| n.smtp_password.clone()),
            timeout: std::time::Duration::from_secs(n.http_timeout_seconds.max(1)),
        });
        xiaoan_notify::Sender::new(
            smtp,
            std::time::Duration::from_secs(n.http_timeout_seconds.max(1)),
        )
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

/// The district: the top of the org tree created on first run, and its date rules.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistrictConfig {
    pub bureau_name: String,
    pub bureau_code: String,
    /// The offset from UTC in minutes (480 = UTC+8).
    pub utc_offset_minutes: i32,
    /// Days overdue before a hazard is listed for bureau supervision.
    pub listing_overdue_days: i64,
}

impl DistrictConfig {
    /// The district's date rules, the one source of "today" for pages, API and jobs.
    pub fn rules(&self) -> xiaoan_domain::District {
        xiaoan_domain::District {
            utc_offset_minutes: self.utc_offset_minutes,
            listing_overdue_days: self.listing_overdue_days,
        }
    }
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
    let mut cfg: AppConfig = b
        .build()
        .and_then(|c| c.try_deserialize())
        .context("invalid configuration (see `xiaoan config` for every key and its default)")?;
    cfg.web.district = cfg.district.rules();
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_defaults_load_and_match_the_code() {
        let mut cfg: AppConfig = toml::from_str(DEFAULT_TOML).expect("default config parses");
        cfg.web.district = cfg.district.rules();
        // Every field of the documented [web] and [district] sections equals the code's
        // default: compared as whole values, so a new field cannot drift unnoticed.
        assert_eq!(cfg.web, WebConfig::default());
        assert_eq!(cfg.district.rules(), xiaoan_domain::District::default());
        let documented = toml::Value::try_from(&cfg.web).expect("web settings serialise");
        let coded = toml::Value::try_from(WebConfig::default()).expect("defaults serialise");
        assert_eq!(documented, coded);
        assert!(cfg.database.url.starts_with("sqlite://"));
    }
}
