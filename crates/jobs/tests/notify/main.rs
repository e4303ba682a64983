//! Notifications end to end through the job queue, on both backends: an overdue major
//! hazard is listed and told to the principal's inbox and to the bureau's DingTalk robot
//! (signature checked here by DingTalk's published rule), a webhook that fails three times
//! is retried until it answers with every attempt recorded, and two workers on one
//! database deliver each message exactly once; a smoke alarm and an uncovered video area
//! become hazards (monitoring.rs).

#![allow(clippy::unwrap_used)]

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use base64::Engine;
use chrono::Days;
use hmac::{KeyInit, Mac};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use xiaoan_domain::hazard::{Action, Category, Escalation, Grade, Source};
use xiaoan_domain::text::{Name, Text};
use xiaoan_domain::{Role, Scope, now_millis};
use xiaoan_jobs::kinds::{Ctx, all};
use xiaoan_jobs::worker::{Registry, WorkerSettings, run_job, schedule};
use xiaoan_jobs::{JobSettings, NotifySettings};
use xiaoan_store::Db;
use xiaoan_store::hazards::{self, NewHazard, Powers};
use xiaoan_store::notify::{self, NewChannel};
use xiaoan_testkit::{Tree, tree};

mod monitoring;

/// What the receiver saw: the request's query, headers and body.
#[derive(Clone, Debug)]
struct Seen {
    query: String,
    headers: HeaderMap,
    body: String,
}

#[derive(Clone, Default)]
struct Receiver {
    seen: Arc<Mutex<Vec<Seen>>>,
    /// Answers to give before answering well.
    failures_left: Arc<Mutex<u32>>,
}

