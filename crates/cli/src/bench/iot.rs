//! The monitoring benchmark: `--devices` devices publishing telemetry over MQTT (the broker
//! at `--host`:`--port`), written by the subscriber with rules on and everything persisted
//! (SQLite at synchronous=FULL, or the database given), against three figures measured in
//! the same run: the broker's delivery rate to a subscriber that does nothing, a raw batched
//! insert of the same rows, and a naive one-commit-per-message loop.

use anyhow::{Context, anyhow};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use std::time::{Duration, Instant};
use xiaoan_domain::audit::Actor;
use xiaoan_domain::iot::{DeviceKind, Overrides};
use xiaoan_domain::text::{Code, Name};
use xiaoan_domain::{OrgKind, SchoolFacts, SchoolType, Scope, now_millis};
use xiaoan_store::Db;
use xiaoan_store::iot::{self, NewDevice};
use xiaoan_store::orgs::{self, NewOrg};

/// Options of `xiaoan bench iot`.
#[derive(clap::Args)]
pub struct Args {
    #[arg(long, default_value_t = 1000)]
    devices: usize,
    /// Messages to publish (spread over the devices).
    #[arg(long, default_value_t = 20_000)]
    messages: usize,
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    #[arg(long, default_value_t = 1883)]
    port: u16,
    /// Database URL (default: a fresh SQLite file in a temporary directory).
    #[arg(long)]
    database: Option<String>,
}

fn publisher(host: &str, port: u16, name: &str) -> AsyncClient {
    let mut opts = MqttOptions::new(format!("{name}-{}", std::process::id()), host, port);
    opts.set_keep_alive(Duration::from_secs(30));
    opts.set_inflight(200);
    let (client, mut eventloop) = AsyncClient::new(opts, 10_000);
    tokio::spawn(async move { while eventloop.poll().await.is_ok() {} });
    client
}

fn payload(i: usize, value: f64) -> String {
    serde_json::json!({"ts": now_millis(), "msg_id": format!("b-{i}"), "values": {"temp_c": value}})
        .to_string()
}

