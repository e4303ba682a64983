//! The password policy (等保 profile): length, character classes, a list of common
//! passwords and context words. Hashing lives in the store; this only judges candidates.

use serde::{Deserialize, Serialize};

/// Tunable parts of the policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordPolicy {
    /// Minimum length in characters; never below 8.
    pub min_length: usize,
    /// How many of the four classes (lower, upper, digit, other) must appear.
    pub min_classes: usize,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        PasswordPolicy {
            min_length: 12,
            min_classes: 3,
        }
    }
}

/// Longest password accepted (characters).
pub const MAX_LENGTH: usize = 128;

crate::codes! {
    /// Why a password was refused; each code maps to a translated message, and is also how
    /// the error displays.
    pub enum PasswordError {
        TooShort => "password_too_short",
        TooLong => "password_too_long",
        TooSimple => "password_too_simple",
        Common => "password_common",
    }
}

impl std::error::Error for PasswordError {}

/// Fragments that make a password guessable here, whatever else surrounds them.
const COMMON_FRAGMENTS: &[&str] = &[
    "123456", "654321", "password", "passw0rd", "p@ssw0rd", "qwerty", "abc123", "111111", "000000",
    "888888", "666666", "iloveyou", "admin", "welcome", "letmein", "1qaz2wsx", "qazwsx", "zxcvbn",
    "asdfgh", "woaini", "jiaoyu", "xiaoan", "anquan", "xuexiao", "school", "changeme",
];

impl PasswordPolicy {
    /// Judges `candidate`; `context` holds words that must not appear in it (the login, the
    /// user's name, the district or school name).
    pub fn check(&self, candidate: &str, context: &[&str]) -> Result<(), PasswordError> {
        let len = candidate.chars().count();
        if len < self.min_length.max(8) {
            return Err(PasswordError::TooShort);
        }
        if len > MAX_LENGTH {
            return Err(PasswordError::TooLong);
        }
        let classes = [
            candidate.chars().any(|c| c.is_lowercase()),
            candidate.chars().any(|c| c.is_uppercase()),
            candidate.chars().any(|c| c.is_ascii_digit()),
            candidate.chars().any(|c| !c.is_alphanumeric()),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if classes < self.min_classes.min(4) {
            return Err(PasswordError::TooSimple);
        }
        let lower = candidate.to_lowercase();
        let hit = COMMON_FRAGMENTS.iter().any(|f| lower.contains(f))
            || context
                .iter()
                .map(|w| w.trim().to_lowercase())
                .any(|w| w.chars().count() >= 3 && lower.contains(&w));
        if hit {
            return Err(PasswordError::Common);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_rules() {
        let p = PasswordPolicy::default();
        assert_eq!(p.check("Short1!", &[]), Err(PasswordError::TooShort));
        assert_eq!(
            p.check("alllowercaseletters", &[]),
            Err(PasswordError::TooSimple)
        );
        assert_eq!(p.check("Password123456!", &[]), Err(PasswordError::Common));
        assert_eq!(
            p.check("Zhangwei-Blue-77", &["zhangwei"]),
            Err(PasswordError::Common)
        );
        assert_eq!(
            p.check(&"Ab1!".repeat(40), &[]),
            Err(PasswordError::TooLong)
        );
        assert_eq!(p.check("Tide-Lantern-42", &["zhangwei"]), Ok(()));
        // 64 characters are fine.
        assert_eq!(p.check(&format!("Rk7!{}", "m".repeat(60)), &[]), Ok(()));
    }
}
