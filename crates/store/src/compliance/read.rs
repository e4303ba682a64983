//! Reading what a recompute needs, one row per org: the records of a range of orgs are
//! aggregated in SQL into one text per org (`group_concat` on SQLite, `string_agg` on
//! PostgreSQL), because moving rows one by one through the driver costs more than the
//! database's own work. Separators are control characters that stored JSON never contains
//! unescaped (US, 0x1f, between parts; RS, 0x1e, between entries).

use crate::sql::Sql;
use crate::{Backend, StoreError, StoreResult};
use chrono::NaiveDate;
use sqlx::AnyConnection;
use xiaoan_domain::compliance::Measure;
use xiaoan_domain::plan::Obligation;

/// Between the parts of an entry.
pub(super) const US: char = '\u{1f}';
/// Between entries.
pub(super) const RS: char = '\u{1e}';

/// `group_concat(expr, sep)` or `string_agg(expr, sep)`, for fixed SQL only.
fn agg(backend: Backend, expr: &str, sep: u8) -> String {
    match backend {
        Backend::Sqlite => format!("group_concat({expr}, char({sep}))"),
        Backend::Postgres => format!("string_agg({expr}, chr({sep}))"),
    }
}

fn us(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "char(31)",
        Backend::Postgres => "chr(31)",
    }
}

/// Appends the filter of one kind's live records between two days for orgs `lo..=hi`.
fn records_filter(
    sql: &mut Sql,
    kind: &str,
    (from, to): (NaiveDate, NaiveDate),
    (lo, hi): (i64, i64),
) {
    sql.push(" FROM records WHERE kind = ")
        .bind(kind.to_string())
        .push(" AND withdrawn = 0 AND occurred_on >= ")
        .bind(from.to_string())
        .push(" AND occurred_on <= ")
        .bind(to.to_string())
        .push(" AND org_id >= ")
        .bind(lo)
        .push(" AND org_id <= ")
        .bind(hi);
}

/// Appends the obligation's numeric conditions (min/max on a field) as SQL. Field names
/// are plan ids and are bound, never spliced into the text.
fn numeric_conditions(sql: &mut Sql, backend: Backend, ob: &Obligation) {
    for c in &ob.conditions {
        for (bound, op) in [(c.min, " >= "), (c.max, " <= ")] {
            let Some(v) = bound else { continue };
            match backend {
                Backend::Postgres => {
                    sql.push(" AND CAST((CAST(fields AS JSONB) ->> ")
                        .bind(c.field.clone());
                    sql.push(") AS DOUBLE PRECISION)");
                }
                Backend::Sqlite => {
                    sql.push(" AND CAST(json_extract(fields, ")
                        .bind(format!("$.\"{}\"", c.field));
                    sql.push(") AS REAL)");
                }
            }
            sql.push(op).bind(v);
        }
    }
}

async fn per_org(conn: &mut AnyConnection, sql: Sql) -> StoreResult<Vec<(i64, String)>> {
    let (text, args) = sql.build();
    Ok(sqlx::query_as_with(text, args)
        .fetch_all(&mut *conn)
        .await?)
}

/// Daily duties whose conditions are numeric: per org, `month=mask` entries, bit `d - 1` of
/// a month's mask set when day `d` has at least `min` qualifying records.
pub(super) async fn day_masks(
    conn: &mut AnyConnection,
    backend: Backend,
    ob: &Obligation,
    window: (NaiveDate, NaiveDate),
    orgs: (i64, i64),
    min: i64,
) -> StoreResult<Vec<(i64, Vec<(String, i64)>)>> {
    let head = format!(
        "SELECT org_id, {} FROM (SELECT org_id, month, CAST(SUM(bit) AS BIGINT) AS mask FROM (SELECT org_id, \
         SUBSTR(occurred_on, 1, 7) AS month, CAST(1 AS BIGINT) << (CAST(SUBSTR(occurred_on, 9, 2) AS INTEGER) - 1) AS bit",
        agg(
            backend,
            &format!("month || {} || CAST(mask AS TEXT)", us(backend)),
            30
        )
    );
    let mut sql = Sql::from_text(backend, head);
    records_filter(&mut sql, &ob.record, window, orgs);
    numeric_conditions(&mut sql, backend, ob);
    sql.push(" GROUP BY org_id, occurred_on HAVING COUNT(*) >= ")
        .bind(min)
        .push(") d GROUP BY org_id, month) m GROUP BY org_id");
    per_org(conn, sql)
        .await?
        .into_iter()
        .map(|(org, text)| {
            let entries = text
                .split(RS)
                .filter_map(|e| e.split_once(US))
                .map(|(month, mask)| {
                    mask.parse::<i64>()
                        .map(|m| (month.to_string(), m))
                        .map_err(|_| StoreError::Internal(format!("bad day mask {mask:?}")))
                })
                .collect::<StoreResult<Vec<_>>>()?;
            Ok((org, entries))
        })
        .collect()
}

