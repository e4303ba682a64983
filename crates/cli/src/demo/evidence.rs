//! Synthetic evidence for the demo and the benchmark: for every obligation that applies to
//! an org, records that meet it on time, late or not at all, according to how diligent the
//! org is. Deterministic for a given random generator.

use chrono::{Datelike, Days, NaiveDate};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value, json};
use xiaoan_domain::calendar::SchoolCalendar;
use xiaoan_domain::compliance::{Occurrence, applies, occurrences, target, window};
use xiaoan_domain::plan::kinds::{FieldType, RecordKind, validate};
use xiaoan_domain::plan::{Cadence, Obligation, Plan, Threshold};
use xiaoan_domain::{OrgKind, SchoolFacts};
use xiaoan_store::records::BulkRecord;

/// An org to invent records for.
pub struct Subject<'a> {
    pub id: i64,
    pub kind: OrgKind,
    pub facts: Option<&'a SchoolFacts>,
    /// Who the records are attributed to: their login, and their account when it exists.
    pub author: &'a str,
    pub author_id: Option<i64>,
    /// 0–1: the share of duties done on time.
    pub diligence: f64,
}

/// Everything the generator needs besides the subject.
pub struct Setting<'a> {
    pub plan: &'a Plan,
    pub calendar: &'a SchoolCalendar,
    pub today: NaiveDate,
    pub created_at: i64,
}

fn between(rng: &mut ChaCha8Rng, from: NaiveDate, to: NaiveDate) -> NaiveDate {
    let span = (to - from).num_days().max(0) as u64;
    from + Days::new(rng.random_range(0..=span))
}

/// Topics of the demo's safety classes and briefings.
const DEMO_TOPICS: [&str; 6] = [
    "防溺水安全教育",
    "交通安全",
    "消防疏散",
    "防欺凌",
    "食品安全",
    "防詐騙",
];

/// Plausible field values for `kind`, then bent to meet the obligation's conditions.
fn fields(
    kind: &RecordKind,
    ob: &Obligation,
    s: &Subject<'_>,
    day: NaiveDate,
    rng: &mut ChaCha8Rng,
) -> Map<String, Value> {
    let students = s.facts.map_or(40, |f| f.students.max(1));
    let mut out = Map::new();
    for f in &kind.fields {
        let lo = f.min.unwrap_or(0.0);
        let hi = f.max.unwrap_or(lo + 50.0).min(lo + 50.0);
        let v = match (f.ty, f.name.as_str()) {
            (FieldType::Int, "participants" | "students_reached" | "students_surveyed") => {
                json!(students)
            }
            (FieldType::Int, "receipts" | "letters_sent") => json!(students),
            (FieldType::Int, "evacuation_seconds") => json!(rng.random_range(85..170)),
            (FieldType::Int, "report_year") => json!(day.year()),
            (FieldType::Int, "min_weight_g") => {
                json!(if rng.random_bool(0.97) { 150 } else { 100 })
            }
            (FieldType::Int, "kept_hours") => json!(48),
            (FieldType::Int, _) if !f.required => continue,
            (FieldType::Int, _) => json!(rng.random_range(lo as i64..=hi.max(lo) as i64)),
            (FieldType::Number, "hours") => json!(
                if rng.random_bool(0.5) { 1.0_f64 } else { 2.0 }.clamp(lo, f.max.unwrap_or(8.0))
            ),
            (FieldType::Number, _) => json!(lo.max(1.0)),
            (FieldType::Text, _) if !f.required => continue,
            // Words for the built-in kinds' text fields (the day picks them, so that the
            // random draws of the other fields stay as they were).
            (FieldType::Text, "class_name") => json!(format!(
                "{}年級{}班",
                day.day() % 6 + 1,
                day.month() % 4 + 1
            )),
            (FieldType::Text, "topic") => {
                json!(DEMO_TOPICS[day.ordinal() as usize % DEMO_TOPICS.len()])
            }
            (FieldType::Text, "companion") => json!("值班教師（示範）"),
            (FieldType::Text, "sampler") => json!("食堂留樣員（示範）"),
            (FieldType::Text, "summary") => json!("本期安全工作總結（示範）"),
            (FieldType::Text, _) => json!(format!(
                "{}（示範）",
                f.label
                    .as_ref()
                    .map_or(f.name.as_str(), |l| l.zh_tw.as_str())
            )),
            (FieldType::Date, _) => json!(day.to_string()),
            (FieldType::Month, _) => {
                json!(day.pred_opt().unwrap_or(day).format("%Y-%m").to_string())
            }
            (FieldType::Bool, _) => json!(true),
            (FieldType::Choice, "meal") => json!("lunch"),
            (FieldType::Choice, _) => json!(f.options.first().cloned().unwrap_or_default()),
            (FieldType::Multi, _) => json!(f.options),
            (FieldType::List, "attendees" | "staff_checked") => {
                let n = s.facts.map_or(20, |f| f.staff.max(1));
                json!((1..=n).map(|i| format!("教職工{i:03}")).collect::<Vec<_>>())
            }
            (FieldType::List, _) if !f.required => continue,
            (FieldType::List, _) => json!(["示範項目"]),
        };
        out.insert(f.name.clone(), v);
    }
    for c in &ob.conditions {
        let Some(spec) = kind.field(&c.field) else {
            continue;
        };
        if let Some(first) = c.any_of.first() {
            let v = match spec.ty {
                FieldType::Bool => json!(first == "true"),
                FieldType::Multi | FieldType::List => json!([first]),
                _ => json!(first),
            };
            out.insert(c.field.clone(), v);
        }
        if !c.all_of.is_empty() {
            out.insert(c.field.clone(), json!(c.all_of));
        }
        if let Some(max) = c.max {
            out.insert(c.field.clone(), json!(max as i64));
        }
    }
    out
}

