//! Record kinds: the typed evidence schools and the bureau enter (drills, lessons,
//! trainings, patrols, reports …). Built-in kinds are defined here; a plan may define more.
//! Fields are validated on entry: unknown fields, missing required ones, wrong types and
//! out-of-range values are refused with the field's name.

use super::LocalText;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

crate::codes! {
    /// The type of a record field. `ALL` pairs every type with its code.
    pub enum FieldType: pairs {
        /// A whole number.
        Int => "int",
        /// A decimal number.
        Number => "number",
        /// One line or a paragraph of text.
        Text => "text",
        /// A date `YYYY-MM-DD`.
        Date => "date",
        /// A month `YYYY-MM`.
        Month => "month",
        /// Yes or no.
        Bool => "bool",
        /// One of `options`.
        Choice => "choice",
        /// Several of `options`.
        Multi => "multi",
        /// A list of short texts (names, problems found).
        List => "list",
    }
}

impl FieldType {
    /// Whether values are numbers (usable in sums and numeric conditions).
    pub fn is_numeric(self) -> bool {
        matches!(self, FieldType::Int | FieldType::Number)
    }

    /// Whether values are lists of texts (usable in coverage).
    pub fn is_list(self) -> bool {
        matches!(self, FieldType::List | FieldType::Multi)
    }
}

crate::codes! {
    /// What a number measures; shown next to measured values and targets. `ALL` pairs every
    /// unit with its code.
    pub enum Unit: pairs {
        Records => "records",
        /// Class hours (課時), the unit of lessons.
        Hours => "hours",
        /// Hours of the clock (a food sample kept 48 hours).
        ClockHours => "clock_hours",
        Credits => "credits",
        People => "people",
        Seconds => "seconds",
        Minutes => "minutes",
        Grams => "grams",
        Items => "items",
        Days => "days",
        Weeks => "weeks",
        Months => "months",
        Quarters => "quarters",
        Terms => "terms",
        Years => "years",
        Percent => "percent",
    }
}

/// One field of a record kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldSpec {
    pub name: String,
    pub ty: FieldType,
    pub required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// Longest text, or most list entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_len: Option<usize>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<Unit>,
    /// The label; built-in fields have none and are labelled by the interface's locale files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<LocalText>,
}

/// A kind of record and its fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordKind {
    pub code: String,
    /// Built-in kinds have none and are labelled by the locale files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<LocalText>,
    pub fields: Vec<FieldSpec>,
    /// The required field that names the period a record is *for* (an annual report's
    /// year, a monthly report's month): such records count for that period, whatever day
    /// they are dated (late when dated after its due day), never for the period they
    /// happened to be entered in. Values: a year (int, or text `2021`), a month
    /// `2021-03`, a quarter `2021-Q1`, a term `T2021-1`, a school year `SY2021` or a date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_field: Option<String>,
}

impl RecordKind {
    /// The field named `name`.
    pub fn field(&self, name: &str) -> Option<&FieldSpec> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// The ways a record's fields can be wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldErrorKind {
    Unknown,
    Missing,
    Type,
    Range,
    TooLong,
    Choice,
}

/// A refused field: which, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {kind:?}")]
pub struct FieldError {
    pub field: String,
    pub kind: FieldErrorKind,
}

fn err(field: &str, kind: FieldErrorKind) -> FieldError {
    FieldError {
        field: field.to_string(),
        kind,
    }
}

const DEFAULT_TEXT_LEN: usize = 500;
const DEFAULT_LIST_LEN: usize = 300;
const LIST_ITEM_LEN: usize = 200;

fn clean_text(field: &str, v: &Value, max: usize) -> Result<String, FieldError> {
    let s = v.as_str().ok_or_else(|| err(field, FieldErrorKind::Type))?;
    // The one text rule of `crate::text`; the error names the record field.
    crate::text::clean("field", s, max, crate::text::Lines::Many, false).map_err(|e| match e.kind {
        crate::text::TextErrorKind::TooLong { .. } => err(field, FieldErrorKind::TooLong),
        _ => err(field, FieldErrorKind::Type),
    })
}

fn check_number(spec: &FieldSpec, n: f64) -> Result<(), FieldError> {
    if !n.is_finite() || spec.min.is_some_and(|m| n < m) || spec.max.is_some_and(|m| n > m) {
        return Err(err(&spec.name, FieldErrorKind::Range));
    }
    Ok(())
}

