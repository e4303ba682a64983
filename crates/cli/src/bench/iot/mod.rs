//! The monitoring benchmark. `--devices` devices publish telemetry over MQTT to a broker
//! (by default a Mosquitto started for the run with `deploy/mosquitto/xiaoan.conf`; or the
//! one at `--host`), written by the subscriber with rules on and everything persisted
//! (SQLite at synchronous=FULL, or the database given). Every figure is printed with the
//! ceiling or floor it is compared to, measured in the same run:
//!
//! - sustained ingest against the broker's delivery rate to a subscriber that does nothing,
//!   a raw batched insert of the same rows, and a naive one-commit-per-message loop;
//! - alarms exact (each device crosses its threshold once and clears) and messages lost;
//! - CPU time per message and the process's peak memory;
//! - latency from publish to commit, p50/p99, at `--rate` readings a second;
//! - HTTP batch ingest (`POST /api/v1/ingest` through the router) against the raw insert;
//! - GB/T 26875.3 frames a second through the TCP receiver, each confirmed after its commit,
//!   and the time from a fire frame to its alarm on the board.

mod frames;
mod http;

use anyhow::{Context, anyhow};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use xiaoan_domain::audit::Actor;
use xiaoan_domain::iot::{DeviceKind, Overrides};
use xiaoan_domain::text::{Code, Name};
use xiaoan_domain::{OrgKind, SchoolFacts, SchoolType, Scope, now_millis};
use xiaoan_iot::mqtt::{MqttSettings, Stats};
use xiaoan_store::Db;
use xiaoan_store::iot::{self, Device, NewDevice};
use xiaoan_store::orgs::{self, NewOrg};

/// The broker settings a district runs with (also used for the broker this benchmark starts).
const BROKER_CONF: &str = include_str!("../../../../../deploy/mosquitto/xiaoan.conf");

/// Options of `xiaoan bench iot`.
#[derive(clap::Args)]
pub struct Args {
    #[arg(long, default_value_t = 1000)]
    devices: usize,
    /// Messages of the sustained run (spread over the devices; at least 6 each for the alarm
    /// check).
    #[arg(long, default_value_t = 20_000)]
    messages: usize,
    /// Readings a second offered for the latency figure.
    #[arg(long, default_value_t = 20_000)]
    rate: usize,
    /// Seconds of the latency run.
    #[arg(long, default_value_t = 5)]
    latency_secs: u64,
    /// A broker to use instead of starting one (it must allow a round's worth of messages in
    /// flight: see deploy/mosquitto/xiaoan.conf).
    #[arg(long)]
    host: Option<String>,
    #[arg(long, default_value_t = 1883)]
    port: u16,
    /// Database URL (default: a fresh SQLite file in a temporary directory).
    #[arg(long)]
    database: Option<String>,
    /// The subscriber's round: at most this many messages…
    #[arg(long, default_value_t = 1000)]
    batch: usize,
    /// …gathered for at most this long after the first.
    #[arg(long, default_value_t = 5)]
    window_millis: u64,
    /// HTTP batches sent (100 records each).
    #[arg(long, default_value_t = 200)]
    http_batches: usize,
    /// GB/T 26875.3 frames sent (over 10 connections).
    #[arg(long, default_value_t = 2000)]
    frames: usize,
}

/// A broker started for the run, stopped when dropped.
struct Broker {
    child: std::process::Child,
    _dir: tempfile::TempDir,
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_broker() -> anyhow::Result<(Broker, u16)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let dir = tempfile::tempdir()?;
    let conf = dir.path().join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!(
            "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n{BROKER_CONF}"
        ),
    )?;
    let child = std::process::Command::new("mosquitto")
        .arg("-c")
        .arg(&conf)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .context("cannot start mosquitto (install it, or pass --host and --port of a broker)")?;
    let broker = Broker { child, _dir: dir };
    for _ in 0..50 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok((broker, port));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(anyhow!("mosquitto did not start listening on {port}"))
}

fn publisher(host: &str, port: u16, name: &str) -> AsyncClient {
    let mut opts = MqttOptions::new(format!("{name}-{}", std::process::id()), host, port);
    opts.set_keep_alive(Duration::from_secs(30));
    opts.set_inflight(1000);
    let (client, mut eventloop) = AsyncClient::new(opts, 10_000);
    tokio::spawn(async move { while eventloop.poll().await.is_ok() {} });
    client
}

