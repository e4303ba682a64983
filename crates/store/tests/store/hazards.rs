//! The hazard closed loop in the store: reporting, every step, who may take it, scope,
//! escalation, duplicates, re-used photos, lists and counts.

use crate::both_backends;
use chrono::NaiveDate;
use xiaoan_domain::audit::Actor;
use xiaoan_domain::hazard::{Action, Category, Grade, Source, Status};
use xiaoan_domain::text::{Code, Login, Name};
use xiaoan_domain::{OrgKind, Permission, Role, SchoolFacts, SchoolType, Scope};
use xiaoan_store::attachments::{self, NewAttachment};
use xiaoan_store::hazards::{self, HazardFilter, NewHazard, Powers};
use xiaoan_store::orgs::{self, NewOrg};
use xiaoan_store::users::{self, NewUser, RoleAt};
use xiaoan_store::{Db, StoreError};

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

const TODAY: &str = "2026-11-29";

struct Person {
    id: i64,
    actor: Actor,
    read: Scope,
    powers: Powers,
}

struct World {
    school: i64,
    other_school: i64,
    principal: Person,
    safety: Person,
    staff: Person,
    centre: Person,
    outsider: Person,
}

async fn org(db: &Db, kind: OrgKind, code: &str, parent: Option<i64>) -> i64 {
    let school = (kind == OrgKind::School).then(|| SchoolFacts {
        school_type: SchoolType::Primary,
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
        .id
}

async fn person(db: &Db, login: &str, role: Role, org_id: i64) -> Person {
    let new = NewUser {
        login: Login::parse(login).unwrap(),
        display_name: Name::parse("display_name", login).unwrap(),
        org_id,
        password_hash: Some("x".into()),
        must_change_password: false,
        roles: vec![RoleAt { role, org_id }],
    };
    let u = users::create(
        db,
        &Actor::system("test"),
        &[Role::SystemAdmin],
        &Scope::everything(),
        new,
    )
    .await
    .unwrap()
    .0;
    let a = users::assignments(db, u.id).await.unwrap();
    Person {
        id: u.id,
        actor: Actor {
            user_id: Some(u.id),
            login: login.into(),
            ..Actor::default()
        },
        read: Scope::for_permission(&a, Permission::HazardRead),
        powers: Powers {
            user_id: u.id,
            manage: Scope::for_permission(&a, Permission::HazardManage),
            verify: Scope::for_permission(&a, Permission::HazardVerify),
        },
    }
}

async fn world(db: &Db) -> World {
    let bureau = org(db, OrgKind::Bureau, "B", None).await;
    let centre = org(db, OrgKind::Centre, "C1", Some(bureau)).await;
    let school = org(db, OrgKind::School, "S1", Some(centre)).await;
    let other_school = org(db, OrgKind::School, "S2", Some(bureau)).await;
    World {
        school,
        other_school,
        principal: person(db, "principal", Role::Principal, school).await,
        safety: person(db, "safety", Role::SafetyOfficer, school).await,
        staff: person(db, "staff", Role::Staff, school).await,
        centre: person(db, "centre", Role::CentreOfficer, centre).await,
        outsider: person(db, "outsider", Role::Principal, other_school).await,
    }
}

async fn photo(db: &Db, who: &Person, bytes: &str) -> i64 {
    let new = NewAttachment {
        stored_name: format!("{}-{}", who.id, rand_name()),
        original_name: "p.jpg".into(),
        mime: "image/jpeg".into(),
        size: 10,
        width: 1,
        height: 1,
        source_sha256: bytes.into(),
    };
    attachments::insert(db, &who.actor, who.id, new)
        .await
        .unwrap()
        .id
}

fn rand_name() -> String {
    format!("{:x}", rand::random::<u64>())
}

fn report(school: i64, location: &str, photos: Vec<i64>) -> NewHazard {
    NewHazard {
        school_id: school,
        category: Category::Buildings,
        grade: Grade::General,
        source: Source::Patrol,
        location: location.into(),
        title: "樓梯扶手鬆動".into(),
        description: "二樓東側樓梯扶手鬆動，有墜落風險".into(),
        found_by: "值班教師".into(),
        found_on: day(TODAY),
        attachments: photos,
    }
}

async fn step(
    db: &Db,
    w: &World,
    who: &Person,
    id: i64,
    action: Action,
) -> Result<hazards::Hazard, StoreError> {
    let _ = w;
    hazards::transition(
        db,
        &who.actor,
        &who.powers,
        &who.read,
        id,
        action,
        day(TODAY),
    )
    .await
}

fn register(owner: i64, deadline: &str) -> Action {
    Action::Register {
        owner_id: owner,
        measures: "加固扶手".into(),
        deadline: day(deadline),
        grade: None,
    }
}

async fn the_whole_loop(db: &Db) {
    let w = world(db).await;
    let before = photo(db, &w.staff, "aaa").await;
    let created = hazards::create(
        db,
        &w.staff.actor,
        w.staff.id,
        &w.staff.read,
        report(w.school, "教學樓二樓東側樓梯", vec![before]),
        day(TODAY),
    )
    .await
    .unwrap();
    let h = created.hazard;
    assert_eq!(h.status, Status::Reported);
    assert_eq!(h.number, "S1-2026-0001");
    // Staff cannot register; the safety officer can.
    assert!(matches!(
        step(db, &w, &w.staff, h.id, register(w.staff.id, "2026-12-10")).await,
        Err(StoreError::Forbidden(_))
    ));
    let h = step(db, &w, &w.safety, h.id, register(w.staff.id, "2026-12-10"))
        .await
        .unwrap();
    assert_eq!(h.status, Status::Registered);
    assert_eq!(h.owner.as_ref().unwrap().login, "staff");
    let h = step(db, &w, &w.staff, h.id, Action::Start).await.unwrap();
    assert_eq!(h.status, Status::Rectifying);
    let after = photo(db, &w.staff, "bbb").await;
    let h = step(
        db,
        &w,
        &w.staff,
        h.id,
        Action::Submit {
            note: "已加固".into(),
            attachments: vec![after],
        },
    )
    .await
    .unwrap();
    assert_eq!(h.status, Status::Submitted);
    // Verifying out of order is illegal; the owner may not verify their own work.
    assert!(matches!(
        step(db, &w, &w.staff, h.id, Action::Start).await,
        Err(StoreError::Illegal {
            from: "submitted",
            action: "start"
        })
    ));
    let h = step(
        db,
        &w,
        &w.principal,
        h.id,
        Action::SendBack {
            reason: "仍有晃動".into(),
        },
    )
    .await
    .unwrap();
    assert_eq!(h.status, Status::Rectifying);
    let again = photo(db, &w.staff, "ccc").await;
    step(
        db,
        &w,
        &w.staff,
        h.id,
        Action::Submit {
            note: "再次加固".into(),
            attachments: vec![again],
        },
    )
    .await
    .unwrap();
    let h = step(
        db,
        &w,
        &w.centre,
        h.id,
        Action::Verify {
            note: "驗收合格".into(),
        },
    )
    .await
    .unwrap();
    assert_eq!(h.status, Status::Closed);
    assert_eq!(h.verifier.as_ref().unwrap().login, "centre");
    assert!(h.closed_at.is_some());
    let history = hazards::history(db, &h).await.unwrap();
    let actions: Vec<&str> = history.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "report",
            "register",
            "start",
            "submit",
            "send_back",
            "submit",
            "verify"
        ]
    );
    assert_eq!(history[0].attachments.len(), 1);
    assert!(
        history
            .iter()
            .all(|e| e.attachments.iter().all(|a| !a.reused))
    );
    assert!(matches!(
        xiaoan_store::audit::verify(db).await.unwrap(),
        xiaoan_store::audit::Verification::Intact { .. }
    ));
}
both_backends!(the_whole_loop_t, the_whole_loop);

