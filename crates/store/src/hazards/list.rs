//! Hazard lists for every level: filters, keyset pagination and counts per status.

use super::search::Search;
use super::{Hazard, Row, SELECT};
use crate::sql::Sql;
use crate::{Db, StoreResult};
use chrono::NaiveDate;
use serde::Serialize;
use xiaoan_domain::Scope;
use xiaoan_domain::hazard::{Category, Escalation, Grade, Source, Status};

/// What to list. Every field narrows the list; `None` leaves it open.
#[derive(Debug, Clone, Default)]
pub struct HazardFilter {
    pub status: Option<Status>,
    /// Only open hazards (not closed, not dismissed).
    pub open: bool,
    pub category: Option<Category>,
    pub grade: Option<Grade>,
    pub source: Option<Source>,
    pub overdue: Option<bool>,
    pub on_plan: Option<bool>,
    /// At least this escalation (the centre was told, or listed by the bureau).
    pub escalation_at_least: Option<Escalation>,
    pub school_id: Option<i64>,
    /// The materialised path of a centre (or any node) to list under.
    pub under_path: Option<String>,
    /// Found on or after / on or before.
    pub found_from: Option<NaiveDate>,
    pub found_to: Option<NaiveDate>,
    /// Text in the number, title, description or location.
    pub q: Option<String>,
    /// Leave out dismissed hazards.
    pub not_dismissed: bool,
    /// Only hazards that have been registered (have an owner): the rectification list.
    pub registered: bool,
    /// Only hazards this user is responsible for.
    pub owner_id: Option<i64>,
    /// The order of [`list`] (counts and batches ignore it).
    pub order: HazardOrder,
}

/// How [`list`] orders its pages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum HazardOrder {
    /// Newest first (by id).
    #[default]
    Newest,
    /// Most overdue first: overdue hazards by deadline, the earliest first (newest first
    /// among equal deadlines), then every other hazard newest first.
    MostOverdue,
}

/// Where the previous page of a [`HazardOrder::MostOverdue`] list ended: inside the overdue
/// hazards (`DEADLINE.ID`) or among the others (`ID`, the cursor of the newest-first order).
enum OverdueCursor {
    Overdue(NaiveDate, i64),
    Other(i64),
}

impl OverdueCursor {
    fn parse(c: &str) -> Option<OverdueCursor> {
        match c.split_once('.') {
            Some((d, id)) => Some(OverdueCursor::Overdue(d.parse().ok()?, id.parse().ok()?)),
            None => Some(OverdueCursor::Other(c.parse().ok()?)),
        }
    }

    fn of(h: &Hazard) -> String {
        match h.deadline.filter(|_| h.overdue) {
            Some(d) => format!("{d}.{}", h.id),
            None => h.id.to_string(),
        }
    }
}

/// Appends the condition "this hazard is overdue today" (false, never NULL, without a deadline).
fn push_overdue(sql: &mut Sql, today: NaiveDate) {
    sql.push("(h.status IN ")
        .codes(&Status::OVERDUE_ABLE)
        .push(" AND h.deadline IS NOT NULL AND h.deadline < ")
        .bind(today.to_string())
        .push(")");
}

/// Appends ` ORDER BY …` for `order`.
fn push_order(sql: &mut Sql, order: HazardOrder, today: NaiveDate) {
    match order {
        HazardOrder::Newest => sql.push(" ORDER BY h.id DESC"),
        HazardOrder::MostOverdue => {
            // Overdue hazards (0) before the others (1); among the overdue ones the earliest
            // deadline first; then newest first. The deadline key is NULL for the others, so
            // where each backend sorts NULLs does not matter.
            sql.push(" ORDER BY CASE WHEN ");
            push_overdue(sql, today);
            sql.push(" THEN 0 ELSE 1 END, CASE WHEN ");
            push_overdue(sql, today);
            sql.push(" THEN h.deadline END, h.id DESC")
        }
    };
}

