//! Dynamic SQL: the one statement builder of the store. Only fixed fragments are pushed as
//! text; every value is bound.
//!
//! Placeholders follow the backend: anonymous `?` on SQLite, `$N` on PostgreSQL. sqlx's
//! `QueryBuilder<Any>` always emits `?`, which PostgreSQL rejects; and SQLite looks numbered
//! `$N` parameters up by a linear scan per parameter, which makes a statement with thousands
//! of them quadratic. Statements written by hand as literals keep `$N`, which both accept.

use crate::Backend;
use sqlx::any::AnyArguments;
use sqlx::{Any, Arguments, Encode, Type};
use xiaoan_domain::code::Code;

/// A statement under construction: fixed SQL text plus bound arguments.
pub struct Sql {
    text: String,
    args: AnyArguments,
    n: usize,
    numbered: bool,
}

impl Sql {
    /// Starts a statement for `backend` with fixed text.
    pub fn new(backend: Backend, text: &'static str) -> Sql {
        Sql::from_text(backend, text.to_string())
    }

    /// Starts a statement with text assembled from fixed pieces only (never from input), for
    /// heads that differ by backend.
    pub fn from_text(backend: Backend, text: String) -> Sql {
        Sql {
            text,
            args: AnyArguments::default(),
            n: 0,
            numbered: backend == Backend::Postgres,
        }
    }

    /// Appends fixed text.
    pub fn push(&mut self, text: &'static str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder bound to `value`.
    pub fn bind<T>(&mut self, value: T) -> &mut Self
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
        // Encoding primitives into AnyArguments cannot fail.
        let _ = self.args.add(value);
        self
    }

    /// Appends `(v1, v2, …)` with every value bound, for `IN` lists. An empty list appends
    /// `(NULL)`, which `IN` never matches (callers do not use it after `NOT IN`).
    pub fn list<T>(&mut self, values: impl IntoIterator<Item = T>) -> &mut Self
    where
        T: for<'q> Encode<'q, Any> + Type<Any> + Send + 'static,
    {
        self.push("(");
        let mut empty = true;
        for v in values {
            if !empty {
                self.push(", ");
            }
            self.bind(v);
            empty = false;
        }
        if empty {
            self.push("NULL");
        }
        self.push(")")
    }

    /// Appends `(code1, code2, …)` for a set of domain values, bound by their codes.
    pub fn codes<T: Code>(&mut self, values: &[T]) -> &mut Self {
        self.list(values.iter().map(|v| v.code().to_string()))
    }

    /// Appends `(path LIKE $a OR path LIKE $b …)` for the scope's subtrees; `FALSE` when the
    /// scope is empty. `column` must be a fixed column name.
    pub fn scope(&mut self, column: &'static str, scope: &xiaoan_domain::Scope) -> &mut Self {
        if scope.is_empty() {
            return self.push("(1 = 0)");
        }
        self.push("(");
        for (i, root) in scope.roots().iter().enumerate() {
            if i > 0 {
                self.push(" OR ");
            }
            self.push(column).push(" LIKE ").bind(format!("{root}%"));
        }
        self.push(")")
    }

