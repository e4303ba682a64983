//! Passwords: Argon2id hashing, one-time passwords, changes that end every session, and
//! sign-in with lockout.

use super::{User, get_self};
use crate::audit::{self, Event};
use crate::{Db, StoreError, StoreResult, tokens};
use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use rand::Rng;
use std::sync::OnceLock;
use xiaoan_domain::audit::Actor;
use xiaoan_domain::now_millis;

/// How long a one-time password (first-run, new account, administrator's reset) works.
pub const ONE_TIME_PASSWORD_MS: i64 = 72 * 3_600_000;

/// Hashes a password with Argon2id at the library's defaults (m = 19 MiB, t = 2, p = 1).
pub fn hash_password(password: &str) -> StoreResult<String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| StoreError::Internal(format!("hashing failed: {e}")))
}

fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A hash to verify against when the login is unknown, so that the answer takes as long.
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| hash_password("decoy-password-never-valid").unwrap_or_default())
}

/// A one-time password from the OS's random source: 16 characters over an unambiguous
/// alphabet, with all four character classes.
pub fn generate_password() -> String {
    const LOWER: &[u8] = b"abcdefghijkmnpqrstuvwxyz";
    const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
    const DIGIT: &[u8] = b"23456789";
    const OTHER: &[u8] = b"-_.!";
    let mut rng = rand::rng();
    let mut pick = |set: &[u8]| set[rng.random_range(0..set.len())] as char;
    let mut s = String::new();
    for i in 0..16 {
        s.push(match i % 8 {
            3 => pick(DIGIT),
            5 => pick(UPPER),
            7 => pick(OTHER),
            _ => pick(LOWER),
        });
    }
    s
}