async fn the_rectifier_cannot_verify(db: &Db) {
    let w = world(db).await;
    let h = hazards::create(
        db,
        &w.safety.actor,
        w.safety.id,
        &w.safety.read,
        report(w.school, "食堂後門", vec![]),
        day(TODAY),
    )
    .await
    .unwrap()
    .hazard;
    step(db, &w, &w.safety, h.id, register(w.staff.id, "2026-12-10"))
        .await
        .unwrap();
    // The safety officer does the work themselves and then tries to close it.
    step(db, &w, &w.safety, h.id, Action::Start).await.unwrap();
    let p = photo(db, &w.safety, "ddd").await;
    step(
        db,
        &w,
        &w.safety,
        h.id,
        Action::Submit {
            note: "已修".into(),
            attachments: vec![p],
        },
    )
    .await
    .unwrap();
    let r = step(
        db,
        &w,
        &w.safety,
        h.id,
        Action::Verify { note: "ok".into() },
    )
    .await;
    assert!(matches!(
        r,
        Err(StoreError::Forbidden("verifier_is_rectifier"))
    ));
    let r = step(db, &w, &w.staff, h.id, Action::Verify { note: "ok".into() }).await;
    assert!(
        matches!(r, Err(StoreError::Forbidden(_))),
        "the owner may not verify either"
    );
    assert_eq!(
        hazards::get(db, &w.safety.read, h.id, day(TODAY))
            .await
            .unwrap()
            .status,
        Status::Submitted
    );
}
both_backends!(the_rectifier_cannot_verify_t, the_rectifier_cannot_verify);

