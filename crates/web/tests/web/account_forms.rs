//! The users and orgs forms refused through Post/Redirect/Get: why, once, with what was
//! sent kept; a new account's one-time password shown once on its page.

use axum::http::StatusCode;
use xiaoan_testkit::{ADMIN, PW, TestApp, csrf_of, page, post_form, sign_in_page};

#[tokio::test]
async fn user_and_org_forms_keep_what_was_sent_and_show_a_password_once() {
    let f = TestApp::new().await;
    let admin = sign_in_page(&f, ADMIN, PW).await;
    let html = f.send(page("/users/new", Some(&admin))).await.text();
    let csrf = csrf_of(&html);
    let school = f.tree.school_a.to_string();

    // A login that is not one: back to the form saying why, every field kept.
    let sent = [
        ("_csrf", csrf.as_str()),
        ("login", "wang xiaoming"),
        ("display_name", "王小明"),
        ("org_id", school.as_str()),
        ("role", "head_teacher"),
    ];
    let r = post_form(&f, "/users", &admin, &sent).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    assert_eq!(r.header("location"), Some("/users/new"));
    let html = f.send(page("/users/new", Some(&admin))).await.text();
    assert!(html.contains("role=\"alert\""), "{html}");
    assert!(
        html.contains("value=\"wang xiaoming\"")
            && html.contains("value=\"王小明\"")
            && html.contains(&format!("<option value=\"{school}\" selected>"))
            && html.contains("<option value=\"head_teacher\" selected>"),
        "every field is kept: {html}"
    );
    let again = f.send(page("/users/new", Some(&admin))).await.text();
    assert!(!again.contains("role=\"alert\""), "shown once: {again}");

    // Created: the account's page shows its one-time password, once.
    let mut ok = sent.to_vec();
    ok[1] = ("login", "wang.xiaoming");
    let r = post_form(&f, "/users", &admin, &ok).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    assert_eq!(r.header("location"), Some("/users/wang.xiaoming"));
    let html = f
        .send(page("/users/wang.xiaoming", Some(&admin)))
        .await
        .text();
    assert!(html.contains("class=\"secret\""), "{html}");
    let again = f
        .send(page("/users/wang.xiaoming", Some(&admin)))
        .await
        .text();
    assert!(!again.contains("class=\"secret\""), "shown once: {again}");

    // A name too long for the profile: refused, the name as sent kept, nothing changed.
    let long = "長".repeat(70);
    let csrf = csrf_of(&again);
    let r = post_form(
        &f,
        "/users/wang.xiaoming",
        &admin,
        &[
            ("_csrf", &csrf),
            ("display_name", &long),
            ("org_id", &school),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let html = f
        .send(page("/users/wang.xiaoming", Some(&admin)))
        .await
        .text();
    assert!(
        html.contains("role=\"alert\"") && html.contains(&format!("value=\"{long}\"")),
        "{html}"
    );
    assert!(
        html.contains("<h2>王小明 (wang.xiaoming)"),
        "unchanged: {html}"
    );

    // A new org with a code that is not one: back to the form, its fields kept.
    let centre = f.tree.centre_a.to_string();
    let r = post_form(
        &f,
        "/orgs",
        &admin,
        &[
            ("_csrf", &csrf),
            ("kind", "school"),
            ("code", "bad code!"),
            ("name", "河西新村小學"),
            ("parent_id", &centre),
            ("school_type", "primary"),
            ("students", "321"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    assert_eq!(r.header("location"), Some("/orgs/new"));
    let html = f.send(page("/orgs/new", Some(&admin))).await.text();
    assert!(
        html.contains("role=\"alert\"")
            && html.contains("value=\"河西新村小學\"")
            && html.contains("value=\"321\"")
            && html.contains("value=\"bad code!\""),
        "{html}"
    );
}
