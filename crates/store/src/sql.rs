//! Dynamic SQL with `$N` placeholders on both backends (sqlx's `QueryBuilder<Any>` emits
//! `?`, which PostgreSQL rejects). Only fixed fragments are pushed as text; every value is
//! bound.

use sqlx::any::AnyArguments;
use sqlx::{Any, Arguments, Encode, Type};

/// A statement under construction: fixed SQL text plus bound arguments.
#[derive(Default)]
pub struct Sql {
    text: String,
    args: AnyArguments,
    n: usize,
}

impl Sql {
    /// Starts a statement with fixed text.
    pub fn new(text: &'static str) -> Sql {
        Sql {
            text: text.to_string(),
            ..Sql::default()
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
        self.text.push('$');
        self.text.push_str(&self.n.to_string());
        // Encoding primitives into AnyArguments cannot fail.
        let _ = self.args.add(value);
        self
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
