//! How compliance reads on a page, shared by the matrix, the drill-in, the "what is due"
//! view, the campaign pages and the home page's reminders: status labels, numbers with
//! their unit, cadences and thresholds in words, period choices and short column codes.

use crate::kit::Choice;
use crate::kit::Lang;
use crate::plan::{field_label, unit_label};
use chrono::{Datelike, NaiveDate};
use xiaoan_domain::compliance::{Cell, Period, Status};
use xiaoan_domain::plan::{Cadence, Obligation, Plan, Population, TermAnchor, Threshold};

/// The label of a status in `lang`.
pub fn status_label(lang: Lang, s: Status) -> String {
    lang.t(&format!("status.{}", s.code()))
}

/// A number without a needless decimal part.
pub fn number(x: f64) -> String {
    if (x - x.round()).abs() < 1e-9 {
        format!("{}", x.round() as i64)
    } else {
        format!("{x:.1}")
    }
}

/// "9 / 12 hours", or "—" for a cell that does not apply.
pub fn cell_text(lang: Lang, c: &Cell) -> String {
    if c.status == Status::NotApplicable {
        return "—".into();
    }
    format!(
        "{} / {} {}",
        number(c.measured),
        number(c.target),
        unit_label(lang, c.unit)
    )
}

/// The obligation's title in `lang`.
pub fn title(lang: Lang, ob: &Obligation) -> String {
    ob.title.get(lang.code()).to_string()
}

/// The plan clause and regulations behind an obligation, as a person cites them (the plan
/// author's own note when the plan gives no citation).
pub fn citation(lang: Lang, ob: &Obligation) -> String {
    local_or(lang, &ob.citation, &ob.source)
}

/// `text` in `lang`, or `fallback` when the plan gave no such text.
pub fn local_or(lang: Lang, text: &xiaoan_domain::plan::LocalText, fallback: &str) -> String {
    if text.is_empty() {
        fallback.to_string()
    } else {
        text.get(lang.code()).to_string()
    }
}

/// A short code for a matrix column: the task's numeral and the obligation's place in it.
pub fn short_code(plan: &Plan, ob: &Obligation) -> String {
    let numeral = plan.task(&ob.task).map_or("?", |t| t.numeral.as_str());
    let n = plan
        .obligations
        .iter()
        .filter(|o| o.task == ob.task)
        .position(|o| o.id == ob.id)
        .map_or(0, |i| i + 1);
    format!("{numeral}-{n}")
}

/// The cadence in words.
pub fn cadence_text(lang: Lang, ob: &Obligation) -> String {
    let t1 = |key: &str, name: &str, v: &str| lang.t1(key, name, v);
    match &ob.cadence {
        Cadence::SchoolDay => lang.t("cadence.school_day"),
        Cadence::Week => lang.t("cadence.week"),
        Cadence::Month { due_day: Some(d) } => t1("cadence.month_due", "day", &d.to_string()),
        Cadence::Month { due_day: None } => lang.t("cadence.month"),
        Cadence::Quarter => lang.t("cadence.quarter"),
        Cadence::Term {
            anchor: TermAnchor::BeforeStart,
            window_days,
            ..
        } => t1("cadence.term_before", "days", &window_days.to_string()),
        Cadence::Term { window_days, .. } => {
            t1("cadence.term_after", "days", &window_days.to_string())
        }
        Cadence::SchoolYear => lang.t("cadence.school_year"),
        Cadence::Year { due: (12, 31), .. } => lang.t("cadence.year"),
        Cadence::Year { due: (m, d), .. } => t1("cadence.year_due", "date", &format!("{m}-{d:02}")),
        Cadence::Once { due } => t1("cadence.once", "date", &due.to_string()),
        Cadence::Standing { valid_days, .. } => {
            t1("cadence.standing", "days", &valid_days.to_string())
        }
    }
}

