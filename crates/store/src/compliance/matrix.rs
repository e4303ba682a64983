//! Reading compliance: orgs × obligations for a period, each cell evaluated by the domain
//! from the stored measures, the calendar and today's date.

use super::read::org_measures;
use crate::orgs::Org;
use crate::plans::StoredPlan;
use crate::sql::Sql;
use crate::{Db, StoreResult};
use sqlx::FromRow;
use std::collections::{BTreeSet, HashMap};
use xiaoan_domain::calendar::SchoolCalendar;
use xiaoan_domain::compliance::{
    Cell, Context, Measure, Occurrence, Period, Status, Subject, evaluate_for, occurrences, unit,
};
use xiaoan_domain::plan::{Level, Obligation};
use xiaoan_domain::{OrgKind, SchoolFacts, SchoolType, Scope};

#[derive(FromRow)]
struct OrgRow {
    id: i64,
    #[sqlx(try_from = "String")]
    kind: OrgKind,
    code: String,
    name: String,
    parent_id: Option<i64>,
    path: String,
    school_type: Option<String>,
    students: i64,
    staff: i64,
    boarding: i64,
    canteen: i64,
    buses: i64,
    labs: i64,
    special_equipment: i64,
}

impl OrgRow {
    fn into_org(self) -> StoreResult<Org> {
        let kind = self.kind;
        let school = self
            .school_type
            .as_deref()
            .and_then(SchoolType::from_code)
            .filter(|_| kind == OrgKind::School)
            .map(|school_type| SchoolFacts {
                school_type,
                address: String::new(),
                latitude: None,
                longitude: None,
                students: self.students,
                staff: self.staff,
                boarding: self.boarding != 0,
                canteen: self.canteen != 0,
                buses: self.buses != 0,
                labs: self.labs != 0,
                special_equipment: self.special_equipment != 0,
            });
        Ok(Org {
            id: self.id,
            kind,
            code: self.code,
            name: self.name,
            parent_id: self.parent_id,
            path: self.path,
            school,
        })
    }
}

/// Which orgs a matrix or a recompute covers.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct OrgSelection<'a> {
    pub under: Option<&'a str>,
    pub school_type: Option<SchoolType>,
    pub kinds: Option<&'a [OrgKind]>,
    /// Part of the name or the code.
    pub name: Option<&'a str>,
}

fn org_filter(sql: &mut Sql, scope: &Scope, sel: &OrgSelection<'_>) {
    let OrgSelection {
        under,
        school_type,
        kinds,
        name,
    } = *sel;
    sql.push(" FROM orgs WHERE ").scope("path", scope);
    if let Some(p) = under {
        sql.push(" AND path LIKE ").bind(format!("{p}%"));
    }
    if let Some(n) = name.map(str::trim).filter(|n| !n.is_empty()) {
        sql.push(" AND ").contains(&["name", "code"], n);
    }
    if let Some(t) = school_type {
        sql.push(" AND school_type = ").bind(t.code().to_string());
    }
    if let Some(kinds) = kinds {
        sql.push(" AND kind IN ").codes(kinds);
    }
}

/// Orgs inside `scope` (and under the path `under`), in tree order, with the facts the
/// engine needs (not the address or coordinates).
#[tracing::instrument(skip_all)]
pub(crate) async fn load_orgs(
    db: &Db,
    scope: &Scope,
    sel: &OrgSelection<'_>,
    offset: i64,
    limit: i64,
) -> StoreResult<Vec<Org>> {
    let mut sql = Sql::new(
        db.backend(),
        "SELECT id, kind, code, name, parent_id, path, school_type, students, staff, boarding, canteen, buses, labs, \
         special_equipment",
    );
    org_filter(&mut sql, scope, sel);
    sql.push(" ORDER BY path LIMIT ")
        .bind(limit.max(1))
        .push(" OFFSET ")
        .bind(offset.max(0));
    let (text, args) = sql.build();
    let rows: Vec<OrgRow> = sqlx::query_as_with(text, args).fetch_all(db.pool()).await?;
    rows.into_iter().map(OrgRow::into_org).collect()
}

