//! Store tests, each run on a fresh SQLite file and a fresh PostgreSQL database.

mod common;
mod foundation;
mod hazards;
