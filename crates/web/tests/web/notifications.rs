//! Notifications, supervision and announcements through the API and the pages: the loop
//! tells the next person, a warning must be answered or it climbs a rung, a refused
//! setting or response says why and changes nothing, secrets never come back.

use axum::http::StatusCode;
use serde_json::json;
use xiaoan_domain::Role;
use xiaoan_domain::now_millis;
use xiaoan_store::notify::{self, DispatchSettings};
use xiaoan_testkit::{PW, TestApp, csrf_of, jpeg_bytes, page, post_form, sign_in_page};

/// Dispatches every notification written so far, as the worker would.
async fn dispatch_all(f: &TestApp) {
    let ids: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM notifications WHERE dispatched_at IS NULL ORDER BY id")
            .fetch_all(f.db.pool())
            .await
            .unwrap();
    let s = DispatchSettings {
        local_minute: 600,
        group_window_ms: 3_600_000,
        deliver_attempts: 3,
    };
    for id in ids {
        notify::dispatch(&f.db, id, s, now_millis()).await.unwrap();
    }
}

async fn people(f: &TestApp) {
    f.add_role_user("principal-a", "陳校長", Role::Principal, f.tree.school_a)
        .await;
    f.add_role_user("safety-a", "李安全", Role::SafetyOfficer, f.tree.school_a)
        .await;
    f.add_role_user("bureau-safety", "張科長", Role::BureauSafety, f.tree.bureau)
        .await;
    f.add_role_user("centre-a", "周中心", Role::CentreOfficer, f.tree.centre_a)
        .await;
}

