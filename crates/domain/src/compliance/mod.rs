//! The compliance engine: for an org, an obligation and a period, the status (met, due,
//! overdue, missed, not applicable) and the numbers behind it. Pure functions of the
//! obligation, the school calendar, the stored measures (or the records themselves) and
//! the day it is.

pub mod measure;
pub mod occurrence;
pub mod period;
#[cfg(test)]
mod tests;

pub use measure::{Evidence, Measure, measure, needs_fields, target};
pub use occurrence::{
    Bucket, Occurrence, bucket_named, bucket_of, evidence_window, named_span, occurrences, place,
    span_of, window,
};
pub use period::Period;

use crate::calendar::SchoolCalendar;
use crate::plan::{Cadence, Level, Obligation, Plan, Threshold, Unit};
use crate::{FactsHistory, OrgKind, SchoolFacts};
use chrono::{Days, NaiveDate};
use serde::Serialize;
use std::collections::HashMap;

crate::codes! {
    /// Where an obligation stands. `ALL` is in display order, the worst first; the derived
    /// order is the declaration order.
    #[derive(PartialOrd, Ord)]
    pub enum Status as ComplianceStatus: order(Overdue, Missed, Due, Met, NotApplicable) {
        Met => "met",
        Due => "due",
        Overdue => "overdue",
        Missed => "missed",
        NotApplicable => "not_applicable",
    }
}

impl Status {
    /// How bad it is: the worst occurrence decides a cell.
    fn severity(self) -> u8 {
        match self {
            Status::NotApplicable => 0,
            Status::Met => 1,
            Status::Due => 2,
            Status::Overdue => 3,
            Status::Missed => 4,
        }
    }
}

/// One occurrence with its status and numbers.
#[derive(Debug, Clone, Serialize)]
pub struct OccurrenceStatus {
    #[serde(flatten)]
    pub occurrence: Occurrence,
    pub status: Status,
    pub measured: f64,
    pub target: f64,
    /// Met, but only after its due day (a report for last year entered in January).
    pub late: bool,
}

/// The answer for one org × obligation × period.
#[derive(Debug, Clone, Serialize)]
pub struct Cell {
    pub status: Status,
    /// For one occurrence, its measure (hours, records, people); for several, how many
    /// were met.
    pub measured: f64,
    /// For one occurrence, its target; for several, how many have opened.
    pub target: f64,
    pub unit: Unit,
    pub occurrences: Vec<OccurrenceStatus>,
}

impl Cell {
    /// The cell of an obligation that does not apply.
    pub fn not_applicable(unit: Unit) -> Cell {
        Cell {
            status: Status::NotApplicable,
            measured: 0.0,
            target: 0.0,
            unit,
            occurrences: vec![],
        }
    }

    /// The earliest due day among occurrences not yet met, if any.
    pub fn next_due(&self) -> Option<NaiveDate> {
        self.occurrences
            .iter()
            .filter(|o| matches!(o.status, Status::Due | Status::Overdue))
            .map(|o| o.occurrence.due)
            .min()
    }
}

/// The fixed inputs of an evaluation.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub campaign: (NaiveDate, NaiveDate),
    pub calendar: &'a SchoolCalendar,
    pub today: NaiveDate,
}

impl<'a> Context<'a> {
    /// The context of `plan` on `today`.
    pub fn new(plan: &Plan, calendar: &'a SchoolCalendar, today: NaiveDate) -> Self {
        Context {
            campaign: (plan.starts_on, plan.ends_on),
            calendar,
            today,
        }
    }
}

/// Whether `ob` applies to an org of `kind` with `facts` (schools only).
pub fn applies(ob: &Obligation, kind: OrgKind, facts: Option<&SchoolFacts>) -> bool {
    use crate::plan::Fact;
    match (ob.applies.level, kind, facts) {
        (Level::School, OrgKind::School, Some(f)) => {
            (ob.applies.school_types.is_empty() || ob.applies.school_types.contains(&f.school_type))
                && ob.applies.facts.iter().all(|fact| match fact {
                    Fact::Boarding => f.boarding,
                    Fact::Canteen => f.canteen,
                    Fact::Buses => f.buses,
                    Fact::Labs => f.labs,
                    Fact::SpecialEquipment => f.special_equipment,
                })
        }
        (Level::Centre, OrgKind::Centre, _) | (Level::Bureau, OrgKind::Bureau, _) => true,
        _ => false,
    }
}

