//! The `xiaoan` binary as an operator uses it: config, migrate, user administration, audit
//! verification, and a kill -9 in the middle of writes.

// Test code: a failed unwrap is a failed test, and helpers outside #[test] functions are
// not covered by clippy.toml's allow-unwrap-in-tests.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_xiaoan");

fn xiaoan(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("XIAOAN_CONFIG")
        .output()
        .expect("run xiaoan")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A fresh database with the first-run administrator and an operator account `ops` (a
/// system administrator whose password is known).
fn fresh_db(dir: &tempfile::TempDir) -> String {
    let url = format!("sqlite://{}", dir.path().join("x.db").display());
    let first = xiaoan(&["migrate", "--database", &url]);
    assert!(first.status.success(), "{first:?}");
    assert!(
        stdout(&first).contains("one-time password"),
        "first run announces the admin password"
    );
    let second = xiaoan(&["migrate", "--database", &url]);
    assert!(!stdout(&second).contains("one-time password"), "only once");
    let add = xiaoan(&[
        "user",
        "add",
        "ops",
        "--name",
        "運維值班",
        "--org",
        "BUREAU",
        "--role",
        "system_admin",
        "--password",
        "Harbour-Lantern-73!",
        "--database",
        &url,
    ]);
    assert!(add.status.success(), "{add:?}");
    url
}

#[test]
fn config_prints_the_documented_defaults() {
    let o = xiaoan(&["config"]);
    assert!(o.status.success());
    let text = stdout(&o);
    assert!(text.contains("[database]") && text.contains("session_idle_minutes = 30"));
}

#[test]
fn users_are_listed_as_json_with_roles_and_org() {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_db(&dir);
    let weak = xiaoan(&[
        "user",
        "add",
        "weak",
        "--name",
        "弱密碼",
        "--org",
        "BUREAU",
        "--password",
        "123456",
        "--database",
        &url,
    ]);
    assert!(!weak.status.success(), "a weak password is refused");
    let o = xiaoan(&["user", "list", "--json", "--database", &url]);
    assert!(o.status.success());
    let list: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("json");
    let ops = list
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["login"] == "ops")
        .expect("ops listed");
    assert_eq!(ops["org_code"], "BUREAU");
    assert_eq!(ops["roles"][0]["role"], "system_admin");
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|u| u["login"] != "weak")
    );
    let d = xiaoan(&["user", "disable", "ops", "--database", &url]);
    assert!(d.status.success());
    let o = xiaoan(&["user", "list", "--json", "--database", &url]);
    assert!(stdout(&o).contains("\"disabled\": true"));
}

#[tokio::test]
async fn audit_verify_finds_an_edited_row() {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_db(&dir);
    let ok = xiaoan(&["audit", "verify", "--database", &url]);
    assert!(ok.status.success(), "{ok:?}");
    assert!(stdout(&ok).contains("intact"));
    let db = xiaoan_store::Db::connect(&url).await.unwrap();
    sqlx::query("DROP TRIGGER audit_log_no_update")
        .execute(db.pool())
        .await
        .unwrap();
    sqlx::query("UPDATE audit_log SET actor_login = 'someone-else' WHERE seq = 2")
        .execute(db.pool())
        .await
        .unwrap();
    db.close().await;
    let bad = xiaoan(&["audit", "verify", "--database", &url]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stdout(&bad).contains("BROKEN at entry 2"),
        "{}",
        stdout(&bad)
    );
}

#[tokio::test]
async fn audit_verify_with_a_kept_head_finds_a_cut_tail() {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_db(&dir);
    let h = xiaoan(&["audit", "head", "--database", &url]);
    assert!(h.status.success(), "{h:?}");
    let head = stdout(&h).trim().to_string();
    assert_eq!(head.len(), 64, "a SHA-256 in hex: {head}");
    let ok = xiaoan(&["audit", "verify", "--head", &head, "--database", &url]);
    assert!(ok.status.success(), "{}", stdout(&ok));
    // A newer entry after the kept head still verifies.
    let more = xiaoan(&["user", "disable", "ops", "--database", &url]);
    assert!(more.status.success(), "{more:?}");
    let ok = xiaoan(&["audit", "verify", "--head", &head, "--database", &url]);
    assert!(ok.status.success(), "{}", stdout(&ok));

    // Cut the two newest entries and rewrite the head row to match what is left.
    let db = xiaoan_store::Db::connect(&url).await.unwrap();
    sqlx::query("DROP TRIGGER audit_log_no_delete")
        .execute(db.pool())
        .await
        .unwrap();
    let n: i64 = sqlx::query_scalar("SELECT MAX(seq) FROM audit_log")
        .fetch_one(db.pool())
        .await
        .unwrap();
    sqlx::query("DELETE FROM audit_log WHERE seq >= $1")
        .bind(n - 1)
        .execute(db.pool())
        .await
        .unwrap();
    sqlx::query(
        "UPDATE audit_head SET seq = (SELECT MAX(seq) FROM audit_log), \
         hash = (SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1) WHERE id = 1",
    )
    .execute(db.pool())
    .await
    .unwrap();
    db.close().await;
    let plain = xiaoan(&["audit", "verify", "--database", &url]);
    assert!(
        plain.status.success(),
        "without a kept head a cut tail looks intact: {}",
        stdout(&plain)
    );
    let bad = xiaoan(&["audit", "verify", "--head", &head, "--database", &url]);
    assert_eq!(bad.status.code(), Some(1), "{}", stdout(&bad));
    assert!(stdout(&bad).contains("TRUNCATED"), "{}", stdout(&bad));
}

