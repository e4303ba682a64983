//! Documents xiaoan hands out: spreadsheets in the layout schools and bureaus exchange, and
//! supervision letters as Word documents laid out like official documents.
//! The crate knows layouts, not the domain: callers pass translated headers and rows.
#![forbid(unsafe_code)]

pub mod docx;
pub mod xlsx;

pub use docx::{DocxError, Letter, TemplateError, check, fill, letter_docx};
pub use xlsx::{Cell, Table, write_table};
