//! Signing in over the API and the login form: the login contract, lockout, the rate
//! limit, one-time passwords, password changes and disabled users.

use axum::http::StatusCode;
use serde_json::json;
use xiaoan_domain::Role;
use xiaoan_testkit::{
    ADMIN, PW, SESSION, TARGET, TestApp, csrf_of, open_login_form, page, post_form, post_login,
    sign_in_page,
};

#[tokio::test]
async fn login_gives_a_token_and_one_answer_for_every_failure() {
    let f = TestApp::new().await;
    let r = f.login(ADMIN, PW).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let v = r.json();
    let token = v["token"].as_str().expect("token").to_string();
    assert!(token.len() >= 32, "token too short: {token}");
    let expires =
        chrono::DateTime::parse_from_rfc3339(v["expires_at"].as_str().expect("expires_at"))
            .expect("RFC 3339 expires_at");
    let hours =
        (expires.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_minutes() as f64 / 60.0;
    assert!(
        (11.0..=12.1).contains(&hours),
        "token should live about 12 h, lives {hours} h"
    );
    assert_eq!(f.get("/api/v1/me", &token).await.status, StatusCode::OK);
    // The login is case-insensitive and trimmed like everywhere else.
    assert_eq!(f.login(" ADMIN ", PW).await.status, StatusCode::OK);

    let wrong = f.login(ADMIN, "Wrong-Password-99!").await;
    let unknown = f.login("nobody-here", PW).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{}", wrong.text());
    assert_eq!(
        unknown.status,
        StatusCode::UNAUTHORIZED,
        "{}",
        unknown.text()
    );
    assert_eq!(wrong.error_code(), "invalid_credentials");
    assert_eq!(
        wrong.body, unknown.body,
        "wrong password and unknown user must answer alike"
    );

    // Five failures lock the account: the right password is then refused, with the same body.
    f.add_role_user("lock-me", "鎖定測試", Role::Staff, f.tree.school_a)
        .await;
    for i in 0..5 {
        let r = f.login("lock-me", &format!("Wrong-Password-{i}!")).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "failure {i}");
    }
    let locked = f.login("lock-me", PW).await;
    assert_eq!(
        locked.status,
        StatusCode::UNAUTHORIZED,
        "a locked account signed in: {}",
        locked.text()
    );
    assert_eq!(
        locked.body, wrong.body,
        "a locked account must not be told apart from a wrong password"
    );
    // Other accounts are not affected.
    assert_eq!(f.login(TARGET, PW).await.status, StatusCode::OK);
}

