//! Security findings: one's own password, one-time passwords, download sandboxes, lockout
//! per address, the audit log's roles, request ids and display, oversized bodies and
//! framework text, session-store failures at sign-in, one-transaction user edits, and
//! unauthenticated noise kept out of ERROR logs.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::json;
use std::sync::{Arc, Mutex};
use xiaoan_domain::Role;
use xiaoan_testkit::{
    ADMIN, PW, SESSION, TARGET, TestApp, api_request, csrf_of, open_login_form, page, post_form,
    post_login, sign_in_page,
};

#[tokio::test]
async fn nobody_resets_their_own_password_without_the_current_one() {
    let f = TestApp::new().await;
    let admin = f.token(ADMIN).await;
    let r = f
        .post(
            &format!("/api/v1/users/{ADMIN}/password"),
            &admin,
            &json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    assert_eq!(r.error_code(), "own_password_reset");
    // Nothing changed: the token still works and the password is the old one.
    assert_eq!(f.get("/api/v1/me", &admin).await.status, StatusCode::OK);
    assert_eq!(f.login(ADMIN, PW).await.status, StatusCode::OK);

    // The page refuses too, saying where to go.
    let cookie = sign_in_page(&f, ADMIN, PW).await;
    let r = f
        .send(page(&format!("/users/{ADMIN}"), Some(&cookie)))
        .await;
    let csrf = csrf_of(&r.text());
    let r = post_form(
        &f,
        &format!("/users/{ADMIN}/password"),
        &cookie,
        &[("_csrf", &csrf)],
    )
    .await;
    // Refused: back to the user's page, which points to the account page.
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    let html = f
        .send(page(&format!("/users/{ADMIN}"), Some(&cookie)))
        .await
        .text();
    assert!(
        html.contains("我的帳號") && html.contains("role=\"alert\""),
        "the page should point to the account page: {html}"
    );
    assert_eq!(f.login(ADMIN, PW).await.status, StatusCode::OK);
    // Resetting someone else's still works.
    let r = f
        .post(
            &format!("/api/v1/users/{TARGET}/password"),
            &admin,
            &json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
}

#[tokio::test]
async fn a_one_time_password_reaches_only_the_password_change_and_signs_in_once() {
    let f = TestApp::new().await;
    let t = f.tree;
    f.add_user(
        "fresh-two",
        "新來的",
        t.school_a,
        &[(Role::Principal, t.school_a)],
        true,
    )
    .await;
    let cookie = sign_in_page(&f, "fresh-two", PW).await;
    for path in ["/", "/hazards", "/users"] {
        let r = f.send(page(path, Some(&cookie))).await;
        assert!(
            r.status.is_redirection(),
            "{path} answered {} before the password change",
            r.status
        );
        assert_eq!(r.header("location"), Some("/account"), "{path}");
    }
    let r = f.send(page("/account", Some(&cookie))).await;
    assert_eq!(r.status, StatusCode::OK);

    // A second sign-in with the same one-time password is refused like a wrong password.
    let again = f.login("fresh-two", PW).await;
    let wrong = f.login("fresh-two", "Wrong-Password-99!").await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED, "{}", again.text());
    assert_eq!(again.body, wrong.body);
    let (anon, csrf) = open_login_form(&f).await;
    let r = post_login(
        &f,
        &anon,
        &[("_csrf", &csrf), ("login", "fresh-two"), ("password", PW)],
        None,
    )
    .await;
    // Refused: back to the sign-in form, not signed in.
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.header("location"), Some("/login"));

    // The first session still changes the password, and the new one signs in as often as needed.
    let r = f.send(page("/account", Some(&cookie))).await;
    let csrf = csrf_of(&r.text());
    let new_pw = "Harbour-Lantern-73!";
    let r = post_form(
        &f,
        "/account/password",
        &cookie,
        &[
            ("_csrf", &csrf),
            ("current_password", PW),
            ("new_password", new_pw),
            ("confirm_password", new_pw),
        ],
    )
    .await;
    assert!(r.status.is_redirection(), "{} {}", r.status, r.text());
    assert_eq!(f.login("fresh-two", new_pw).await.status, StatusCode::OK);
    assert_eq!(f.login("fresh-two", new_pw).await.status, StatusCode::OK);
}

