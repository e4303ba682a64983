//! The pages in a real browser: headless Chromium driven through WebDriver (Debian's
//! `chromedriver`, started here on a free port) against `xiaoan demo` (the demo district,
//! in a temporary folder, on a random local port).
//!
//! - `sweep`: every demo role signs in through the login page and walks the pages linked
//!   from the navigation and the home page, at 1280 px and at 360 px, failing on links that
//!   answer an error, console errors and Content-Security-Policy violations, sideways
//!   scrolling, and interface keys or codes shown untranslated.
//! - `journey`: on a 360 px phone screen, a hazard is reported with a photo, registered,
//!   rectified with an after-photo and verified by someone else, through the forms.
//!
//! Without Chromium and chromedriver the tests are skipped and say so (`.ci/run` installs
//! them, and under `CI` a missing browser fails instead).

// Test code: a failed unwrap is a failed test, and helpers outside #[test] functions are
// not covered by clippy.toml's allow-unwrap-in-tests.
#![allow(clippy::unwrap_used)]

mod harness;
mod journey;
mod sweep;
mod words;
