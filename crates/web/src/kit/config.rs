//! Settings the web layer needs; filled from the application's typed config.

use serde::{Deserialize, Serialize};
use xiaoan_domain::password::PasswordPolicy;

/// Web-layer settings. Defaults follow the security requirements.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebConfig {
    /// Minutes of inactivity after which a session ends.
    pub session_idle_minutes: i64,
    /// Hours after sign-in after which a session ends whatever the activity.
    pub session_absolute_hours: i64,
    /// Consecutive failed sign-ins that lock an account.
    pub lockout_failures: i64,
    /// Minutes an account stays locked.
    pub lockout_minutes: i64,
    /// Sign-in attempts allowed per client address per minute (page and API together).
    pub login_attempts_per_minute: u32,
    /// Hours an API token lives.
    pub api_token_hours: i64,
    /// Mark cookies `Secure` (and use the `__Host-` name): set when served over TLS.
    pub secure_cookies: bool,
    /// Addresses of reverse proxies whose `X-Forwarded-For` is trusted for the client's
    /// address (rate limits); requests from anyone else are keyed by their own address.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Extra origins allowed to post forms (besides the request's own host).
    pub trusted_origins: Vec<String>,
    /// The password policy.
    pub password: PasswordPolicy,
    /// Where uploaded files (photos) are kept; never served directly.
    pub storage_dir: std::path::PathBuf,
    /// MiB that photo decodes in flight may take together (each counted as width × height ×
    /// 4 bytes, read from the file's header before decoding).
    pub photo_decode_budget_mib: u64,
    /// Milliseconds an upload waits for room in that budget before it is answered 503 `busy`.
    pub photo_decode_wait_ms: u64,
    /// The district's date rules, from the `[district]` settings (not read from `[web]`).
    #[serde(skip)]
    pub district: xiaoan_domain::District,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            session_idle_minutes: 30,
            session_absolute_hours: 12,
            lockout_failures: 5,
            lockout_minutes: 30,
            login_attempts_per_minute: 20,
            api_token_hours: 12,
            secure_cookies: false,
            trusted_origins: vec![],
            trusted_proxies: vec![],
            password: PasswordPolicy::default(),
            storage_dir: "files".into(),
            photo_decode_budget_mib: 1024,
            photo_decode_wait_ms: 2000,
            district: xiaoan_domain::District::default(),
        }
    }
}

impl WebConfig {
    /// Today's date in the district.
    pub fn today(&self) -> chrono::NaiveDate {
        self.district.today()
    }

    /// The district's time zone as a fixed offset.
    pub fn offset(&self) -> chrono::FixedOffset {
        self.district.offset()
    }

    /// The lockout rule for the store.
    pub fn lockout(&self) -> xiaoan_store::users::Lockout {
        xiaoan_store::users::Lockout {
            max_failures: self.lockout_failures,
            lock_ms: self.lockout_minutes * 60_000,
        }
    }
}
