//! Two nodes on one PostgreSQL database: each message sent once, a killed node's job
//! finished by the other.

use super::*;

/// What the test's webhook receiver saw: the delivery id of each request, and whether it
/// was answered; when `hang_next` is set, the next request is never answered (the node
/// sending it is killed while it waits).
#[derive(Clone, Default)]
struct Hook {
    seen: std::sync::Arc<std::sync::Mutex<Vec<(String, bool)>>>,
    hang_next: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

async fn hook_receive(
    axum::extract::State(h): axum::extract::State<Hook>,
    body: String,
) -> (axum::http::StatusCode, &'static str) {
    let id = serde_json::from_str::<serde_json::Value>(&body).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let hang = h.hang_next.swap(false, std::sync::atomic::Ordering::SeqCst);
    h.seen.lock().unwrap().push((id, !hang));
    if hang {
        tokio::time::sleep(Duration::from_secs(600)).await;
    }
    (axum::http::StatusCode::OK, "ok")
}

fn start_node(url: &str) -> Server {
    start_with(
        url,
        &[
            ("XIAOAN_JOBS__POLL_MILLIS", "100"),
            ("XIAOAN_JOBS__LEASE_SECONDS", "3"),
            ("XIAOAN_NOTIFY__HTTP_TIMEOUT_SECONDS", "300"),
        ],
    )
}

/// Waits until the queue holds no notification work (the daily digest aside) and the
/// start-up escalation round has run.
async fn drained(db: &xiaoan_store::Db) {
    let started = Instant::now();
    loop {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the queue did not drain"
        );
        let (left, rounds): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM jobs WHERE kind LIKE 'notify.%' AND kind <> 'notify.digest' AND state IN ('queued', 'running')), \
             (SELECT COUNT(*) FROM jobs WHERE kind = 'escalate' AND state = 'done')",
        )
        .fetch_one(db.pool())
        .await
        .unwrap();
        if left == 0 && rounds > 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The channel deliveries sent, by id; none is left pending or dead.
async fn sent_deliveries(db: &xiaoan_store::Db) -> Vec<i64> {
    let not_sent: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM deliveries WHERE channel_id IS NOT NULL AND state IN ('pending', 'dead')",
    )
    .fetch_one(db.pool())
    .await
    .unwrap();
    assert_eq!(not_sent, 0);
    sqlx::query_scalar(
        "SELECT id FROM deliveries WHERE channel_id IS NOT NULL AND state = 'sent' ORDER BY id",
    )
    .fetch_all(db.pool())
    .await
    .unwrap()
}

