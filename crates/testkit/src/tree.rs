//! Orgs and users made straight through the store, and the fixture org tree.
//!
//! Every helper acts as the system with scope over everything and panics when the store
//! refuses, so a broken fixture fails the test at once.

use std::sync::OnceLock;
use xiaoan_domain::audit::Actor;
use xiaoan_domain::text::{Code, Login, Name};
use xiaoan_domain::{OrgKind, Role, SchoolFacts, SchoolType, Scope};
use xiaoan_store::Db;
use xiaoan_store::orgs::{self, NewOrg, Org};
use xiaoan_store::users::{self, NewUser, RoleAt, User};

/// The password of every user made by [`user_with_password`].
pub const PW: &str = "Tide-Lantern-42!";
/// The login of the system administrator of [`Tree::with_people`].
pub const ADMIN: &str = "admin";
/// A plain staff member at school A in [`Tree::with_people`], the target of `{login}` routes.
pub const TARGET: &str = "target-a";
/// The name of [`Tree::school_a`].
pub const SCHOOL_A_NAME: &str = "城關第一小學";
/// The name of [`Tree::school_b`].
pub const SCHOOL_B_NAME: &str = "西山中學";

/// The facts of a plain school of type `t`: 300 students, 20 staff, a canteen, nothing else.
/// Tests that need other facts change fields with `SchoolFacts { .., ..school_facts(t) }`.
pub fn school_facts(t: SchoolType) -> SchoolFacts {
    SchoolFacts {
        school_type: t,
        address: String::new(),
        latitude: None,
        longitude: None,
        students: 300,
        staff: 20,
        boarding: false,
        canteen: true,
        buses: false,
        labs: false,
        special_equipment: false,
    }
}

/// A new org named `name`, with its school facts when it is a school.
pub fn new_org(
    kind: OrgKind,
    code: &str,
    name: &str,
    parent: Option<i64>,
    school: Option<SchoolFacts>,
) -> NewOrg {
    NewOrg {
        kind,
        code: Code::parse(code).expect("org code"),
        name: Name::parse("name", name).expect("org name"),
        parent_id: parent,
        school,
    }
}

/// Creates `new` as the system.
pub async fn create_org(db: &Db, new: NewOrg) -> Org {
    orgs::create(db, &Actor::system("test"), &Scope::everything(), new)
        .await
        .expect("create org")
}

/// Creates the org `code`, named `code`, under `parent`; a school gets the facts of a plain
/// primary school ([`school_facts`]).
pub async fn org(db: &Db, kind: OrgKind, code: &str, parent: Option<i64>) -> Org {
    let school = (kind == OrgKind::School).then(|| school_facts(SchoolType::Primary));
    create_org(db, new_org(kind, code, code, parent, school)).await
}

/// A new user `login` (display name `login`) at home org `org_id` holding `roles`, with a
/// placeholder password hash that no password matches. Change fields with
/// `NewUser { .., ..new_user(..) }`.
pub fn new_user(login: &str, org_id: i64, roles: &[(Role, i64)]) -> NewUser {
    NewUser {
        login: Login::parse(login).expect("login"),
        display_name: Name::parse("display_name", login).expect("display name"),
        org_id,
        password_hash: Some("x".into()),
        must_change_password: false,
        roles: roles
            .iter()
            .map(|&(role, org_id)| RoleAt { role, org_id })
            .collect(),
    }
}

/// Creates `new` as a system administrator.
pub async fn create_user(db: &Db, new: NewUser) -> User {
    users::create(
        db,
        &Actor::system("test"),
        &[Role::SystemAdmin],
        &Scope::everything(),
        new,
    )
    .await
    .expect("create user")
    .0
}

/// Creates the user `login` holding the one `role` at their home org `org_id` (no usable
/// password).
pub async fn role_user(db: &Db, login: &str, role: Role, org_id: i64) -> User {
    create_user(db, new_user(login, org_id, &[(role, org_id)])).await
}