#[tokio::test]
async fn four_failures_do_not_lock_and_a_success_resets_the_count() {
    let f = TestApp::new().await;
    f.add_role_user("almost", "差一點", Role::Staff, f.tree.school_a)
        .await;
    for _ in 0..4 {
        assert_eq!(
            f.login("almost", "Wrong-Password-1!").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        f.login("almost", PW).await.status,
        StatusCode::OK,
        "four failures must not lock"
    );
    for _ in 0..4 {
        assert_eq!(
            f.login("almost", "Wrong-Password-1!").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        f.login("almost", PW).await.status,
        StatusCode::OK,
        "a success must reset the failure count"
    );
}

#[tokio::test]
async fn a_one_time_password_must_be_changed_and_the_change_ends_old_tokens() {
    let f = TestApp::new().await;
    let t = f.tree;
    f.add_user(
        "fresh-one",
        "新來的",
        t.school_a,
        &[(Role::Staff, t.school_a)],
        true,
    )
    .await;
    let r = f.login("fresh-one", PW).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["must_change_password"], true);
    let old = r.json()["token"].as_str().unwrap().to_string();

    let r = f.get("/api/v1/orgs", &old).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    assert_eq!(r.error_code(), "password_change_required");
    let r = f.get("/api/v1/me", &old).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["must_change_password"], true);

    // Wrong current password, and a weak new one: refused, nothing changes.
    let r = f
        .post(
            "/api/v1/me/password",
            &old,
            &json!({"current_password": "Nope-Nope-123!", "new_password": "Harbour-Lantern-73!"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error_code(), "current_password_wrong");
    let r = f
        .post(
            "/api/v1/me/password",
            &old,
            &json!({"current_password": PW, "new_password": "short"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error_code(), "password_too_short");
    assert_eq!(f.get("/api/v1/me", &old).await.status, StatusCode::OK);

    let new_pw = "Harbour-Lantern-73!";
    let r = f
        .post(
            "/api/v1/me/password",
            &old,
            &json!({"current_password": PW, "new_password": new_pw}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    let r = f.get("/api/v1/me", &old).await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "the old token still works: {}",
        r.text()
    );

    assert_eq!(
        f.login("fresh-one", PW).await.status,
        StatusCode::UNAUTHORIZED,
        "the old password still works"
    );
    let r = f.login("fresh-one", new_pw).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["must_change_password"], false);
    let tok = r.json()["token"].as_str().unwrap().to_string();
    assert_eq!(f.get("/api/v1/orgs", &tok).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_disabled_user_is_signed_out_at_once_and_cannot_sign_in() {
    let f = TestApp::new().await;
    let admin = f.token(ADMIN).await;
    let user = f.token(TARGET).await;
    assert_eq!(f.get("/api/v1/orgs", &user).await.status, StatusCode::OK);

    let r = f
        .patch(
            &format!("/api/v1/users/{TARGET}"),
            &admin,
            &json!({"disabled": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["disabled"], true);

    let r = f.get("/api/v1/orgs", &user).await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "a disabled user's token still works: {}",
        r.text()
    );
    assert_eq!(
        f.get("/api/v1/me", &user).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        f.login(TARGET, PW).await.status,
        StatusCode::UNAUTHORIZED,
        "a disabled user signed in"
    );

    // An admin cannot disable themselves.
    let r = f
        .patch(
            &format!("/api/v1/users/{ADMIN}"),
            &admin,
            &json!({"disabled": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    assert_eq!(r.error_code(), "disable_self");

    // Re-enabled, the user can sign in again.
    let r = f
        .patch(
            &format!("/api/v1/users/{TARGET}"),
            &admin,
            &json!({"disabled": false}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(f.login(TARGET, PW).await.status, StatusCode::OK);

    // Even when the flag is set without ending the user's tokens (another tool writing to
    // the database), a disabled user's token is refused on the next request.
    let again = f.token(TARGET).await;
    assert_eq!(f.get("/api/v1/me", &again).await.status, StatusCode::OK);
    sqlx::query("UPDATE users SET disabled = 1 WHERE login = $1")
        .bind(TARGET)
        .execute(f.db.pool())
        .await
        .unwrap();
    assert_eq!(
        f.get("/api/v1/me", &again).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_password_change_on_the_account_page_ends_every_session_and_token() {
    let f = TestApp::new().await;
    let here = sign_in_page(&f, TARGET, PW).await;
    let elsewhere = sign_in_page(&f, TARGET, PW).await;
    assert_ne!(here, elsewhere);
    let token = f.token(TARGET).await;
    let r = f.send(page("/account", Some(&here))).await;
    assert_eq!(r.status, StatusCode::OK);
    let csrf = csrf_of(&r.text());
    let new_pw = "Harbour-Lantern-73!";

    // Mismatched confirmation: refused, nothing ends.
    let fields = [
        ("_csrf", csrf.as_str()),
        ("current_password", PW),
        ("new_password", new_pw),
        ("confirm_password", "Harbour-Lantern-74!"),
    ];
    let r = post_form(&f, "/account/password", &here, &fields).await;
    // Back to the page (a reload never posts the passwords again), which says why once.
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    assert_eq!(r.header("location"), Some("/account"));
    let html = f.send(page("/account", Some(&here))).await.text();
    assert!(html.contains("兩次輸入的新密碼不一致"), "{html}");
    assert!(!html.contains(new_pw), "passwords are not kept");
    assert_eq!(
        f.send(page("/", Some(&elsewhere))).await.status,
        StatusCode::OK
    );

    let fields = [
        ("_csrf", csrf.as_str()),
        ("current_password", PW),
        ("new_password", new_pw),
        ("confirm_password", new_pw),
    ];
    let r = post_form(&f, "/account/password", &here, &fields).await;
    assert!(r.status.is_redirection(), "{} {}", r.status, r.text());
    assert_eq!(r.header("location"), Some("/login?changed=1"));

    for (name, cookie) in [("this", &here), ("another", &elsewhere)] {
        let r = f.send(page("/", Some(cookie))).await;
        assert!(
            r.status.is_redirection(),
            "{name} session survived the password change: {}",
            r.status
        );
    }
    assert_eq!(
        f.get("/api/v1/me", &token).await.status,
        StatusCode::UNAUTHORIZED,
        "a token survived the password change"
    );
    let again = sign_in_page(&f, TARGET, new_pw).await;
    assert_eq!(f.send(page("/", Some(&again))).await.status, StatusCode::OK);
}

#[tokio::test]
async fn an_unused_one_time_password_expires() {
    let f = TestApp::new().await;
    let admin = f.token(ADMIN).await;
    let r = f
        .post(
            "/api/v1/users",
            &admin,
            &json!({"login": "otp-user", "display_name": "一次性", "org_id": f.tree.school_a}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let otp = r.json()["one_time_password"]
        .as_str()
        .expect("a generated password")
        .to_string();
    assert_eq!(r.json()["user"]["must_change_password"], true);
    let r = f.login("otp-user", &otp).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["must_change_password"], true);

    sqlx::query("UPDATE users SET password_expires_at = 1 WHERE login = 'otp-user'")
        .execute(f.db.pool())
        .await
        .unwrap();
    let expired = f.login("otp-user", &otp).await;
    assert_eq!(
        expired.status,
        StatusCode::UNAUTHORIZED,
        "an expired one-time password still works"
    );
    let wrong = f.login("otp-user", "Wrong-Password-99!").await;
    assert_eq!(
        expired.body, wrong.body,
        "an expired one-time password must look like any failure"
    );
}

#[tokio::test]
async fn sign_in_attempts_are_rate_limited_per_address() {
    let f = TestApp::with_config(xiaoan_web::WebConfig {
        login_attempts_per_minute: 3,
        ..Default::default()
    })
    .await;
    assert_eq!(
        f.login(ADMIN, "Wrong-Password-99!").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        f.login("nobody-here", PW).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(f.login(ADMIN, PW).await.status, StatusCode::OK);
    let r = f.login(ADMIN, PW).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text());
    assert_eq!(r.error_code(), "rate_limited");
    // The sign-in form shares the budget.
    let (anon, csrf) = open_login_form(&f).await;
    let r = post_login(
        &f,
        &anon,
        &[("_csrf", &csrf), ("login", ADMIN), ("password", PW)],
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        r.set_cookie(SESSION).is_none_or(|c| c == anon),
        "a rate-limited sign-in started a session"
    );
}