struct Server {
    child: Child,
    addr: String,
}

fn start(url: &str) -> Server {
    start_with(url, &[])
}

/// `xiaoan serve` on a free port of `url`'s database, with `env` settings; waits for the
/// line that names its address.
fn start_with(url: &str, env: &[(&str, &str)]) -> Server {
    let mut child = Command::new(BIN)
        .args(["serve", "--addr", "127.0.0.1:0", "--database", url])
        .env_remove("XIAOAN_CONFIG")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start server");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains("http://"), "{line}");
    let addr = line
        .trim()
        .rsplit("http://")
        .next()
        .unwrap()
        .trim_end_matches('/')
        .to_string();
    Server { child, addr }
}

/// One HTTP/1.1 request with `Connection: close`; returns status and body.
fn http(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\n{auth}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut raw = String::new();
    s.read_to_string(&mut raw)?;
    let status = raw.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = raw
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

#[tokio::test]
async fn kill_9_during_writes_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_db(&dir);
    let mut server = start(&url);
    let (status, body) = http(
        &server.addr,
        "POST",
        "/api/v1/auth/login",
        None,
        r#"{"username":"ops","password":"Harbour-Lantern-73!"}"#,
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    let token: String = serde_json::from_str::<serde_json::Value>(&body).unwrap()["token"]
        .as_str()
        .unwrap()
        .into();
    let bureau: serde_json::Value = serde_json::from_str(
        &http(
            &server.addr,
            "GET",
            "/api/v1/orgs?kind=bureau",
            Some(&token),
            "",
        )
        .unwrap()
        .1,
    )
    .unwrap();
    let bureau_id = bureau[0]["id"].as_i64().unwrap();
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (addr, token) = (server.addr.clone(), token.clone());
            std::thread::spawn(move || {
                let mut acked = Vec::new();
                let started = Instant::now();
                for i in 0.. {
                    if started.elapsed() > Duration::from_secs(20) {
                        break;
                    }
                    let code = format!("K{w}-{i}");
                    let body = format!(r#"{{"kind":"centre","code":"{code}","name":"壓測中心{w}-{i}","parent_id":{bureau_id}}}"#);
                    match http(&addr, "POST", "/api/v1/orgs", Some(&token), &body) {
                        Ok((201, _)) => acked.push(code),
                        // The server is gone: a refused connection or no answer.
                        Err(_) | Ok((0, _)) => break,
                        Ok((status, b)) => panic!("unexpected {status}: {b}"),
                    }
                }
                acked
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    server.child.kill().expect("kill -9");
    server.child.wait().unwrap();
    let acked: Vec<String> = writers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    assert!(
        acked.len() > 10,
        "the server acknowledged writes before the kill ({})",
        acked.len()
    );

    let db = xiaoan_store::Db::connect(&url).await.unwrap();
    let check: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(check, "ok");
    let stored: Vec<String> = sqlx::query_scalar("SELECT code FROM orgs")
        .fetch_all(db.pool())
        .await
        .unwrap();
    let missing: Vec<&String> = acked.iter().filter(|c| !stored.contains(c)).collect();
    assert!(missing.is_empty(), "acknowledged but lost: {missing:?}");
    assert!(matches!(
        xiaoan_store::audit::verify(&db).await.unwrap(),
        xiaoan_store::audit::Verification::Intact { .. }
    ));
}

#[test]
fn a_malformed_plan_is_refused_precisely_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_db(&dir);
    let seed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../plans/edu-safety-3yr.toml"
    ))
    .unwrap();
    let good = dir.path().join("plan.toml");
    std::fs::write(&good, &seed).unwrap();
    let check = xiaoan(&["plan", "check", good.to_str().unwrap()]);
    assert!(check.status.success(), "{check:?}");
    assert!(stdout(&check).contains("6 main"), "{}", stdout(&check));

    // One cadence misspelt: refused with its file, line and column; nothing loaded.
    let at = seed.find("cadence = \"quarter\"").unwrap();
    let line = seed[..at].matches('\n').count() + 1;
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        seed.replacen("cadence = \"quarter\"", "cadence = \"quartely\"", 1),
    )
    .unwrap();
    let o = xiaoan(&["plan", "load", bad.to_str().unwrap(), "--database", &url]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!("bad.toml:{line}:11: unknown cadence \"quartely\"")),
        "{err}"
    );
    assert!(err.contains("nothing was loaded"), "{err}");
    let list = xiaoan(&["plan", "list", "--database", &url]);
    assert!(
        stdout(&list).contains("no plan loaded"),
        "{}",
        stdout(&list)
    );

    // The good file loads once; loading it again changes nothing; an edit is a new version.
    let first = xiaoan(&["plan", "load", good.to_str().unwrap(), "--database", &url]);
    assert!(stdout(&first).contains("as v1"), "{first:?}");
    let again = xiaoan(&["plan", "load", good.to_str().unwrap(), "--database", &url]);
    assert!(stdout(&again).contains("unchanged"), "{again:?}");
    std::fs::write(
        &good,
        seed.replacen("record_edit_hours = 24", "record_edit_hours = 48", 1),
    )
    .unwrap();
    let second = xiaoan(&["plan", "load", good.to_str().unwrap(), "--database", &url]);
    assert!(stdout(&second).contains("as v2"), "{second:?}");
    let list = stdout(&xiaoan(&["plan", "list", "--database", &url]));
    assert!(
        list.contains("* edu-safety-3yr") && list.contains("v1"),
        "{list}"
    );
}

