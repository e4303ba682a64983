//! The MQTT subscriber against a real broker (Mosquitto on 127.0.0.1:1883, or
//! `XIAOAN_TEST_MQTT=host:port`), on both backends: QoS 1 readings over the threshold raise
//! one alarm, a repeated message id is a duplicate, unreadable messages are counted and do
//! not stop the subscriber, a last-will status takes the device offline; an event does not
//! wait out the gathering window.

// Test code: a failed unwrap is a failed test (helpers are outside #[test] functions).
#![allow(clippy::unwrap_used)]

use rumqttc::{AsyncClient, MqttOptions, QoS};
use std::time::Duration;
use xiaoan_domain::Scope;
use xiaoan_domain::audit::Actor;
use xiaoan_domain::iot::{DeviceKind, Overrides};
use xiaoan_iot::mqtt::{MqttSettings, run};
use xiaoan_store::Db;
use xiaoan_store::iot::{self, AlarmStatus, NewDevice};
use xiaoan_testkit::tree::Tree;

fn broker() -> (String, u16) {
    let raw = std::env::var("XIAOAN_TEST_MQTT").unwrap_or_else(|_| "127.0.0.1:1883".into());
    let (h, p) = raw.rsplit_once(':').expect("XIAOAN_TEST_MQTT is host:port");
    (h.to_string(), p.parse().expect("a port"))
}

