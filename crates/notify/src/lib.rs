//! Delivery of one message to one external channel: email over SMTP, the WeCom, DingTalk and
//! Feishu group robots, and a signed generic webhook, all behind the [`Channel`] trait.
//!
//! The crate knows channels, not the domain: callers pass a [`ChannelConfig`] (what an
//! administrator configured) and a [`Message`] (already rendered and translated), and get an
//! [`Outcome`] back for each attempt. Retrying, scheduling and recording attempts belong to
//! the caller.
//!
//! Webhook URLs carry the robots' keys, so nothing this crate reports (outcomes, logs, `Debug`
//! output of a configuration) contains a URL's path or query or a secret.
#![forbid(unsafe_code)]

mod config;
mod email;
mod http;
mod sender;
mod sign;
pub mod words;

rust_i18n::i18n!("locales", fallback = "zh-TW");

use std::fmt;

use serde::{Deserialize, Serialize};

pub use config::{ConfigError, MAX_ADDRESSES, MAX_TARGET_LEN, validate};
pub use email::{SmtpSecurity, SmtpSettings};
pub use sender::Sender;
pub use sign::{dingtalk_sign, feishu_sign, webhook_signature};

/// The kinds of channel a message can go out on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    /// Email over the configured SMTP server.
    Email,
    /// A WeCom (企业微信) group robot.
    Wecom,
    /// A DingTalk (钉钉) custom robot.
    Dingtalk,
    /// A Feishu / Lark (飞书) custom bot.
    Feishu,
    /// A generic HTTPS endpoint receiving signed JSON.
    Webhook,
}

impl ChannelKind {
    /// Every kind, in the order forms list them.
    pub const ALL: [ChannelKind; 5] = [
        ChannelKind::Email,
        ChannelKind::Wecom,
        ChannelKind::Dingtalk,
        ChannelKind::Feishu,
        ChannelKind::Webhook,
    ];

    /// The stable lowercase name stored in the database and used in forms.
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Email => "email",
            ChannelKind::Wecom => "wecom",
            ChannelKind::Dingtalk => "dingtalk",
            ChannelKind::Feishu => "feishu",
            ChannelKind::Webhook => "webhook",
        }
    }

    /// The kind named by [`as_str`](Self::as_str)'s spelling; `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == s)
    }
}

impl fmt::Display for ChannelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a channel is configured with. For Email, `target` is one or more addresses separated
/// by commas, semicolons or whitespace; for the others it is the robot's webhook URL.
///
/// `secret` is the robot's signing secret (DingTalk "加签" `SEC…`, Feishu "签名校验") or the
/// webhook's shared secret. A secret that is empty or only whitespace counts as none; leading
/// and trailing whitespace is ignored, as is whitespace around `target`.
///
/// `Debug` output hides the secret and every part of the URL but its scheme and host.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelConfig {
    /// Which channel this is.
    pub kind: ChannelKind,
    /// The addresses (email) or the webhook URL (everything else).
    pub target: String,
    /// The signing secret, where the channel has one.
    pub secret: Option<String>,
}

impl ChannelConfig {
    /// The target without surrounding whitespace.
    pub(crate) fn target(&self) -> &str {
        self.target.trim()
    }

    /// The secret without surrounding whitespace; `None` when absent or blank.
    pub(crate) fn secret(&self) -> Option<&str> {
        self.secret
            .as_deref()
            .map(str::trim)
            .filter(|secret| !secret.is_empty())
    }
}

impl fmt::Debug for ChannelConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let target = match self.kind {
            ChannelKind::Email => self.target().to_owned(),
            _ => redacted_url(self.target()),
        };
        f.debug_struct("ChannelConfig")
            .field("kind", &self.kind)
            .field("target", &target)
            .field("secret", &self.secret().map(|_| "<redacted>"))
            .finish()
    }
}

/// `scheme://host/…` for a URL, so a log line says where without giving the key away.
fn redacted_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(url) => format!("{}://{}/…", url.scheme(), url.host_str().unwrap_or("")),
        Err(_) => "<invalid url>".to_owned(),
    }
}

/// One message to deliver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// A one-line title: the email subject, the robot card's heading.
    pub title: String,
    /// The plain-text body; line breaks are kept.
    pub body: String,
    /// A link back into xiaoan, shown after the body.
    pub link: Option<String>,
    /// The event name (e.g. `hazard.overdue`), sent to webhooks for routing.
    pub event: String,
    /// Whether the event needs immediate attention; sent to webhooks.
    pub urgent: bool,
    /// A stable id for this delivery (e.g. `delivery-42`), the same on every retry; webhooks
    /// receive it as `Idempotency-Key` so they can drop repeats.
    pub id: String,
}

/// The longest [`Outcome::error`], in characters.
pub const MAX_ERROR_LEN: usize = 500;

/// What one delivery attempt did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    /// Whether the channel accepted the message.
    pub ok: bool,
    /// The HTTP status of the answer, or the SMTP reply code for email; `None` when no answer
    /// arrived (connect error, timeout, configuration problem).
    pub status: Option<u16>,
    /// Why the attempt failed: short, without URLs or secrets, at most [`MAX_ERROR_LEN`]
    /// characters. `None` on success.
    pub error: Option<String>,
}

impl Outcome {
    /// A successful attempt.
    pub fn success(status: Option<u16>) -> Self {
        Outcome {
            ok: true,
            status,
            error: None,
        }
    }

    /// A failed attempt; `error` is shortened to [`MAX_ERROR_LEN`] characters.
    pub fn failure(status: Option<u16>, error: impl Into<String>) -> Self {
        let mut error: String = error.into();
        if let Some((cut, _)) = error.char_indices().nth(MAX_ERROR_LEN) {
            error.truncate(cut);
        }
        Outcome {
            ok: false,
            status,
            error: Some(error),
        }
    }
}

/// One external channel, ready to deliver.
#[async_trait::async_trait]
pub trait Channel: Send + Sync {
    /// Makes one attempt to deliver `message`. `now_ms` (Unix milliseconds) is the time put
    /// into signatures and webhook payloads. Never panics; every failure is an [`Outcome`].
    async fn deliver(&self, message: &Message, now_ms: i64) -> Outcome;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_their_names() {
        for kind in ChannelKind::ALL {
            assert_eq!(ChannelKind::parse(kind.as_str()), Some(kind));
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
        }
        assert_eq!(ChannelKind::parse("Email"), None);
        assert_eq!(ChannelKind::parse(""), None);
    }

    #[test]
    fn failure_text_is_capped_on_a_char_boundary() {
        let outcome = Outcome::failure(None, "隱".repeat(MAX_ERROR_LEN + 10));
        assert_eq!(
            outcome.error.as_deref().map(|e| e.chars().count()),
            Some(MAX_ERROR_LEN)
        );
    }

    #[test]
    fn debug_hides_keys_and_secrets() {
        let config = ChannelConfig {
            kind: ChannelKind::Wecom,
            target: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc-123".to_owned(),
            secret: Some("topsecretvalue".to_owned()),
        };
        let shown = format!("{config:?}");
        assert!(!shown.contains("abc-123"), "{shown}");
        assert!(!shown.contains("topsecretvalue"), "{shown}");
        assert!(shown.contains("qyapi.weixin.qq.com"), "{shown}");
    }
}
