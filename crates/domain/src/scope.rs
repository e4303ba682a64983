//! What a caller may see: a set of subtrees of the org tree, given by the materialised
//! paths of their roots. Derived from the caller's role assignments for one permission,
//! read fresh on every request, so moving a school changes access on the next request.

use crate::{OrgKind, Permission, Role};

/// One role assignment as the scope computation needs it.
#[derive(Debug, Clone)]
pub struct Assignment {
    pub role: Role,
    pub org_id: i64,
    pub org_kind: OrgKind,
    /// The materialised path of the org the role is held at.
    pub org_path: String,
    /// The materialised path of that org's parent, if any.
    pub parent_path: Option<String>,
}

/// The subtrees a caller may see for one permission. Empty means nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    roots: Vec<String>,
}

impl Scope {
    /// The scope the `assignments` give for `permission`.
    pub fn for_permission(assignments: &[Assignment], permission: Permission) -> Scope {
        let mut roots: Vec<String> = assignments
            .iter()
            .filter(|a| permission.granted_to(a.role))
            .map(|a| {
                if a.role.reaches_parent_of(a.org_kind) {
                    a.parent_path.clone().unwrap_or_else(|| a.org_path.clone())
                } else {
                    a.org_path.clone()
                }
            })
            .collect();
        roots.sort();
        roots.dedup();
        // Drop roots nested inside other roots.
        let all = roots.clone();
        roots.retain(|r| !all.iter().any(|o| o != r && r.starts_with(o.as_str())));
        Scope { roots }
    }

    /// The whole tree below `root_path` (used by system jobs and command-line tools).
    pub fn subtree(root_path: &str) -> Scope {
        Scope {
            roots: vec![root_path.to_string()],
        }
    }

    /// Everything: the scope of the command-line administrator and background jobs.
    pub fn everything() -> Scope {
        Scope {
            roots: vec!["/".to_string()],
        }
    }

    /// The paths of the subtree roots.
    pub fn roots(&self) -> &[String] {
        &self.roots
    }

    /// Whether the scope contains nothing.
    pub fn is_empty(&self) -> bool {
        self.roots.is_empty()
    }

    /// Whether the node with materialised path `path` lies inside the scope.
    pub fn contains(&self, path: &str) -> bool {
        self.roots.iter().any(|r| path.starts_with(r.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(role: Role, kind: OrgKind, path: &str, parent: Option<&str>) -> Assignment {
        Assignment {
            role,
            org_id: 0,
            org_kind: kind,
            org_path: path.into(),
            parent_path: parent.map(Into::into),
        }
    }

    #[test]
    fn school_roles_see_their_school_only() {
        let s = Scope::for_permission(
            &[a(
                Role::Principal,
                OrgKind::School,
                "/1/3/7/",
                Some("/1/3/"),
            )],
            Permission::OrgRead,
        );
        assert!(s.contains("/1/3/7/"));
        assert!(!s.contains("/1/3/8/"));
        assert!(!s.contains("/1/3/"));
        // "/1/3/70/" must not match "/1/3/7/" by prefix.
        assert!(!s.contains("/1/3/70/"));
    }

    #[test]
    fn section_roles_reach_the_bureau() {
        let s = Scope::for_permission(
            &[a(
                Role::SectionOfficer,
                OrgKind::Section,
                "/1/2/",
                Some("/1/"),
            )],
            Permission::OrgRead,
        );
        assert!(s.contains("/1/3/7/"));
    }

    #[test]
    fn scope_follows_the_permission() {
        let roles = [
            a(Role::Staff, OrgKind::School, "/1/3/7/", Some("/1/3/")),
            a(Role::Principal, OrgKind::School, "/1/3/8/", Some("/1/3/")),
        ];
        let s = Scope::for_permission(&roles, Permission::UserManage);
        assert!(s.contains("/1/3/8/"));
        assert!(!s.contains("/1/3/7/"));
        assert!(Scope::for_permission(&roles[..1], Permission::UserManage).is_empty());
    }

    #[test]
    fn nested_roots_collapse() {
        let roles = [
            a(Role::CentreOfficer, OrgKind::Centre, "/1/3/", Some("/1/")),
            a(Role::Principal, OrgKind::School, "/1/3/8/", Some("/1/3/")),
        ];
        assert_eq!(
            Scope::for_permission(&roles, Permission::OrgRead).roots(),
            ["/1/3/"]
        );
    }
}
