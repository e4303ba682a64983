//! The append-only, hash-chained audit log. [`append`] runs inside the caller's write
//! transaction, so an entry exists exactly when its change does. The single `audit_head`
//! row serialises appends on both backends (its UPDATE takes a row lock on PostgreSQL;
//! SQLite write transactions are already exclusive).

use crate::{Db, StoreResult};
use sqlx::{Any, AnyConnection, FromRow, Transaction};
use xiaoan_domain::audit::{Actor, AuditEntry, ChainBreak, GENESIS, verify_run};

/// What an audit entry says happened.
pub struct Event<'a> {
    pub action: &'a str,
    pub object_type: &'a str,
    pub object_id: String,
    pub result: &'a str,
    pub detail: serde_json::Value,
}

impl<'a> Event<'a> {
    /// A successful action on an object.
    pub fn ok(
        action: &'a str,
        object_type: &'a str,
        object_id: impl ToString,
        detail: serde_json::Value,
    ) -> Self {
        Event {
            action,
            object_type,
            object_id: object_id.to_string(),
            result: "ok",
            detail,
        }
    }
}

#[derive(FromRow)]
struct Row {
    seq: i64,
    at: i64,
    actor_id: Option<i64>,
    actor_login: String,
    roles: String,
    scope_org_id: Option<i64>,
    action: String,
    object_type: String,
    object_id: String,
    result: String,
    request_id: String,
    detail: String,
    prev_hash: String,
    hash: String,
}

impl From<Row> for AuditEntry {
    fn from(r: Row) -> Self {
        AuditEntry {
            seq: r.seq,
            at: r.at,
            actor_id: r.actor_id,
            actor_login: r.actor_login,
            roles: r.roles,
            scope_org_id: r.scope_org_id,
            action: r.action,
            object_type: r.object_type,
            object_id: r.object_id,
            result: r.result,
            request_id: r.request_id,
            detail: r.detail,
            prev_hash: r.prev_hash,
            hash: r.hash,
        }
    }
}

/// The event's detail as stored: with the client's own request id, when it sent one, as
/// `client_request_id` (at most 200 characters).
fn detail_with_client_id(detail: serde_json::Value, client: Option<&str>) -> String {
    let Some(client) = client else {
        return detail.to_string();
    };
    let client: String = client.chars().take(200).collect();
    let detail = match detail {
        serde_json::Value::Object(mut m) => {
            m.insert("client_request_id".into(), client.into());
            serde_json::Value::Object(m)
        }
        serde_json::Value::Null => serde_json::json!({ "client_request_id": client }),
        other => serde_json::json!({ "value": other, "client_request_id": client }),
    };
    detail.to_string()
}

