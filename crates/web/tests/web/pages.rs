//! The server-rendered pages: signing in with a form token, CSRF, security headers, page
//! sessions, HEAD requests and where the browser is sent after sign-in.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use xiaoan_testkit::{
    ADMIN, PW, SCHOOL_A_NAME, SESSION, TestApp, api_request, csrf_of, open_login_form, page,
    post_form, post_login, sign_in_page, url_encode,
};

#[tokio::test]
async fn pages_sign_in_with_a_form_token_and_render_in_the_chosen_language() {
    let f = TestApp::new().await;

    // Not signed in: sent to the login page, remembering where to come back.
    let r = f.send(page("/", None)).await;
    assert!(
        matches!(r.status.as_u16(), 302 | 303 | 307),
        "{} {}",
        r.status,
        r.text()
    );
    assert_eq!(r.header("location"), Some("/login?next=%2F"));
    let r = f.send(page("/orgs?kind=school", None)).await;
    assert!(r.status.is_redirection());
    assert_eq!(
        r.header("location"),
        Some("/login?next=%2Forgs%3Fkind%3Dschool")
    );

    // The login page: Traditional Chinese by default, a form token, a session cookie.
    let r = f.send(page("/login", None)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.header("content-type")
            .unwrap_or("")
            .starts_with("text/html")
    );
    let html = r.text();
    assert!(html.contains(r#"lang="zh-TW""#), "{html}");
    let csrf = csrf_of(&html);
    assert!(csrf.len() >= 32, "weak form token: {csrf:?}");
    let line = r
        .set_cookie_line(SESSION)
        .expect("the login page starts a session");
    assert!(
        line.contains("HttpOnly") && line.contains("SameSite=Lax"),
        "{line}"
    );
    let anon = r.set_cookie(SESSION).unwrap();

    let good = [
        ("_csrf", csrf.as_str()),
        ("login", ADMIN),
        ("password", PW),
        ("next", "/"),
    ];
    // Wrong, missing and cross-site: all refused before any sign-in.
    let r = post_login(
        &f,
        &anon,
        &[
            ("_csrf", "0123456789abcdef"),
            ("login", ADMIN),
            ("password", PW),
        ],
        None,
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "wrong form token accepted: {}",
        r.status
    );
    let r = post_login(&f, &anon, &[("login", ADMIN), ("password", PW)], None).await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "missing form token accepted: {}",
        r.status
    );
    let r = post_login(&f, &anon, &good, Some(("sec-fetch-site", "cross-site"))).await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "cross-site post accepted: {}",
        r.status
    );
    let r = post_login(&f, &anon, &good, Some(("origin", "https://evil.example"))).await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "post from a foreign origin accepted: {}",
        r.status
    );
    // Without a session there is no form token to match.
    let r = f
        .send(
            Request::builder()
                .method("POST")
                .uri("/login")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(url_encode(&good)))
                .unwrap(),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "sign-in without a session accepted: {}",
        r.status
    );

    // A wrong password: back to the form (303, so that a reload does not post the password
    // again), which says so once and keeps the login name, still anonymous.
    let r = post_login(
        &f,
        &anon,
        &[
            ("_csrf", &csrf),
            ("login", ADMIN),
            ("password", "Not-The-One-77!"),
        ],
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    assert_eq!(r.header("location"), Some("/login"));
    let again = f.send(page("/login", Some(&anon))).await.text();
    assert!(
        again.contains("帳號或密碼錯誤") && again.contains(&format!("value=\"{ADMIN}\"")),
        "{again}"
    );
    let fresh = f.send(page("/login", Some(&anon))).await.text();
    assert!(!fresh.contains("帳號或密碼錯誤"), "shown once");

    // The right form: redirect home with a new session id.
    let r = post_login(&f, &anon, &good, Some(("sec-fetch-site", "same-origin"))).await;
    assert!(r.status.is_redirection(), "{} {}", r.status, r.text());
    assert_eq!(r.header("location"), Some("/"));
    let signed = r
        .set_cookie(SESSION)
        .expect("a session cookie after sign-in");
    assert_ne!(signed, anon, "the session id must change at sign-in");

    // The old, pre-sign-in id does not carry the sign-in.
    let r = f.send(page("/", Some(&anon))).await;
    assert!(
        r.status.is_redirection(),
        "the pre-sign-in session id is signed in (session fixation): {}",
        r.status
    );

    let r = f.send(page("/orgs", Some(&signed))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let html = r.text();
    assert!(html.contains(SCHOOL_A_NAME), "{html}");
    assert!(html.contains(r#"lang="zh-TW""#));
    assert!(!html.contains("Organisations"));

    let r = f.send(page("/orgs?lang=en", Some(&signed))).await;
    assert_eq!(r.status, StatusCode::OK);
    let html = r.text();
    assert!(html.contains("Organisations"), "{html}");
    assert!(html.contains(r#"lang="en""#));

    // Pages the admin may see, and the pages' own form token for later posts.
    let r = f.send(page("/", Some(&signed))).await;
    assert_eq!(r.status, StatusCode::OK);
    let page_csrf = csrf_of(&r.text());
    // Signing out needs the token as well; afterwards the cookie is worthless.
    let r = post_form(&f, "/logout", &signed, &[]).await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "logout without a form token: {}",
        r.status
    );
    let r = post_form(&f, "/logout", &signed, &[("_csrf", &page_csrf)]).await;
    assert!(r.status.is_redirection(), "{} {}", r.status, r.text());
    let r = f.send(page("/orgs", Some(&signed))).await;
    assert!(
        r.status.is_redirection(),
        "still signed in after logout: {}",
        r.status
    );
}

#[tokio::test]
async fn static_and_error_responses_carry_the_security_headers_too() {
    let f = TestApp::new().await;
    // `send` checks nosniff and CSP on each of these.
    assert_eq!(
        f.send(page("/static/app.css", None)).await.status,
        StatusCode::OK
    );
    assert_eq!(f.send(page("/healthz", None)).await.status, StatusCode::OK);
    let r = f.send(page("/no/such/page", None)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = f.api("GET", "/api/v1/no-such-thing", None, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.error_code(), "not_found");
    assert_eq!(
        f.api("GET", "/api/v1/orgs", None, None).await.status,
        StatusCode::UNAUTHORIZED
    );
}

fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

#[tokio::test]
async fn activity_extends_a_page_session_and_idleness_ends_it() {
    let f = TestApp::new().await;
    let cookie = sign_in_page(&f, ADMIN, PW).await;
    assert_eq!(
        f.send(page("/", Some(&cookie))).await.status,
        StatusCode::OK
    );
    // As if the user had been idle until two seconds before the idle limit...
    sqlx::query("UPDATE sessions SET expires_at = $1")
        .bind(now_secs() + 2)
        .execute(f.db.pool())
        .await
        .unwrap();
    // ...and then did something.
    assert_eq!(
        f.send(page("/orgs", Some(&cookie))).await.status,
        StatusCode::OK
    );
    tokio::time::sleep(std::time::Duration::from_millis(3100)).await;
    let r = f.send(page("/", Some(&cookie))).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "activity did not extend the session: {} {:?}",
        r.status,
        r.header("location")
    );
    // A session idle past its limit is over.
    sqlx::query("UPDATE sessions SET expires_at = $1")
        .bind(now_secs() - 1)
        .execute(f.db.pool())
        .await
        .unwrap();
    let r = f.send(page("/", Some(&cookie))).await;
    assert!(
        r.status.is_redirection(),
        "an expired session still works: {}",
        r.status
    );
    assert_eq!(r.header("location"), Some("/login?next=%2F"));
}

#[tokio::test]
async fn the_api_ignores_page_sessions() {
    let f = TestApp::new().await;
    let cookie = sign_in_page(&f, ADMIN, PW).await;
    let r = f
        .send(
            api_request("GET", "/api/v1/me", None)
                .header(header::COOKIE, format!("{SESSION}={cookie}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "a page session cookie authenticated an API call"
    );
}

/// HTTP requires HEAD wherever GET is served; the permission table only knows GET, so the
/// authorisation middleware refuses every HEAD request with 403.
#[tokio::test]
async fn head_is_answered_wherever_get_is() {
    let f = TestApp::new().await;
    let admin = f.token(ADMIN).await;
    let mut wrong = vec![];
    for (path, token) in [
        ("/healthz", None),
        ("/login", None),
        ("/static/app.css", None),
        ("/api/v1/me", Some(admin.as_str())),
    ] {
        let get = f.api("GET", path, token, None).await;
        let head = f.api("HEAD", path, token, None).await;
        if head.status != get.status || !head.body.is_empty() {
            wrong.push(format!(
                "HEAD {path}: {} (GET gives {}) {}",
                head.status,
                get.status,
                head.text()
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "HEAD not answered like GET:\n{}",
        wrong.join("\n")
    );
}

/// After sign-in the browser is sent to `next`; it must stay on this site whatever `next`
/// holds. Browsers drop tabs and newlines from a URL before resolving it.
#[tokio::test]
async fn sign_in_never_sends_the_browser_off_site() {
    let f = TestApp::new().await;
    let mut wrong = vec![];
    for next in [
        "//evil.example/",
        "/\\evil.example/",
        "https://evil.example/",
        "/\t/evil.example/",
        "/\n/evil.example/",
        "/orgs",
    ] {
        let (anon, csrf) = open_login_form(&f).await;
        let r = post_login(
            &f,
            &anon,
            &[
                ("_csrf", &csrf),
                ("login", ADMIN),
                ("password", PW),
                ("next", next),
            ],
            None,
        )
        .await;
        if !r.status.is_redirection() {
            wrong.push(format!("next={next:?}: {} instead of a redirect", r.status));
            continue;
        }
        let location = r.header("location").unwrap_or_default();
        let resolved: String = location
            .chars()
            .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
            .collect();
        if !resolved.starts_with('/') || resolved.starts_with("//") || resolved.starts_with("/\\") {
            wrong.push(format!(
                "next={next:?}: Location {location:?} leaves the site"
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "unsafe redirects after sign-in:\n{}",
        wrong.join("\n")
    );
}
