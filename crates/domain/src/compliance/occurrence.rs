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

/// How long before the window's start an occurrence that falls due inside it may open: no
/// occurrence spans more than a year (a school year, a calendar year, a term's window).
const LOOKBACK_DAYS: u32 = 400;

/// Every occurrence of `ob` (other than a standing one) whose span meets `[from, to]`.
///
/// An occurrence is owed when it **falls due inside the window** (the campaign narrowed by
/// the obligation's `from` and `until`), even if it opened before the window's start: a
/// campaign starting on 1 June owes that year's report due 15 December, that school year's
/// class hours and that quarter's drill. Its closing day is capped at the window's end.
/// Records dated inside such an occurrence's own span count for it even when they are
/// dated before the campaign started (see [`bucket_of`] and [`evidence_window`]).
pub fn occurrences(
    ob: &Obligation,
    campaign: (NaiveDate, NaiveDate),
    cal: &SchoolCalendar,
    from: NaiveDate,
    to: NaiveDate,
) -> Vec<Occurrence> {
    let w = window(ob, campaign);
    let earliest = days(w.0, LOOKBACK_DAYS, false);
    let (lo, hi) = (from.max(earliest), to.min(w.1));
    let mut out = Vec::new();
    if lo > hi && !matches!(ob.cadence, Cadence::Once { .. }) {
        return out;
    }
    match &ob.cadence {
        Cadence::SchoolDay => {
            // A school day is due on itself: only the window's days are owed.
            for d in cal.school_days(lo.max(w.0), hi) {
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
    out.retain(|o| o.due >= w.0 && o.due <= w.1 && o.start <= to && o.end >= from);
    for o in &mut out {
        o.end = o.end.min(w.1).max(o.due);
    }
    out
}

/// The days whose records can count for `ob`: its window, opened earlier when an
/// occurrence falling due inside it opened before it (the first year of a campaign that
/// starts in June: that year's duties opened in January).
pub fn evidence_window(
    ob: &Obligation,
    campaign: (NaiveDate, NaiveDate),
    cal: &SchoolCalendar,
) -> (NaiveDate, NaiveDate) {
    let w = window(ob, campaign);
    let first = match ob.cadence {
        Cadence::SchoolDay | Cadence::Standing { .. } => None,
        _ => occurrences(ob, campaign, cal, days(w.0, LOOKBACK_DAYS, false), w.0)
            .iter()
            .map(|o| o.start)
            .min(),
    };
    (first.map_or(w.0, |s| s.min(w.0)), w.1)
}

/// The bucket a record dated `d` counts in, with the span of days the bucket gathers:
/// the month for daily obligations, the whole window for standing ones, otherwise the
/// occurrence containing `d` (also when `d` lies before the window's start, inside an
/// occurrence that falls due in the window). `None` when the record counts for no
/// occurrence.
pub fn bucket_of(
    ob: &Obligation,
    campaign: (NaiveDate, NaiveDate),
    cal: &SchoolCalendar,
    d: NaiveDate,
) -> Option<(String, NaiveDate, NaiveDate)> {
    span_of(ob, campaign, cal, d).map(|b| (b.key, b.start, b.end))
}

/// A bucket: its key, the days it gathers and the day whose school facts decide it (the
/// occurrence's due day; the bucket's last day for daily and standing obligations).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    pub key: String,
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub facts_day: NaiveDate,
}

/// Like [`bucket_of`], with the day whose facts decide the bucket.
pub fn span_of(
    ob: &Obligation,
    campaign: (NaiveDate, NaiveDate),
    cal: &SchoolCalendar,
    d: NaiveDate,
) -> Option<Bucket> {
    let w = window(ob, campaign);
    match ob.cadence {
        Cadence::SchoolDay => {
            if d < w.0 || d > w.1 {
                return None;
            }
            let start = d.with_day(1).unwrap_or(d).max(w.0);
            let end = month_end(d.year(), d.month()).min(w.1);
            Some(Bucket {
                key: d.format("%Y-%m").to_string(),
                start,
                end,
                facts_day: end,
            })
        }
        Cadence::Standing { .. } => (d >= w.0 && d <= w.1).then(|| Bucket {
            key: "standing".into(),
            start: w.0,
            end: w.1,
            facts_day: w.1,
        }),
        _ => occurrences(ob, campaign, cal, d, d)
            .into_iter()
            .find(|o| o.start <= d && d <= o.end)
            .map(Occurrence::into_bucket),
    }
}

impl Occurrence {
    fn into_bucket(self) -> Bucket {
        Bucket {
            key: self.bucket,
            start: self.start,
            end: self.end,
            facts_day: self.due,
        }
    }

    /// The period the occurrence is *of*, as its key names it: the month of `2021-03`, the
    /// quarter of `2021-Q1`, the calendar year of `2021`, the term's or school year's dates,
    /// the week, the day; for `once`, the window. This is what a record naming its period
    /// is matched against (not the days the occurrence is open).
    pub fn own_period(
        &self,
        ob: &Obligation,
        campaign: (NaiveDate, NaiveDate),
        cal: &SchoolCalendar,
    ) -> (NaiveDate, NaiveDate) {
        match &ob.cadence {
            Cadence::Month { .. } => {
                let s = self.start.with_day(1).unwrap_or(self.start);
                (s, month_end(s.year(), s.month()))
            }
            Cadence::Quarter => {
                let p = super::Period::quarter_of(self.start);
                (p.start, p.end)
            }
            Cadence::Year { .. } => {
                let p = super::Period::year(self.due.year());
                (p.start, p.end)
            }
            Cadence::Term { .. } => cal
                .terms()
                .iter()
                .find(|t| t.key() == self.key)
                .map_or((self.start, self.end), |t| (t.starts_on, t.ends_on)),
            Cadence::SchoolYear => self
                .key
                .strip_prefix("SY")
                .and_then(|y| y.parse().ok())
                .and_then(|y| cal.school_year(y))
                .unwrap_or((self.start, self.end)),
            Cadence::Once { .. } => window(ob, campaign),
            Cadence::Week | Cadence::SchoolDay | Cadence::Standing { .. } => (self.start, self.end),
        }
    }
}

/// The span of days a record's period field names: a year (`2021` as a number or text), a
/// month `2021-03`, a quarter `2021-Q1`, a day `2021-03-02`, a term `T2021-1` or a school
/// year `SY2021` (from the calendar). `None` for anything else.
pub fn named_span(v: &serde_json::Value, cal: &SchoolCalendar) -> Option<(NaiveDate, NaiveDate)> {
    let text = match v {
        serde_json::Value::Number(n) => n.as_i64()?.to_string(),
        serde_json::Value::String(s) => s.trim().to_string(),
        _ => return None,
    };
    if let Ok(d) = text.parse::<NaiveDate>() {
        return Some((d, d));
    }
    if let Some(y) = text.strip_prefix("SY") {
        return cal.school_year(y.parse().ok()?);
    }
    if text.starts_with('T') {
        return cal
            .terms()
            .iter()
            .find(|t| t.key() == text)
            .map(|t| (t.starts_on, t.ends_on));
    }
    super::Period::parse(&text).map(|p| (p.start, p.end))
}

/// The bucket of a record that names its period (`value`, its period field): the owed
/// occurrence whose own period ([`Occurrence::own_period`]) contains the whole named span,
/// whatever day the record is dated. A report for 2021 entered in January 2022 counts for
/// 2021 (late), never for 2022. `None` when the value names no period, or a period that is
/// no single occurrence of `ob` (a year for a monthly duty, a year outside the campaign).
pub fn bucket_named(
    ob: &Obligation,
    campaign: (NaiveDate, NaiveDate),
    cal: &SchoolCalendar,
    value: &serde_json::Value,
) -> Option<Bucket> {
    if matches!(ob.cadence, Cadence::SchoolDay | Cadence::Standing { .. }) {
        return None;
    }
    let (a, b) = named_span(value, cal)?;
    // Every occurrence whose own period contains [a, b] contains `a`; they are the ones
    // overlapping the year around it.
    let around = (days(a, LOOKBACK_DAYS, false), days(b, LOOKBACK_DAYS, true));
    occurrences(ob, campaign, cal, around.0, around.1)
        .into_iter()
        .find(|o| {
            let (s, e) = o.own_period(ob, campaign, cal);
            s <= a && b <= e
        })
        .map(Occurrence::into_bucket)
}

/// Where one record counts for `ob`: by the period it names when its kind has a period
/// field (`period_field`), otherwise by its date ([`span_of`]).
pub fn place(
    ob: &Obligation,
    period_field: Option<&str>,
    campaign: (NaiveDate, NaiveDate),
    cal: &SchoolCalendar,
    e: &super::Evidence,
) -> Option<Bucket> {
    match period_field {
        Some(f) if !matches!(ob.cadence, Cadence::SchoolDay | Cadence::Standing { .. }) => {
            bucket_named(ob, campaign, cal, &e.fields[f])
        }
        _ => span_of(ob, campaign, cal, e.day),
    }
}