async fn count_orgs(db: &Db, scope: &Scope, sel: &OrgSelection<'_>) -> StoreResult<i64> {
    let mut sql = Sql::new(db.backend(), "SELECT COUNT(*)");
    org_filter(&mut sql, scope, sel);
    let (text, args) = sql.build();
    Ok(sqlx::query_scalar_with(text, args)
        .fetch_one(db.pool())
        .await?)
}

/// What to show.
#[derive(Debug, Clone)]
pub struct MatrixQuery {
    pub period: Period,
    /// Only orgs under this path (a centre's or a school's).
    pub under: Option<String>,
    pub school_type: Option<SchoolType>,
    /// Only orgs whose name or code contains this.
    pub name: Option<String>,
    /// Only these obligations (empty: all of the plan).
    pub obligations: Vec<String>,
    pub offset: i64,
    pub limit: i64,
}

/// One org's row.
#[derive(Debug, Clone)]
pub struct MatrixRow {
    pub org: Org,
    /// One cell per obligation of the matrix, in its order.
    pub cells: Vec<Cell>,
}

/// Orgs × obligations.
#[derive(Debug, Clone)]
pub struct Matrix {
    pub obligations: Vec<Obligation>,
    pub rows: Vec<MatrixRow>,
    /// Orgs matching the query, all pages together.
    pub total: i64,
}

impl MatrixQuery {
    fn selection<'a>(&'a self, kinds: &'a [OrgKind]) -> OrgSelection<'a> {
        OrgSelection {
            under: self.under.as_deref(),
            school_type: self.school_type,
            kinds: Some(kinds),
            name: self.name.as_deref(),
        }
    }
}

fn selected<'p>(plan: &'p StoredPlan, ids: &[String]) -> Vec<&'p Obligation> {
    plan.plan
        .obligations
        .iter()
        .filter(|o| ids.is_empty() || ids.contains(&o.id))
        .collect()
}

/// The org kinds rows are shown for: schools, plus the bureau or centres when an
/// obligation falls on them (and no school type narrows the view).
fn row_kinds(obs: &[&Obligation], school_type: Option<SchoolType>) -> Vec<OrgKind> {
    let mut kinds = vec![OrgKind::School];
    if school_type.is_none() {
        for (level, kind) in [
            (Level::Bureau, OrgKind::Bureau),
            (Level::Centre, OrgKind::Centre),
        ] {
            if obs.iter().any(|o| o.applies.level == level) {
                kinds.push(kind);
            }
        }
    }
    kinds
}

/// Evaluates `obs` for `orgs` over `period` on `today`: one row of cells per org, each
/// occurrence judged by the school's facts in force on its due day.
#[tracing::instrument(skip_all)]
pub async fn evaluate_orgs(
    db: &Db,
    plan: &StoredPlan,
    calendar: &SchoolCalendar,
    today: chrono::NaiveDate,
    period: &Period,
    orgs: &[Org],
    obs: &[&Obligation],
) -> StoreResult<Vec<Vec<Cell>>> {
    let p = &plan.plan;
    let ctx = Context::new(p, calendar, today);
    let occs: Vec<Vec<Occurrence>> = obs
        .iter()
        .map(|ob| occurrences(ob, ctx.campaign, calendar, period.start, period.end))
        .collect();
    let mut buckets: BTreeSet<String> = BTreeSet::from(["standing".to_string()]);
    for o in occs.iter().flatten() {
        buckets.insert(o.bucket.clone());
    }
    let buckets: Vec<String> = buckets.into_iter().collect();
    let index: HashMap<&str, usize> = obs
        .iter()
        .enumerate()
        .map(|(i, o)| (o.id.as_str(), i))
        .collect();
    let mut stored: HashMap<(i64, usize), HashMap<String, Measure>> = HashMap::new();
    let ids: Vec<i64> = orgs.iter().map(|o| o.id).collect();
    for chunk in ids.chunks(500) {
        for (org, ob, bucket, m) in org_measures(db, plan.id, chunk, &buckets).await? {
            if let Some(i) = index.get(ob.as_str()) {
                stored.entry((org, *i)).or_default().insert(bucket, m);
            }
        }
    }
    let units: Vec<_> = obs.iter().map(|o| unit(o, p)).collect();
    let histories = crate::orgs::facts_histories(db, orgs).await?;
    Ok(orgs
        .iter()
        .map(|org| {
            let subject = Subject::new(org.kind, histories.get(&org.id));
            obs.iter()
                .enumerate()
                .map(|(i, ob)| {
                    let mine = stored.get(&(org.id, i));
                    evaluate_for(ob, &ctx, period, &occs[i], subject, units[i], |b| {
                        mine.and_then(|m| m.get(b))
                    })
                })
                .collect()
        })
        .collect())
}