/// A page of hazards, in the order asked for, and the cursor of the next page.
#[derive(Debug, Clone, Serialize)]
pub struct HazardPage {
    pub items: Vec<Hazard>,
    pub next_cursor: Option<String>,
}

/// How a query reaches the hazard's school: joined as `o` (lists, which stop after a page),
/// or through a set of school ids (counts over every row).
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Schools {
    Joined,
    Ids,
}

/// Appends ` WHERE …` for `f` in `scope`, all but its text query (`f.q`, resolved as a
/// [`Search`] and appended by [`Search::push`]).
pub(super) fn push_filters(
    sql: &mut Sql,
    scope: &Scope,
    f: &HazardFilter,
    today: NaiveDate,
    with_status: bool,
    schools: Schools,
) {
    sql.push(" WHERE ");
    match schools {
        Schools::Joined => sql.scope("o.path", scope),
        Schools::Ids => sql.scope_ids("h.school_id", scope),
    };
    if with_status && let Some(s) = f.status {
        sql.push(" AND h.status = ").bind(s.code().to_string());
    }
    if f.open {
        sql.push(" AND h.status NOT IN ").codes(&Status::DONE);
    }
    if f.not_dismissed {
        sql.push(" AND h.status <> ")
            .bind(Status::Dismissed.code().to_string());
    }
    if f.registered {
        sql.push(" AND h.owner_id IS NOT NULL");
    }
    if let Some(o) = f.owner_id {
        sql.push(" AND h.owner_id = ").bind(o);
    }
    if let Some(c) = f.category {
        sql.push(" AND h.category = ").bind(c.code().to_string());
    }
    if let Some(g) = f.grade {
        sql.push(" AND h.grade = ").bind(g.code().to_string());
    }
    if let Some(s) = f.source {
        sql.push(" AND h.source = ").bind(s.code().to_string());
    }
    match f.overdue {
        Some(true) => {
            sql.push(" AND h.status IN ")
                .codes(&Status::OVERDUE_ABLE)
                .push(" AND h.deadline < ")
                .bind(today.to_string());
        }
        Some(false) => {
            sql.push(" AND NOT (h.status IN ")
                .codes(&Status::OVERDUE_ABLE)
                .push(" AND h.deadline < ")
                .bind(today.to_string())
                .push(")");
        }
        None => {}
    }
    if let Some(p) = f.on_plan {
        sql.push(" AND h.on_plan = ").bind(p as i64);
    }
    if let Some(e) = f.escalation_at_least {
        sql.push(" AND h.escalation >= ").bind(e.level());
    }
    if let Some(id) = f.school_id {
        sql.push(" AND h.school_id = ").bind(id);
    }
    if let Some(p) = &f.under_path {
        match schools {
            Schools::Joined => sql.push(" AND o.path LIKE ").bind(format!("{p}%")),
            Schools::Ids => sql
                .push(" AND h.school_id IN (SELECT id FROM orgs WHERE path LIKE ")
                .bind(format!("{p}%"))
                .push(")"),
        };
    }
    if let Some(d) = f.found_from {
        sql.push(" AND h.found_on >= ").bind(d.to_string());
    }
    if let Some(d) = f.found_to {
        sql.push(" AND h.found_on <= ").bind(d.to_string());
    }
}

