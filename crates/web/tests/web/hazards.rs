//! The hazard closed loop through the API: every step, the rectifier who may not verify,
//! illegal steps, scope and bad input (photo uploads themselves: `photos.rs`).

use axum::body::Body;
use axum::http::{StatusCode, header};
use serde_json::{Value, json};
use xiaoan_domain::Role;
use xiaoan_testkit::{TestApp, api_request, jpeg_bytes};

/// Uploads `bytes` as a multipart `file` field.
pub(crate) async fn upload(
    f: &TestApp,
    token: &str,
    name: &str,
    bytes: &[u8],
) -> xiaoan_testkit::Resp {
    let boundary = "xiaoan-test-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: image/jpeg\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let req = api_request("POST", "/api/v1/attachments", Some(token))
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(Body::from(body))
        .expect("request");
    f.send(req).await
}

/// A JPEG carrying EXIF with a GPS position and a camera maker.
pub(crate) fn jpeg_with_gps() -> Vec<u8> {
    let plain = jpeg_bytes();
    let mut tiff: Vec<u8> = b"MM\x00\x2a\x00\x00\x00\x08".to_vec();
    tiff.extend_from_slice(&2u16.to_be_bytes());
    tiff.extend_from_slice(&[0x01, 0x0F, 0x00, 0x02, 0, 0, 0, 8]);
    tiff.extend_from_slice(&(8u32 + 2 + 24 + 4).to_be_bytes());
    tiff.extend_from_slice(&[0x88, 0x25, 0x00, 0x04, 0, 0, 0, 1]);
    tiff.extend_from_slice(&(8u32 + 2 + 24 + 4 + 8).to_be_bytes());
    tiff.extend_from_slice(&0u32.to_be_bytes());
    tiff.extend_from_slice(b"PHONEX\0\0");
    tiff.extend_from_slice(&1u16.to_be_bytes());
    tiff.extend_from_slice(&[0x00, 0x01, 0x00, 0x02, 0, 0, 0, 2, b'N', 0, 0, 0]);
    tiff.extend_from_slice(&0u32.to_be_bytes());
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1];
    out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&plain[2..]);
    out
}

pub(crate) struct People {
    pub(crate) staff: String,
    pub(crate) safety: String,
    pub(crate) principal: String,
    pub(crate) outsider: String,
}

pub(crate) async fn people(f: &TestApp) -> People {
    f.add_role_user("hz-staff", "李老師", Role::Staff, f.tree.school_a)
        .await;
    f.add_role_user(
        "hz-safety",
        "安全專幹",
        Role::SafetyOfficer,
        f.tree.school_a,
    )
    .await;
    f.add_role_user("hz-principal", "校長", Role::Principal, f.tree.school_a)
        .await;
    f.add_role_user("hz-outsider", "外校校長", Role::Principal, f.tree.school_b)
        .await;
    People {
        staff: f.token("hz-staff").await,
        safety: f.token("hz-safety").await,
        principal: f.token("hz-principal").await,
        outsider: f.token("hz-outsider").await,
    }
}

fn step(action: &str, extra: Value) -> Value {
    let mut v = json!({ "action": action });
    if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
        o.extend(e.clone());
    }
    v
}

