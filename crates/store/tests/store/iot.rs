//! IoT monitoring on both backends: a threshold raises one alarm after three readings and
//! clears below the lower level, with both in the history; silence raises "no data" on the
//! timer; a smoke event raises an urgent alarm, tells the school and queues its hazard;
//! duplicates and retired devices change nothing; two ingest connections racing never open
//! two alarms; rule state survives a reconnect.

use xiaoan_domain::Scope;
use xiaoan_domain::audit::Actor;
use xiaoan_domain::iot::{AlarmType, CloseReason, Condition, DeviceKind, Overrides};
use xiaoan_store::iot::{self, AlarmStatus, Device, NewDevice, Payload, Record};
use xiaoan_store::{Db, StoreError};
use xiaoan_testkit::{both_backends, tree};

async fn device(db: &Db, kind: DeviceKind, code: &str) -> (Device, String) {
    let t = tree::Tree::create(db).await;
    let new = NewDevice {
        school_id: t.school_a,
        code: code.into(),
        kind,
        location: "學生宿舍三樓".into(),
        key_area: "dorm".into(),
        overrides: Overrides::default(),
        category: None,
    };
    iot::create(db, &Actor::system("test"), &Scope::everything(), &new)
        .await
        .unwrap()
}

fn temp(id: &str, ts: i64, v: f64) -> Record {
    Record {
        msg_id: id.into(),
        ts,
        payload: Payload::Telemetry(vec![("temp_c".into(), v)]),
    }
}

fn smoke(id: &str, ts: i64, active: bool) -> Record {
    Record {
        msg_id: id.into(),
        ts,
        payload: Payload::Event {
            event: "smoke".into(),
            active,
            severity: None,
        },
    }
}

async fn alarms(db: &Db, status: AlarmStatus) -> Vec<iot::Alarm> {
    iot::list_alarms(db, &Scope::everything(), status, None, 100)
        .await
        .unwrap()
}

async fn threshold_raises_once_and_clears_with_history(db: &Db) {
    let (d, secret) = device(db, DeviceKind::Temperature, "T-301").await;
    assert!(secret.starts_with("xd_"));
    assert_eq!(
        iot::by_secret(db, &secret).await.unwrap().map(|x| x.id),
        Some(d.id)
    );
    let now = xiaoan_domain::now_millis();
    let values = [58.0, 61.0, 62.0, 63.0, 64.0, 57.0, 54.0];
    for (i, v) in values.iter().enumerate() {
        let r = temp(&format!("m{i}"), now + i as i64, *v);
        iot::ingest(db, &d, &[r], 0, now).await.unwrap();
    }
    let all = alarms(db, AlarmStatus::All).await;
    assert_eq!(all.len(), 1, "{all:?}");
    let a = &all[0];
    assert_eq!(a.alarm_type, AlarmType::OverTemperature);
    assert_eq!(a.condition, Condition::Cleared);
    assert_eq!((a.trigger_value, a.peak_value), (Some(63.0), Some(64.0)));
    let history: Vec<String> = iot::alarm_events(db, a.id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(history, ["raised", "cleared"]);
    // The same messages again: duplicates, nothing new.
    let again = iot::ingest(db, &d, &[temp("m3", now + 3, 90.0)], 0, now)
        .await
        .unwrap();
    assert_eq!((again.accepted, again.duplicates), (0, 1));
    let readings = iot::readings(db, d.id, 0, i64::MAX, 100).await.unwrap();
    assert_eq!(readings.len(), values.len());
    // Closing needs an acknowledgement first; then it closes, and a new crossing is a new alarm.
    let actor = Actor::system("duty");
    let e = iot::close(
        db,
        &actor,
        &Scope::everything(),
        a.id,
        CloseReason::Resolved,
        "",
    )
    .await
    .unwrap_err();
    assert!(
        matches!(e, StoreError::Conflict("alarm_not_acked")),
        "{e:?}"
    );
    iot::ack(db, &actor, &Scope::everything(), a.id, "值班老師已到場")
        .await
        .unwrap();
    let closed = iot::close(
        db,
        &actor,
        &Scope::everything(),
        a.id,
        CloseReason::Resolved,
        "",
    )
    .await
    .unwrap();
    assert!(closed.closed);
    for (i, v) in [70.0, 71.0, 72.0].iter().enumerate() {
        iot::ingest(
            db,
            &d,
            // A minute apart, as a sensor reports: a climb, not a rate-of-rise.
            &[temp(&format!("n{i}"), now + (10 + i as i64) * 60_000, *v)],
            0,
            now,
        )
        .await
        .unwrap();
    }
    assert_eq!(alarms(db, AlarmStatus::Open).await.len(), 1);
    assert_eq!(alarms(db, AlarmStatus::All).await.len(), 2);
}
both_backends!(
    a_threshold_raises_once_and_clears_with_its_history,
    threshold_raises_once_and_clears_with_history
);

async fn silence_raises_no_data_on_the_timer(db: &Db) {
    let (d, _) = device(db, DeviceKind::Temperature, "T-302").await;
    let now = xiaoan_domain::now_millis();
    iot::ingest(db, &d, &[temp("a", now, 20.0)], 0, now)
        .await
        .unwrap();
    assert_eq!(iot::sweep_no_data(db, now + 60_000).await.unwrap(), 0);
    // 31 minutes later without a message: "no data", offline, raised once.
    let later = now + 31 * 60_000;
    assert_eq!(iot::sweep_no_data(db, later).await.unwrap(), 1);
    assert_eq!(iot::sweep_no_data(db, later + 60_000).await.unwrap(), 0);
    let open = alarms(db, AlarmStatus::Active).await;
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].alarm_type, AlarmType::NoData);
    let d = iot::get(db, &Scope::everything(), d.id).await.unwrap();
    assert!(!d.online);
    // It reports again: the alarm clears.
    iot::ingest(db, &d, &[temp("b", later, 20.0)], 0, later)
        .await
        .unwrap();
    assert!(alarms(db, AlarmStatus::Active).await.is_empty());
}
both_backends!(
    silence_raises_no_data_without_a_message,
    silence_raises_no_data_on_the_timer
);

