//! The full recompute: every measure of a plan version rebuilt from the records, one
//! obligation per transaction. Records are read in ranges of orgs, grouped by day in SQL
//! when the obligation only counts them, and the measures written in multi-row inserts.

use super::{dates_text, is_postgres};
use crate::audit::{self, Event};
use crate::compliance::matrix::load_orgs;
use crate::orgs::Org;
use crate::plans::StoredPlan;
use crate::records::Rows;
use crate::{Backend, Db, StoreResult};
use chrono::NaiveDate;
use serde::Serialize;
use sqlx::{Any, Transaction};
use std::collections::{HashMap, HashSet};
use std::time::Instant;
use xiaoan_domain::audit::Actor;
use xiaoan_domain::calendar::SchoolCalendar;
use xiaoan_domain::compliance::{
    Evidence, Measure, applies, bucket_of, measure, needs_fields, target, window,
};
use xiaoan_domain::plan::Obligation;
use xiaoan_domain::{Scope, now_millis};

/// What a recompute did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RecomputeStats {
    pub obligations: usize,
    /// Record rows read (one per org and day when the obligation only counts records).
    pub rows_read: u64,
    pub measures_written: u64,
    pub elapsed_ms: u64,
    /// The five obligations that took longest, with their milliseconds.
    pub slowest: Vec<(String, u64)>,
}

/// Orgs whose records are read per query.
const ORG_CHUNK: usize = 2000;
/// Measures per INSERT statement (10 values each).
const INSERT_CHUNK: usize = 500;

type Bucket = Option<(String, NaiveDate, NaiveDate)>;

/// Rebuilds the measures of `plan` (of the obligations in `only`, when given) from the
/// records, and audits the run.
pub async fn recompute(
    db: &Db,
    actor: &Actor,
    plan: &StoredPlan,
    calendar: &SchoolCalendar,
    only: Option<&[String]>,
) -> StoreResult<RecomputeStats> {
    let started = Instant::now();
    let mut orgs = load_orgs(db, &Scope::everything(), None, None, None, 0, i64::MAX).await?;
    orgs.sort_by_key(|o| o.id);
    let mut stats = RecomputeStats::default();
    for ob in plan
        .plan
        .obligations
        .iter()
        .filter(|o| only.is_none_or(|ids| ids.contains(&o.id)))
    {
        let t = Instant::now();
        let (rows, written) = one(db, plan, calendar, ob, &orgs).await?;
        stats
            .slowest
            .push((ob.id.clone(), t.elapsed().as_millis() as u64));
        stats.obligations += 1;
        stats.rows_read += rows;
        stats.measures_written += written;
    }
    stats.elapsed_ms = started.elapsed().as_millis() as u64;
    stats.slowest.sort_by_key(|(_, ms)| std::cmp::Reverse(*ms));
    stats.slowest.truncate(5);
    let detail = serde_json::json!({"plan_id": plan.id, "only": only, "stats": stats});
    audit::record(
        db,
        actor,
        Event::ok("compliance.recompute", "plan", plan.id, detail),
    )
    .await?;
    Ok(stats)
}

