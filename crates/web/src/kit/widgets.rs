//! Form widgets shared by every page: the choices of a `<select>` or a group of radios.

use crate::kit::i18n::Lang;

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