/// One page of the hazards in `scope` matching `f`, in `f.order`. `cursor` is the
/// `next_cursor` of the previous page; `limit` is clamped to 1–200.
#[tracing::instrument(skip_all)]
pub async fn list(
    db: &Db,
    scope: &Scope,
    f: &HazardFilter,
    cursor: Option<&str>,
    limit: i64,
    today: NaiveDate,
) -> StoreResult<HazardPage> {
    let limit = limit.clamp(1, 200);
    let search = Search::resolve(db, f.q.as_deref()).await?;
    // Two steps in one statement: find the page's ids on the narrow tables (indexes can
    // answer the filter and the order), then fetch those rows with their names.
    let mut sql = Sql::new(db.backend(), SELECT);
    // A text search newest first is driven by the search index, which yields its matches
    // newest first and stops at the page's end. The overdue view is driven by a (status,
    // deadline) range that an index answers per school; other views walk ids newest first
    // and test each row's school by a join.
    let driven = search.drives() && f.order == HazardOrder::Newest;
    let schools = if f.overdue == Some(true) && !driven {
        Schools::Ids
    } else {
        Schools::Joined
    };
    sql.push(match (driven, schools) {
        (true, _) => {
            " WHERE h.id IN (SELECT h.id FROM hazard_search JOIN hazards h ON h.id = hazard_search.rowid JOIN orgs o ON o.id = h.school_id"
        }
        (false, Schools::Joined) => {
            " WHERE h.id IN (SELECT h.id FROM hazards h JOIN orgs o ON o.id = h.school_id"
        }
        (false, Schools::Ids) => " WHERE h.id IN (SELECT h.id FROM hazards h",
    });
    push_filters(&mut sql, scope, f, today, true, schools);
    search.push(&mut sql, driven);
    match f.order {
        HazardOrder::Newest => {
            // The index's rowid is the hazard's id: bounding and ordering by it keeps the
            // walk inside FTS5 (ordering by `h.id` would sort every match first).
            let id = if driven {
                "hazard_search.rowid"
            } else {
                "h.id"
            };
            if let Some(before) = cursor.and_then(|c| c.parse::<i64>().ok()) {
                sql.push(" AND ").push(id).push(" < ").bind(before);
            }
        }
        HazardOrder::MostOverdue => match cursor.and_then(OverdueCursor::parse) {
            // After (deadline, id) among the overdue: a later deadline, the same deadline
            // and an older id, or any hazard that is not overdue.
            Some(OverdueCursor::Overdue(deadline, id)) => {
                sql.push(" AND ((");
                push_overdue(&mut sql, today);
                sql.push(" AND (h.deadline > ")
                    .bind(deadline.to_string())
                    .push(" OR (h.deadline = ")
                    .bind(deadline.to_string())
                    .push(" AND h.id < ")
                    .bind(id)
                    .push("))) OR NOT ");
                push_overdue(&mut sql, today);
                sql.push(")");
            }
            Some(OverdueCursor::Other(id)) => {
                sql.push(" AND NOT ");
                push_overdue(&mut sql, today);
                sql.push(" AND h.id < ").bind(id);
            }
            None => {}
        },
    }
    if driven {
        sql.push(" ORDER BY hazard_search.rowid DESC");
    } else {
        push_order(&mut sql, f.order, today);
    }
    sql.push(" LIMIT ").bind(limit).push(")");
    push_order(&mut sql, f.order, today);
    let (text, args) = sql.build();
    let rows: Vec<Row> = sqlx::query_as_with(text, args).fetch_all(db.pool()).await?;
    let items = rows
        .into_iter()
        .map(|r| r.into_hazard(today))
        .collect::<StoreResult<Vec<_>>>()?;
    let next_cursor = (items.len() as i64 == limit)
        .then(|| {
            items.last().map(|h| match f.order {
                HazardOrder::Newest => h.id.to_string(),
                HazardOrder::MostOverdue => OverdueCursor::of(h),
            })
        })
        .flatten();
    Ok(HazardPage { items, next_cursor })
}

/// How many hazards there are in each state, and how many are overdue, for a filter
/// (its status field ignored).
#[derive(Debug, Clone, Default, Serialize)]
pub struct StatusCounts {
    pub by_status: Vec<(Status, i64)>,
    pub overdue: i64,
    pub listed: i64,
}

