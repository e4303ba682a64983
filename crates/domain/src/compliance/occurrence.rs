//! Occurrences: the concrete instances of an obligation (this month's drill, the autumn
//! term's inspection, the 2021 annual report), each with the day it opens, the day it is
//! due and the day it closes; and buckets, the units in which measures are stored.

use crate::calendar::{SchoolCalendar, clamped_date, month_end};
use crate::plan::{Cadence, Obligation, TermAnchor};
use chrono::{Datelike, Days, NaiveDate};
use serde::Serialize;

/// One instance of an obligation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Occurrence {
    /// Stable key: `2021-03-02`, `2021-W09`, `2021-03`, `2021-Q1`, `T2020-2`, `SY2020`,
    /// `2021`, `once`, `standing`.
    pub key: String,
    /// The bucket whose stored measure decides it.
    pub bucket: String,
    pub start: NaiveDate,
    pub due: NaiveDate,
    pub end: NaiveDate,
}

/// Where records count for an obligation: the campaign's dates narrowed by the
/// obligation's own `from` and `until`.
pub fn window(ob: &Obligation, campaign: (NaiveDate, NaiveDate)) -> (NaiveDate, NaiveDate) {
    (
        ob.from.map_or(campaign.0, |f| f.max(campaign.0)),
        ob.until.map_or(campaign.1, |u| u.min(campaign.1)),
    )
}

fn days(d: NaiveDate, n: u32, forward: bool) -> NaiveDate {
    let r = if forward {
        d.checked_add_days(Days::new(n.into()))
    } else {
        d.checked_sub_days(Days::new(n.into()))
    };
    r.unwrap_or(d)
}

fn monday_of(d: NaiveDate) -> NaiveDate {
    days(d, d.weekday().num_days_from_monday(), false)
}

fn occ(key: String, start: NaiveDate, due: NaiveDate, end: NaiveDate) -> Occurrence {
    Occurrence {
        bucket: key.clone(),
        key,
        start,
        due,
        end,
    }
}

/// Every occurrence of `ob` (other than a standing one) whose span meets `[from, to]`.
/// Only occurrences that open on or after the window's start and fall due by its end
/// count; their closing day is capped at the window's end.
pub fn occurrences(
    ob: &Obligation,
    campaign: (NaiveDate, NaiveDate),
    cal: &SchoolCalendar,
    from: NaiveDate,
    to: NaiveDate,
) -> Vec<Occurrence> {
    let w = window(ob, campaign);
    let (lo, hi) = (from.max(w.0), to.min(w.1));
    let mut out = Vec::new();
    if lo > hi && !matches!(ob.cadence, Cadence::Once { .. }) {
        return out;
    }
    match &ob.cadence {
        Cadence::SchoolDay => {
            for d in cal.school_days(lo, hi) {
                let mut o = occ(d.to_string(), d, d, d);
                o.bucket = d.format("%Y-%m").to_string();
                out.push(o);
            }
        }
        Cadence::Week => {
            let mut m = monday_of(lo);
            while m <= hi {
                let sun = days(m, 6, true);
                if !cal.school_days(m, sun).is_empty() {
                    let key = format!("{}-W{:02}", m.iso_week().year(), m.iso_week().week());
                    out.push(occ(key, m, sun, sun));
                }
                m = days(m, 7, true);
            }
        }
        Cadence::Month { due_day } => {
            let mut d = lo.with_day(1).unwrap_or(lo);
            while d <= hi {
                let end = month_end(d.year(), d.month());
                let due = due_day
                    .and_then(|x| clamped_date(d.year(), d.month(), x))
                    .unwrap_or(end);
                out.push(occ(d.format("%Y-%m").to_string(), d, due, end));
                d = days(end, 1, true);
            }
        }
        Cadence::Quarter => {
            let mut d =
                NaiveDate::from_ymd_opt(lo.year(), (lo.month() - 1) / 3 * 3 + 1, 1).unwrap_or(lo);
            while d <= hi {
                let end = month_end(d.year(), d.month() + 2);
                let key = format!("{}-Q{}", d.year(), (d.month() - 1) / 3 + 1);
                out.push(occ(key, d, end, end));
                d = days(end, 1, true);
            }
        }
        Cadence::Term {
            anchor,
            window_days,
            grace_days,
        } => {
            for t in cal.terms() {
                let (start, due, end) = match anchor {
                    TermAnchor::BeforeStart => (
                        days(t.starts_on, *window_days, false),
                        t.starts_on,
                        days(t.starts_on, *grace_days, true),
                    ),
                    TermAnchor::AfterStart => {
                        let due = days(t.starts_on, *window_days, true).min(t.ends_on);
                        (
                            t.starts_on,
                            due,
                            t.ends_on.max(days(due, *grace_days, true)),
                        )
                    }
                };
                out.push(occ(t.key(), start, due, end));
            }
        }
        Cadence::SchoolYear => {
            for y in cal.school_years() {
                if let Some((s, e)) = cal.school_year(y) {
                    out.push(occ(format!("SY{y}"), s, e, e));
                }
            }
        }
        Cadence::Year { opens, due, closes } => {
            for y in lo.year()..=hi.year() {
                let at = |(m, d): (u32, u32)| clamped_date(y, m, d).unwrap_or(lo);
                out.push(occ(y.to_string(), at(*opens), at(*due), at(*closes)));
            }
        }
        Cadence::Once { due } => {
            out.push(occ("once".into(), w.0, *due, w.1.max(*due)));
        }
        Cadence::Standing { .. } => {}
    }
    out.retain(|o| o.start >= w.0 && o.due <= w.1 && o.start <= to && o.end >= from);
    for o in &mut out {
        o.end = o.end.min(w.1).max(o.due);
    }
    out
}

/// The bucket a record dated `d` counts in, with the span of days the bucket gathers:
/// the month for daily obligations, the whole window for standing ones, otherwise the
/// occurrence containing `d`. `None` when the record counts for no occurrence.
pub fn bucket_of(
    ob: &Obligation,
    campaign: (NaiveDate, NaiveDate),
    cal: &SchoolCalendar,
    d: NaiveDate,
) -> Option<(String, NaiveDate, NaiveDate)> {
    let w = window(ob, campaign);
    if d < w.0 || d > w.1 {
        return None;
    }
    match ob.cadence {
        Cadence::SchoolDay => {
            let start = d.with_day(1).unwrap_or(d).max(w.0);
            let end = month_end(d.year(), d.month()).min(w.1);
            Some((d.format("%Y-%m").to_string(), start, end))
        }
        Cadence::Standing { .. } => Some(("standing".into(), w.0, w.1)),
        _ => occurrences(ob, campaign, cal, d, d)
            .into_iter()
            .find(|o| o.start <= d && d <= o.end)
            .map(|o| (o.bucket, o.start, o.end)),
    }
}
