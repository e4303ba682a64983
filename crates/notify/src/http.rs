//! The HTTP channels: WeCom, DingTalk and Feishu robots, and the generic webhook.

use std::error::Error as _;

use reqwest::header::{CONTENT_TYPE, HeaderValue};
use serde_json::{Value, json};
use url::Url;

use crate::{
    Channel, ChannelKind, Message, Outcome, dingtalk_sign, feishu_sign, webhook_signature,
};

/// The most of an answer's body that is read.
const MAX_ANSWER: usize = 64 * 1024;

/// WeCom refuses markdown content over 4096 bytes.
const WECOM_MAX_CONTENT: usize = 4096;

/// A robot or webhook endpoint, with the shared client.
pub(crate) struct HttpChannel {
    pub(crate) kind: ChannelKind,
    pub(crate) client: reqwest::Client,
    pub(crate) url: Url,
    pub(crate) secret: Option<String>,
}

/// An answer that arrived: its status and (the start of) its body.
struct Answer {
    status: u16,
    body: Vec<u8>,
}

#[async_trait::async_trait]
impl Channel for HttpChannel {
    async fn deliver(&self, message: &Message, now_ms: i64) -> Outcome {
        let outcome = match self.kind {
            ChannelKind::Wecom => self.wecom(message).await,
            ChannelKind::Dingtalk => self.dingtalk(message, now_ms).await,
            ChannelKind::Feishu => self.feishu(message, now_ms).await,
            ChannelKind::Webhook => self.webhook(message, now_ms).await,
            ChannelKind::Email => Outcome::failure(None, "not an HTTP channel"),
        };
        if !outcome.ok {
            tracing::debug!(
                kind = self.kind.as_str(),
                host = self.url.host_str().unwrap_or(""),
                status = outcome.status,
                error = outcome.error.as_deref().unwrap_or(""),
                "notification not delivered"
            );
        }
        outcome
    }
}

impl HttpChannel {
    async fn wecom(&self, message: &Message) -> Outcome {
        let mut content = format!("**{}**\n", message.title.trim());
        for line in message.body.lines() {
            content.push_str("> ");
            content.push_str(line);
            content.push('\n');
        }
        if let Some(link) = link(message) {
            content.push_str(&format!("[{link}]({link})"));
        }
        let content = clip(content.trim_end(), WECOM_MAX_CONTENT);
        let body = json!({ "msgtype": "markdown", "markdown": { "content": content } });
        let answer = match self.post(self.url.clone(), &body).await {
            Ok(answer) => answer,
            Err(outcome) => return outcome,
        };
        errcode_outcome(&answer)
    }

    async fn dingtalk(&self, message: &Message, now_ms: i64) -> Outcome {
        let mut url = self.url.clone();
        if let Some(secret) = &self.secret {
            // The signature is already URL-encoded; it goes into the query as it is.
            let extra = format!("timestamp={now_ms}&sign={}", dingtalk_sign(secret, now_ms));
            let query = match url.query() {
                Some(query) if !query.is_empty() => format!("{query}&{extra}"),
                _ => extra,
            };
            url.set_query(Some(&query));
        }
        let mut text = format!("### {}\n\n{}", message.title.trim(), message.body);
        if let Some(link) = link(message) {
            text.push_str(&format!("\n\n[{link}]({link})"));
        }
        let body = json!({
            "msgtype": "markdown",
            "markdown": { "title": message.title, "text": text },
        });
        let answer = match self.post(url, &body).await {
            Ok(answer) => answer,
            Err(outcome) => return outcome,
        };
        errcode_outcome(&answer)
    }

    async fn feishu(&self, message: &Message, now_ms: i64) -> Outcome {
        let mut text = format!("{}\n{}", message.title.trim(), message.body);
        if let Some(link) = link(message) {
            text.push('\n');
            text.push_str(link);
        }
        let mut body = json!({ "msg_type": "text", "content": { "text": text } });
        if let (Some(secret), Some(fields)) = (&self.secret, body.as_object_mut()) {
            let seconds = now_ms.div_euclid(1000);
            fields.insert("timestamp".to_owned(), Value::from(seconds.to_string()));
            fields.insert("sign".to_owned(), Value::from(feishu_sign(secret, seconds)));
        }
        let answer = match self.post(self.url.clone(), &body).await {
            Ok(answer) => answer,
            Err(outcome) => return outcome,
        };
        if !is_success(answer.status) {
            return http_failure(answer.status);
        }
        // Newer answers carry `code`/`msg`, older ones `StatusCode`/`StatusMessage`.
        let reply: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
        let code = ["code", "StatusCode"]
            .into_iter()
            .find_map(|field| reply.get(field).map(|code| (field, code)));
        match code {
            None => Outcome::success(Some(answer.status)),
            Some((_, code)) if code.as_i64() == Some(0) => Outcome::success(Some(answer.status)),
            Some((field, code)) => {
                let text_field = if field == "code" {
                    "msg"
                } else {
                    "StatusMessage"
                };
                let text = reply.get(text_field).and_then(Value::as_str).unwrap_or("");
                Outcome::failure(Some(answer.status), format!("code {code}: {text}"))
            }
        }
    }