fn push(
    out: &mut Vec<BulkRecord>,
    set: &Setting<'_>,
    s: &Subject<'_>,
    kind: &RecordKind,
    fields: Map<String, Value>,
    day: NaiveDate,
) {
    if day > set.today || validate(kind, &fields).is_err() {
        return;
    }
    out.push(BulkRecord {
        org_id: s.id,
        kind: kind.code.clone(),
        occurred_on: day.to_string(),
        fields: Value::Object(fields).to_string(),
        author_id: s.author_id,
        author_login: s.author.to_string(),
        created_at: set.created_at,
    });
}

/// How many records an occurrence needs, and how many of them to write when the
/// occurrence is only partly done.
fn records_needed(ob: &Obligation, kind: &RecordKind, t: f64) -> usize {
    match &ob.threshold {
        Threshold::Count { min } => *min as usize,
        Threshold::Sum { field, .. } => {
            let per = kind
                .field(field)
                .and_then(|f| f.max)
                .unwrap_or(2.0)
                .min(2.0);
            (t / per * 1.4).ceil() as usize
        }
        Threshold::Coverage { .. } | Threshold::Share { .. } => 1,
    }
}

fn one_occurrence(
    out: &mut Vec<BulkRecord>,
    set: &Setting<'_>,
    s: &Subject<'_>,
    ob: &Obligation,
    kind: &RecordKind,
    o: &Occurrence,
    rng: &mut ChaCha8Rng,
) {
    let t = target(ob, s.facts);
    let last = o.due.min(set.today);
    // A current occurrence is done in proportion to the time gone by.
    let elapsed = if o.due > set.today {
        ((set.today - o.start).num_days() as f64 / (o.due - o.start).num_days().max(1) as f64)
            .clamp(0.0, 1.0)
    } else {
        1.0
    };
    let r: f64 = rng.random();
    let n = records_needed(ob, kind, t);
    let day_in = |rng: &mut ChaCha8Rng| {
        if r < s.diligence * elapsed {
            Some(between(rng, o.start, last))
        } else if r < s.diligence * elapsed + (1.0 - s.diligence) / 2.0 && set.today > o.due {
            Some(between(
                rng,
                o.due.succ_opt().unwrap_or(o.due),
                o.end.min(set.today),
            ))
        } else {
            None
        }
    };
    let partial = matches!(ob.threshold, Threshold::Sum { .. }) && elapsed < 1.0;
    let count = if partial {
        ((n as f64) * elapsed * s.diligence).floor() as usize
    } else {
        n
    };
    for _ in 0..count {
        let day = if partial {
            Some(between(rng, o.start, last))
        } else {
            day_in(rng)
        };
        let Some(day) = day else { continue };
        let mut f = fields(kind, ob, s, day, rng);
        // A record that names its period names this occurrence's.
        if let Some(name) = &kind.period_field {
            let v = match kind.field(name).map(|x| x.ty) {
                Some(FieldType::Int) => o.key.parse::<i64>().map_or(json!(o.key), |y| json!(y)),
                _ => json!(o.key),
            };
            f.insert(name.clone(), v);
        }
        push(out, set, s, kind, f, day);
    }
}

/// Appends records for every obligation of the plan that applies to `s`.
pub fn generate(
    out: &mut Vec<BulkRecord>,
    set: &Setting<'_>,
    s: &Subject<'_>,
    rng: &mut ChaCha8Rng,
) {
    let p = set.plan;
    let campaign = (p.starts_on, p.ends_on);
    for ob in p.obligations.iter().filter(|o| applies(o, s.kind, s.facts)) {
        let Some(kind) = p.kind(&ob.record) else {
            continue;
        };
        let w = window(ob, campaign);
        match &ob.cadence {
            Cadence::SchoolDay => {
                let per_day = match ob.threshold {
                    Threshold::Count { min } => min as usize,
                    _ => 1,
                };
                for day in set.calendar.school_days(w.0, set.today.min(w.1)) {
                    if rng.random_bool(s.diligence.clamp(0.0, 1.0)) {
                        for _ in 0..per_day {
                            let f = fields(&kind, ob, s, day, rng);
                            push(out, set, s, &kind, f, day);
                        }
                    }
                }
            }
            Cadence::Standing {
                valid_days,
                grace_days,
            } => {
                let mut day = between(rng, w.0, w.0 + Days::new(u64::from(*grace_days) + 20));
                while day <= set.today.min(w.1) {
                    if rng.random_bool(s.diligence.clamp(0.0, 1.0)) {
                        let f = fields(&kind, ob, s, day, rng);
                        push(out, set, s, &kind, f, day);
                    }
                    day = day + Days::new((u64::from(*valid_days) * 3 / 4).max(1));
                }
            }
            _ => {
                for o in occurrences(ob, campaign, set.calendar, w.0, set.today) {
                    if o.start <= set.today {
                        one_occurrence(out, set, s, ob, &kind, &o, rng);
                    }
                }
            }
        }
    }
}
