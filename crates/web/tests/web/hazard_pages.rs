//! The hazard pages as a phone user meets them: report with a photo, register, rectify with
//! an after-photo, verify by someone else, and the printable lists.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use xiaoan_domain::Role;
use xiaoan_testkit::{
    ADMIN, PW, SESSION, TestApp, csrf_of, jpeg_bytes, jpeg_tinted, page, sign_in_page,
};

/// Posts a multipart form (text fields and optional photos) to `path`, with the form token
/// `token` as its first field (as the page's forms send it) unless it is empty.
pub(crate) async fn post_multipart(
    f: &TestApp,
    path: &str,
    cookie: &str,
    token: &str,
    fields: &[(&str, &str)],
    photos: &[Vec<u8>],
) -> xiaoan_testkit::Resp {
    let boundary = "page-boundary-7";
    let mut body = Vec::new();
    let token = [("_csrf", token)];
    let token = if token[0].1.is_empty() {
        &[][..]
    } else {
        &token[..]
    };
    for (k, v) in token.iter().chain(fields) {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    for p in photos {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"photos\"; filename=\"IMG_0001.JPG\"\r\nContent-Type: image/jpeg\r\n\r\n")
                .as_bytes(),
        );
        body.extend_from_slice(p);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    let req = Request::builder()
        .method("POST")
        .uri(path)
        .header(header::COOKIE, format!("{SESSION}={cookie}"))
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(Body::from(body))
        .unwrap();
    f.send(req).await
}

async fn open(f: &TestApp, path: &str, cookie: &str) -> String {
    let r = f.send(page(path, Some(cookie))).await;
    assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text());
    r.text()
}