async fn other_schools_see_nothing(db: &Db) {
    let w = world(db).await;
    let h = hazards::create(
        db,
        &w.staff.actor,
        w.staff.id,
        &w.staff.read,
        report(w.school, "操場", vec![]),
        day(TODAY),
    )
    .await
    .unwrap()
    .hazard;
    assert!(matches!(
        hazards::get(db, &w.outsider.read, h.id, day(TODAY)).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        step(
            db,
            &w,
            &w.outsider,
            h.id,
            Action::Dismiss { reason: "x".into() }
        )
        .await,
        Err(StoreError::NotFound)
    ));
    let page = hazards::list(
        db,
        &w.outsider.read,
        &HazardFilter::default(),
        None,
        50,
        day(TODAY),
    )
    .await
    .unwrap();
    assert!(page.items.is_empty());
    // Nor can a hazard be reported at a school outside one's scope, nor with someone else's photo.
    let r = hazards::create(
        db,
        &w.staff.actor,
        w.staff.id,
        &w.staff.read,
        report(w.other_school, "x", vec![]),
        day(TODAY),
    )
    .await;
    assert!(matches!(r, Err(StoreError::Invalid("hazard_school"))));
    let theirs = photo(db, &w.outsider, "eee").await;
    let r = hazards::create(
        db,
        &w.staff.actor,
        w.staff.id,
        &w.staff.read,
        report(w.school, "x", vec![theirs]),
        day(TODAY),
    )
    .await;
    assert!(matches!(r, Err(StoreError::Invalid("attachment_unknown"))));
    // The centre sees its school's hazard; the owner of an unrelated photo cannot read it via the hazard.
    assert!(
        hazards::get(db, &w.centre.read, h.id, day(TODAY))
            .await
            .is_ok()
    );
    assert!(
        attachments::get(db, w.outsider.id, &w.outsider.read, theirs)
            .await
            .is_ok()
    );
    assert!(matches!(
        attachments::get(db, w.staff.id, &w.staff.read, theirs).await,
        Err(StoreError::NotFound)
    ));
}
both_backends!(other_schools_see_nothing_t, other_schools_see_nothing);

