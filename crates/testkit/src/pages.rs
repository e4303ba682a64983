//! Helpers for the server-rendered pages: session cookies, form posts, form tokens and
//! signing in through the login form.

use crate::app::TestApp;
use crate::http::Resp;
use axum::body::Body;
use axum::http::{Request, header, request};

/// The name of the page session cookie.
pub const SESSION: &str = "xiaoan_session";

/// `GET path`, with the session cookie `cookie` when given.
pub fn page(path: &str, cookie: Option<&str>) -> Request<Body> {
    let b = Request::builder().method("GET").uri(path);
    let b = match cookie {
        Some(c) => b.header(header::COOKIE, format!("{SESSION}={c}")),
        None => b,
    };
    b.body(Body::empty()).expect("request")
}

/// A form `POST path` with the session cookie `cookie`, still without a body.
fn form_post(path: &str, cookie: &str) -> request::Builder {
    Request::builder()
        .method("POST")
        .uri(path)
        .header(header::COOKIE, format!("{SESSION}={cookie}"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
}

/// Posts the form `fields` to `path` with the session cookie `cookie`.
pub async fn post_form(f: &TestApp, path: &str, cookie: &str, fields: &[(&str, &str)]) -> Resp {
    f.send(
        form_post(path, cookie)
            .body(Body::from(url_encode(fields)))
            .expect("request"),
    )
    .await
}

/// `fields` as an `application/x-www-form-urlencoded` body.
pub fn url_encode(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The value of the hidden `_csrf` input of a page.
pub fn csrf_of(html: &str) -> String {
    let marker = r#"type="hidden" name="_csrf" value=""#;
    let start = html
        .find(marker)
        .unwrap_or_else(|| panic!("no hidden _csrf input in: {html}"))
        + marker.len();
    html[start..]
        .split('"')
        .next()
        .unwrap_or_default()
        .to_string()
}

/// Posts the login form `fields` with the session cookie `cookie` and, when given, one
/// extra header.
pub async fn post_login(
    f: &TestApp,
    cookie: &str,
    fields: &[(&str, &str)],
    extra: Option<(&str, &str)>,
) -> Resp {
    let mut b = form_post("/login", cookie);
    if let Some((k, v)) = extra {
        b = b.header(k, v);
    }
    f.send(b.body(Body::from(url_encode(fields))).expect("request"))
        .await
}

/// Opens the login page anonymously; returns its session cookie and form token.
pub async fn open_login_form(f: &TestApp) -> (String, String) {
    let r = f.send(page("/login", None)).await;
    let anon = r.set_cookie(SESSION).expect("session cookie");
    (anon, csrf_of(&r.text()))
}

/// Signs in through the login form; returns the signed-in session cookie.
pub async fn sign_in_page(f: &TestApp, login: &str, password: &str) -> String {
    let (anon, csrf) = open_login_form(f).await;
    let r = post_login(
        f,
        &anon,
        &[("_csrf", &csrf), ("login", login), ("password", password)],
        None,
    )
    .await;
    assert!(
        r.status.is_redirection(),
        "page sign-in of {login} failed: {} {}",
        r.status,
        r.text()
    );
    r.set_cookie(SESSION)
        .expect("a session cookie after sign-in")
}
