//! The organisation tree: bureau → sections; bureau → centres → schools; schools directly
//! under the bureau. Which parent a node may have is decided here.

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
