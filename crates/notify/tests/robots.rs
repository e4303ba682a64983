//! The HTTP channels against a real local HTTP receiver that records what arrives and
//! answers the way WeCom, DingTalk, Feishu or a webhook would.

// Test code: a failed unwrap is a failed test, and helpers outside #[test] functions are
// not covered by clippy.toml's allow-unwrap-in-tests.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit as _, Mac as _};
use serde_json::{Value, json};
use sha2::Sha256;
use xiaoan_notify::{ChannelConfig, ChannelKind, Message, Outcome, Sender};

const NOW_MS: i64 = 1_750_000_123_456;
const DINGTALK_SECRET: &str = "SECb3f1c0ffee42d00dfeedfacecafebeef0123456789abcdef0123456789abcd";
const FEISHU_SECRET: &str = "qF3kZp9LmW2xYt7R";
const WEBHOOK_SECRET: &str = "whsec_s3cr3t-Value.0123";

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
struct Recorded {
    method: Method,
    path: String,
    query: Option<String>,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Recorded {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    fn query_pairs(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(self.query.as_deref().unwrap_or("").as_bytes())
            .into_owned()
            .collect()
    }

    fn query_value(&self, name: &str) -> Option<String> {
        self.query_pairs()
            .into_iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value)
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }
}

#[derive(Clone)]
struct Answer {
    status: StatusCode,
    body: &'static str,
    delay: Duration,
    seen: Arc<Mutex<Vec<Recorded>>>,
}

/// A receiver on 127.0.0.1 answering every request with `status` and `body`.
struct Receiver {
    base: String,
    seen: Arc<Mutex<Vec<Recorded>>>,
}

impl Receiver {
    async fn start(status: u16, body: &'static str) -> Self {
        Self::start_slow(status, body, Duration::ZERO).await
    }

    async fn start_slow(status: u16, body: &'static str, delay: Duration) -> Self {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let answer = Answer {
            status: StatusCode::from_u16(status).unwrap(),
            body,
            delay,
            seen: Arc::clone(&seen),
        };
        let app = Router::new().fallback(record).with_state(answer);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Receiver { base, seen }
    }

    fn url(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.base)
    }

    fn only(&self) -> Recorded {
        let seen = self.seen.lock().unwrap();
        assert_eq!(seen.len(), 1, "expected exactly one request: {seen:?}");
        seen[0].clone()
    }

    fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
}

