//! The hazard closed loop in the store: reporting, every step, who may take it, and scope;
//! the fixtures other hazard tests share.

use chrono::NaiveDate;
use xiaoan_domain::audit::Actor;
use xiaoan_domain::hazard::{Action, Category, Grade, Source, Status};
use xiaoan_domain::{OrgKind, Permission, Role, Scope};
use xiaoan_store::attachments::{self, NewAttachment};
use xiaoan_store::hazards::{self, HazardFilter, NewHazard, Powers};
use xiaoan_store::users;
use xiaoan_store::{Db, StoreError};
use xiaoan_testkit::{both_backends, tree};

pub(crate) fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

pub(crate) const TODAY: &str = "2026-11-29";

pub(crate) struct Person {
    pub(crate) id: i64,
    pub(crate) actor: Actor,
    pub(crate) read: Scope,
    pub(crate) powers: Powers,
}

pub(crate) struct World {
    pub(crate) school: i64,
    pub(crate) other_school: i64,
    pub(crate) principal: Person,
    pub(crate) safety: Person,
    pub(crate) staff: Person,
    pub(crate) centre: Person,
    pub(crate) outsider: Person,
}

pub(crate) async fn org(db: &Db, kind: OrgKind, code: &str, parent: Option<i64>) -> i64 {
    tree::org(db, kind, code, parent).await.id
}

pub(crate) async fn person(db: &Db, login: &str, role: Role, org_id: i64) -> Person {
    let u = tree::role_user(db, login, role, org_id).await;
    let a = users::assignments(db, u.id).await.unwrap();
    Person {
        id: u.id,
        actor: tree::actor_of(&u),
        read: Scope::for_permission(&a, Permission::HazardRead),
        powers: Powers {
            user_id: u.id,
            manage: Scope::for_permission(&a, Permission::HazardManage),
            verify: Scope::for_permission(&a, Permission::HazardVerify),
        },
    }
}

pub(crate) async fn world(db: &Db) -> World {
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

pub(crate) async fn photo(db: &Db, who: &Person, bytes: &str) -> i64 {
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

pub(crate) fn rand_name() -> String {
    format!("{:x}", rand::random::<u64>())
}

pub(crate) fn report(school: i64, location: &str, photos: Vec<i64>) -> NewHazard {
    NewHazard {
        school_id: school,
        category: Category::Buildings,
        grade: Grade::General,
        source: Source::Patrol,
        location: xiaoan_domain::text::Text::line("location", location, 100).expect("location"),
        title: xiaoan_domain::text::Text::line("title", "樓梯扶手鬆動", 100).expect("title"),
        description: xiaoan_domain::text::Text::lines(
            "description",
            "二樓東側樓梯扶手鬆動，有墜落風險",
            2000,
        )
        .expect("description"),
        found_by: xiaoan_domain::text::Name::parse("found_by", "值班教師").expect("found_by"),
        found_on: day(TODAY),
        attachments: photos,
    }
}

pub(crate) async fn step(
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

pub(crate) fn register(owner: i64, deadline: &str) -> Action {
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

/// Two managers move the plan deadline at the same moment: the rule "the new deadline must be
/// later" is judged on what each step reads inside its own transaction, so of two identical
/// steps exactly one is taken, whatever the interleaving; the other is refused (a lost race,
/// or the deadline is no longer later) and leaves no trace.
async fn concurrent_steps_are_judged_one_at_a_time(db: &Db) {
    let w = world(db).await;
    let h = hazards::create(
        db,
        &w.staff.actor,
        w.staff.id,
        &w.staff.read,
        report(w.school, "圍牆東段", vec![]),
        day(TODAY),
    )
    .await
    .unwrap()
    .hazard;
    step(db, &w, &w.safety, h.id, register(w.staff.id, "2026-12-10"))
        .await
        .unwrap();
    let plan = |deadline: &str| Action::Plan {
        interim_measures: "設置圍欄與警示牌".into(),
        deadline: day(deadline),
    };
    let deadlines = ["2027-01-31", "2027-02-28", "2027-03-31", "2027-04-30"];
    for deadline in deadlines {
        let (a, b) = tokio::join!(
            step(db, &w, &w.safety, h.id, plan(deadline)),
            step(db, &w, &w.principal, h.id, plan(deadline)),
        );
        let (won, lost) = match (a, b) {
            (Ok(h), Err(e)) | (Err(e), Ok(h)) => (h, e),
            (a, b) => panic!("exactly one of two identical steps is taken: {a:?} / {b:?}"),
        };
        assert_eq!(won.deadline, Some(day(deadline)));
        assert!(
            matches!(
                lost,
                StoreError::Conflict("hazard_changed") | StoreError::Invalid("plan_deadline_later")
            ),
            "{lost:?}"
        );
    }
    let h = hazards::get(db, &w.safety.read, h.id, day(TODAY))
        .await
        .unwrap();
    assert_eq!(h.deadline, Some(day("2027-04-30")));
    assert!(h.on_plan);
    let plans = hazards::history(db, &h)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "plan")
        .count();
    assert_eq!(plans, deadlines.len(), "one history entry per step taken");
}
both_backends!(
    concurrent_steps_are_judged_one_at_a_time_t,
    concurrent_steps_are_judged_one_at_a_time
);
