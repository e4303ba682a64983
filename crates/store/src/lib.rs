//! Persistence for xiaoan through sqlx's `Any` driver: the same SQL on SQLite (the embedded
//! default) and PostgreSQL, one migrations folder per backend. Fixed statements use `$N`;
//! dynamic ones go through [`sql::Sql`], which numbers placeholders only for PostgreSQL.
//! Every function that touches school data takes a [`Scope`](xiaoan_domain::Scope); every
//! write appends its audit entry in the same transaction.
#![forbid(unsafe_code)]

pub mod announcements;
pub mod attachments;
pub mod audit;
pub mod calendar;
pub mod compliance;
pub mod db;
pub mod error;
pub mod hazards;
pub mod iot;
pub mod jobs;
pub mod notify;
pub mod orgs;
pub mod plans;
pub mod records;
pub mod sessions;
pub mod sql;
pub mod supervision;
pub mod tokens;
pub mod users;

pub use db::{Backend, Db};
pub use error::{StoreError, StoreResult};
