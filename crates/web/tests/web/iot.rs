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
    let ok = json!({"school_id": f.tree.school_a, "code": "T-301", "kind": "temperature", "location": "宿舍三樓", "key_area": "dorm"});
    let r = f.post("/api/v1/devices", &safety, &ok).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let secret = r.json()["secret"].as_str().unwrap().to_string();
    let id = r.json()["id"].as_i64().unwrap();
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
}
