//! Monitoring through the API and the pages: a device registered with its secret shown
//! once, a batch with good and bad records, a threshold alarm acknowledged and closed,
//! scope on every list, and the board, device and register pages.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use xiaoan_domain::Role;
use xiaoan_testkit::{PW, TestApp, csrf_of, page, post_form, sign_in_page};

async fn ingest(f: &TestApp, secret: Option<&str>, body: &str) -> xiaoan_testkit::Resp {
    let mut b = Request::builder()
        .method("POST")
        .uri("/api/v1/ingest")
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(s) = secret {
        b = b.header(header::AUTHORIZATION, format!("Bearer {s}"));
    }
    f.send(b.body(Body::from(body.to_string())).unwrap()).await
}

fn reading(i: i64, v: Value) -> Value {
    json!({"ts": xiaoan_domain::now_millis() - 60_000 + i, "msg_id": format!("m-{i}"), "type": "telemetry", "values": {"temp_c": v}})
}

#[tokio::test]
async fn a_device_reports_an_alarm_that_is_acknowledged_and_closed() {
    let f = TestApp::new().await;
    f.add_role_user("safety-a", "李安全", Role::SafetyOfficer, f.tree.school_a)
        .await;
    f.add_role_user("principal-b", "王校長", Role::Principal, f.tree.school_b)
        .await;
    let safety = f.token("safety-a").await;
    let other = f.token("principal-b").await;
    // Bad registrations: refused in words, nothing stored.
    let bad = json!({"school_id": f.tree.school_a, "code": "T-1", "kind": "temperature", "location": "宿舍",
        "overrides": {"raise_above": 40.0, "clear_below": 45.0}});
    let r = f.post("/api/v1/devices", &safety, &bad).await;
    assert_eq!(r.error_code(), "device_hysteresis", "{}", r.text());
    let r = f.post("/api/v1/devices", &safety, &json!({"school_id": f.tree.school_a, "code": "T-1", "kind": "toaster", "location": "宿舍"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = f.post("/api/v1/devices", &other, &json!({"school_id": f.tree.school_a, "code": "T-1", "kind": "temperature", "location": "宿舍"})).await;
    assert_eq!(
        r.error_code(),
        "device_school",
        "another school's principal: {}",
        r.text()
    );
    assert_eq!(f.get("/api/v1/devices", &safety).await.json(), json!([]));
    // Registered: the secret comes back once and never again.
    let r = f.post("/api/v1/devices", &safety, &json!({"school_id": f.tree.school_a, "code": "T-1", "kind": "temperature", "location": "宿舍", "category": "roof"})).await;
    assert_eq!(r.error_code(), "hazard_category", "{}", r.text());
    let ok = json!({"school_id": f.tree.school_a, "code": "T-301", "kind": "temperature", "location": "宿舍三樓", "key_area": "dorm",
        "category": "buildings"});
    let r = f.post("/api/v1/devices", &safety, &ok).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let secret = r.json()["secret"].as_str().unwrap().to_string();
    let id = r.json()["id"].as_i64().unwrap();
    assert_eq!(r.json()["category"], "buildings");
    // Changing it: bad input refused in words, another school's principal sees nothing.
    let path = format!("/api/v1/devices/{id}");
    let r = f.patch(&path, &safety, &json!({"location": " "})).await;
    assert_eq!(r.error_code(), "device_location", "{}", r.text());
    let r = f.patch(&path, &safety, &json!({"category": "roof"})).await;
    assert_eq!(r.error_code(), "hazard_category", "{}", r.text());
    let r = f.patch(&path, &other, &json!({"location": "別處"})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text());
    let r = f
        .patch(
            &path,
            &safety,
            &json!({"key_area": "dormitory", "category": ""}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(
        (
            r.json()["location"].clone(),
            r.json()["key_area"].clone(),
            r.json()["category"].clone()
        ),
        (json!("宿舍三樓"), json!("dormitory"), Value::Null),
        "only what the change names"
    );
    let listed = f.get("/api/v1/devices", &safety).await.text();
    assert!(
        !listed.contains(&secret) && listed.contains("T-301"),
        "{listed}"
    );
    assert_eq!(
        f.post("/api/v1/devices", &safety, &ok).await.error_code(),
        "device_code_taken"
    );
    assert_eq!(f.get("/api/v1/devices", &other).await.json(), json!([]));

    // Ingest: no secret or a wrong one is refused; a body that is not JSON is counted.
    assert_eq!(
        ingest(&f, None, "[]").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        ingest(&f, Some("xd_wrong"), "[]").await.status,
        StatusCode::UNAUTHORIZED
    );
    let r = ingest(&f, Some(&secret), "temp=61").await;
    assert_eq!(r.error_code(), "ingest_json");
    // Three readings above 60 °C raise one alarm; a value that is not a number and a
    // timestamp far in the future are refused on their own.
    let far = xiaoan_domain::now_millis() + 86_400_000;
    let batch = json!([
        reading(1, json!(61.0)),
        reading(2, json!("hot")),
        reading(3, json!(62.5)),
        {"ts": far, "msg_id": "m-f", "type": "telemetry", "values": {"temp_c": 99}},
        reading(4, json!(63.0)),
    ]);
    let r = ingest(&f, Some(&secret), &batch.to_string()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let out = r.json();
    assert_eq!(out["accepted"], 3, "{out}");
    assert_eq!(
        out["rejected"],
        json!([{"index": 1, "code": "ingest_value"}, {"index": 3, "code": "ingest_ts"}])
    );
    // The same batch again: duplicates only.
    let again = ingest(&f, Some(&secret), &batch.to_string()).await.json();
    assert_eq!(
        (again["accepted"].clone(), again["duplicates"].clone()),
        (json!(0), json!(3))
    );
    let device = f.get("/api/v1/devices", &safety).await.json();
    assert_eq!(
        device[0]["malformed"], 5,
        "1 unreadable body + 2 + 2 records: {device}"
    );
    let alarms = f.get("/api/v1/alarms?status=active", &safety).await.json();
    assert_eq!(alarms.as_array().unwrap().len(), 1, "{alarms}");
    let alarm = alarms[0]["id"].as_i64().unwrap();
    assert_eq!(alarms[0]["alarm_type"], "over_temperature");
    assert_eq!(f.get("/api/v1/alarms", &other).await.json(), json!([]));
    assert_eq!(
        f.get("/api/v1/alarms?status=lost", &safety)
            .await
            .error_code(),
        "alarm_status"
    );
    // Closing: acknowledged first, cleared first for "resolved".
    let close = json!({"reason": "resolved"});
    let r = f
        .post(&format!("/api/v1/alarms/{alarm}/close"), &safety, &close)
        .await;
    assert_eq!(r.error_code(), "alarm_not_acked");
    let r = f
        .post(
            &format!("/api/v1/alarms/{alarm}/ack"),
            &safety,
            &json!({"note": "值班老師已到場"}),
        )
        .await;
    assert_eq!(r.json()["acked"], true, "{}", r.text());
    let r = f
        .post(&format!("/api/v1/alarms/{alarm}/close"), &safety, &close)
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.error_code(), "alarm_still_active");
    let cool = json!([{"ts": xiaoan_domain::now_millis(), "msg_id": "m-9", "type": "telemetry", "values": {"temp_c": 40}}]);
    ingest(&f, Some(&secret), &cool.to_string()).await;
    let r = f
        .post(&format!("/api/v1/alarms/{alarm}/close"), &safety, &close)
        .await;
    assert_eq!(r.json()["closed"], true, "{}", r.text());
    let detail = f
        .get(&format!("/api/v1/alarms/{alarm}"), &safety)
        .await
        .json();
    let steps: Vec<&str> = detail["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["raised", "acked", "cleared", "closed"]);
    let readings = f
        .get(&format!("/api/v1/devices/{id}/readings"), &safety)
        .await
        .json();
    assert_eq!(readings.as_array().unwrap().len(), 4, "{readings}");
    assert_eq!(
        f.get(&format!("/api/v1/devices/{id}/readings"), &other)
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    // The pages: the board, the device with its chart, retiring it.
    let cookie = sign_in_page(&f, "safety-a", PW).await;
    let html = f
        .send(page("/alarms?status=all", Some(&cookie)))
        .await
        .text();
    assert!(
        html.contains("溫度過高") && html.contains("T-301"),
        "{html}"
    );
    let html = f
        .send(page(&format!("/devices/{id}"), Some(&cookie)))
        .await
        .text();
    assert!(
        html.contains("<polyline points=") && html.contains("temp_c"),
        "{html}"
    );
    let token = csrf_of(&html);
    let r = post_form(
        &f,
        &format!("/devices/{id}/retire"),
        &cookie,
        &[("_csrf", &token)],
    )
    .await;
    assert!(r.status.is_redirection());
    assert_eq!(
        ingest(&f, Some(&secret), &cool.to_string())
            .await
            .error_code(),
        "device_retired"
    );
}

#[tokio::test]
async fn the_register_page_shows_the_secret_once_and_keeps_fields_after_a_refusal() {
    let f = TestApp::new().await;
    f.add_role_user("safety-a", "李安全", Role::SafetyOfficer, f.tree.school_a)
        .await;
    let cookie = sign_in_page(&f, "safety-a", PW).await;
    let html = f.send(page("/devices", Some(&cookie))).await.text();
    let token = csrf_of(&html);
    let school = f.tree.school_a.to_string();
    let fields = |code: &'static str, clear: &'static str| {
        vec![
            ("_csrf", token.clone()),
            ("school_id", school.clone()),
            ("code", code.to_string()),
            ("kind", "cold_room".to_string()),
            ("location", "食堂冷庫".to_string()),
            ("raise_above", "8".to_string()),
            ("clear_below", clear.to_string()),
        ]
    };
    let bad = fields("C-1", "9");
    let bad: Vec<(&str, &str)> = bad.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = post_form(&f, "/devices", &cookie, &bad).await;
    assert!(r.status.is_redirection());
    let html = f.send(page("/devices", Some(&cookie))).await.text();
    assert!(
        html.contains("恢復下限必須低於報警上限") && html.contains("value=\"食堂冷庫\""),
        "{html}"
    );
    let good = fields("C-1", "5");
    let good: Vec<(&str, &str)> = good.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = post_form(&f, "/devices", &cookie, &good).await;
    assert_eq!(r.status, StatusCode::OK);
    let html = r.text();
    assert!(html.contains("<code class=\"secret\">xd_"), "{html}");
    let list = f.send(page("/devices", Some(&cookie))).await.text();
    assert!(list.contains("C-1") && !list.contains("xd_"), "{list}");
    // Changed from its page: a refused change keeps what was typed, a good one is shown.
    let id = list
        .split("href=\"/devices/")
        .filter_map(|p| p.split('"').next()?.parse::<i64>().ok())
        .next()
        .unwrap();
    let path = format!("/devices/{id}");
    let edit = |location: &'static str, clear: &'static str| {
        vec![
            ("_csrf", token.clone()),
            ("form", "edit".to_string()),
            ("location", location.to_string()),
            ("key_area", "食堂".to_string()),
            ("category", "canteen_food".to_string()),
            ("raise_above", "7".to_string()),
            ("clear_below", clear.to_string()),
        ]
    };
    let bad = edit("二號冷庫", "7.5");
    let bad: Vec<(&str, &str)> = bad.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = post_form(&f, &format!("{path}/edit"), &cookie, &bad).await;
    assert!(r.status.is_redirection());
    let html = f.send(page(&path, Some(&cookie))).await.text();
    assert!(
        html.contains("恢復下限必須低於報警上限")
            && html.contains("value=\"二號冷庫\"")
            && html.contains("value=\"7.5\""),
        "{html}"
    );
    let good = edit("二號冷庫", "4");
    let good: Vec<(&str, &str)> = good.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = post_form(&f, &format!("{path}/edit"), &cookie, &good).await;
    assert!(r.status.is_redirection());
    let html = f.send(page(&path, Some(&cookie))).await.text();
    assert!(
        html.contains("<dd>二號冷庫 · 食堂</dd>") && !html.contains("恢復下限必須低於報警上限"),
        "{html}"
    );
}

#[tokio::test]
async fn a_gateway_sends_for_devices_of_its_own_school_only() {
    let f = TestApp::new().await;
    f.add_role_user("safety-a", "李安全", Role::SafetyOfficer, f.tree.school_a)
        .await;
    f.add_role_user("safety-b", "趙安全", Role::SafetyOfficer, f.tree.school_b)
        .await;
    let a = f.token("safety-a").await;
    let b = f.token("safety-b").await;
    for (token, school, code) in [
        (&a, f.tree.school_a, "CAM-1"),
        (&a, f.tree.school_a, "T-9"),
        (&b, f.tree.school_b, "T-B"),
    ] {
        let kind = if code.starts_with("CAM") {
            "smoke"
        } else {
            "temperature"
        };
        let r = f
            .post(
                "/api/v1/devices",
                token,
                &json!({"school_id": school, "code": code, "kind": kind, "location": "校門"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    }
    assert_eq!(
        f.post(
            "/api/v1/gateways",
            &a,
            &json!({"school_id": f.tree.school_a, "name": " "})
        )
        .await
        .error_code(),
        "gateway_name"
    );
    assert_eq!(
        f.post(
            "/api/v1/gateways",
            &b,
            &json!({"school_id": f.tree.school_a, "name": "視頻平台"})
        )
        .await
        .error_code(),
        "gateway_school"
    );
    let r = f
        .post(
            "/api/v1/gateways",
            &a,
            &json!({"school_id": f.tree.school_a, "name": "視頻平台"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let token = r.json()["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("xg_"));
    let id = r.json()["id"].as_i64().unwrap();
    assert!(!f.get("/api/v1/gateways", &a).await.text().contains(&token));
    assert_eq!(f.get("/api/v1/gateways", &b).await.json(), json!([]));
    let now = xiaoan_domain::now_millis();
    let batch = json!([
        {"device": "CAM-1", "ts": now, "msg_id": "v-1", "type": "event", "event": "smoke"},
        {"device": "T-9", "ts": now, "msg_id": "v-2", "type": "telemetry", "values": {"temp_c": 21.5}},
        {"device": "T-B", "ts": now, "msg_id": "v-3", "type": "telemetry", "values": {"temp_c": 21.5}},
        {"ts": now, "msg_id": "v-4", "type": "telemetry", "values": {"temp_c": 21.5}},
    ]);
    let r = ingest(&f, Some(&token), &batch.to_string()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(
        r.json(),
        json!({"accepted": 2, "duplicates": 0, "rejected": [{"index": 2, "code": "ingest_device"}, {"index": 3, "code": "ingest_device"}]})
    );
    let alarms = f.get("/api/v1/alarms", &a).await.json();
    assert_eq!(alarms.as_array().unwrap().len(), 1, "{alarms}");
    assert_eq!(alarms[0]["alarm_type"], "smoke");
    let listed = f.get("/api/v1/gateways", &a).await.json();
    assert_eq!(listed[0]["accepted"], 2);
    // Retired: the token stops working.
    let r = f
        .post(&format!("/api/v1/gateways/{id}/retire"), &a, &json!({}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(
        ingest(&f, Some(&token), &batch.to_string()).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_flooding_device_is_held_back_and_counted() {
    let f = TestApp::new().await;
    f.add_role_user("safety-a", "李安全", Role::SafetyOfficer, f.tree.school_a)
        .await;
    let a = f.token("safety-a").await;
    let r = f
        .post("/api/v1/devices", &a, &json!({"school_id": f.tree.school_a, "code": "T-F", "kind": "temperature", "location": "宿舍"}))
        .await;
    let secret = r.json()["secret"].as_str().unwrap().to_string();
    let id = r.json()["id"].as_i64().unwrap();
    // The default limit is 600 a minute: a batch of 1,000 gets 600 through.
    let batch: Vec<Value> = (0..1000).map(|i| reading(i, json!(20.0))).collect();
    let r = ingest(&f, Some(&secret), &Value::Array(batch).to_string()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let out = r.json();
    assert_eq!(out["accepted"], 600);
    let rejected = out["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 400);
    assert_eq!(rejected[0], json!({"index": 600, "code": "ingest_flood"}));
    let d = f.get("/api/v1/devices", &a).await.json();
    assert_eq!(d[0]["flooded"], 400);
    assert_eq!(d[0]["accepted"], 600);
    let readings = f
        .get(&format!("/api/v1/devices/{id}/readings?from=0"), &a)
        .await
        .json();
    assert_eq!(readings.as_array().unwrap().len(), 600);
}

#[tokio::test]
async fn a_drill_silence_is_set_from_the_page_and_the_board_is_live() {
    let f = TestApp::new().await;
    f.add_role_user("safety-a", "李安全", Role::SafetyOfficer, f.tree.school_a)
        .await;
    let a = f.token("safety-a").await;
    let cookie = sign_in_page(&f, "safety-a", PW).await;
    let html = f.send(page("/alarms/silences", Some(&cookie))).await.text();
    assert!(html.contains("目前沒有生效或待生效的靜默"), "{html}");
    let token = csrf_of(&html);
    let school = f.tree.school_a.to_string();
    let form = |ends: &'static str| {
        vec![
            ("_csrf", token.clone()),
            ("school_id", school.clone()),
            ("reason", "drill".to_string()),
            ("note", "秋季消防演練".to_string()),
            ("starts", String::new()),
            ("ends", ends.to_string()),
        ]
    };
    // An end in the past is refused in words, the fields kept.
    let bad = form("2020-01-01T10:00");
    let bad: Vec<(&str, &str)> = bad.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert!(
        post_form(&f, "/alarms/silences", &cookie, &bad)
            .await
            .status
            .is_redirection()
    );
    let html = f.send(page("/alarms/silences", Some(&cookie))).await.text();
    assert!(
        html.contains("結束時間已過") && html.contains("value=\"秋季消防演練\""),
        "{html}"
    );
    let good = form("2099-01-01T10:00");
    let good: Vec<(&str, &str)> = good.iter().map(|(k, v)| (*k, v.as_str())).collect();
    // Too long a window (past seven days) is refused too.
    assert!(
        post_form(&f, "/alarms/silences", &cookie, &good)
            .await
            .status
            .is_redirection()
    );
    let html = f.send(page("/alarms/silences", Some(&cookie))).await.text();
    assert!(html.contains("靜默最長七天"), "{html}");
    let ends = xiaoan_domain::now_millis() + 3_600_000;
    let r = f
        .post(
            "/api/v1/silences",
            &a,
            &json!({"school_id": f.tree.school_a, "reason": "drill", "ends_at": ends}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let sid = r.json()["id"].as_i64().unwrap();
    let html = f.send(page("/alarms/silences", Some(&cookie))).await.text();
    assert!(
        html.contains("應急演練") && html.contains("生效中"),
        "{html}"
    );
    // The board says it is live and links the silences; the stream answers with a stamp.
    let board = f.send(page("/alarms", Some(&cookie))).await.text();
    assert!(
        board.contains("data-live=\"/alarms/events\"") && board.contains("id=\"board\""),
        "{board}"
    );
    use tower::ServiceExt;
    let res = f
        .app
        .clone()
        .oneshot(page("/alarms/events", Some(&cookie)))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CONTENT_TYPE], "text/event-stream");
    let mut body = res.into_body().into_data_stream();
    let first = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        futures_util::StreamExt::next(&mut body),
    )
    .await
    .expect("the stream speaks at once")
    .unwrap()
    .unwrap();
    let first = String::from_utf8(first.to_vec()).unwrap();
    assert!(first.starts_with("event: alarms\ndata: 0-0-0"), "{first}");
    let r = f
        .post(&format!("/api/v1/silences/{sid}/end"), &a, &json!({}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(
        f.post(&format!("/api/v1/silences/{sid}/end"), &a, &json!({}))
            .await
            .error_code(),
        "silence_over"
    );
}