/// Counts computed at a generation of `hazard_generation` (migration 0009), which every
/// committed change to hazards or to the org tree moves on: while it stands still they are
/// still true, so readers share them instead of counting every row again.
#[derive(Debug, Default)]
pub struct CountsCache {
    entries: std::sync::Mutex<std::collections::HashMap<String, (i64, StatusCounts)>>,
}

/// Distinct filters kept at most; past it the cache starts over.
const COUNTS_KEPT: usize = 4096;

/// Counts for the list header and dashboards: from memory when nothing has changed since
/// they were counted, else counted (see [`count_rows`]).
#[tracing::instrument(skip_all)]
pub async fn counts(
    db: &Db,
    scope: &Scope,
    f: &HazardFilter,
    today: NaiveDate,
) -> StoreResult<StatusCounts> {
    // Read first: counts taken after it are at least as new as the generation they are
    // kept under, so a later change always retires them.
    let (generation,): (i64,) = sqlx::query_as("SELECT n FROM hazard_generation WHERE id = 1")
        .fetch_one(db.pool())
        .await?;
    // The order of a list does not change its counts: one entry whatever it is.
    let unordered = HazardFilter {
        order: HazardOrder::default(),
        ..f.clone()
    };
    let key = format!("{scope:?}|{unordered:?}|{today}");
    let kept = db.counts.entries.lock().ok().and_then(|m| {
        m.get(&key)
            .filter(|(g, _)| *g == generation)
            .map(|(_, c)| c.clone())
    });
    if let Some(c) = kept {
        return Ok(c);
    }
    let c = count_rows(db, scope, f, today).await?;
    if let Ok(mut m) = db.counts.entries.lock() {
        if m.len() >= COUNTS_KEPT {
            m.clear();
        }
        m.insert(key, (generation, c.clone()));
    }
    Ok(c)
}

/// Counts straight from the rows, whatever is in memory.
#[tracing::instrument(skip_all)]
pub async fn count_rows(
    db: &Db,
    scope: &Scope,
    f: &HazardFilter,
    today: NaiveDate,
) -> StoreResult<StatusCounts> {
    let search = Search::resolve(db, f.q.as_deref()).await?;
    // One pass over the filtered rows (the covering index `hazards_school_counts`): per
    // status, how many, how many overdue and how many listed. The overdue and listed totals
    // honour the filter's status; the per-status counts ignore it.
    let mut sql = Sql::new(
        db.backend(),
        "SELECT h.status, COUNT(*), COALESCE(CAST(SUM(CASE WHEN h.status IN ",
    );
    sql.codes(&Status::OVERDUE_ABLE)
        .push(" AND h.deadline < ")
        .bind(today.to_string())
        .push(" THEN 1 ELSE 0 END) AS BIGINT), 0), COALESCE(CAST(SUM(CASE WHEN h.escalation >= ")
        .bind(Escalation::Listed.level())
        .push(" AND h.status NOT IN ")
        .codes(&Status::DONE)
        .push(" THEN 1 ELSE 0 END) AS BIGINT), 0) FROM hazards h");
    push_filters(&mut sql, scope, f, today, false, Schools::Ids);
    search.push(&mut sql, false);
    sql.push(" GROUP BY h.status");
    let (text, args) = sql.build();
    let rows: Vec<(String, i64, i64, i64)> =
        sqlx::query_as_with(text, args).fetch_all(db.pool()).await?;
    let by_status = Status::ALL
        .iter()
        .map(|s| {
            (
                *s,
                rows.iter()
                    .find(|(c, ..)| c == s.code())
                    .map_or(0, |(_, n, ..)| *n),
            )
        })
        .collect();
    let counted = |(c, ..): &&(String, i64, i64, i64)| f.status.is_none_or(|s| c == s.code());
    let overdue = rows.iter().filter(counted).map(|r| r.2).sum();
    let listed = rows.iter().filter(counted).map(|r| r.3).sum();
    Ok(StatusCounts {
        by_status,
        overdue,
        listed,
    })
}
