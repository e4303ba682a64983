//! One obligation from its table: who owes it, what it applies to, its cadence, its
//! threshold and the conditions a record must meet to count.

use super::raw::RawObligation;
use super::{Ctx, cadence, date, num, opt_text, text};
use crate::plan::kinds::{FieldType, RecordKind, builtin};
use crate::plan::{
    Applicability, Cadence, Condition, Fact, Level, Obligation, Param, Population, Task, Threshold,
};
use crate::{Role, SchoolType};
use chrono::NaiveDate;
use std::ops::Range;
use toml::Spanned;

pub(super) fn obligation(
    ctx: &mut Ctx<'_>,
    o: RawObligation,
    window: (NaiveDate, NaiveDate),
    tasks: &[Task],
    params: &[Param],
    kinds: &[RecordKind],
) -> Option<Obligation> {
    if !tasks.iter().any(|t| t.id == *o.task.get_ref()) {
        ctx.err(
            o.task.span(),
            format!("unknown task {:?}", o.task.get_ref()),
        );
    }
    if o.source.trim().is_empty() {
        ctx.err(
            o.id.span(),
            "every obligation needs a source (the plan's words and the regulation)",
        );
    }
    let owner = o.owner.as_ref().and_then(|r| {
        let role = Role::from_code(r.get_ref());
        if role.is_none() {
            ctx.err(r.span(), format!("unknown role {:?}", r.get_ref()));
        }
        role
    });
    let level = match o.level.as_ref().map(|l| (l.get_ref().as_str(), l.span())) {
        None | Some(("school", _)) => Level::School,
        Some(("centre", _)) => Level::Centre,
        Some(("bureau", _)) => Level::Bureau,
        Some((other, span)) => {
            ctx.err(
                span,
                format!("unknown level {other:?} (school, centre, bureau)"),
            );
            Level::School
        }
    };
    let mut school_types = Vec::new();
    for t in &o.school_types {
        match SchoolType::from_code(t.get_ref()) {
            Some(st) => school_types.push(st),
            None => ctx.err(t.span(), format!("unknown school type {:?}", t.get_ref())),
        }
    }
    let mut facts = Vec::new();
    for f in &o.facts {
        match Fact::ALL.iter().find(|(_, c)| *c == f.get_ref()) {
            Some((fact, _)) => facts.push(*fact),
            None => ctx.err(f.span(), format!("unknown school fact {:?}", f.get_ref())),
        }
    }
    if level != Level::School && (!school_types.is_empty() || !facts.is_empty()) {
        ctx.err(
            o.id.span(),
            "school_types and facts apply to school-level obligations only",
        );
    }
    let kind = kinds
        .iter()
        .find(|k| k.code == *o.record.get_ref())
        .cloned()
        .or_else(|| builtin(o.record.get_ref()));
    if kind.is_none() {
        ctx.err(
            o.record.span(),
            format!("unknown record kind {:?}", o.record.get_ref()),
        );
    }
    let cadence = cadence::cadence(ctx, &o, window, params);
    let from = o.from.as_ref().and_then(|d| date(ctx, d));
    let until = o.until.as_ref().and_then(|d| date(ctx, d));
    for (d, span) in [
        (from, o.from.as_ref().map(|x| x.span())),
        (until, o.until.as_ref().map(|x| x.span())),
    ] {
        if let (Some(d), Some(span)) = (d, span)
            && (d < window.0 || d > window.1)
        {
            ctx.err(span, "the date lies outside the campaign");
        }
    }
    if matches!(cadence, Some(Cadence::SchoolDay | Cadence::Standing { .. }))
        && let Some(field) = kind.as_ref().and_then(|k| k.period_field.as_deref())
    {
        ctx.err(
            o.cadence.span(),
            format!(
                "records of {:?} name their period ({field}); they cannot satisfy a daily or standing obligation",
                o.record.get_ref()
            ),
        );
    }
    let (threshold, threshold_param) = threshold(ctx, &o, kind.as_ref(), params);
    if matches!(cadence, Some(Cadence::SchoolDay | Cadence::Standing { .. }))
        && !matches!(threshold, Some(Threshold::Count { .. }) | None)
    {
        ctx.err(
            o.cadence.span(),
            "school_day and standing obligations take a count threshold only",
        );
    }
    let mut conditions = Vec::new();
    for c in &o.r#where {
        let c = c.get_ref();
        let spec = kind.as_ref().and_then(|k| k.field(c.field.get_ref()));
        match spec {
            None if kind.is_some() => ctx.err(
                c.field.span(),
                format!("the record kind has no field {:?}", c.field.get_ref()),
            ),
            Some(s) if (c.min.is_some() || c.max.is_some()) && !s.ty.is_numeric() => {
                ctx.err(c.field.span(), "min and max need a numeric field")
            }
            Some(s) if !c.all_of.is_empty() && !s.ty.is_list() => {
                ctx.err(c.field.span(), "all_of needs a list field")
            }
            _ => {}
        }
        conditions.push(Condition {
            field: c.field.get_ref().clone(),
            min: c.min.as_ref().map(|n| num(ctx, n, params).0),
            max: c.max.as_ref().map(|n| num(ctx, n, params).0),
            any_of: c.any_of.clone(),
            all_of: c.all_of.clone(),
        });
    }
    Some(Obligation {
        id: o.id.into_inner(),
        title: text(o.title, o.title_zh_cn, o.title_en),
        task: o.task.into_inner(),
        owner,
        applies: Applicability {
            level,
            school_types,
            facts,
        },
        cadence: cadence?,
        from,
        until,
        record: o.record.into_inner(),
        conditions,
        threshold: threshold?,
        threshold_param,
        source: o.source,
        citation: opt_text(o.citation, o.citation_zh_cn, o.citation_en),
    })
}

