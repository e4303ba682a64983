//! The notification benchmark: intents written in their own transactions (as a hazard step
//! writes them), dispatched and delivered by `--workers` job workers to a webhook receiver
//! in this process; the latency from an escalation round finding a major hazard to its
//! message at the receiver; and the queue's claim-and-finish per job against a bare
//! `UPDATE … RETURNING` on the same table. Each figure is printed beside its floor, measured
//! in the same run: the sender posting straight to the receiver, a bare one-row insert per
//! transaction, the bare update.

use super::percentiles;
use crate::config::AppConfig;
use anyhow::{Context, anyhow};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use xiaoan_domain::audit::Actor;
use xiaoan_domain::hazard::{Category, Grade, Source};
use xiaoan_domain::notify::Event;
use xiaoan_domain::text::{Code, Login, Name, Text};
use xiaoan_domain::{OrgKind, Role, SchoolFacts, SchoolType, Scope, now_millis};
use xiaoan_store::Db;
use xiaoan_store::jobs::{self, NewJob};
use xiaoan_store::notify::{self as store_notify, Intent, NewChannel};
use xiaoan_store::orgs::{self, NewOrg};
use xiaoan_store::users::{self, NewUser, RoleAt};

/// Options of `xiaoan bench notify`.
#[derive(clap::Args)]
pub struct Args {
    /// Intents to write and deliver.
    #[arg(long, default_value_t = 2000)]
    intents: usize,
    /// Job workers (each with its own connection pool, as separate nodes would have).
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// Jobs for the claim measurement.
    #[arg(long, default_value_t = 2000)]
    jobs: usize,
    /// Escalation rounds timed for the latency.
    #[arg(long, default_value_t = 20)]
    rounds: usize,
    /// The workers' idle poll interval, milliseconds.
    #[arg(long, default_value_t = 100)]
    poll_millis: u64,
    /// Database URL (default: a fresh SQLite file in a temporary directory); it should be
    /// empty: the benchmark adds its own district.
    #[arg(long)]
    database: Option<String>,
}

/// The receiver: counts each message by event, and the time the last one arrived.
#[derive(Clone, Default)]
struct Receiver {
    all: Arc<AtomicUsize>,
    escalations: Arc<AtomicUsize>,
}

async fn receive(
    axum::extract::State(r): axum::extract::State<Receiver>,
    body: String,
) -> &'static str {
    let event = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["event"].as_str().map(str::to_string))
        .unwrap_or_default();
    if event == "hazard.overdue" || event == "hazard.listed" {
        r.escalations.fetch_add(1, Ordering::SeqCst);
    }
    r.all.fetch_add(1, Ordering::SeqCst);
    "ok"
}

async fn org(db: &Db, kind: OrgKind, code: &str, parent: Option<i64>) -> anyhow::Result<i64> {
    let school = (kind == OrgKind::School).then(|| SchoolFacts {
        school_type: SchoolType::Primary,
        address: String::new(),
        latitude: None,
        longitude: None,
        students: 500,
        staff: 40,
        boarding: false,
        canteen: true,
        buses: false,
        labs: false,
        special_equipment: false,
    });
    let new = NewOrg {
        kind,
        code: Code::parse(code).map_err(|e| anyhow!("{e}"))?,
        name: Name::parse("name", &format!("基準測試{code}")).map_err(|e| anyhow!("{e}"))?,
        parent_id: parent,
        school,
    };
    Ok(
        orgs::create(db, &Actor::system("bench"), &Scope::everything(), new)
            .await?
            .id,
    )
}