#[tokio::test]
async fn the_demo_is_mid_campaign_and_its_matrix_shows_every_status() {
    let dir = tempfile::tempdir().unwrap();
    let o = xiaoan(&[
        "demo",
        "--no-serve",
        "--schools",
        "24",
        "--data",
        dir.path().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{o:?}");
    assert!(stdout(&o).contains("集中攻堅"), "{}", stdout(&o));
    let url = format!("sqlite://{}", dir.path().join("xiaoan-demo.db").display());
    let db = xiaoan_store::Db::connect(&url).await.unwrap();
    let plan = xiaoan_store::plans::active(&db)
        .await
        .unwrap()
        .expect("a plan");
    let cal = xiaoan_store::calendar::load(&db).await.unwrap();
    let today = xiaoan_domain::District::default().today();
    assert!(plan.plan.starts_on < today && today < plan.plan.ends_on);
    // Every demo record names its author's account, so pages show a person, not a login;
    // only those the system computes (video from the camera inventory) are its own.
    let (unnamed,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM records WHERE author_id IS NULL AND author_login NOT LIKE 'system:%'",
    )
    .fetch_one(db.pool())
    .await
    .unwrap();
    assert_eq!(unnamed, 0);
    let q = xiaoan_store::compliance::MatrixQuery {
        period: xiaoan_domain::compliance::Period::month_of(today),
        under: None,
        school_type: None,
        name: None,
        obligations: vec![],
        offset: 0,
        limit: 100,
    };
    let m = xiaoan_store::compliance::matrix(
        &db,
        &xiaoan_domain::Scope::everything(),
        &plan,
        &cal,
        today,
        &q,
    )
    .await
    .unwrap();
    let seen: std::collections::BTreeSet<&str> = m
        .rows
        .iter()
        .flat_map(|r| r.cells.iter().map(|c| c.status.code()))
        .collect();
    for s in ["met", "due", "overdue", "missed", "not_applicable"] {
        assert!(seen.contains(s), "no {s} cell this month: {seen:?}");
    }
}

#[tokio::test]
async fn jobs_are_listed_retried_and_cancelled_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_db(&dir);
    let db = xiaoan_store::Db::connect(&url).await.unwrap();
    let now = xiaoan_domain::now_millis();
    let new = |kind: &str| xiaoan_store::jobs::NewJob {
        kind: kind.into(),
        payload: serde_json::json!({}),
        dedupe_key: None,
        run_at: now + 3_600_000,
        max_attempts: 1,
    };
    let queued = xiaoan_store::jobs::enqueue(&db, &new("remind"), now)
        .await
        .unwrap()
        .unwrap();
    let failing = xiaoan_store::jobs::enqueue(&db, &new("deliver"), now)
        .await
        .unwrap()
        .unwrap();
    // The deliver job fails its one attempt: dead, its error kept.
    let later = now + 3_600_001;
    let claimed = xiaoan_store::jobs::claim(&db, "node-1", later, 30_000, 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 2);
    let retry = xiaoan_store::jobs::Retry {
        base_ms: 1000,
        max_ms: 60_000,
        max_attempts: 1,
    };
    assert!(
        xiaoan_store::jobs::fail(&db, failing, "node-1", "HTTP 502", &retry, 0.0, later)
            .await
            .unwrap()
    );
    assert!(
        xiaoan_store::jobs::fail(&db, queued, "node-1", "HTTP 500", &retry, 0.0, later)
            .await
            .unwrap()
    );
    // Both dead; retry one, which is queued again, and cancel it.
    db.close().await;
    let list = xiaoan(&["jobs", "list", "--state", "dead", "--database", &url]);
    assert!(list.status.success(), "{list:?}");
    let text = stdout(&list);
    assert!(
        text.contains("deliver") && text.contains("HTTP 502") && text.contains("remind"),
        "{text}"
    );
    let r = xiaoan(&["jobs", "retry", &failing.to_string(), "--database", &url]);
    assert!(r.status.success(), "{r:?}");
    assert!(stdout(&r).contains("queued"), "{}", stdout(&r));
    let again = xiaoan(&["jobs", "retry", &failing.to_string(), "--database", &url]);
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("is queued"),
        "{again:?}"
    );
    let c = xiaoan(&["jobs", "cancel", &failing.to_string(), "--database", &url]);
    assert!(
        c.status.success() && stdout(&c).contains("cancelled"),
        "{c:?}"
    );
    let missing = xiaoan(&["jobs", "cancel", "999999", "--database", &url]);
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no job 999999"));
    let bad = xiaoan(&["jobs", "list", "--state", "lost", "--database", &url]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown state"));
    // The changes are in the audit log.
    let db = xiaoan_store::Db::connect(&url).await.unwrap();
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM audit_log WHERE action IN ('job.retry', 'job.cancel')",
    )
    .fetch_one(db.pool())
    .await
    .unwrap();
    assert_eq!(n, 2);
}

