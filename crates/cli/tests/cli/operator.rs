//! Operator commands: config, users, audit verification, a kill -9 during writes, plan
//! checking and the job queue.

use super::*;

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
