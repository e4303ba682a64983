//! What the plan's pages and APIs (and those of records and compliance) share: the active
//! plan with its calendar and the district's date, the orgs a caller may enter records for,
//! the wording of record kinds, fields and units, and the period a page asks for.

use crate::kit::{AppError, AppResult, AppState, Caller, Lang};
use chrono::NaiveDate;
use xiaoan_domain::calendar::SchoolCalendar;
use xiaoan_domain::compliance::Period;
use xiaoan_domain::plan::kinds::{RecordKind, Unit};
use xiaoan_domain::{OrgKind, Permission};
use xiaoan_store::plans::{self, StoredPlan};

/// The active plan with what evaluating it needs.
pub struct Active {
    pub plan: StoredPlan,
    pub calendar: SchoolCalendar,
    /// Today in the district's time zone.
    pub today: NaiveDate,
}

/// The active plan, its calendar and today's date; `None` when no plan is loaded.
#[tracing::instrument(skip_all)]
pub async fn active(st: &AppState) -> AppResult<Option<Active>> {
    let Some(plan) = plans::active(&st.db).await? else {
        return Ok(None);
    };
    let calendar = xiaoan_store::calendar::load(&st.db).await?;
    let today = st.config.today();
    Ok(Some(Active {
        plan,
        calendar,
        today,
    }))
}

/// Like [`active`], but a clear 409 when no plan has been loaded.
#[tracing::instrument(skip_all)]
pub async fn require_active(st: &AppState) -> AppResult<Active> {
    active(st)
        .await?
        .ok_or_else(|| AppError::conflict("no_active_plan"))
}

/// The orgs the caller may enter records for: where they hold a role that writes records
/// (a section's officers write for the bureau above it).
pub fn writable_orgs(caller: &Caller) -> Vec<i64> {
    let mut out: Vec<i64> = caller
        .assignments
        .iter()
        .filter(|a| Permission::RecordWrite.granted_to(a.role))
        .filter_map(|a| {
            if a.org_kind == OrgKind::Section {
                let parent = a.parent_path.as_deref()?;
                parent
                    .trim_end_matches('/')
                    .rsplit('/')
                    .next()?
                    .parse()
                    .ok()
            } else {
                Some(a.org_id)
            }
        })
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Checks that the caller may enter records for `org_id`. An org the caller cannot see
/// (outside their scope, or no such org) answers 404 exactly like a missing one; an org
/// they see but do not write for answers 403 `record_org`.
pub async fn check_writable(st: &AppState, caller: &Caller, org_id: i64) -> AppResult<()> {
    if writable_orgs(caller).contains(&org_id) {
        return Ok(());
    }
    xiaoan_store::orgs::get(&st.db, &caller.scope(Permission::RecordRead), org_id).await?;
    Err(AppError::forbidden("record_org"))
}

/// The label of a record kind in `lang`.
pub fn kind_label(lang: Lang, k: &RecordKind) -> String {
    match &k.label {
        Some(t) => t.get(lang.code()).to_string(),
        None => lang.t(&format!("record_kind.{}", k.code)),
    }
}

/// The label of a unit in `lang`.
pub fn unit_label(lang: Lang, u: Unit) -> String {
    lang.t(&format!("unit.{}", u.code()))
}

/// An amount with its unit, singular for exactly one ("1 record", "3 records", "3 條").
pub fn amount(lang: Lang, n: f64, u: Unit) -> String {
    let key = if n == 1.0 { "unit_one" } else { "unit" };
    format!(
        "{} {}",
        crate::plan::words::number(n),
        lang.t(&format!("{key}.{}", u.code()))
    )
}

/// The label of a choice option: the interface's translation when there is one.
pub fn choice_label(lang: Lang, option: &str) -> String {
    let key = format!("record_choice.{option}");
    let t = lang.t(&key);
    if t == key { option.to_string() } else { t }
}

/// The label of a record field in `lang`.
pub fn field_label(lang: Lang, f: &xiaoan_domain::plan::FieldSpec) -> String {
    match &f.label {
        Some(t) => t.get(lang.code()).to_string(),
        None => lang.t(&format!("record_field.{}", f.name)),
    }
}

/// Maps a refused record field to a 400 naming the field in the caller's language.
pub fn field_error(
    kind: &RecordKind,
    e: xiaoan_domain::plan::FieldError,
    values: &serde_json::Map<String, serde_json::Value>,
) -> AppError {
    use xiaoan_domain::plan::kinds::FieldErrorKind::*;
    let code = match e.kind {
        Unknown => "record_field_unknown",
        Missing => "record_field_missing",
        Type => "record_field_type",
        Range => "record_field_range",
        TooLong => "record_field_too_long",
        Choice => "record_field_choice",
    };
    // A missing field: every required field left empty is named, not only the first.
    let names: Vec<String> = if e.kind == Missing {
        kind.fields
            .iter()
            .filter(|f| f.required && values.get(&f.name).is_none_or(blank_value))
            .map(|f| f.name.clone())
            .collect()
    } else {
        vec![e.field.clone()]
    };
    let names = if names.is_empty() {
        vec![e.field.clone()]
    } else {
        names
    };
    let words = names.clone();
    AppError::invalid(code)
        .arg_each("field", move |lang| {
            let labels: Vec<String> = words
                .iter()
                .map(|n| kind_field_label(lang, kind, n))
                .collect();
            labels.join(lang.list_separator())
        })
        .with_fields(names)
}

/// A value that says nothing: absent, empty text or an empty list.
fn blank_value(v: &serde_json::Value) -> bool {
    v.is_null()
        || v.as_str().is_some_and(|s| s.trim().is_empty())
        || v.as_array().is_some_and(|a| a.is_empty())
}

/// A field of `kind` in words (the key itself for a field the kind does not have).
fn kind_field_label(lang: Lang, kind: &RecordKind, name: &str) -> String {
    kind.field(name)
        .map(|f| field_label(lang, f))
        .unwrap_or_else(|| name.to_string())
}

/// Parses the period of a page query (default: this month).
pub fn page_period(a: &Active, raw: Option<&str>) -> AppResult<Period> {
    match raw {
        Some(p) => Period::parse(p).ok_or_else(|| AppError::invalid("period")),
        None => Ok(Period::month_of(a.today)),
    }
}
