//! Monitoring through the queue: a smoke alarm files its hazard and tells the school, a
//! laboratory's gas detector files under its own category, and the daily video round files
//! each uncovered key area once.

use super::*;

/// A smoke detector's alarm, without anyone acting: the principal told in the inbox, the
/// school's robot messaged, a hazard filed in the closed loop from the device alarm.
async fn a_smoke_alarm_files_a_hazard_and_tells_the_school(db: &Db) {
    use xiaoan_domain::iot::{DeviceKind, Overrides};
    use xiaoan_store::iot::{self, NewDevice, Payload, Record};
    let s = school(db).await;
    let (robot, url) = receiver(0).await;
    channel(
        db,
        &s,
        s.tree.school_a,
        "webhook",
        &url,
        Some("a-shared-secret-1234"),
    )
    .await;
    let (ctx, registry) = ctx(db, "node-1");
    let (device, _) = iot::create(
        db,
        &tree::actor_of(&s.safety),
        &Scope::everything(),
        &NewDevice {
            school_id: s.tree.school_a,
            code: "SMOKE-3F-01".into(),
            kind: DeviceKind::Smoke,
            location: "宿舍三樓走廊".into(),
            key_area: "dorm".into(),
            overrides: Overrides::default(),
            category: None,
        },
    )
    .await
    .unwrap();
    let now = now_millis();
    let smoke = Record {
        msg_id: "e-1".into(),
        ts: now,
        payload: Payload::Event {
            event: "smoke".into(),
            active: true,
            severity: None,
        },
    };
    iot::ingest(db, &device, &[smoke], 0, now).await.unwrap();
    drain(&ctx, &registry, now).await;
    let alarm = &iot::list_alarms(db, &Scope::everything(), iot::AlarmStatus::Open, None, 10)
        .await
        .unwrap()[0];
    let hazard_id = alarm.hazard_id.expect("a hazard filed for the alarm");
    let h = hazards::get(
        db,
        &Scope::everything(),
        hazard_id,
        xiaoan_domain::District::default().today(),
    )
    .await
    .unwrap();
    assert_eq!(h.source, Source::DeviceAlarm);
    assert!(h.location.contains("宿舍三樓走廊"), "{}", h.location);
    let inbox = notify::list_inbox(db, s.principal.id, false, None, 20)
        .await
        .unwrap();
    assert!(inbox.iter().any(|e| e.event == "alarm.fire"), "{inbox:?}");
    {
        let seen = robot.seen.lock().unwrap();
        assert!(
            seen.iter()
                .any(|m| m.body.contains("alarm.fire") && m.body.contains("SMOKE-3F-01")),
            "{:?}",
            seen.iter().map(|m| &m.body).collect::<Vec<_>>()
        );
    }
    // A laboratory's gas detector files its hazard under the category it was given.
    let (gas, _) = iot::create(
        db,
        &tree::actor_of(&s.safety),
        &Scope::everything(),
        &NewDevice {
            school_id: s.tree.school_a,
            code: "GAS-LAB-1".into(),
            kind: DeviceKind::Gas,
            location: "化學實驗室".into(),
            key_area: "lab".into(),
            overrides: Overrides::default(),
            category: Some(Category::LabChemicals),
        },
    )
    .await
    .unwrap();
    let leak = Record {
        msg_id: "g-1".into(),
        ts: now,
        payload: Payload::Event {
            event: "gas".into(),
            active: true,
            severity: None,
        },
    };
    iot::ingest(db, &gas, &[leak], 0, now).await.unwrap();
    drain(&ctx, &registry, now).await;
    let alarms = iot::list_alarms(db, &Scope::everything(), iot::AlarmStatus::Open, None, 10)
        .await
        .unwrap();
    let gas_alarm = alarms.iter().find(|a| a.device_id == gas.id).unwrap();
    let h = hazards::get(
        db,
        &Scope::everything(),
        gas_alarm.hazard_id.expect("a hazard for the gas alarm"),
        xiaoan_domain::District::default().today(),
    )
    .await
    .unwrap();
    assert_eq!(h.category, Category::LabChemicals);
}
xiaoan_testkit::both_backends!(
    smoke_alarm,
    a_smoke_alarm_files_a_hazard_and_tells_the_school
);

/// The daily video round: a school's camera leaves the canteen uncovered; the round files
/// that gap as a hazard in the district's words, once.
async fn the_video_round_files_each_gap_once(db: &Db) {
    use xiaoan_domain::iot::video::{KeyArea, Link};
    use xiaoan_domain::iot::{DeviceKind, Overrides};
    use xiaoan_store::iot::video::{self, CameraInfo};
    use xiaoan_store::iot::{self, NewDevice};
    let s = school(db).await;
    let (ctx, _) = ctx(db, "node-1");
    assert_eq!(xiaoan_jobs::kinds::check_video(&ctx).await.unwrap(), 0);
    let actor = tree::actor_of(&s.safety);
    let (camera, _) = iot::create(
        db,
        &actor,
        &Scope::everything(),
        &NewDevice {
            school_id: s.tree.school_a,
            code: "34020000001320000001".into(),
            kind: DeviceKind::Camera,
            location: "校門".into(),
            key_area: String::new(),
            overrides: Overrides::default(),
            category: None,
        },
    )
    .await
    .unwrap();
    let mut areas: Vec<KeyArea> = KeyArea::ALL.to_vec();
    areas.retain(|a| *a != KeyArea::Canteen);
    let info = CameraInfo {
        areas,
        police_link: Link::Linked,
        bureau_link: Link::Linked,
        retention_days: Some(30),
    };
    video::set_camera(db, &actor, &Scope::everything(), camera.id, &info)
        .await
        .unwrap();
    assert_eq!(xiaoan_jobs::kinds::check_video(&ctx).await.unwrap(), 1);
    assert_eq!(
        xiaoan_jobs::kinds::check_video(&ctx).await.unwrap(),
        0,
        "once"
    );
    let c = video::school_coverage(db, &Scope::everything(), s.tree.school_a)
        .await
        .unwrap();
    let h = hazards::get(
        db,
        &Scope::everything(),
        c.gap_hazards[0].hazard_id,
        xiaoan_domain::District::default().today(),
    )
    .await
    .unwrap();
    assert_eq!(h.category, Category::Security);
    assert!(h.title.contains("食堂操作間"), "{}", h.title);
}
xiaoan_testkit::both_backends!(video_round, the_video_round_files_each_gap_once);
