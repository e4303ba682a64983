//! The store's error type: what callers can act on, with database failures kept opaque.

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The object does not exist, or lies outside the caller's scope (indistinguishable).
    #[error("not found")]
    NotFound,
    /// The change conflicts with existing data; the code names the conflict.
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// The input breaks a rule; the code names the rule.
    #[error("invalid: {0}")]
    Invalid(&'static str),
    /// The caller may not do this.
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// A step of a state machine that does not apply in the object's current state.
    #[error("cannot {action} from {from}")]
    Illegal {
        from: &'static str,
        action: &'static str,
    },
    /// A database failure.
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    /// Anything else (hashing, serialisation).
    #[error("internal error: {0}")]
    Internal(String),
}

/// Result alias for store functions.
pub type StoreResult<T> = Result<T, StoreError>;

/// Maps a unique-constraint violation to `Conflict(code)`, passing other errors through.
pub(crate) fn unique_as(code: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |e| match e.as_database_error().map(|d| d.kind()) {
        Some(sqlx::error::ErrorKind::UniqueViolation) => StoreError::Conflict(code),
        _ => StoreError::Db(e),
    }
}

impl From<xiaoan_domain::hazard::TransitionError> for StoreError {
    fn from(e: xiaoan_domain::hazard::TransitionError) -> Self {
        use xiaoan_domain::hazard::TransitionError::*;
        match e {
            Illegal { from, action } => StoreError::Illegal {
                from: from.code(),
                action,
            },
            Forbidden(code) => StoreError::Forbidden(code),
            Invalid(code) => StoreError::Invalid(code),
        }
    }
}