async fn escalation_runs_without_anyone_acting(db: &Db) {
    let w = world(db).await;
    let late = hazards::create(
        db,
        &w.staff.actor,
        w.staff.id,
        &w.staff.read,
        report(w.school, "鍋爐房", vec![]),
        day(TODAY),
    )
    .await
    .unwrap()
    .hazard;
    step(db, &w, &w.safety, late.id, register(w.staff.id, TODAY))
        .await
        .unwrap();
    let mut major = report(w.school, "圍牆", vec![]);
    major.grade = Grade::Major;
    let major = hazards::create(
        db,
        &w.staff.actor,
        w.staff.id,
        &w.staff.read,
        major,
        day(TODAY),
    )
    .await
    .unwrap()
    .hazard;
    // Reported but not yet registered: no escalation even when major.
    assert_eq!(hazards::escalate(db, day(TODAY), 7).await.unwrap(), 0);
    step(
        db,
        &w,
        &w.safety,
        major.id,
        register(w.staff.id, "2027-01-31"),
    )
    .await
    .unwrap();
    // Next day: the late one goes to the centre, the major one is listed; a rerun changes nothing.
    assert_eq!(
        hazards::escalate(db, day("2026-11-30"), 7).await.unwrap(),
        2
    );
    assert_eq!(
        hazards::escalate(db, day("2026-11-30"), 7).await.unwrap(),
        0
    );
    let at = |id| hazards::get(db, &w.centre.read, id, day("2026-11-30"));
    assert_eq!(at(late.id).await.unwrap().escalation, 1);
    assert!(at(late.id).await.unwrap().overdue);
    assert_eq!(at(major.id).await.unwrap().escalation, 2);
    // Eight days late: listed for bureau supervision.
    assert_eq!(
        hazards::escalate(db, day("2026-12-08"), 7).await.unwrap(),
        1
    );
    assert_eq!(at(late.id).await.unwrap().escalation, 2);
    let f = HazardFilter {
        escalation_at_least: Some(2),
        open: true,
        ..Default::default()
    };
    assert_eq!(
        hazards::list(db, &w.centre.read, &f, None, 50, day("2026-12-08"))
            .await
            .unwrap()
            .items
            .len(),
        2
    );
    let history = hazards::history(db, &at(late.id).await.unwrap())
        .await
        .unwrap();
    assert_eq!(
        history
            .iter()
            .filter(|e| e.action == "escalate" || e.action == "list")
            .count(),
        2
    );
}
both_backends!(
    escalation_runs_without_anyone_acting_t,
    escalation_runs_without_anyone_acting
);

async fn duplicates_recurrences_and_reused_photos(db: &Db) {
    let w = world(db).await;
    let p1 = photo(db, &w.staff, "same-bytes").await;
    let first = hazards::create(
        db,
        &w.staff.actor,
        w.staff.id,
        &w.staff.read,
        report(w.school, "實驗樓 3F 走廊", vec![p1]),
        day(TODAY),
    )
    .await
    .unwrap();
    assert!(first.possible_duplicates.is_empty());
    let second = hazards::create(
        db,
        &w.staff.actor,
        w.staff.id,
        &w.staff.read,
        report(w.school, "實驗樓3f走廊", vec![]),
        day(TODAY),
    )
    .await
    .unwrap();
    assert_eq!(second.possible_duplicates, vec![first.hazard.id]);
    assert_eq!(second.hazard.number, "S1-2026-0002");
    step(
        db,
        &w,
        &w.safety,
        second.hazard.id,
        Action::Dismiss {
            reason: "重複上報".into(),
        },
    )
    .await
    .unwrap();
    // Close the first one with a photo whose bytes were used before: flagged.
    let id = first.hazard.id;
    step(db, &w, &w.safety, id, register(w.staff.id, "2026-12-05"))
        .await
        .unwrap();
    step(db, &w, &w.staff, id, Action::Start).await.unwrap();
    let p2 = photo(db, &w.staff, "same-bytes").await;
    let h = step(
        db,
        &w,
        &w.staff,
        id,
        Action::Submit {
            note: "done".into(),
            attachments: vec![p2],
        },
    )
    .await
    .unwrap();
    let history = hazards::history(db, &h).await.unwrap();
    assert!(
        history.last().unwrap().attachments[0].reused,
        "a photo re-used from the report is flagged"
    );
    step(
        db,
        &w,
        &w.principal,
        id,
        Action::Verify { note: "ok".into() },
    )
    .await
    .unwrap();
    // The same place again after close-out is a recurrence.
    let third = hazards::create(
        db,
        &w.staff.actor,
        w.staff.id,
        &w.staff.read,
        report(w.school, "實驗樓3F走廊", vec![]),
        day(TODAY),
    )
    .await
    .unwrap();
    assert!(third.possible_duplicates.is_empty());
    assert_eq!(third.hazard.recurrence_of, Some(id));
}
both_backends!(
    duplicates_recurrences_and_reused_photos_t,
    duplicates_recurrences_and_reused_photos
);

