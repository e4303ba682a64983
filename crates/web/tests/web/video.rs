//! Video surveillance through the API and the pages: cameras with the key areas they
//! cover, a school's coverage and its gaps filed as hazards, a video platform's alarms by
//! webhook with its gateway's token, and the camera form keeping what was typed after a
//! refusal.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use xiaoan_domain::Role;
use xiaoan_testkit::{PW, TestApp, csrf_of, page, post_form, sign_in_page};

const GATE: &str = "34020000001320000001";
const YARD: &str = "34020000001320000002";

async fn video_alarm(f: &TestApp, bearer: &str, body: &Value) -> xiaoan_testkit::Resp {
    let req = Request::builder()
        .method("POST")
        .uri("/api/v1/video/alarms")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, format!("Bearer {bearer}"))
        .body(Body::from(body.to_string()))
        .unwrap();
    f.send(req).await
}

/// School A with two cameras (ids returned) and its safety officer's token; school B's
/// principal's token.
async fn school_with_cameras(f: &TestApp) -> (String, String, i64, i64) {
    f.add_role_user("safety-a", "李安全", Role::SafetyOfficer, f.tree.school_a)
        .await;
    f.add_role_user("principal-b", "王校長", Role::Principal, f.tree.school_b)
        .await;
    let a = f.token("safety-a").await;
    let b = f.token("principal-b").await;
    let mut ids = vec![];
    for (code, location) in [(GATE, "校門"), (YARD, "操場")] {
        let r = f
            .post(
                "/api/v1/devices",
                &a,
                &json!({"school_id": f.tree.school_a, "code": code, "kind": "camera", "location": location}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        ids.push(r.json()["id"].as_i64().unwrap());
    }
    (a, b, ids[0], ids[1])
}

#[tokio::test]
async fn cameras_give_coverage_and_the_check_files_each_gap_once() {
    let f = TestApp::new().await;
    let (a, b, gate, yard) = school_with_cameras(&f).await;
    let set = |id: i64, body: Value| {
        let path = format!("/api/v1/devices/{id}/camera");
        let f = &f;
        let a = a.clone();
        async move { f.post(&path, &a, &body).await }
    };
    // Bad input: an unknown area, an unknown link, a retention out of range; nothing kept.
    let r = set(
        gate,
        json!({"areas": ["roof"], "police_link": "linked", "bureau_link": "linked"}),
    )
    .await;
    assert_eq!(r.error_code(), "camera_area", "{}", r.text());
    let r = set(
        gate,
        json!({"areas": [], "police_link": "maybe", "bureau_link": "linked"}),
    )
    .await;
    assert_eq!(r.error_code(), "camera_link", "{}", r.text());
    let r = set(gate, json!({"areas": ["outside_gate"], "police_link": "linked", "bureau_link": "linked", "retention_days": 0})).await;
    assert_eq!(r.error_code(), "camera_retention", "{}", r.text());
    // Another school's principal cannot see it.
    let r = f
        .post(
            &format!("/api/v1/devices/{gate}/camera"),
            &b,
            &json!({"areas": [], "police_link": "linked", "bureau_link": "linked"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text());

    let r = set(gate, json!({"areas": ["main_entrance", "outside_gate", "gate_room"], "police_link": "linked", "bureau_link": "linked", "retention_days": 30})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(
        r.json()["areas"],
        json!(["outside_gate", "main_entrance", "gate_room"])
    );
    let r = set(yard, json!({"areas": ["gathering_area", "teaching_area", "hidden_spots"], "police_link": "down", "bureau_link": "linked"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());

    let path = format!("/api/v1/video/coverage?school_id={}", f.tree.school_a);
    let c = f.get(&path, &a).await.json();
    assert_eq!(c[0]["gaps"], json!(["canteen"]), "{c}");
    assert_eq!(c[0]["unlinked_police"], 1);
    assert_eq!(
        f.get("/api/v1/video/coverage", &a)
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(f.get("/api/v1/video/coverage", &b).await.json(), json!([]));

    let r = f
        .post(
            "/api/v1/video/check",
            &b,
            &json!({"school_id": f.tree.school_a}),
        )
        .await;
    assert_eq!(r.error_code(), "video_school", "{}", r.text());
    let r = f
        .post(
            "/api/v1/video/check",
            &a,
            &json!({"school_id": f.tree.school_a}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let filed = r.json()["filed"].clone();
    assert_eq!(filed.as_array().unwrap().len(), 1, "{filed}");
    assert_eq!(filed[0]["area"], "canteen");
    let hazard = filed[0]["hazard_id"].as_i64().unwrap();
    let h = f.get(&format!("/api/v1/hazards/{hazard}"), &a).await.json();
    assert_eq!(h["category"], "security", "{h}");
    assert!(h["title"].as_str().unwrap().contains("食堂"), "{h}");
    let again = f
        .post(
            "/api/v1/video/check",
            &a,
            &json!({"school_id": f.tree.school_a}),
        )
        .await
        .json();
    assert_eq!(again["filed"], json!([]));
    let c = f.get(&path, &a).await.json();
    assert_eq!(c[0]["gap_hazards"][0]["hazard_id"], hazard);
}

#[tokio::test]
async fn a_video_platform_forwards_alarms_with_its_gateway_token() {
    let f = TestApp::new().await;
    let (a, _, _, _) = school_with_cameras(&f).await;
    let r = f
        .post(
            "/api/v1/gateways",
            &a,
            &json!({"school_id": f.tree.school_a, "name": "視頻平台"}),
        )
        .await;
    let token = r.json()["token"].as_str().unwrap().to_string();
    let now = xiaoan_domain::now_millis();
    let alarm = json!({"DeviceID": GATE, "SN": 17, "AlarmPriority": 1, "AlarmMethod": 5, "AlarmType": 6,
        "ts": now, "AlarmDescription": "周界入侵"});
    // Bad input first: refused in words, nothing raised.
    let r = video_alarm(
        &f,
        &token,
        &json!({"DeviceID": GATE, "SN": 1, "AlarmPriority": 9, "AlarmMethod": 5}),
    )
    .await;
    assert_eq!(r.error_code(), "video_alarm_priority", "{}", r.text());
    let r = video_alarm(
        &f,
        &token,
        &json!({"DeviceID": GATE, "SN": 1, "AlarmPriority": 2}),
    )
    .await;
    assert_eq!(r.error_code(), "video_alarm_method", "{}", r.text());
    let r = video_alarm(
        &f,
        &token,
        &json!({"DeviceID": "340200000013200000FF", "SN": 1, "AlarmPriority": 2, "AlarmMethod": 5}),
    )
    .await;
    assert_eq!(r.error_code(), "ingest_device", "{}", r.text());
    let r = video_alarm(&f, &token, &json!({"DeviceID": GATE, "SN": 1, "AlarmPriority": 2, "AlarmMethod": 5, "AlarmTime": "yesterday"})).await;
    assert_eq!(r.error_code(), "ingest_ts", "{}", r.text());
    let r = video_alarm(&f, "xg_not-a-token", &alarm).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = video_alarm(&f, &a, &alarm).await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "a person's token is no gateway's"
    );
    assert_eq!(f.get("/api/v1/alarms", &a).await.json(), json!([]));

    let r = video_alarm(&f, &token, &alarm).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json(), json!({"accepted": 1, "duplicates": 0}));
    assert_eq!(
        video_alarm(&f, &token, &alarm).await.json(),
        json!({"accepted": 0, "duplicates": 1}),
        "the same SN again"
    );
    let alarms = f.get("/api/v1/alarms", &a).await.json();
    assert_eq!(alarms.as_array().unwrap().len(), 1, "{alarms}");
    assert_eq!(alarms[0]["alarm_type"], "intrusion");
    assert_eq!(alarms[0]["severity"], "critical", "priority 1");
    // Video lost (a device alarm of type 1), then the platform clears the intrusion.
    let lost = json!({"DeviceID": YARD, "SN": "18", "AlarmPriority": 3, "AlarmMethod": 2, "AlarmType": 1,
        "AlarmTime": chrono::Utc::now().with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap()).format("%Y-%m-%dT%H:%M:%S").to_string()});
    assert_eq!(video_alarm(&f, &token, &lost).await.status, StatusCode::OK);
    let cleared = json!({"DeviceID": GATE, "SN": 19, "AlarmPriority": 1, "event": "intrusion", "state": "cleared", "ts": now + 1000});
    assert_eq!(
        video_alarm(&f, &token, &cleared).await.status,
        StatusCode::OK
    );
    let alarms = f.get("/api/v1/alarms?status=all", &a).await.json();
    let by_type = |t: &str| {
        alarms
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["alarm_type"] == t)
            .cloned()
            .unwrap_or(Value::Null)
    };
    assert_eq!(by_type("video_loss")["severity"], "minor", "{alarms}");
    assert_eq!(by_type("intrusion")["condition"], "cleared", "{alarms}");
}

#[tokio::test]
async fn the_video_page_and_the_camera_form() {
    let f = TestApp::new().await;
    let (_, _, gate, _) = school_with_cameras(&f).await;
    let cookie = sign_in_page(&f, "safety-a", PW).await;
    let path = format!("/devices/{gate}");
    let html = f.send(page(&path, Some(&cookie))).await.text();
    assert!(
        html.contains("覆蓋的重點部位") && html.contains("value=\"canteen\""),
        "{html}"
    );
    assert!(
        !html.contains("name=\"raise_above\""),
        "a camera has no threshold to set"
    );
    let token = csrf_of(&html);
    let action = format!("/devices/{gate}/camera");
    // A refused save keeps what was ticked and typed.
    let bad = [
        ("_csrf", token.as_str()),
        ("areas", "main_entrance"),
        ("areas", "canteen"),
        ("police_link", "linked"),
        ("bureau_link", "none"),
        ("retention_days", "thirty"),
    ];
    let r = post_form(&f, &action, &cookie, &bad).await;
    assert!(r.status.is_redirection(), "{}", r.text());
    let html = f.send(page(&path, Some(&cookie))).await.text();
    assert!(html.contains("錄像保存天數須為"), "{html}");
    assert!(
        html.contains("value=\"canteen\" checked") && html.contains("value=\"thirty\""),
        "{html}"
    );
    let good = [
        ("_csrf", token.as_str()),
        ("areas", "main_entrance"),
        ("areas", "outside_gate"),
        ("police_link", "linked"),
        ("bureau_link", "none"),
        ("retention_days", "30"),
    ];
    let r = post_form(&f, &action, &cookie, &good).await;
    assert!(r.status.is_redirection());
    let html = f.send(page(&path, Some(&cookie))).await.text();
    assert!(
        html.contains("校門外、校門出入口") && !html.contains("錄像保存天數須為"),
        "{html}"
    );

    // The school's coverage: gaps shown, checked from the page, the hazard linked.
    let html = f.send(page("/video", Some(&cookie))).await.text();
    assert!(
        html.contains("未覆蓋") && html.contains("食堂操作間及出入口"),
        "{html}"
    );
    let token = csrf_of(&html);
    let school = f.tree.school_a.to_string();
    let r = post_form(
        &f,
        "/video/check",
        &cookie,
        &[("_csrf", token.as_str()), ("school_id", school.as_str())],
    )
    .await;
    let to = r.header("location").unwrap_or_default().to_string();
    assert!(to.starts_with("/video?school_id="), "{to}");
    let html = f.send(page(&to, Some(&cookie))).await.text();
    assert!(
        html.contains("新登記隱患") && html.contains("/hazards/"),
        "{html}"
    );
    // The home page counts them: five key areas off camera, two cameras offline.
    let home = f.send(page("/", Some(&cookie))).await.text();
    assert!(home.contains("安全監測"), "{home}");
    let tile = |href: &str| {
        let marker = format!("href=\"{href}\"><span class=\"num\">");
        let start = home.find(&marker).expect(href) + marker.len();
        home[start..start + home[start..].find('<').unwrap()].to_string()
    };
    assert_eq!(tile("/video"), "5");
    assert_eq!(tile("/devices"), "2");
}
