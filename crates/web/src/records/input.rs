//! Record input shared by the JSON API and the pages.

use crate::kit::{AppError, AppResult};
use chrono::NaiveDate;

pub fn parse_day(s: &str) -> AppResult<NaiveDate> {
    s.trim()
        .parse()
        .map_err(|_| AppError::invalid("record_date"))
}
