//! A background round escalates an overdue hazard without anyone acting, once, and removes
//! uploads that nothing used once their grace period is over.

// Test code: a failed unwrap is a failed test, and helpers outside #[test] functions are
// not covered by clippy.toml's allow-unwrap-in-tests.
#![allow(clippy::unwrap_used)]

use chrono::Days;
use std::time::Duration;
use xiaoan_domain::audit::Actor;
use xiaoan_domain::hazard::{Action, Category, Escalation, Grade, Source};
use xiaoan_domain::text::Name;
use xiaoan_domain::{OrgKind, Role, SchoolFacts, SchoolType, Scope};
use xiaoan_jobs::{JobSettings, remove_unreferenced_uploads, round};
use xiaoan_store::Db;
use xiaoan_store::hazards::{self, NewHazard, Powers};
use xiaoan_store::orgs;
use xiaoan_store::users::NewUser;
use xiaoan_testkit::tree;

/// The org `code` under `parent`; a school is a large boarding middle school with labs and
/// special equipment.
async fn org(db: &Db, kind: OrgKind, code: &str, parent: Option<i64>) -> orgs::Org {
    let school = (kind == OrgKind::School).then(|| SchoolFacts {
        students: 900,
        staff: 70,
        boarding: true,
        labs: true,
        special_equipment: true,
        ..tree::school_facts(SchoolType::Middle)
    });
    tree::create_org(db, tree::new_org(kind, code, code, parent, school)).await
}

#[tokio::test]
async fn a_round_escalates_overdue_hazards_once() {
    let t = xiaoan_testkit::sqlite().await;
    let db = t.db.clone();
    let bureau = org(&db, OrgKind::Bureau, "B", None).await;
    let school = org(&db, OrgKind::School, "S", Some(bureau.id)).await;
    let new = NewUser {
        display_name: Name::parse("display_name", "安全專幹").unwrap(),
        ..tree::new_user("safety", school.id, &[(Role::SafetyOfficer, school.id)])
    };
    let user = tree::create_user(&db, new).await;
    let settings = JobSettings {
        interval: Duration::from_secs(60),
        district: xiaoan_domain::District::default(),
        storage_dir: t.dir().unwrap().join("files"),
        unreferenced_upload_grace: Duration::from_secs(24 * 3600),
        reading_retention: Duration::from_secs(400 * 86_400),
        alarm_escalation: xiaoan_domain::iot::Escalation::default(),
        notify: Default::default(),
    };
    let today = settings.district.today();
    let past = today - Days::new(12);
    let scope = Scope::subtree(&school.path);
    let actor = Actor {
        user_id: Some(user.id),
        login: "safety".into(),
        ..Actor::default()
    };
    let report = NewHazard {
        school_id: school.id,
        category: Category::FireHeating,
        grade: Grade::General,
        source: Source::Patrol,
        location: xiaoan_domain::text::Text::line("location", "鍋爐房", 100).expect("location"),
        title: xiaoan_domain::text::Text::line("title", "鍋爐壓力表失效", 100).expect("title"),
        description: xiaoan_domain::text::Text::lines("description", "壓力表指針卡滯", 2000)
            .expect("description"),
        found_by: xiaoan_domain::text::Name::parse("found_by", "安全專幹").expect("found_by"),
        found_on: past,
        attachments: vec![],
    };
    let h = hazards::create(&db, &actor, user.id, &scope, report, past)
        .await
        .unwrap()
        .hazard;
    let powers = Powers {
        user_id: user.id,
        manage: scope.clone(),
        verify: scope.clone(),
    };
    let register = Action::Register {
        owner_id: user.id,
        measures: "更換壓力表".into(),
        deadline: past + Days::new(2),
        grade: None,
    };
    hazards::transition(&db, &actor, &powers, &scope, h.id, register, past)
        .await
        .unwrap();

    let first = round(&db, &settings).await.unwrap();
    assert_eq!(first.escalated, 1);
    assert_eq!(
        hazards::get(&db, &scope, h.id, today)
            .await
            .unwrap()
            .escalation,
        Escalation::Listed,
        "10 days late: listed"
    );
    assert_eq!(
        round(&db, &settings).await.unwrap().escalated,
        0,
        "a second round changes nothing"
    );
}

