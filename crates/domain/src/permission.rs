//! The one declarative table of what each role may do. Routes name a permission; the web
//! layer looks the route up before any handler runs, and tests walk every route × role.

use crate::Role;
use serde::Serialize;

/// Something a request may need to be allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// Anyone, signed in or not (login, health, OpenAPI document).
    Public,
    /// Any signed-in user, whatever their roles (their own profile, password, logout).
    SelfService,
    /// See org nodes in one's scope.
    OrgRead,
    /// Create, edit and move org nodes.
    OrgManage,
    /// See user accounts in one's scope.
    UserRead,
    /// Create users, assign roles, disable, reset passwords in one's scope.
    UserManage,
    /// Read the audit log and verify its chain.
    AuditRead,
}

/// Which permissions each role holds. The single source of truth.
pub const ROLE_PERMISSIONS: &[(Role, &[Permission])] = {
    use Permission::*;
    &[
        (
            Role::SystemAdmin,
            &[OrgRead, OrgManage, UserRead, UserManage, AuditRead],
        ),
        (Role::BureauSafety, &[OrgRead, UserRead]),
        (Role::SectionOfficer, &[OrgRead]),
        (Role::Supervisor, &[OrgRead, UserRead, AuditRead]),
        (Role::CentreOfficer, &[OrgRead, UserRead]),
        (Role::Principal, &[OrgRead, UserRead, UserManage]),
        (Role::SafetyOfficer, &[OrgRead, UserRead]),
        (Role::HeadTeacher, &[OrgRead]),
        (Role::Counsellor, &[OrgRead]),
        (Role::CanteenManager, &[OrgRead]),
        (Role::LabManager, &[OrgRead]),
        (Role::BusManager, &[OrgRead]),
        (Role::DutyStaff, &[OrgRead]),
        (Role::Staff, &[OrgRead]),
    ]
};

impl Permission {
    /// Whether `role` holds this permission. `Public` and `SelfService` are held by all.
    pub fn granted_to(self, role: Role) -> bool {
        match self {
            Permission::Public | Permission::SelfService => true,
            _ => ROLE_PERMISSIONS
                .iter()
                .any(|(r, perms)| *r == role && perms.contains(&self)),
        }
    }
}

/// Whether an actor whose roles are `actor_roles` may hand out `role`. Only a system
/// administrator may grant bureau- or centre-level roles; others grant school roles only.
pub fn may_grant(actor_roles: &[Role], role: Role) -> bool {
    actor_roles.contains(&Role::SystemAdmin)
        || (role.is_school_role()
            && actor_roles
                .iter()
                .any(|r| Permission::UserManage.granted_to(*r)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_is_in_the_table_once() {
        for role in Role::ALL {
            assert_eq!(
                ROLE_PERMISSIONS.iter().filter(|(r, _)| *r == role).count(),
                1,
                "{role:?}"
            );
        }
    }

    #[test]
    fn only_admins_manage_orgs() {
        for role in Role::ALL {
            assert_eq!(
                Permission::OrgManage.granted_to(role),
                role == Role::SystemAdmin
            );
        }
    }

    #[test]
    fn principals_grant_only_school_roles() {
        assert!(may_grant(&[Role::Principal], Role::Staff));
        assert!(!may_grant(&[Role::Principal], Role::SystemAdmin));
        assert!(!may_grant(&[Role::Principal], Role::CentreOfficer));
        assert!(!may_grant(&[Role::Staff], Role::Staff));
        assert!(may_grant(&[Role::SystemAdmin], Role::BureauSafety));
    }
}
