//! The district's school calendar: terms (two per school year), holidays inside terms and
//! make-up school days on weekends. It is data the bureau edits; this module only decides
//! what a day is and which term or school year a date belongs to.

use chrono::{Datelike, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One term. `school_year` is the year the school year starts in (2026 for 2026–2027);
/// `number` is 1 for the autumn term and 2 for the spring term.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Term {
    pub school_year: i32,
    pub number: u8,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
}

impl Term {
    /// The stable key of the term, e.g. `T2026-1`.
    pub fn key(&self) -> String {
        format!("T{}-{}", self.school_year, self.number)
    }

    /// Whether `d` lies inside the term.
    pub fn contains(&self, d: NaiveDate) -> bool {
        self.starts_on <= d && d <= self.ends_on
    }
}

crate::codes! {
    /// What an exceptional day is.
    pub enum DayKind {
        /// No school on a weekday inside a term (a public holiday, a closure).
        Holiday => "holiday",
        /// School on a weekend day (a make-up day).
        SchoolDay => "school_day",
    }
}

/// Why calendar data was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error("a term ends before it starts")]
    TermOrder,
    #[error("the term number must be 1 (autumn) or 2 (spring)")]
    TermNumber,
    #[error("terms overlap")]
    TermOverlap,
    #[error("a term may last at most 200 days")]
    TermLength,
    #[error("the school year does not fit the term dates")]
    SchoolYear,
}

/// The calendar: terms in date order plus exceptional days.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SchoolCalendar {
    terms: Vec<Term>,
    days: BTreeMap<NaiveDate, DayKind>,
}

/// Checks one term on its own.
pub fn check_term(t: &Term) -> Result<(), CalendarError> {
    if t.ends_on < t.starts_on {
        return Err(CalendarError::TermOrder);
    }
    if !(1..=2).contains(&t.number) {
        return Err(CalendarError::TermNumber);
    }
    if (t.ends_on - t.starts_on).num_days() > 200 {
        return Err(CalendarError::TermLength);
    }
    // An autumn term starts in its school year; a spring term in the following calendar year.
    let start_year = t.starts_on.year();
    let ok = match t.number {
        1 => start_year == t.school_year,
        _ => start_year == t.school_year + 1,
    };
    if !ok {
        return Err(CalendarError::SchoolYear);
    }
    Ok(())
}

impl SchoolCalendar {
    /// A calendar from terms (any order) and exceptional days; refuses bad or overlapping terms.
    pub fn new(
        mut terms: Vec<Term>,
        days: impl IntoIterator<Item = (NaiveDate, DayKind)>,
    ) -> Result<Self, CalendarError> {
        for t in &terms {
            check_term(t)?;
        }
        terms.sort_by_key(|t| t.starts_on);
        if terms.windows(2).any(|w| w[1].starts_on <= w[0].ends_on) {
            return Err(CalendarError::TermOverlap);
        }
        Ok(SchoolCalendar {
            terms,
            days: days.into_iter().collect(),
        })
    }

    /// The terms in date order.
    pub fn terms(&self) -> &[Term] {
        &self.terms
    }

    /// The exceptional days in date order.
    pub fn days(&self) -> impl Iterator<Item = (NaiveDate, DayKind)> + '_ {
        self.days.iter().map(|(d, k)| (*d, *k))
    }

    /// The term containing `d`, if any.
    pub fn term_of(&self, d: NaiveDate) -> Option<&Term> {
        self.terms.iter().find(|t| t.contains(d))
    }

    /// Whether pupils are in school on `d`: an exceptional day decides; otherwise a weekday
    /// inside a term.
    pub fn is_school_day(&self, d: NaiveDate) -> bool {
        match self.days.get(&d) {
            Some(DayKind::Holiday) => false,
            Some(DayKind::SchoolDay) => true,
            None => {
                !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) && self.term_of(d).is_some()
            }
        }
    }

    /// The school days from `from` to `to`, both included.
    pub fn school_days(&self, from: NaiveDate, to: NaiveDate) -> Vec<NaiveDate> {
        from.iter_days()
            .take_while(|d| *d <= to)
            .filter(|d| self.is_school_day(*d))
            .collect()
    }

    /// The span of school year `year` (first term's start to last term's end), if the
    /// calendar has terms for it.
    pub fn school_year(&self, year: i32) -> Option<(NaiveDate, NaiveDate)> {
        let mut it = self.terms.iter().filter(|t| t.school_year == year);
        let first = it.next()?;
        let last = it.next_back().unwrap_or(first);
        Some((first.starts_on, last.ends_on))
    }

    /// The school years the calendar knows, in order.
    pub fn school_years(&self) -> Vec<i32> {
        let mut y: Vec<i32> = self.terms.iter().map(|t| t.school_year).collect();
        y.dedup();
        y
    }
}

