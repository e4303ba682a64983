//! The plan file as written: TOML tables with spans kept on the values that later checks
//! point at. Unknown keys are refused by serde, with their position.

use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;
use toml::value::Datetime;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPlan {
    pub campaign: Spanned<RawCampaign>,
    #[serde(default)]
    pub sections: Vec<Spanned<RawSection>>,
    #[serde(default)]
    pub phases: Vec<Spanned<RawPhase>>,
    #[serde(default)]
    pub tasks: Vec<Spanned<RawTask>>,
    #[serde(default)]
    pub params: BTreeMap<String, Spanned<RawParam>>,
    #[serde(default)]
    pub record_kinds: Vec<Spanned<RawKind>>,
    #[serde(default)]
    pub obligations: Vec<Spanned<RawObligation>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCampaign {
    pub code: Spanned<String>,
    pub name: String,
    pub name_zh_cn: Option<String>,
    pub name_en: Option<String>,
    pub starts_on: Spanned<Datetime>,
    pub ends_on: Spanned<Datetime>,
    pub utc_offset: Option<Spanned<String>>,
    pub record_edit_hours: Option<u32>,
    #[serde(default)]
    pub source: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSection {
    pub id: Spanned<String>,
    pub name: String,
    pub name_zh_cn: Option<String>,
    pub name_en: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPhase {
    pub id: Spanned<String>,
    pub title: String,
    pub title_zh_cn: Option<String>,
    pub title_en: Option<String>,
    pub starts_on: Spanned<Datetime>,
    pub ends_on: Spanned<Datetime>,
    #[serde(default)]
    pub summary: String,
    pub summary_zh_cn: Option<String>,
    pub summary_en: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTask {
    pub id: Spanned<String>,
    pub numeral: String,
    pub title: String,
    pub title_zh_cn: Option<String>,
    pub title_en: Option<String>,
    pub part_of: Option<Spanned<String>>,
    #[serde(default)]
    pub lead: Vec<Spanned<String>>,
    #[serde(default)]
    pub support: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawParam {
    pub value: f64,
    pub unit: Spanned<String>,
    pub basis: Spanned<String>,
    pub source: String,
    #[serde(default)]
    pub note: String,
    pub title: Option<String>,
    pub title_zh_cn: Option<String>,
    pub title_en: Option<String>,
    pub citation: Option<String>,
    pub citation_zh_cn: Option<String>,
    pub citation_en: Option<String>,
    pub advice: Option<String>,
    pub advice_zh_cn: Option<String>,
    pub advice_en: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKind {
    pub code: Spanned<String>,
    pub label: String,
    pub label_zh_cn: Option<String>,
    pub label_en: Option<String>,
    #[serde(default)]
    pub fields: Vec<Spanned<RawField>>,
    pub period_field: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawField {
    pub name: Spanned<String>,
    pub r#type: Spanned<String>,
    #[serde(default)]
    pub required: bool,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub max_len: Option<usize>,
    #[serde(default)]
    pub options: Vec<String>,
    pub unit: Option<Spanned<String>>,
    pub label: String,
    pub label_zh_cn: Option<String>,
    pub label_en: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCondition {
    pub field: Spanned<String>,
    pub min: Option<Spanned<NumIn>>,
    pub max: Option<Spanned<NumIn>>,
    #[serde(default)]
    pub any_of: Vec<String>,
    #[serde(default)]
    pub all_of: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawObligation {
    pub id: Spanned<String>,
    pub task: Spanned<String>,
    pub title: String,
    pub title_zh_cn: Option<String>,
    pub title_en: Option<String>,
    pub owner: Option<Spanned<String>>,
    pub level: Option<Spanned<String>>,
    #[serde(default)]
    pub school_types: Vec<Spanned<String>>,
    #[serde(default)]
    pub facts: Vec<Spanned<String>>,
    pub cadence: Spanned<String>,
    pub due_day: Option<Spanned<u32>>,
    pub anchor: Option<Spanned<String>>,
    pub window_days: Option<Spanned<NumIn>>,
    pub grace_days: Option<Spanned<NumIn>>,
    pub opens: Option<Spanned<String>>,
    pub due: Option<Spanned<String>>,
    pub closes: Option<Spanned<String>>,
    pub due_date: Option<Spanned<Datetime>>,
    pub valid_days: Option<Spanned<NumIn>>,
    pub from: Option<Spanned<Datetime>>,
    pub until: Option<Spanned<Datetime>>,
    pub record: Spanned<String>,
    pub count: Option<Spanned<NumIn>>,
    pub sum: Option<Spanned<String>>,
    pub target: Option<Spanned<NumIn>>,
    pub coverage: Option<Spanned<String>>,
    pub share: Option<Spanned<String>>,
    pub population: Option<Spanned<String>>,
    pub percent: Option<Spanned<NumIn>>,
    #[serde(default)]
    pub r#where: Vec<Spanned<RawCondition>>,
    #[serde(default)]
    pub source: String,
    pub citation: Option<String>,
    pub citation_zh_cn: Option<String>,
    pub citation_en: Option<String>,
}

/// A number written out, or a parameter reference `"$name"`.
pub enum NumIn {
    Lit(f64),
    Param(String),
}

impl<'de> Deserialize<'de> for NumIn {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = NumIn;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a number or a parameter reference such as \"$food_sample_grams\"")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<NumIn, E> {
                Ok(NumIn::Lit(v as f64))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<NumIn, E> {
                Ok(NumIn::Lit(v as f64))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<NumIn, E> {
                Ok(NumIn::Lit(v))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<NumIn, E> {
                match v.strip_prefix('$') {
                    Some(name) if !name.is_empty() => Ok(NumIn::Param(name.to_string())),
                    _ => Err(E::invalid_value(serde::de::Unexpected::Str(v), &self)),
                }
            }
        }
        d.deserialize_any(V)
    }
}
