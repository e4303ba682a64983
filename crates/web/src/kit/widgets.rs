//! Form widgets shared by every page: the choices of a `<select>` or a group of radios,
//! and the school selector of forms that act at one school.

use crate::kit::error::AppResult;
use crate::kit::i18n::Lang;
use xiaoan_domain::{OrgKind, Scope};
use xiaoan_store::Db;
use xiaoan_store::orgs::OrgFilter;

/// A choice in a `<select>`.
#[derive(Clone, Debug)]
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// Choices from typed items: each item's code is the value and `label` words it.
pub fn choices<T: Copy + PartialEq>(
    items: &[T],
    code: impl Fn(T) -> &'static str,
    label: impl Fn(T) -> String,
    current: Option<T>,
) -> Vec<Choice> {
    items
        .iter()
        .map(|i| Choice {
            value: code(*i).into(),
            label: label(*i),
            selected: Some(*i) == current,
        })
        .collect()
}

/// `(code, label)` choices for a select, from a list of codes and a translation prefix.
pub fn code_choices(codes: &[&'static str], prefix: &str, l: Lang, selected: &str) -> Vec<Choice> {
    codes
        .iter()
        .map(|c| Choice {
            value: (*c).into(),
            label: l.t(&format!("{prefix}.{c}")),
            selected: *c == selected,
        })
        .collect()
}

/// The schools of `scope` as choices of a form, `selected` (an id as typed) chosen; with
/// nothing selected and one school in scope, that school.
pub async fn school_choices(db: &Db, scope: &Scope, selected: &str) -> AppResult<Vec<Choice>> {
    let filter = OrgFilter {
        kind: Some(OrgKind::School),
        ..OrgFilter::default()
    };
    let schools = xiaoan_store::orgs::list(db, scope, &filter).await?;
    let only = (selected.trim().is_empty() && schools.len() == 1).then(|| schools[0].id);
    Ok(schools
        .into_iter()
        .map(|o| Choice {
            selected: o.id.to_string() == selected.trim() || Some(o.id) == only,
            value: o.id.to_string(),
            label: o.name,
        })
        .collect())
}
