//! The full recompute: every measure of a plan version rebuilt from the records, one
//! obligation per transaction. Records are read in ranges of orgs, grouped by day in SQL
//! when the obligation only counts them, and the measures written in multi-row inserts.
//!
//! The records are read on a second connection, one range of orgs ahead of the one being
//! measured and written, so that the database's reading and the measuring overlap. The
//! reads start after the write transaction has begun: on SQLite it holds the only write
//! lock, so no record changes under them; on PostgreSQL they read committed records as
//! the transaction itself would.

use super::{ANY_DAY, dates_text, is_postgres, read, with_fields};
use crate::audit::{self, Event};
use crate::compliance::matrix::{OrgSelection, load_orgs};
use crate::orgs::Org;
use crate::plans::StoredPlan;
use crate::sql::Rows;
use crate::{Backend, Db, StoreResult};
use chrono::NaiveDate;
use serde::Serialize;
use sqlx::{Any, AnyConnection, Transaction};
use std::collections::HashMap;
use std::time::Instant;
use xiaoan_domain::audit::Actor;
use xiaoan_domain::calendar::SchoolCalendar;
use xiaoan_domain::compliance::{
    Bucket, Evidence, Measure, Subject, evidence_window, measure, period_field, place, target,
};
use xiaoan_domain::plan::{Cadence, Obligation};
use xiaoan_domain::{FactsHistory, Scope, now_millis};

/// What a recompute did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RecomputeStats {
    pub obligations: usize,
    /// Org rows read: each carries one org's records of one kind, aggregated in SQL.
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

/// One range of orgs' records, as read for an obligation.
enum Chunk {
    /// Per org, `month=mask` entries of a daily duty counted in SQL.
    Masks(Vec<(i64, Vec<(String, i64)>)>),
    /// Per org, its records as evidence.
    Evidence(Vec<(i64, Vec<Evidence>)>),
}

/// What the reader needs to know of the obligation.
struct Reading {
    ob: Obligation,
    window: (NaiveDate, NaiveDate),
    daily: bool,
    fields: bool,
    backend: Backend,
}

impl Reading {
    async fn chunk(&self, conn: &mut AnyConnection, orgs: (i64, i64)) -> StoreResult<Chunk> {
        let (ob, window, backend) = (&self.ob, self.window, self.backend);
        if self.daily {
            let t = target(ob, None) as i64;
            return Ok(Chunk::Masks(
                read::day_masks(conn, backend, ob, window, orgs, t).await?,
            ));
        }
        let per_org = if self.fields {
            read::day_fields(conn, backend, ob, window, orgs)
                .await?
                .into_iter()
                .map(|(org, rs)| {
                    let ev = rs
                        .into_iter()
                        .map(|(day, fields)| Evidence { day, fields })
                        .collect();
                    (org, ev)
                })
                .collect()
        } else {
            read::day_counts(conn, backend, ob, window, orgs)
                .await?
                .into_iter()
                .map(|(org, days)| {
                    let ev = days
                        .into_iter()
                        .flat_map(|(day, n)| {
                            (0..n.max(1)).map(move |_| Evidence {
                                day,
                                fields: serde_json::Value::Null,
                            })
                        })
                        .collect();
                    (org, ev)
                })
                .collect()
        };
        Ok(Chunk::Evidence(per_org))
    }

    /// Reads `ranges` in order on a connection of its own, each sent as soon as it is read
    /// (one waiting at most), until the receiver goes away or a read fails.
    fn spawn(
        self,
        db: &Db,
        ranges: Vec<(i64, i64)>,
    ) -> tokio::sync::mpsc::Receiver<StoreResult<Chunk>> {
        let (send, recv) = tokio::sync::mpsc::channel(1);
        let db = db.clone();
        tokio::spawn(async move {
            let mut conn = match db.pool().acquire().await {
                Ok(c) => c,
                Err(e) => {
                    let _ = send.send(Err(e.into())).await;
                    return;
                }
            };
            if self.backend == Backend::Sqlite {
                // A page cache that holds the records being read (256 MiB, not 2 MiB).
                if let Err(e) = sqlx::query("PRAGMA cache_size = -262144")
                    .execute(&mut *conn)
                    .await
                {
                    let _ = send.send(Err(e.into())).await;
                    return;
                }
            }
            for orgs in ranges {
                let r = self.chunk(&mut conn, orgs).await;
                let failed = r.is_err();
                if send.send(r).await.is_err() || failed {
                    return;
                }
            }
        });
        recv
    }
}

