//! Reporting periods a caller asks about: a month `YYYY-MM`, a quarter `YYYY-Qn` or a
//! calendar year `YYYY`.

use crate::calendar::month_end;
use chrono::{Datelike, NaiveDate};
use serde::Serialize;

/// A span of days with its key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Period {
    pub key: String,
    pub start: NaiveDate,
    pub end: NaiveDate,
}

impl Period {
    /// Parses `YYYY-MM`, `YYYY-Qn` or `YYYY` (years 2000–2100).
    pub fn parse(s: &str) -> Option<Period> {
        let s = s.trim();
        let year = |y: &str| -> Option<i32> {
            (y.len() == 4 && y.bytes().all(|b| b.is_ascii_digit()))
                .then(|| y.parse().ok())
                .flatten()
                .filter(|y| (2000..=2100).contains(y))
        };
        if let Some((y, q)) = s.split_once("-Q") {
            let q: u32 = q.parse().ok().filter(|q| (1..=4).contains(q))?;
            return Some(Period::quarter(year(y)?, q));
        }
        if let Some((y, m)) = s.split_once('-') {
            if m.len() != 2 {
                return None;
            }
            let m: u32 = m.parse().ok().filter(|m| (1..=12).contains(m))?;
            return Some(Period::month(year(y)?, m));
        }
        Some(Period::year(year(s)?))
    }

    /// The month `year-month`.
    pub fn month(year: i32, month: u32) -> Period {
        Period {
            key: format!("{year:04}-{month:02}"),
            start: NaiveDate::from_ymd_opt(year, month, 1).unwrap_or(NaiveDate::MIN),
            end: month_end(year, month),
        }
    }

    /// The quarter `q` (1–4) of `year`.
    pub fn quarter(year: i32, q: u32) -> Period {
        let first = (q - 1) * 3 + 1;
        Period {
            key: format!("{year:04}-Q{q}"),
            start: NaiveDate::from_ymd_opt(year, first, 1).unwrap_or(NaiveDate::MIN),
            end: month_end(year, first + 2),
        }
    }

    /// The calendar year.
    pub fn year(year: i32) -> Period {
        Period {
            key: format!("{year:04}"),
            start: NaiveDate::from_ymd_opt(year, 1, 1).unwrap_or(NaiveDate::MIN),
            end: NaiveDate::from_ymd_opt(year, 12, 31).unwrap_or(NaiveDate::MIN),
        }
    }

    /// The month containing `d`.
    pub fn month_of(d: NaiveDate) -> Period {
        Period::month(d.year(), d.month())
    }

    /// The quarter containing `d`.
    pub fn quarter_of(d: NaiveDate) -> Period {
        Period::quarter(d.year(), (d.month() - 1) / 3 + 1)
    }

    /// A span between two dates (both included), keyed by them.
    pub fn between(start: NaiveDate, end: NaiveDate) -> Period {
        Period {
            key: format!("{start}..{end}"),
            start,
            end,
        }
    }

    /// Whether the two spans share a day.
    pub fn overlaps(&self, start: NaiveDate, end: NaiveDate) -> bool {
        self.start <= end && start <= self.end
    }

    /// The period just before this one, of the same length class.
    pub fn previous(&self) -> Period {
        let prev = self.start.pred_opt().unwrap_or(self.start);
        match self.key.len() {
            _ if self.key.contains("-Q") => Period::quarter_of(prev),
            7 => Period::month_of(prev),
            4 => Period::year(prev.year()),
            _ => Period::between(prev - (self.end - self.start), prev),
        }
    }

    /// The period just after this one, of the same length class.
    pub fn next(&self) -> Period {
        let next = self.end.succ_opt().unwrap_or(self.end);
        match self.key.len() {
            _ if self.key.contains("-Q") => Period::quarter_of(next),
            7 => Period::month_of(next),
            4 => Period::year(next.year()),
            _ => Period::between(next, next + (self.end - self.start)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_parse() {
        let m = Period::parse("2021-02").unwrap();
        assert_eq!(
            (m.start.to_string(), m.end.to_string()),
            ("2021-02-01".into(), "2021-02-28".into())
        );
        let q = Period::parse("2021-Q2").unwrap();
        assert_eq!(
            (q.start.to_string(), q.end.to_string()),
            ("2021-04-01".into(), "2021-06-30".into())
        );
        let y = Period::parse("2021").unwrap();
        assert_eq!(y.end.to_string(), "2021-12-31");
        for bad in [
            "2021-13", "2021-Q5", "21", "2021-1", "abcd", "2021-Q", "1999", "",
        ] {
            assert!(Period::parse(bad).is_none(), "{bad}");
        }
        assert_eq!(Period::parse("2021-01").unwrap().previous().key, "2020-12");
        assert_eq!(Period::parse("2021-Q4").unwrap().next().key, "2022-Q1");
    }
}