#[tokio::test]
async fn unused_uploads_are_removed_after_the_grace_period_from_disk_too() {
    let t = xiaoan_testkit::sqlite().await;
    let db = t.db.clone();
    let files = t.dir().unwrap().join("files");
    std::fs::create_dir_all(&files).unwrap();
    let bureau = org(&db, OrgKind::Bureau, "B", None).await;
    let school = org(&db, OrgKind::School, "S", Some(bureau.id)).await;
    let user = tree::role_user(&db, "safety", Role::SafetyOfficer, school.id).await;
    let actor = tree::actor_of(&user);
    let mut ids = vec![];
    for name in ["used.jpg", "forgotten.jpg", "fresh.jpg"] {
        std::fs::write(files.join(name), b"jpeg bytes").unwrap();
        let new = xiaoan_store::attachments::NewAttachment {
            stored_name: name.into(),
            original_name: name.into(),
            mime: "image/jpeg".into(),
            size: 10,
            width: 1,
            height: 1,
            source_sha256: name.into(),
        };
        let a = xiaoan_store::attachments::insert(&db, &actor, user.id, new)
            .await
            .unwrap();
        ids.push(a.id);
    }
    let scope = Scope::subtree(&school.path);
    let today = xiaoan_domain::District::default().today();
    let report = NewHazard {
        school_id: school.id,
        category: Category::Buildings,
        grade: Grade::General,
        source: Source::Patrol,
        location: xiaoan_domain::text::Text::line("location", "圍牆", 100).unwrap(),
        title: xiaoan_domain::text::Text::line("title", "圍牆裂縫", 100).unwrap(),
        description: xiaoan_domain::text::Text::lines("description", "東側圍牆出現裂縫", 2000)
            .unwrap(),
        found_by: Name::parse("found_by", "安全專幹").unwrap(),
        found_on: today,
        attachments: vec![ids[0]],
    };
    hazards::create(&db, &actor, user.id, &scope, report, today)
        .await
        .unwrap();
    let settings = JobSettings {
        interval: Duration::from_secs(60),
        district: xiaoan_domain::District::default(),
        storage_dir: files.clone(),
        unreferenced_upload_grace: Duration::from_secs(24 * 3600),
        reading_retention: Duration::from_secs(400 * 86_400),
        alarm_escalation: xiaoan_domain::iot::Escalation::default(),
        notify: Default::default(),
    };
    // Within their grace period, unused uploads stay.
    assert_eq!(round(&db, &settings).await.unwrap().uploads_removed, 0);
    for name in ["used.jpg", "forgotten.jpg", "fresh.jpg"] {
        assert!(files.join(name).exists(), "{name}");
    }
    // A day later everything uploaded so far is past it: the unused ones go, row and file.
    let a_day_later = xiaoan_domain::now_millis() + 24 * 3600 * 1000;
    let removed = remove_unreferenced_uploads(&db, &files, a_day_later)
        .await
        .unwrap();
    assert_eq!(removed, 2);
    assert!(files.join("used.jpg").exists());
    assert!(!files.join("forgotten.jpg").exists());
    assert!(!files.join("fresh.jpg").exists());
    let everything = Scope::everything();
    assert!(
        xiaoan_store::attachments::get(&db, user.id, &everything, ids[0])
            .await
            .is_ok()
    );
    for gone in [ids[1], ids[2]] {
        assert!(matches!(
            xiaoan_store::attachments::get(&db, user.id, &everything, gone).await,
            Err(xiaoan_store::StoreError::NotFound)
        ));
    }
    assert_eq!(
        remove_unreferenced_uploads(&db, &files, a_day_later)
            .await
            .unwrap(),
        0,
        "a second run changes nothing"
    );
}
