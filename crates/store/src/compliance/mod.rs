//! Compliance measures: what each bucket of records adds up to, per plan version, org and
//! obligation. They are kept current incrementally ([`refresh`], inside the transaction
//! that writes a record) and rebuilt on demand ([`recompute`]). Statuses are never stored:
//! they are computed by the domain from the measures, the calendar and today's date when
//! read, so periods roll over (due → overdue → missed) without any job.
//!
//! Concurrency: on SQLite write transactions are exclusive. On PostgreSQL a refresh first
//! takes `ROW EXCLUSIVE` on `compliance_measures` and a recompute `EXCLUSIVE`, so a
//! refresh never computes from records read before a concurrent recompute committed.

mod matrix;
mod read;
mod recompute;

pub use matrix::{
    Matrix, MatrixQuery, MatrixRow, count, evaluate_orgs, matrix, matrix_counted, status_counts,
};
pub use recompute::{RecomputeStats, recompute};

use crate::StoreResult;
use crate::orgs::Org;
use crate::plans::StoredPlan;
use chrono::NaiveDate;
use sqlx::AnyConnection;
use std::collections::HashSet;
use xiaoan_domain::calendar::SchoolCalendar;
use xiaoan_domain::compliance::{
    Evidence, Measure, applies, bucket_of, measure, needs_fields, target,
};
use xiaoan_domain::now_millis;

fn is_postgres(conn: &AnyConnection) -> bool {
    conn.backend_name().eq_ignore_ascii_case("postgresql")
}

/// Reads the evidence of one org and kind between two days (withdrawn records excluded).
async fn evidence(
    conn: &mut AnyConnection,
    org_id: i64,
    kind: &str,
    from: NaiveDate,
    to: NaiveDate,
    with_fields: bool,
) -> StoreResult<Vec<Evidence>> {
    let text = if with_fields {
        "SELECT occurred_on, fields FROM records WHERE kind = $1 AND org_id = $2 AND withdrawn = 0 \
         AND occurred_on >= $3 AND occurred_on <= $4"
    } else {
        "SELECT occurred_on, '' FROM records WHERE kind = $1 AND org_id = $2 AND withdrawn = 0 \
         AND occurred_on >= $3 AND occurred_on <= $4"
    };
    let rows: Vec<(String, String)> = sqlx::query_as(sqlx::AssertSqlSafe(text))
        .bind(kind.to_string())
        .bind(org_id)
        .bind(from.to_string())
        .bind(to.to_string())
        .fetch_all(&mut *conn)
        .await?;
    rows.into_iter()
        .map(|(d, f)| {
            Ok(Evidence {
                day: crate::records::parse_day(&d)?,
                fields: if with_fields {
                    serde_json::from_str(&f).unwrap_or_default()
                } else {
                    serde_json::Value::Null
                },
            })
        })
        .collect()
}

/// Writes one bucket's measure (removing the row when nothing counts any more).
async fn write_measure(
    conn: &mut AnyConnection,
    plan_id: i64,
    org_id: i64,
    obligation: &str,
    bucket: &str,
    m: &Measure,
) -> StoreResult<()> {
    if m.measured == 0.0 && m.mask == 0 && m.dates.is_empty() {
        sqlx::query(
            "DELETE FROM compliance_measures WHERE plan_id = $1 AND org_id = $2 AND obligation = $3 AND bucket = $4",
        )
        .bind(plan_id)
        .bind(org_id)
        .bind(obligation.to_string())
        .bind(bucket.to_string())
        .execute(&mut *conn)
        .await?;
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO compliance_measures (plan_id, org_id, obligation, bucket, measured, target, met_on, mask, dates, \
         updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         ON CONFLICT (plan_id, obligation, org_id, bucket) DO UPDATE SET measured = excluded.measured, \
         target = excluded.target, met_on = excluded.met_on, mask = excluded.mask, dates = excluded.dates, \
         updated_at = excluded.updated_at",
    )
    .bind(plan_id)
    .bind(org_id)
    .bind(obligation.to_string())
    .bind(bucket.to_string())
    .bind(m.measured)
    .bind(m.target)
    .bind(m.met_on.map(|d| d.to_string()))
    .bind(m.mask)
    .bind(dates_text(&m.dates))
    .bind(now_millis())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(crate) fn dates_text(dates: &[NaiveDate]) -> String {
    dates
        .iter()
        .map(NaiveDate::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// Recomputes, inside the caller's transaction, the measures a record of `kind` at `org`
/// dated on any of `days` affects.
#[tracing::instrument(skip_all)]
pub async fn refresh(
    conn: &mut AnyConnection,
    plan: &StoredPlan,
    calendar: &SchoolCalendar,
    org: &Org,
    kind: &str,
    days: &[NaiveDate],
) -> StoreResult<()> {
    let p = &plan.plan;
    let campaign = (p.starts_on, p.ends_on);
    let affected: Vec<_> = p
        .obligations
        .iter()
        .filter(|o| o.record == kind && applies(o, org.kind, org.school.as_ref()))
        .collect();
    if affected.is_empty() {
        return Ok(());
    }
    if is_postgres(conn) {
        sqlx::query("LOCK TABLE compliance_measures IN ROW EXCLUSIVE MODE")
            .execute(&mut *conn)
            .await?;
    }
    for ob in affected {
        let t = target(ob, org.school.as_ref());
        let mut seen = HashSet::new();
        for d in days {
            let Some((key, from, to)) = bucket_of(ob, campaign, calendar, *d) else {
                continue;
            };
            if !seen.insert(key.clone()) {
                continue;
            }
            let ev = evidence(conn, org.id, kind, from, to, needs_fields(ob)).await?;
            let m = measure(ob, t, &ev);
            write_measure(conn, plan.id, org.id, &ob.id, &key, &m).await?;
        }
    }
    Ok(())
}
