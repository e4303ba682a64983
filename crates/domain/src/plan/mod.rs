//! A campaign plan: its dates, phases, tasks with lead and supporting sections, the
//! parameters drawn from regulations, record kinds it defines, and its obligations. Plans
//! are written as TOML files a bureau copies and edits ([`parse`]); the model here is what
//! the rest of the system uses.

mod builtin;
pub mod kinds;
mod parse;
#[cfg(test)]
pub(crate) mod tests;

pub use kinds::{FieldError, FieldSpec, FieldType, RecordKind, Unit};
pub use parse::{PlanError, parse};

use crate::calendar::add_years;
use crate::{Role, SchoolType};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// Text in the plan's language (Traditional Chinese) with optional translations.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalText {
    pub zh_tw: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zh_cn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub en: Option<String>,
}

impl LocalText {
    /// Whether any text was given.
    pub fn is_empty(&self) -> bool {
        self.zh_tw.is_empty()
    }

    /// The text for a locale code (`zh-TW`, `zh-CN`, `en`), falling back to Traditional Chinese.
    pub fn get(&self, locale: &str) -> &str {
        match locale {
            "zh-CN" => self.zh_cn.as_deref().unwrap_or(&self.zh_tw),
            "en" => self.en.as_deref().unwrap_or(&self.zh_tw),
            _ => &self.zh_tw,
        }
    }
}

/// A bureau section named in the plan (matched to the org tree by name).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Section {
    pub id: String,
    pub name: LocalText,
}

/// A phase of the campaign.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Phase {
    pub id: String,
    pub title: LocalText,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub summary: LocalText,
}

/// A main task of the plan, (一)–(六) in the seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    pub id: String,
    /// The numeral the plan uses, e.g. `一`.
    pub numeral: String,
    pub title: LocalText,
    /// The main task this one is part of (the seed's (六) has six parts, each with its own
    /// leads).
    pub part_of: Option<String>,
    /// Section ids leading the task (牽頭股室).
    pub lead: Vec<String>,
    /// Who supports it (配合部門), as the plan words it.
    pub support: Vec<String>,
}

/// How firmly a regulation-backed value is established (rules.md markers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Basis {
    /// Verified against the primary legal text.
    V,
    /// Secondary source.
    S,
    /// Unverified: a district should confirm or override it.
    U,
}

/// A named number obligations refer to (`"$name"` in the file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Param {
    pub name: String,
    pub value: f64,
    pub unit: Unit,
    pub basis: Basis,
    pub source: String,
    /// Why the value is what it is (the plan author's working note, not shown to users).
    pub note: String,
    /// The parameter's name for people (empty: not given).
    #[serde(default)]
    pub title: LocalText,
    /// The regulation behind the value, as a person cites it (empty: not given).
    #[serde(default)]
    pub citation: LocalText,
    /// What a district should check or set, for people (empty: nothing to add).
    #[serde(default)]
    pub advice: LocalText,
}

/// The level of the org that owes an obligation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    School,
    Centre,
    Bureau,
}

crate::codes! {
    /// A school fact an obligation may require. `ALL` pairs every fact with its code.
    pub enum Fact: pairs {
        Boarding => "boarding",
        Canteen => "canteen",
        Buses => "buses",
        Labs => "labs",
        SpecialEquipment => "special_equipment",
    }
}

/// When an obligation falls due.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "every")]
pub enum Cadence {
    /// Every school day.
    SchoolDay,
    /// Every week (Monday–Sunday) that has a school day.
    Week,
    /// Every month; with `due_day` the deadline is that day of the month.
    Month { due_day: Option<u32> },
    /// Every calendar quarter.
    Quarter,
    /// Around each term's start: before it (window ending at the start) or after it.
    Term {
        anchor: TermAnchor,
        window_days: u32,
        grace_days: u32,
    },
    /// Every school year (first term's start to last term's end).
    SchoolYear,
    /// Every calendar year, open from `opens` to `closes`, due by `due` (month, day).
    Year {
        opens: (u32, u32),
        due: (u32, u32),
        closes: (u32, u32),
    },
    /// Once, by a date.
    Once { due: NaiveDate },
    /// A standing condition: an attestation is valid for `valid_days`; schools have
    /// `grace_days` from the start of the campaign for the first one.
    Standing { valid_days: u32, grace_days: u32 },
}

/// Which side of a term's start a term obligation sits on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TermAnchor {
    BeforeStart,
    AfterStart,
}

/// Whose head count a coverage threshold is measured against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Population {
    Staff,
    Students,
}