/// Whom an obligation is evaluated for: an org's kind and, for a school, its facts over
/// time. Each occurrence is judged by the facts in force on its due day, so a change (a
/// canteen opened, a school converted) applies to what falls due from its first day on and
/// periods due before it keep the facts they had.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub kind: OrgKind,
    pub facts: Option<&'a FactsHistory>,
}

impl<'a> Subject<'a> {
    /// An org whose facts never changed (or that has none).
    pub fn new(kind: OrgKind, facts: Option<&'a FactsHistory>) -> Self {
        Subject { kind, facts }
    }

    /// The facts in force on `d`.
    pub fn facts_on(&self, d: NaiveDate) -> Option<&'a SchoolFacts> {
        self.facts.map(|h| h.on(d))
    }

    /// Whether `ob` applies on `d`.
    pub fn applies_on(&self, ob: &Obligation, d: NaiveDate) -> bool {
        applies(ob, self.kind, self.facts_on(d))
    }

    /// Whether `ob` applies under any version of the facts (whether measures are kept).
    pub fn applies_ever(&self, ob: &Obligation) -> bool {
        match self.facts {
            Some(h) => h
                .versions()
                .iter()
                .any(|v| applies(ob, self.kind, Some(&v.facts))),
            None => applies(ob, self.kind, None),
        }
    }

    /// The target of an occurrence of `ob` due on `d`.
    pub fn target_on(&self, ob: &Obligation, d: NaiveDate) -> f64 {
        target(ob, self.facts_on(d))
    }

    /// Since when `ob` has applied without a break, as of `d` (`NaiveDate::MIN`: always).
    fn applies_since(&self, ob: &Obligation, d: NaiveDate) -> Option<NaiveDate> {
        match self.facts {
            Some(h) => h.holds_since(d, |f| applies(ob, self.kind, Some(f))),
            None => applies(ob, self.kind, None).then_some(NaiveDate::MIN),
        }
    }
}

/// What an evaluation asks of the org for an occurrence due on a day: `None` when the
/// obligation does not apply then, else its target and since when it has applied.
type Owed<'f> = &'f dyn Fn(NaiveDate) -> Option<(f64, NaiveDate)>;

/// The unit of one occurrence's numbers.
pub fn unit(ob: &Obligation, plan: &Plan) -> Unit {
    match (&ob.cadence, &ob.threshold) {
        (Cadence::SchoolDay, _) => Unit::Days,
        (_, Threshold::Sum { field, .. }) => plan
            .kind(&ob.record)
            .and_then(|k| k.field(field).and_then(|f| f.unit))
            .unwrap_or(Unit::Records),
        (_, Threshold::Coverage { .. } | Threshold::Share { .. }) => Unit::People,
        _ => Unit::Records,
    }
}

fn many_unit(c: &Cadence) -> Unit {
    match c {
        Cadence::SchoolDay => Unit::Days,
        Cadence::Week => Unit::Weeks,
        Cadence::Month { .. } => Unit::Months,
        Cadence::Quarter => Unit::Quarters,
        Cadence::Term { .. } => Unit::Terms,
        Cadence::SchoolYear | Cadence::Year { .. } => Unit::Years,
        Cadence::Once { .. } | Cadence::Standing { .. } => Unit::Records,
    }
}

/// The status of one occurrence on `today`, given the day its threshold was met.
pub fn occurrence_status(o: &Occurrence, met_on: Option<NaiveDate>, today: NaiveDate) -> Status {
    match met_on {
        Some(m) if m <= today => Status::Met,
        _ if today <= o.due => Status::Due,
        _ if today <= o.end => Status::Overdue,
        _ => Status::Missed,
    }
}

