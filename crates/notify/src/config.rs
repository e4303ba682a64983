//! Checking a channel's configuration before it is saved.

use lettre::Address;

use crate::{ChannelConfig, ChannelKind};

/// The longest target (URL or address list) accepted, in bytes.
pub const MAX_TARGET_LEN: usize = 2000;

/// The most addresses one email channel may list.
pub const MAX_ADDRESSES: usize = 20;

/// Why a configuration is refused; [`code`](Self::code) gives a stable snake_case code the
/// web layer translates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The URL does not parse, or its scheme is not `http` or `https`.
    #[error("the URL must be an http:// or https:// address")]
    UrlScheme,
    /// The URL names no host.
    #[error("the URL has no host")]
    UrlHost,
    /// The secret does not look like this channel's secrets, or the channel takes none.
    #[error("the secret does not have the shape this channel uses")]
    SecretShape,
    /// The channel needs a secret and none was given (generic webhooks).
    #[error("this channel needs a secret")]
    SecretMissing,
    /// An email address does not parse, or no address was given.
    #[error("an email address is not valid")]
    Address,
    /// The target is longer than [`MAX_TARGET_LEN`] or lists more than [`MAX_ADDRESSES`]
    /// addresses.
    #[error("the target is too long")]
    TooLong,
}

impl ConfigError {
    /// The stable code of this error, e.g. `channel_url_scheme`.
    pub fn code(self) -> &'static str {
        match self {
            ConfigError::UrlScheme => "channel_url_scheme",
            ConfigError::UrlHost => "channel_url_host",
            ConfigError::SecretShape => "channel_secret_shape",
            ConfigError::SecretMissing => "channel_secret_missing",
            ConfigError::Address => "channel_address",
            ConfigError::TooLong => "channel_too_long",
        }
    }
}

/// Checks a configuration the way the channel will use it.
///
/// - Email: 1 to [`MAX_ADDRESSES`] addresses, each a valid address; no secret.
/// - Robots and webhooks: an `http`/`https` URL with a host, at most [`MAX_TARGET_LEN`] bytes.
/// - Secrets: DingTalk optional, `SEC` followed by 20 to 128 ASCII letters or digits; Feishu
///   optional, 16 to 64 ASCII letters or digits; webhook required, 16 to 256 printable ASCII
///   characters without whitespace; WeCom and email take none.
pub fn validate(config: &ChannelConfig) -> Result<(), ConfigError> {
    let target = config.target();
    if target.len() > MAX_TARGET_LEN {
        return Err(ConfigError::TooLong);
    }
    match config.kind {
        ChannelKind::Email => {
            recipients(target)?;
        }
        ChannelKind::Wecom | ChannelKind::Dingtalk | ChannelKind::Feishu | ChannelKind::Webhook => {
            check_url(target)?;
        }
    }
    check_secret(config.kind, config.secret())
}

/// The addresses of an email target, in order.
pub(crate) fn recipients(target: &str) -> Result<Vec<Address>, ConfigError> {
    let parts: Vec<&str> = target
        .split(|c: char| c == ',' || c == ';' || c.is_whitespace())
        .filter(|part| !part.is_empty())
        .collect();
    if parts.is_empty() {
        return Err(ConfigError::Address);
    }
    if parts.len() > MAX_ADDRESSES {
        return Err(ConfigError::TooLong);
    }
    parts
        .into_iter()
        .map(|part| part.parse::<Address>().map_err(|_| ConfigError::Address))
        .collect()
}

/// The parsed URL of a robot or webhook target.
pub(crate) fn check_url(target: &str) -> Result<url::Url, ConfigError> {
    let url = match url::Url::parse(target) {
        Ok(url) => url,
        Err(url::ParseError::EmptyHost) => return Err(ConfigError::UrlHost),
        Err(_) => return Err(ConfigError::UrlScheme),
    };
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ConfigError::UrlScheme);
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(ConfigError::UrlHost);
    }
    Ok(url)
}

fn check_secret(kind: ChannelKind, secret: Option<&str>) -> Result<(), ConfigError> {
    let alnum = |s: &str, range: std::ops::RangeInclusive<usize>| {
        range.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric())
    };
    let fits = match (kind, secret) {
        (ChannelKind::Webhook, None) => return Err(ConfigError::SecretMissing),
        (_, None) => true,
        (ChannelKind::Email | ChannelKind::Wecom, Some(_)) => false,
        (ChannelKind::Dingtalk, Some(secret)) => secret
            .strip_prefix("SEC")
            .is_some_and(|rest| alnum(rest, 20..=128)),
        (ChannelKind::Feishu, Some(secret)) => alnum(secret, 16..=64),
        (ChannelKind::Webhook, Some(secret)) => {
            (16..=256).contains(&secret.len()) && secret.bytes().all(|b| b.is_ascii_graphic())
        }
    };
    if fits {
        Ok(())
    } else {
        Err(ConfigError::SecretShape)
    }
}