async fn smoke_alarm_tells_the_school_and_queues_its_hazard(db: &Db) {
    let (d, _) = device(db, DeviceKind::Smoke, "S-1").await;
    let now = xiaoan_domain::now_millis();
    let smoke = |id: &str, active| smoke(id, now, active);
    // A burst of the same event: one alarm, counted.
    for i in 0..5 {
        iot::ingest(db, &d, &[smoke(&format!("s{i}"), true)], 0, now)
            .await
            .unwrap();
    }
    let open = alarms(db, AlarmStatus::Open).await;
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].occurrences, 5);
    let (event, jobs): (String, i64) = sqlx::query_as(
        "SELECT (SELECT event FROM notifications WHERE object_kind = 'alarm'), \
         (SELECT COUNT(*) FROM jobs WHERE kind = 'iot.hazard')",
    )
    .fetch_one(db.pool())
    .await
    .unwrap();
    assert_eq!((event.as_str(), jobs), ("alarm.fire", 1));
    // An event the kind does not report is refused, nothing written.
    let bad = Record {
        msg_id: "x".into(),
        ts: now,
        payload: Payload::Event {
            event: "flood".into(),
            active: true,
            severity: None,
        },
    };
    let e = iot::ingest(db, &d, &[smoke("s9", true), bad], 0, now)
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Invalid("ingest_event")));
    assert_eq!(alarms(db, AlarmStatus::Open).await[0].occurrences, 5);
    // A retired device is refused.
    let d = iot::retire(db, &Actor::system("t"), &Scope::everything(), d.id)
        .await
        .unwrap();
    assert!(matches!(
        iot::ingest(db, &d, &[smoke("s10", true)], 0, now).await,
        Err(StoreError::Conflict("device_retired"))
    ));
}
both_backends!(
    a_smoke_alarm_tells_the_school_and_queues_its_hazard,
    smoke_alarm_tells_the_school_and_queues_its_hazard
);

