//! Importing many records at once (the demo district, benchmarks, migrations from paper
//! ledgers): multi-row inserts in one transaction with one audit entry for the batch. The
//! caller validates the records and runs a full recompute afterwards.

use crate::audit::{self, Event};
use crate::sql::Rows;
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

/// Rows per INSERT statement.
const CHUNK: usize = 500;

/// Inserts `records` in one transaction; returns how many were written.
#[tracing::instrument(skip_all)]
pub async fn insert_bulk(db: &Db, actor: &Actor, records: &[BulkRecord]) -> StoreResult<u64> {
    if records.is_empty() {
        return Ok(0);
    }
    let mut tx = db.begin_write().await?;
    let mut written = 0;
    for chunk in records.chunks(CHUNK) {
        let mut rows = Rows::new(
            db.backend(),
            "INSERT INTO records (org_id, kind, occurred_on, fields, note, author_id, author_login, revision, withdrawn, \
             created_at, updated_at) VALUES ",
        );
        for r in chunk {
            rows.row()
                .value(r.org_id)
                .value(r.kind.clone())
                .value(r.occurred_on.clone())
                .value(r.fields.clone())
                .literal("''")
                .value(r.author_id)
                .value(r.author_login.clone())
                .literal("1")
                .literal("0")
                .value(r.created_at)
                .value(r.created_at);
        }
        let (text, args) = rows.build();
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