/// How much evidence satisfies one occurrence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum Threshold {
    /// At least `min` qualifying records.
    Count { min: f64 },
    /// The sum of a numeric field reaches `target`.
    Sum { field: String, target: f64 },
    /// Distinct entries of a list field cover `percent` % of a population.
    Coverage {
        field: String,
        population: Population,
        percent: f64,
    },
    /// The sum of a numeric field (people reached, receipts returned) reaches `percent` %
    /// of a population.
    Share {
        field: String,
        population: Population,
        percent: f64,
    },
}

/// A condition a record must meet to count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Condition {
    pub field: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub any_of: Vec<String>,
    /// A list field must contain every one of these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub all_of: Vec<String>,
}

/// Which orgs an obligation applies to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Applicability {
    pub level: Level,
    /// Empty: every type.
    pub school_types: Vec<SchoolType>,
    /// Every listed fact must hold.
    pub facts: Vec<Fact>,
}

/// A duty with a cadence and a threshold, satisfied by records of one kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Obligation {
    /// Stable id, unchanged across plan versions.
    pub id: String,
    pub title: LocalText,
    /// The task it belongs to.
    pub task: String,
    /// The role that owes it at the org, if the plan names one.
    pub owner: Option<Role>,
    pub applies: Applicability,
    pub cadence: Cadence,
    pub from: Option<NaiveDate>,
    pub until: Option<NaiveDate>,
    /// The record kind that satisfies it.
    pub record: String,
    pub conditions: Vec<Condition>,
    pub threshold: Threshold,
    /// The parameter the threshold's number came from, if any.
    pub threshold_param: Option<String>,
    /// The plan author's note of the plan's wording and the regulation (not shown to users).
    pub source: String,
    /// The plan clause and regulations as a person cites them (empty: not given).
    #[serde(default)]
    pub citation: LocalText,
}

/// A whole plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub code: String,
    pub name: LocalText,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    /// How long a record's author may still correct or withdraw it.
    pub record_edit_hours: u32,
    pub source: String,
    pub sections: Vec<Section>,
    pub phases: Vec<Phase>,
    pub tasks: Vec<Task>,
    pub params: Vec<Param>,
    /// Record kinds the plan defines, beyond the built-in ones.
    pub kinds: Vec<RecordKind>,
    pub obligations: Vec<Obligation>,
}

impl Plan {
    /// The obligation with id `id`.
    pub fn obligation(&self, id: &str) -> Option<&Obligation> {
        self.obligations.iter().find(|o| o.id == id)
    }

    /// The main tasks (those not part of another), in plan order.
    pub fn main_tasks(&self) -> impl Iterator<Item = &Task> {
        self.tasks.iter().filter(|t| t.part_of.is_none())
    }

    /// The task with id `id`.
    pub fn task(&self, id: &str) -> Option<&Task> {
        self.tasks.iter().find(|t| t.id == id)
    }

    /// A record kind by code: a plan-defined one or a built-in one.
    pub fn kind(&self, code: &str) -> Option<RecordKind> {
        self.kinds
            .iter()
            .find(|k| k.code == code)
            .cloned()
            .or_else(|| kinds::builtin(code))
    }

    /// Every record kind usable under this plan: built-in ones first.
    pub fn all_kinds(&self) -> Vec<RecordKind> {
        let mut v = kinds::builtins();
        v.extend(self.kinds.iter().cloned());
        v
    }

    /// The phase containing `d`, the last one when phases overlap.
    pub fn phase_on(&self, d: NaiveDate) -> Option<&Phase> {
        self.phases
            .iter()
            .rev()
            .find(|p| p.starts_on <= d && d <= p.ends_on)
    }

    /// The same plan moved by `years` whole years: campaign, phases and every dated rule.
    /// The demo uses this to put today in the middle of the campaign.
    pub fn rebased(&self, years: i32) -> Plan {
        let mut p = self.clone();
        p.starts_on = add_years(p.starts_on, years);
        p.ends_on = add_years(p.ends_on, years);
        for ph in &mut p.phases {
            ph.starts_on = add_years(ph.starts_on, years);
            ph.ends_on = add_years(ph.ends_on, years);
        }
        for o in &mut p.obligations {
            o.from = o.from.map(|d| add_years(d, years));
            o.until = o.until.map(|d| add_years(d, years));
            if let Cadence::Once { due } = &mut o.cadence {
                *due = add_years(*due, years);
            }
        }
        p
    }
}
