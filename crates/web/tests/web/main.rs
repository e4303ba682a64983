//! Integration tests of the web crate: the application is built over a fresh SQLite
//! database and called in-process (`xiaoan_testkit::TestApp`). One test binary, one
//! module per topic.

// Test code: a failed unwrap is a failed test, and helpers outside #[test] functions are
// not covered by clippy.toml's allow-unwrap-in-tests.
#![allow(clippy::unwrap_used)]

mod account_forms;
mod audit;
mod compliance;
mod compliance_forms;
mod compliance_matrix;
mod hazard_pages;
mod hazard_photos;
mod hazards;
mod history;
mod input;
mod iot;
mod matrix;
mod notifications;
mod pages;
mod record_photos;
mod scope;
mod security;
mod signin;
mod video;