/// The audit actor of `user`.
pub fn actor_of(user: &User) -> Actor {
    Actor {
        user_id: Some(user.id),
        login: user.login.clone(),
        ..Actor::default()
    }
}

/// One Argon2 hash of [`PW`], shared by every fixture user (hashing once keeps tests fast).
pub fn pw_hash() -> String {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| users::hash_password(PW).expect("hash"))
        .clone()
}

/// Creates a user who signs in with [`PW`], at home org `org_id` holding `roles`; returns
/// their id.
pub async fn user_with_password(
    db: &Db,
    login: &str,
    display_name: &str,
    org_id: i64,
    roles: &[(Role, i64)],
    must_change: bool,
) -> i64 {
    let new = NewUser {
        display_name: Name::parse("display_name", display_name).expect("display name"),
        password_hash: Some(pw_hash()),
        must_change_password: must_change,
        ..new_user(login, org_id, roles)
    };
    create_user(db, new).await.id
}

/// Ids of the fixture org tree:
/// bureau → section; bureau → centre A → school A; bureau → centre B → school B.
#[derive(Debug, Clone, Copy)]
pub struct Tree {
    pub bureau: i64,
    pub section: i64,
    pub centre_a: i64,
    pub centre_b: i64,
    pub school_a: i64,
    pub school_b: i64,
}

impl Tree {
    /// Creates the fixture tree: codes `BUR`, `SEC`, `CEN-A`, `CEN-B`, `SCH-A` (a primary
    /// school named [`SCHOOL_A_NAME`]) and `SCH-B` (a middle school named [`SCHOOL_B_NAME`]).
    pub async fn create(db: &Db) -> Tree {
        let school = |t| SchoolFacts {
            address: "一號路".into(),
            staff: 30,
            ..school_facts(t)
        };
        let mk = |kind, code, name, parent, facts| {
            create_org(db, new_org(kind, code, name, parent, facts))
        };
        let bureau = mk(OrgKind::Bureau, "BUR", "城關區教育局", None, None)
            .await
            .id;
        let section = mk(OrgKind::Section, "SEC", "安全科", Some(bureau), None)
            .await
            .id;
        let centre_a = mk(OrgKind::Centre, "CEN-A", "東區中心", Some(bureau), None)
            .await
            .id;
        let centre_b = mk(OrgKind::Centre, "CEN-B", "西區中心", Some(bureau), None)
            .await
            .id;
        let school_a = mk(
            OrgKind::School,
            "SCH-A",
            SCHOOL_A_NAME,
            Some(centre_a),
            Some(school(SchoolType::Primary)),
        )
        .await
        .id;
        let school_b = mk(
            OrgKind::School,
            "SCH-B",
            SCHOOL_B_NAME,
            Some(centre_b),
            Some(school(SchoolType::Middle)),
        )
        .await
        .id;
        Tree {
            bureau,
            section,
            centre_a,
            centre_b,
            school_a,
            school_b,
        }
    }

    /// The tree of [`Tree::create`] with its two people, who sign in with [`PW`]: the
    /// system administrator [`ADMIN`] at the bureau and the staff member [`TARGET`] at
    /// school A. Returns the tree and the administrator's id.
    pub async fn with_people(db: &Db) -> (Tree, i64) {
        let tree = Tree::create(db).await;
        let admin = user_with_password(
            db,
            ADMIN,
            "系統管理員",
            tree.bureau,
            &[(Role::SystemAdmin, tree.bureau)],
            false,
        )
        .await;
        user_with_password(
            db,
            TARGET,
            "王小明",
            tree.school_a,
            &[(Role::Staff, tree.school_a)],
            false,
        )
        .await;
        (tree, admin)
    }

    /// The node of `kind` a role user is placed at (the "A" side of the tree).
    pub fn of_kind(&self, kind: OrgKind) -> i64 {
        match kind {
            OrgKind::Bureau => self.bureau,
            OrgKind::Section => self.section,
            OrgKind::Centre => self.centre_a,
            OrgKind::School => self.school_a,
        }
    }
}
