//! How a hazard list's text query (`q`) is answered: on SQLite through the FTS5 trigram
//! index `hazard_search` (migration 0008), on PostgreSQL through `ILIKE` served by pg_trgm
//! indexes. Either way a hazard matches when its number, title, location or description
//! contains the query as typed, ignoring case.

use crate::sql::Sql;
use crate::{Backend, Db, StoreResult};

/// A one- or two-character query looks up the indexed trigrams it begins; past this many
/// the search falls back to reading every row (a single common character).
const MAX_SHORT_TERMS: usize = 500;

/// A short query is first tried on this many of the newest hazards ...
const PROBE_ROWS: i64 = 2000;
/// ... and counts as common when at least one in this many of them contains it. Then a
/// newest-first walk fills a page within a few rows of every match, where looking its
/// trigrams up would read their long lists of hazards (fts5vocab counts each list) first.
const COMMON_ONE_IN: i64 = 40;

/// The columns a query searches.
const COLUMNS: [&str; 4] = ["h.number", "h.title", "h.location", "h.description"];

/// A text query, resolved against the backend's index.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Search {
    /// No text query: every hazard.
    Any,
    /// No hazard can match (a short query that begins no indexed trigram).
    Nothing,
    /// `LIKE` / `ILIKE` on the columns.
    Like(String),
    /// An FTS5 query over `hazard_search`.
    Match(String),
}

impl Search {
    /// Resolves `q` (trimmed; control characters dropped, as no stored text holds them).
    #[tracing::instrument(skip_all)]
    pub(super) async fn resolve(db: &Db, q: Option<&str>) -> StoreResult<Search> {
        let q: String = q
            .unwrap_or_default()
            .chars()
            .filter(|c| !c.is_control())
            .collect::<String>()
            .trim()
            .to_string();
        if q.is_empty() {
            return Ok(Search::Any);
        }
        if db.backend() == Backend::Postgres {
            return Ok(Search::Like(q));
        }
        if q.chars().count() >= 3 {
            // A quoted string is one phrase: its trigrams, in order, in one column.
            return Ok(Search::Match(quoted(&q)));
        }
        // Shorter than a trigram: every occurrence begins some stored trigram (the values
        // end in two U+0001), so the hazards that contain `q` are those holding a trigram
        // that begins with it. The index folds case as lowercase; so does the lookup.
        if is_common(db, &q).await? {
            return Ok(Search::Like(q));
        }
        let folded = q.to_lowercase();
        let terms: Vec<(String,)> = sqlx::query_as(
            "SELECT term FROM hazard_search_terms WHERE term >= ? AND term < ? LIMIT ?",
        )
        .bind(folded.clone())
        .bind(format!("{folded}\u{10FFFF}"))
        .bind(MAX_SHORT_TERMS as i64 + 1)
        .fetch_all(db.pool())
        .await?;
        Ok(match terms.len() {
            0 => Search::Nothing,
            n if n > MAX_SHORT_TERMS => Search::Like(q),
            _ => Search::Match(
                terms
                    .iter()
                    .map(|(t,)| quoted(t))
                    .collect::<Vec<_>>()
                    .join(" OR "),
            ),
        })
    }

    /// Whether a list may be driven by the index (newest first, straight from FTS5's own
    /// order), rather than testing each hazard against it.
    pub(super) fn drives(&self) -> bool {
        matches!(self, Search::Match(_))
    }

    /// Appends ` AND <condition>` for this search. `driven`: the statement already joins
    /// `hazard_search` (see [`Search::drives`]), so the condition is the `MATCH` itself.
    pub(super) fn push(&self, sql: &mut Sql, driven: bool) {
        match self {
            Search::Any => {}
            Search::Nothing => {
                sql.push(" AND (1 = 0)");
            }
            Search::Like(q) => {
                sql.push(" AND ").contains(&COLUMNS, q);
            }
            Search::Match(expr) if driven => {
                sql.push(" AND hazard_search MATCH ").bind(expr.clone());
            }
            Search::Match(expr) => {
                sql.push(
                    " AND h.id IN (SELECT rowid FROM hazard_search WHERE hazard_search MATCH ",
                )
                .bind(expr.clone())
                .push(")");
            }
        }
    }
}

/// Whether at least one in [`COMMON_ONE_IN`] of the newest [`PROBE_ROWS`] hazards contains
/// `q` (one bounded read of their text).
async fn is_common(db: &Db, q: &str) -> StoreResult<bool> {
    let mut sql = Sql::new(db.backend(), "SELECT COUNT(*), COALESCE(SUM(CASE WHEN ");
    sql.contains(&COLUMNS, q)
        .push(" THEN 1 ELSE 0 END), 0) FROM (SELECT number, title, location, description FROM hazards ORDER BY id DESC LIMIT ")
        .bind(PROBE_ROWS)
        .push(") h");
    let (text, args) = sql.build();
    let (rows, hits): (i64, i64) = sqlx::query_as_with(text, args).fetch_one(db.pool()).await?;
    Ok(hits > 0 && hits * COMMON_ONE_IN >= rows)
}

/// `text` as one FTS5 string (inner `"` doubled).
fn quoted(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::quoted;

    #[test]
    fn quotes_are_doubled_inside_one_string() {
        assert_eq!(quoted(r#"a"b"#), r#""a""b""#);
        assert_eq!(quoted("教室 OR x"), "\"教室 OR x\"");
    }
}
