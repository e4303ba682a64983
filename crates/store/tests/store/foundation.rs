//! Org tree, users and roles, sign-in, tokens, audit chain, migrations.

use xiaoan_domain::audit::Actor;
use xiaoan_domain::text::{Code, Name};
use xiaoan_domain::{OrgKind, Role, SchoolFacts, SchoolType, Scope};
use xiaoan_store::audit::Verification;
use xiaoan_store::orgs::{self, NewOrg, OrgFilter, OrgPatch};
use xiaoan_store::users::{self, Lockout, NewUser, RoleAt};
use xiaoan_store::{Db, StoreError};
use xiaoan_testkit::{both_backends, tree};

fn actor() -> Actor {
    Actor::system("test")
}

fn facts(t: SchoolType) -> SchoolFacts {
    SchoolFacts {
        school_type: t,
        address: "城關鎮建設路1號".into(),
        latitude: Some(30.1),
        longitude: Some(114.2),
        students: 800,
        staff: 60,
        boarding: false,
        canteen: true,
        buses: false,
        labs: true,
        special_equipment: false,
    }
}

async fn org(db: &Db, kind: OrgKind, code: &str, name: &str, parent: Option<i64>) -> orgs::Org {
    let school = (kind == OrgKind::School).then(|| facts(SchoolType::Primary));
    tree::create_org(db, tree::new_org(kind, code, name, parent, school)).await
}

/// bureau → centre A → school 1, centre B → school 2, bureau → school 3, bureau → section.
struct Tree {
    bureau: orgs::Org,
    centre_a: orgs::Org,
    centre_b: orgs::Org,
    school1: orgs::Org,
    school2: orgs::Org,
    school3: orgs::Org,
    section: orgs::Org,
}

async fn tree(db: &Db) -> Tree {
    let bureau = org(db, OrgKind::Bureau, "B", "示範區教育局", None).await;
    let centre_a = org(db, OrgKind::Centre, "CA", "城關鎮教管中心", Some(bureau.id)).await;
    let centre_b = org(db, OrgKind::Centre, "CB", "河口鎮教管中心", Some(bureau.id)).await;
    let school1 = org(db, OrgKind::School, "S1", "城關第一小學", Some(centre_a.id)).await;
    let school2 = org(db, OrgKind::School, "S2", "河口中學", Some(centre_b.id)).await;
    let school3 = org(db, OrgKind::School, "S3", "區職業學校", Some(bureau.id)).await;
    let section = org(db, OrgKind::Section, "XAB", "校安辦", Some(bureau.id)).await;
    Tree {
        bureau,
        centre_a,
        centre_b,
        school1,
        school2,
        school3,
        section,
    }
}

fn ids(list: &[orgs::Org]) -> Vec<i64> {
    let mut v: Vec<i64> = list.iter().map(|o| o.id).collect();
    v.sort();
    v
}

async fn scope_of(db: &Db, user_id: i64, p: xiaoan_domain::Permission) -> Scope {
    Scope::for_permission(&users::assignments(db, user_id).await.unwrap(), p)
}

async fn user(db: &Db, login: &str, org_id: i64, roles: Vec<RoleAt>) -> users::User {
    let hash = users::hash_password("Tide-Lantern-42").unwrap();
    let new = NewUser {
        display_name: Name::parse("display_name", "測試用戶").unwrap(),
        password_hash: Some(hash),
        roles,
        ..tree::new_user(login, org_id, &[])
    };
    tree::create_user(db, new).await
}

async fn tree_rules(db: &Db) {
    let t = tree(db).await;
    assert_eq!(
        t.school1.path,
        format!(
            "/{:010}/{:010}/{:010}/",
            t.bureau.id, t.centre_a.id, t.school1.id
        )
    );
    // A school under a section is refused and nothing is written.
    let bad = NewOrg {
        kind: OrgKind::School,
        code: Code::parse("S9").unwrap(),
        name: Name::parse("name", "錯校").unwrap(),
        parent_id: Some(t.section.id),
        school: Some(facts(SchoolType::Middle)),
    };
    assert!(matches!(
        orgs::create(db, &actor(), &Scope::everything(), bad).await,
        Err(StoreError::Invalid("org_parent_kind"))
    ));
    // Duplicate codes are a conflict.
    let dup = NewOrg {
        kind: OrgKind::Centre,
        code: Code::parse("CA").unwrap(),
        name: Name::parse("name", "重複").unwrap(),
        parent_id: Some(t.bureau.id),
        school: None,
    };
    assert!(matches!(
        orgs::create(db, &actor(), &Scope::everything(), dup).await,
        Err(StoreError::Conflict("org_code_taken"))
    ));
    let all = orgs::list(db, &Scope::everything(), &OrgFilter::default())
        .await
        .unwrap();
    assert_eq!(all.len(), 7);
    let school = all.iter().find(|o| o.id == t.school1.id).unwrap();
    assert_eq!(
        school.school.as_ref().unwrap().school_type,
        SchoolType::Primary
    );
    assert!(school.school.as_ref().unwrap().canteen);
}
both_backends!(tree_rules_t, tree_rules);

