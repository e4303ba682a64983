//! Talking to the application in-process: building API requests, collecting responses and
//! checking the headers every response must carry.

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header, request};
use http_body_util::BodyExt;
use serde_json::Value;
use std::collections::BTreeSet;
use tower::ServiceExt;

/// A request builder for an API call.
pub fn api_request(method: &str, path: &str, token: Option<&str>) -> request::Builder {
    let b = Request::builder().method(method).uri(path);
    match token {
        Some(t) => b.header(header::AUTHORIZATION, format!("Bearer {t}")),
        None => b,
    }
}

/// A collected response.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Resp {
    /// The body as JSON; panics with the body when it is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.text()))
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The value of the cookie `name` this response sets, if any.
    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|c| c.split(';').next())
            .filter_map(|kv| kv.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    }

    /// The full `Set-Cookie` line for cookie `name`.
    pub fn set_cookie_line(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.trim_start().starts_with(&format!("{name}=")))
            .map(String::from)
    }

    /// The `error.code` of an API error body.
    pub fn error_code(&self) -> String {
        let v = self.json();
        let e = &v["error"];
        assert!(e.is_object(), "not an error body: {}", self.text());
        assert!(
            e["message"].is_string(),
            "error without a message: {}",
            self.text()
        );
        e["code"]
            .as_str()
            .unwrap_or_else(|| panic!("error without a code: {}", self.text()))
            .to_string()
    }
}

/// Sends `req` to `app` and collects the answer, checking the headers every response
/// must carry.
pub async fn send(app: &Router, req: Request<Body>) -> Resp {
    let what = format!("{} {}", req.method(), req.uri());
    let res = app
        .clone()
        .oneshot(req)
        .await
        .expect("the router is infallible");
    let (parts, mut body) = res.into_parts();
    let stream = parts
        .headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
    let body = if stream {
        // An event stream does not end: its first frame is the answer.
        match tokio::time::timeout(std::time::Duration::from_secs(10), body.frame()).await {
            Ok(Some(Ok(f))) => f.into_data().map(|d| d.to_vec()).unwrap_or_default(),
            _ => Vec::new(),
        }
    } else {
        body.collect().await.expect("body").to_bytes().to_vec()
    };
    assert_eq!(
        parts
            .headers
            .get(header::X_CONTENT_TYPE_OPTIONS)
            .and_then(|v| v.to_str().ok()),
        Some("nosniff"),
        "{what} ({}) lacks x-content-type-options: nosniff",
        parts.status
    );
    assert!(
        parts
            .headers
            .get(header::CONTENT_SECURITY_POLICY)
            .is_some_and(|v| !v.is_empty()),
        "{what} ({}) lacks a content-security-policy",
        parts.status
    );
    Resp {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

/// The `id`s of a JSON array of objects.
pub fn ids(list: &Value) -> BTreeSet<i64> {
    list.as_array()
        .expect("a JSON array")
        .iter()
        .map(|o| o["id"].as_i64().expect("id"))
        .collect()
}