async fn racing_ingest_never_opens_two_alarms(db: &Db) {
    let (d, _) = device(db, DeviceKind::Gas, "G-1").await;
    let now = xiaoan_domain::now_millis();
    let mut tasks = Vec::new();
    for w in 0..4 {
        let (db, d) = (db.clone(), d.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..10 {
                let r = Record {
                    msg_id: format!("w{w}-{i}"),
                    ts: now,
                    payload: Payload::Telemetry(vec![("lel_pct".into(), 30.0 + f64::from(i))]),
                };
                iot::ingest(&db, &d, &[r], 0, now).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let open = alarms(db, AlarmStatus::Open).await;
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0].occurrences, 40);
    // The rule's state is in the database: a new connection continues where it was.
    let fresh = Db::connect(&db_url(db).await).await.unwrap();
    let r = Record {
        msg_id: "after".into(),
        ts: now,
        payload: Payload::Telemetry(vec![("lel_pct".into(), 10.0)]),
    };
    iot::ingest(&fresh, &d, &[r], 0, now).await.unwrap();
    assert_eq!(
        alarms(db, AlarmStatus::Active).await.len(),
        0,
        "cleared, not re-raised"
    );
    let raised: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM alarm_events WHERE action = 'raised'")
            .fetch_one(db.pool())
            .await
            .unwrap();
    assert_eq!(raised, 1);
}
both_backends!(
    racing_ingest_never_opens_two_alarms_t,
    racing_ingest_never_opens_two_alarms
);

/// The URL of `db`'s database, for a second connection.
async fn db_url(db: &Db) -> String {
    match db.backend() {
        xiaoan_store::Backend::Sqlite => {
            let file: String =
                sqlx::query_scalar("SELECT file FROM pragma_database_list WHERE name = 'main'")
                    .fetch_one(db.pool())
                    .await
                    .unwrap();
            format!("sqlite://{file}")
        }
        xiaoan_store::Backend::Postgres => {
            let name: String = sqlx::query_scalar("SELECT CAST(current_database() AS TEXT)")
                .fetch_one(db.pool())
                .await
                .unwrap();
            let admin = xiaoan_testkit::db::pg_admin_url();
            let base = admin
                .rsplit_once('/')
                .map_or(admin.as_str(), |(b, _)| b)
                .to_string();
            format!("{base}/{name}")
        }
    }
}

async fn notified(db: &Db, event: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM notifications WHERE object_kind = 'alarm' AND event = $1",
    )
    .bind(event.to_string())
    .fetch_one(db.pool())
    .await
    .unwrap()
}

async fn unacknowledged_alarms_are_repeated_and_escalated(db: &Db) {
    let (d, _) = device(db, DeviceKind::Temperature, "T-401").await;
    let now = xiaoan_domain::now_millis();
    let hot: Vec<Record> = (0..3)
        .map(|i| temp(&format!("h{i}"), now + i, 70.0))
        .collect();
    iot::ingest(db, &d, &hot, 0, now).await.unwrap();
    assert_eq!(notified(db, "alarm.raised").await, 1);
    let p = xiaoan_domain::iot::Escalation::default();
    let min = 60_000;
    // Too early for anything; then a reminder; then the centre; then the bureau.
    assert_eq!(
        iot::escalate(db, &p, now + 5 * min).await.unwrap(),
        iot::Escalated::default()
    );
    let r = iot::escalate(db, &p, now + 10 * min).await.unwrap();
    assert_eq!(r.reminded, 1);
    assert_eq!(notified(db, "alarm.unacked").await, 1);
    // The same round again (a second node) tells nobody twice.
    assert_eq!(
        iot::escalate(db, &p, now + 10 * min)
            .await
            .unwrap()
            .reminded,
        0
    );
    assert_eq!(
        iot::escalate(db, &p, now + 15 * min)
            .await
            .unwrap()
            .escalated,
        1
    );
    assert_eq!(notified(db, "alarm.escalated.centre").await, 1);
    assert_eq!(
        iot::escalate(db, &p, now + 61 * min)
            .await
            .unwrap()
            .escalated,
        1
    );
    assert_eq!(notified(db, "alarm.escalated.bureau").await, 1);
    let a = &alarms(db, AlarmStatus::Open).await[0];
    assert_eq!(a.level, 2);
    let steps: Vec<String> = iot::alarm_events(db, a.id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(steps, ["raised", "reminded", "escalated", "escalated"]);
    // Acknowledged: nothing more, however long it stays open.
    iot::ack(db, &Actor::system("t"), &Scope::everything(), a.id, "on it")
        .await
        .unwrap();
    assert_eq!(
        iot::escalate(db, &p, now + 600 * min).await.unwrap(),
        iot::Escalated::default()
    );
}
both_backends!(
    unacknowledged_alarms_are_repeated_and_escalated_t,
    unacknowledged_alarms_are_repeated_and_escalated
);

async fn a_silence_holds_notifications_until_it_ends(db: &Db) {
    let (d, _) = device(db, DeviceKind::Smoke, "S-401").await;
    let now = xiaoan_domain::now_millis();
    let actor = Actor::system("t");
    let all = Scope::everything();
    let new = |starts_at, ends_at| iot::NewSilence {
        school_id: d.school_id,
        device_id: Some(d.id),
        reason: xiaoan_domain::iot::SilenceReason::Drill,
        note: "消防演練".into(),
        starts_at,
        ends_at,
    };
    // Bad windows are refused, nothing written.
    for (w, code) in [
        ((now + 3_600_000, now + 3_600_000), "silence_window"),
        ((now - 7_200_000, now - 3_600_000), "silence_past"),
        ((now, now + 8 * 86_400_000), "silence_too_long"),
    ] {
        let e = iot::create_silence(db, &actor, &all, &new(w.0, w.1))
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::Invalid(c) if c == code), "{e:?}");
    }
    let s = iot::create_silence(db, &actor, &all, &new(now - 1000, now + 3_600_000))
        .await
        .unwrap();
    let smoke = smoke("d1", now, true);
    iot::ingest(db, &d, &[smoke], 0, now).await.unwrap();
    // On the board, but nobody told and no hazard filed while the drill lasts.
    let a = &alarms(db, AlarmStatus::Open).await[0];
    assert!(a.silenced_until.is_some());
    assert_eq!(notified(db, "alarm.fire").await, 0);
    let p = xiaoan_domain::iot::Escalation::default();
    assert_eq!(
        iot::escalate(db, &p, now + 60_000).await.unwrap(),
        iot::Escalated::default()
    );
    // The drill ends early with the smoke still there: told now, hazard queued.
    iot::end_silence(db, &actor, &all, s.id).await.unwrap();
    assert!(matches!(
        iot::end_silence(db, &actor, &all, s.id).await,
        Err(StoreError::Conflict("silence_over"))
    ));
    let later = xiaoan_domain::now_millis() + 1;
    assert_eq!(iot::escalate(db, &p, later).await.unwrap().released, 1);
    assert_eq!(notified(db, "alarm.fire").await, 1);
    let jobs: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE kind = 'iot.hazard'")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(jobs, 1);
    assert!(
        iot::list_silences(db, &all, None, false)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        iot::list_silences(db, &all, None, true)
            .await
            .unwrap()
            .len(),
        1
    );
}
both_backends!(
    a_silence_holds_notifications_until_it_ends_t,
    a_silence_holds_notifications_until_it_ends
);