/// The first day of the month of `d`.
pub fn month_start(d: NaiveDate) -> NaiveDate {
    d.with_day(1).unwrap_or(d)
}

/// The last day of the month `year-month`.
pub fn month_end(year: i32, month: u32) -> NaiveDate {
    let (y, m) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1)
        .and_then(|d| d.pred_opt())
        .unwrap_or(NaiveDate::MIN)
}

/// `year-month-day`, with the day clamped to the month (29 February in a common year → 28).
pub fn clamped_date(year: i32, month: u32, day: u32) -> Option<NaiveDate> {
    if !(1..=12).contains(&month) || day == 0 {
        return None;
    }
    let last = month_end(year, month).day();
    NaiveDate::from_ymd_opt(year, month, day.min(last))
}

/// `d` moved by `years` whole years (29 February → 28 February when needed).
pub fn add_years(d: NaiveDate, years: i32) -> NaiveDate {
    clamped_date(d.year() + years, d.month(), d.day()).unwrap_or(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn cal() -> SchoolCalendar {
        SchoolCalendar::new(
            vec![
                Term {
                    school_year: 2020,
                    number: 2,
                    starts_on: d("2021-03-01"),
                    ends_on: d("2021-07-10"),
                },
                Term {
                    school_year: 2020,
                    number: 1,
                    starts_on: d("2020-09-01"),
                    ends_on: d("2021-01-20"),
                },
            ],
            [
                (d("2020-10-01"), DayKind::Holiday),
                (d("2020-09-27"), DayKind::SchoolDay),
            ],
        )
        .unwrap()
    }

    #[test]
    fn school_days_follow_terms_weekends_and_exceptions() {
        let c = cal();
        assert!(c.is_school_day(d("2020-09-01"))); // Tuesday in term
        assert!(!c.is_school_day(d("2020-09-05"))); // Saturday
        assert!(c.is_school_day(d("2020-09-27"))); // make-up Sunday
        assert!(!c.is_school_day(d("2020-10-01"))); // National Day
        assert!(!c.is_school_day(d("2021-02-01"))); // winter holidays
        assert_eq!(c.school_days(d("2020-08-31"), d("2020-09-06")).len(), 4);
        assert_eq!(c.term_of(d("2021-03-02")).unwrap().key(), "T2020-2");
        assert_eq!(
            c.school_year(2020),
            Some((d("2020-09-01"), d("2021-07-10")))
        );
    }

    #[test]
    fn bad_terms_are_refused() {
        let t = |y, n, s: &str, e: &str| Term {
            school_year: y,
            number: n,
            starts_on: d(s),
            ends_on: d(e),
        };
        assert_eq!(
            SchoolCalendar::new(vec![t(2020, 1, "2020-09-01", "2020-08-01")], []),
            Err(CalendarError::TermOrder)
        );
        assert_eq!(
            SchoolCalendar::new(
                vec![
                    t(2020, 1, "2020-09-01", "2021-01-20"),
                    t(2020, 2, "2021-01-10", "2021-07-01")
                ],
                []
            ),
            Err(CalendarError::TermOverlap)
        );
        assert_eq!(
            check_term(&t(2020, 2, "2020-03-01", "2020-07-01")),
            Err(CalendarError::SchoolYear)
        );
        assert_eq!(
            check_term(&t(2020, 3, "2020-09-01", "2020-12-01")),
            Err(CalendarError::TermNumber)
        );
    }

    #[test]
    fn dates_clamp() {
        assert_eq!(add_years(d("2020-02-29"), 1), d("2021-02-28"));
        assert_eq!(month_end(2021, 2), d("2021-02-28"));
        assert_eq!(month_end(2020, 12), d("2020-12-31"));
    }
}
