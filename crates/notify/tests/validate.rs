//! Which configurations are accepted, and the codes of the refusals.

use xiaoan_notify::{ChannelConfig, ChannelKind, ConfigError, validate};

fn config(kind: ChannelKind, target: &str, secret: Option<&str>) -> ChannelConfig {
    ChannelConfig {
        kind,
        target: target.to_owned(),
        secret: secret.map(str::to_owned),
    }
}

const WECOM: &str = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx-4bc4-97a0";
const DINGTALK: &str = "https://oapi.dingtalk.com/robot/send?access_token=abc123";
const FEISHU: &str = "https://open.feishu.cn/open-apis/bot/v2/hook/2b6c7f4e-1d2a";
const DINGTALK_SECRET: &str =
    "SECd4f2a8c0e1b3957f6a2c4e8b0d1f3a5c7e9b2d4f6a8c0e1b3d5f7a9c2e4b6d8f0";

#[test]
fn good_configurations_pass() {
    let good = [
        config(ChannelKind::Email, "safety@school.example", None),
        config(
            ChannelKind::Email,
            "a@school.example, b@school.example;c@bureau.example\nd@school.example",
            None,
        ),
        config(ChannelKind::Wecom, WECOM, None),
        config(ChannelKind::Wecom, WECOM, Some("   ")),
        config(ChannelKind::Dingtalk, DINGTALK, None),
        config(ChannelKind::Dingtalk, DINGTALK, Some(DINGTALK_SECRET)),
        config(ChannelKind::Feishu, FEISHU, None),
        config(ChannelKind::Feishu, FEISHU, Some("qF3kZp9LmW2xYt7R")),
        config(
            ChannelKind::Webhook,
            "http://10.0.0.5:8080/hooks/xiaoan",
            Some("whsec_s3cr3t-Value.0123"),
        ),
    ];
    for config in &good {
        assert_eq!(validate(config), Ok(()), "{config:?}");
    }
}

#[test]
fn urls_must_be_http_with_a_host() {
    assert_eq!(
        validate(&config(ChannelKind::Wecom, "ftp://example.com/send", None)),
        Err(ConfigError::UrlScheme)
    );
    assert_eq!(
        validate(&config(ChannelKind::Dingtalk, "not a url", None)),
        Err(ConfigError::UrlScheme)
    );
    assert_eq!(
        validate(&config(ChannelKind::Feishu, "javascript:alert(1)", None)),
        Err(ConfigError::UrlScheme)
    );
    assert_eq!(
        validate(&config(ChannelKind::Wecom, "https://", None)),
        Err(ConfigError::UrlHost)
    );
    let long = format!("https://example.com/{}", "a".repeat(2000));
    assert_eq!(
        validate(&config(ChannelKind::Wecom, &long, None)),
        Err(ConfigError::TooLong)
    );
}

#[test]
fn secrets_must_have_their_channels_shape() {
    assert_eq!(
        validate(&config(ChannelKind::Dingtalk, DINGTALK, Some("SEC123"))),
        Err(ConfigError::SecretShape)
    );
    assert_eq!(
        validate(&config(
            ChannelKind::Dingtalk,
            DINGTALK,
            Some(&DINGTALK_SECRET[3..])
        )),
        Err(ConfigError::SecretShape)
    );
    assert_eq!(
        validate(&config(
            ChannelKind::Wecom,
            WECOM,
            Some("anysecretatall123")
        )),
        Err(ConfigError::SecretShape)
    );
    assert_eq!(
        validate(&config(
            ChannelKind::Email,
            "safety@school.example",
            Some("x")
        )),
        Err(ConfigError::SecretShape)
    );
    assert_eq!(
        validate(&config(ChannelKind::Feishu, FEISHU, Some("short"))),
        Err(ConfigError::SecretShape)
    );
    assert_eq!(
        validate(&config(
            ChannelKind::Webhook,
            "https://hooks.example/x",
            Some("has whitespace inside it")
        )),
        Err(ConfigError::SecretShape)
    );
    assert_eq!(
        validate(&config(
            ChannelKind::Webhook,
            "https://hooks.example/x",
            None
        )),
        Err(ConfigError::SecretMissing)
    );
    assert_eq!(
        validate(&config(
            ChannelKind::Webhook,
            "https://hooks.example/x",
            Some("")
        )),
        Err(ConfigError::SecretMissing)
    );
}

#[test]
fn email_targets_must_be_addresses() {
    for bad in [
        "",
        "  ",
        "not-an-address",
        "safety@school.example, @nobody",
        "a@b@c",
    ] {
        assert_eq!(
            validate(&config(ChannelKind::Email, bad, None)),
            Err(ConfigError::Address),
            "{bad:?}"
        );
    }
    let many = (0..21)
        .map(|i| format!("u{i}@school.example"))
        .collect::<Vec<_>>()
        .join(",");
    assert_eq!(
        validate(&config(ChannelKind::Email, &many, None)),
        Err(ConfigError::TooLong)
    );
}

#[test]
fn codes_are_stable() {
    let codes = [
        (ConfigError::UrlScheme, "channel_url_scheme"),
        (ConfigError::UrlHost, "channel_url_host"),
        (ConfigError::SecretShape, "channel_secret_shape"),
        (ConfigError::SecretMissing, "channel_secret_missing"),
        (ConfigError::Address, "channel_address"),
        (ConfigError::TooLong, "channel_too_long"),
    ];
    for (error, code) in codes {
        assert_eq!(error.code(), code);
    }
}