fn payload(id: &str, value: f64) -> String {
    serde_json::json!({"ts": now_millis(), "msg_id": id, "values": {"temp_c": value}}).to_string()
}

/// User and system CPU seconds of this process so far, and its peak resident memory (MiB),
/// from /proc (Linux).
fn process_usage() -> (f64, f64) {
    let ticks = 100.0; // USER_HZ on Linux
    let cpu = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = s.rsplit_once(')')?.1.to_string();
            let f: Vec<&str> = rest.split_whitespace().collect();
            Some((f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?) / ticks)
        })
        .unwrap_or(0.0);
    let peak = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0);
    (cpu, peak)
}

/// User and system CPU seconds of the calling thread so far (Linux).
fn thread_cpu() -> f64 {
    std::fs::read_to_string("/proc/thread-self/stat")
        .ok()
        .and_then(|s| {
            let rest = s.rsplit_once(')')?.1.to_string();
            let f: Vec<&str> = rest.split_whitespace().collect();
            Some((f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?) / 100.0)
        })
        .unwrap_or(0.0)
}

/// One message of the simulated devices: device code, message id, value, and its time
/// (`None`: the moment it is published).
type Planned = (String, String, f64, Option<i64>);

/// The devices, in a thread of their own with its own runtime (as separate hardware would
/// be), publishing `msgs` at once or `per_tick` every 10 ms; answers, once told to stop,
/// with the CPU seconds the thread used.
fn devices_thread(
    host: String,
    port: u16,
    msgs: Vec<Planned>,
    per_tick: Option<usize>,
    stop: std::sync::mpsc::Receiver<()>,
) -> std::thread::JoinHandle<anyhow::Result<f64>> {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let cpu0 = thread_cpu();
        rt.block_on(async move {
            let client = publisher(
                &host,
                port,
                &format!("bench-devices-{}", rand::random::<u32>()),
            );
            let mut interval = tokio::time::interval(Duration::from_millis(10));
            for chunk in msgs.chunks(per_tick.unwrap_or(usize::MAX).max(1)) {
                if per_tick.is_some() {
                    interval.tick().await;
                }
                for (device, id, value, ts) in chunk {
                    let body =
                        serde_json::json!({"ts": ts.unwrap_or_else(now_millis), "msg_id": id,
                        "values": {"temp_c": value}})
                        .to_string();
                    let topic = format!("xiaoan/v1/IBS/{device}/telemetry");
                    client.publish(topic, QoS::AtLeastOnce, false, body).await?;
                }
            }
            // Keep the connection until told to stop, so that everything goes out.
            while stop.try_recv() == Err(std::sync::mpsc::TryRecvError::Empty) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Ok::<(), anyhow::Error>(())
        })?;
        Ok(thread_cpu() - cpu0)
    })
}

