//! Known answers for the signatures, computed independently with Python's hmac, hashlib,
//! base64 and urllib.parse.quote_plus.

use xiaoan_notify::{dingtalk_sign, feishu_sign, webhook_signature};

#[test]
fn dingtalk_sign_matches_the_known_answer() {
    // base64(hmac(secret, f"{ts}\n{secret}")), then quote_plus.
    let secret = "SEC0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    assert_eq!(
        dingtalk_sign(secret, 1_700_000_000_000),
        "bTgY2yDbep%2BwesS7jKiNj%2BsrsHoADES4%2BC4f8LCHFtU%3D"
    );
}

#[test]
fn feishu_sign_matches_the_known_answer() {
    // base64(hmac(key=f"{ts}\n{secret}", msg=b"")).
    assert_eq!(
        feishu_sign("abcdefghijklmnop1234", 1_700_000_000),
        "LkWJJxsRYNxA106AhfgMkbjEKmFrKTTpWi7IYY1+GZQ="
    );
}

#[test]
fn webhook_signature_matches_the_known_answer() {
    // "sha256=" + hmac(secret, f"{ts}." + body).hexdigest().
    let body = r#"{"id":"delivery-42","title":"校安"}"#;
    assert_eq!(
        webhook_signature("whsec_0123456789abcdef", 1_700_000_000, body.as_bytes()),
        "sha256=6be78e807baa7b35cc0bcc6917b19cbc1d294090b497bf15a046c5a6643e3ebd"
    );
}

#[test]
fn signatures_change_with_the_timestamp() {
    let secret = "SEC0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    assert_ne!(dingtalk_sign(secret, 1), dingtalk_sign(secret, 2));
    assert_ne!(
        feishu_sign("abcdefghijklmnop1234", 1),
        feishu_sign("abcdefghijklmnop1234", 2)
    );
    assert_ne!(
        webhook_signature("whsec_0123456789abcdef", 1, b"{}"),
        webhook_signature("whsec_0123456789abcdef", 2, b"{}")
    );
}
