//! The organisation tree: bureau → sections; bureau → centres → schools; schools directly
//! under the bureau. Which parent a node may have is decided here.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

crate::codes! {
    /// The kind of an org node; API code in `snake_case`. `ALL` is in tree order.
    pub enum OrgKind {
        Bureau => "bureau",
        Section => "section",
        Centre => "centre",
        School => "school",
    }
}

impl OrgKind {
    /// Whether a node of this kind may sit under a parent of kind `parent` (`None` = root).
    pub fn may_have_parent(self, parent: Option<OrgKind>) -> bool {
        match (self, parent) {
            // A bureau is a root, or sits under a higher bureau in a province deployment.
            (OrgKind::Bureau, None | Some(OrgKind::Bureau)) => true,
            (OrgKind::Section | OrgKind::Centre, Some(OrgKind::Bureau)) => true,
            (OrgKind::School, Some(OrgKind::Bureau | OrgKind::Centre)) => true,
            _ => false,
        }
    }
}

crate::codes! {
    /// The type of a school; decides which obligations apply.
    pub enum SchoolType {
        Primary => "primary",
        Middle => "middle",
        NineYear => "nine_year",
        Kindergarten => "kindergarten",
        Vocational => "vocational",
    }
}

/// The facts about a school that decide which obligations apply to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SchoolFacts {
    pub school_type: SchoolType,
    pub address: String,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub students: i64,
    pub staff: i64,
    pub boarding: bool,
    pub canteen: bool,
    pub buses: bool,
    pub labs: bool,
    pub special_equipment: bool,
}

/// Why school facts were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FactsError {
    #[error("coordinates out of range")]
    Coordinates,
    #[error("counts must be between 0 and 1000000")]
    Counts,
    #[error("address too long")]
    Address,
}

impl SchoolFacts {
    /// Checks ranges: coordinates on the globe, head counts sane, address ≤ 200 characters.
    pub fn validate(&self) -> Result<(), FactsError> {
        if let Some(lat) = self.latitude
            && !(-90.0..=90.0).contains(&lat)
        {
            return Err(FactsError::Coordinates);
        }
        if let Some(lon) = self.longitude
            && !(-180.0..=180.0).contains(&lon)
        {
            return Err(FactsError::Coordinates);
        }
        if !(0..=1_000_000).contains(&self.students) || !(0..=1_000_000).contains(&self.staff) {
            return Err(FactsError::Counts);
        }
        if self.address.chars().count() > 200 {
            return Err(FactsError::Address);
        }
        Ok(())
    }
}

impl SchoolFacts {
    /// Whether `other` differs in a fact that decides obligations (type, head counts,
    /// boarding, canteen, buses, labs, special equipment); the address and coordinates do not.
    pub fn differs_for_duties(&self, other: &SchoolFacts) -> bool {
        (
            self.school_type,
            self.students,
            self.staff,
            self.boarding,
            self.canteen,
            self.buses,
            self.labs,
            self.special_equipment,
        ) != (
            other.school_type,
            other.students,
            other.staff,
            other.boarding,
            other.canteen,
            other.buses,
            other.labs,
            other.special_equipment,
        )
    }
}

/// One version of a school's facts: in force from `from` (`None`: from the start) until
/// the next version's first day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FactsVersion {
    pub from: Option<NaiveDate>,
    pub facts: SchoolFacts,
}

/// A school's facts over time: a change of type or facts applies from its day, so periods
/// before it keep the facts they had.
#[derive(Debug, Clone, PartialEq)]
pub struct FactsHistory {
    /// Never empty; in order of their first day, the first from the start.
    versions: Vec<FactsVersion>,
}

impl FactsHistory {
    /// Facts that never changed.
    pub fn constant(facts: SchoolFacts) -> FactsHistory {
        FactsHistory {
            versions: vec![FactsVersion { from: None, facts }],
        }
    }

    /// The versions in force, in any order (one per first day); `None` when there are none.
    /// The earliest one applies from the start.
    pub fn new(mut versions: Vec<FactsVersion>) -> Option<FactsHistory> {
        versions.sort_by_key(|v| v.from);
        versions.dedup_by_key(|v| v.from);
        let first = versions.first_mut()?;
        first.from = None;
        Some(FactsHistory { versions })
    }

    /// The facts in force on `d`.
    pub fn on(&self, d: NaiveDate) -> &SchoolFacts {
        let i = self
            .versions
            .partition_point(|v| v.from.is_none_or(|f| f <= d));
        &self.versions[i.saturating_sub(1)].facts
    }

    /// The facts in force now (the latest version).
    pub fn current(&self) -> &SchoolFacts {
        &self.versions[self.versions.len() - 1].facts
    }

    /// The versions, in order.
    pub fn versions(&self) -> &[FactsVersion] {
        &self.versions
    }

    /// The first day of the versions around `d` for which `holds` is true without a break
    /// (`None` when it does not hold on `d`; `NaiveDate::MIN` when it held from the start).
    pub fn holds_since(
        &self,
        d: NaiveDate,
        holds: impl Fn(&SchoolFacts) -> bool,
    ) -> Option<NaiveDate> {
        let i = self
            .versions
            .partition_point(|v| v.from.is_none_or(|f| f <= d))
            .saturating_sub(1);
        if !holds(&self.versions[i].facts) {
            return None;
        }
        let mut since = self.versions[i].from;
        for v in self.versions[..i].iter().rev() {
            if !holds(&v.facts) {
                break;
            }
            since = v.from;
        }
        Some(since.unwrap_or(NaiveDate::MIN))
    }
}

/// The materialised path of a node: its ancestors' ids and its own, zero-padded so that
/// sorting paths as text gives tree order, e.g. `/0000000001/0000000023/`.
pub fn child_path(parent_path: Option<&str>, id: i64) -> String {
    format!("{}{:010}/", parent_path.unwrap_or("/"), id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_shape_is_enforced() {
        assert!(OrgKind::School.may_have_parent(Some(OrgKind::Centre)));
        assert!(OrgKind::School.may_have_parent(Some(OrgKind::Bureau)));
        assert!(!OrgKind::School.may_have_parent(Some(OrgKind::Section)));
        assert!(!OrgKind::School.may_have_parent(None));
        assert!(!OrgKind::Centre.may_have_parent(Some(OrgKind::Centre)));
        assert!(OrgKind::Bureau.may_have_parent(None));
    }

    #[test]
    fn paths_nest() {
        assert_eq!(child_path(None, 1), "/0000000001/");
        let child = child_path(Some("/0000000001/"), 23);
        assert_eq!(child, "/0000000001/0000000023/");
        // Text order is tree order: 2 sorts before 10.
        assert!(child_path(Some("/0000000001/"), 2) < child_path(Some("/0000000001/"), 10));
    }

    #[test]
    fn codes_round_trip() {
        for k in OrgKind::ALL {
            assert_eq!(OrgKind::from_code(k.code()), Some(k));
        }
        for t in SchoolType::ALL {
            assert_eq!(SchoolType::from_code(t.code()), Some(t));
        }
        assert_eq!(SchoolType::from_code("university"), None);
    }
}