async fn wait_for(counter: &AtomicUsize, n: usize, limit: Duration) -> anyhow::Result<()> {
    let started = Instant::now();
    while counter.load(Ordering::SeqCst) < n {
        if started.elapsed() > limit {
            return Err(anyhow!(
                "only {} of {n} messages arrived within {limit:?}",
                counter.load(Ordering::SeqCst)
            ));
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    Ok(())
}

/// Waits until no notification work is queued or running (whatever the report's own
/// messages were, they are out of the way of the measurement).
async fn idle(db: &Db) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        let left: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM jobs WHERE kind LIKE 'notify.%' AND kind <> 'notify.digest' AND state IN ('queued', 'running')",
        )
        .fetch_one(db.pool())
        .await?;
        if left == 0 {
            return Ok(());
        }
        if started.elapsed() > Duration::from_secs(60) {
            return Err(anyhow!("the queue did not drain"));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Runs the benchmark and prints the figures.
pub async fn run(cfg: AppConfig, args: Args) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let url = args
        .database
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("bench.db").display()));
    let db = crate::bootstrap::open(&url).await?;
    println!(
        "notify benchmark on {:?}, {} worker(s), poll {} ms",
        db.backend(),
        args.workers,
        args.poll_millis
    );

    // A bureau, a centre, a school with its safety officer, and a webhook channel at the
    // school pointing at the receiver.
    let bureau = org(&db, OrgKind::Bureau, "NB", None).await?;
    let centre = org(&db, OrgKind::Centre, "NBC", Some(bureau)).await?;
    let school = org(&db, OrgKind::School, "NBS", Some(centre)).await?;
    let (officer, _) = users::create(
        &db,
        &Actor::system("bench"),
        &[Role::SystemAdmin],
        &Scope::everything(),
        NewUser {
            login: Login::parse("bench-safety").map_err(|e| anyhow!("{e}"))?,
            display_name: Name::parse("display_name", "安全專幹").map_err(|e| anyhow!("{e}"))?,
            org_id: school,
            password_hash: None,
            must_change_password: false,
            roles: vec![RoleAt {
                role: Role::SafetyOfficer,
                org_id: school,
            }],
        },
    )
    .await?;
    let receiver = Receiver::default();
    let app = axum::Router::new()
        .fallback(axum::routing::post(receive))
        .with_state(receiver.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let hook = format!("http://{}/hook", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    let secret = "bench-shared-secret-0123456789";
    store_notify::create_channel(
        &db,
        &Actor::system("bench"),
        officer.id,
        &NewChannel {
            org_id: school,
            kind: "webhook".into(),
            name: "bench".into(),
            target: hook.clone(),
            secret: Some(secret.into()),
            events: vec![],
        },
        now_millis(),
    )
    .await?;
    let settings = cfg.job_settings();
    let batch = cfg.worker_settings().batch;

    // Floor of delivery: the same sender posting straight to the receiver, as many at once
    // as a worker runs jobs, no database.
    let sender = cfg.sender();
    let config = xiaoan_notify::ChannelConfig {
        kind: xiaoan_notify::ChannelKind::Webhook,
        target: hook.clone(),
        secret: Some(secret.into()),
    };
    let before = receiver.all.load(Ordering::SeqCst);
    let started = Instant::now();
    let per = usize::try_from(batch.max(1))?;
    let mut tasks = tokio::task::JoinSet::new();
    for t in 0..per {
        let (sender, config) = (sender.clone(), config.clone());
        let n = args.intents / per + usize::from(t < args.intents % per);
        tasks.spawn(async move {
            for i in 0..n {
                let m = xiaoan_notify::Message {
                    id: format!("floor-{t}-{i}"),
                    event: "hazard.reported".into(),
                    title: "基準".into(),
                    body: "基準測試訊息".into(),
                    link: None,
                    urgent: false,
                };
                let out = sender.send(&config, &m, now_millis()).await;
                if !out.ok {
                    return Err(anyhow!("floor send failed: {:?}", out.error));
                }
            }
            Ok(())
        });
    }
    while let Some(r) = tasks.join_next().await {
        r??;
    }
    let floor_rate = args.intents as f64 / started.elapsed().as_secs_f64();
    let _ = receiver.all.load(Ordering::SeqCst) - before;

    // Producing: one intent per transaction; floor: one bare row per transaction.
    sqlx::query("CREATE TABLE bench_rows (id BIGINT NOT NULL, payload TEXT NOT NULL)")
        .execute(db.pool())
        .await?;
    let started = Instant::now();
    for i in 0..args.intents {
        let mut tx = db.begin_write().await?;
        sqlx::query("INSERT INTO bench_rows (id, payload) VALUES ($1, $2)")
            .bind(i64::try_from(i)?)
            .bind(r#"{"number":"Y-1","title":"基準"}"#.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    let bare_insert_rate = args.intents as f64 / started.elapsed().as_secs_f64();
    let before = receiver.all.load(Ordering::SeqCst);
    let started = Instant::now();
    for i in 0..args.intents {
        let mut tx = db.begin_write().await?;
        let intent = Intent {
            event: Event::HazardReported,
            object_kind: "hazard",
            object_id: 1_000_000 + i64::try_from(i)?,
            org_id: school,
            actor_id: None,
            user_id: None,
            args: serde_json::json!({"number": format!("B-{i}"), "title": "基準", "school": "基準測試NBS"}),
        };
        store_notify::record(&mut tx, &intent, now_millis()).await?;
        tx.commit().await?;
    }
    let produce_secs = started.elapsed().as_secs_f64();

    // Delivering: the workers drain the outbox.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut workers = Vec::new();
    for w in 0..args.workers {
        let node_db = Db::connect(&url).await.context("worker pool")?;
        let mut worker = cfg.worker_settings();
        worker.node = format!("bench-{w}");
        worker.poll = Duration::from_millis(args.poll_millis.max(1));
        let mut stopped = stopped.clone();
        workers.push(tokio::spawn(xiaoan_jobs::run(
            node_db,
            settings.clone(),
            cfg.sender(),
            worker,
            async move {
                let _ = stopped.wait_for(|s| *s).await;
            },
        )));
    }
    let deliver_started = Instant::now();
    wait_for(
        &receiver.all,
        before + args.intents,
        Duration::from_secs(600),
    )
    .await?;
    let deliver_secs = deliver_started.elapsed().as_secs_f64();
    let delivered_rate = args.intents as f64 / deliver_secs;
    let end_to_end = args.intents as f64 / (produce_secs + deliver_secs);

    // Latency: a hazard registered with yesterday's deadline, its report's messages out of
    // the way; then an escalation round finds it overdue and its message reaches the receiver.
    let actor = Actor {
        user_id: Some(officer.id),
        login: officer.login.to_string(),
        ..Actor::system("bench")
    };
    let today = cfg.district.rules().today();
    let mut latencies = Vec::new();
    for r in 0..args.rounds {
        let new = xiaoan_store::hazards::NewHazard {
            school_id: school,
            category: Category::FireHeating,
            grade: Grade::General,
            source: Source::Patrol,
            location: Text::line("location", "教學樓三樓", 100).map_err(|e| anyhow!("{e}"))?,
            title: Text::line("title", &format!("走廊護欄鬆動 {r}"), 100)
                .map_err(|e| anyhow!("{e}"))?,
            description: Text::lines("description", "護欄螺栓鬆脫", 2000)
                .map_err(|e| anyhow!("{e}"))?,
            found_by: Name::parse("found_by", "安全專幹").map_err(|e| anyhow!("{e}"))?,
            found_on: today,
            attachments: vec![],
        };
        let h = xiaoan_store::hazards::create(
            &db,
            &actor,
            officer.id,
            &Scope::everything(),
            new,
            today,
        )
        .await?
        .hazard;
        // Registered with yesterday as its deadline: overdue from today on.
        sqlx::query("UPDATE hazards SET status = 'registered', deadline = $1 WHERE id = $2")
            .bind((today - chrono::Days::new(1)).to_string())
            .bind(h.id)
            .execute(db.pool())
            .await?;
        idle(&db).await?;
        let escalated = receiver.escalations.load(Ordering::SeqCst);
        let started = Instant::now();
        jobs::enqueue(
            &db,
            &NewJob {
                kind: "escalate".into(),
                payload: serde_json::json!({}),
                dedupe_key: Some(format!("bench-{r}")),
                run_at: now_millis(),
                max_attempts: 3,
            },
            now_millis(),
        )
        .await?;
        wait_for(
            &receiver.escalations,
            escalated + 1,
            Duration::from_secs(60),
        )
        .await?;
        latencies.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    let _ = stop.send(true);
    for w in workers {
        let _ = w.await;
    }
    let (lat50, lat99) = percentiles(&mut latencies);

    // Claiming: the queue's claim (one job at a time) and finish, against a bare update
    // that takes the next queued job and one that marks it done.
    let fill = |kind: &'static str| {
        let db = db.clone();
        let n = args.jobs;
        async move {
            for i in 0..n {
                jobs::enqueue(
                    &db,
                    &NewJob {
                        kind: kind.into(),
                        payload: serde_json::json!({ "i": i }),
                        dedupe_key: None,
                        run_at: 0,
                        max_attempts: 3,
                    },
                    0,
                )
                .await?;
            }
            anyhow::Ok(())
        }
    };
    fill("bench.bare").await?;
    let bare_claim = match db.backend() {
        xiaoan_store::Backend::Sqlite => {
            "UPDATE jobs SET state = 'running', lease_owner = $1, lease_until = $2, attempts = attempts + 1 \
             WHERE id = (SELECT id FROM jobs WHERE state = 'queued' AND kind = 'bench.bare' ORDER BY id LIMIT 1) RETURNING id"
        }
        xiaoan_store::Backend::Postgres => {
            "UPDATE jobs SET state = 'running', lease_owner = $1, lease_until = $2, attempts = attempts + 1 \
             WHERE id = (SELECT id FROM jobs WHERE state = 'queued' AND kind = 'bench.bare' ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id"
        }
    };
    let started = Instant::now();
    for _ in 0..args.jobs {
        let id: i64 = sqlx::query_scalar(bare_claim)
            .bind("bench".to_string())
            .bind(now_millis() + 60_000)
            .fetch_one(db.pool())
            .await?;
        sqlx::query("UPDATE jobs SET state = 'done', lease_owner = NULL WHERE id = $1")
            .bind(id)
            .execute(db.pool())
            .await?;
    }
    let bare_us = started.elapsed().as_secs_f64() * 1e6 / args.jobs as f64;
    sqlx::query("UPDATE jobs SET state = 'cancelled' WHERE state = 'queued'")
        .execute(db.pool())
        .await?;
    fill("bench.queue").await?;
    let started = Instant::now();
    let mut claimed = 0;
    while claimed < args.jobs {
        let got = jobs::claim(&db, "bench", now_millis(), 60_000, 1).await?;
        let Some(job) = got.first() else {
            return Err(anyhow!("the queue ran dry after {claimed} jobs"));
        };
        jobs::finish(&db, job.id, "bench", now_millis()).await?;
        claimed += 1;
    }
    let queue_us = started.elapsed().as_secs_f64() * 1e6 / args.jobs as f64;

    println!(
        "produce: {:.0} intents/s in their own transactions (bare one-row insert per transaction: {bare_insert_rate:.0}/s, ratio {:.2})",
        args.intents as f64 / produce_secs,
        args.intents as f64 / produce_secs / bare_insert_rate
    );
    println!(
        "deliver: {delivered_rate:.0} messages/s to the webhook receiver through the queue (sender straight to the receiver: {floor_rate:.0}/s, ratio {:.2}); end to end {end_to_end:.0}/s",
        delivered_rate / floor_rate
    );
    println!(
        "escalation round → message at the receiver: p50 {lat50:.0} ms, p99 {lat99:.0} ms over {} rounds (poll {} ms)",
        args.rounds, args.poll_millis
    );
    println!(
        "claim + finish: {queue_us:.0} µs per job (bare UPDATE … RETURNING + UPDATE: {bare_us:.0} µs, ratio {:.2})",
        queue_us / bare_us
    );
    db.close().await;
    Ok(())
}