fn standing(
    ob: &Obligation,
    ctx: &Context<'_>,
    period: &Period,
    m: Option<&Measure>,
    (valid_days, grace_days): (u32, u32),
    owed: Owed<'_>,
) -> Vec<OccurrenceStatus> {
    let w = window(ob, ctx.campaign);
    let (start, end) = (period.start.max(w.0), period.end.min(w.1));
    if start > end {
        return vec![];
    }
    let reference = end.min(ctx.today);
    // The facts of the reference day decide; the grace runs from the day it began to apply.
    let Some((_, since)) = owed(reference) else {
        return vec![];
    };
    let first = w.0.max(since);
    let since = reference
        .checked_sub_days(Days::new(valid_days.into()))
        .unwrap_or(reference);
    let valid = m.is_some_and(|m| m.dates.iter().any(|d| *d <= reference && *d > since));
    let grace_end = first
        .checked_add_days(Days::new(grace_days.into()))
        .unwrap_or(first);
    let status = if valid {
        Status::Met
    } else if start > ctx.today || reference < grace_end {
        Status::Due
    } else if reference == ctx.today {
        Status::Overdue
    } else {
        Status::Missed
    };
    let o = Occurrence {
        key: "standing".into(),
        bucket: "standing".into(),
        start,
        due: grace_end.max(start).min(end),
        end,
    };
    vec![OccurrenceStatus {
        occurrence: o,
        status,
        measured: f64::from(u8::from(valid)),
        target: 1.0,
        late: false,
    }]
}

/// Evaluates `ob` for one org over `period`, looking stored measures up by bucket key.
/// `target` comes from [`target`] for the org; `unit` from [`unit`].
pub fn evaluate<'m>(
    ob: &Obligation,
    ctx: &Context<'_>,
    period: &Period,
    target: f64,
    unit: Unit,
    lookup: impl Fn(&str) -> Option<&'m Measure>,
) -> Cell {
    let occs = match ob.cadence {
        Cadence::Standing { .. } => vec![],
        _ => occurrences(ob, ctx.campaign, ctx.calendar, period.start, period.end),
    };
    evaluate_occurrences(ob, ctx, period, &occs, target, unit, lookup)
}

/// Like [`evaluate`], with the obligation's occurrences in `period` computed beforehand
/// (they are the same for every org: callers evaluating many orgs compute them once).
pub fn evaluate_occurrences<'m>(
    ob: &Obligation,
    ctx: &Context<'_>,
    period: &Period,
    occs: &[Occurrence],
    target: f64,
    unit: Unit,
    lookup: impl Fn(&str) -> Option<&'m Measure>,
) -> Cell {
    let owed = |_: NaiveDate| Some((target, NaiveDate::MIN));
    evaluate_owed(ob, ctx, period, occs, unit, &lookup, &owed)
}

/// Like [`evaluate_occurrences`] for `subject`: each occurrence is judged by the facts in
/// force on its due day (left out when the obligation did not apply then, with the target
/// of that day's head count); a cell none of whose occurrences applies is not applicable.
pub fn evaluate_for<'m>(
    ob: &Obligation,
    ctx: &Context<'_>,
    period: &Period,
    occs: &[Occurrence],
    subject: Subject<'_>,
    unit: Unit,
    lookup: impl Fn(&str) -> Option<&'m Measure>,
) -> Cell {
    if !subject.applies_ever(ob) {
        return Cell::not_applicable(unit);
    }
    let owed = |d: NaiveDate| {
        subject
            .applies_since(ob, d)
            .map(|since| (subject.target_on(ob, d), since))
    };
    evaluate_owed(ob, ctx, period, occs, unit, &lookup, &owed)
}

fn evaluate_owed<'m>(
    ob: &Obligation,
    ctx: &Context<'_>,
    period: &Period,
    occs: &[Occurrence],
    unit: Unit,
    lookup: &dyn Fn(&str) -> Option<&'m Measure>,
    owed: Owed<'_>,
) -> Cell {
    let occs: Vec<OccurrenceStatus> = match &ob.cadence {
        Cadence::Standing {
            valid_days,
            grace_days,
        } => standing(
            ob,
            ctx,
            period,
            lookup("standing"),
            (*valid_days, *grace_days),
            owed,
        ),
        _ => occs
            .iter()
            .filter_map(|o| {
                let (target, _) = owed(o.due)?;
                let m = lookup(&o.bucket);
                let (met_on, measured) = match (&ob.cadence, m) {
                    (Cadence::SchoolDay, Some(m)) => {
                        let hit = m.mask & (1 << chrono::Datelike::day0(&o.start)) != 0;
                        (hit.then_some(o.start), f64::from(u8::from(hit)))
                    }
                    (_, Some(m)) => (m.met_on, m.measured),
                    (_, None) => (None, 0.0),
                };
                let status = occurrence_status(o, met_on, ctx.today);
                let late = status == Status::Met && met_on.is_some_and(|m| m > o.due);
                let target = if matches!(ob.cadence, Cadence::SchoolDay) {
                    1.0
                } else {
                    target
                };
                Some(OccurrenceStatus {
                    occurrence: o.clone(),
                    status,
                    measured,
                    target,
                    late,
                })
            })
            .collect(),
    };
    summarise(ob, occs, unit, ctx.today)
}

