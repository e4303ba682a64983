//! Store tests, each run on a fresh SQLite file and a fresh PostgreSQL database.

mod compliance;
mod compliance_scale;
mod foundation;
mod hazard_lists;
mod hazards;
