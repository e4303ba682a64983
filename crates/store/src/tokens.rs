//! API bearer tokens: random secrets shown once, stored only as SHA-256 hashes, with an
//! absolute and an idle expiry, revoked on logout, password change and disable.

use crate::{Db, StoreResult};
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::AnyConnection;
use xiaoan_domain::{Millis, now_millis};

/// Prefix that makes a leaked token recognisable.
pub const PREFIX: &str = "xa_";

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A freshly issued token; `secret` is shown to the caller once and never stored.
pub struct Issued {
    pub secret: String,
    pub expires_at: Millis,
}

/// Issues a token for `user_id` inside an open transaction.
#[tracing::instrument(skip_all, fields(user_id))]
pub async fn issue(
    conn: &mut AnyConnection,
    user_id: i64,
    label: &str,
    lifetime_ms: i64,
    idle_ms: i64,
) -> StoreResult<Issued> {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let secret = format!("{PREFIX}{}", hex::encode(bytes));
    let now = now_millis();
    let expires_at = now + lifetime_ms;
    sqlx::query(
        "INSERT INTO api_tokens (token_hash, user_id, label, created_at, expires_at, idle_expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(hash(&secret))
    .bind(user_id)
    .bind(label.to_string())
    .bind(now)
    .bind(expires_at)
    .bind(now + idle_ms)
    .execute(&mut *conn)
    .await?;
    Ok(Issued { secret, expires_at })
}

/// The user a live token belongs to. Extends the idle expiry, at most once a minute, so
/// reads do not each cost a write.
#[tracing::instrument(skip_all)]
pub async fn authenticate(db: &Db, secret: &str, idle_ms: i64) -> StoreResult<Option<i64>> {
    if !secret.starts_with(PREFIX) || secret.len() > 100 {
        return Ok(None);
    }
    let now = now_millis();
    let row: Option<(i64, i64, i64)> = sqlx::query_as(
        "SELECT id, user_id, idle_expires_at FROM api_tokens \
         WHERE token_hash = $1 AND revoked = 0 AND expires_at > $2 AND idle_expires_at > $2",
    )
    .bind(hash(secret))
    .bind(now)
    .fetch_optional(db.pool())
    .await?;
    let Some((id, user_id, idle_expires_at)) = row else {
        return Ok(None);
    };
    if idle_expires_at - now < idle_ms - 60_000 {
        let mut tx = db.begin_write().await?;
        sqlx::query("UPDATE api_tokens SET idle_expires_at = $1 WHERE id = $2")
            .bind(now + idle_ms)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    Ok(Some(user_id))
}

/// Revokes one token (logout). Returns whether it was live.
#[tracing::instrument(skip_all)]
pub async fn revoke(conn: &mut AnyConnection, secret: &str) -> StoreResult<bool> {
    let n = sqlx::query("UPDATE api_tokens SET revoked = 1 WHERE token_hash = $1 AND revoked = 0")
        .bind(hash(secret))
        .execute(&mut *conn)
        .await?
        .rows_affected();
    Ok(n > 0)
}

/// Ends every web session and API token of a user, inside an open transaction.
#[tracing::instrument(skip_all, fields(user_id))]
pub async fn revoke_all(conn: &mut AnyConnection, user_id: i64) -> StoreResult<()> {
    sqlx::query("UPDATE api_tokens SET revoked = 1 WHERE user_id = $1 AND revoked = 0")
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