#[tokio::test]
async fn downloads_keep_their_sandbox() {
    let f = TestApp::new().await;
    let admin = f.token(ADMIN).await;
    let r = f
        .get(&format!("/api/v1/attachments/{}", f.attachment), &admin)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let csp = r.header("content-security-policy").unwrap_or_default();
    assert!(csp.contains("sandbox"), "API download CSP: {csp}");
    let cookie = sign_in_page(&f, ADMIN, PW).await;
    let r = f
        .send(page(
            &format!("/attachments/{}", f.attachment),
            Some(&cookie),
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let csp = r.header("content-security-policy").unwrap_or_default();
    assert!(csp.contains("sandbox"), "page download CSP: {csp}");
    // Pages keep the application's policy.
    let r = f.send(page("/", Some(&cookie))).await;
    let csp = r.header("content-security-policy").unwrap_or_default();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
}

async fn login_from(f: &TestApp, ip: &str, login: &str, password: &str) -> StatusCode {
    let req = api_request("POST", "/api/v1/auth/login", None)
        .header(header::CONTENT_TYPE, "application/json")
        .header("x-forwarded-for", ip)
        .body(Body::from(
            json!({"username": login, "password": password}).to_string(),
        ))
        .expect("request");
    f.send(req).await.status
}

#[tokio::test]
async fn guesses_from_one_address_do_not_lock_the_account_elsewhere() {
    let f = TestApp::with_config(xiaoan_web::WebConfig {
        trusted_proxies: vec![std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)],
        login_attempts_per_minute: 1000,
        ..Default::default()
    })
    .await;
    for i in 0..6 {
        let s = login_from(&f, "203.0.113.9", ADMIN, &format!("Wrong-{i}-Password!")).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        login_from(&f, "203.0.113.9", ADMIN, PW).await,
        StatusCode::UNAUTHORIZED,
        "the guessing address is locked out"
    );
    assert_eq!(
        login_from(&f, "198.51.100.7", ADMIN, PW).await,
        StatusCode::OK,
        "the administrator is locked out everywhere by one address's guesses"
    );
    // Guesses spread over many addresses meet the slower, account-wide back-off.
    let limit = xiaoan_store::users::GLOBAL_LOCKOUT_FACTOR * 5;
    f.add_role_user("spread", "分散", Role::Staff, f.tree.school_a)
        .await;
    for i in 0..limit {
        let ip = format!("192.0.2.{}", i / 4 + 1);
        login_from(&f, &ip, "spread", "Wrong-Password-1!").await;
    }
    assert_eq!(
        login_from(&f, "198.51.100.8", "spread", PW).await,
        StatusCode::UNAUTHORIZED,
        "many failures from everywhere lock the account everywhere"
    );
}

#[tokio::test]
async fn sign_in_entries_carry_roles_and_our_own_request_id() {
    let f = TestApp::new().await;
    let req = api_request("POST", "/api/v1/auth/login", None)
        .header(header::CONTENT_TYPE, "application/json")
        .header("x-request-id", "client-chosen-id")
        .body(Body::from(
            json!({"username": TARGET, "password": "Wrong-Password-9!"}).to_string(),
        ))
        .expect("request");
    let r = f.send(req).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let ours = r.header("x-request-id").unwrap_or_default().to_string();
    assert_ne!(ours, "client-chosen-id", "the client chose our request id");
    assert_eq!(ours.len(), 32, "{ours}");
    let admin = f.token(ADMIN).await;
    let entries: Vec<xiaoan_domain::audit::AuditEntry> =
        xiaoan_store::audit::recent(&f.db, None, 500).await.unwrap();
    let failure = entries
        .iter()
        .find(|e| e.action == "auth.login" && e.result == "wrong_password")
        .expect("the failure is recorded");
    assert_eq!(failure.actor_login, TARGET);
    assert!(!failure.roles.is_empty(), "no roles on {failure:?}");
    assert_eq!(failure.request_id, ours);
    assert!(
        failure.detail.contains("client-chosen-id"),
        "the client's id is kept apart: {}",
        failure.detail
    );
    let ok = entries
        .iter()
        .find(|e| e.action == "auth.login" && e.result == "ok" && e.actor_login == ADMIN)
        .expect("the sign-in is recorded");
    assert!(ok.roles.contains("admin"), "{ok:?}");
    let r = f.get("/api/v1/audit/verify", &admin).await;
    assert_eq!(r.json()["intact"], true);
}

#[tokio::test]
async fn the_audit_page_shows_control_characters_and_verifies_on_demand() {
    let f = TestApp::new().await;
    assert_eq!(
        f.login("evil\u{202e}nimda\u{1b}[2J", PW).await.status,
        StatusCode::UNAUTHORIZED
    );
    let cookie = sign_in_page(&f, ADMIN, PW).await;
    let r = f.send(page("/audit", Some(&cookie))).await;
    assert_eq!(r.status, StatusCode::OK);
    let html = r.text();
    assert!(
        !html.contains('\u{202e}') && !html.contains('\u{1b}'),
        "raw control characters"
    );
    assert!(html.contains(r"evil\u{202e}nimda\u{1b}[2j"), "{html}");
    // Actions, objects and outcomes in words, people by name.
    assert!(
        html.contains("登入") && html.contains("帳號不存在") && !html.contains("auth.login"),
        "{html}"
    );
    assert!(
        !html.contains("Hash chain intact") && !html.contains("雜湊鏈完整"),
        "the chain is verified on every view"
    );
    assert!(html.contains("/audit?verify=1"), "no way to verify: {html}");
    let r = f.send(page("/audit?verify=1&lang=en", Some(&cookie))).await;
    assert!(r.text().contains("Hash chain intact"), "{}", r.text());
}

#[tokio::test]
async fn oversized_bodies_and_bad_queries_answer_without_framework_text() {
    let f = TestApp::new().await;
    let admin = f.token(ADMIN).await;
    let big = format!(r#"{{"display_name": "{}"}}"#, "x".repeat(3 * 1024 * 1024));
    let req = api_request("PATCH", &format!("/api/v1/users/{TARGET}"), Some(&admin))
        .header(header::CONTENT_TYPE, "application/json")
        .header("accept-language", "en")
        .body(Body::from(big))
        .expect("request");
    let r = f.send(req).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text());
    assert_eq!(r.error_code(), "too_large");
    assert!(!r.text().contains("Failed to"), "{}", r.text());

    let req = api_request("GET", "/api/v1/hazards/export.xlsx", Some(&admin))
        .header("accept-language", "en")
        .body(Body::empty())
        .expect("request");
    let r = f.send(req).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error_code(), "bad_query");
    let message = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(!message.contains("deserialize"), "{message}");
    assert!(
        message.contains("list"),
        "the parameter is not named: {message}"
    );

    let r = f
        .patch(
            &format!("/api/v1/users/{TARGET}"),
            &admin,
            &json!({"nickname": "x"}),
        )
        .await;
    assert_eq!(r.error_code(), "bad_fields");
    let message = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(message.contains("nickname"), "{message}");
    assert!(!message.contains("Failed to"), "{message}");
}

