//! The form token of page posts (synchronizer token, beside the `Origin` check of the
//! CSRF layer): one random token per session, sent back in every form as `_csrf` and
//! checked before a page post reaches its handler — for a file upload, from the multipart
//! body's first part only, so that the body streams on whole.

use crate::kit::error::AppError;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use futures_util::StreamExt;
use tower_sessions::Session;

/// Session key: the form token.
pub const CSRF_KEY: &str = "csrf";
/// Form field carrying the form token.
pub const CSRF_FIELD: &str = "_csrf";

/// A new random form token.
pub fn new_csrf_token() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

/// The session's form token, created on first use.
#[tracing::instrument(skip_all)]
pub async fn session_csrf(session: &Session) -> String {
    match session.get::<String>(CSRF_KEY).await.ok().flatten() {
        Some(t) => t,
        None => {
            let t = new_csrf_token();
            let _ = session.insert(CSRF_KEY, &t).await;
            t
        }
    }
}

/// Checks the form token of a page post and strips it from the body handed on.
pub(crate) async fn check_form_token(req: Request, expected: &str) -> Result<Request, AppError> {
    let (parts, body) = req.into_parts();
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let refuse = || AppError::forbidden("csrf");
    // File uploads (multipart) carry the token as the form's first field: only that part is
    // read here, and the body streams on to the handler whole. (Never in the address: it
    // would show in the address bar, the history and the logs.)
    if content_type.starts_with("multipart/form-data") {
        let boundary = multipart_boundary(content_type).ok_or_else(refuse)?;
        let mut stream = body.into_data_stream();
        let mut head: Vec<u8> = Vec::new();
        let token = loop {
            match first_part(&head, &boundary) {
                FirstPart::Field(name, value) if name == CSRF_FIELD => break value,
                FirstPart::Field(..) | FirstPart::Malformed => return Err(refuse()),
                FirstPart::Incomplete if head.len() > FIRST_PART_MAX => return Err(refuse()),
                FirstPart::Incomplete => match stream.next().await {
                    Some(Ok(chunk)) => head.extend_from_slice(&chunk),
                    _ => return Err(refuse()),
                },
            }
        };
        if token.as_slice() != expected.as_bytes() || expected.is_empty() {
            return Err(refuse());
        }
        let head =
            futures_util::stream::iter([Ok::<_, axum::Error>(axum::body::Bytes::from(head))]);
        return Ok(Request::from_parts(
            parts,
            Body::from_stream(head.chain(stream)),
        ));
    }
    if !content_type.starts_with("application/x-www-form-urlencoded") {
        return Err(refuse());
    }
    let bytes = axum::body::to_bytes(body, 2 * 1024 * 1024)
        .await
        .map_err(|_| AppError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large"))?;
    let mut token = None;
    let mut rest = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in url::form_urlencoded::parse(&bytes) {
        if k == CSRF_FIELD {
            token = Some(v.into_owned());
        } else {
            rest.append_pair(&k, &v);
        }
    }
    if token.as_deref() != Some(expected) || expected.is_empty() {
        return Err(refuse());
    }
    Ok(Request::from_parts(parts, Body::from(rest.finish())))
}

/// How much of a multipart body may come before its first part (the form token) ends.
const FIRST_PART_MAX: usize = 8 * 1024;

/// The `boundary` parameter of a `multipart/form-data` content type.
fn multipart_boundary(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        (k.trim().eq_ignore_ascii_case("boundary"))
            .then(|| v.trim().trim_matches('"').to_string())
            .filter(|b| !b.is_empty())
    })
}

/// The first part of a multipart body, as far as it has arrived.
#[derive(Debug, PartialEq)]
enum FirstPart {
    /// More bytes are needed.
    Incomplete,
    /// Not a multipart body with this boundary.
    Malformed,
    /// The field's name and value.
    Field(String, Vec<u8>),
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn first_part(head: &[u8], boundary: &str) -> FirstPart {
    let open = format!("--{boundary}\r\n");
    if head.len() < open.len() {
        return if open.as_bytes().starts_with(head) {
            FirstPart::Incomplete
        } else {
            FirstPart::Malformed
        };
    }
    let Some(rest) = head.strip_prefix(open.as_bytes()) else {
        return FirstPart::Malformed;
    };
    let Some(headers_end) = find(rest, b"\r\n\r\n") else {
        return FirstPart::Incomplete;
    };
    let Ok(headers) = std::str::from_utf8(&rest[..headers_end]) else {
        return FirstPart::Malformed;
    };
    let name = headers.split("\r\n").find_map(|h| {
        let (k, v) = h.split_once(':')?;
        if !k.trim().eq_ignore_ascii_case("content-disposition") {
            return None;
        }
        v.split(';').find_map(|p| {
            let (k, v) = p.trim().split_once('=')?;
            (k == "name").then(|| v.trim_matches('"').to_string())
        })
    });
    let Some(name) = name else {
        return FirstPart::Malformed;
    };
    let value = &rest[headers_end + 4..];
    match find(value, format!("\r\n--{boundary}").as_bytes()) {
        Some(end) => FirstPart::Field(name, value[..end].to_vec()),
        None => FirstPart::Incomplete,
    }
}

#[cfg(test)]
mod tests {
    use super::{FirstPart, first_part, multipart_boundary};

    #[test]
    fn the_form_token_is_the_first_part_of_a_multipart_body() {
        let ct = "multipart/form-data; boundary=----x7";
        assert_eq!(multipart_boundary(ct).as_deref(), Some("----x7"));
        assert_eq!(multipart_boundary("multipart/form-data"), None);
        let body = b"------x7\r\nContent-Disposition: form-data; name=\"_csrf\"\r\n\r\nabc\r\n------x7\r\n...";
        assert_eq!(
            first_part(body, "----x7"),
            FirstPart::Field("_csrf".into(), b"abc".to_vec())
        );
        for cut in [0, 3, 20, 50, body.len() - 12] {
            assert_eq!(
                first_part(&body[..cut], "----x7"),
                FirstPart::Incomplete,
                "{cut}"
            );
        }
        assert_eq!(first_part(b"--other\r\n", "----x7"), FirstPart::Malformed);
        assert_eq!(
            first_part(
                b"------x7\r\nContent-Type: text/plain\r\n\r\nabc\r\n------x7",
                "----x7"
            ),
            FirstPart::Malformed
        );
    }
}