async fn a_changed_threshold_takes_effect(db: &Db) {
    let (d, _) = device(db, DeviceKind::Temperature, "T-303").await;
    let actor = Actor::system("t");
    let all = Scope::everything();
    let change = |raise_above, clear_below| iot::DeviceChange {
        location: "廚房".into(),
        key_area: "canteen".into(),
        category: Some(xiaoan_domain::hazard::Category::CanteenFood),
        overrides: Overrides {
            raise_above: Some(raise_above),
            clear_below: Some(clear_below),
            ..Overrides::default()
        },
    };
    // A clear level above the raise level is refused; nothing changes.
    let e = iot::update(db, &actor, &all, d.id, &change(40.0, 45.0)).await;
    assert!(
        matches!(e, Err(StoreError::Invalid("device_hysteresis"))),
        "{e:?}"
    );
    assert_eq!(iot::get(db, &all, d.id).await.unwrap().location, d.location);
    let moved = iot::update(db, &actor, &all, d.id, &change(40.0, 35.0))
        .await
        .unwrap();
    assert_eq!(
        (moved.location.as_str(), moved.category),
        ("廚房", Some(xiaoan_domain::hazard::Category::CanteenFood))
    );
    // Three readings at 45 °C: over the new level (the kind's default is 60).
    let now = xiaoan_domain::now_millis();
    let records: Vec<Record> = (0..3)
        .map(|i| temp(&format!("c{i}"), now + i, 45.0))
        .collect();
    iot::ingest(db, &moved, &records, 0, now).await.unwrap();
    assert_eq!(alarms(db, AlarmStatus::Active).await.len(), 1);
    iot::retire(db, &actor, &all, d.id).await.unwrap();
    let e = iot::update(db, &actor, &all, d.id, &change(40.0, 35.0)).await;
    assert!(
        matches!(e, Err(StoreError::Conflict("device_retired"))),
        "{e:?}"
    );
}
both_backends!(
    a_changed_threshold_takes_effect_t,
    a_changed_threshold_takes_effect
);

