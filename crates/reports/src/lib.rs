//! Documents xiaoan hands out: spreadsheets in the layout schools and bureaus exchange.
//! The crate knows layouts, not the domain: callers pass translated headers and rows.
#![forbid(unsafe_code)]

pub mod xlsx;

pub use xlsx::{Cell, Table, write_table};