#[tokio::test]
async fn the_hazard_loop_tells_the_next_person_in_their_inbox() {
    let f = TestApp::new().await;
    people(&f).await;
    let safety = f.token("safety-a").await;
    let principal = f.token("principal-a").await;
    // The fixture's hazard is registered to the safety officer by the principal.
    let r = f
        .post(
            &format!("/api/v1/hazards/{}/transitions", f.hazard),
            &principal,
            &json!({"action": "register", "owner": "safety-a", "measures": "更換扶手", "deadline": "2099-01-01"}),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.text());
    dispatch_all(&f).await;
    let inbox = f.get("/api/v1/inbox", &safety).await.json();
    // Told of the report (as a school lead) and of the assignment, newest first.
    assert_eq!(inbox["unread"], 2, "{inbox}");
    assert_eq!(inbox["items"][1]["event"], "hazard.reported");
    let entry = &inbox["items"][0];
    assert_eq!(entry["event"], "hazard.assigned");
    assert!(
        entry["title"]
            .as_str()
            .unwrap()
            .starts_with("隱患指派給你："),
        "{entry}"
    );
    assert_eq!(entry["link"], format!("/hazards/{}", f.hazard));
    // The header counts unread entries on every page.
    let cookie = sign_in_page(&f, "safety-a", PW).await;
    let html = f.send(page("/", Some(&cookie))).await.text();
    assert!(html.contains("收件匣（2）"), "{html}");
    let html = f.send(page("/inbox", Some(&cookie))).await.text();
    assert!(html.contains("隱患指派給你"), "{html}");
    // Nobody else marks it read; its owner does.
    let id = entry["id"].as_i64().unwrap();
    let r = f
        .post(&format!("/api/v1/inbox/{id}/read"), &principal, &json!({}))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = f
        .post(&format!("/api/v1/inbox/{id}/read"), &safety, &json!({}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(f.get("/api/v1/inbox", &safety).await.json()["unread"], 1);
}

#[tokio::test]
async fn a_warning_is_answered_accepted_or_it_climbs_a_rung() {
    let f = TestApp::new().await;
    people(&f).await;
    let bureau = f.token("bureau-safety").await;
    let principal = f.token("principal-a").await;
    let centre = f.token("centre-a").await;
    // An unknown placeholder is refused with its name, nothing issued.
    let bad = json!({"school_id": f.tree.school_a, "rung": "warning", "subject": "消防通道堵塞",
        "body": "{{school}}：請於{{deadline}}前整改。{{principal}}", "deadline": "2099-12-31"});
    let r = f.post("/api/v1/supervision", &bureau, &bad).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error_code(), "template_unknown_placeholder");
    assert!(r.text().contains("{{principal}}"), "{}", r.text());
    assert_eq!(
        f.get("/api/v1/supervision", &bureau)
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        0
    );
    // A school leader cannot issue.
    let r = f.post("/api/v1/supervision", &principal, &bad).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // Issued from the rung's template: the letter names the school, the number and the deadline.
    let ok = json!({"school_id": f.tree.school_a, "rung": "warning", "subject": "消防通道堵塞", "deadline": "2099-12-31"});
    let r = f.post("/api/v1/supervision", &bureau, &ok).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let item = r.json();
    let id = item["id"].as_i64().unwrap();
    let body = item["body"].as_str().unwrap();
    assert!(
        body.contains(xiaoan_testkit::SCHOOL_A_NAME)
            && body.contains("2099-12-31")
            && !body.contains("{{"),
        "{body}"
    );
    dispatch_all(&f).await;
    let inbox = f.get("/api/v1/inbox", &principal).await.json();
    assert_eq!(inbox["items"][0]["event"], "supervision.issued", "{inbox}");
    assert!(
        inbox["items"][0]["title"]
            .as_str()
            .unwrap()
            .starts_with("預警：")
    );
    // The centre does not accept what the bureau issued; the bureau does, after a response.
    let r = f
        .post(
            &format!("/api/v1/supervision/{id}/accept"),
            &bureau,
            &json!({}),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::CONFLICT,
        "nothing to accept yet: {}",
        r.text()
    );
    let r = f
        .post(
            &format!("/api/v1/supervision/{id}/respond"),
            &principal,
            &json!({"note": ""}),
        )
        .await;
    assert_eq!(r.error_code(), "supervision_response");
    let r = f
        .post(
            &format!("/api/v1/supervision/{id}/respond"),
            &principal,
            &json!({"note": "已清理通道，增設禁停標識。"}),
        )
        .await;
    assert_eq!(r.json()["state"], "responded", "{}", r.text());
    let r = f
        .post(
            &format!("/api/v1/supervision/{id}/accept"),
            &centre,
            &json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    let r = f
        .post(
            &format!("/api/v1/supervision/{id}/return"),
            &bureau,
            &json!({"note": "缺照片"}),
        )
        .await;
    assert_eq!(r.json()["state"], "returned");
    f.post(
        &format!("/api/v1/supervision/{id}/respond"),
        &principal,
        &json!({"note": "補上照片。"}),
    )
    .await;
    let r = f
        .post(
            &format!("/api/v1/supervision/{id}/accept"),
            &bureau,
            &json!({}),
        )
        .await;
    assert_eq!(r.json()["state"], "accepted");
    // A response to an accepted item: refused in words, nothing changed.
    let r = f
        .post(
            &format!("/api/v1/supervision/{id}/respond"),
            &principal,
            &json!({"note": "再補充"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.text().contains("已認可"), "{}", r.text());
    let detail = f
        .get(&format!("/api/v1/supervision/{id}"), &bureau)
        .await
        .json();
    assert_eq!(detail["state"], "accepted");
    assert_eq!(detail["history"].as_array().unwrap().len(), 5, "{detail}");
    // Another warning, not answered by its deadline: a rung higher, the school told.
    let r = f.post("/api/v1/supervision", &bureau, &json!({"school_id": f.tree.school_a, "rung": "warning", "subject": "監控損壞", "deadline": "2099-01-01"})).await;
    let late = r.json()["id"].as_i64().unwrap();
    sqlx::query("UPDATE supervision_items SET deadline = '2000-01-01' WHERE id = $1")
        .bind(late)
        .execute(f.db.pool())
        .await
        .unwrap();
    let today = f.state.config.district.today();
    assert_eq!(
        xiaoan_store::supervision::escalate_overdue(&f.db, today)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        xiaoan_store::supervision::escalate_overdue(&f.db, today)
            .await
            .unwrap(),
        0,
        "once"
    );
    let list = f
        .get("/api/v1/supervision?state=open", &bureau)
        .await
        .json();
    let next = &list[0];
    assert_eq!(
        (next["rung"].as_str(), next["escalated_from"].as_i64()),
        (Some("interview"), Some(late)),
        "{list}"
    );
    dispatch_all(&f).await;
    let inbox = f.get("/api/v1/inbox?unread=true", &principal).await.json();
    assert!(
        inbox["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["event"] == "supervision.escalated"),
        "{inbox}"
    );
    // The letter as a document.
    let cookie = sign_in_page(&f, "principal-a", PW).await;
    let r = f
        .send(page(
            &format!("/supervision/{id}/letter.docx"),
            Some(&cookie),
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.header("content-type")
            .unwrap()
            .contains("wordprocessingml")
    );
}

#[tokio::test]
async fn channels_refuse_bad_addresses_and_secrets_and_never_show_a_secret() {
    let f = TestApp::new().await;
    people(&f).await;
    let principal = f.token("principal-a").await;
    let staff = f.token(xiaoan_testkit::TARGET).await;
    let add = |kind: &str, target: &str, secret: Option<&str>| json!({"org_id": f.tree.school_a, "kind": kind, "name": "安全群", "target": target, "secret": secret});
    let cases = [
        (
            add(
                "dingtalk",
                "ftp://oapi.dingtalk.com/robot/send?access_token=x",
                None,
            ),
            "channel_url_scheme",
            "http",
        ),
        (
            add(
                "dingtalk",
                "https://oapi.dingtalk.com/robot/send?access_token=x",
                Some("SEC12"),
            ),
            "channel_secret_shape",
            "SEC",
        ),
        (
            add("webhook", "https://hooks.example.org/x", None),
            "channel_secret_missing",
            "Webhook",
        ),
        (
            add("email", "not an address", None),
            "channel_address",
            "電子郵件",
        ),
    ];
    for (body, code, word) in cases {
        let r = f
            .post("/api/v1/notification-channels", &principal, &body)
            .await;
        assert_eq!(
            (r.status, r.error_code()),
            (StatusCode::BAD_REQUEST, code.to_string()),
            "{}",
            r.text()
        );
        assert!(
            r.json()["error"]["message"]
                .as_str()
                .unwrap()
                .contains(word),
            "{}",
            r.text()
        );
    }
    assert_eq!(
        f.get("/api/v1/notification-settings", &principal)
            .await
            .json()["channels"]
            .as_array()
            .unwrap()
            .len(),
        0,
        "nothing added"
    );
    // Another org's channel is refused; staff hold no channel rights at all.
    let mut other = add(
        "wecom",
        "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc",
        None,
    );
    other["org_id"] = json!(f.tree.school_b);
    assert_eq!(
        f.post("/api/v1/notification-channels", &principal, &other)
            .await
            .error_code(),
        "channel_org"
    );
    assert_eq!(
        f.post("/api/v1/notification-channels", &staff, &other)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let secret = "SEC0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd";
    let r = f
        .post(
            "/api/v1/notification-channels",
            &principal,
            &add(
                "dingtalk",
                "https://oapi.dingtalk.com/robot/send?access_token=key123",
                Some(secret),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let settings = f
        .get("/api/v1/notification-settings", &principal)
        .await
        .text();
    assert!(
        !settings.contains(secret) && !settings.contains("key123"),
        "{settings}"
    );
    assert!(settings.contains("\"has_secret\":true"), "{settings}");
    // Preferences: a bad quiet hour changes nothing; a good one is kept.
    let r = f.api("PUT", "/api/v1/notification-settings", Some(&principal), Some(&json!({"email": "chen@example.org", "quiet_hours": {"start": "25:00", "end": "07:00"}}))).await;
    assert_eq!(r.error_code(), "quiet_hours");
    assert_eq!(
        f.get("/api/v1/notification-settings", &principal)
            .await
            .json()["email"],
        json!(null)
    );
    let r = f.api("PUT", "/api/v1/notification-settings", Some(&principal), Some(&json!({"email": "chen@example.org", "quiet_hours": {"start": "22:00", "end": "07:00"}, "events": [{"event": "hazard.closed", "email": false, "digest": false}]}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let s = r.json();
    assert_eq!(
        (s["email"].as_str(), s["quiet_hours"]["start"].as_str()),
        (Some("chen@example.org"), Some("22:00"))
    );
    // The page: a refused channel keeps its fields except the secret.
    let cookie = sign_in_page(&f, "principal-a", PW).await;
    let html = f
        .send(page("/settings/notifications", Some(&cookie)))
        .await
        .text();
    assert!(!html.contains(secret) && html.contains("安全群"), "{html}");
    let csrf = csrf_of(&html);
    let school = f.tree.school_a.to_string();
    let sent = [
        ("_csrf", csrf.as_str()),
        ("org_id", school.as_str()),
        ("kind", "feishu"),
        ("name", "飛書值班群"),
        ("target", "https://open.feishu.cn/open-apis/bot/v2/hook/x"),
        ("secret", "short"),
    ];
    let r = post_form(&f, "/settings/channels", &cookie, &sent).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let html = f
        .send(page("/settings/notifications", Some(&cookie)))
        .await
        .text();
    assert!(
        html.contains("role=\"alert\"")
            && html.contains("value=\"飛書值班群\"")
            && html.contains("<option value=\"feishu\" selected>"),
        "{html}"
    );
    assert!(
        !html.contains("value=\"short\""),
        "a secret is never sent back"
    );
}

#[tokio::test]
async fn an_announcement_is_acknowledged_and_its_publisher_sees_who_has_not() {
    let f = TestApp::new().await;
    people(&f).await;
    let bureau = f.token("bureau-safety").await;
    let principal = f.token("principal-a").await;
    let r = f
        .post(
            "/api/v1/announcements",
            &principal,
            &json!({"title": "x", "body": "y"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = f.post("/api/v1/announcements", &bureau, &json!({"title": "寒假安全教育", "body": "請各校於放假前完成安全教育。", "roles": ["principal", "safety_officer"]})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let a = r.json();
    let id = a["id"].as_i64().unwrap();
    assert_eq!(
        a["recipients"], 2,
        "the principal and the safety officer of school A: {a}"
    );
    dispatch_all(&f).await;
    assert_eq!(
        f.get("/api/v1/inbox", &principal).await.json()["items"][0]["event"],
        "announcement.published"
    );
    let r = f
        .post(
            &format!("/api/v1/announcements/{id}/ack"),
            &principal,
            &json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let staff = f.token(xiaoan_testkit::TARGET).await;
    assert_eq!(
        f.post(
            &format!("/api/v1/announcements/{id}/ack"),
            &staff,
            &json!({})
        )
        .await
        .status,
        StatusCode::NOT_FOUND,
        "not a recipient"
    );
    let cookie = sign_in_page(&f, "bureau-safety", PW).await;
    let html = f
        .send(page(&format!("/announcements/{id}"), Some(&cookie)))
        .await
        .text();
    assert!(
        html.contains("已讀 1 / 2 人") && html.contains("李安全 (safety-a)"),
        "{html}"
    );
}

#[tokio::test]
async fn a_response_carries_photos_and_a_notice_goes_to_every_school_as_a_circular() {
    let f = TestApp::new().await;
    people(&f).await;
    f.add_role_user("principal-b", "王校長", Role::Principal, f.tree.school_b)
        .await;
    let bureau = f.token("bureau-safety").await;
    let principal_b = f.token("principal-b").await;
    // Only a notice goes out as a circular; nothing is issued otherwise.
    let reminder = json!({"school_id": f.tree.school_a, "rung": "reminder", "subject": "樓梯扶手鬆動",
        "deadline": "2099-12-31", "circular": true});
    let r = f.post("/api/v1/supervision", &bureau, &reminder).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error_code(), "supervision_circular");
    let none: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM supervision_items")
        .fetch_one(f.db.pool())
        .await
        .unwrap();
    assert_eq!(none, 0);
    let notice = json!({"school_id": f.tree.school_a, "rung": "notice", "subject": "消防通道堵塞",
        "deadline": "2099-12-31", "circular": true});
    let r = f.post("/api/v1/supervision", &bureau, &notice).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let id = r.json()["id"].as_i64().unwrap();
    let number = r.json()["number"].as_str().unwrap().to_string();
    // Another school's principal receives the circular, with the letter's number in it.
    let got = f.get("/api/v1/announcements", &principal_b).await.json();
    let circular = &got.as_array().unwrap()[0];
    assert_eq!(circular["title"], "通報：消防通道堵塞", "{got}");
    assert!(
        circular["body"].as_str().unwrap().contains(&number),
        "{got}"
    );
    // The school answers on the page with a photo but no text: refused, the photo kept.
    let cookie = sign_in_page(&f, "principal-a", PW).await;
    let path = format!("/supervision/{id}");
    let html = f.send(page(&path, Some(&cookie))).await.text();
    assert!(html.contains("enctype=\"multipart/form-data\""), "{html}");
    let token = csrf_of(&html);
    let respond = format!("/supervision/{id}/respond");
    let r = crate::hazard_pages::post_multipart(
        &f,
        &respond,
        &cookie,
        &token,
        &[("note", " ")],
        &[jpeg_bytes()],
    )
    .await;
    assert!(r.status.is_redirection(), "{}", r.text());
    let html = f.send(page(&path, Some(&cookie))).await.text();
    assert!(html.contains("role=\"alert\""), "{html}");
    let kept: i64 = sqlx::query_scalar("SELECT MAX(id) FROM attachments")
        .fetch_one(f.db.pool())
        .await
        .unwrap();
    assert!(
        html.contains(&format!("name=\"photo\" value=\"{kept}\" checked")),
        "the photo is offered again: {html}"
    );
    let kept_field = kept.to_string();
    let r = crate::hazard_pages::post_multipart(
        &f,
        &respond,
        &cookie,
        &csrf_of(&html),
        &[("note", "已清理通道並拍照存證。"), ("photo", &kept_field)],
        &[],
    )
    .await;
    assert!(r.status.is_redirection(), "{}", r.text());
    let detail = f
        .get(&format!("/api/v1/supervision/{id}"), &bureau)
        .await
        .json();
    assert_eq!(detail["state"], "responded", "{detail}");
    assert_eq!(
        detail["history"][1]["attachments"],
        json!([kept]),
        "{detail}"
    );
    // The issuer sees the photo and the circular beside the letter; the other school does not
    // see the photo.
    let bureau_cookie = sign_in_page(&f, "bureau-safety", PW).await;
    let html = f.send(page(&path, Some(&bureau_cookie))).await.text();
    assert!(
        html.contains(&format!("<img src=\"/attachments/{kept}\""))
            && html.contains("/announcements/"),
        "{html}"
    );
    let photo = format!("/attachments/{kept}");
    assert_eq!(
        f.send(page(&photo, Some(&bureau_cookie))).await.status,
        StatusCode::OK
    );
    let other = sign_in_page(&f, "principal-b", PW).await;
    assert_eq!(
        f.send(page(&photo, Some(&other))).await.status,
        StatusCode::NOT_FOUND
    );
    // Someone else's upload cannot be attached through the API.
    let r = f
        .post(
            &format!("/api/v1/supervision/{id}/respond"),
            &principal_b,
            &json!({"note": "x", "attachments": [kept]}),
        )
        .await;
    assert!(r.status.is_client_error(), "{}", r.text());
}