/// The delivery ids the receiver answered, sorted.
fn answered(hook: &Hook) -> Vec<i64> {
    let mut v: Vec<i64> = hook
        .seen
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, ok)| *ok)
        .map(|(id, _)| id.trim_start_matches("delivery-").parse().unwrap())
        .collect();
    v.sort_unstable();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_on_one_postgres_send_each_message_once_and_finish_a_killed_nodes_job() {
    let url = empty_postgres().await;
    let dir = tempfile::tempdir().unwrap();
    let demo = xiaoan(&[
        "demo",
        "--no-serve",
        "--schools",
        "8",
        "--database",
        &url,
        "--data",
        dir.path().to_str().unwrap(),
    ]);
    assert!(demo.status.success(), "{demo:?}");
    let principal = stdout(&demo)
        .lines()
        .find_map(|l| l.strip_prefix("principal "))
        .map(|l| l.trim().to_string())
        .expect("a principal's login");
    // A webhook channel at the bureau and at every centre and school, all to one receiver.
    let hook = Hook::default();
    let app = axum::Router::new()
        .fallback(axum::routing::post(hook_receive))
        .with_state(hook.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let db = xiaoan_store::Db::connect(&url).await.unwrap();
    let admin: i64 = sqlx::query_scalar("SELECT MIN(id) FROM users")
        .fetch_one(db.pool())
        .await
        .unwrap();
    let orgs: Vec<i64> = sqlx::query_scalar("SELECT id FROM orgs ORDER BY id")
        .fetch_all(db.pool())
        .await
        .unwrap();
    for org in &orgs {
        let new = xiaoan_store::notify::NewChannel {
            org_id: *org,
            kind: "webhook".into(),
            name: "值班機器人".into(),
            target: hook_url.clone(),
            secret: Some("a-shared-secret-of-the-receiver".into()),
            events: vec![],
        };
        xiaoan_store::notify::create_channel(
            &db,
            &xiaoan_domain::audit::Actor::system("test"),
            admin,
            &new,
            xiaoan_domain::now_millis(),
        )
        .await
        .unwrap();
    }
    // Both nodes work the demo's notifications and the start-up escalation: each message once.
    let mut nodes = [start_node(&url), start_node(&url)];
    drained(&db).await;
    let sent = sent_deliveries(&db).await;
    assert!(
        sent.len() > 20,
        "the demo's hazards and escalations reached the channels ({})",
        sent.len()
    );
    assert_eq!(answered(&hook), sent, "each delivery answered exactly once");
    assert_eq!(hook.seen.lock().unwrap().len(), sent.len());
    let twice: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM (SELECT hazard_id FROM hazard_events WHERE action IN ('list', 'escalate') GROUP BY hazard_id, action HAVING COUNT(*) > 1) t",
    )
    .fetch_one(db.pool())
    .await
    .unwrap();
    assert_eq!(twice, 0, "no hazard escalated or listed twice");

    // A new hazard's message hangs at the receiver: the node holding its job is killed -9,
    // and the other sends it once its lease lapses.
    hook.hang_next
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let (status, body) = http(
        &nodes[0].addr,
        "POST",
        "/api/v1/auth/login",
        None,
        &format!(r#"{{"username":"{principal}","password":"Demo-Xiaoan-2026"}}"#),
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    let token = serde_json::from_str::<serde_json::Value>(&body).unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let school: i64 = sqlx::query_scalar("SELECT org_id FROM users WHERE login = $1")
        .bind(principal.clone())
        .fetch_one(db.pool())
        .await
        .unwrap();
    let report = format!(
        r#"{{"school_id":{school},"category":"fire_heating","location":"食堂後廚","title":"電線私拉亂接","description":"插座串接多個排插"}}"#
    );
    let (status, body) = http(
        &nodes[0].addr,
        "POST",
        "/api/v1/hazards",
        Some(&token),
        &report,
    )
    .unwrap();
    assert_eq!(status, 201, "{body}");
    let started = Instant::now();
    let hung = loop {
        assert!(started.elapsed() < Duration::from_secs(60), "no message");
        let hung = hook
            .seen
            .lock()
            .unwrap()
            .iter()
            .find(|(_, ok)| !*ok)
            .map(|(id, _)| id.clone());
        if let Some(id) = hung {
            break id;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let delivery: i64 = hung.trim_start_matches("delivery-").parse().unwrap();
    let payload = format!("{{\"delivery\":{delivery}}}");
    let owner: String = sqlx::query_scalar(
        "SELECT lease_owner FROM jobs WHERE kind = 'notify.deliver' AND payload = $1 AND state = 'running'",
    )
    .bind(payload.clone())
    .fetch_one(db.pool())
    .await
    .unwrap();
    let pid: u32 = owner.rsplit('-').nth(1).unwrap().parse().unwrap();
    let victim = nodes.iter().position(|n| n.child.id() == pid).unwrap();
    nodes[victim].child.kill().unwrap();
    nodes[victim].child.wait().unwrap();
    let survivor = nodes[1 - victim].child.id();
    drained(&db).await;
    let now_sent = sent_deliveries(&db).await;
    assert!(now_sent.contains(&delivery));
    assert_eq!(
        answered(&hook),
        now_sent,
        "each delivery answered exactly once"
    );
    let seen = hook.seen.lock().unwrap().clone();
    assert_eq!(
        seen.len(),
        now_sent.len() + 1,
        "one unanswered request: the hung one"
    );
    assert_eq!(seen.iter().filter(|(id, _)| *id == hung).count(), 2);
    let (state, attempts): (String, i64) =
        sqlx::query_as("SELECT state, attempts FROM jobs WHERE payload = $1")
            .bind(payload)
            .fetch_one(db.pool())
            .await
            .unwrap();
    assert_eq!((state.as_str(), attempts), ("done", 2));
    let by: Vec<String> =
        sqlx::query_scalar("SELECT node FROM delivery_attempts WHERE delivery_id = $1")
            .bind(delivery)
            .fetch_all(db.pool())
            .await
            .unwrap();
    assert_eq!(by.len(), 1, "one recorded attempt: the survivor's");
    assert!(by[0].contains(&format!("-{survivor}-")), "{by:?}");
    for n in &mut nodes {
        let _ = n.child.kill();
        let _ = n.child.wait();
    }
}