/// The threshold in words.
pub fn threshold_text(lang: Lang, plan: &Plan, ob: &Obligation) -> String {
    let kind = plan.kind(&ob.record);
    let field = |name: &str| {
        kind.as_ref()
            .and_then(|k| k.field(name).map(|f| field_label(lang, f)))
            .unwrap_or_else(|| name.to_string())
    };
    let population = |p: &Population| {
        lang.t(match p {
            Population::Staff => "population.staff",
            Population::Students => "population.students",
        })
    };
    match &ob.threshold {
        Threshold::Count { min } => lang.t1("threshold.count", "n", &number(*min)),
        Threshold::Sum { field: f, target } => lang
            .t1("threshold.sum", "field", &field(f))
            .replace("%{n}", &number(*target))
            .replace(
                "%{unit}",
                &unit_label(lang, xiaoan_domain::compliance::unit(ob, plan)),
            ),
        Threshold::Coverage {
            population: p,
            percent,
            ..
        } => lang
            .t1("threshold.coverage", "population", &population(p))
            .replace("%{pct}", &number(*percent)),
        Threshold::Share {
            field: f,
            population: p,
            percent,
        } => lang
            .t1("threshold.share", "population", &population(p))
            .replace("%{field}", &field(f))
            .replace("%{pct}", &number(*percent)),
    }
}

/// The periods offered: months, quarters and years of the campaign up to next month.
pub fn period_choices(lang: Lang, plan: &Plan, today: NaiveDate, selected: &str) -> Vec<Choice> {
    let end = plan.ends_on.min(today + chrono::Days::new(31));
    let mut out = Vec::new();
    let mut years: Vec<i32> = (plan.starts_on.year()..=end.year()).collect();
    years.reverse();
    for y in &years {
        out.push(Choice {
            value: y.to_string(),
            label: lang.t1("period.year", "year", &y.to_string()),
            selected: selected == y.to_string(),
        });
        for q in (1..=4).rev() {
            let p = Period::quarter(*y, q);
            if p.start <= end && p.end >= plan.starts_on {
                out.push(Choice {
                    selected: selected == p.key,
                    label: lang
                        .t1("period.quarter", "year", &y.to_string())
                        .replace("%{q}", &q.to_string()),
                    value: p.key,
                });
            }
        }
        for m in (1..=12).rev() {
            let p = Period::month(*y, m);
            if p.start <= end && p.end >= plan.starts_on {
                out.push(Choice {
                    selected: selected == p.key,
                    label: p.key.clone(),
                    value: p.key,
                });
            }
        }
    }
    out
}

/// A period's label in `lang`.
pub fn period_label(lang: Lang, p: &Period) -> String {
    match p.key.len() {
        _ if p.key.contains("-Q") => lang
            .t1("period.quarter", "year", &p.start.year().to_string())
            .replace("%{q}", &((p.start.month() - 1) / 3 + 1).to_string()),
        4 => lang.t1("period.year", "year", &p.key),
        _ => p.key.clone(),
    }
}

/// The ids of the obligations of a task (with its parts) or led by a section.
pub fn obligation_ids(plan: &Plan, task: Option<&str>, section: Option<&str>) -> Vec<String> {
    let tasks: Vec<&str> = plan
        .tasks
        .iter()
        .filter(|t| task.is_none_or(|x| t.id == x || t.part_of.as_deref() == Some(x)))
        .filter(|t| {
            section.is_none_or(|s| {
                t.lead.iter().any(|l| l == s)
                    // A main task's lead list is the union of its parts': go by the part.
                    && !plan.tasks.iter().any(|p| p.part_of.as_deref() == Some(&t.id))
            })
        })
        .map(|t| t.id.as_str())
        .collect();
    plan.obligations
        .iter()
        .filter(|o| tasks.contains(&o.task.as_str()))
        .map(|o| o.id.clone())
        .collect()
}

/// An occurrence's key in words: `SY2026` → the 2026–2027 school year, `T2026-1` → its
/// autumn term, `standing` and `once` translated; months, quarters, weeks and days as they are.
pub fn occurrence_label(lang: Lang, key: &str) -> String {
    let years = |y: &str| {
        y.parse::<i32>()
            .map(|y| format!("{y}–{}", y + 1))
            .unwrap_or_else(|_| y.to_string())
    };
    if let Some(y) = key.strip_prefix("SY") {
        return lang.t1("occurrence.school_year", "year", &years(y));
    }
    if let Some((y, n)) = key.strip_prefix('T').and_then(|r| r.split_once('-')) {
        let k = if n == "1" {
            "calendar.autumn"
        } else {
            "calendar.spring"
        };
        return lang.t1(k, "year", &years(y));
    }
    match key {
        "standing" => lang.t("occurrence.standing"),
        "once" => lang.t("occurrence.once"),
        _ => key.to_string(),
    }
}
