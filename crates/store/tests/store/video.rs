//! Video surveillance on both backends: a school's cameras and the key areas they cover
//! give its coverage; each uncovered area is filed as a hazard once; the video obligation's
//! record follows the inventory and a hand-entered one is refused; recorders keeping less
//! than the plan's minimum are counted; bad camera settings change nothing.

use serde_json::{Map, Value, json};
use xiaoan_domain::audit::Actor;
use xiaoan_domain::hazard::Category;
use xiaoan_domain::iot::video::{GapWords, KeyArea, Link};
use xiaoan_domain::iot::{DeviceKind, Overrides};
use xiaoan_domain::plan::parse;
use xiaoan_domain::{Role, Scope};
use xiaoan_store::iot::video::{self, CameraInfo, VideoWords};
use xiaoan_store::iot::{self, NewDevice};
use xiaoan_store::records::{self, NewRecord};
use xiaoan_store::{Db, StoreError, calendar, hazards, plans};
use xiaoan_testkit::{both_backends, tree};

async fn camera(db: &Db, school: i64, code: &str, kind: DeviceKind) -> i64 {
    let new = NewDevice {
        school_id: school,
        code: code.into(),
        kind,
        location: "校園".into(),
        key_area: String::new(),
        overrides: Overrides::default(),
        category: None,
    };
    iot::create(db, &Actor::system("test"), &Scope::everything(), &new)
        .await
        .unwrap()
        .0
        .id
}

fn info(areas: &[KeyArea], police: Link) -> CameraInfo {
    CameraInfo {
        areas: areas.to_vec(),
        police_link: police,
        bureau_link: Link::Linked,
        retention_days: Some(30),
    }
}

fn gap(a: KeyArea) -> GapWords {
    GapWords {
        title: format!("{} 未納入視頻監控", a.code()),
        description: "按攝像頭台賬未覆蓋。".into(),
        location: a.code().into(),
        found_by: "攝像頭台賬".into(),
    }
}

async fn computed(db: &Db, school: i64) -> Vec<Value> {
    let filter = records::RecordFilter {
        org_id: Some(school),
        kinds: vec![video::VIDEO_RECORD_KIND.into()],
        limit: 100,
        ..records::RecordFilter::default()
    };
    records::list(db, &Scope::everything(), &filter)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.fields)
        .collect()
}

