//! Shared test fixtures for the xiaoan crates, so that each test suite does not write its own.
//!
//! - [`db`]: a fresh, migrated SQLite file or PostgreSQL database per test, and
//!   [`both_backends!`] to run one test body on both.
//! - [`tree`]: orgs and users created straight through the store, and the fixture org tree
//!   with its role users.
//! - `app` (feature `web`): [`app::TestApp`], the web application over a fresh database,
//!   called in-process, with the request helpers of [`http`] and [`pages`].

pub mod db;
pub mod tree;

#[cfg(feature = "web")]
pub mod app;
#[cfg(feature = "web")]
pub mod http;
#[cfg(feature = "web")]
pub mod pages;

pub use db::{TestDb, postgres, sqlite};
pub use tree::{ADMIN, PW, SCHOOL_A_NAME, SCHOOL_B_NAME, TARGET, Tree};

#[cfg(feature = "web")]
pub use app::{TestApp, jpeg_bytes, jpeg_tinted};
#[cfg(feature = "web")]
pub use http::{Resp, api_request, ids, send};
#[cfg(feature = "web")]
pub use pages::{
    SESSION, csrf_of, open_login_form, page, post_form, post_login, sign_in_page, url_encode,
};