/// Per org, its days with a record and how many: `day=count` entries (for obligations that
/// only count records).
pub(super) async fn day_counts(
    conn: &mut AnyConnection,
    backend: Backend,
    ob: &Obligation,
    window: (NaiveDate, NaiveDate),
    orgs: (i64, i64),
) -> StoreResult<Vec<(i64, Vec<(NaiveDate, u32)>)>> {
    let head = format!(
        "SELECT org_id, {} FROM (SELECT org_id, occurred_on, COUNT(*) AS n",
        agg(
            backend,
            &format!("occurred_on || {} || CAST(n AS TEXT)", us(backend)),
            30
        )
    );
    let mut sql = Sql::from_text(backend, head);
    records_filter(&mut sql, &ob.record, window, orgs);
    sql.push(" GROUP BY org_id, occurred_on) d GROUP BY org_id");
    per_org(conn, sql)
        .await?
        .into_iter()
        .map(|(org, text)| {
            let days = text
                .split(RS)
                .filter_map(|e| e.split_once(US))
                .map(
                    |(day, n)| match (day.parse::<NaiveDate>(), n.parse::<u32>()) {
                        (Ok(d), Ok(n)) => Ok((d, n)),
                        _ => Err(StoreError::Internal(format!("bad day count {day:?}"))),
                    },
                )
                .collect::<StoreResult<Vec<_>>>()?;
            Ok((org, days))
        })
        .collect()
}

/// Per org, its records' days and fields (for obligations with conditions, sums or coverage).
pub(super) async fn day_fields(
    conn: &mut AnyConnection,
    backend: Backend,
    ob: &Obligation,
    window: (NaiveDate, NaiveDate),
    orgs: (i64, i64),
) -> StoreResult<Vec<(i64, Vec<(NaiveDate, serde_json::Value)>)>> {
    let head = format!(
        "SELECT org_id, {}",
        agg(
            backend,
            &format!("occurred_on || {} || fields", us(backend)),
            30
        )
    );
    let mut sql = Sql::from_text(backend, head);
    records_filter(&mut sql, &ob.record, window, orgs);
    sql.push(" GROUP BY org_id");
    per_org(conn, sql)
        .await?
        .into_iter()
        .map(|(org, text)| {
            let records = text
                .split(RS)
                .filter_map(|e| e.split_once(US))
                .map(|(day, fields)| {
                    let d = day
                        .parse::<NaiveDate>()
                        .map_err(|_| StoreError::Internal(format!("bad record day {day:?}")))?;
                    Ok((d, serde_json::from_str(fields).unwrap_or_default()))
                })
                .collect::<StoreResult<Vec<_>>>()?;
            Ok((org, records))
        })
        .collect()
}

/// The parts of a measure as [`measure_entry`] writes them, read back.
fn parse_measure(p: &[&str]) -> StoreResult<Measure> {
    let bad = |what: &str| StoreError::Internal(format!("bad stored measure {what:?}"));
    let [measured, target, met_on, mask, dates] = p else {
        return Err(bad(&p.join("|")));
    };
    let day = |s: &str| s.parse::<NaiveDate>().map_err(|_| bad(s));
    Ok(Measure {
        measured: measured.parse().map_err(|_| bad(measured))?,
        target: target.parse().map_err(|_| bad(target))?,
        met_on: if met_on.is_empty() {
            None
        } else {
            Some(day(met_on)?)
        },
        mask: mask.parse().map_err(|_| bad(mask))?,
        dates: dates
            .split(',')
            .filter(|s| !s.is_empty())
            .map(day)
            .collect::<StoreResult<_>>()?,
    })
}