#[tokio::test]
async fn a_hazard_is_reported_rectified_and_closed_out_through_the_pages() {
    let f = TestApp::new().await;
    f.add_role_user("pg-staff", "李老師", Role::Staff, f.tree.school_a)
        .await;
    f.add_role_user(
        "pg-safety",
        "安全專幹",
        Role::SafetyOfficer,
        f.tree.school_a,
    )
    .await;
    f.add_role_user("pg-principal", "張校長", Role::Principal, f.tree.school_a)
        .await;
    let staff = sign_in_page(&f, "pg-staff", PW).await;
    let safety = sign_in_page(&f, "pg-safety", PW).await;
    let principal = sign_in_page(&f, "pg-principal", PW).await;

    // Report from the phone form, with a photo.
    let form = open(&f, "/hazards/new", &staff).await;
    assert!(form.contains("capture=\"environment\""));
    assert!(
        !form.contains("?_csrf="),
        "the form token never goes into an address"
    );
    let token = csrf_of(&form);
    let fields = [
        ("school_id", f.tree.school_a.to_string()),
        ("category", "buildings".to_string()),
        ("grade", "major".to_string()),
        ("source", "patrol".to_string()),
        ("location", "操場東側圍牆".to_string()),
        ("title", "圍牆傾斜開裂".to_string()),
        ("description", "圍牆向外傾斜約 5 度，有多處裂縫".to_string()),
        ("found_by", "李老師".to_string()),
        ("found_on", String::new()),
    ];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = post_multipart(&f, "/hazards", &staff, "", &fields, &[jpeg_bytes()]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "no form token, no hazard");
    let r = post_multipart(
        &f,
        &format!("/hazards?_csrf={token}"),
        &staff,
        "",
        &fields,
        &[jpeg_bytes()],
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "not in the address either");
    let r = post_multipart(&f, "/hazards", &staff, &token, &fields, &[jpeg_bytes()]).await;
    assert!(r.status.is_redirection(), "{} {}", r.status, r.text());
    let at = r.header("location").unwrap().to_string();
    let html = open(&f, &at, &staff).await;
    assert!(html.contains("圍牆傾斜開裂") && html.contains("<img src=\"/attachments/"));
    assert!(
        !html.contains("name=\"action\" value=\"register\""),
        "staff cannot register"
    );

    // The safety officer registers it with the staff member as owner.
    let html = open(&f, &at, &safety).await;
    assert!(html.contains("name=\"action\" value=\"register\""));
    let t = csrf_of(&html);
    let deadline = (chrono::Utc::now().date_naive() + chrono::Days::new(14)).to_string();
    let step = format!("{at}/transitions");
    let r = post_multipart(
        &f,
        &step,
        &safety,
        &t,
        &[
            ("action", "register"),
            ("owner", "pg-staff"),
            ("measures", "設置圍擋，拆除重建"),
            ("deadline", &deadline),
            ("grade", "major"),
        ],
        &[],
    )
    .await;
    assert!(r.status.is_redirection(), "{}", r.text());

    // The owner starts and submits with an after-photo; a submission without one is refused.
    let t = csrf_of(&open(&f, &at, &staff).await);
    let step = format!("{at}/transitions");
    assert!(
        post_multipart(&f, &step, &staff, &t, &[("action", "start")], &[])
            .await
            .status
            .is_redirection()
    );
    // Refused: back to the hazard's page (a reload does not post again), which says what
    // is missing, once.
    let r = post_multipart(
        &f,
        &step,
        &staff,
        &t,
        &[("action", "submit"), ("note", "已重建")],
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.header("location"), Some(at.as_str()));
    assert!(
        open(&f, &at, &staff)
            .await
            .contains("提交整改需附整改後照片"),
        "the message says what is missing"
    );
    assert!(
        !open(&f, &at, &staff)
            .await
            .contains("提交整改需附整改後照片")
    );
    let r = post_multipart(
        &f,
        &step,
        &staff,
        &t,
        &[("action", "submit"), ("note", "已重建圍牆")],
        &[jpeg_bytes()],
    )
    .await;
    assert!(r.status.is_redirection(), "{}", r.text());
    let html = open(&f, &at, &staff).await;
    assert!(
        !html.contains("value=\"verify\""),
        "the rectifier is not offered verification"
    );
    // The same photo bytes as the report's: flagged.
    assert!(html.contains("照片曾在其他步驟使用過"));

    // The principal closes it out.
    let t = csrf_of(&open(&f, &at, &principal).await);
    let r = post_multipart(
        &f,
        &format!("{at}/transitions"),
        &principal,
        &t,
        &[("action", "verify"), ("note", "驗收合格")],
        &[],
    )
    .await;
    assert!(r.status.is_redirection(), "{}", r.text());
    let html = open(&f, &at, &principal).await;
    assert!(html.contains("已銷賬"));
    // The history names people, not logins alone.
    assert!(
        html.contains("安全專幹 (pg-safety)") && html.contains("張校長 (pg-principal)"),
        "{html}"
    );

    // Lists: the list page, filters, the printable rectification list and its xlsx.
    let list = open(&f, "/hazards?view=all&category=buildings", &safety).await;
    assert!(list.contains("圍牆傾斜開裂"));
    let list = open(&f, "/hazards?status=reported", &safety).await;
    assert!(!list.contains("圍牆傾斜開裂"));
    let printed = open(
        &f,
        &format!(
            "/hazards/lists?list=rectifications&org_id={}",
            f.tree.school_a
        ),
        &safety,
    )
    .await;
    assert!(
        printed.contains("整改清單")
            && printed.contains("設置圍擋，拆除重建")
            && printed.contains("張校長")
    );
    // It prints with a signature and stamp block, and offers a print button (shown by the
    // page's script, so that it never appears where it cannot work).
    assert!(printed.contains("單位負責人（簽字）") && printed.contains("（單位蓋章）"));
    assert!(printed.contains("data-print hidden"));
    let js = f.send(page("/static/app.js", None)).await;
    assert_eq!(js.status, StatusCode::OK);
    assert!(js.text().contains("window.print()"));
    // Without an org, the printed list names the caller's own school.
    let own = open(&f, "/hazards/lists?list=problems", &safety).await;
    assert!(own.contains(&format!("{} 問題隱患清單", xiaoan_testkit::SCHOOL_A_NAME)));
    let x = f
        .send(page("/hazards/export.xlsx?list=problems", Some(&safety)))
        .await;
    assert_eq!(x.status, StatusCode::OK);
    assert!(x.header("content-type").unwrap().contains("spreadsheetml"));
    // Staff can see hazards but not export lists.
    assert_eq!(
        f.send(page("/hazards/lists?list=problems", Some(&staff)))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn bad_filters_and_bad_photos_get_clear_messages() {
    let f = TestApp::new().await;
    f.add_role_user("pg-staff2", "王老師", Role::Staff, f.tree.school_a)
        .await;
    let staff = sign_in_page(&f, "pg-staff2", PW).await;
    let r = f
        .send(page("/hazards?category=weather", Some(&staff)))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text().contains("隱患類別不正確"));
    let t = csrf_of(&open(&f, "/hazards/new", &staff).await);
    let fields = [
        ("school_id", f.tree.school_a.to_string()),
        ("category", "other".into()),
        ("location", "x".into()),
        ("title", "x".into()),
        ("description", "x".into()),
    ];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = post_multipart(
        &f,
        "/hazards",
        &staff,
        &t,
        &fields,
        &[b"%PDF-1.4 not a photo".to_vec()],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.header("location"), Some("/hazards/new"));
    let again = open(&f, "/hazards/new", &staff).await;
    assert!(again.contains("只接受 JPEG 或 PNG"));
    let list = open(&f, "/hazards", &staff).await;
    assert!(
        list.contains("滅火器過期"),
        "the fixture's hazard is listed"
    );
    assert!(!list.contains(">x<"), "nothing was created");
}

#[tokio::test]
async fn the_history_says_why_the_system_raised_a_hazard() {
    let f = TestApp::new().await;
    sqlx::query("UPDATE hazards SET grade = 'major', status = 'registered' WHERE id = $1")
        .bind(f.hazard)
        .execute(f.db.pool())
        .await
        .unwrap();
    let today = f.state.config.today();
    let raised = xiaoan_store::hazards::escalate(&f.db, today, 7)
        .await
        .unwrap();
    assert_eq!(raised, 1);
    let admin = sign_in_page(&f, ADMIN, PW).await;
    let html = open(&f, &format!("/hazards/{}", f.hazard), &admin).await;
    assert!(
        html.contains("系統（自動督辦）") && html.contains("重大隱患，列入教育局掛牌督辦"),
        "{html}"
    );
    assert!(!html.contains("system:escalation"), "{html}");
}

#[tokio::test]
async fn a_refused_report_keeps_its_photo_and_sending_it_again_is_no_reuse() {
    let f = TestApp::new().await;
    f.add_role_user("kp-staff", "李老師", Role::Staff, f.tree.school_a)
        .await;
    let staff = sign_in_page(&f, "kp-staff", PW).await;
    let school = f.tree.school_a.to_string();
    let report = |title: &'static str, kept: Option<String>, photo: Option<Vec<u8>>| {
        let (f, staff, school) = (&f, &staff, school.clone());
        async move {
            let token = csrf_of(&open(f, "/hazards/new", staff).await);
            let mut fields = vec![
                ("school_id", school.as_str()),
                ("category", "fire_heating"),
                ("location", "實驗樓二樓走廊"),
                ("title", title),
                ("description", "滅火器壓力表指針在紅區"),
            ];
            if let Some(k) = kept.as_deref() {
                fields.push(("photo", k));
            }
            let photos: Vec<Vec<u8>> = photo.into_iter().collect();
            post_multipart(f, "/hazards", staff, &token, &fields, &photos).await
        }
    };
    // No title: back to the form with every field and the photo kept, ticked.
    let r = report("", None, Some(jpeg_tinted(30))).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.header("location"), Some("/hazards/new"));
    let form = open(&f, "/hazards/new", &staff).await;
    assert!(form.contains("value=\"實驗樓二樓走廊\"") && form.contains("滅火器壓力表指針在紅區"));
    let kept = form
        .split("name=\"photo\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("the photo is offered again")
        .to_string();
    assert!(form.contains(&format!("<img src=\"/attachments/{kept}\"")));
    // Sent again with the kept photo: reported with it, not flagged as used before.
    let r = report("滅火器失效", Some(kept.clone()), None).await;
    let at = r.header("location").unwrap().to_string();
    assert!(at.starts_with("/hazards/") && at != "/hazards/new", "{at}");
    let html = open(&f, &at, &staff).await;
    assert!(
        html.contains(&format!("<img src=\"/attachments/{kept}\"")),
        "{html}"
    );
    assert!(!html.contains("照片曾在其他步驟使用過"), "{html}");
    // The evidence is shown as a picture, and opens in place rather than downloading.
    assert!(html.contains("發現時照片"), "{html}");
    let shown = f
        .send(page(&format!("/attachments/{kept}"), Some(&staff)))
        .await;
    assert!(
        shown
            .header("content-disposition")
            .is_some_and(|d| d.starts_with("inline")),
        "{:?}",
        shown.header("content-disposition")
    );

    // A user who chooses the same file again after a refusal is not flagged either; the
    // same bytes on another hazard are.
    let other = jpeg_tinted(200);
    let r = report("", None, Some(other.clone())).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = report("滅火器失效二", None, Some(other.clone())).await;
    assert_ne!(r.header("location"), Some("/hazards/new"));
    let html = open(&f, r.header("location").unwrap(), &staff).await;
    assert!(!html.contains("照片曾在其他步驟使用過"), "{html}");
    let r = report("滅火器失效三", None, Some(other)).await;
    let html = open(&f, r.header("location").unwrap(), &staff).await;
    assert!(html.contains("照片曾在其他步驟使用過"), "{html}");
}
