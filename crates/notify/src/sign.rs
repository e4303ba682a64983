//! The signatures the robots check, and the one xiaoan's webhooks carry.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit as _, Mac as _};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use sha2::Sha256;

fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC takes keys of any length (long ones are hashed first); the error cannot happen.
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts keys of any length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// The `sign` query parameter of a DingTalk custom robot with "加签" enabled:
/// URL-encoded Base64 of HMAC-SHA256 keyed with the secret over `"{timestamp_ms}\n{secret}"`.
pub fn dingtalk_sign(secret: &str, timestamp_ms: i64) -> String {
    let to_sign = format!("{timestamp_ms}\n{secret}");
    let mac = hmac_sha256(secret.as_bytes(), &[to_sign.as_bytes()]);
    utf8_percent_encode(&STANDARD.encode(mac), NON_ALPHANUMERIC).to_string()
}

/// The `sign` field of a Feishu custom bot with "签名校验" enabled: Base64 of HMAC-SHA256
/// keyed with `"{timestamp_s}\n{secret}"` over an empty message, as Feishu publishes it.
pub fn feishu_sign(secret: &str, timestamp_s: i64) -> String {
    let key = format!("{timestamp_s}\n{secret}");
    STANDARD.encode(hmac_sha256(key.as_bytes(), &[]))
}

/// The `X-Xiaoan-Signature` header of a webhook delivery: `sha256=` and the lowercase hex
/// HMAC-SHA256, keyed with the shared secret, of `"{timestamp_s}."` followed by the exact
/// request body. Receivers recompute it and compare, and reject stale timestamps.
pub fn webhook_signature(secret: &str, timestamp_s: i64, body: &[u8]) -> String {
    let prefix = format!("{timestamp_s}.");
    let mac = hmac_sha256(secret.as_bytes(), &[prefix.as_bytes(), body]);
    format!("sha256={}", hex::encode(mac))
}
