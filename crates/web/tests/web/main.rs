//! Integration tests of the web crate: the application is built over a fresh SQLite
//! database and called in-process (`xiaoan_testkit::TestApp`). One test binary, one
//! module per topic.

mod audit;
mod compliance;
mod hazard_pages;
mod hazards;
mod input;
mod matrix;
mod pages;
mod scope;
mod signin;
