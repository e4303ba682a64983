//! The three interface languages and how a request picks one: `?lang=`, then the `lang`
//! cookie, then `Accept-Language`, then Traditional Chinese.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use std::convert::Infallible;

/// An interface language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    ZhTw,
    ZhCn,
    En,
}

impl Lang {
    /// All languages, in the order the switcher shows them.
    pub const ALL: [Lang; 3] = [Lang::ZhTw, Lang::ZhCn, Lang::En];

    /// The locale code (also the `lang` attribute).
    pub fn code(self) -> &'static str {
        match self {
            Lang::ZhTw => "zh-TW",
            Lang::ZhCn => "zh-CN",
            Lang::En => "en",
        }
    }

    /// The language's own name.
    pub fn native_name(self) -> &'static str {
        match self {
            Lang::ZhTw => "繁體",
            Lang::ZhCn => "简体",
            Lang::En => "English",
        }
    }

    /// Parses a locale tag loosely (`zh-tw`, `zh-Hant`, `zh-CN`, `zh-Hans`, `en-US`…).
    pub fn parse(tag: &str) -> Option<Lang> {
        let t = tag.trim().to_ascii_lowercase();
        if t.starts_with("en") {
            Some(Lang::En)
        } else if t == "zh-cn" || t == "zh-sg" || t.starts_with("zh-hans") || t == "zh" {
            Some(Lang::ZhCn)
        } else if t.starts_with("zh") {
            Some(Lang::ZhTw)
        } else {
            None
        }
    }

    /// Translates `key`.
    pub fn t(self, key: &str) -> String {
        rust_i18n::t!(key, locale = self.code()).into_owned()
    }

    /// Translates `key`, replacing `%{name}` with `value`.
    pub fn t1(self, key: &str, name: &str, value: &str) -> String {
        self.t(key).replace(&format!("%{{{name}}}"), value)
    }
}

/// Picks the language of a request: `?lang=`, then the `lang` cookie; then, for API
/// clients only, `Accept-Language`. Pages default to Traditional Chinese.
pub fn from_parts(parts: &Parts) -> Lang {
    if let Some(q) = parts.uri.query() {
        for pair in q.split('&') {
            if let Some(v) = pair.strip_prefix("lang=")
                && let Some(l) = Lang::parse(v)
            {
                return l;
            }
        }
    }
    let header = |name| {
        parts
            .headers
            .get(name)
            .and_then(|v: &axum::http::HeaderValue| v.to_str().ok())
    };
    if let Some(cookies) = header(axum::http::header::COOKIE) {
        for c in cookies.split(';') {
            if let Some(v) = c.trim().strip_prefix("lang=")
                && let Some(l) = Lang::parse(v)
            {
                return l;
            }
        }
    }
    if parts.uri.path().starts_with("/api/")
        && let Some(al) = header(axum::http::header::ACCEPT_LANGUAGE)
    {
        for tag in al.split(',') {
            if let Some(l) = Lang::parse(tag.split(';').next().unwrap_or("")) {
                return l;
            }
        }
    }
    Lang::ZhTw
}

impl<S: Send + Sync> FromRequestParts<S> for Lang {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(from_parts(parts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags() {
        assert_eq!(Lang::parse("zh-Hant-TW"), Some(Lang::ZhTw));
        assert_eq!(Lang::parse("zh-CN"), Some(Lang::ZhCn));
        assert_eq!(Lang::parse("en-GB"), Some(Lang::En));
        assert_eq!(Lang::parse("fr"), None);
    }

    #[test]
    fn every_key_is_translated_in_every_language() {
        let files = [
            include_str!("../locales/zh-TW.yml"),
            include_str!("../locales/zh-CN.yml"),
            include_str!("../locales/en.yml"),
        ];
        let keys: Vec<Vec<&str>> = files
            .iter()
            .map(|f| {
                let mut k: Vec<&str> = f
                    .lines()
                    .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
                    .filter_map(|l| l.split_once(':').map(|(k, _)| k))
                    .collect();
                k.sort();
                k
            })
            .collect();
        assert_eq!(keys[0], keys[1], "zh-TW and zh-CN keys differ");
        assert_eq!(keys[0], keys[2], "zh-TW and en keys differ");
    }
}