async fn record(
    State(answer): State<Answer>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (
    StatusCode,
    [(header::HeaderName, &'static str); 1],
    &'static str,
) {
    answer.seen.lock().unwrap().push(Recorded {
        method,
        path: uri.path().to_owned(),
        query: uri.query().map(str::to_owned),
        headers,
        body: body.to_vec(),
    });
    if !answer.delay.is_zero() {
        tokio::time::sleep(answer.delay).await;
    }
    (
        answer.status,
        [(header::CONTENT_TYPE, "application/json")],
        answer.body,
    )
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

fn message() -> Message {
    Message {
        title: "校安：隱患已逾期".to_owned(),
        body: "三樓走廊滅火器過期\n請於今日內處理".to_owned(),
        link: Some("https://xiaoan.example/hazards/42".to_owned()),
        event: "hazard.overdue".to_owned(),
        urgent: true,
        id: "delivery-42".to_owned(),
    }
}

fn config(kind: ChannelKind, target: String, secret: Option<&str>) -> ChannelConfig {
    ChannelConfig {
        kind,
        target,
        secret: secret.map(str::to_owned),
    }
}

fn sender() -> Sender {
    Sender::new(None, Duration::from_secs(5))
}

const OK_ERRCODE: &str = r#"{"errcode":0,"errmsg":"ok"}"#;
const SIGN_NOT_MATCH: &str = r#"{"errcode":310000,"errmsg":"sign not match"}"#;

fn assert_ok(outcome: &Outcome) {
    assert!(outcome.ok, "{outcome:?}");
    assert_eq!(outcome.error, None);
}

#[tokio::test]
async fn wecom_posts_markdown_and_accepts_errcode_zero() {
    let receiver = Receiver::start(200, OK_ERRCODE).await;
    let url = receiver.url("/cgi-bin/webhook/send?key=wecom-key-123");
    let outcome = sender()
        .send(&config(ChannelKind::Wecom, url, None), &message(), NOW_MS)
        .await;
    assert_ok(&outcome);
    assert_eq!(outcome.status, Some(200));

    let request = receiver.only();
    assert_eq!(request.method, Method::POST);
    assert_eq!(request.path, "/cgi-bin/webhook/send");
    assert_eq!(request.query.as_deref(), Some("key=wecom-key-123"));
    assert!(
        request
            .header("content-type")
            .is_some_and(|ct| ct.starts_with("application/json"))
    );
    assert_eq!(
        request.json(),
        json!({
            "msgtype": "markdown",
            "markdown": {
                "content": "**校安：隱患已逾期**\n> 三樓走廊滅火器過期\n> 請於今日內處理\n\
                            [https://xiaoan.example/hazards/42](https://xiaoan.example/hazards/42)"
            }
        })
    );
}

#[tokio::test]
async fn wecom_nonzero_errcode_is_a_failure() {
    let receiver = Receiver::start(200, SIGN_NOT_MATCH).await;
    let url = receiver.url("/cgi-bin/webhook/send?key=k");
    let outcome = sender()
        .send(&config(ChannelKind::Wecom, url, None), &message(), NOW_MS)
        .await;
    assert!(!outcome.ok);
    assert_eq!(outcome.status, Some(200));
    assert_eq!(
        outcome.error.as_deref(),
        Some("errcode 310000: sign not match")
    );
}

#[tokio::test]
async fn dingtalk_signs_the_url_and_accepts_errcode_zero() {
    let receiver = Receiver::start(200, OK_ERRCODE).await;
    let url = receiver.url("/robot/send?access_token=ding-token-456");
    let outcome = sender()
        .send(
            &config(ChannelKind::Dingtalk, url, Some(DINGTALK_SECRET)),
            &message(),
            NOW_MS,
        )
        .await;
    assert_ok(&outcome);

    let request = receiver.only();
    assert_eq!(request.method, Method::POST);
    assert_eq!(request.path, "/robot/send");
    assert_eq!(
        request.query_value("access_token").as_deref(),
        Some("ding-token-456")
    );
    assert_eq!(request.query_value("timestamp"), Some(NOW_MS.to_string()));
    // Recompute the signature: Base64(HMAC-SHA256(secret, "{timestamp}\n{secret}")); the
    // query decoding above has already undone the URL-encoding.
    let sign = request.query_value("sign").unwrap();
    let expected = hmac_sha256(
        DINGTALK_SECRET.as_bytes(),
        format!("{NOW_MS}\n{DINGTALK_SECRET}").as_bytes(),
    );
    assert_eq!(STANDARD.decode(&sign).unwrap(), expected);
    // The raw query carries it URL-encoded: no bare '+', '/' or '='.
    let raw = request.query.as_deref().unwrap();
    let raw_sign = raw.split("sign=").nth(1).unwrap();
    assert!(!raw_sign.contains(['+', '/', '=']), "{raw}");

    assert_eq!(
        request.json(),
        json!({
            "msgtype": "markdown",
            "markdown": {
                "title": "校安：隱患已逾期",
                "text": "### 校安：隱患已逾期\n\n三樓走廊滅火器過期\n請於今日內處理\n\n\
                         [https://xiaoan.example/hazards/42](https://xiaoan.example/hazards/42)"
            }
        })
    );
}

#[tokio::test]
async fn dingtalk_without_a_secret_sends_no_signature() {
    let receiver = Receiver::start(200, OK_ERRCODE).await;
    let url = receiver.url("/robot/send?access_token=t");
    let mut message = message();
    message.link = None;
    let outcome = sender()
        .send(&config(ChannelKind::Dingtalk, url, None), &message, NOW_MS)
        .await;
    assert_ok(&outcome);
    let request = receiver.only();
    assert_eq!(request.query.as_deref(), Some("access_token=t"));
    assert_eq!(
        request.json()["markdown"]["text"],
        "### 校安：隱患已逾期\n\n三樓走廊滅火器過期\n請於今日內處理"
    );
}

#[tokio::test]
async fn dingtalk_sign_not_match_is_a_failure() {
    let receiver = Receiver::start(200, SIGN_NOT_MATCH).await;
    let url = receiver.url("/robot/send?access_token=t");
    let outcome = sender()
        .send(
            &config(ChannelKind::Dingtalk, url, Some(DINGTALK_SECRET)),
            &message(),
            NOW_MS,
        )
        .await;
    assert!(!outcome.ok);
    assert_eq!(outcome.status, Some(200));
    assert_eq!(
        outcome.error.as_deref(),
        Some("errcode 310000: sign not match")
    );
}

#[tokio::test]
async fn feishu_signs_the_body_and_accepts_code_zero() {
    let receiver = Receiver::start(200, r#"{"code":0,"msg":"success","data":{}}"#).await;
    let url = receiver.url("/open-apis/bot/v2/hook/feishu-hook-789");
    let outcome = sender()
        .send(
            &config(ChannelKind::Feishu, url, Some(FEISHU_SECRET)),
            &message(),
            NOW_MS,
        )
        .await;
    assert_ok(&outcome);

    let request = receiver.only();
    assert_eq!(request.path, "/open-apis/bot/v2/hook/feishu-hook-789");
    let body = request.json();
    assert_eq!(body["msg_type"], "text");
    assert_eq!(
        body["content"]["text"],
        "校安：隱患已逾期\n三樓走廊滅火器過期\n請於今日內處理\nhttps://xiaoan.example/hazards/42"
    );
    let seconds = NOW_MS / 1000;
    assert_eq!(body["timestamp"], seconds.to_string());
    // Recompute: Base64(HMAC-SHA256(key = "{timestamp}\n{secret}", message = "")).
    let expected = hmac_sha256(format!("{seconds}\n{FEISHU_SECRET}").as_bytes(), b"");
    let sign = body["sign"].as_str().unwrap();
    assert_eq!(STANDARD.decode(sign).unwrap(), expected);
}

#[tokio::test]
async fn feishu_without_a_secret_sends_no_signature() {
    let receiver = Receiver::start(200, r#"{"StatusCode":0,"StatusMessage":"success"}"#).await;
    let url = receiver.url("/open-apis/bot/v2/hook/h");
    let outcome = sender()
        .send(&config(ChannelKind::Feishu, url, None), &message(), NOW_MS)
        .await;
    assert_ok(&outcome);
    let body = receiver.only().json();
    assert!(body.get("sign").is_none(), "{body}");
    assert!(body.get("timestamp").is_none(), "{body}");
}

#[tokio::test]
async fn feishu_nonzero_code_is_a_failure() {
    let receiver =
        Receiver::start(200, r#"{"code":19021,"msg":"sign match fail","data":{}}"#).await;
    let url = receiver.url("/open-apis/bot/v2/hook/h");
    let outcome = sender()
        .send(
            &config(ChannelKind::Feishu, url, Some(FEISHU_SECRET)),
            &message(),
            NOW_MS,
        )
        .await;
    assert!(!outcome.ok);
    assert_eq!(
        outcome.error.as_deref(),
        Some("code 19021: sign match fail")
    );
}

#[tokio::test]
async fn webhook_is_signed_and_carries_the_idempotency_key() {
    let receiver = Receiver::start(202, "").await;
    let url = receiver.url("/hooks/xiaoan?token=hook-token");
    let outcome = sender()
        .send(
            &config(ChannelKind::Webhook, url, Some(WEBHOOK_SECRET)),
            &message(),
            NOW_MS,
        )
        .await;
    assert_ok(&outcome);
    assert_eq!(outcome.status, Some(202));

    let request = receiver.only();
    assert_eq!(request.method, Method::POST);
    assert_eq!(request.header("idempotency-key"), Some("delivery-42"));
    assert_eq!(request.header("x-xiaoan-event"), Some("hazard.overdue"));
    let seconds = NOW_MS / 1000;
    assert_eq!(
        request.header("x-xiaoan-timestamp"),
        Some(seconds.to_string().as_str())
    );
    let mut signed = format!("{seconds}.").into_bytes();
    signed.extend_from_slice(&request.body);
    let expected = format!(
        "sha256={}",
        hex::encode(hmac_sha256(WEBHOOK_SECRET.as_bytes(), &signed))
    );
    assert_eq!(
        request.header("x-xiaoan-signature"),
        Some(expected.as_str())
    );
    assert_eq!(
        request.json(),
        json!({
            "id": "delivery-42",
            "event": "hazard.overdue",
            "title": "校安：隱患已逾期",
            "body": "三樓走廊滅火器過期\n請於今日內處理",
            "link": "https://xiaoan.example/hazards/42",
            "urgent": true,
            "sent_at": NOW_MS,
        })
    );
}

/// A configuration of each HTTP kind pointing at `base`.
fn every_http_kind(base: &str) -> Vec<ChannelConfig> {
    vec![
        config(
            ChannelKind::Wecom,
            format!("{base}/cgi-bin/webhook/send?key=leaky-key"),
            None,
        ),
        config(
            ChannelKind::Dingtalk,
            format!("{base}/robot/send?access_token=leaky-key"),
            Some(DINGTALK_SECRET),
        ),
        config(
            ChannelKind::Feishu,
            format!("{base}/open-apis/bot/v2/hook/leaky-key"),
            Some(FEISHU_SECRET),
        ),
        config(
            ChannelKind::Webhook,
            format!("{base}/hooks/leaky-key"),
            Some(WEBHOOK_SECRET),
        ),
    ]
}

fn assert_no_secrets(outcome: &Outcome) {
    let error = outcome.error.as_deref().unwrap_or("");
    for secret in [
        "leaky-key",
        DINGTALK_SECRET,
        FEISHU_SECRET,
        WEBHOOK_SECRET,
        "127.0.0.1",
    ] {
        assert!(!error.contains(secret), "{error}");
    }
    assert!(error.chars().count() <= xiaoan_notify::MAX_ERROR_LEN);
}

#[tokio::test]
async fn a_server_error_is_a_failure_with_its_status() {
    let receiver = Receiver::start(500, r#"{"errcode":0,"errmsg":"ok"}"#).await;
    let sender = sender();
    for config in every_http_kind(&receiver.base) {
        let outcome = sender.send(&config, &message(), NOW_MS).await;
        assert!(!outcome.ok, "{:?}: {outcome:?}", config.kind);
        assert_eq!(outcome.status, Some(500), "{:?}", config.kind);
        assert_eq!(outcome.error.as_deref(), Some("HTTP 500"));
    }
    assert_eq!(receiver.count(), 4);
}

#[tokio::test]
async fn a_redirect_is_not_followed() {
    let receiver = Receiver::start(302, "").await;
    let sender = sender();
    for config in every_http_kind(&receiver.base) {
        let outcome = sender.send(&config, &message(), NOW_MS).await;
        assert!(!outcome.ok, "{:?}: {outcome:?}", config.kind);
        assert_eq!(outcome.status, Some(302));
    }
}

#[tokio::test]
async fn a_closed_port_is_a_connect_error() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let base = format!("http://127.0.0.1:{port}");
    let sender = sender();
    for config in every_http_kind(&base) {
        let outcome = sender.send(&config, &message(), NOW_MS).await;
        assert!(!outcome.ok, "{:?}: {outcome:?}", config.kind);
        assert_eq!(outcome.status, None);
        let error = outcome.error.as_deref().unwrap();
        assert!(error.starts_with("connect error"), "{error}");
        assert_no_secrets(&outcome);
    }
}

#[tokio::test]
async fn a_slow_receiver_times_out() {
    let receiver = Receiver::start_slow(200, OK_ERRCODE, Duration::from_secs(3)).await;
    let sender = Sender::new(None, Duration::from_millis(300));
    for config in every_http_kind(&receiver.base) {
        let outcome = sender.send(&config, &message(), NOW_MS).await;
        assert!(!outcome.ok, "{:?}: {outcome:?}", config.kind);
        assert_eq!(outcome.status, None);
        assert_eq!(outcome.error.as_deref(), Some("timed out"));
        assert_no_secrets(&outcome);
    }
}

#[tokio::test]
async fn errcode_answers_without_errcode_are_failures() {
    let receiver = Receiver::start(200, "<html>gateway</html>").await;
    let url = receiver.url("/cgi-bin/webhook/send?key=k");
    let outcome = sender()
        .send(&config(ChannelKind::Wecom, url, None), &message(), NOW_MS)
        .await;
    assert!(!outcome.ok);
    assert_eq!(outcome.status, Some(200));
}

#[tokio::test]
async fn an_invalid_configuration_sends_nothing() {
    let receiver = Receiver::start(200, OK_ERRCODE).await;
    // A webhook without a secret is refused before anything goes out.
    let outcome = sender()
        .send(
            &config(ChannelKind::Webhook, receiver.url("/hooks/x"), None),
            &message(),
            NOW_MS,
        )
        .await;
    assert!(!outcome.ok);
    assert_eq!(
        outcome.error.as_deref(),
        Some("invalid configuration: channel_secret_missing")
    );
    assert_eq!(receiver.count(), 0);
}

#[tokio::test]
async fn email_without_smtp_settings_is_not_configured() {
    let outcome = sender()
        .send(
            &config(ChannelKind::Email, "safety@school.example".to_owned(), None),
            &message(),
            NOW_MS,
        )
        .await;
    assert!(!outcome.ok);
    assert_eq!(outcome.status, None);
    assert_eq!(outcome.error.as_deref(), Some("email is not configured"));
}