/// The broker's own rate: messages published and received by a subscriber that does nothing.
async fn broker_floor(a: &Args) -> anyhow::Result<f64> {
    let mut opts = MqttOptions::new(
        format!("bench-sink-{}", std::process::id()),
        &a.host,
        a.port,
    );
    opts.set_keep_alive(Duration::from_secs(30));
    let (sink, mut eventloop) = AsyncClient::new(opts, 10_000);
    let topic = format!("bench/{}/sink", std::process::id());
    sink.subscribe(topic.clone(), QoS::AtLeastOnce).await?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok(ev) = eventloop.poll().await {
            let _ = tx.send(matches!(ev, Event::Incoming(Packet::Publish(_))));
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let client = publisher(&a.host, a.port, "bench-pub");
    let started = Instant::now();
    for i in 0..a.messages {
        client
            .publish(topic.clone(), QoS::AtLeastOnce, false, payload(i, 20.0))
            .await?;
    }
    let mut got = 0;
    while got < a.messages {
        match tokio::time::timeout(Duration::from_secs(30), rx.recv()).await {
            Ok(Some(true)) => got += 1,
            Ok(Some(false)) => {}
            _ => return Err(anyhow!("the broker delivered {got} of {}", a.messages)),
        }
    }
    Ok(a.messages as f64 / started.elapsed().as_secs_f64())
}

async fn org(db: &Db, kind: OrgKind, code: &str, parent: Option<i64>) -> anyhow::Result<i64> {
    let new = NewOrg {
        kind,
        code: Code::parse(code).map_err(|e| anyhow!("{e}"))?,
        name: Name::parse("name", &format!("基準{code}")).map_err(|e| anyhow!("{e}"))?,
        parent_id: parent,
        school: (kind == OrgKind::School).then(|| SchoolFacts {
            school_type: SchoolType::Primary,
            address: String::new(),
            latitude: None,
            longitude: None,
            students: 500,
            staff: 40,
            boarding: true,
            canteen: true,
            buses: false,
            labs: false,
            special_equipment: false,
        }),
    };
    Ok(
        orgs::create(db, &Actor::system("bench"), &Scope::everything(), new)
            .await?
            .id,
    )
}

/// Runs the benchmark and prints the figures.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let url = args
        .database
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("bench.db").display()));
    let db = crate::bootstrap::open(&url).await?;
    let broker = broker_floor(&args).await.context("broker floor")?;

    // A school with the devices.
    let actor = Actor::system("bench");
    let bureau = org(&db, OrgKind::Bureau, "IB", None).await?;
    let school = org(&db, OrgKind::School, "IBS", Some(bureau)).await?;
    let mut devices = Vec::new();
    for d in 0..args.devices {
        let new = NewDevice {
            school_id: school,
            code: format!("D{d:05}"),
            kind: DeviceKind::Temperature,
            location: "基準測試".into(),
            key_area: String::new(),
            overrides: Overrides::default(),
        };
        devices.push(
            iot::create(&db, &actor, &Scope::everything(), &new)
                .await?
                .0,
        );
    }

    // Ceiling: the same rows inserted raw, 500 to a transaction.
    sqlx::query("CREATE TABLE bench_readings (device_id BIGINT, at BIGINT, metric TEXT, value DOUBLE PRECISION)")
        .execute(db.pool())
        .await?;
    let started = Instant::now();
    for chunk in (0..args.messages).collect::<Vec<_>>().chunks(500) {
        let mut tx = db.begin_write().await?;
        let mut sql =
            String::from("INSERT INTO bench_readings (device_id, at, metric, value) VALUES ");
        for (k, i) in chunk.iter().enumerate() {
            if k > 0 {
                sql.push(',');
            }
            sql.push_str(&format!(
                "({}, {}, 'temp_c', 20.5)",
                devices[i % devices.len()].id,
                now_millis()
            ));
        }
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    let raw = args.messages as f64 / started.elapsed().as_secs_f64();
    // Floor: one commit per message.
    let naive_n = args.messages.min(2000);
    let started = Instant::now();
    for i in 0..naive_n {
        let mut tx = db.begin_write().await?;
        sqlx::query("INSERT INTO bench_readings (device_id, at, metric, value) VALUES ($1, $2, 'temp_c', 20.5)")
            .bind(devices[i % devices.len()].id)
            .bind(now_millis())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    let naive = naive_n as f64 / started.elapsed().as_secs_f64();

    // The subscriber with rules on: every device crosses its threshold once (three readings
    // above 60 °C) and clears, so alarms are exact.
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let settings = xiaoan_iot::mqtt::MqttSettings {
        host: args.host.clone(),
        port: args.port,
        client_id: format!("bench-ingest-{}", std::process::id()),
        share_group: None,
        batch: 500,
        window: Duration::from_millis(20),
    };
    let ingest = tokio::spawn(xiaoan_iot::mqtt::run(db.clone(), settings, async move {
        let _ = stopped.await;
    }));
    tokio::time::sleep(Duration::from_millis(800)).await;
    let client = publisher(&args.host, args.port, "bench-devices");
    let per = (args.messages / devices.len()).max(1);
    let started = Instant::now();
    let mut sent = 0;
    for round in 0..per {
        // Readings 2–4 of each device are hot, 5 clears it.
        let value = if (2..5).contains(&round) { 65.0 } else { 20.0 };
        for d in &devices {
            let topic = format!("xiaoan/v1/IBS/{}/telemetry", d.code);
            client
                .publish(topic, QoS::AtLeastOnce, false, payload(sent, value))
                .await?;
            sent += 1;
        }
    }
    // Until everything is persisted, or nothing more arrives for 5 s (the broker dropped the
    // rest: Mosquitto keeps at most max_queued_messages, default 1000, for a slow session).
    let (mut accepted, mut last) = (0i64, Instant::now());
    while accepted < i64::try_from(sent)? && last.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let now: i64 =
            sqlx::query_scalar("SELECT CAST(COALESCE(SUM(accepted), 0) AS BIGINT) FROM devices")
                .fetch_one(db.pool())
                .await?;
        if now != accepted {
            accepted = now;
            last = Instant::now();
        }
    }
    let secs = last.duration_since(started).as_secs_f64().max(0.001);
    let rate = accepted as f64 / secs;
    let alarms: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM alarms WHERE alarm_type = 'over_temperature'")
            .fetch_one(db.pool())
            .await?;
    let _ = stop.send(());
    let _ = ingest.await;
    let expected_alarms = if per >= 6 { devices.len() } else { 0 };
    println!(
        "iot benchmark on {:?}: {} devices, {sent} messages",
        db.backend(),
        devices.len()
    );
    println!(
        "ingest over MQTT with rules: {rate:.0} readings/s ({accepted} of {sent} persisted in {secs:.1} s; {} lost)",
        i64::try_from(sent).unwrap_or(0) - accepted
    );
    println!(
        "  broker to an idle subscriber: {broker:.0}/s (ratio {:.2}); raw batched insert: {raw:.0}/s (ratio {:.2}); one commit per message: {naive:.0}/s ({:.1}× slower than ingest)",
        rate / broker,
        rate / raw,
        rate / naive
    );
    println!("alarms: {alarms} over-temperature alarms raised, {expected_alarms} expected");
    db.close().await;
    Ok(())
}