    /// Appends `(c1 LIKE $p ESCAPE '\' OR c2 LIKE $p ESCAPE '\' …)` (`ILIKE` on PostgreSQL): every
    /// row where one of `columns` contains `q` as typed, ignoring case. `\`, `%` and `_` in
    /// `q` are escaped, so they match themselves and never act as wildcards; the same on both
    /// backends. `columns` must be fixed column names.
    pub fn contains(&mut self, columns: &[&'static str], q: &str) -> &mut Self {
        let mut pattern = String::with_capacity(q.len() + 2);
        pattern.push('%');
        for c in q.to_lowercase().chars() {
            if matches!(c, '\\' | '%' | '_') {
                pattern.push('\\');
            }
            pattern.push(c);
        }
        pattern.push('%');
        if columns.is_empty() {
            return self.push("(1 = 0)");
        }
        self.push("(");
        for (i, column) in columns.iter().enumerate() {
            if i > 0 {
                self.push(" OR ");
            }
            // SQLite's LIKE already ignores ASCII case (as far as its LOWER() folds), and
            // PostgreSQL's ILIKE folds like LOWER(): no function call per row on either.
            let like = if self.numbered { " ILIKE " } else { " LIKE " };
            self.push(column)
                .push(like)
                .bind(pattern.clone())
                .push(" ESCAPE '\\'");
        }
        self.push(")")
    }

    /// Appends `id_column IN (SELECT id FROM orgs WHERE <scope>)`: for aggregates over many
    /// rows, where testing each row's org path through a join would cost more than one pass
    /// over the org tree. `id_column` must be a fixed column name.
    pub fn scope_ids(
        &mut self,
        id_column: &'static str,
        scope: &xiaoan_domain::Scope,
    ) -> &mut Self {
        self.push(id_column)
            .push(" IN (SELECT id FROM orgs WHERE ")
            .scope("path", scope)
            .push(")")
    }

    /// The finished text and arguments.
    pub fn build(self) -> (sqlx::AssertSqlSafe<String>, AnyArguments) {
        (sqlx::AssertSqlSafe(self.text), self.args)
    }
}

/// A multi-row `INSERT … VALUES (…), (…)` built on [`Sql`].
pub struct Rows {
    sql: Sql,
    in_row: bool,
    row_empty: bool,
}

impl Rows {
    /// Starts `head` (ending in `VALUES `) for `backend`.
    pub fn new(backend: Backend, head: &'static str) -> Rows {
        Rows {
            sql: Sql::new(backend, head),
            in_row: false,
            row_empty: true,
        }
    }

    /// Starts the next row.
    pub fn row(&mut self) -> &mut Self {
        self.sql.push(if self.in_row { "), (" } else { "(" });
        self.in_row = true;
        self.row_empty = true;
        self
    }

    fn comma(&mut self) {
        if !self.row_empty {
            self.sql.push(", ");
        }
        self.row_empty = false;
    }

    /// Appends a bound value to the current row.
    pub fn value<T>(&mut self, v: T) -> &mut Self
    where
        T: for<'q> Encode<'q, Any> + Type<Any> + Send + 'static,
    {
        self.comma();
        self.sql.bind(v);
        self
    }

    /// Appends fixed SQL (a literal) to the current row.
    pub fn literal(&mut self, sql: &'static str) -> &mut Self {
        self.comma();
        self.sql.push(sql);
        self
    }

    /// The statement and its arguments.
    pub fn build(self) -> (sqlx::AssertSqlSafe<String>, AnyArguments) {
        self.build_with("")
    }

    /// The statement with fixed SQL after the rows (an `ON CONFLICT …` clause).
    pub fn build_with(mut self, tail: &'static str) -> (sqlx::AssertSqlSafe<String>, AnyArguments) {
        if self.in_row {
            self.sql.push(")");
        }
        self.sql.push(tail);
        self.sql.build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xiaoan_domain::hazard::Status;

    fn text(sql: Sql) -> String {
        sql.build().0.0
    }

    #[test]
    fn placeholders_follow_the_backend() {
        for (backend, want) in [
            (
                Backend::Sqlite,
                "SELECT 1 WHERE a = ? AND b IN (?, ?) AND c IN (NULL)",
            ),
            (
                Backend::Postgres,
                "SELECT 1 WHERE a = $1 AND b IN ($2, $3) AND c IN (NULL)",
            ),
        ] {
            let mut sql = Sql::new(backend, "SELECT 1 WHERE a = ");
            sql.bind(1_i64)
                .push(" AND b IN ")
                .codes(&Status::DONE)
                .push(" AND c IN ")
                .list(Vec::<i64>::new());
            assert_eq!(text(sql), want);
        }
    }

    #[test]
    fn rows_separate_values_and_rows() {
        let mut rows = Rows::new(Backend::Postgres, "INSERT INTO t (a, b, c) VALUES ");
        rows.row().value(1_i64).literal("0").value(2_i64);
        rows.row().literal("''").value(3_i64).value(4_i64);
        assert_eq!(
            rows.build_with(" ON CONFLICT DO NOTHING").0.0,
            "INSERT INTO t (a, b, c) VALUES ($1, 0, $2), ('', $3, $4) ON CONFLICT DO NOTHING"
        );
    }
}
