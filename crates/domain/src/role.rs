//! Roles a user can hold, each assignment scoped to one org node.

use crate::OrgKind;

crate::codes! {
    /// A role; its API code is the `snake_case` name. `ALL` runs from the widest reach to the
    /// narrowest.
    #[derive(PartialOrd, Ord)]
    pub enum Role {
        SystemAdmin => "system_admin",
        BureauSafety => "bureau_safety",
        SectionOfficer => "section_officer",
        Supervisor => "supervisor",
        CentreOfficer => "centre_officer",
        Principal => "principal",
        SafetyOfficer => "safety_officer",
        HeadTeacher => "head_teacher",
        Counsellor => "counsellor",
        CanteenManager => "canteen_manager",
        LabManager => "lab_manager",
        BusManager => "bus_manager",
        DutyStaff => "duty_staff",
        Staff => "staff",
    }
}

impl Role {
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
