//! The audit log: an intact chain that records writes and denials.

use axum::http::StatusCode;
use serde_json::json;
use xiaoan_testkit::{ADMIN, TARGET, TestApp};

#[tokio::test]
async fn the_audit_chain_stays_intact_and_records_writes_and_denials() {
    let f = TestApp::new().await;
    let t = f.tree;
    let admin = f.token(ADMIN).await;
    let school_body = json!({"kind": "school", "code": "SCH-C", "name": "南門小學", "parent_id": t.centre_a, "school_type": "primary", "students": 120});
    let r = f.post("/api/v1/orgs", &admin, &school_body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let new_school = r.json()["id"].as_i64().unwrap();
    let r = f
        .patch(
            &format!("/api/v1/orgs/{new_school}"),
            &admin,
            &json!({"name": "南門實驗小學", "canteen": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["canteen"], true);
    let user_body = json!({"login": "new-staff", "display_name": "新同事", "org_id": new_school, "roles": [{"role": "staff", "org_id": new_school}]});
    let r = f.post("/api/v1/users", &admin, &user_body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert!(r.json()["one_time_password"].is_string());
    let r = f
        .patch(
            &format!("/api/v1/users/{TARGET}"),
            &admin,
            &json!({"display_name": "王大明"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    // A denied request is recorded too.
    let staff = f.token(TARGET).await;
    assert_eq!(
        f.get("/api/v1/audit", &staff).await.status,
        StatusCode::FORBIDDEN
    );

    let r = f.get("/api/v1/audit/verify", &admin).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let v = r.json();
    assert_eq!(v["intact"], true, "{v}");
    let entries = v["entries"].as_i64().expect("entries");

    let r = f.get("/api/v1/audit?limit=500", &admin).await;
    assert_eq!(r.status, StatusCode::OK);
    let page = r.json();
    let items = page["items"].as_array().unwrap();
    assert_eq!(
        items.len() as i64,
        entries,
        "the log lists as many entries as the chain check counted"
    );
    assert_eq!(items[0]["seq"].as_i64(), Some(entries), "newest first");
    let actions: Vec<(&str, &str)> = items
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["result"].as_str().unwrap()))
        .collect();
    for want in [
        ("org.create", "ok"),
        ("org.update", "ok"),
        ("user.create", "ok"),
        ("user.update", "ok"),
        ("access.denied", "denied"),
        ("auth.login", "ok"),
    ] {
        assert!(
            actions.contains(&want),
            "audit log lacks {want:?}: {actions:?}"
        );
    }
    let denied = items
        .iter()
        .find(|e| e["action"] == "access.denied")
        .unwrap();
    assert_eq!(denied["actor_login"], TARGET);
}