/// Rebuilds the measures of `plan` (of the obligations in `only`, when given) from the
/// records, and audits the run.
#[tracing::instrument(skip_all)]
pub async fn recompute(
    db: &Db,
    actor: &Actor,
    plan: &StoredPlan,
    calendar: &SchoolCalendar,
    only: Option<&[String]>,
) -> StoreResult<RecomputeStats> {
    let started = Instant::now();
    if db.backend() == Backend::Postgres {
        // Plans for reading the records need current statistics (a bulk import leaves none
        // until autovacuum comes by); ANALYZE samples, so this stays cheap.
        sqlx::query("ANALYZE records").execute(db.pool()).await?;
    }
    let mut orgs = load_orgs(
        db,
        &Scope::everything(),
        &OrgSelection::default(),
        0,
        i64::MAX,
    )
    .await?;
    orgs.sort_by_key(|o| o.id);
    let histories = {
        let mut conn = db.pool().acquire().await?;
        let map = crate::orgs::histories(&mut conn, db.backend(), None).await?;
        orgs.iter()
            .filter_map(|o| crate::orgs::history_of(o, &map).map(|h| (o.id, h)))
            .collect::<HashMap<i64, FactsHistory>>()
    };
    let mut stats = RecomputeStats::default();
    for ob in plan
        .plan
        .obligations
        .iter()
        .filter(|o| only.is_none_or(|ids| ids.contains(&o.id)))
    {
        let t = Instant::now();
        let (rows, written) = one(db, plan, calendar, ob, &orgs, &histories).await?;
        stats
            .slowest
            .push((ob.id.clone(), t.elapsed().as_millis() as u64));
        stats.obligations += 1;
        stats.rows_read += rows;
        stats.measures_written += written;
    }
    // Refresh the planner's statistics on what just changed (bounded work on both).
    let after: &[&str] = match db.backend() {
        Backend::Sqlite => &["PRAGMA analysis_limit = 1000", "PRAGMA optimize"],
        Backend::Postgres => &["ANALYZE compliance_measures"],
    };
    for statement in after {
        sqlx::query(sqlx::AssertSqlSafe(*statement))
            .execute(db.pool())
            .await?;
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
    histories: &HashMap<i64, FactsHistory>,
) -> StoreResult<(u64, u64)> {
    let p = &plan.plan;
    let campaign = (p.starts_on, p.ends_on);
    let field = period_field(p, ob);
    // Records that name their period are read whatever their day; others from the first
    // day of an occurrence falling due in the window.
    let window = match &field {
        Some(_) => (
            ANY_DAY.0.parse().unwrap_or(NaiveDate::MIN),
            ANY_DAY.1.parse().unwrap_or(NaiveDate::MAX),
        ),
        None => evidence_window(ob, campaign, calendar),
    };
    let backend = db.backend();
    let subject = |o: &Org| Subject::new(o.kind, histories.get(&o.id));
    // Orgs the obligation applies to under any version of their facts.
    let applicable: Vec<&Org> = orgs
        .iter()
        .filter(|o| subject(o).applies_ever(ob))
        .collect();
    let mut tx = db.begin_write().await?;
    if is_postgres(&tx) {
        sqlx::query("LOCK TABLE compliance_measures IN EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await?;
    } else {
        // A recompute reads and rewrites large parts of the file: give this connection a
        // page cache that holds them (256 MiB instead of SQLite's 2 MiB default).
        sqlx::query("PRAGMA cache_size = -262144")
            .execute(&mut *tx)
            .await?;
    }
    // Numeric conditions (a sample's weight, hours kept) are checked in SQL; other
    // conditions, sums and coverage need the fields in Rust.
    let numeric_only = ob
        .conditions
        .iter()
        .all(|c| c.any_of.is_empty() && c.all_of.is_empty());
    let daily = matches!(ob.cadence, Cadence::SchoolDay) && numeric_only;
    // Where records count, by day (or by the period they name).
    let mut buckets: HashMap<String, Option<Bucket>> = HashMap::new();
    let mut bucket = |e: &Evidence| {
        let memo = match &field {
            Some(f) => e.fields[f].to_string(),
            None => e.day.to_string(),
        };
        buckets
            .entry(memo)
            .or_insert_with(|| place(ob, field.as_deref(), campaign, calendar, e))
            .clone()
    };
    let chunks: Vec<&[&Org]> = applicable.chunks(ORG_CHUNK).collect();
    let mut chunks_read = Reading {
        ob: ob.clone(),
        window,
        daily,
        fields: with_fields(ob, field.as_deref()),
        backend,
    }
    .spawn(
        db,
        chunks
            .iter()
            .map(|c| (c[0].id, c[c.len() - 1].id))
            .collect(),
    );
    let (mut read, mut written) = (0u64, 0u64);
    // Stored measures are replaced over contiguous id ranges, so that orgs between the
    // applicable ones (no longer applicable: a canteen closed) lose theirs.
    let mut covered_to = i64::MIN;
    for chunk in chunks {
        let hi = chunk[chunk.len() - 1].id;
        let range = (covered_to, hi);
        covered_to = hi.saturating_add(1);
        let facts: HashMap<i64, &Org> = chunk.iter().map(|o| (o.id, *o)).collect();
        let mut pending: Vec<(i64, String, Measure)> = Vec::new();
        let data = chunks_read.recv().await.ok_or_else(|| {
            crate::StoreError::Internal("the recompute's reader stopped".into())
        })??;
        match data {
            Chunk::Masks(per_org) => {
                let t = target(ob, None);
                for (org, months) in per_org {
                    read += 1;
                    if !facts.contains_key(&org) {
                        continue;
                    }
                    for (month, mask) in months.into_iter().filter(|(_, m)| *m != 0) {
                        let m = Measure {
                            measured: f64::from(mask.count_ones()),
                            target: t,
                            mask,
                            ..Measure::default()
                        };
                        pending.push((org, month, m));
                    }
                }
            }
            Chunk::Evidence(per_org) => {
                for (org, evidence) in per_org {
                    read += 1;
                    let Some(o) = facts.get(&org) else { continue };
                    let s = subject(o);
                    let mut groups: HashMap<String, (NaiveDate, Vec<Evidence>)> = HashMap::new();
                    for e in evidence {
                        if let Some(b) = bucket(&e) {
                            groups
                                .entry(b.key)
                                .or_insert_with(|| (b.facts_day, vec![]))
                                .1
                                .push(e);
                        }
                    }
                    for (key, (day, ev)) in groups {
                        let m = measure(ob, s.target_on(ob, day), &ev);
                        if m.measured > 0.0 || m.mask != 0 || !m.dates.is_empty() {
                            pending.push((org, key, m));
                        }
                    }
                }
            }
        }
        written += write_changes(&mut tx, backend, plan.id, &ob.id, range, &mut pending).await?;
    }
    // Orgs after the last applicable one (all orgs, when none applies) keep no measures.
    written += sqlx::query(
        "DELETE FROM compliance_measures WHERE plan_id = $1 AND obligation = $2 AND org_id > $3",
    )
    .bind(plan.id)
    .bind(ob.id.clone())
    .bind(covered_to.saturating_sub(1))
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok((read, written))
}

/// Replaces the stored measures of orgs `lo..=hi` for one obligation by `pending`, writing
/// only what differs: a recompute over measures already kept current writes nothing.
async fn write_changes(
    tx: &mut Transaction<'static, Any>,
    backend: Backend,
    plan_id: i64,
    obligation: &str,
    range: (i64, i64),
    pending: &mut Vec<(i64, String, Measure)>,
) -> StoreResult<u64> {
    let mut stored: HashMap<(i64, String), Measure> =
        read::stored_measures(tx, backend, plan_id, obligation, range)
            .await?
            .into_iter()
            .map(|(org, bucket, m)| ((org, bucket), m))
            .collect();
    // What is left in `stored` afterwards no longer exists.
    pending.retain(|(org, bucket, m)| {
        !stored
            .remove(&(*org, bucket.clone()))
            .is_some_and(|s| same(&s, m))
    });
    let mut n = flush(tx, backend, plan_id, obligation, pending).await?;
    for ((org, bucket), _) in stored {
        n += sqlx::query(
            "DELETE FROM compliance_measures WHERE plan_id = $1 AND obligation = $2 AND org_id = $3 AND bucket = $4",
        )
        .bind(plan_id)
        .bind(obligation.to_string())
        .bind(org)
        .bind(bucket)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    }
    Ok(n)
}

/// Whether a stored measure (its numbers read back as text) equals a computed one.
fn same(a: &Measure, b: &Measure) -> bool {
    (a.measured - b.measured).abs() < 1e-9
        && (a.target - b.target).abs() < 1e-9
        && a.met_on == b.met_on
        && a.mask == b.mask
        && a.dates == b.dates
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
        let (text, args) = rows.build_with(
            " ON CONFLICT (plan_id, obligation, org_id, bucket) DO UPDATE SET measured = excluded.measured, \
             target = excluded.target, met_on = excluded.met_on, mask = excluded.mask, dates = excluded.dates, \
             updated_at = excluded.updated_at",
        );
        n += sqlx::query_with(text, args)
            .execute(&mut **tx)
            .await?
            .rows_affected();
    }
    pending.clear();
    Ok(n)
}