/// Sets a new password hash for user `user_id` and ends all their sessions and tokens.
/// `must_change` marks it one-time (an administrator's reset).
#[tracing::instrument(skip_all, fields(user_id))]
pub async fn set_password(
    db: &Db,
    actor: &Actor,
    user_id: i64,
    hash: String,
    must_change: bool,
) -> StoreResult<()> {
    let now = now_millis();
    let mut tx = db.begin_write().await?;
    let n = sqlx::query(
        "UPDATE users SET password_hash = $1, must_change_password = $2, password_changed_at = $3, \
         password_expires_at = $5, failed_logins = 0, locked_until = 0, updated_at = $3 WHERE id = $4",
    )
    .bind(hash)
    .bind(must_change as i64)
    .bind(now)
    .bind(user_id)
    .bind(must_change.then_some(now + ONE_TIME_PASSWORD_MS))
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    sqlx::query("DELETE FROM login_failures WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    tokens::revoke_all(&mut tx, user_id).await?;
    let action = if must_change {
        "user.password_reset"
    } else {
        "user.password_change"
    };
    audit::append(
        &mut tx,
        actor,
        Event::ok(action, "user", user_id, serde_json::json!({})),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Whether `password` is the user's current one (for re-authentication).
#[tracing::instrument(skip_all, fields(user_id))]
pub async fn check_password(db: &Db, user_id: i64, password: &str) -> StoreResult<bool> {
    let hash: Option<String> = sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(db.pool())
        .await?;
    Ok(hash.is_some_and(|h| verify_password(password, &h)))
}

/// Lockout settings for [`sign_in`].
#[derive(Debug, Clone, Copy)]
pub struct Lockout {
    /// Consecutive failures from one client address that lock the account for that address.
    pub max_failures: i64,
    pub lock_ms: i64,
}

/// How many times more failures, from every address together, lock the account
/// everywhere: the slower back-off against guessing spread over many addresses.
pub const GLOBAL_LOCKOUT_FACTOR: i64 = 20;

impl Lockout {
    /// Consecutive failures from all addresses together that lock the account everywhere.
    pub fn global_failures(&self) -> i64 {
        self.max_failures.saturating_mul(GLOBAL_LOCKOUT_FACTOR)
    }
}

/// Where a sign-in attempt comes from.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    /// The client's address (the lockout is kept per account and address).
    pub client: String,
    /// Our id of the request.
    pub request_id: String,
    /// The request id the client sent, if any.
    pub client_request_id: Option<String>,
}

type AccountRow = (
    i64,
    String,
    i64,
    i64,
    i64,
    Option<i64>,
    i64,
    i64,
    Option<i64>,
);

/// Checks a login and password. Unknown logins, wrong passwords, disabled and locked
/// accounts, expired and already used one-time passwords all give `None` after the same
/// work; the reason is only in the audit log. `lockout.max_failures` consecutive failures
/// from one client address lock the account for that address; `lockout.global_failures()`
/// from all addresses together lock it everywhere. A one-time password signs in once.
#[tracing::instrument(skip_all)]
pub async fn sign_in(
    db: &Db,
    login: &str,
    password: &str,
    lockout: Lockout,
    origin: &Origin,
) -> StoreResult<Option<User>> {
    let login = login.trim().to_lowercase();
    let row: Option<AccountRow> = sqlx::query_as(
        "SELECT id, password_hash, disabled, failed_logins, locked_until, password_expires_at, \
         must_change_password, password_changed_at, last_login_at FROM users WHERE login = $1",
    )
    .bind(login.clone())
    .fetch_optional(db.pool())
    .await?;
    let now = now_millis();
    let actor = Actor {
        login: login.chars().take(64).collect(),
        request_id: origin.request_id.clone(),
        client_request_id: origin.client_request_id.clone(),
        ..Actor::default()
    };
    let client = origin.client.clone();
    let Some((
        id,
        hash,
        disabled,
        failures,
        locked_until,
        expires_at,
        must_change,
        changed_at,
        last_login,
    )) = row
    else {
        verify_password(password, decoy_hash());
        audit::record(
            db,
            &actor,
            Event {
                result: "unknown_user",
                ..Event::ok(
                    "auth.login",
                    "user",
                    "",
                    serde_json::json!({"client": client}),
                )
            },
        )
        .await?;
        return Ok(None);
    };
    let good = verify_password(password, &hash);
    let (here_failures, here_locked_until): (i64, i64) = sqlx::query_as(
        "SELECT failures, locked_until FROM login_failures WHERE user_id = $1 AND client = $2",
    )
    .bind(id)
    .bind(client.clone())
    .fetch_optional(db.pool())
    .await?
    .unwrap_or((0, 0));
    let mut roles: Vec<&str> = super::roles_of(db, &[id])
        .await?
        .iter()
        .map(|(_, r)| r.role.code())
        .collect();
    roles.sort_unstable();
    roles.dedup();
    let actor = Actor {
        user_id: Some(id),
        roles: roles.join(","),
        ..actor
    };
    let used_once = must_change != 0 && last_login.is_some_and(|t| t >= changed_at);
    let refused = if here_locked_until > now || locked_until > now {
        Some("locked")
    } else if disabled != 0 {
        Some("disabled")
    } else if !good {
        Some("wrong_password")
    } else if expires_at.is_some_and(|t| t < now) {
        Some("one_time_password_expired")
    } else if used_once {
        Some("one_time_password_used")
    } else {
        None
    };
    let mut tx = db.begin_write().await?;
    if let Some(reason) = refused {
        if reason == "wrong_password" {
            let here = here_failures + 1;
            let lock_here = here >= lockout.max_failures;
            sqlx::query(
                "INSERT INTO login_failures (user_id, client, failures, locked_until) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (user_id, client) DO UPDATE \
                 SET failures = excluded.failures, locked_until = excluded.locked_until",
            )
            .bind(id)
            .bind(client.clone())
            .bind(if lock_here { 0 } else { here })
            .bind(if lock_here {
                now + lockout.lock_ms
            } else {
                here_locked_until
            })
            .execute(&mut *tx)
            .await?;
            let all = failures + 1;
            let lock_all = all >= lockout.global_failures();
            sqlx::query("UPDATE users SET failed_logins = $1, locked_until = $2 WHERE id = $3")
                .bind(if lock_all { 0 } else { all })
                .bind(if lock_all {
                    now + lockout.lock_ms
                } else {
                    locked_until
                })
                .bind(id)
                .execute(&mut *tx)
                .await?;
            for (locked, reach) in [(lock_here, "address"), (lock_all, "account")] {
                if locked {
                    let detail = serde_json::json!({"client": client, "lock": reach});
                    let e = Event {
                        result: "locked",
                        ..Event::ok("auth.lockout", "user", id, detail)
                    };
                    audit::append(&mut tx, &actor, e).await?;
                }
            }
        }
        audit::append(
            &mut tx,
            &actor,
            Event {
                result: reason,
                ..Event::ok(
                    "auth.login",
                    "user",
                    id,
                    serde_json::json!({"client": client}),
                )
            },
        )
        .await?;
        tx.commit().await?;
        return Ok(None);
    }
    sqlx::query(
        "UPDATE users SET failed_logins = 0, locked_until = 0, last_login_at = $1 WHERE id = $2",
    )
    .bind(now)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM login_failures WHERE user_id = $1 AND client = $2")
        .bind(id)
        .bind(client.clone())
        .execute(&mut *tx)
        .await?;
    audit::append(
        &mut tx,
        &actor,
        Event::ok(
            "auth.login",
            "user",
            id,
            serde_json::json!({"client": client}),
        ),
    )
    .await?;
    tx.commit().await?;
    get_self(db, id).await.map(Some)
}
