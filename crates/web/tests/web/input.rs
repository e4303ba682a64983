//! Bad input, the shape of error bodies, and the languages of messages and pages.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::json;
use xiaoan_testkit::{ADMIN, Resp, TestApp, api_request, ids, page};

async fn post_org(f: &TestApp, token: &str, body: &str, lang: Option<&str>) -> Resp {
    let mut b = api_request("POST", "/api/v1/orgs", Some(token))
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(l) = lang {
        b = b.header(header::ACCEPT_LANGUAGE, l);
    }
    f.send(b.body(Body::from(body.to_string())).unwrap()).await
}

fn has_cjk(s: &str) -> bool {
    s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
}

#[tokio::test]
async fn bad_input_is_refused_clearly_and_changes_nothing() {
    let f = TestApp::new().await;
    let admin = f.token(ADMIN).await;
    let before = ids(&f.get("/api/v1/orgs", &admin).await.json()).len();
    let bureau = f.tree.bureau;

    let r = post_org(&f, &admin, r#"{"kind": "centre", "code": "C-9","#, None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    assert_eq!(r.error_code(), "bad_json");

    let r = post_org(&f, &admin, &json!({"kind": "centre", "code": "C-9", "name": "新中心", "parent_id": bureau, "colour": "red"}).to_string(), None).await;
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "unknown field accepted: {}",
        r.text()
    );
    assert_eq!(r.error_code(), "bad_fields");

    let long =
        json!({"kind": "centre", "code": "C-9", "name": "校".repeat(65), "parent_id": bureau})
            .to_string();
    let zh = post_org(&f, &admin, &long, None).await;
    assert_eq!(zh.status, StatusCode::BAD_REQUEST, "{}", zh.text());
    assert_eq!(zh.error_code(), "field_too_long");
    let zh_msg = zh.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(
        has_cjk(&zh_msg) && zh_msg.contains("64"),
        "default message should be Chinese and name the limit: {zh_msg}"
    );
    assert!(
        zh_msg.contains("名稱"),
        "message should name the field in Traditional Chinese: {zh_msg}"
    );

    let en = post_org(&f, &admin, &long, Some("en")).await;
    assert_eq!(en.status, StatusCode::BAD_REQUEST);
    assert_eq!(en.error_code(), "field_too_long");
    let en_msg = en.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(
        !has_cjk(&en_msg) && en_msg.contains("at most 64"),
        "English message expected: {en_msg}"
    );
    assert!(!en_msg.contains("%{"), "unfilled placeholder: {en_msg}");

    // Error bodies have exactly the documented shape.
    let v = en.json();
    assert_eq!(v.as_object().unwrap().len(), 1, "{v}");
    assert_eq!(v["error"].as_object().unwrap().len(), 2, "{v}");

    // A 64-character name is fine (the limit is inclusive), proving the refusals above were
    // about the length only.
    let ok = json!({"kind": "centre", "code": "C-9", "name": "校".repeat(64), "parent_id": bureau})
        .to_string();
    let after_bad = ids(&f.get("/api/v1/orgs", &admin).await.json()).len();
    assert_eq!(after_bad, before, "a refused request created something");
    let r = post_org(&f, &admin, &ok, None).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(
        ids(&f.get("/api/v1/orgs", &admin).await.json()).len(),
        before + 1
    );

    // A body without the JSON content type is refused with 415.
    let r = f
        .send(
            api_request("POST", "/api/v1/orgs", Some(&admin))
                .body(Body::from(ok.clone()))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{}", r.text());
    assert_eq!(r.error_code(), "json_content_type");
}

#[tokio::test]
async fn a_language_chosen_once_is_remembered() {
    let f = TestApp::new().await;
    let r = f.send(page("/login?lang=en", None)).await;
    assert!(r.text().contains(r#"lang="en""#));
    let lang = r
        .set_cookie("lang")
        .expect("the choice is kept in a cookie");
    assert_eq!(lang, "en");
    let r = f
        .send(
            Request::builder()
                .uri("/login")
                .header(header::COOKIE, "lang=en")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert!(
        r.text().contains(r#"lang="en""#),
        "the lang cookie was ignored"
    );
    let r = f
        .send(
            Request::builder()
                .uri("/login")
                .header(header::ACCEPT_LANGUAGE, "en-GB,en;q=0.9")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert!(
        r.text().contains(r#"lang="zh-TW""#),
        "pages default to Traditional Chinese whatever the browser says"
    );
    // The API follows Accept-Language.
    let r = f
        .send(
            api_request("GET", "/api/v1/me", None)
                .header(header::ACCEPT_LANGUAGE, "zh-CN,zh;q=0.9")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let cn = r.json()["error"]["message"].as_str().unwrap().to_string();
    let tw_expected = f.api("GET", "/api/v1/me", None, None).await.json()["error"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        include_str!("../../locales/kit.yml").contains(&format!(
            "error.unauthenticated:\n  zh-TW: \"{tw_expected}\"\n  zh-CN: \"{cn}\""
        )),
        "not the Simplified Chinese message: {cn}"
    );
    let r = f.api("GET", "/api/v1/me", None, None).await;
    let tw = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(
        include_str!("../../locales/kit.yml")
            .contains(&format!("error.unauthenticated:\n  zh-TW: \"{tw}\"\n")),
        "not the Traditional Chinese message: {tw}"
    );
    assert_ne!(cn, tw);
}