/// A new, empty PostgreSQL database on the test server (`XIAOAN_TEST_PG`); its URL.
async fn empty_postgres() -> String {
    let admin_url = std::env::var("XIAOAN_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let admin = xiaoan_store::Db::connect(&admin_url)
        .await
        .expect("PostgreSQL must be reachable for the tests (XIAOAN_TEST_PG)");
    let name = format!("xiaoan_t_{:016x}", rand::random::<u64>());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(admin.pool())
        .await
        .unwrap();
    admin.close().await;
    let base = admin_url.rsplit_once('/').map_or(&*admin_url, |(b, _)| b);
    format!("{base}/{name}")
}

/// Row counts that describe a demo district.
async fn demo_counts(url: &str) -> Vec<(&'static str, i64)> {
    let db = xiaoan_store::Db::connect(url).await.unwrap();
    let mut out = Vec::new();
    for table in [
        "orgs",
        "users",
        "hazards",
        "hazard_events",
        "records",
        "attachments",
        "plans",
    ] {
        let n: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
                .fetch_one(db.pool())
                .await
                .unwrap();
        out.push((table, n));
    }
    db.close().await;
    out
}

#[tokio::test]
async fn the_demo_builds_the_same_district_on_postgres_and_refuses_a_database_in_use() {
    let url = empty_postgres().await;
    let pg_dir = tempfile::tempdir().unwrap();
    let lite_dir = tempfile::tempdir().unwrap();
    let demo = |dir: &tempfile::TempDir, db: Option<&str>, reset: bool| {
        let mut args = vec![
            "demo",
            "--no-serve",
            "--schools",
            "12",
            "--data",
            dir.path().to_str().unwrap(),
        ];
        if let Some(db) = db {
            args.extend(["--database", db]);
        }
        if reset {
            args.push("--reset");
        }
        xiaoan(&args)
    };
    let on_pg = demo(&pg_dir, Some(&url), false);
    assert!(on_pg.status.success(), "{on_pg:?}");
    assert!(stdout(&on_pg).contains("principal"), "{}", stdout(&on_pg));
    let on_lite = demo(&lite_dir, None, false);
    assert!(on_lite.status.success(), "{on_lite:?}");
    let lite_url = format!(
        "sqlite://{}",
        lite_dir.path().join("xiaoan-demo.db").display()
    );
    let pg_counts = demo_counts(&url).await;
    assert_eq!(pg_counts, demo_counts(&lite_url).await);
    assert!(pg_counts.iter().all(|(_, n)| *n > 0), "{pg_counts:?}");
    // A second run would wipe a database someone may be using: refused, nothing changed.
    let again = demo(&pg_dir, Some(&url), false);
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("--reset"),
        "{again:?}"
    );
    assert_eq!(demo_counts(&url).await, pg_counts);
    // With --reset it is rebuilt from nothing: the same district again.
    let reset = demo(&pg_dir, Some(&url), true);
    assert!(reset.status.success(), "{reset:?}");
    assert_eq!(demo_counts(&url).await, pg_counts);
    let not_pg = demo(&pg_dir, Some(&lite_url), false);
    assert!(!not_pg.status.success());
    assert!(String::from_utf8_lossy(&not_pg.stderr).contains("PostgreSQL"));
}

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