async fn receive(
    State(r): State<Receiver>,
    uri: Uri,
    headers: HeaderMap,
    body: String,
) -> (StatusCode, String) {
    r.seen.lock().unwrap().push(Seen {
        query: uri.query().unwrap_or("").to_string(),
        headers,
        body,
    });
    let mut left = r.failures_left.lock().unwrap();
    if *left > 0 {
        *left -= 1;
        return (StatusCode::INTERNAL_SERVER_ERROR, "busy".into());
    }
    (StatusCode::OK, r#"{"errcode":0,"errmsg":"ok"}"#.into())
}

async fn receiver(failures: u32) -> (Receiver, String) {
    let r = Receiver::default();
    *r.failures_left.lock().unwrap() = failures;
    let app = axum::Router::new()
        .fallback(axum::routing::post(receive))
        .with_state(r.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (r, format!("http://{addr}"))
}

fn settings() -> JobSettings {
    JobSettings {
        interval: Duration::from_secs(60),
        district: xiaoan_domain::District::default(),
        storage_dir: std::env::temp_dir(),
        unreferenced_upload_grace: Duration::from_secs(24 * 3600),
        reading_retention: Duration::from_secs(400 * 86_400),
        alarm_escalation: xiaoan_domain::iot::Escalation::default(),
        notify: NotifySettings {
            retry: xiaoan_store::jobs::Retry {
                base_ms: 1_000,
                max_ms: 10_000,
                max_attempts: 5,
            },
            ..NotifySettings::default()
        },
    }
}

fn ctx(db: &Db, node: &str) -> (Arc<Ctx>, Arc<Registry>) {
    let s = settings();
    let registry = Arc::new(Registry::new(all(&s)));
    let ctx = Arc::new(Ctx {
        db: db.clone(),
        settings: s,
        sender: xiaoan_notify::Sender::new(None, Duration::from_secs(5)),
        node: node.to_string(),
    });
    (ctx, registry)
}

/// Claims and runs due jobs (as of `at`, or now if later) until none are due; how many ran.
async fn drain(ctx: &Arc<Ctx>, registry: &Arc<Registry>, at: i64) -> usize {
    let mut ran = 0;
    loop {
        let batch =
            xiaoan_store::jobs::claim(&ctx.db, &ctx.node, at.max(now_millis() + 1), 30_000, 50)
                .await
                .unwrap();
        if batch.is_empty() {
            return ran;
        }
        for job in batch {
            ran += 1;
            run_job(ctx.clone(), registry.clone(), job, Duration::from_secs(30)).await;
        }
    }
}

struct School {
    tree: Tree,
    safety: xiaoan_store::users::User,
    principal: xiaoan_store::users::User,
    bureau_safety: xiaoan_store::users::User,
}

async fn school(db: &Db) -> School {
    let tree = Tree::create(db).await;
    let safety = tree::role_user(db, "safety-a", Role::SafetyOfficer, tree.school_a).await;
    let principal = tree::role_user(db, "principal-a", Role::Principal, tree.school_a).await;
    let bureau_safety = tree::role_user(db, "bureau-safety", Role::BureauSafety, tree.bureau).await;
    School {
        tree,
        safety,
        principal,
        bureau_safety,
    }
}

/// Reports a hazard at school A as its safety officer, found `days_ago`.
async fn report(db: &Db, s: &School, grade: Grade, title: &str, days_ago: u64) -> hazards::Hazard {
    let today = xiaoan_domain::District::default().today();
    let found = today - Days::new(days_ago);
    let school = xiaoan_store::orgs::get(db, &Scope::everything(), s.tree.school_a)
        .await
        .unwrap();
    let new = NewHazard {
        school_id: s.tree.school_a,
        category: Category::FireHeating,
        grade,
        source: Source::Patrol,
        location: Text::line("location", "鍋爐房", 100).unwrap(),
        title: Text::line("title", title, 100).unwrap(),
        description: Text::lines("description", "壓力表指針卡滯", 2000).unwrap(),
        found_by: Name::parse("found_by", "安全專幹").unwrap(),
        found_on: found,
        attachments: vec![],
    };
    hazards::create(
        db,
        &tree::actor_of(&s.safety),
        s.safety.id,
        &Scope::subtree(&school.path),
        new,
        found,
    )
    .await
    .unwrap()
    .hazard
}

async fn channel(
    db: &Db,
    s: &School,
    org: i64,
    kind: &str,
    url: &str,
    secret: Option<&str>,
) -> i64 {
    let new = NewChannel {
        org_id: org,
        kind: kind.into(),
        name: format!("{kind} robot"),
        target: url.into(),
        secret: secret.map(str::to_string),
        events: vec![],
    };
    notify::create_channel(
        db,
        &tree::actor_of(&s.bureau_safety),
        s.bureau_safety.id,
        &new,
        now_millis(),
    )
    .await
    .unwrap()
}

const DING_SECRET: &str = "SEC0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd";

/// DingTalk's rule: sign = urlencode(base64(HMAC-SHA256(secret, "{timestamp}\n{secret}"))).
fn dingtalk_signature_is_valid(query: &str) -> bool {
    let mut ts = None;
    let mut sign = None;
    for pair in query.split('&') {
        if let Some((k, v)) = pair.split_once('=') {
            let v = percent_encoding::percent_decode_str(v)
                .decode_utf8()
                .unwrap()
                .to_string();
            match k {
                "timestamp" => ts = Some(v),
                "sign" => sign = Some(v),
                _ => {}
            }
        }
    }
    let (Some(ts), Some(sign)) = (ts, sign) else {
        return false;
    };
    let mut mac =
        hmac::Hmac::<sha2_receiver::Sha256>::new_from_slice(DING_SECRET.as_bytes()).unwrap();
    mac.update(format!("{ts}\n{DING_SECRET}").as_bytes());
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    let age = now_millis() - ts.parse::<i64>().unwrap();
    expected == sign && (0..3_600_000).contains(&age)
}

async fn an_overdue_major_hazard_reaches_the_principal_and_the_bureau_robot(db: &Db) {
    let s = school(db).await;
    let (robot, url) = receiver(0).await;
    channel(
        db,
        &s,
        s.tree.bureau,
        "dingtalk",
        &format!("{url}/robot/send?access_token=k"),
        Some(DING_SECRET),
    )
    .await;
    let (ctx, registry) = ctx(db, "node-a");
    let h = report(db, &s, Grade::Major, "鍋爐壓力表失效", 12).await;
    let scope = Scope::subtree(
        &xiaoan_store::orgs::get(db, &Scope::everything(), s.tree.school_a)
            .await
            .unwrap()
            .path,
    );
    let powers = Powers {
        user_id: s.safety.id,
        manage: scope.clone(),
        verify: scope.clone(),
    };
    let past = xiaoan_domain::District::default().today() - Days::new(12);
    let register = Action::Register {
        owner_id: s.safety.id,
        measures: "更換壓力表".into(),
        deadline: past + Days::new(2),
        grade: None,
    };
    hazards::transition(
        db,
        &tree::actor_of(&s.safety),
        &powers,
        &scope,
        h.id,
        register,
        past,
    )
    .await
    .unwrap();
    // Nobody acts: the worker's periodic escalation runs, then the notifications it wrote.
    let now = now_millis();
    assert!(schedule(db, &registry, now).await >= 1);
    assert!(drain(&ctx, &registry, now + 1).await >= 3);
    let today = xiaoan_domain::District::default().today();
    assert_eq!(
        hazards::get(db, &scope, h.id, today)
            .await
            .unwrap()
            .escalation,
        Escalation::Listed
    );
    let inbox = notify::list_inbox(db, s.principal.id, true, None, 50)
        .await
        .unwrap();
    let events: Vec<&str> = inbox.iter().map(|e| e.event.as_str()).collect();
    assert!(events.contains(&"hazard.listed"), "{events:?}");
    assert!(events.contains(&"hazard.reported"), "{events:?}");
    assert_eq!(
        notify::unread_count(db, s.bureau_safety.id).await.unwrap(),
        1,
        "the bureau's office hears of the listing"
    );
    // The safety officer did the reporting and the registering: told only of the listing.
    let own: Vec<String> = notify::list_inbox(db, s.safety.id, false, None, 50)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event)
        .collect();
    assert_eq!(own, ["hazard.listed"]);
    let seen = robot.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "one message to the bureau's robot");
    assert!(
        dingtalk_signature_is_valid(&seen[0].query),
        "{}",
        seen[0].query
    );
    let body: serde_json::Value = serde_json::from_str(&seen[0].body).unwrap();
    assert_eq!(body["msgtype"], "markdown");
    let text = body["markdown"]["text"].as_str().unwrap();
    assert!(
        text.contains("掛牌督辦")
            && text.contains(&h.number)
            && text.contains(&format!("/hazards/{}", h.id)),
        "{text}"
    );
    // A second slot's escalation finds nothing new: no second message.
    let later = now + 120_000;
    schedule(db, &registry, later).await;
    drain(&ctx, &registry, later + 1).await;
    assert_eq!(robot.seen.lock().unwrap().len(), 1);
    assert_eq!(
        notify::unread_count(db, s.bureau_safety.id).await.unwrap(),
        1
    );
}
xiaoan_testkit::both_backends!(
    overdue_major_hazard,
    an_overdue_major_hazard_reaches_the_principal_and_the_bureau_robot
);