async fn gaps_are_filed_once_and_the_record_follows_the_inventory(db: &Db) {
    let t = tree::Tree::create(db).await;
    let officer = tree::role_user(db, "a.safety", Role::SafetyOfficer, t.school_a).await;
    let admin = Actor::system("test");
    let seed = include_str!("../../../../plans/edu-safety-3yr.toml");
    let plan = plans::load(db, &admin, &parse(seed).unwrap(), seed)
        .await
        .unwrap()
        .plan()
        .clone();
    let scope = Scope::everything();
    let today = chrono::Utc::now().date_naive();
    let words = VideoWords {
        gap: &gap,
        record_note: "由攝像頭台賬自動計算。".into(),
    };
    // No cameras: nothing to check, nothing filed.
    let none = video::check_video(db, t.school_a, &words, today)
        .await
        .unwrap();
    assert!(none.filed.is_empty() && none.record_id.is_none());

    let gate = camera(db, t.school_a, "34020000001320000001", DeviceKind::Camera).await;
    let yard = camera(db, t.school_a, "34020000001320000002", DeviceKind::Camera).await;
    let sensor = camera(db, t.school_a, "T-1", DeviceKind::Temperature).await;
    let entrance = [
        KeyArea::OutsideGate,
        KeyArea::MainEntrance,
        KeyArea::GateRoom,
    ];
    video::set_camera(db, &admin, &scope, gate, &info(&entrance, Link::Linked))
        .await
        .unwrap();
    let inside = [
        KeyArea::GatheringArea,
        KeyArea::TeachingArea,
        KeyArea::HiddenSpots,
    ];
    let k = video::set_camera(db, &admin, &scope, yard, &info(&inside, Link::Down))
        .await
        .unwrap();
    assert_eq!(k.areas, inside);
    assert_eq!(k.police_link, Link::Down);

    // Bad settings change nothing.
    let e = video::set_camera(db, &admin, &scope, sensor, &info(&entrance, Link::Linked)).await;
    assert!(
        matches!(e, Err(StoreError::Invalid("camera_kind"))),
        "{e:?}"
    );
    let long = CameraInfo {
        retention_days: Some(0),
        ..info(&[], Link::Never)
    };
    let e = video::set_camera(db, &admin, &scope, yard, &long).await;
    assert!(
        matches!(e, Err(StoreError::Invalid("camera_retention"))),
        "{e:?}"
    );
    assert_eq!(
        video::get_camera(db, &scope, yard).await.unwrap().areas,
        inside
    );

    // A primary school with a canteen: the canteen is the gap, one camera is not linked.
    let c = video::school_coverage(db, &scope, t.school_a)
        .await
        .unwrap();
    assert_eq!(c.coverage.gaps, vec![KeyArea::Canteen]);
    assert_eq!(c.coverage.unlinked_police, 1);
    assert_eq!(c.cameras.len(), 2, "the temperature sensor is no camera");
    assert_eq!(c.min_retention_days, Some(30), "the plan's parameter");
    assert_eq!(c.coverage.short_retention, 0);

    // The check files the gap once and writes the record from the inventory; two checks
    // at once (a button pressed while the daily round runs) file one hazard and one record.
    let (a, b) = tokio::join!(
        video::check_video(db, t.school_a, &words, today),
        video::check_video(db, t.school_a, &words, today)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.filed.len() + b.filed.len(), 1, "{a:?} {b:?}");
    let records = [&a, &b].iter().filter(|x| x.record_id.is_some()).count();
    assert_eq!(records, 1, "one record between them: {a:?} {b:?}");
    let first = if a.filed.is_empty() { b } else { a };
    let hazards_now: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM hazards")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(hazards_now, 1, "the losing check rolled its hazard back");
    let video::FiledGap { area, hazard_id } = first.filed[0];
    assert_eq!(area, KeyArea::Canteen);
    let h = hazards::get(db, &scope, hazard_id, today).await.unwrap();
    assert_eq!((h.school_id, h.category), (t.school_a, Category::Security));
    assert_eq!(
        computed(db, t.school_a).await,
        vec![json!({"key_areas_covered": false, "linked_to_police": false, "cameras_online": 0})]
    );
    let again = video::check_video(db, t.school_a, &words, today)
        .await
        .unwrap();
    assert_eq!(
        again,
        video::VideoChecked::default(),
        "a rerun changes nothing"
    );
    let c = video::school_coverage(db, &scope, t.school_a)
        .await
        .unwrap();
    assert_eq!(c.gap_hazards.len(), 1);
    assert_eq!(c.gap_hazards[0].hazard_id, hazard_id);

    // A hand-entered record would contradict the inventory.
    let calendar = calendar::load(db).await.unwrap();
    let mut fields = Map::new();
    fields.insert("key_areas_covered".into(), json!(true));
    fields.insert("linked_to_police".into(), json!(true));
    let e = records::create(
        db,
        &tree::actor_of(&officer),
        &[t.school_a],
        &plan,
        &calendar,
        NewRecord {
            org_id: t.school_a,
            kind: video::VIDEO_RECORD_KIND.into(),
            occurred_on: today,
            fields,
            note: String::new(),
            attachment_ids: vec![],
        },
        today,
    )
    .await;
    assert!(
        matches!(e, Err(StoreError::Invalid("record_computed"))),
        "{e:?}"
    );

    // The canteen gets a camera and the yard's link is repaired: covered and linked.
    let kitchen = camera(db, t.school_a, "34020000001320000003", DeviceKind::Camera).await;
    let week = CameraInfo {
        retention_days: Some(7),
        ..info(&[KeyArea::Canteen], Link::Linked)
    };
    video::set_camera(db, &admin, &scope, kitchen, &week)
        .await
        .unwrap();
    video::set_camera(db, &admin, &scope, yard, &info(&inside, Link::Linked))
        .await
        .unwrap();
    let c = video::school_coverage(db, &scope, t.school_a)
        .await
        .unwrap();
    assert!(
        c.coverage.complete() && c.coverage.linked(),
        "{:?}",
        c.coverage
    );
    assert_eq!(
        c.coverage.short_retention, 1,
        "a week of video is under 30 days"
    );
    let fixed = video::check_video(db, t.school_a, &words, today)
        .await
        .unwrap();
    assert!(fixed.filed.is_empty() && fixed.record_id.is_some());
    let all = computed(db, t.school_a).await;
    assert_eq!(all.len(), 2);
    assert!(
        all.contains(
            &json!({"key_areas_covered": true, "linked_to_police": true, "cameras_online": 0})
        ),
        "{all:?}"
    );

    // Retiring the canteen camera opens the gap again, but its hazard is still open.
    iot::retire(db, &admin, &scope, kitchen).await.unwrap();
    let after = video::check_video(db, t.school_a, &words, today)
        .await
        .unwrap();
    assert!(after.filed.is_empty());
    assert!(after.record_id.is_some(), "the record says the gap again");
    assert_eq!(
        video::video_schools(db, &scope).await.unwrap(),
        vec![t.school_a]
    );
    // What the home page counts: three devices in service, none heard from, one gap open.
    let n = iot::monitoring_counts(db, &scope).await.unwrap();
    assert_eq!(
        (n.devices, n.offline, n.active, n.unacked, n.video_gaps),
        (3, 3, 0, 0, 1)
    );
    let elsewhere = Scope::subtree(
        &xiaoan_store::orgs::get(db, &scope, t.school_b)
            .await
            .unwrap()
            .path,
    );
    assert_eq!(
        iot::monitoring_counts(db, &elsewhere).await.unwrap(),
        iot::MonitoringCounts::default()
    );
}
both_backends!(
    video_gaps_are_filed_once_and_the_record_follows_the_inventory,
    gaps_are_filed_once_and_the_record_follows_the_inventory
);
