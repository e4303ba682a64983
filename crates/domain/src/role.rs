//! Roles a user can hold, each assignment scoped to one org node.

use crate::OrgKind;
use serde::{Deserialize, Serialize};

/// A role; its API code is the `snake_case` name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    SystemAdmin,
    BureauSafety,
    SectionOfficer,
    Supervisor,
    CentreOfficer,
    Principal,
    SafetyOfficer,
    HeadTeacher,
    Counsellor,
    CanteenManager,
    LabManager,
    BusManager,
    DutyStaff,
    Staff,
}

impl Role {
    /// Every role, from the widest reach to the narrowest.
    pub const ALL: [Role; 14] = [
        Role::SystemAdmin,
        Role::BureauSafety,
        Role::SectionOfficer,
        Role::Supervisor,
        Role::CentreOfficer,
        Role::Principal,
        Role::SafetyOfficer,
        Role::HeadTeacher,
        Role::Counsellor,
        Role::CanteenManager,
        Role::LabManager,
        Role::BusManager,
        Role::DutyStaff,
        Role::Staff,
    ];

    /// The stable code used in the API and the database.
    pub fn code(self) -> &'static str {
        match self {
            Role::SystemAdmin => "system_admin",
            Role::BureauSafety => "bureau_safety",
            Role::SectionOfficer => "section_officer",
            Role::Supervisor => "supervisor",
            Role::CentreOfficer => "centre_officer",
            Role::Principal => "principal",
            Role::SafetyOfficer => "safety_officer",
            Role::HeadTeacher => "head_teacher",
            Role::Counsellor => "counsellor",
            Role::CanteenManager => "canteen_manager",
            Role::LabManager => "lab_manager",
            Role::BusManager => "bus_manager",
            Role::DutyStaff => "duty_staff",
            Role::Staff => "staff",
        }
    }

    /// Parses a stable code.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.code() == code)
    }

    /// The org kinds at which this role may be assigned.
    pub fn assignable_at(self) -> &'static [OrgKind] {
        match self {
            Role::SystemAdmin => &[OrgKind::Bureau],
            Role::BureauSafety | Role::Supervisor => &[OrgKind::Bureau, OrgKind::Section],
            Role::SectionOfficer => &[OrgKind::Section],
            Role::CentreOfficer => &[OrgKind::Centre],
            _ => &[OrgKind::School],
        }
    }

    /// Whether the role belongs to a school (as opposed to the bureau or a centre).
    pub fn is_school_role(self) -> bool {
        self.assignable_at() == [OrgKind::School]
    }

    /// Where this role's reach starts when it is held at a node of `kind`: roles held at a
    /// section act for the whole bureau above it (sections lead tasks across all schools).
    pub fn reaches_parent_of(self, kind: OrgKind) -> bool {
        kind == OrgKind::Section
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for r in Role::ALL {
            assert_eq!(Role::from_code(r.code()), Some(r));
            assert!(seen.insert(r.code()));
        }
    }

    #[test]
    fn school_roles_stay_in_schools() {
        assert!(Role::Principal.is_school_role());
        assert!(!Role::CentreOfficer.is_school_role());
        assert_eq!(Role::SystemAdmin.assignable_at(), [OrgKind::Bureau]);
    }
}