#[tokio::test]
async fn a_session_store_failure_at_sign_in_is_a_clear_error() {
    let f = TestApp::new().await;
    let (anon, csrf) = open_login_form(&f).await;
    sqlx::query(
        "CREATE TRIGGER sessions_down BEFORE INSERT ON sessions \
         BEGIN SELECT RAISE(ABORT, 'sessions unavailable'); END",
    )
    .execute(f.db.pool())
    .await
    .unwrap();
    let r = post_login(
        &f,
        &anon,
        &[("_csrf", &csrf), ("login", ADMIN), ("password", PW)],
        Some(("accept-language", "en")),
    )
    .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text());
    assert!(r.text().contains("工作階段無法儲存"), "{}", r.text());
    assert!(
        r.set_cookie(SESSION)
            .is_none_or(|c| c.is_empty() || c == anon),
        "a session cookie after a failed sign-in"
    );
}

#[tokio::test]
async fn a_user_edit_is_one_transaction() {
    let f = TestApp::new().await;
    let admin = f.token(ADMIN).await;
    // Renaming and disabling oneself: the disable is refused, so the rename is not kept.
    let r = f
        .patch(
            &format!("/api/v1/users/{ADMIN}"),
            &admin,
            &json!({"display_name": "改了名字", "disabled": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    assert_eq!(r.error_code(), "disable_self");
    let me = f.get("/api/v1/me", &admin).await.json();
    assert_ne!(me["display_name"], "改了名字", "half the edit was applied");
    // Both parts together succeed together.
    let r = f
        .patch(
            &format!("/api/v1/users/{TARGET}"),
            &admin,
            &json!({"display_name": "王小明", "disabled": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["display_name"], "王小明");
    assert_eq!(r.json()["disabled"], true);
}

/// Collects the messages of ERROR events.
#[derive(Clone, Default)]
struct Errors(Arc<Mutex<Vec<String>>>);

struct Message<'a>(&'a mut String);

impl tracing::field::Visit for Message<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!("{}={value:?} ", field.name()));
    }
}

impl tracing::Subscriber for Errors {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        if *event.metadata().level() == tracing::Level::ERROR {
            let mut m = String::new();
            event.record(&mut Message(&mut m));
            self.0.lock().unwrap().push(m);
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[tokio::test]
async fn unauthenticated_noise_stays_out_of_error_logs() {
    let f = TestApp::new().await;
    let errors = Errors::default();
    let _guard = tracing::subscriber::set_default(errors.clone());
    let noise = [
        ("TRACE", "/"),
        ("DELETE", "/api/v1/hazards"),
        ("PUT", "/login"),
        ("GET", "/no/such/page"),
        ("GET", "/api/v1/no-such-thing"),
        ("POST", "/api/v1/users"),
        ("GET", "/api/v1/me"),
        ("POST", "/login"),
        ("POST", "/logout"),
        ("HEAD", "/api/v1/hazards"),
        ("OPTIONS", "/api/v1/users"),
    ];
    for (method, path) in noise {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::COOKIE, format!("{SESSION}=not-a-session"))
            .header(header::AUTHORIZATION, "Bearer not-a-token")
            .body(Body::empty())
            .expect("request");
        let r = f.send(req).await;
        assert!(r.status.is_client_error(), "{method} {path}: {}", r.status);
    }
    let logged = errors.0.lock().unwrap().clone();
    assert!(logged.is_empty(), "ERROR events for noise: {logged:?}");
}