    async fn webhook(&self, message: &Message, now_ms: i64) -> Outcome {
        let Some(secret) = &self.secret else {
            return Outcome::failure(None, "webhook has no secret");
        };
        let payload = json!({
            "id": message.id,
            "event": message.event,
            "title": message.title,
            "body": message.body,
            "link": link(message),
            "urgent": message.urgent,
            "sent_at": now_ms,
        });
        let Ok(body) = serde_json::to_vec(&payload) else {
            return Outcome::failure(None, "could not encode the payload");
        };
        let seconds = now_ms.div_euclid(1000);
        let signature = webhook_signature(secret, seconds, &body);
        let mut request = self
            .client
            .post(self.url.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header("X-Xiaoan-Timestamp", seconds.to_string())
            .header("X-Xiaoan-Signature", signature);
        if let Some(event) = header_text(&message.event) {
            request = request.header("X-Xiaoan-Event", event);
        }
        if let Some(id) = header_text(&message.id) {
            request = request.header("Idempotency-Key", id);
        }
        match send(request.body(body)).await {
            Ok(answer) if is_success(answer.status) => Outcome::success(Some(answer.status)),
            Ok(answer) => http_failure(answer.status),
            Err(outcome) => outcome,
        }
    }

    async fn post(&self, url: Url, body: &Value) -> Result<Answer, Outcome> {
        send(self.client.post(url).json(body)).await
    }
}

/// The link of a message, if it has a non-blank one.
fn link(message: &Message) -> Option<&str> {
    message
        .link
        .as_deref()
        .map(str::trim)
        .filter(|link| !link.is_empty())
}

/// `text` as a header value, if it is one (visible ASCII and spaces).
fn header_text(text: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(text)
        .ok()
        .filter(|_| !text.is_empty())
}

/// At most `max` bytes of `text`, cut on a character boundary.
fn clip(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut cut = max;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    &text[..cut]
}

fn is_success(status: u16) -> bool {
    (200..300).contains(&status)
}

fn http_failure(status: u16) -> Outcome {
    Outcome::failure(Some(status), format!("HTTP {status}"))
}

/// WeCom and DingTalk answer 200 with `errcode` ≠ 0 when they refuse a message.
fn errcode_outcome(answer: &Answer) -> Outcome {
    if !is_success(answer.status) {
        return http_failure(answer.status);
    }
    let reply: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
    match reply.get("errcode").and_then(Value::as_i64) {
        Some(0) => Outcome::success(Some(answer.status)),
        Some(code) => {
            let text = reply.get("errmsg").and_then(Value::as_str).unwrap_or("");
            Outcome::failure(Some(answer.status), format!("errcode {code}: {text}"))
        }
        None => Outcome::failure(Some(answer.status), "unexpected answer (no errcode)"),
    }
}

/// Sends the request and reads at most [`MAX_ANSWER`] bytes of the answer.
async fn send(request: reqwest::RequestBuilder) -> Result<Answer, Outcome> {
    let mut response = request
        .send()
        .await
        .map_err(|error| Outcome::failure(None, describe(&error)))?;
    let status = response.status().as_u16();
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = MAX_ANSWER - body.len();
                if chunk.len() >= room {
                    body.extend_from_slice(&chunk[..room]);
                    break;
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            // The status is what counts; a body cut short only loses the details.
            Err(error) => {
                tracing::debug!(error = %describe(&error), "answer body not read to the end");
                break;
            }
        }
    }
    Ok(Answer { status, body })
}

/// A short description of a request error, without the URL (URLs carry keys).
fn describe(error: &reqwest::Error) -> String {
    let what = if error.is_timeout() {
        if error.is_connect() {
            "connect timed out"
        } else {
            "timed out"
        }
    } else if error.is_connect() {
        "connect error"
    } else if error.is_redirect() {
        "redirect refused"
    } else if error.is_body() || error.is_decode() {
        "error reading the answer"
    } else if error.is_request() {
        "error sending the request"
    } else {
        "request failed"
    };
    // The innermost I/O error says why ("Connection refused") and never contains the URL.
    let io = std::iter::successors(error.source(), |source| (*source).source())
        .find_map(|source| source.downcast_ref::<std::io::Error>());
    match io {
        Some(io) if !error.is_timeout() => format!("{what}: {io}"),
        _ => what.to_owned(),
    }
}
