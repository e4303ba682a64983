//! Store tests, each run on a fresh SQLite file and a fresh PostgreSQL database.

// Test code: a failed unwrap is a failed test, and helpers outside #[test] functions are
// not covered by clippy.toml's allow-unwrap-in-tests.
#![allow(clippy::unwrap_used)]

mod compliance;
mod compliance_history;
mod compliance_scale;
mod foundation;
mod hazard_lists;
mod hazards;
mod iot;
mod jobs;
mod search;
mod uploads;
mod video;