/// The broker's own rate: messages published and received by a subscriber that does nothing.
async fn broker_floor(host: &str, port: u16, n: usize) -> anyhow::Result<f64> {
    let mut opts = MqttOptions::new(format!("bench-sink-{}", std::process::id()), host, port);
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
    let client = publisher(host, port, "bench-pub");
    let started = Instant::now();
    for i in 0..n {
        client
            .publish(
                topic.clone(),
                QoS::AtLeastOnce,
                false,
                payload(&format!("f-{i}"), 20.0),
            )
            .await?;
    }
    let mut got = 0;
    while got < n {
        match tokio::time::timeout(Duration::from_secs(30), rx.recv()).await {
            Ok(Some(true)) => got += 1,
            Ok(Some(false)) => {}
            _ => return Err(anyhow!("the broker delivered {got} of {n}")),
        }
    }
    Ok(n as f64 / started.elapsed().as_secs_f64())
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

async fn devices(
    db: &Db,
    school: i64,
    n: usize,
    kind: DeviceKind,
    code: impl Fn(usize) -> String,
) -> anyhow::Result<Vec<(Device, String)>> {
    let mut out = Vec::with_capacity(n);
    for d in 0..n {
        let new = NewDevice {
            school_id: school,
            code: code(d),
            kind,
            location: "基準測試".into(),
            key_area: String::new(),
            overrides: Overrides::default(),
            category: None,
        };
        out.push(iot::create(db, &Actor::system("bench"), &Scope::everything(), &new).await?);
    }
    Ok(out)
}

/// Rows per second of the same readings inserted raw, 500 to a transaction, and of one
/// commit per message.
async fn insert_figures(db: &Db, ids: &[i64], n: usize) -> anyhow::Result<(f64, f64)> {
    sqlx::query("CREATE TABLE bench_readings (device_id BIGINT, at BIGINT, metric TEXT, value DOUBLE PRECISION)")
        .execute(db.pool())
        .await?;
    let started = Instant::now();
    for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
        let mut tx = db.begin_write().await?;
        let mut sql =
            String::from("INSERT INTO bench_readings (device_id, at, metric, value) VALUES ");
        for (k, i) in chunk.iter().enumerate() {
            if k > 0 {
                sql.push(',');
            }
            sql.push_str(&format!(
                "({}, {}, 'temp_c', 20.5)",
                ids[i % ids.len()],
                now_millis()
            ));
        }
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    let raw = n as f64 / started.elapsed().as_secs_f64();
    let naive_n = n.min(2000);
    let started = Instant::now();
    for i in 0..naive_n {
        let mut tx = db.begin_write().await?;
        sqlx::query("INSERT INTO bench_readings (device_id, at, metric, value) VALUES ($1, $2, 'temp_c', 20.5)")
            .bind(ids[i % ids.len()])
            .bind(now_millis())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    Ok((raw, naive_n as f64 / started.elapsed().as_secs_f64()))
}

/// Waits until the subscriber has taken `target` messages, or nothing more arrives for
/// 5 s; returns when the last one was taken.
async fn settle(stats: &Stats, target: u64) -> Instant {
    let (mut seen, mut last) = (0, Instant::now());
    loop {
        let now = stats.accepted.load(Ordering::Relaxed) + stats.duplicates.load(Ordering::Relaxed);
        if now != seen {
            seen = now;
            last = Instant::now();
        }
        if seen >= target || last.elapsed() > Duration::from_secs(5) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Runs the benchmark and prints the figures.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let url = args
        .database
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("bench.db").display()));
    let db = crate::bootstrap::open(&url).await?;
    let (_broker, host, port) = match &args.host {
        Some(h) => (None, h.clone(), args.port),
        None => {
            let (b, port) = start_broker()?;
            (Some(b), "127.0.0.1".to_string(), port)
        }
    };
    println!(
        "iot benchmark on {:?}: {} devices, broker {host}:{port}",
        db.backend(),
        args.devices
    );
    let broker = broker_floor(&host, port, args.messages)
        .await
        .context("broker floor")?;

    let bureau = org(&db, OrgKind::Bureau, "IB", None).await?;
    let school = org(&db, OrgKind::School, "IBS", Some(bureau)).await?;
    let sensors = devices(
        &db,
        school,
        args.devices.max(1),
        DeviceKind::Temperature,
        |d| format!("D{d:05}"),
    )
    .await?;
    let ids: Vec<i64> = sensors.iter().map(|(d, _)| d.id).collect();
    let (raw, naive) = insert_figures(&db, &ids, args.messages).await?;

    // The subscriber with rules on.
    let stats = Arc::new(Stats::default());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let settings = MqttSettings {
        host: host.clone(),
        port,
        client_id: format!("bench-ingest-{}", std::process::id()),
        share_group: None,
        batch: args.batch,
        window: Duration::from_millis(args.window_millis),
        stats: stats.clone(),
        // The benchmark measures throughput: no device is held back as a flood.
        flood: xiaoan_iot::FloodLimit::per_minute(u32::MAX),
    };
    let ingest = tokio::spawn(xiaoan_iot::mqtt::run(db.clone(), settings, async move {
        let _ = stopped.await;
    }));
    tokio::time::sleep(Duration::from_millis(800)).await;

    // Sustained: every device crosses its threshold once (readings 2–4 above 60 °C) and
    // clears (reading 5); readings are stamped 10 s apart, as a sensor reports, so the
    // rate-of-rise rule sees 20 → 65 °C in 10 s once per device and then a level line.
    let per = (args.messages / sensors.len()).max(1);
    let base = now_millis() - i64::try_from(per)? * 10_000;
    let mut plan: Vec<Planned> = Vec::with_capacity(per * sensors.len());
    for round in 0..per {
        let value = if (2..5).contains(&round) { 65.0 } else { 20.0 };
        for (d, _) in &sensors {
            let at = base + i64::try_from(round)? * 10_000;
            plan.push((d.code.clone(), format!("s-{}", plan.len()), value, Some(at)));
        }
    }
    let sent = plan.len() as u64;
    let (cpu0, _) = process_usage();
    let started = Instant::now();
    let (stop_devices, stop_rx) = std::sync::mpsc::channel();
    let devices = devices_thread(host.clone(), port, plan, None, stop_rx);
    let last = settle(&stats, sent).await;
    let _ = stop_devices.send(());
    let device_cpu = devices
        .join()
        .map_err(|_| anyhow!("the devices' thread failed"))??;
    let (cpu1, peak) = process_usage();
    let accepted = stats.accepted.load(Ordering::Relaxed);
    let secs = last.duration_since(started).as_secs_f64().max(0.001);
    let rate = accepted as f64 / secs;
    let rounds = stats.rounds.load(Ordering::Relaxed);
    println!(
        "MQTT ingest with rules: {rate:.0} readings/s ({accepted} of {sent} persisted in {secs:.2} s, {} lost, {rounds} rounds)",
        sent.saturating_sub(accepted)
    );
    println!(
        "  ceilings: broker to an idle subscriber {broker:.0}/s (ratio {:.2}); raw batched insert {raw:.0}/s (ratio {:.2}); \
         floor: one commit per message {naive:.0}/s ({:.1}× slower)",
        rate / broker,
        rate / raw,
        rate / naive
    );
    println!(
        "  CPU {:.1} µs per message in ingest (the devices' thread excluded: {:.1} µs per message); peak memory of the process {peak:.0} MiB",
        (cpu1 - cpu0 - device_cpu) * 1e6 / sent.max(1) as f64,
        device_cpu * 1e6 / sent.max(1) as f64
    );
    let expected = if per >= 6 { sensors.len() as i64 } else { 0 };
    for t in ["over_temperature", "rapid_rise"] {
        let (raised, cleared, twice): (i64, i64, i64) = sqlx::query_as(
            "SELECT COUNT(*), COALESCE(SUM(CASE WHEN condition = 'cleared' THEN 1 ELSE 0 END), 0), \
             COUNT(*) - COUNT(DISTINCT device_id) FROM alarms WHERE alarm_type = $1",
        )
        .bind(t)
        .fetch_one(db.pool())
        .await?;
        let raises: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM alarm_events e JOIN alarms a ON a.id = e.alarm_id WHERE a.alarm_type = $1 AND e.action = 'raised'",
        )
        .bind(t)
        .fetch_one(db.pool())
        .await?;
        let exact = raised == expected && cleared == expected && twice == 0 && raises == expected;
        println!(
            "  {t} alarms: {raised} raised ({raises} raise events), {cleared} cleared, {twice} duplicated; {expected} expected{}",
            if exact { " (exact)" } else { " (NOT EXACT)" }
        );
    }

    // Latency at a paced rate, in 10 ms ticks.
    stats.reset_latency();
    let target = stats.accepted.load(Ordering::Relaxed) + stats.duplicates.load(Ordering::Relaxed);
    let per_tick = (args.rate / 100).max(1);
    let n = per_tick * usize::try_from(args.latency_secs * 100)?;
    let plan: Vec<Planned> = (0..n)
        .map(|i| {
            (
                sensors[i % sensors.len()].0.code.clone(),
                format!("l-{i}"),
                21.0,
                None,
            )
        })
        .collect();
    let started = Instant::now();
    let (stop_devices, stop_rx) = std::sync::mpsc::channel();
    let devices = devices_thread(host.clone(), port, plan, Some(per_tick), stop_rx);
    let last = settle(&stats, target + n as u64).await;
    let _ = stop_devices.send(());
    devices
        .join()
        .map_err(|_| anyhow!("the devices' thread failed"))??;
    let offered_rate = n as f64 / last.duration_since(started).as_secs_f64();
    println!(
        "  latency publish → commit at {offered_rate:.0} readings/s ({} asked): p50 {} ms, p99 {} ms",
        args.rate,
        stats.latency_quantile(0.5).unwrap_or(0),
        stats.latency_quantile(0.99).unwrap_or(0)
    );
    let _ = stop.send(());
    let _ = ingest.await;

    http::run(&db, &sensors, args.http_batches, raw).await?;
    frames::run(&db, school, args.frames).await?;
    db.close().await;
    Ok(())
}
