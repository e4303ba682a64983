//! An obligation's cadence from its keys: which options each cadence takes, their
//! defaults and ranges. An option given to the wrong cadence is an error, not ignored.

use super::raw::NumIn;
use super::raw::RawObligation;
use super::{Ctx, date, month_day, num};
use crate::plan::Param;
use crate::plan::{Cadence, TermAnchor};
use chrono::NaiveDate;
use toml::Spanned;

const CADENCES: &str = "school_day, week, month, quarter, term, school_year, year, once, standing";

/// Builds the cadence, reporting options that do not belong to it.
pub(super) fn cadence(
    ctx: &mut Ctx<'_>,
    o: &RawObligation,
    window: (NaiveDate, NaiveDate),
    params: &[Param],
) -> Option<Cadence> {
    let name = o.cadence.get_ref().as_str();
    // (option, span if present, cadences that accept it)
    let spans = [
        (
            "due_day",
            o.due_day.as_ref().map(Spanned::span),
            &["month"][..],
        ),
        (
            "anchor",
            o.anchor.as_ref().map(Spanned::span),
            &["term"][..],
        ),
        (
            "window_days",
            o.window_days.as_ref().map(Spanned::span),
            &["term"][..],
        ),
        (
            "grace_days",
            o.grace_days.as_ref().map(Spanned::span),
            &["term", "standing"][..],
        ),
        ("opens", o.opens.as_ref().map(Spanned::span), &["year"][..]),
        ("due", o.due.as_ref().map(Spanned::span), &["year"][..]),
        (
            "closes",
            o.closes.as_ref().map(Spanned::span),
            &["year"][..],
        ),
        (
            "due_date",
            o.due_date.as_ref().map(Spanned::span),
            &["once"][..],
        ),
        (
            "valid_days",
            o.valid_days.as_ref().map(Spanned::span),
            &["standing"][..],
        ),
    ];
    for (key, span, allowed) in spans {
        if let Some(span) = span
            && !allowed.contains(&name)
        {
            ctx.err(
                span,
                format!(
                    "{key} is only allowed with cadence = {}",
                    allowed.join(" or ")
                ),
            );
        }
    }
    let cadence = match name {
        "school_day" => Cadence::SchoolDay,
        "week" => Cadence::Week,
        "month" => {
            let due_day = o.due_day.as_ref().map(|d| {
                if !(1..=28).contains(d.get_ref()) {
                    ctx.err(d.span(), "due_day must be between 1 and 28");
                }
                *d.get_ref()
            });
            Cadence::Month { due_day }
        }
        "quarter" => Cadence::Quarter,
        "term" => {
            let anchor = match o.anchor.as_ref().map(|a| (a.get_ref().as_str(), a.span())) {
                Some(("before_start", _)) => TermAnchor::BeforeStart,
                Some(("after_start", _)) => TermAnchor::AfterStart,
                Some((other, span)) => {
                    ctx.err(
                        span,
                        format!("unknown anchor {other:?} (before_start, after_start)"),
                    );
                    TermAnchor::BeforeStart
                }
                None => {
                    ctx.err(
                        o.cadence.span(),
                        "cadence = \"term\" needs anchor = \"before_start\" or \"after_start\"",
                    );
                    TermAnchor::BeforeStart
                }
            };
            let window_days = days(ctx, &o.window_days, 30, params);
            if !(1..=120).contains(&window_days) {
                ctx.err(o.cadence.span(), "window_days must be between 1 and 120");
            }
            let grace_days = days(
                ctx,
                &o.grace_days,
                if anchor == TermAnchor::BeforeStart {
                    14
                } else {
                    0
                },
                params,
            );
            if grace_days > 120 {
                ctx.err(o.cadence.span(), "grace_days may be at most 120");
            }
            Cadence::Term {
                anchor,
                window_days,
                grace_days,
            }
        }
        "school_year" => Cadence::SchoolYear,
        "year" => {
            let opens = month_day(ctx, &o.opens, (1, 1));
            let due = month_day(ctx, &o.due, (12, 31));
            let closes = month_day(ctx, &o.closes, (12, 31));
            if !(opens <= due && due <= closes) {
                ctx.err(
                    o.cadence.span(),
                    "a yearly obligation needs opens ≤ due ≤ closes",
                );
            }
            Cadence::Year { opens, due, closes }
        }
        "once" => {
            let Some(d) = &o.due_date else {
                ctx.err(o.cadence.span(), "cadence = \"once\" needs due_date");
                return None;
            };
            let due = date(ctx, d)?;
            if due < window.0 || due > window.1 {
                ctx.err(d.span(), "due_date lies outside the campaign");
            }
            Cadence::Once { due }
        }
        "standing" => {
            let valid_days = days(ctx, &o.valid_days, 365, params);
            if !(1..=3660).contains(&valid_days) {
                ctx.err(o.cadence.span(), "valid_days must be between 1 and 3660");
            }
            Cadence::Standing {
                valid_days,
                grace_days: days(ctx, &o.grace_days, 30, params).min(366),
            }
        }
        other => {
            ctx.err(
                o.cadence.span(),
                format!("unknown cadence {other:?} ({CADENCES})"),
            );
            return None;
        }
    };
    Some(cadence)
}

/// A number of days, written out or as a parameter.
fn days(ctx: &mut Ctx<'_>, v: &Option<Spanned<NumIn>>, default: u32, params: &[Param]) -> u32 {
    let Some(x) = v else { return default };
    let (n, _) = num(ctx, x, params);
    if n.is_nan() {
        return default;
    }
    if n < 0.0 || n.fract() != 0.0 || n > 10_000.0 {
        ctx.err(x.span(), "expected a whole number of days");
        default
    } else {
        n as u32
    }
}
