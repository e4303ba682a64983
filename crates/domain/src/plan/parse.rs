//! Reading a plan file (TOML). Syntax errors, unknown keys and every broken rule (an
//! obligation naming a task that does not exist, a cadence option on the wrong cadence, a
//! sum over a text field …) are reported with the line and column where they occur.

mod cadence;
mod obligation;
mod raw;

use super::kinds::{FieldSpec, FieldType, RecordKind, Unit, builtin};
use super::{Basis, LocalText, Param, Phase, Plan, Section, Task};
use chrono::NaiveDate;
use raw::{NumIn, RawPlan};
use std::collections::HashSet;
use std::ops::Range;
use toml::Spanned;

/// One problem in a plan file, at a 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl std::fmt::Display for PlanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.message)
    }
}

/// Collects errors against the source text.
struct Ctx<'a> {
    src: &'a str,
    errors: Vec<PlanError>,
}

impl Ctx<'_> {
    fn err(&mut self, span: Range<usize>, message: impl Into<String>) {
        let at = span.start.min(self.src.len());
        let before = &self.src[..at];
        let line = before.matches('\n').count() + 1;
        let column = before
            .rfind('\n')
            .map_or(before, |i| &before[i + 1..])
            .chars()
            .count()
            + 1;
        self.errors.push(PlanError {
            line,
            column,
            message: message.into(),
        });
    }
}

/// Parses and checks a plan file. On failure every error found is returned, in file order.
pub fn parse(src: &str) -> Result<Plan, Vec<PlanError>> {
    let mut ctx = Ctx {
        src,
        errors: vec![],
    };
    let raw: RawPlan = match toml::from_str(src) {
        Ok(r) => r,
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            ctx.err(span, e.message().trim().to_string());
            return Err(ctx.errors);
        }
    };
    let plan = build(&mut ctx, raw);
    if ctx.errors.is_empty() {
        plan.ok_or_else(Vec::new)
    } else {
        ctx.errors.sort_by_key(|e| (e.line, e.column));
        Err(ctx.errors)
    }
}

