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
    /// A monitoring device, by its own secret as the bearer (checked by the handler, not by
    /// a person's session or token).
    Device,
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
    /// See hazards in one's scope.
    HazardRead,
    /// Report a hazard at a school in one's scope.
    HazardReport,
    /// Register, dismiss, plan and reopen hazards (the school's principal and safety officer).
    HazardManage,
    /// Verify and close out (銷賬) or send back rectifications.
    HazardVerify,
    /// Export the problem and rectification lists.
    HazardExport,
    /// See the campaign plan, its obligations and compliance in one's scope.
    PlanRead,
    /// Rebuild compliance from the records (the plan itself is loaded from the command line).
    PlanManage,
    /// Edit the school calendar (terms, holidays, make-up days).
    CalendarManage,
    /// See records (the evidence behind compliance) in one's scope.
    RecordRead,
    /// Enter records for one's own org, and correct or withdraw one's own.
    RecordWrite,
    /// Configure the delivery channels (robots, webhooks, mailboxes) of one's own org.
    ChannelManage,
    /// See supervision items and the list of hazards under supervision in one's scope.
    SupervisionRead,
    /// Issue supervision items to schools in one's scope, accept or return their responses,
    /// edit the document templates.
    SupervisionIssue,
    /// Respond to supervision items issued to one's school.
    SupervisionRespond,
    /// Publish announcements to the schools in one's scope and see who has read them.
    AnnouncementPublish,
    /// See and manage the background job queue.
    JobManage,
    /// See monitoring devices, their health and readings in one's scope.
    DeviceRead,
    /// Register and retire monitoring devices at schools in one's scope.
    DeviceManage,
    /// See monitoring alarms in one's scope.
    AlarmRead,
    /// Acknowledge and close monitoring alarms in one's scope.
    AlarmAct,
}

/// Every role.
pub const EVERYONE: &[Role] = &Role::ALL;

/// The bureau's and the centres' officers who oversee schools: they report, verify and see
/// people in their scope.
pub const OVERSIGHT: &[Role] = &[Role::BureauSafety, Role::Supervisor, Role::CentreOfficer];

/// Who runs safety at a school: the principal and the safety officer.
pub const SCHOOL_LEADS: &[Role] = &[Role::Principal, Role::SafetyOfficer];

/// The school's other staff with a safety duty, and every teacher.
pub const SCHOOL_STAFF: &[Role] = &[
    Role::HeadTeacher,
    Role::Counsellor,
    Role::CanteenManager,
    Role::LabManager,
    Role::BusManager,
    Role::DutyStaff,
    Role::Staff,
];

/// Which roles hold each permission: the single source of truth. One line per permission,
/// naming groups of roles (a single role is a group of one); `Public` and `SelfService` are
/// held by everyone and are not listed.
pub const PERMISSION_ROLES: &[(Permission, &[&[Role]])] = {
    use Role::*;
    &[
        (Permission::OrgRead, &[EVERYONE]),
        (Permission::OrgManage, &[&[SystemAdmin]]),
        (
            Permission::UserRead,
            &[&[SystemAdmin], OVERSIGHT, SCHOOL_LEADS],
        ),
        (Permission::UserManage, &[&[SystemAdmin, Principal]]),
        (Permission::AuditRead, &[&[SystemAdmin, Supervisor]]),
        (Permission::HazardRead, &[EVERYONE]),
        (
            Permission::HazardReport,
            &[OVERSIGHT, SCHOOL_LEADS, SCHOOL_STAFF],
        ),
        (Permission::HazardManage, &[SCHOOL_LEADS]),
        (Permission::HazardVerify, &[OVERSIGHT, SCHOOL_LEADS]),
        (
            Permission::HazardExport,
            &[&[SystemAdmin, SectionOfficer], OVERSIGHT, SCHOOL_LEADS],
        ),
        (Permission::PlanRead, &[EVERYONE]),
        (Permission::PlanManage, &[&[SystemAdmin, BureauSafety]]),
        (Permission::CalendarManage, &[&[SystemAdmin, BureauSafety]]),
        (Permission::RecordRead, &[EVERYONE]),
        (
            Permission::RecordWrite,
            &[&[BureauSafety, SectionOfficer], SCHOOL_LEADS, SCHOOL_STAFF],
        ),
        (
            Permission::ChannelManage,
            &[&[SystemAdmin, BureauSafety, CentreOfficer], SCHOOL_LEADS],
        ),
        (
            Permission::SupervisionRead,
            &[&[SystemAdmin], OVERSIGHT, SCHOOL_LEADS],
        ),
        (Permission::SupervisionIssue, &[OVERSIGHT]),
        (Permission::SupervisionRespond, &[SCHOOL_LEADS]),
        (
            Permission::AnnouncementPublish,
            &[&[SystemAdmin], OVERSIGHT],
        ),
        (Permission::JobManage, &[&[SystemAdmin]]),
        (
            Permission::DeviceRead,
            &[&[SystemAdmin, DutyStaff], OVERSIGHT, SCHOOL_LEADS],
        ),
        (Permission::DeviceManage, &[&[SystemAdmin], SCHOOL_LEADS]),
        (Permission::AlarmRead, &[EVERYONE]),
        (
            Permission::AlarmAct,
            &[&[DutyStaff], OVERSIGHT, SCHOOL_LEADS],
        ),
    ]
};

impl Permission {
    /// Whether `role` holds this permission. `Public` and `SelfService` are held by all.
    pub fn granted_to(self, role: Role) -> bool {
        match self {
            Permission::Public | Permission::Device | Permission::SelfService => true,
            _ => PERMISSION_ROLES
                .iter()
                .any(|(p, groups)| *p == self && groups.iter().any(|g| g.contains(&role))),
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
    fn every_permission_is_in_the_table_once() {
        let mut seen = std::collections::HashSet::new();
        for (p, _) in PERMISSION_ROLES {
            assert!(seen.insert(*p), "{p:?} twice");
        }
        // Every role can at least see the org tree.
        for role in Role::ALL {
            assert!(Permission::OrgRead.granted_to(role), "{role:?}");
        }
    }

    #[test]
    fn the_groups_split_the_roles() {
        let mut all: Vec<Role> = [OVERSIGHT, SCHOOL_LEADS, SCHOOL_STAFF].concat();
        all.extend([Role::SystemAdmin, Role::SectionOfficer]);
        all.sort();
        assert_eq!(all, EVERYONE.to_vec());
        for r in SCHOOL_LEADS.iter().chain(SCHOOL_STAFF) {
            assert!(r.is_school_role(), "{r:?}");
        }
        for r in OVERSIGHT {
            assert!(!r.is_school_role(), "{r:?}");
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