async fn scopes_follow_roles(db: &Db) {
    let t = tree(db).await;
    let officer = user(
        db,
        "centre.a",
        t.centre_a.id,
        vec![RoleAt {
            role: Role::CentreOfficer,
            org_id: t.centre_a.id,
        }],
    )
    .await;
    let principal = user(
        db,
        "principal.2",
        t.school2.id,
        vec![RoleAt {
            role: Role::Principal,
            org_id: t.school2.id,
        }],
    )
    .await;
    let sect = user(
        db,
        "section.x",
        t.section.id,
        vec![RoleAt {
            role: Role::SectionOfficer,
            org_id: t.section.id,
        }],
    )
    .await;
    use xiaoan_domain::Permission::*;
    let s = scope_of(db, officer.id, OrgRead).await;
    assert_eq!(
        ids(&orgs::list(db, &s, &OrgFilter::default()).await.unwrap()),
        ids(&[t.centre_a.clone(), t.school1.clone()])
    );
    assert!(matches!(
        orgs::get(db, &s, t.school2.id).await,
        Err(StoreError::NotFound)
    ));
    let s = scope_of(db, principal.id, OrgRead).await;
    assert_eq!(
        ids(&orgs::list(db, &s, &OrgFilter::default()).await.unwrap()),
        vec![t.school2.id]
    );
    // A section officer sees the whole district.
    let s = scope_of(db, sect.id, OrgRead).await;
    assert_eq!(
        orgs::list(db, &s, &OrgFilter::default())
            .await
            .unwrap()
            .len(),
        7
    );
    // A centre officer may not manage users at all.
    assert!(scope_of(db, officer.id, UserManage).await.is_empty());
    // Users are listed by the scope of their home org.
    let s = scope_of(db, principal.id, UserRead).await;
    let logins: Vec<String> = users::list(db, &s, &Default::default())
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.login)
        .collect();
    assert_eq!(logins, vec!["principal.2"]);
}
both_backends!(scopes_follow_roles_t, scopes_follow_roles);