fn valid_id(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && s.len() <= 48
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

fn check_id(ctx: &mut Ctx<'_>, id: &Spanned<String>, what: &str, seen: &mut HashSet<String>) {
    if !valid_id(id.get_ref()) {
        ctx.err(
            id.span(),
            format!(
                "{what} id {:?} must be 1–48 characters of a-z, 0-9, '-' and '_'",
                id.get_ref()
            ),
        );
    } else if !seen.insert(id.get_ref().clone()) {
        ctx.err(id.span(), format!("duplicate {what} id {:?}", id.get_ref()));
    }
}

fn text(zh_tw: String, zh_cn: Option<String>, en: Option<String>) -> LocalText {
    LocalText { zh_tw, zh_cn, en }
}

/// Optional text: absent (empty) when the Traditional Chinese is not given.
fn opt_text(zh_tw: Option<String>, zh_cn: Option<String>, en: Option<String>) -> LocalText {
    zh_tw.map_or_else(LocalText::default, |t| text(t, zh_cn, en))
}

fn date(ctx: &mut Ctx<'_>, d: &Spanned<toml::value::Datetime>) -> Option<NaiveDate> {
    let v = d.get_ref();
    match (v.date, v.time, v.offset) {
        (Some(date), None, None) => {
            NaiveDate::from_ymd_opt(date.year as i32, date.month as u32, date.day as u32)
        }
        _ => {
            ctx.err(d.span(), "expected a date such as 2020-06-01 (no time)");
            None
        }
    }
}

fn month_day(ctx: &mut Ctx<'_>, s: &Option<Spanned<String>>, default: (u32, u32)) -> (u32, u32) {
    let Some(s) = s else { return default };
    let parsed = s.get_ref().split_once('-').and_then(|(m, d)| {
        let (m, d) = (m.parse::<u32>().ok()?, d.parse::<u32>().ok()?);
        ((1..=12).contains(&m)
            && (1..=31).contains(&d)
            && crate::calendar::clamped_date(2024, m, d)
                .is_some_and(|x| chrono::Datelike::day(&x) == d))
        .then_some((m, d))
    });
    parsed.unwrap_or_else(|| {
        ctx.err(
            s.span(),
            format!(
                "expected a month and day such as \"12-15\", found {:?}",
                s.get_ref()
            ),
        );
        default
    })
}

fn build(ctx: &mut Ctx<'_>, raw: RawPlan) -> Option<Plan> {
    let c = raw.campaign.into_inner();
    let mut ids = HashSet::new();
    check_id(ctx, &c.code, "plan", &mut ids);
    let starts_on = date(ctx, &c.starts_on);
    let ends_on = date(ctx, &c.ends_on);
    if let (Some(s), Some(e)) = (starts_on, ends_on)
        && e < s
    {
        ctx.err(c.ends_on.span(), "the campaign ends before it starts");
    }
    // The district's clock is configuration ([district] utc_offset_minutes), not the plan's:
    // one district runs one clock whichever plan is active.
    if let Some(o) = c.utc_offset.as_ref() {
        ctx.err(
            o.span(),
            "utc_offset is not a plan setting: the district's offset is `utc_offset_minutes` in the [district] section of the configuration",
        );
    }
    let window = (starts_on?, ends_on?);

    let mut seen = HashSet::new();
    let mut sections = Vec::new();
    for s in raw.sections {
        let s = s.into_inner();
        check_id(ctx, &s.id, "section", &mut seen);
        sections.push(Section {
            id: s.id.into_inner(),
            name: text(s.name, s.name_zh_cn, s.name_en),
        });
    }

    let mut seen = HashSet::new();
    let mut phases = Vec::new();
    for p in raw.phases {
        let p = p.into_inner();
        check_id(ctx, &p.id, "phase", &mut seen);
        let (s, e) = (date(ctx, &p.starts_on), date(ctx, &p.ends_on));
        if let (Some(s), Some(e)) = (s, e) {
            if e < s {
                ctx.err(p.ends_on.span(), "the phase ends before it starts");
            }
            if s < window.0 || e > window.1 {
                ctx.err(
                    p.starts_on.span(),
                    "the phase lies outside the campaign's dates",
                );
            }
            phases.push(Phase {
                id: p.id.into_inner(),
                title: text(p.title, p.title_zh_cn, p.title_en),
                starts_on: s,
                ends_on: e,
                summary: text(p.summary, p.summary_zh_cn, p.summary_en),
            });
        }
    }

    let mut seen = HashSet::new();
    let mut tasks = Vec::new();
    for t in raw.tasks {
        let t = t.into_inner();
        check_id(ctx, &t.id, "task", &mut seen);
        for l in &t.lead {
            if !sections.iter().any(|s| s.id == *l.get_ref()) {
                ctx.err(
                    l.span(),
                    format!(
                        "unknown section {:?}; declare it under [[sections]]",
                        l.get_ref()
                    ),
                );
            }
        }
        let part_of = t.part_of.map(|p| {
            if !seen.contains(p.get_ref()) || *p.get_ref() == *t.id.get_ref() {
                ctx.err(
                    p.span(),
                    format!(
                        "part_of must name a task declared above, not {:?}",
                        p.get_ref()
                    ),
                );
            }
            p.into_inner()
        });
        tasks.push(Task {
            id: t.id.into_inner(),
            numeral: t.numeral,
            title: text(t.title, t.title_zh_cn, t.title_en),
            part_of,
            lead: t.lead.into_iter().map(Spanned::into_inner).collect(),
            support: t.support,
        });
    }

    let mut params = Vec::new();
    for (name, p) in raw.params {
        let span = p.span();
        let p = p.into_inner();
        if !valid_id(&name) {
            ctx.err(
                span.clone(),
                format!("parameter name {name:?} must be a-z, 0-9, '-' and '_'"),
            );
        }
        let unit = Unit::from_code(p.unit.get_ref()).unwrap_or_else(|| {
            ctx.err(
                p.unit.span(),
                format!("unknown unit {:?}", p.unit.get_ref()),
            );
            Unit::Records
        });
        let basis = match p.basis.get_ref().as_str() {
            "V" => Basis::V,
            "S" => Basis::S,
            "U" => Basis::U,
            _ => {
                ctx.err(
                    p.basis.span(),
                    "basis must be \"V\", \"S\" or \"U\" (see rules.md)",
                );
                Basis::U
            }
        };
        if !p.value.is_finite() || p.value < 0.0 {
            ctx.err(span, format!("parameter {name} must be a number ≥ 0"));
        }
        params.push(Param {
            name,
            value: p.value,
            unit,
            basis,
            source: p.source,
            note: p.note,
            title: opt_text(p.title, p.title_zh_cn, p.title_en),
            citation: opt_text(p.citation, p.citation_zh_cn, p.citation_en),
            advice: opt_text(p.advice, p.advice_zh_cn, p.advice_en),
        });
    }

    let mut seen = HashSet::new();
    let mut kinds = Vec::new();
    for k in raw.record_kinds {
        let k = k.into_inner();
        check_id(ctx, &k.code, "record kind", &mut seen);
        if builtin(k.code.get_ref()).is_some() {
            ctx.err(
                k.code.span(),
                format!(
                    "{:?} is a built-in record kind; choose another code",
                    k.code.get_ref()
                ),
            );
        }
        let mut fnames = HashSet::new();
        let mut fields = Vec::new();
        for fl in k.fields {
            let fl = fl.into_inner();
            check_id(ctx, &fl.name, "field", &mut fnames);
            let ty = FieldType::from_code(fl.r#type.get_ref()).unwrap_or_else(|| {
                ctx.err(fl.r#type.span(), format!("unknown field type {:?} (int, number, text, date, month, bool, choice, multi, list)", fl.r#type.get_ref()));
                FieldType::Text
            });
            if matches!(ty, FieldType::Choice | FieldType::Multi) && fl.options.is_empty() {
                ctx.err(fl.r#type.span(), "choice and multi fields need options");
            }
            if let (Some(a), Some(b)) = (fl.min, fl.max)
                && a > b
            {
                ctx.err(fl.name.span(), "min is greater than max");
            }
            let unit = fl.unit.as_ref().and_then(|u| {
                let r = Unit::from_code(u.get_ref());
                if r.is_none() {
                    ctx.err(u.span(), format!("unknown unit {:?}", u.get_ref()));
                }
                r
            });
            fields.push(FieldSpec {
                name: fl.name.into_inner(),
                ty,
                required: fl.required,
                min: fl.min,
                max: fl.max,
                max_len: fl.max_len,
                options: fl.options,
                unit,
                label: Some(text(fl.label, fl.label_zh_cn, fl.label_en)),
            });
        }
        let period_field = k.period_field.map(|p| {
            match fields.iter().find(|f| f.name == *p.get_ref()) {
                None => ctx.err(
                    p.span(),
                    format!("period_field names no field of this kind: {:?}", p.get_ref()),
                ),
                Some(f) if !f.required => {
                    ctx.err(p.span(), "the period field must be required = true")
                }
                Some(f)
                    if !matches!(
                        f.ty,
                        FieldType::Int
                            | FieldType::Text
                            | FieldType::Choice
                            | FieldType::Date
                            | FieldType::Month
                    ) =>
                {
                    ctx.err(
                        p.span(),
                        "the period field must be of type int (a year), month, date, text or choice",
                    )
                }
                Some(_) => {}
            }
            p.into_inner()
        });
        kinds.push(RecordKind {
            code: k.code.into_inner(),
            label: Some(text(k.label, k.label_zh_cn, k.label_en)),
            fields,
            period_field,
        });
    }

    let mut seen = HashSet::new();
    let mut obligations = Vec::new();
    for o in raw.obligations {
        check_id(ctx, &o.get_ref().id, "obligation", &mut seen);
        if let Some(ob) =
            obligation::obligation(ctx, o.into_inner(), window, &tasks, &params, &kinds)
        {
            obligations.push(ob);
        }
    }
    Some(Plan {
        code: c.code.into_inner(),
        name: text(c.name, c.name_zh_cn, c.name_en),
        starts_on: window.0,
        ends_on: window.1,
        record_edit_hours: c.record_edit_hours.unwrap_or(24).clamp(1, 24 * 30),
        source: c.source,
        sections,
        phases,
        tasks,
        params,
        kinds,
        obligations,
    })
}

/// A number or the value of the parameter it names. An unknown parameter is reported
/// once and read as NaN, which every later range check lets pass.
fn num(ctx: &mut Ctx<'_>, n: &Spanned<NumIn>, params: &[Param]) -> (f64, Option<String>) {
    match n.get_ref() {
        NumIn::Lit(v) => (*v, None),
        NumIn::Param(name) => match params.iter().find(|p| p.name == *name) {
            Some(p) => (p.value, Some(name.clone())),
            None => {
                ctx.err(
                    n.span(),
                    format!("unknown parameter ${name}; declare it under [params.{name}]"),
                );
                (f64::NAN, None)
            }
        },
    }
}