/// Appends an entry inside `conn`'s open transaction.
#[tracing::instrument(skip_all)]
pub async fn append(conn: &mut AnyConnection, actor: &Actor, event: Event<'_>) -> StoreResult<i64> {
    let (seq, prev_hash): (i64, String) =
        sqlx::query_as("UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash")
            .fetch_one(&mut *conn)
            .await?;
    let mut entry = AuditEntry {
        seq,
        at: xiaoan_domain::now_millis(),
        actor_id: actor.user_id,
        actor_login: actor.login.clone(),
        roles: actor.roles.clone(),
        scope_org_id: actor.scope_org_id,
        action: event.action.to_string(),
        object_type: event.object_type.to_string(),
        object_id: event.object_id,
        result: event.result.to_string(),
        request_id: actor.request_id.clone(),
        detail: detail_with_client_id(event.detail, actor.client_request_id.as_deref()),
        prev_hash,
        hash: String::new(),
    };
    entry.hash = entry.compute_hash();
    sqlx::query(
        "INSERT INTO audit_log (seq, at, actor_id, actor_login, roles, scope_org_id, action, object_type, \
         object_id, result, request_id, detail, prev_hash, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(entry.seq)
    .bind(entry.at)
    .bind(entry.actor_id)
    .bind(entry.actor_login.clone())
    .bind(entry.roles.clone())
    .bind(entry.scope_org_id)
    .bind(entry.action.clone())
    .bind(entry.object_type.clone())
    .bind(entry.object_id.clone())
    .bind(entry.result.clone())
    .bind(entry.request_id.clone())
    .bind(entry.detail.clone())
    .bind(entry.prev_hash.clone())
    .bind(entry.hash.clone())
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1")
        .bind(entry.hash)
        .execute(&mut *conn)
        .await?;
    Ok(seq)
}

/// Records an event that changes nothing else (a login, a denied request) in its own
/// transaction.
#[tracing::instrument(skip_all)]
pub async fn record(db: &Db, actor: &Actor, event: Event<'_>) -> StoreResult<()> {
    let mut tx: Transaction<'static, Any> = db.begin_write().await?;
    append(&mut tx, actor, event).await?;
    tx.commit().await?;
    Ok(())
}

/// The outcome of verifying the whole chain.
#[derive(Debug, PartialEq, Eq)]
pub enum Verification {
    /// Every entry links to the one before and matches its hash; the head agrees.
    Intact { entries: i64 },
    /// The first broken link.
    Broken(ChainBreak),
}

/// Walks the whole log in pages and reports the first broken link.
#[tracing::instrument(skip_all)]
pub async fn verify(db: &Db) -> StoreResult<Verification> {
    let mut seq = 0i64;
    let mut hash = GENESIS.to_string();
    loop {
        let rows: Vec<Row> =
            sqlx::query_as("SELECT * FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT 5000")
                .bind(seq)
                .fetch_all(db.pool())
                .await?;
        if rows.is_empty() {
            break;
        }
        let entries: Vec<AuditEntry> = rows.into_iter().map(Into::into).collect();
        match verify_run(seq, &hash, &entries) {
            Ok((s, h)) => {
                seq = s;
                hash = h;
            }
            Err(b) => return Ok(Verification::Broken(b)),
        }
    }
    let (head_seq, head_hash): (i64, String) =
        sqlx::query_as("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_one(db.pool())
            .await?;
    if head_seq != seq {
        return Ok(Verification::Broken(ChainBreak {
            seq: seq + 1,
            reason: "missing entry",
        }));
    }
    if head_hash != hash {
        return Ok(Verification::Broken(ChainBreak {
            seq,
            reason: "entry content altered",
        }));
    }
    Ok(Verification::Intact { entries: seq })
}

/// The hash of the newest entry (the genesis hash of an empty log), to keep elsewhere and
/// check later with [`contains_hash`].
#[tracing::instrument(skip_all)]
pub async fn newest_hash(db: &Db) -> StoreResult<String> {
    let h: Option<String> =
        sqlx::query_scalar("SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1")
            .fetch_optional(db.pool())
            .await?;
    Ok(h.unwrap_or_else(|| GENESIS.to_string()))
}

/// The sequence number of the entry with this hash (0 for the genesis hash), if the log
/// holds one: a head kept elsewhere that the log no longer holds means its tail was cut.
#[tracing::instrument(skip_all)]
pub async fn contains_hash(db: &Db, hash: &str) -> StoreResult<Option<i64>> {
    if hash == GENESIS {
        return Ok(Some(0));
    }
    Ok(
        sqlx::query_scalar("SELECT seq FROM audit_log WHERE hash = $1")
            .bind(hash.to_string())
            .fetch_optional(db.pool())
            .await?,
    )
}

/// The newest entries, newest first, before sequence `before` (exclusive) when given.
#[tracing::instrument(skip_all)]
pub async fn recent(db: &Db, before: Option<i64>, limit: i64) -> StoreResult<Vec<AuditEntry>> {
    let rows: Vec<Row> =
        sqlx::query_as("SELECT * FROM audit_log WHERE seq < $1 ORDER BY seq DESC LIMIT $2")
            .bind(before.unwrap_or(i64::MAX))
            .bind(limit.clamp(1, 500))
            .fetch_all(db.pool())
            .await?;
    Ok(rows.into_iter().map(Into::into).collect())
}