/// One value checked against its spec; `None` when an optional value is empty.
fn check_value(spec: &FieldSpec, v: &Value) -> Result<Option<Value>, FieldError> {
    use FieldType::*;
    let name = spec.name.as_str();
    let ty = || err(name, FieldErrorKind::Type);
    let out = match spec.ty {
        Int => {
            let n = v.as_i64().ok_or_else(ty)?;
            check_number(spec, n as f64)?;
            Value::from(n)
        }
        Number => {
            let n = v.as_f64().ok_or_else(ty)?;
            check_number(spec, n)?;
            Value::from(n)
        }
        Text => {
            let t = clean_text(name, v, spec.max_len.unwrap_or(DEFAULT_TEXT_LEN))?;
            if t.is_empty() {
                return Ok(None);
            }
            Value::from(t)
        }
        Date => {
            let s = v.as_str().ok_or_else(ty)?.trim();
            let d: NaiveDate = s.parse().map_err(|_| ty())?;
            Value::from(d.to_string())
        }
        Month => {
            let s = v.as_str().ok_or_else(ty)?.trim();
            let d = NaiveDate::parse_from_str(&format!("{s}-01"), "%Y-%m-%d").map_err(|_| ty())?;
            Value::from(d.format("%Y-%m").to_string())
        }
        Bool => Value::from(v.as_bool().ok_or_else(ty)?),
        Choice => {
            let s = v.as_str().ok_or_else(ty)?.trim();
            if s.is_empty() {
                return Ok(None);
            }
            if !spec.options.iter().any(|o| o == s) {
                return Err(err(name, FieldErrorKind::Choice));
            }
            Value::from(s)
        }
        Multi | List => {
            let items = v.as_array().ok_or_else(ty)?;
            if items.len() > spec.max_len.unwrap_or(DEFAULT_LIST_LEN) {
                return Err(err(name, FieldErrorKind::TooLong));
            }
            let mut out: Vec<String> = Vec::new();
            for item in items {
                let t = clean_text(name, item, LIST_ITEM_LEN)?;
                if t.is_empty() {
                    continue;
                }
                if spec.ty == Multi && !spec.options.contains(&t) {
                    return Err(err(name, FieldErrorKind::Choice));
                }
                if !out.contains(&t) {
                    out.push(t);
                }
            }
            if out.is_empty() {
                return Ok(None);
            }
            Value::from(out)
        }
    };
    Ok(Some(out))
}

/// Validates and normalises `fields` against `kind`: unknown fields, missing required
/// fields, wrong types and out-of-range values are refused; texts are trimmed; empty
/// optional values are dropped.
pub fn validate(
    kind: &RecordKind,
    fields: &Map<String, Value>,
) -> Result<Map<String, Value>, FieldError> {
    if let Some(unknown) = fields.keys().find(|k| kind.field(k).is_none()) {
        return Err(err(unknown, FieldErrorKind::Unknown));
    }
    let mut out = Map::new();
    for spec in &kind.fields {
        let value = match fields.get(&spec.name) {
            None | Some(Value::Null) => None,
            Some(v) => check_value(spec, v)?,
        };
        match value {
            Some(v) => {
                out.insert(spec.name.clone(), v);
            }
            None if spec.required => return Err(err(&spec.name, FieldErrorKind::Missing)),
            None => {}
        }
    }
    Ok(out)
}

/// Turns form inputs (every value a string; lists one entry per line or repeated keys)
/// into JSON values of the kind's types, for [`validate`]. Text that is not a number where
/// a number is wanted stays text, so that validation names the field.
pub fn from_form(kind: &RecordKind, inputs: &[(String, String)]) -> Map<String, Value> {
    let mut out = Map::new();
    for spec in &kind.fields {
        let values: Vec<&str> = inputs
            .iter()
            .filter(|(k, _)| *k == spec.name)
            .map(|(_, v)| v.as_str())
            .collect();
        let first = values.first().map(|s| s.trim()).unwrap_or("");
        let v = match spec.ty {
            FieldType::List => Value::from(
                values
                    .iter()
                    .flat_map(|v| v.lines())
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>(),
            ),
            FieldType::Multi => Value::from(values.clone()),
            FieldType::Bool => Value::from(matches!(first, "1" | "on" | "true" | "yes")),
            _ if first.is_empty() => continue,
            FieldType::Int => first
                .parse::<i64>()
                .map(Value::from)
                .unwrap_or_else(|_| Value::from(first)),
            FieldType::Number => first
                .parse::<f64>()
                .ok()
                .filter(|n| n.is_finite())
                .map(Value::from)
                .unwrap_or_else(|| Value::from(first)),
            _ => Value::from(first),
        };
        out.insert(spec.name.clone(), v);
    }
    out
}

pub use super::builtin::{builtin, builtins};