/// A measure's columns as one text, parts separated by US.
fn measure_entry(backend: Backend) -> String {
    let u = us(backend);
    format!(
        "CAST(measured AS TEXT) || {u} || CAST(target AS TEXT) || {u} || COALESCE(met_on, '') || {u} \
         || CAST(mask AS TEXT) || {u} || dates"
    )
}

/// Per org, the stored measures of one obligation, with their buckets.
pub(super) async fn stored_measures(
    conn: &mut AnyConnection,
    backend: Backend,
    plan_id: i64,
    obligation: &str,
    (lo, hi): (i64, i64),
) -> StoreResult<Vec<(i64, String, Measure)>> {
    let entry = format!("bucket || {} || {}", us(backend), measure_entry(backend));
    let head = format!(
        "SELECT org_id, {} FROM compliance_measures WHERE plan_id = ",
        agg(backend, &entry, 30)
    );
    let mut sql = Sql::from_text(backend, head);
    sql.bind(plan_id)
        .push(" AND obligation = ")
        .bind(obligation.to_string())
        .push(" AND org_id >= ")
        .bind(lo)
        .push(" AND org_id <= ")
        .bind(hi)
        .push(" GROUP BY org_id");
    let mut out = Vec::new();
    for (org, text) in per_org(conn, sql).await? {
        for e in text.split(RS) {
            let p: Vec<&str> = e.split(US).collect();
            let Some((bucket, rest)) = p.split_first() else {
                continue;
            };
            out.push((org, bucket.to_string(), parse_measure(rest)?));
        }
    }
    Ok(out)
}

/// The stored measures of `plan_id` for `org_ids` in `buckets`, as (org, obligation,
/// bucket, measure); one aggregated row per org.
pub(super) async fn org_measures(
    db: &crate::Db,
    plan_id: i64,
    org_ids: &[i64],
    buckets: &[String],
) -> StoreResult<Vec<(i64, String, String, Measure)>> {
    if org_ids.is_empty() || buckets.is_empty() {
        return Ok(vec![]);
    }
    let backend = db.backend();
    let u = us(backend);
    let entry = format!(
        "obligation || {u} || bucket || {u} || {}",
        measure_entry(backend)
    );
    // Without statistics SQLite may walk the whole plan by its primary key when few orgs
    // are asked for; the org index is always the right one here.
    let hint = match backend {
        Backend::Sqlite => " INDEXED BY compliance_measures_org",
        Backend::Postgres => "",
    };
    let head = format!(
        "SELECT org_id, {} FROM compliance_measures{hint} WHERE plan_id = ",
        agg(backend, &entry, 30)
    );
    let (lo, hi) = (
        org_ids.iter().copied().min().unwrap_or(0),
        org_ids.iter().copied().max().unwrap_or(0),
    );
    let mut sql = Sql::from_text(backend, head);
    // The range lets PostgreSQL's planner see how few rows the lists select.
    sql.bind(plan_id)
        .push(" AND org_id >= ")
        .bind(lo)
        .push(" AND org_id <= ")
        .bind(hi)
        .push(" AND org_id IN ")
        .list(org_ids.iter().copied())
        .push(" AND bucket IN ")
        .list(buckets.iter().cloned())
        .push(" GROUP BY org_id");
    let (text, args) = sql.build();
    let rows: Vec<(i64, String)> = sqlx::query_as_with(text, args).fetch_all(db.pool()).await?;
    let mut out = Vec::new();
    for (org, text) in rows {
        for e in text.split(RS) {
            let p: Vec<&str> = e.split(US).collect();
            if p.len() < 2 {
                continue;
            }
            out.push((
                org,
                p[0].to_string(),
                p[1].to_string(),
                parse_measure(&p[2..])?,
            ));
        }
    }
    Ok(out)
}
