//! Measures: what the records of one bucket add up to (a count, a sum of hours, the people
//! covered, the days with a patrol) and the day the threshold was reached. Measures are
//! what the store keeps current as records arrive.

use crate::SchoolFacts;
use crate::plan::{Cadence, Condition, Obligation, Population, Threshold};
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashSet;

/// One record as the engine sees it: its date and (when the obligation needs them) its fields.
#[derive(Debug, Clone)]
pub struct Evidence {
    pub day: NaiveDate,
    /// `Value::Null` when the fields were not loaded.
    pub fields: Value,
}

/// What one bucket's records add up to.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Measure {
    /// Count, sum or people covered (days with a record for daily obligations).
    pub measured: f64,
    /// The target the measure was computed against.
    pub target: f64,
    /// The day the threshold was reached, if it was.
    pub met_on: Option<NaiveDate>,
    /// Daily obligations: bit `d - 1` is set when day `d` of the month met the threshold.
    pub mask: i64,
    /// Standing obligations: the days of qualifying attestations, in order.
    pub dates: Vec<NaiveDate>,
}

/// Whether evaluating `ob` needs record fields (conditions, sums, coverage).
pub fn needs_fields(ob: &Obligation) -> bool {
    !ob.conditions.is_empty() || !matches!(ob.threshold, Threshold::Count { .. })
}

fn meets(c: &Condition, fields: &Value) -> bool {
    let v = &fields[&c.field];
    if c.min.is_some() || c.max.is_some() {
        let Some(n) = v.as_f64() else { return false };
        if c.min.is_some_and(|m| n < m) || c.max.is_some_and(|m| n > m) {
            return false;
        }
    }
    if !c.any_of.is_empty() {
        let hit = |s: &str| c.any_of.iter().any(|a| a == s);
        let ok = match v {
            Value::String(s) => hit(s),
            Value::Bool(b) => hit(if *b { "true" } else { "false" }),
            Value::Array(items) => items.iter().filter_map(Value::as_str).any(hit),
            _ => false,
        };
        if !ok {
            return false;
        }
    }
    if !c.all_of.is_empty() {
        let items: Vec<&str> = v
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if !c.all_of.iter().all(|a| items.contains(&a.as_str())) {
            return false;
        }
    }
    true
}

/// Whether a record counts for `ob` at all.
pub fn qualifies(ob: &Obligation, fields: &Value) -> bool {
    ob.conditions.iter().all(|c| meets(c, fields))
}

/// The target of one occurrence of `ob` at a school with `facts` (coverage depends on the
/// head count; at least one person).
pub fn target(ob: &Obligation, facts: Option<&SchoolFacts>) -> f64 {
    match &ob.threshold {
        Threshold::Count { min } => *min,
        Threshold::Sum { target, .. } => *target,
        Threshold::Coverage {
            population,
            percent,
            ..
        }
        | Threshold::Share {
            population,
            percent,
            ..
        } => {
            let n = facts.map_or(0, |f| match population {
                Population::Staff => f.staff,
                Population::Students => f.students,
            });
            ((n as f64) * percent / 100.0).ceil().max(1.0)
        }
    }
}

/// The measure of one bucket from its records (any order; those outside the bucket's
/// days must already be left out).
pub fn measure(ob: &Obligation, target: f64, records: &[Evidence]) -> Measure {
    let mut rs: Vec<&Evidence> = records
        .iter()
        .filter(|r| qualifies(ob, &r.fields))
        .collect();
    rs.sort_by_key(|r| r.day);
    let mut m = Measure {
        target,
        ..Measure::default()
    };
    match (&ob.cadence, &ob.threshold) {
        (Cadence::SchoolDay, _) => {
            let mut per_day = [0u32; 31];
            for r in &rs {
                per_day[r.day.day0() as usize] += 1;
            }
            for (i, n) in per_day.iter().enumerate() {
                if f64::from(*n) >= target {
                    m.mask |= 1 << i;
                }
            }
            m.measured = f64::from(m.mask.count_ones());
        }
        (Cadence::Standing { .. }, _) => {
            m.dates = rs.iter().map(|r| r.day).collect();
            m.dates.dedup();
            m.measured = m.dates.len() as f64;
            m.met_on = m.dates.first().copied();
        }
        (_, Threshold::Count { .. }) => {
            for (i, r) in rs.iter().enumerate() {
                if m.met_on.is_none() && (i + 1) as f64 >= target {
                    m.met_on = Some(r.day);
                }
            }
            m.measured = rs.len() as f64;
        }
        (_, Threshold::Sum { field, .. } | Threshold::Share { field, .. }) => {
            for r in &rs {
                m.measured += r.fields[field].as_f64().unwrap_or(0.0);
                if m.met_on.is_none() && m.measured + 1e-9 >= target {
                    m.met_on = Some(r.day);
                }
            }
            m.measured = (m.measured * 100.0).round() / 100.0;
        }
        (_, Threshold::Coverage { field, .. }) => {
            let mut seen: HashSet<&str> = HashSet::new();
            for r in &rs {
                if let Some(items) = r.fields[field].as_array() {
                    seen.extend(items.iter().filter_map(Value::as_str));
                }
                if m.met_on.is_none() && seen.len() as f64 >= target {
                    m.met_on = Some(r.day);
                }
            }
            m.measured = seen.len() as f64;
        }
    }
    m
}