async fn moving_a_school_moves_access(db: &Db) {
    let t = tree(db).await;
    let officer = user(
        db,
        "centre.b",
        t.centre_b.id,
        vec![RoleAt {
            role: Role::CentreOfficer,
            org_id: t.centre_b.id,
        }],
    )
    .await;
    let before = scope_of(db, officer.id, xiaoan_domain::Permission::OrgRead).await;
    assert!(orgs::get(db, &before, t.school1.id).await.is_err());
    orgs::update(
        db,
        &actor(),
        &Scope::everything(),
        t.school1.id,
        OrgPatch {
            parent_id: Some(t.centre_b.id),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let after = scope_of(db, officer.id, xiaoan_domain::Permission::OrgRead).await;
    let moved = orgs::get(db, &after, t.school1.id).await.unwrap();
    assert_eq!(moved.parent_id, Some(t.centre_b.id));
    assert_eq!(
        moved.path,
        format!(
            "/{:010}/{:010}/{:010}/",
            t.bureau.id, t.centre_b.id, t.school1.id
        )
    );
    // A centre cannot move under its own school, nor a school under a section.
    let cyc = orgs::update(
        db,
        &actor(),
        &Scope::everything(),
        t.centre_b.id,
        OrgPatch {
            parent_id: Some(t.school1.id),
            ..Default::default()
        },
    )
    .await;
    assert!(matches!(cyc, Err(StoreError::Invalid(_))));
    let bad = orgs::update(
        db,
        &actor(),
        &Scope::everything(),
        t.school3.id,
        OrgPatch {
            parent_id: Some(t.section.id),
            ..Default::default()
        },
    )
    .await;
    assert!(matches!(bad, Err(StoreError::Invalid("org_parent_kind"))));
}
both_backends!(moving_a_school_moves_access_t, moving_a_school_moves_access);

async fn sign_in_and_lockout(db: &Db) {
    let t = tree(db).await;
    let u = user(
        db,
        "teacher",
        t.school1.id,
        vec![RoleAt {
            role: Role::Staff,
            org_id: t.school1.id,
        }],
    )
    .await;
    let lock = Lockout {
        max_failures: 5,
        lock_ms: 30 * 60 * 1000,
    };
    assert!(
        users::sign_in(
            db,
            "Teacher",
            "Tide-Lantern-42",
            lock,
            &users::Origin::default()
        )
        .await
        .unwrap()
        .is_some()
    );
    assert!(
        users::sign_in(
            db,
            "nobody",
            "Tide-Lantern-42",
            lock,
            &users::Origin::default()
        )
        .await
        .unwrap()
        .is_none()
    );
    for _ in 0..5 {
        assert!(
            users::sign_in(
                db,
                "teacher",
                "wrong-password",
                lock,
                &users::Origin::default()
            )
            .await
            .unwrap()
            .is_none()
        );
    }
    // Locked now: even the right password is refused.
    assert!(
        users::sign_in(
            db,
            "teacher",
            "Tide-Lantern-42",
            lock,
            &users::Origin::default()
        )
        .await
        .unwrap()
        .is_none()
    );
    // An administrator's reset unlocks the account.
    users::set_password(
        db,
        &actor(),
        u.id,
        users::hash_password("New-Harbour-77").unwrap(),
        true,
    )
    .await
    .unwrap();
    let back = users::sign_in(
        db,
        "teacher",
        "New-Harbour-77",
        lock,
        &users::Origin::default(),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(back.must_change_password);
    // Disabled accounts cannot sign in.
    users::set_disabled(
        db,
        &actor(),
        &[Role::SystemAdmin],
        &Scope::everything(),
        "teacher",
        true,
    )
    .await
    .unwrap();
    assert!(
        users::sign_in(
            db,
            "teacher",
            "New-Harbour-77",
            lock,
            &users::Origin::default()
        )
        .await
        .unwrap()
        .is_none()
    );
    // Every attempt is in the audit log, and the chain holds.
    let log = xiaoan_store::audit::recent(db, None, 100).await.unwrap();
    assert!(log.iter().any(|e| e.action == "auth.lockout"));
    assert!(
        log.iter()
            .any(|e| e.action == "auth.login" && e.result == "unknown_user")
    );
    assert!(matches!(
        xiaoan_store::audit::verify(db).await.unwrap(),
        Verification::Intact { .. }
    ));
}
both_backends!(sign_in_and_lockout_t, sign_in_and_lockout);

async fn role_grants_are_checked(db: &Db) {
    let t = tree(db).await;
    let principal = user(
        db,
        "principal.1",
        t.school1.id,
        vec![RoleAt {
            role: Role::Principal,
            org_id: t.school1.id,
        }],
    )
    .await;
    let staff = user(
        db,
        "staff.1",
        t.school1.id,
        vec![RoleAt {
            role: Role::Staff,
            org_id: t.school1.id,
        }],
    )
    .await;
    let scope = scope_of(db, principal.id, xiaoan_domain::Permission::UserManage).await;
    let me = Actor {
        user_id: Some(principal.id),
        login: "principal.1".into(),
        ..Actor::default()
    };
    // A principal can make a staff member safety officer at their own school …
    let roles = vec![RoleAt {
        role: Role::SafetyOfficer,
        org_id: t.school1.id,
    }];
    let u = users::set_roles(db, &me, &[Role::Principal], &scope, "staff.1", roles)
        .await
        .unwrap();
    assert_eq!(
        u.roles,
        vec![RoleAt {
            role: Role::SafetyOfficer,
            org_id: t.school1.id
        }]
    );
    // … but not a system administrator, nor a role at another school.
    let r = users::set_roles(
        db,
        &me,
        &[Role::Principal],
        &scope,
        "staff.1",
        vec![RoleAt {
            role: Role::SystemAdmin,
            org_id: t.bureau.id,
        }],
    )
    .await;
    assert!(r.is_err());
    let r = users::set_roles(
        db,
        &me,
        &[Role::Principal],
        &scope,
        "staff.1",
        vec![RoleAt {
            role: Role::Staff,
            org_id: t.school2.id,
        }],
    )
    .await;
    assert!(matches!(r, Err(StoreError::Invalid("role_org"))));
    // A role at the wrong kind of org is refused.
    let r = users::set_roles(
        db,
        &actor(),
        &[Role::SystemAdmin],
        &Scope::everything(),
        "staff.1",
        vec![RoleAt {
            role: Role::CentreOfficer,
            org_id: t.school1.id,
        }],
    )
    .await;
    assert!(matches!(r, Err(StoreError::Invalid("role_org_kind"))));
    assert_eq!(users::get_self(db, staff.id).await.unwrap().roles.len(), 1);
    // An administrator homed at the school is out of the principal's reach.
    let boss = user(
        db,
        "boss",
        t.school1.id,
        vec![RoleAt {
            role: Role::SystemAdmin,
            org_id: t.bureau.id,
        }],
    )
    .await;
    let r = users::set_disabled(db, &me, &[Role::Principal], &scope, "boss", true).await;
    assert!(matches!(r, Err(StoreError::Forbidden("role_grant"))));
    assert!(!users::get_self(db, boss.id).await.unwrap().disabled);
}
both_backends!(role_grants_are_checked_t, role_grants_are_checked);

async fn audit_chain_detects_edits(db: &Db) {
    let _t = tree(db).await;
    let Verification::Intact { entries } = xiaoan_store::audit::verify(db).await.unwrap() else {
        panic!("chain broken")
    };
    assert_eq!(entries, 7);
    // The log refuses edits through SQL …
    let r = sqlx::query("UPDATE audit_log SET detail = '{}' WHERE seq = 3")
        .execute(db.pool())
        .await;
    assert!(r.is_err(), "audit_log must be append-only");
    // … and an attacker who removes the guard is still caught, at the edited entry.
    match db.backend() {
        xiaoan_store::Backend::Sqlite => {
            sqlx::query("DROP TRIGGER audit_log_no_update")
                .execute(db.pool())
                .await
                .unwrap();
        }
        xiaoan_store::Backend::Postgres => {
            sqlx::query("DROP TRIGGER audit_log_no_update ON audit_log")
                .execute(db.pool())
                .await
                .unwrap();
        }
    }
    sqlx::query("UPDATE audit_log SET detail = '{\"name\":\"forged\"}' WHERE seq = 3")
        .execute(db.pool())
        .await
        .unwrap();
    match xiaoan_store::audit::verify(db).await.unwrap() {
        Verification::Broken(b) => assert_eq!(b.seq, 3),
        other => panic!("edit not detected: {other:?}"),
    }
}
both_backends!(audit_chain_detects_edits_t, audit_chain_detects_edits);

async fn tokens_expire_and_revoke(db: &Db) {
    let t = tree(db).await;
    let u = user(db, "api.user", t.school1.id, vec![]).await;
    let mut tx = db.begin_write().await.unwrap();
    let issued = xiaoan_store::tokens::issue(&mut tx, u.id, "test", 60_000, 60_000)
        .await
        .unwrap();
    let stale = xiaoan_store::tokens::issue(&mut tx, u.id, "test", -1, 60_000)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        xiaoan_store::tokens::authenticate(db, &issued.secret, 60_000)
            .await
            .unwrap(),
        Some(u.id)
    );
    assert_eq!(
        xiaoan_store::tokens::authenticate(db, &stale.secret, 60_000)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        xiaoan_store::tokens::authenticate(db, "xa_forged", 60_000)
            .await
            .unwrap(),
        None
    );
    // Changing the password ends every token.
    users::set_password(
        db,
        &actor(),
        u.id,
        users::hash_password("Quiet-River-93").unwrap(),
        false,
    )
    .await
    .unwrap();
    assert_eq!(
        xiaoan_store::tokens::authenticate(db, &issued.secret, 60_000)
            .await
            .unwrap(),
        None
    );
}
both_backends!(tokens_expire_and_revoke_t, tokens_expire_and_revoke);

async fn migrate_twice_is_a_no_op(db: &Db) {
    db.migrate().await.unwrap();
    db.migrate().await.unwrap();
    assert_eq!(users::count(db).await.unwrap(), 0);
}
both_backends!(migrate_twice_is_a_no_op_t, migrate_twice_is_a_no_op);
