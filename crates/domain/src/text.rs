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

fn check_len(field: &'static str, s: &str, max: usize) -> Result<String, TextError> {
    let t = s.trim();
    if t.is_empty() {
        return Err(TextError {
            field,
            kind: TextErrorKind::Empty,
        });
    }
    if t.chars().count() > max {
        return Err(TextError {
            field,
            kind: TextErrorKind::TooLong { max },
        });
    }
    if t.chars().any(|c| c.is_control()) {
        return Err(TextError {
            field,
            kind: TextErrorKind::BadCharacters,
        });
    }
    Ok(t.to_string())
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
    }

    #[test]
    fn codes() {
        assert!(Code::parse("S-001").is_ok());
        assert!(Code::parse("S 001").is_err());
    }
}