async fn one(
    db: &Db,
    plan: &StoredPlan,
    calendar: &SchoolCalendar,
    ob: &Obligation,
    orgs: &[Org],
) -> StoreResult<(u64, u64)> {
    let p = &plan.plan;
    let campaign = (p.starts_on, p.ends_on);
    let (from, to) = window(ob, campaign);
    let applicable: Vec<&Org> = orgs
        .iter()
        .filter(|o| applies(ob, o.kind, o.school.as_ref()))
        .collect();
    let with_fields = needs_fields(ob);
    let mut tx = db.begin_write().await?;
    if is_postgres(&tx) {
        sqlx::query("LOCK TABLE compliance_measures IN EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query("DELETE FROM compliance_measures WHERE plan_id = $1 AND obligation = $2")
        .bind(plan.id)
        .bind(ob.id.clone())
        .execute(&mut *tx)
        .await?;
    let mut buckets: HashMap<NaiveDate, Bucket> = HashMap::new();
    let mut pending: Vec<(i64, String, Measure)> = Vec::new();
    let (mut rows_read, mut written) = (0u64, 0u64);
    for chunk in applicable.chunks(ORG_CHUNK) {
        let ids: HashSet<i64> = chunk.iter().map(|o| o.id).collect();
        let (lo, hi) = (chunk[0].id, chunk[chunk.len() - 1].id);
        let text = if with_fields {
            "SELECT org_id, occurred_on, fields, CAST(1 AS BIGINT) FROM records WHERE kind = $1 AND withdrawn = 0 \
             AND occurred_on >= $2 AND occurred_on <= $3 AND org_id >= $4 AND org_id <= $5 ORDER BY org_id, occurred_on"
        } else {
            "SELECT org_id, occurred_on, '', COUNT(*) FROM records WHERE kind = $1 AND withdrawn = 0 \
             AND occurred_on >= $2 AND occurred_on <= $3 AND org_id >= $4 AND org_id <= $5 \
             GROUP BY org_id, occurred_on ORDER BY org_id, occurred_on"
        };
        let rows: Vec<(i64, String, String, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(text))
            .bind(ob.record.clone())
            .bind(from.to_string())
            .bind(to.to_string())
            .bind(lo)
            .bind(hi)
            .fetch_all(&mut *tx)
            .await?;
        rows_read += rows.len() as u64;
        let mut by_org: HashMap<i64, HashMap<String, Vec<Evidence>>> = HashMap::new();
        for (org_id, day, fields, n) in rows {
            if !ids.contains(&org_id) {
                continue;
            }
            let Ok(day) = day.parse::<NaiveDate>() else {
                continue;
            };
            let bucket = buckets
                .entry(day)
                .or_insert_with(|| bucket_of(ob, campaign, calendar, day));
            let Some((key, _, _)) = bucket else { continue };
            let fields = if with_fields {
                serde_json::from_str(&fields).unwrap_or_default()
            } else {
                serde_json::Value::Null
            };
            let list = by_org
                .entry(org_id)
                .or_default()
                .entry(key.clone())
                .or_default();
            for _ in 0..n.max(1) {
                list.push(Evidence {
                    day,
                    fields: fields.clone(),
                });
            }
        }
        for org in chunk {
            let Some(groups) = by_org.remove(&org.id) else {
                continue;
            };
            let t = target(ob, org.school.as_ref());
            for (key, ev) in groups {
                let m = measure(ob, t, &ev);
                if m.measured > 0.0 || m.mask != 0 || !m.dates.is_empty() {
                    pending.push((org.id, key, m));
                }
            }
        }
        if pending.len() >= INSERT_CHUNK * 10 {
            written += flush(&mut tx, db.backend(), plan.id, &ob.id, &mut pending).await?;
        }
    }
    written += flush(&mut tx, db.backend(), plan.id, &ob.id, &mut pending).await?;
    tx.commit().await?;
    Ok((rows_read, written))
}

async fn flush(
    tx: &mut Transaction<'static, Any>,
    backend: Backend,
    plan_id: i64,
    obligation: &str,
    pending: &mut Vec<(i64, String, Measure)>,
) -> StoreResult<u64> {
    let now = now_millis();
    let mut n = 0;
    for chunk in pending.chunks(INSERT_CHUNK) {
        let mut rows = Rows::new(
            backend,
            "INSERT INTO compliance_measures (plan_id, org_id, obligation, bucket, measured, target, met_on, mask, \
             dates, updated_at) VALUES ",
        );
        for (org_id, bucket, m) in chunk {
            rows.row()
                .value(plan_id)
                .value(*org_id)
                .value(obligation.to_string())
                .value(bucket.clone())
                .value(m.measured)
                .value(m.target)
                .value(m.met_on.map(|d| d.to_string()))
                .value(m.mask)
                .value(dates_text(&m.dates))
                .value(now);
        }
        let (text, args) = rows.build();
        n += sqlx::query_with(text, args)
            .execute(&mut **tx)
            .await?
            .rows_affected();
    }
    pending.clear();
    Ok(n)
}
