//! Importing many records at once (the demo district, benchmarks, migrations from paper
//! ledgers): multi-row inserts in one transaction with one audit entry for the batch. The
//! caller validates the records and runs a full recompute afterwards.

use crate::audit::{self, Event};
use crate::{Backend, Db, StoreResult};
use sqlx::any::AnyArguments;
use sqlx::{Any, Arguments, Encode, Type};
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

/// A multi-row `INSERT … VALUES (…), (…)`. SQLite gets anonymous `?` placeholders: it looks
/// numbered ones up by a linear scan per parameter, which makes a statement with thousands of
/// `$N` quadratic. PostgreSQL gets `$N`.
pub(crate) struct Rows {
    text: String,
    args: AnyArguments,
    n: usize,
    numbered: bool,
    in_row: bool,
}

impl Rows {
    /// Starts `head` (ending in `VALUES `) for `backend`.
    pub(crate) fn new(backend: Backend, head: &str) -> Rows {
        Rows {
            text: head.to_string(),
            args: AnyArguments::default(),
            n: 0,
            numbered: backend == Backend::Postgres,
            in_row: false,
        }
    }

    /// Starts the next row.
    pub(crate) fn row(&mut self) -> &mut Self {
        if self.in_row {
            self.text.push_str("), (");
        } else {
            self.text.push('(');
            self.in_row = true;
        }
        self
    }

    /// Appends a bound value to the current row.
    pub(crate) fn value<T>(&mut self, v: T) -> &mut Self
    where
        T: for<'q> Encode<'q, Any> + Type<Any> + Send + 'static,
    {
        if !self.text.ends_with('(') {
            self.text.push_str(", ");
        }
        self.n += 1;
        if self.numbered {
            self.text.push('$');
            self.text.push_str(&self.n.to_string());
        } else {
            self.text.push('?');
        }
        // Encoding primitives into AnyArguments cannot fail.
        let _ = self.args.add(v);
        self
    }

    /// Appends fixed SQL (a literal) to the current row.
    pub(crate) fn literal(&mut self, sql: &'static str) -> &mut Self {
        if !self.text.ends_with('(') {
            self.text.push_str(", ");
        }
        self.text.push_str(sql);
        self
    }

    /// The statement and its arguments.
    pub(crate) fn build(self) -> (sqlx::AssertSqlSafe<String>, AnyArguments) {
        self.build_with("")
    }

    /// The statement with fixed SQL after the rows (an `ON CONFLICT …` clause).
    pub(crate) fn build_with(
        mut self,
        tail: &'static str,
    ) -> (sqlx::AssertSqlSafe<String>, AnyArguments) {
        if self.in_row {
            self.text.push(')');
        }
        self.text.push_str(tail);
        (sqlx::AssertSqlSafe(self.text), self.args)
    }
}

/// A statement with many bound values (long `IN` lists), numbered for PostgreSQL and
/// anonymous for SQLite, for the same reason as [`Rows`].
pub(crate) struct Stmt {
    text: String,
    args: AnyArguments,
    n: usize,
    numbered: bool,
}

impl Stmt {
    /// Starts a statement with text built from fixed pieces only (never from input).
    pub(crate) fn from_text(backend: Backend, text: String) -> Stmt {
        Stmt {
            text,
            args: AnyArguments::default(),
            n: 0,
            numbered: backend == Backend::Postgres,
        }
    }

    /// Appends fixed text.
    pub(crate) fn push(&mut self, text: &'static str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder bound to `v`.
    pub(crate) fn bind<T>(&mut self, v: T) -> &mut Self
    where
        T: for<'q> Encode<'q, Any> + Type<Any> + Send + 'static,
    {
        self.n += 1;
        if self.numbered {
            self.text.push('$');
            self.text.push_str(&self.n.to_string());
        } else {
            self.text.push('?');
        }
        let _ = self.args.add(v);
        self
    }

    /// Appends `(v1, v2, …)` for a non-empty list.
    pub(crate) fn list<T>(&mut self, values: impl IntoIterator<Item = T>) -> &mut Self
    where
        T: for<'q> Encode<'q, Any> + Type<Any> + Send + 'static,
    {
        self.push("(");
        for (i, v) in values.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.bind(v);
        }
        self.push(")")
    }

    /// The statement and its arguments.
    pub(crate) fn build(self) -> (sqlx::AssertSqlSafe<String>, AnyArguments) {
        (sqlx::AssertSqlSafe(self.text), self.args)
    }
}

/// Rows per INSERT statement.
const CHUNK: usize = 500;

/// Inserts `records` in one transaction; returns how many were written.
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