#[tokio::test]
async fn a_hazard_goes_round_the_whole_loop_and_the_rectifier_cannot_close_it() {
    let f = TestApp::new().await;
    let p = people(&f).await;
    let photo = upload(&f, &p.staff, "before.jpg", &jpeg_bytes()).await;
    assert_eq!(photo.status, StatusCode::CREATED, "{}", photo.text());
    let photo_id = photo.json()["id"].as_i64().unwrap();
    let report = json!({
        "school_id": f.tree.school_a, "category": "fire_heating", "grade": "general", "source": "patrol",
        "location": "食堂後廚", "title": "電線私拉亂接", "description": "後廚插座串接多個排插",
        "attachments": [photo_id],
    });
    let created = f.post("/api/v1/hazards", &p.staff, &report).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let h = created.json();
    assert_eq!(h["status"], "reported");
    assert_eq!(h["category"], "fire_heating");
    let id = h["id"].as_i64().unwrap();
    let path = format!("/api/v1/hazards/{id}/transitions");
    let tomorrow = (chrono::Utc::now().date_naive() + chrono::Days::new(3)).to_string();

    let r = f
        .post(
            &path,
            &p.staff,
            &step(
                "register",
                json!({"owner": "hz-staff", "measures": "x", "deadline": tomorrow}),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "staff may not register");
    let r = f.post(&path, &p.safety, &step("register", json!({"owner": "hz-staff", "measures": "拆除排插，增設專用插座", "deadline": tomorrow}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["status"], "registered");
    assert_eq!(r.json()["owner"]["login"], "hz-staff");
    let r = f.post(&path, &p.safety, &step("verify", json!({}))).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.error_code(), "illegal_transition");
    assert_eq!(
        f.post(&path, &p.staff, &step("start", json!({})))
            .await
            .status,
        StatusCode::OK
    );
    let after = upload(&f, &p.staff, "after.jpg", &jpeg_with_gps())
        .await
        .json()["id"]
        .as_i64()
        .unwrap();
    let r = f
        .post(
            &path,
            &p.staff,
            &step(
                "submit",
                json!({"note": "已增設專用插座", "attachments": [after]}),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["status"], "submitted");
    // The rectifier verifying their own work: refused, and nothing changes.
    let r = f
        .post(&path, &p.staff, &step("verify", json!({"note": "ok"})))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = f
        .post(
            &path,
            &p.principal,
            &step("verify", json!({"note": "驗收合格"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["status"], "closed");
    assert_eq!(r.json()["verifier"]["login"], "hz-principal");
    let detail = f
        .get(&format!("/api/v1/hazards/{id}"), &p.safety)
        .await
        .json();
    let actions: Vec<&str> = detail["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["report", "register", "start", "submit", "verify"]);
    assert_eq!(detail["history"][3]["attachments"][0]["id"], after);
    // Listed as closed; counted.
    let list = f
        .get("/api/v1/hazards?status=closed", &p.safety)
        .await
        .json();
    assert_eq!(list["items"][0]["id"], id);
    assert!(list["next_cursor"].is_null());
    let counts = f.get("/api/v1/hazards/counts", &p.principal).await.json();
    assert_eq!(counts["by_status"]["closed"], 1);
}

#[tokio::test]
async fn out_of_scope_hazards_look_missing_and_bad_input_changes_nothing() {
    let f = TestApp::new().await;
    let p = people(&f).await;
    let theirs = f
        .get(&format!("/api/v1/hazards/{}", f.hazard), &p.outsider)
        .await;
    let missing = f.get("/api/v1/hazards/999999", &p.outsider).await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);
    assert_eq!(theirs.body, missing.body);
    let path = format!("/api/v1/hazards/{}/transitions", f.hazard);
    let r = f
        .post(&path, &p.outsider, &step("dismiss", json!({"reason": "x"})))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = f
        .post(
            &path,
            &p.safety,
            &step("dismiss", json!({"reason": "x", "approved_by": "me"})),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "unknown fields are refused"
    );
    let yesterday = (chrono::Utc::now().date_naive() - chrono::Days::new(2)).to_string();
    let r = f
        .post(
            &path,
            &p.safety,
            &step(
                "register",
                json!({"owner": "hz-staff", "measures": "x", "deadline": yesterday}),
            ),
        )
        .await;
    assert_eq!(r.error_code(), "deadline_past");
    let r = f
        .post(
            &path,
            &p.safety,
            &step(
                "register",
                json!({"owner": "hz-outsider", "measures": "x", "deadline": "2099-01-01"}),
            ),
        )
        .await;
    assert_eq!(r.error_code(), "owner_not_at_school");
    let r = f.post(&path, &p.safety, &step("fly", json!({}))).await;
    assert_eq!(r.error_code(), "hazard_action");
    let bad = json!({"school_id": f.tree.school_b, "category": "buildings", "location": "x", "title": "x", "description": "x"});
    assert_eq!(
        f.post("/api/v1/hazards", &p.staff, &bad).await.error_code(),
        "hazard_school"
    );
    let bad = json!({"school_id": f.tree.school_a, "category": "weather", "location": "x", "title": "x", "description": "x"});
    assert_eq!(
        f.post("/api/v1/hazards", &p.staff, &bad).await.error_code(),
        "hazard_category"
    );
    let h = f
        .get(&format!("/api/v1/hazards/{}", f.hazard), &p.safety)
        .await
        .json();
    assert_eq!(h["status"], "reported");
    assert_eq!(h["history"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn the_two_lists_export_as_xlsx_with_chinese_text_intact() {
    use calamine::{Data, Reader, Xlsx};
    let f = TestApp::new().await;
    let p = people(&f).await;
    let path = format!(
        "/api/v1/hazards/export.xlsx?list=problems&org_id={}",
        f.tree.school_a
    );
    let r = f.get(&path, &p.safety).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert!(
        r.header("content-disposition")
            .unwrap()
            .contains("filename*=UTF-8''")
    );
    let mut book: Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(r.body.clone())).unwrap();
    let sheet = book
        .worksheet_range("問題隱患清單")
        .expect("the problem list sheet");
    assert_eq!(sheet.get_value((2, 0)), Some(&Data::String("學校".into())));
    assert_eq!(
        sheet.get_value((3, 0)),
        Some(&Data::String(xiaoan_testkit::SCHOOL_A_NAME.into()))
    );
    assert_eq!(
        sheet.get_value((3, 2)),
        Some(&Data::String("消防取暖".into()))
    );
    assert_eq!(
        sheet.get_value((3, 4)),
        Some(&Data::String(
            "滅火器過期：一樓走廊兩具滅火器壓力不足".into()
        ))
    );
    // The rectification list holds only registered hazards: none yet.
    let r = f
        .get(&path.replace("problems", "rectifications"), &p.safety)
        .await;
    let mut book: Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(r.body.clone())).unwrap();
    let sheet = book.worksheet_range("整改清單").unwrap();
    assert_eq!(sheet.get_value((3, 0)), Some(&Data::Empty), "no data rows");
    assert!(matches!(
        sheet.get_value((4, 0)),
        Some(Data::String(s)) if s.starts_with("填表人")
    ));
    assert_eq!(
        sheet.height(),
        5,
        "headers, no rows, then the signature block"
    );
    // Without an org, the list is the caller's own unit's, and says so by name.
    let r = f
        .get("/api/v1/hazards/export.xlsx?list=problems", &p.safety)
        .await;
    let mut book: Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(r.body.clone())).unwrap();
    let sheet = book.worksheet_range("問題隱患清單").unwrap();
    assert_eq!(
        sheet.get_value((0, 0)),
        Some(&Data::String(format!(
            "{} 問題隱患清單",
            xiaoan_testkit::SCHOOL_A_NAME
        )))
    );
    // Another school's principal cannot export school A; staff cannot export at all.
    assert_eq!(f.get(&path, &p.outsider).await.error_code(), "org_unknown");
    assert_eq!(f.get(&path, &p.staff).await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        f.get("/api/v1/hazards/export.xlsx?list=everything", &p.safety)
            .await
            .error_code(),
        "hazard_list"
    );
}

#[tokio::test]
async fn bidirectional_overrides_and_control_characters_are_refused_naming_the_field() {
    let f = TestApp::new().await;
    let p = people(&f).await;
    let report = |field: &str, value: &str| {
        let mut v = json!({
            "school_id": f.tree.school_a, "category": "buildings", "location": "二樓走廊",
            "title": "扶手鬆動", "description": "東側扶手鬆動",
        });
        v[field] = json!(value);
        v
    };
    for (field, value, label) in [
        ("title", "扶手\u{202E}動鬆", "標題"),
        ("title", "扶手\u{2066}鬆動\u{2069}", "標題"),
        ("location", "二樓\u{202D}走廊", "位置"),
        ("location", "二樓\t走廊", "位置"),
        ("description", "扶手\u{202B}鬆動", "隱患描述"),
        ("description", "扶手\u{0}鬆動", "隱患描述"),
        ("found_by", "王\u{202E}老師", "發現人"),
    ] {
        let r = f
            .post("/api/v1/hazards", &p.staff, &report(field, value))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{field}: {}", r.text());
        assert_eq!(r.error_code(), "field_bad_characters", "{field}");
        let message = r.json()["error"]["message"].as_str().unwrap().to_string();
        assert!(message.contains(label), "{field}: {message}");
    }
    let r = f
        .post("/api/v1/hazards", &p.staff, &report("title", ""))
        .await;
    assert_eq!(r.error_code(), "field_empty");
    let r = f
        .post(
            "/api/v1/hazards",
            &p.staff,
            &report("title", &"字".repeat(101)),
        )
        .await;
    assert_eq!(r.error_code(), "field_too_long");
    // A multi-line description keeps its lines.
    let r = f
        .post(
            "/api/v1/hazards",
            &p.staff,
            &report("description", "第一行\r\n第二行\t備註"),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.json()["description"], "第一行\n第二行\t備註");
    // Names of orgs and people follow the same rule.
    let admin = f.token(xiaoan_testkit::ADMIN).await;
    let org = json!({"kind": "centre", "code": "C-77", "name": "城關\u{202E}中心", "parent_id": f.tree.bureau});
    let r = f.post("/api/v1/orgs", &admin, &org).await;
    assert_eq!(r.error_code(), "field_bad_characters");
    let r = f
        .patch(
            "/api/v1/users/hz-staff",
            &admin,
            &json!({"display_name": "李\u{2067}老師"}),
        )
        .await;
    assert_eq!(r.error_code(), "field_bad_characters");
}

#[tokio::test]
async fn the_list_can_put_the_most_overdue_first_page_by_page() {
    let f = TestApp::new().await;
    let p = people(&f).await;
    let today = xiaoan_web::WebConfig::default().today();
    let mut ids = vec![];
    for (title, days_late) in [("消防通道堵塞", 3_u64), ("護欄鬆動", 10), ("電箱未上鎖", 1)]
    {
        let report = json!({
            "school_id": f.tree.school_a, "category": "buildings", "location": "操場", "title": title,
            "description": "巡查發現",
        });
        let id = f.post("/api/v1/hazards", &p.staff, &report).await.json()["id"]
            .as_i64()
            .unwrap();
        let register = step(
            "register",
            json!({"owner": "hz-staff", "measures": "限期整改", "deadline": today.to_string()}),
        );
        let path = format!("/api/v1/hazards/{id}/transitions");
        let r = f.post(&path, &p.safety, &register).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        // The deadline has since passed: `days_late` days ago.
        let deadline = today - chrono::Days::new(days_late);
        sqlx::query("UPDATE hazards SET deadline = $1 WHERE id = $2")
            .bind(deadline.to_string())
            .bind(id)
            .execute(f.db.pool())
            .await
            .unwrap();
        ids.push(id);
    }
    // One at a time, following the cursor: ten days late, three, one, then the fixture's
    // hazard, which is not overdue.
    let mut seen = vec![];
    let mut url = "/api/v1/hazards?sort=overdue&limit=1".to_string();
    loop {
        let page = f.get(&url, &p.safety).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text());
        let page = page.json();
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| h["id"].as_i64().unwrap()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => url = format!("/api/v1/hazards?sort=overdue&limit=1&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, vec![ids[1], ids[0], ids[2], f.hazard]);
    let newest = f.get("/api/v1/hazards", &p.safety).await.json();
    assert_eq!(newest["items"][0]["id"], ids[2], "newest first by default");
    let r = f.get("/api/v1/hazards?sort=sideways", &p.safety).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error_code(), "hazard_sort");
    // The document names the parameter.
    let doc = f
        .api("GET", "/api/v1/openapi.json", None, None)
        .await
        .json();
    let params = doc["paths"]["/api/v1/hazards"]["get"]["parameters"]
        .as_array()
        .unwrap();
    assert!(params.iter().any(|p| p["name"] == "sort"));
    // The page offers the choice and keeps it on the tabs and the next page.
    let cookie = xiaoan_testkit::sign_in_page(&f, "hz-safety", xiaoan_testkit::PW).await;
    let r = f
        .send(xiaoan_testkit::page(
            "/hazards?view=overdue&sort=overdue",
            Some(&cookie),
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let html = r.text();
    assert!(
        html.contains(r#"<option value="overdue" selected>"#),
        "{html}"
    );
    let first = html.find(&format!("/hazards/{}\"", ids[1])).unwrap();
    let second = html.find(&format!("/hazards/{}\"", ids[0])).unwrap();
    assert!(first < second, "ten days late before three");
    assert!(
        html.contains("/hazards?sort=overdue&#38;view=open\""),
        "{html}"
    );
}
