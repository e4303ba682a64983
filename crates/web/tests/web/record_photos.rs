//! Photos on records, through the API and the record page: whoever may read a record may
//! open its photos, and photos uploaded with a refused form are kept.

use crate::compliance::{drill, with_plan};
use axum::http::StatusCode;
use serde_json::json;
use xiaoan_domain::Role;
use xiaoan_testkit::{PW, TestApp, csrf_of, page, sign_in_page};

#[tokio::test]
async fn whoever_may_read_a_record_may_open_its_photos() {
    let f = TestApp::new().await;
    f.add_role_user("safety-a", "李安全", Role::SafetyOfficer, f.tree.school_a)
        .await;
    f.add_role_user("teacher-a", "王老師", Role::HeadTeacher, f.tree.school_a)
        .await;
    f.add_role_user("safety-b", "趙安全", Role::SafetyOfficer, f.tree.school_b)
        .await;
    let (_, today) = with_plan(&f).await;
    let token = f.token("safety-a").await;
    let photo = f.photo_by("safety-a").await;
    let mut body = drill(today);
    body["attachment_ids"] = json!([photo]);
    let r = f.post("/api/v1/records", &token, &body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let path = format!("/api/v1/attachments/{photo}");
    let teacher = f.token("teacher-a").await;
    let got = f.get(&path, &teacher).await;
    assert_eq!(got.status, StatusCode::OK, "{}", got.text());
    assert_eq!(got.header("content-type"), Some("image/jpeg"));
    // Another school's officer cannot, and is told nothing more than for a missing id.
    let other = f.token("safety-b").await;
    let r = f.get(&path, &other).await;
    assert_eq!(
        (r.status, r.error_code()),
        (StatusCode::NOT_FOUND, "not_found".into())
    );
}

#[tokio::test]
async fn the_record_page_takes_photos_and_keeps_them_after_a_refusal() {
    let f = TestApp::new().await;
    f.add_role_user("safety-a", "李安全", Role::SafetyOfficer, f.tree.school_a)
        .await;
    let (_, today) = with_plan(&f).await;
    let school = sign_in_page(&f, "safety-a", PW).await;
    let html = f
        .send(page("/records/new?kind=drill", Some(&school)))
        .await
        .text();
    assert!(html.contains("enctype=\"multipart/form-data\"") && html.contains("name=\"photos\""));
    let csrf = csrf_of(&html);
    let day = today.to_string();
    let org = f.tree.school_a.to_string();
    let mut fields = vec![
        ("kind", "drill"),
        ("org_id", org.as_str()),
        ("occurred_on", day.as_str()),
        ("drill_type", "fire"),
        ("participants", "280"),
    ];
    // Refused (no evacuation time): the photo is kept and shown, ticked.
    let r = crate::hazard_pages::post_multipart(
        &f,
        "/records",
        &school,
        &csrf,
        &fields,
        &[xiaoan_testkit::jpeg_bytes()],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    let back = r.header("location").unwrap().to_string();
    let html = f.send(page(&back, Some(&school))).await.text();
    let kept = html
        .split("name=\"photo\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("the uploaded photo is offered again")
        .to_string();
    assert!(html.contains(&format!("<img src=\"/attachments/{kept}\"")));
    // Sent again with the kept photo and the missing field: saved with the photo.
    fields.push(("evacuation_seconds", "100"));
    fields.push(("photo", kept.as_str()));
    let r = crate::hazard_pages::post_multipart(&f, "/records", &school, &csrf, &fields, &[]).await;
    assert!(r.status.is_redirection(), "{} {}", r.status, r.text());
    let at = r.header("location").unwrap().to_string();
    let html = f.send(page(&at, Some(&school))).await.text();
    assert!(
        html.contains(&format!("<img src=\"/attachments/{kept}\"")),
        "{html}"
    );
}
