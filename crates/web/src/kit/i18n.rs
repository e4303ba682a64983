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
    /// How items of a list are separated in running text: 「、」 in Chinese, a comma in
    /// English.
    pub fn list_separator(self) -> &'static str {
        match self {
            Lang::En => ", ",
            Lang::ZhTw | Lang::ZhCn => "、",
        }
    }

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
    from_request(&parts.uri, &parts.headers)
}

/// [`from_parts`] over a request's URI and headers.
pub fn from_request(uri: &axum::http::Uri, headers: &axum::http::HeaderMap) -> Lang {
    if let Some(l) = uri.query().and_then(query_lang) {
        return l;
    }
    let header = |name| {
        headers
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
    if crate::kit::error::Surface::of(uri.path()) == crate::kit::error::Surface::Api
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

/// The language chosen with `?lang=` in a query string, if any.
pub fn query_lang(query: &str) -> Option<Lang> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "lang")
        .and_then(|(_, v)| Lang::parse(&v))
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
    fn lists_and_amounts_read_in_each_language() {
        assert_eq!(Lang::En.list_separator(), ", ");
        assert_eq!(Lang::ZhTw.list_separator(), "、");
        use xiaoan_domain::plan::Unit;
        assert_eq!(
            crate::plan::amount(Lang::En, 1.0, Unit::Records),
            "1 record"
        );
        assert_eq!(
            crate::plan::amount(Lang::En, 3.0, Unit::Records),
            "3 records"
        );
        assert_eq!(crate::plan::amount(Lang::En, 1.0, Unit::People), "1 person");
        assert_eq!(crate::plan::amount(Lang::ZhTw, 1.0, Unit::Records), "1 條");
    }

    #[test]
    fn tags() {
        assert_eq!(Lang::parse("zh-Hant-TW"), Some(Lang::ZhTw));
        assert_eq!(Lang::parse("zh-CN"), Some(Lang::ZhCn));
        assert_eq!(Lang::parse("en-GB"), Some(Lang::En));
        assert_eq!(Lang::parse("fr"), None);
    }

    /// A locale file: its path, and each key with the languages it gives.
    type LocaleFile = (String, Vec<(String, Vec<String>)>);

    /// Every locale file.
    fn locale_files() -> Vec<LocaleFile> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("locales");
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let mut keys: Vec<(String, Vec<String>)> = Vec::new();
            for line in text.lines() {
                if line.starts_with('#') || line.trim().is_empty() || line.starts_with("_version") {
                    continue;
                }
                if let Some(rest) = line.strip_prefix("  ") {
                    let (lang, _) = rest.split_once(':').unwrap();
                    keys.last_mut().unwrap().1.push(lang.to_string());
                } else {
                    keys.push((line.trim_end_matches(':').to_string(), vec![]));
                }
            }
            files.push((path.display().to_string(), keys));
        }
        files
    }

    #[test]
    fn every_key_is_translated_in_every_language() {
        let files = locale_files();
        assert!(files.len() >= 5, "too few locale files: {}", files.len());
        let mut seen = std::collections::BTreeSet::new();
        for (file, keys) in &files {
            for (key, langs) in keys {
                assert_eq!(
                    langs,
                    &["zh-TW", "zh-CN", "en"],
                    "{file}: {key} must give zh-TW, zh-CN and en, in that order"
                );
                assert!(seen.insert(key.clone()), "{file}: {key} is defined twice");
                for lang in Lang::ALL {
                    assert_ne!(lang.t(key), *key, "{key} is not loaded for {lang:?}");
                }
            }
        }
    }

    /// `(key prefix, codes)` of every code the interface words through a translation key.
    fn worded_codes() -> Vec<(&'static str, Vec<&'static str>)> {
        use xiaoan_domain::code::Code;
        use xiaoan_domain::hazard::{Category, Escalation, Grade, Source, Status};
        fn codes<T: Code + 'static>() -> Vec<&'static str> {
            T::ALL.iter().map(|c| c.code()).collect()
        }
        vec![
            ("hazard.status", codes::<Status>()),
            ("hazard.category", codes::<Category>()),
            ("hazard.grade", codes::<Grade>()),
            ("hazard.source", codes::<Source>()),
            ("hazard.escalation", codes::<Escalation>()),
            (
                "hazard.action",
                vec![
                    "register",
                    "start",
                    "submit",
                    "verify",
                    "send_back",
                    "dismiss",
                    "plan",
                    "reopen",
                ],
            ),
            ("role", codes::<xiaoan_domain::Role>()),
            ("kind", codes::<xiaoan_domain::OrgKind>()),
            ("kind", codes::<xiaoan_domain::SchoolType>()),
            ("status", codes::<xiaoan_domain::compliance::Status>()),
            ("unit", codes::<xiaoan_domain::plan::kinds::Unit>()),
            ("calendar", codes::<xiaoan_domain::calendar::DayKind>()),
        ]
    }

    #[test]
    fn every_code_the_interface_shows_has_words_in_every_language() {
        let mut missing = Vec::new();
        for (prefix, codes) in worded_codes() {
            assert!(!codes.is_empty(), "{prefix}: no codes");
            for code in codes {
                let key = format!("{prefix}.{code}");
                for lang in Lang::ALL {
                    if lang.t(&key) == key {
                        missing.push(format!("{key} ({})", lang.code()));
                    }
                }
            }
        }
        assert!(missing.is_empty(), "codes without words: {missing:?}");
    }

    /// Every Traditional Chinese text a user reads: each locale file's zh-TW line, and the
    /// plan file's Traditional Chinese names, titles and labels.
    fn traditional_texts() -> Vec<(String, String)> {
        let mut texts = Vec::new();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("locales");
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            for (n, line) in text.lines().enumerate() {
                if let Some(v) = line.strip_prefix("  zh-TW:") {
                    texts.push((
                        format!("{}:{}", path.display(), n + 1),
                        v.trim().to_string(),
                    ));
                }
            }
        }
        let plan = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../plans/edu-safety-3yr.toml");
        let text = std::fs::read_to_string(&plan).unwrap();
        for (n, line) in text.lines().enumerate() {
            let Some((key, value)) = line.split_once(" = ") else {
                continue;
            };
            if matches!(
                key.trim(),
                "name" | "title" | "label" | "note" | "description"
            ) {
                texts.push((format!("{}:{}", plan.display(), n + 1), value.to_string()));
            }
        }
        texts
    }

    #[test]
    fn traditional_chinese_has_no_simplified_characters() {
        use ferrous_opencc::{OpenCC, config::BuiltinConfig};
        let cc = OpenCC::from_config(BuiltinConfig::S2tw).unwrap();
        // 台 is the everyday Taiwanese form of 臺 (平台, 台賬), which the tables always turn
        // into 臺; every other difference is a simplified character.
        let accepted = |a: char, b: char| a == '台' && b == '臺';
        let texts = traditional_texts();
        assert!(texts.len() > 300, "{}", texts.len());
        let mut found = Vec::new();
        for (at, text) in &texts {
            let converted = cc.convert(text);
            let chars: Vec<String> = text
                .chars()
                .zip(converted.chars())
                .filter(|(a, b)| a != b && !accepted(*a, *b))
                .map(|(a, b)| format!("{a}→{b}"))
                .collect();
            if !chars.is_empty() || text.chars().count() != converted.chars().count() {
                found.push(format!("{at}: {} ({text})", chars.join(" ")));
            }
        }
        assert!(
            found.is_empty(),
            "simplified characters:\n{}",
            found.join("\n")
        );
    }
}