/// One page of the matrix for the orgs inside `scope`.
#[tracing::instrument(skip_all)]
pub async fn matrix(
    db: &Db,
    scope: &Scope,
    plan: &StoredPlan,
    calendar: &SchoolCalendar,
    today: chrono::NaiveDate,
    q: &MatrixQuery,
) -> StoreResult<Matrix> {
    let total = count(db, scope, plan, q).await?;
    matrix_counted(db, scope, plan, calendar, today, q, total).await
}

/// How many orgs the query matches (all pages together).
#[tracing::instrument(skip_all)]
pub async fn count(db: &Db, scope: &Scope, plan: &StoredPlan, q: &MatrixQuery) -> StoreResult<i64> {
    let obs = selected(plan, &q.obligations);
    let kinds = row_kinds(&obs, q.school_type);
    count_orgs(db, scope, &q.selection(&kinds)).await
}

/// [`matrix`] when the caller has already counted the orgs (`total`).
#[tracing::instrument(skip_all)]
pub async fn matrix_counted(
    db: &Db,
    scope: &Scope,
    plan: &StoredPlan,
    calendar: &SchoolCalendar,
    today: chrono::NaiveDate,
    q: &MatrixQuery,
    total: i64,
) -> StoreResult<Matrix> {
    let obs = selected(plan, &q.obligations);
    let kinds = row_kinds(&obs, q.school_type);
    let orgs = load_orgs(db, scope, &q.selection(&kinds), q.offset, q.limit).await?;
    let cells = evaluate_orgs(db, plan, calendar, today, &q.period, &orgs, &obs).await?;
    Ok(Matrix {
        obligations: obs.into_iter().cloned().collect(),
        rows: orgs
            .into_iter()
            .zip(cells)
            .map(|(org, cells)| MatrixRow { org, cells })
            .collect(),
        total,
    })
}

/// How many cells of each status each obligation has over every org the query matches
/// (all pages), in [`Status::ALL`] order.
#[tracing::instrument(skip_all)]
pub async fn status_counts(
    db: &Db,
    scope: &Scope,
    plan: &StoredPlan,
    calendar: &SchoolCalendar,
    today: chrono::NaiveDate,
    q: &MatrixQuery,
) -> StoreResult<Vec<(String, [i64; 5])>> {
    let obs = selected(plan, &q.obligations);
    let kinds = row_kinds(&obs, q.school_type);
    let mut counts: Vec<[i64; 5]> = vec![[0; 5]; obs.len()];
    let mut offset = 0;
    loop {
        let orgs = load_orgs(db, scope, &q.selection(&kinds), offset, 1000).await?;
        if orgs.is_empty() {
            break;
        }
        offset += orgs.len() as i64;
        for row in evaluate_orgs(db, plan, calendar, today, &q.period, &orgs, &obs).await? {
            for (i, cell) in row.iter().enumerate() {
                if let Some(s) = Status::ALL.iter().position(|s| *s == cell.status) {
                    counts[i][s] += 1;
                }
            }
        }
    }
    Ok(obs.iter().map(|o| o.id.clone()).zip(counts).collect())
}
