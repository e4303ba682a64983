//! Pure rules of xiaoan: the org tree and scopes, roles and permissions, password policy,
//! input validation and the audit hash chain. No I/O, no async, no framework types.
#![forbid(unsafe_code)]

pub mod audit;
pub mod calendar;
pub mod code;
pub mod compliance;
pub mod district;
pub mod hazard;
pub mod iot;
pub mod notify;
pub mod org;
pub mod password;
pub mod permission;
pub mod plan;
pub mod role;
pub mod scope;
pub mod supervision;
pub mod text;

pub use district::District;
pub use org::{FactsHistory, FactsVersion, OrgKind, SchoolFacts, SchoolType};
pub use permission::Permission;
pub use role::Role;
pub use scope::Scope;

/// Milliseconds since the Unix epoch, UTC: the one representation of an instant in storage.
pub type Millis = i64;

/// The current instant in milliseconds since the epoch.
pub fn now_millis() -> Millis {
    chrono::Utc::now().timestamp_millis()
}

/// What the exported macros name; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use serde;
    #[cfg(feature = "openapi")]
    pub use utoipa;
}