fn summarise(ob: &Obligation, occs: Vec<OccurrenceStatus>, unit: Unit, today: NaiveDate) -> Cell {
    let Some(worst) = occs.iter().map(|o| o.status).max_by_key(|s| s.severity()) else {
        return Cell::not_applicable(unit);
    };
    let (measured, target, unit) = if occs.len() == 1 {
        let unit = match ob.cadence {
            Cadence::SchoolDay => Unit::Days,
            _ => unit,
        };
        (occs[0].measured, occs[0].target, unit)
    } else {
        let met = occs.iter().filter(|o| o.status == Status::Met).count();
        let opened = occs.iter().filter(|o| o.occurrence.start <= today).count();
        let target = if opened == 0 {
            occs.len()
        } else {
            opened.max(met)
        };
        (met as f64, target as f64, many_unit(&ob.cadence))
    };
    Cell {
        status: worst,
        measured,
        target,
        unit,
        occurrences: occs,
    }
}

/// The field that names the period records of `ob`'s kind are for, if the kind has one
/// (daily and standing obligations place records by their date).
pub fn period_field(plan: &Plan, ob: &Obligation) -> Option<String> {
    match ob.cadence {
        Cadence::SchoolDay | Cadence::Standing { .. } => None,
        _ => plan.kind(&ob.record).and_then(|k| k.period_field),
    }
}

/// Evaluates `ob` straight from records (no stored measures): buckets the records (by the
/// period they name when their kind has a period field, else by their date), measures each
/// bucket and evaluates. The reference the stored path must agree with.
pub fn evaluate_records(
    plan: &Plan,
    ob: &Obligation,
    ctx: &Context<'_>,
    kind: OrgKind,
    facts: Option<&SchoolFacts>,
    period: &Period,
    records: &[Evidence],
) -> Cell {
    let history = facts.cloned().map(FactsHistory::constant);
    evaluate_records_for(
        plan,
        ob,
        ctx,
        Subject::new(kind, history.as_ref()),
        period,
        records,
    )
}

/// Like [`evaluate_records`] for an org whose facts changed over time: each bucket is
/// measured against the target of its due day's facts.
pub fn evaluate_records_for(
    plan: &Plan,
    ob: &Obligation,
    ctx: &Context<'_>,
    subject: Subject<'_>,
    period: &Period,
    records: &[Evidence],
) -> Cell {
    let unit = unit(ob, plan);
    if !subject.applies_ever(ob) {
        return Cell::not_applicable(unit);
    }
    let field = period_field(plan, ob);
    let mut buckets: HashMap<String, (NaiveDate, Vec<Evidence>)> = HashMap::new();
    for r in records.iter().filter(|r| r.day <= ctx.today) {
        if let Some(b) = place(ob, field.as_deref(), ctx.campaign, ctx.calendar, r) {
            buckets
                .entry(b.key)
                .or_insert_with(|| (b.facts_day, vec![]))
                .1
                .push(r.clone());
        }
    }
    let measures: HashMap<String, Measure> = buckets
        .into_iter()
        .map(|(k, (day, rs))| (k, measure(ob, subject.target_on(ob, day), &rs)))
        .collect();
    let occs = match ob.cadence {
        Cadence::Standing { .. } => vec![],
        _ => occurrences(ob, ctx.campaign, ctx.calendar, period.start, period.end),
    };
    evaluate_for(ob, ctx, period, &occs, subject, unit, |k| measures.get(k))
}
