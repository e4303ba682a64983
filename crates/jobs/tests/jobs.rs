//! A background round escalates an overdue hazard without anyone acting, once.

use chrono::Days;
use std::time::Duration;
use xiaoan_domain::audit::Actor;
use xiaoan_domain::hazard::{Action, Category, Escalation, Grade, Source};
use xiaoan_domain::text::{Code, Login, Name};
use xiaoan_domain::{OrgKind, Role, SchoolFacts, SchoolType, Scope};
use xiaoan_jobs::{JobSettings, round};
use xiaoan_store::Db;
use xiaoan_store::hazards::{self, NewHazard, Powers};
use xiaoan_store::orgs::{self, NewOrg};
use xiaoan_store::users::{self, NewUser, RoleAt};

async fn org(db: &Db, kind: OrgKind, code: &str, parent: Option<i64>) -> orgs::Org {
    let school = (kind == OrgKind::School).then(|| SchoolFacts {
        school_type: SchoolType::Middle,
        address: String::new(),
        latitude: None,
        longitude: None,
        students: 900,
        staff: 70,
        boarding: true,
        canteen: true,
        buses: false,
        labs: true,
        special_equipment: true,
    });
    let new = NewOrg {
        kind,
        code: Code::parse(code).unwrap(),
        name: Name::parse("name", code).unwrap(),
        parent_id: parent,
        school,
    };
    orgs::create(db, &Actor::system("test"), &Scope::everything(), new)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_round_escalates_overdue_hazards_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::connect(&format!("sqlite://{}/j.db", dir.path().display()))
        .await
        .unwrap();
    db.migrate().await.unwrap();
    let bureau = org(&db, OrgKind::Bureau, "B", None).await;
    let school = org(&db, OrgKind::School, "S", Some(bureau.id)).await;
    let new = NewUser {
        login: Login::parse("safety").unwrap(),
        display_name: Name::parse("display_name", "安全專幹").unwrap(),
        org_id: school.id,
        password_hash: Some("x".into()),
        must_change_password: false,
        roles: vec![RoleAt {
            role: Role::SafetyOfficer,
            org_id: school.id,
        }],
    };
    let user = users::create(
        &db,
        &Actor::system("test"),
        &[Role::SystemAdmin],
        &Scope::everything(),
        new,
    )
    .await
    .unwrap()
    .0;
    let settings = JobSettings {
        interval: Duration::from_secs(60),
        utc_offset_minutes: 480,
        listing_overdue_days: 7,
    };
    let today = settings.today();
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
        location: "鍋爐房".into(),
        title: "鍋爐壓力表失效".into(),
        description: "壓力表指針卡滯".into(),
        found_by: "安全專幹".into(),
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