async fn lists_filter_page_and_count(db: &Db) {
    let w = world(db).await;
    let mut ids = vec![];
    for i in 0..7 {
        let mut r = report(w.school, &format!("教室{i}"), vec![]);
        if i % 2 == 0 {
            r.category = Category::FireHeating;
        }
        ids.push(
            hazards::create(db, &w.staff.actor, w.staff.id, &w.staff.read, r, day(TODAY))
                .await
                .unwrap()
                .hazard
                .id,
        );
    }
    step(db, &w, &w.safety, ids[0], register(w.staff.id, TODAY))
        .await
        .unwrap();
    let today = day("2026-12-01");
    let page1 = hazards::list(db, &w.centre.read, &HazardFilter::default(), None, 3, today)
        .await
        .unwrap();
    assert_eq!(
        page1.items.iter().map(|h| h.id).collect::<Vec<_>>(),
        vec![ids[6], ids[5], ids[4]]
    );
    let page2 = hazards::list(
        db,
        &w.centre.read,
        &HazardFilter::default(),
        page1.next_cursor.as_deref(),
        3,
        today,
    )
    .await
    .unwrap();
    assert_eq!(
        page2.items.iter().map(|h| h.id).collect::<Vec<_>>(),
        vec![ids[3], ids[2], ids[1]]
    );
    let page3 = hazards::list(
        db,
        &w.centre.read,
        &HazardFilter::default(),
        page2.next_cursor.as_deref(),
        3,
        today,
    )
    .await
    .unwrap();
    assert_eq!(page3.items.len(), 1);
    assert!(page3.next_cursor.is_none());
    let fire = HazardFilter {
        category: Some(Category::FireHeating),
        ..Default::default()
    };
    assert_eq!(
        hazards::list(db, &w.centre.read, &fire, None, 50, today)
            .await
            .unwrap()
            .items
            .len(),
        4
    );
    let overdue = HazardFilter {
        overdue: Some(true),
        ..Default::default()
    };
    assert_eq!(
        hazards::list(db, &w.centre.read, &overdue, None, 50, today)
            .await
            .unwrap()
            .items[0]
            .id,
        ids[0]
    );
    let text = HazardFilter {
        q: Some("教室3".into()),
        ..Default::default()
    };
    assert_eq!(
        hazards::list(db, &w.centre.read, &text, None, 50, today)
            .await
            .unwrap()
            .items[0]
            .id,
        ids[3]
    );
    let c = hazards::counts(db, &w.centre.read, &HazardFilter::default(), today)
        .await
        .unwrap();
    assert_eq!(
        c.by_status
            .iter()
            .find(|(s, _)| *s == Status::Reported)
            .unwrap()
            .1,
        6
    );
    assert_eq!(
        c.by_status
            .iter()
            .find(|(s, _)| *s == Status::Registered)
            .unwrap()
            .1,
        1
    );
    assert_eq!(c.overdue, 1);
}
both_backends!(lists_filter_page_and_count_t, lists_filter_page_and_count);
