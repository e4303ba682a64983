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
use crate::orgs::{self, Org};
use crate::plans::StoredPlan;
use chrono::NaiveDate;
use sqlx::AnyConnection;
use std::collections::{HashMap, HashSet};
use xiaoan_domain::calendar::SchoolCalendar;
use xiaoan_domain::compliance::{
    Bucket, Evidence, Measure, Subject, evidence_window, measure, needs_fields, period_field, place,
};
use xiaoan_domain::plan::Obligation;
use xiaoan_domain::{FactsHistory, now_millis};

fn is_postgres(conn: &AnyConnection) -> bool {
    conn.backend_name().eq_ignore_ascii_case("postgresql")
}

/// The widest span of record dates: records that name their period are read whatever day
/// they are dated.
const ANY_DAY: (&str, &str) = ("0000-01-01", "9999-12-31");

/// Reads the evidence of one org and kind between two days (withdrawn records excluded).
async fn evidence(
    conn: &mut AnyConnection,
    org_id: i64,
    kind: &str,
    from: &str,
    to: &str,
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

/// The subject of `org`: its kind and, for a school, its facts over time (read inside the
/// caller's transaction).
async fn subject_history(conn: &mut AnyConnection, org: &Org) -> StoreResult<Option<FactsHistory>> {
    if org.school.is_none() {
        return Ok(None);
    }
    let backend = orgs::backend_of(conn);
    let map = orgs::histories(conn, backend, Some(&[org.id])).await?;
    Ok(orgs::history_of(org, &map))
}

/// Whether records of `ob` need their fields read: for conditions, sums and coverage, and
/// when they name their period.
pub(crate) fn with_fields(ob: &Obligation, period_field: Option<&str>) -> bool {
    needs_fields(ob) || period_field.is_some()
}

/// Recomputes, inside the caller's transaction, the measures that the records `touched`
/// (the versions of one record before and after a write, or a new one) of `kind` at `org`
/// count in: by the period they name when their kind has a period field, else by their day.
#[tracing::instrument(skip_all)]
pub async fn refresh(
    conn: &mut AnyConnection,
    plan: &StoredPlan,
    calendar: &SchoolCalendar,
    org: &Org,
    kind: &str,
    touched: &[Evidence],
) -> StoreResult<()> {
    let p = &plan.plan;
    let campaign = (p.starts_on, p.ends_on);
    let history = subject_history(conn, org).await?;
    let subject = Subject::new(org.kind, history.as_ref());
    let affected: Vec<_> = p
        .obligations
        .iter()
        .filter(|o| o.record == kind && subject.applies_ever(o))
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
        let field = period_field(p, ob);
        let mut seen = HashSet::new();
        for e in touched {
            let Some(b) = place(ob, field.as_deref(), campaign, calendar, e) else {
                continue;
            };
            if !seen.insert(b.key.clone()) {
                continue;
            }
            let ev = match &field {
                Some(_) => evidence(conn, org.id, kind, ANY_DAY.0, ANY_DAY.1, true)
                    .await?
                    .into_iter()
                    .filter(|r| {
                        place(ob, field.as_deref(), campaign, calendar, r)
                            .is_some_and(|x| x.key == b.key)
                    })
                    .collect(),
                None => {
                    let (from, to) = (b.start.to_string(), b.end.to_string());
                    evidence(conn, org.id, kind, &from, &to, needs_fields(ob)).await?
                }
            };
            let m = measure(ob, subject.target_on(ob, b.facts_day), &ev);
            write_measure(conn, plan.id, org.id, &ob.id, &b.key, &m).await?;
        }
    }
    Ok(())
}

/// Rebuilds, inside the caller's transaction, every measure of `org` under `plan` from its
/// records, with its facts over time (`history`): after a change of a school's facts, what
/// applies and the targets of the buckets falling due from the change on are new.
pub async fn refresh_org(
    conn: &mut AnyConnection,
    plan: &StoredPlan,
    calendar: &SchoolCalendar,
    org: &Org,
    history: Option<&FactsHistory>,
) -> StoreResult<()> {
    let p = &plan.plan;
    let campaign = (p.starts_on, p.ends_on);
    let subject = Subject::new(org.kind, history);
    if is_postgres(conn) {
        sqlx::query("LOCK TABLE compliance_measures IN ROW EXCLUSIVE MODE")
            .execute(&mut *conn)
            .await?;
    }
    sqlx::query("DELETE FROM compliance_measures WHERE plan_id = $1 AND org_id = $2")
        .bind(plan.id)
        .bind(org.id)
        .execute(&mut *conn)
        .await?;
    for ob in p.obligations.iter().filter(|o| subject.applies_ever(o)) {
        let field = period_field(p, ob);
        let (from, to) = match &field {
            Some(_) => (ANY_DAY.0.to_string(), ANY_DAY.1.to_string()),
            None => {
                let w = evidence_window(ob, campaign, calendar);
                (w.0.to_string(), w.1.to_string())
            }
        };
        let ev = evidence(
            conn,
            org.id,
            &ob.record,
            &from,
            &to,
            with_fields(ob, field.as_deref()),
        )
        .await?;
        let mut groups: HashMap<String, (Bucket, Vec<Evidence>)> = HashMap::new();
        for e in ev {
            if let Some(b) = place(ob, field.as_deref(), campaign, calendar, &e) {
                groups
                    .entry(b.key.clone())
                    .or_insert_with(|| (b, vec![]))
                    .1
                    .push(e);
            }
        }
        for (key, (b, ev)) in groups {
            let m = measure(ob, subject.target_on(ob, b.facts_day), &ev);
            write_measure(conn, plan.id, org.id, &ob.id, &key, &m).await?;
        }
    }
    Ok(())
}