fn population(ctx: &mut Ctx<'_>, o: &RawObligation, at: Range<usize>) -> Population {
    match o
        .population
        .as_ref()
        .map(|p| (p.get_ref().as_str(), p.span()))
    {
        Some(("staff", _)) => Population::Staff,
        Some(("students", _)) => Population::Students,
        Some((other, span)) => {
            ctx.err(
                span,
                format!("unknown population {other:?} (staff, students)"),
            );
            Population::Staff
        }
        None => {
            ctx.err(
                at,
                "coverage and share need a population (staff or students)",
            );
            Population::Staff
        }
    }
}

fn percent(ctx: &mut Ctx<'_>, o: &RawObligation, params: &[Param]) -> (f64, Option<String>) {
    match &o.percent {
        Some(p) => {
            let (v, param) = num(ctx, p, params);
            if v <= 0.0 || v > 100.0 {
                ctx.err(p.span(), "percent must be above 0 and at most 100");
            }
            (v, param)
        }
        None => (100.0, None),
    }
}

/// Checks that `field` exists in the kind and is of the type the threshold needs.
fn field_of(
    ctx: &mut Ctx<'_>,
    kind: Option<&RecordKind>,
    field: &Spanned<String>,
    what: &str,
    ok: fn(FieldType) -> bool,
) {
    if let Some(k) = kind {
        match k.field(field.get_ref()) {
            Some(s) if ok(s.ty) => {}
            Some(_) => ctx.err(
                field.span(),
                format!("{what}; {:?} is not", field.get_ref()),
            ),
            None => ctx.err(
                field.span(),
                format!("the record kind has no field {:?}", field.get_ref()),
            ),
        }
    }
}

fn threshold(
    ctx: &mut Ctx<'_>,
    o: &RawObligation,
    kind: Option<&RecordKind>,
    params: &[Param],
) -> (Option<Threshold>, Option<String>) {
    let given: Vec<&Spanned<String>> = [&o.sum, &o.coverage, &o.share]
        .into_iter()
        .flatten()
        .collect();
    if given.len() > 1 {
        ctx.err(
            given[1].span(),
            "an obligation has one threshold: count, sum, coverage or share",
        );
        return (None, None);
    }
    if o.target.is_some() && o.sum.is_none() {
        ctx.err(
            o.target.as_ref().map_or(0..0, Spanned::span),
            "target belongs with sum",
        );
    }
    if o.percent.is_some() && o.coverage.is_none() && o.share.is_none() {
        ctx.err(
            o.percent.as_ref().map_or(0..0, Spanned::span),
            "percent belongs with coverage or share",
        );
    }
    if let Some(field) = &o.sum {
        field_of(
            ctx,
            kind,
            field,
            "sum needs a numeric field",
            FieldType::is_numeric,
        );
        let Some(t) = &o.target else {
            ctx.err(field.span(), "sum needs a target");
            return (None, None);
        };
        let (target, param) = num(ctx, t, params);
        if target <= 0.0 {
            ctx.err(t.span(), "the target must be greater than 0");
        }
        return (
            Some(Threshold::Sum {
                field: field.get_ref().clone(),
                target,
            }),
            param,
        );
    }
    if let Some(field) = &o.coverage {
        field_of(
            ctx,
            kind,
            field,
            "coverage needs a list field",
            FieldType::is_list,
        );
        let population = population(ctx, o, field.span());
        let (percent, param) = percent(ctx, o, params);
        return (
            Some(Threshold::Coverage {
                field: field.get_ref().clone(),
                population,
                percent,
            }),
            param,
        );
    }
    if let Some(field) = &o.share {
        field_of(
            ctx,
            kind,
            field,
            "share needs a numeric field",
            FieldType::is_numeric,
        );
        let population = population(ctx, o, field.span());
        let (percent, param) = percent(ctx, o, params);
        return (
            Some(Threshold::Share {
                field: field.get_ref().clone(),
                population,
                percent,
            }),
            param,
        );
    }
    let (min, param) = match &o.count {
        Some(c) => {
            let (v, param) = num(ctx, c, params);
            if !v.is_nan() && (v < 1.0 || v.fract() != 0.0) {
                ctx.err(c.span(), "count must be a whole number ≥ 1");
            }
            (v, param)
        }
        None => (1.0, None),
    };
    (Some(Threshold::Count { min }), param)
}