async fn ending_one_of_two_silences_keeps_the_other(db: &Db) {
    let (d, _) = device(db, DeviceKind::Smoke, "S-402").await;
    let now = xiaoan_domain::now_millis();
    let actor = Actor::system("t");
    let all = Scope::everything();
    let silence = |device_id, reason, ends_at| iot::NewSilence {
        school_id: d.school_id,
        device_id,
        reason,
        note: String::new(),
        starts_at: now - 1000,
        ends_at,
    };
    use xiaoan_domain::iot::SilenceReason::{Drill, Maintenance};
    let drill = iot::create_silence(
        db,
        &actor,
        &all,
        &silence(Some(d.id), Drill, now + 3_600_000),
    )
    .await
    .unwrap();
    let works = silence(None, Maintenance, now + 7_200_000);
    let works = iot::create_silence(db, &actor, &all, &works).await.unwrap();
    let smoke = smoke("o1", now, true);
    iot::ingest(db, &d, &[smoke], 0, now).await.unwrap();
    // The drill ends early, the school's maintenance goes on: still held.
    iot::end_silence(db, &actor, &all, drill.id).await.unwrap();
    let p = xiaoan_domain::iot::Escalation::default();
    let later = xiaoan_domain::now_millis() + 1;
    assert_eq!(iot::escalate(db, &p, later).await.unwrap().released, 0);
    assert_eq!(notified(db, "alarm.fire").await, 0);
    let a = &alarms(db, AlarmStatus::Open).await[0];
    assert_eq!(a.silenced_until, Some(works.ends_at));
    // The maintenance ends too: told now.
    iot::end_silence(db, &actor, &all, works.id).await.unwrap();
    let later = xiaoan_domain::now_millis() + 1;
    assert_eq!(iot::escalate(db, &p, later).await.unwrap().released, 1);
    assert_eq!(notified(db, "alarm.fire").await, 1);
}
both_backends!(
    ending_one_of_two_silences_keeps_the_other_t,
    ending_one_of_two_silences_keeps_the_other
);

async fn a_round_of_many_devices_is_written_at_once(db: &Db) {
    let t = tree::Tree::create(db).await;
    let at = |school_id, code: &str| NewDevice {
        school_id,
        code: code.into(),
        kind: DeviceKind::Temperature,
        location: "廚房".into(),
        key_area: String::new(),
        overrides: Overrides::default(),
        category: None,
    };
    let actor = Actor::system("test");
    let all = Scope::everything();
    let (a, _) = iot::create(db, &actor, &all, &at(t.school_a, "T-501"))
        .await
        .unwrap();
    let (b, _) = iot::create(db, &actor, &all, &at(t.school_b, "T-502"))
        .await
        .unwrap();
    let now = xiaoan_domain::now_millis();
    iot::ingest(db, &a, &[temp("x1", now - 60_000, 20.0)], 0, now)
        .await
        .unwrap();
    // a: one repeat from before, one repeated within the round, and a rise of 30 °C in a
    // minute; b: three readings over 60 °C.
    let ra = vec![
        temp("x1", now - 60_000, 20.0),
        temp("x2", now, 50.0),
        temp("x2", now, 50.0),
    ];
    let rb: Vec<Record> = (0..3)
        .map(|i| temp(&format!("y{i}"), now + i, 65.0))
        .collect();
    let out = iot::ingest_round(db, &[(&a, &ra, 1), (&b, &rb, 0)], now)
        .await
        .unwrap();
    assert_eq!((out[0].accepted, out[0].duplicates), (1, 2));
    assert_eq!((out[1].accepted, out[1].duplicates), (3, 0));
    let mut types: Vec<(String, AlarmType)> = alarms(db, AlarmStatus::Active)
        .await
        .into_iter()
        .map(|x| (x.device_code, x.alarm_type))
        .collect();
    types.sort_by(|x, y| x.0.cmp(&y.0));
    assert_eq!(
        types,
        [
            ("T-501".to_string(), AlarmType::RapidRise),
            ("T-502".to_string(), AlarmType::OverTemperature)
        ]
    );
    let a = iot::get(db, &Scope::everything(), a.id).await.unwrap();
    assert_eq!((a.accepted, a.duplicates, a.malformed), (2, 2, 1));
    assert_eq!(
        iot::readings(db, a.id, 0, now + 10, 100)
            .await
            .unwrap()
            .len(),
        2
    );
}
both_backends!(
    a_round_of_many_devices_is_written_at_once_t,
    a_round_of_many_devices_is_written_at_once
);
