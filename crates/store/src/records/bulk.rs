//! Importing many records at once (the demo district, benchmarks, migrations from paper
//! ledgers): multi-row inserts in one transaction with one audit entry for the batch. The
//! caller validates the records and runs a full recompute afterwards.

use crate::audit::{self, Event};
use crate::sql::Sql;
use crate::{Db, StoreResult};
use xiaoan_domain::audit::Actor;

/// One record to import, already validated; `fields` is its JSON text.
#[derive(Debug, Clone)]
pub struct BulkRecord {
    pub org_id: i64,
    pub kind: String,
    /// `YYYY-MM-DD`.
    pub occurred_on: String,
    pub fields: String,
    pub author_id: Option<i64>,
    pub author_login: String,
    pub created_at: i64,
}

/// Rows per INSERT statement: 9 values each stays well under both backends' bind limits.
const CHUNK: usize = 400;

/// Inserts `records` in one transaction; returns how many were written.
pub async fn insert_bulk(db: &Db, actor: &Actor, records: &[BulkRecord]) -> StoreResult<u64> {
    if records.is_empty() {
        return Ok(0);
    }
    let mut tx = db.begin_write().await?;
    let mut written = 0;
    for chunk in records.chunks(CHUNK) {
        let mut sql = Sql::new(
            "INSERT INTO records (org_id, kind, occurred_on, fields, note, author_id, author_login, revision, withdrawn, \
             created_at, updated_at) VALUES ",
        );
        for (i, r) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.push("(")
                .bind(r.org_id)
                .push(", ")
                .bind(r.kind.clone())
                .push(", ")
                .bind(r.occurred_on.clone())
                .push(", ")
                .bind(r.fields.clone())
                .push(", '', ")
                .bind(r.author_id)
                .push(", ")
                .bind(r.author_login.clone())
                .push(", 1, 0, ")
                .bind(r.created_at)
                .push(", ")
                .bind(r.created_at)
                .push(")");
        }
        let (text, args) = sql.build();
        written += sqlx::query_with(text, args)
            .execute(&mut *tx)
            .await?
            .rows_affected();
    }
    let detail = serde_json::json!({"records": written});
    audit::append(
        &mut tx,
        actor,
        Event::ok("record.import", "record", "batch", detail),
    )
    .await?;
    tx.commit().await?;
    Ok(written)
}