async fn a_failing_webhook_is_retried_until_it_answers(db: &Db) {
    let s = school(db).await;
    let (hook, url) = receiver(3).await;
    let id = channel(
        db,
        &s,
        s.tree.school_a,
        "webhook",
        &format!("{url}/hook"),
        Some("a-webhook-secret-of-some-length"),
    )
    .await;
    let (ctx, registry) = ctx(db, "node-a");
    report(db, &s, Grade::General, "樓梯扶手鬆動", 0).await;
    // Each pass runs what is due as of an hour later than the last: the backoff has passed.
    let mut at = now_millis();
    for _ in 0..6 {
        drain(&ctx, &registry, at).await;
        at += 3_600_000;
    }
    let seen = hook.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 4, "three failures, then the answer");
    let keys: Vec<&str> = seen
        .iter()
        .map(|r| r.headers["idempotency-key"].to_str().unwrap())
        .collect();
    assert!(
        keys.iter().all(|k| *k == keys[0]),
        "one delivery retried: {keys:?}"
    );
    let delivery: i64 = keys[0].trim_start_matches("delivery-").parse().unwrap();
    let attempts = notify::attempts_of(db, delivery).await.unwrap();
    let shape: Vec<(i64, Option<i64>)> = attempts.iter().map(|a| (a.ok, a.status)).collect();
    assert_eq!(
        shape,
        [
            (0, Some(500)),
            (0, Some(500)),
            (0, Some(500)),
            (1, Some(200))
        ]
    );
    let ch = notify::list_channels(db, &[s.tree.school_a]).await.unwrap();
    let ch = ch.iter().find(|c| c.id == id).unwrap();
    assert_eq!(ch.failures, 0, "healthy again after the answer");
    assert!(ch.last_error.as_deref().unwrap().contains("500"));
    assert!(ch.last_ok_at.is_some());
}
xiaoan_testkit::both_backends!(
    failing_webhook,
    a_failing_webhook_is_retried_until_it_answers
);

async fn two_workers_deliver_each_message_once(db: &Db) {
    let s = school(db).await;
    let (hook, url) = receiver(0).await;
    channel(
        db,
        &s,
        s.tree.school_a,
        "webhook",
        &format!("{url}/hook"),
        Some("a-webhook-secret-of-some-length"),
    )
    .await;
    for i in 0..20 {
        report(db, &s, Grade::General, &format!("走廊燈不亮 {i}"), 0).await;
    }
    let (a, registry) = ctx(db, "node-a");
    let (b, _) = ctx(db, "node-b");
    let quick = |node: &str| WorkerSettings {
        node: node.into(),
        poll: Duration::from_millis(50),
        lease: Duration::from_secs(30),
        batch: 4,
    };
    let (stop, stopped) = tokio::sync::watch::channel(());
    let run = |ctx: Arc<Ctx>, node: &str| {
        let mut stopped = stopped.clone();
        tokio::spawn(xiaoan_jobs::worker::run(
            ctx,
            registry.clone(),
            quick(node),
            async move {
                let _ = stopped.changed().await;
            },
        ))
    };
    let (ja, jb) = (run(a, "node-a"), run(b, "node-b"));
    for _ in 0..200 {
        if hook.seen.lock().unwrap().len() >= 20 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.send(()).unwrap();
    ja.await.unwrap();
    jb.await.unwrap();
    let seen = hook.seen.lock().unwrap().clone();
    let mut keys: Vec<String> = seen
        .iter()
        .map(|r| r.headers["idempotency-key"].to_str().unwrap().to_string())
        .collect();
    keys.sort();
    keys.dedup();
    assert_eq!(
        (seen.len(), keys.len()),
        (20, 20),
        "every report once, none twice"
    );
}
xiaoan_testkit::both_backends!(two_workers, two_workers_deliver_each_message_once);
