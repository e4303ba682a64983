//! Validated text newtypes: a payload becomes one of these before any logic runs.

use serde::Serialize;

/// Why a piece of text was refused. `field` names the input, for the message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {kind:?}")]
pub struct TextError {
    pub field: &'static str,
    pub kind: TextErrorKind,
}

/// The ways text can be wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TextErrorKind {
    Empty,
    TooLong { max: usize },
    BadCharacters,
}

/// Whether text may hold several lines (newlines and tabs) or only one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    One,
    Many,
}

/// The one rule for characters in stored text: no control characters (newline and tab are
/// allowed in multi-line text) and none of the bidirectional overrides and isolates
/// (U+202A–U+202E, U+2066–U+2069), which make text display differently from what it says.
pub fn allowed(c: char, lines: Lines) -> bool {
    if matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}') {
        return false;
    }
    if c.is_control() {
        return lines == Lines::Many && (c == '\n' || c == '\t');
    }
    true
}

/// Checks and normalises text for `field`: trimmed, line ends as `\n` (multi-line text),
/// at most `max` characters, only [`allowed`] characters. Empty text is refused when
/// `required`, else returned as the empty string.
pub fn clean(
    field: &'static str,
    s: &str,
    max: usize,
    lines: Lines,
    required: bool,
) -> Result<String, TextError> {
    let t = match lines {
        Lines::Many => s.replace("\r\n", "\n").replace('\r', "\n"),
        Lines::One => s.to_string(),
    };
    let t = t.trim();
    let fail = |kind| Err(TextError { field, kind });
    if t.is_empty() && required {
        return fail(TextErrorKind::Empty);
    }
    if t.chars().count() > max {
        return fail(TextErrorKind::TooLong { max });
    }
    if !t.chars().all(|c| allowed(c, lines)) {
        return fail(TextErrorKind::BadCharacters);
    }
    Ok(t.to_string())
}

fn check_len(field: &'static str, s: &str, max: usize) -> Result<String, TextError> {
    clean(field, s, max, Lines::One, true)
}

/// Free text that has passed [`clean`]: one line (a title, a location) or several (a
/// description), required, with a maximum length chosen by the field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Text(String);

impl Text {
    /// One line of required text for `field`, at most `max` characters.
    pub fn line(field: &'static str, s: &str, max: usize) -> Result<Text, TextError> {
        clean(field, s, max, Lines::One, true).map(Text)
    }

    /// Required multi-line text for `field`, at most `max` characters.
    pub fn lines(field: &'static str, s: &str, max: usize) -> Result<Text, TextError> {
        clean(field, s, max, Lines::Many, true).map(Text)
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A login name: 3–32 characters of `a-z 0-9 . _ -`, stored lower-case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Login(String);

impl Login {
    /// Validates and normalises (lower-case) a login.
    pub fn parse(s: &str) -> Result<Login, TextError> {
        let t = check_len("login", s, 32)?.to_lowercase();
        if t.chars().count() < 3
            || !t
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-_".contains(c))
        {
            return Err(TextError {
                field: "login",
                kind: TextErrorKind::BadCharacters,
            });
        }
        Ok(Login(t))
    }

    /// The login as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A person's or an org's name: 1–64 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Name(String);

impl Name {
    /// Validates a name for `field`.
    pub fn parse(field: &'static str, s: &str) -> Result<Name, TextError> {
        check_len(field, s, 64).map(Name)
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An org code: 1–32 characters of `A-Z a-z 0-9 - _`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Code(String);

impl Code {
    /// Validates an org code.
    pub fn parse(s: &str) -> Result<Code, TextError> {
        let t = check_len("code", s, 32)?;
        if !t
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(TextError {
                field: "code",
                kind: TextErrorKind::BadCharacters,
            });
        }
        Ok(Code(t))
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logins() {
        assert_eq!(Login::parse(" Admin ").unwrap().as_str(), "admin");
        assert!(Login::parse("ab").is_err());
        assert!(Login::parse("a b c").is_err());
        assert!(Login::parse("張三").is_err());
        assert!(Login::parse(&"a".repeat(33)).is_err());
    }

    #[test]
    fn names() {
        assert_eq!(
            Name::parse("name", " 城關第一小學 ").unwrap().as_str(),
            "城關第一小學"
        );
        assert!(Name::parse("name", "").is_err());
        assert!(Name::parse("name", &"校".repeat(65)).is_err());
        assert!(Name::parse("name", "a\u{7}b").is_err());
        assert!(Name::parse("name", "a\nb").is_err());
    }

    #[test]
    fn bidirectional_controls_are_refused() {
        for c in ['\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}'] {
            let s = format!("校{c}名");
            assert!(Name::parse("name", &s).is_err(), "{c:?} in a name");
            assert!(Text::line("title", &s, 100).is_err(), "{c:?} in a title");
            assert!(
                Text::lines("description", &s, 100).is_err(),
                "{c:?} in a text"
            );
        }
        for c in ['\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}'] {
            let s = format!("校{c}名");
            assert!(Name::parse("name", &s).is_err(), "{c:?} in a name");
            assert!(
                Text::lines("description", &s, 100).is_err(),
                "{c:?} in a text"
            );
        }
        let e = Text::line("title", "a\u{202E}b", 100).unwrap_err();
        assert_eq!(e.field, "title");
        assert_eq!(e.kind, TextErrorKind::BadCharacters);
    }

    #[test]
    fn lines_and_controls() {
        assert!(Text::line("title", "a\tb", 100).is_err());
        assert!(Text::line("title", "a\nb", 100).is_err());
        assert_eq!(
            Text::lines("description", " a\r\nb\tc ", 100)
                .unwrap()
                .as_str(),
            "a\nb\tc"
        );
        assert!(Text::lines("description", "a\u{0}b", 100).is_err());
        assert!(Text::lines("description", "a\u{1b}b", 100).is_err());
        assert!(Text::lines("description", "", 100).is_err());
        assert_eq!(clean("note", "  ", 10, Lines::Many, false).unwrap(), "");
        assert!(Text::line("title", &"字".repeat(101), 100).is_err());
        // Right-to-left text itself is fine; only the invisible overrides are not.
        assert!(Text::line("title", "مدرسة", 100).is_ok());
    }

    #[test]
    fn codes() {
        assert!(Code::parse("S-001").is_ok());
        assert!(Code::parse("S 001").is_err());
    }
}