async fn until(what: &str, mut ok: impl AsyncFnMut() -> bool) {
    for _ in 0..200 {
        if ok().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

/// The fixture tree, school A and a temperature sensor registered there.
async fn sensor(db: &Db) -> (Tree, xiaoan_store::orgs::Org, iot::Device) {
    let tree = Tree::create(db).await;
    let school = xiaoan_store::orgs::get(db, &Scope::everything(), tree.school_a)
        .await
        .unwrap();
    let (device, _) = iot::create(
        db,
        &Actor::system("test"),
        &Scope::everything(),
        &NewDevice {
            school_id: tree.school_a,
            code: format!("T-{:08x}", rand_id()),
            kind: DeviceKind::Temperature,
            location: "學生宿舍三樓".into(),
            key_area: String::new(),
            overrides: Overrides::default(),
            category: None,
        },
    )
    .await
    .unwrap();
    (tree, school, device)
}

async fn readings_over_mqtt_raise_one_alarm(db: &Db) {
    let (_, school, device) = sensor(db).await;
    let code = device.code.clone();
    let (host, port) = broker();
    assert!(
        std::net::TcpStream::connect((host.as_str(), port)).is_ok(),
        "the MQTT tests need a broker at {host}:{port} (apt-get install mosquitto; or set XIAOAN_TEST_MQTT)"
    );
    let settings = settings(&host, port, Duration::from_millis(20));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let subscriber = tokio::spawn(run(db.clone(), settings, async move {
        let _ = stopped.await;
    }));
    // A device publishing (its own client, its last will an offline status).
    let topic = |kind: &str| format!("xiaoan/v1/{}/{code}/{kind}", school.code);
    let mut opts = MqttOptions::new(format!("dev-{:08x}", rand_id()), host, port);
    opts.set_keep_alive(Duration::from_secs(5));
    let (client, mut eventloop) = AsyncClient::new(opts, 64);
    tokio::spawn(async move { while eventloop.poll().await.is_ok() {} });
    // Give the subscriber time to subscribe (its session persists from then on).
    tokio::time::sleep(Duration::from_millis(800)).await;
    let now = xiaoan_domain::now_millis();
    let reading = |i: i64, v: f64| {
        serde_json::json!({"ts": now - 1000 + i, "msg_id": format!("r-{i}"), "values": {"temp_c": v}}).to_string()
    };
    for (i, v) in [(1, 61.0), (2, 62.0), (2, 62.0), (3, 63.5)] {
        client
            .publish(topic("telemetry"), QoS::AtLeastOnce, false, reading(i, v))
            .await
            .unwrap();
    }
    client
        .publish(topic("telemetry"), QoS::AtLeastOnce, false, "not json")
        .await
        .unwrap();
    client
        .publish(
            topic("telemetry"),
            QoS::AtLeastOnce,
            false,
            serde_json::json!({"ts": now, "msg_id": "r-9", "values": {"temp_c": "hot"}})
                .to_string(),
        )
        .await
        .unwrap();
    until("the alarm", async || {
        iot::list_alarms(db, &Scope::everything(), AlarmStatus::Active, None, 10)
            .await
            .unwrap()
            .len()
            == 1
    })
    .await;
    until("the counts", async || {
        let d = iot::get(db, &Scope::everything(), device.id).await.unwrap();
        d.accepted == 3 && d.duplicates == 1 && d.malformed == 2
    })
    .await;
    // The subscriber kept going: a status saying offline (what a last will says) is read.
    client
        .publish(
            topic("status"),
            QoS::AtLeastOnce,
            false,
            serde_json::json!({"ts": now, "online": false}).to_string(),
        )
        .await
        .unwrap();
    until("offline", async || {
        !iot::get(db, &Scope::everything(), device.id)
            .await
            .unwrap()
            .online
    })
    .await;
    let alarms = iot::list_alarms(db, &Scope::everything(), AlarmStatus::All, None, 10)
        .await
        .unwrap();
    assert_eq!(alarms.len(), 1);
    assert_eq!(alarms[0].trigger_value, Some(63.5));
    let _ = stop.send(());
    subscriber.await.unwrap();
}
xiaoan_testkit::both_backends!(readings_over_mqtt, readings_over_mqtt_raise_one_alarm);

fn settings(host: &str, port: u16, window: Duration) -> MqttSettings {
    MqttSettings {
        host: host.to_string(),
        port,
        client_id: format!("xiaoan-test-{:08x}", rand_id()),
        share_group: None,
        batch: 100,
        window,
        stats: Default::default(),
        flood: xiaoan_iot::FloodLimit::per_minute(600),
    }
}

/// A round that began with a reading and a minute-long window is written as soon as an
/// event joins it.
async fn an_event_does_not_wait_out_the_window(db: &Db) {
    let (tree, school, device) = sensor(db).await;
    let code = device.code.clone();
    let (host, port) = broker();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let s = settings(&host, port, Duration::from_secs(60));
    let subscriber = tokio::spawn(run(db.clone(), s, async move {
        let _ = stopped.await;
    }));
    let topic = |kind: &str| format!("xiaoan/v1/{}/{code}/{kind}", school.code);
    let opts = MqttOptions::new(format!("dev-{:08x}", rand_id()), host, port);
    let (client, mut eventloop) = AsyncClient::new(opts, 64);
    tokio::spawn(async move { while eventloop.poll().await.is_ok() {} });
    tokio::time::sleep(Duration::from_millis(800)).await;
    let now = xiaoan_domain::now_millis();
    let reading = serde_json::json!({"ts": now, "msg_id": "w-1", "values": {"temp_c": 21.0}});
    let tamper = serde_json::json!({"ts": now, "msg_id": "w-2", "event": "tamper"});
    for (kind, body) in [("telemetry", reading), ("event", tamper)] {
        client
            .publish(topic(kind), QoS::AtLeastOnce, false, body.to_string())
            .await
            .unwrap();
    }
    // Well inside the minute: both written, the tamper alarm raised.
    until("the round with the event", async || {
        iot::get(db, &Scope::everything(), device.id)
            .await
            .unwrap()
            .accepted
            == 2
    })
    .await;
    let open = iot::list_alarms(
        db,
        &Scope::everything(),
        AlarmStatus::Active,
        Some(tree.school_a),
        10,
    )
    .await
    .unwrap();
    assert_eq!(open.len(), 1);
    let _ = stop.send(());
    subscriber.await.unwrap();
}
xiaoan_testkit::both_backends!(
    events_skip_the_window,
    an_event_does_not_wait_out_the_window
);

fn rand_id() -> u32 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    t.subsec_nanos() ^ std::process::id().rotate_left(16)
}
