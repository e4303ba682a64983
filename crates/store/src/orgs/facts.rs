//! The history of a school's type and facts: each version with the day it applies from,
//! corrections kept beside what they replaced, and the facts in force on any day.

use super::*;

/// One recorded version of a school's facts, as its history shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FactsEntry {
    /// The first day the facts apply; `None`: from the start.
    pub effective_from: Option<NaiveDate>,
    pub school_type: SchoolType,
    pub students: i64,
    pub staff: i64,
    pub boarding: bool,
    pub canteen: bool,
    pub buses: bool,
    pub labs: bool,
    pub special_equipment: bool,
    /// It corrected a data-entry mistake in the version it replaced.
    pub correction: bool,
    /// False once a later entry for the same first day (a correction, another change that
    /// day) replaced it.
    pub in_force: bool,
    pub recorded_at: Millis,
    pub recorded_by: String,
}

#[derive(FromRow)]
pub(super) struct FactsRow {
    org_id: i64,
    effective_from: String,
    school_type: String,
    students: i64,
    staff: i64,
    boarding: i64,
    canteen: i64,
    buses: i64,
    labs: i64,
    special_equipment: i64,
    correction: i64,
    recorded_at: i64,
    recorded_by: String,
}

impl FactsRow {
    pub(super) fn from(&self) -> Option<NaiveDate> {
        self.effective_from.parse().ok()
    }

    fn entry(&self, in_force: bool) -> Option<FactsEntry> {
        Some(FactsEntry {
            effective_from: self.from(),
            school_type: SchoolType::from_code(&self.school_type)?,
            students: self.students,
            staff: self.staff,
            boarding: self.boarding != 0,
            canteen: self.canteen != 0,
            buses: self.buses != 0,
            labs: self.labs != 0,
            special_equipment: self.special_equipment != 0,
            correction: self.correction != 0,
            in_force,
            recorded_at: self.recorded_at,
            recorded_by: self.recorded_by.clone(),
        })
    }
}

impl FactsEntry {
    fn facts(&self, current: Option<&SchoolFacts>) -> SchoolFacts {
        SchoolFacts {
            school_type: self.school_type,
            address: current.map(|c| c.address.clone()).unwrap_or_default(),
            latitude: current.and_then(|c| c.latitude),
            longitude: current.and_then(|c| c.longitude),
            students: self.students,
            staff: self.staff,
            boarding: self.boarding,
            canteen: self.canteen,
            buses: self.buses,
            labs: self.labs,
            special_equipment: self.special_equipment,
        }
    }
}

pub(super) async fn insert_facts(
    conn: &mut AnyConnection,
    org_id: i64,
    from: Option<NaiveDate>,
    f: &SchoolFacts,
    correction: bool,
    by: &str,
    now: Millis,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO school_facts (org_id, effective_from, school_type, students, staff, boarding, canteen, buses, \
         labs, special_equipment, correction, recorded_at, recorded_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(org_id)
    .bind(from.map(|d| d.to_string()).unwrap_or_default())
    .bind(f.school_type.code().to_string())
    .bind(f.students)
    .bind(f.staff)
    .bind(f.boarding as i64)
    .bind(f.canteen as i64)
    .bind(f.buses as i64)
    .bind(f.labs as i64)
    .bind(f.special_equipment as i64)
    .bind(correction as i64)
    .bind(now)
    .bind(by.to_string())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The recorded rows of `ids` (all schools when `None`), in order of org, first day and
/// entry.
pub(super) async fn facts_rows(
    conn: &mut AnyConnection,
    backend: Backend,
    ids: Option<&[i64]>,
) -> StoreResult<Vec<FactsRow>> {
    let mut sql = Sql::new(
        backend,
        "SELECT org_id, effective_from, school_type, students, staff, boarding, canteen, buses, labs, \
         special_equipment, correction, recorded_at, recorded_by FROM school_facts",
    );
    if let Some(ids) = ids {
        if ids.is_empty() {
            return Ok(vec![]);
        }
        sql.push(" WHERE org_id IN ").list(ids.iter().copied());
    }
    sql.push(" ORDER BY org_id, effective_from, id");
    let (text, args) = sql.build();
    Ok(sqlx::query_as_with(text, args)
        .fetch_all(&mut *conn)
        .await?)
}

/// The recorded rows, each marked in force when no later row has its org and first day.
fn entries(rows: &[FactsRow]) -> Vec<(i64, FactsEntry)> {
    rows.iter()
        .enumerate()
        .filter_map(|(i, r)| {
            let replaced = rows
                .get(i + 1)
                .is_some_and(|n| n.org_id == r.org_id && n.effective_from == r.effective_from);
            r.entry(!replaced).map(|e| (r.org_id, e))
        })
        .collect()
}

/// The facts histories of `ids` (every school's when `None`) from the versions in force;
/// schools without recorded versions are left out (see [`history_of`]).
pub(crate) async fn histories(
    conn: &mut AnyConnection,
    backend: Backend,
    ids: Option<&[i64]>,
) -> StoreResult<HashMap<i64, Vec<FactsEntry>>> {
    let rows = match ids {
        Some(ids) => {
            let mut out = Vec::new();
            for chunk in ids.chunks(500) {
                out.extend(facts_rows(conn, backend, Some(chunk)).await?);
            }
            out
        }
        None => facts_rows(conn, backend, None).await?,
    };
    let mut map: HashMap<i64, Vec<FactsEntry>> = HashMap::new();
    for (org, e) in entries(&rows) {
        if e.in_force {
            map.entry(org).or_default().push(e);
        }
    }
    Ok(map)
}

/// An org's facts over time from [`histories`]: its recorded versions, or its current facts
/// from the start when none were recorded; `None` for orgs other than schools.
pub(crate) fn history_of(org: &Org, map: &HashMap<i64, Vec<FactsEntry>>) -> Option<FactsHistory> {
    let current = org.school.as_ref()?;
    map.get(&org.id)
        .and_then(|es| {
            FactsHistory::new(
                es.iter()
                    .map(|e| FactsVersion {
                        from: e.effective_from,
                        facts: e.facts(Some(current)),
                    })
                    .collect(),
            )
        })
        .or_else(|| Some(FactsHistory::constant(current.clone())))
}

/// The facts histories of `orgs`, keyed by org id (schools only).
pub async fn facts_histories(db: &Db, orgs: &[Org]) -> StoreResult<HashMap<i64, FactsHistory>> {
    let ids: Vec<i64> = orgs
        .iter()
        .filter(|o| o.school.is_some())
        .map(|o| o.id)
        .collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let mut conn = db.pool().acquire().await?;
    let map = histories(&mut conn, db.backend(), Some(&ids)).await?;
    Ok(orgs
        .iter()
        .filter_map(|o| history_of(o, &map).map(|h| (o.id, h)))
        .collect())
}

/// The history of a school's facts inside `scope`, oldest first: every recorded version,
/// replaced ones included (`in_force` false). Empty for other kinds of org.
pub async fn facts_history(db: &Db, scope: &Scope, id: i64) -> StoreResult<Vec<FactsEntry>> {
    let org = get(db, scope, id).await?;
    let Some(current) = &org.school else {
        return Ok(vec![]);
    };
    let mut conn = db.pool().acquire().await?;
    let rows = facts_rows(&mut conn, db.backend(), Some(&[id])).await?;
    let mut out: Vec<FactsEntry> = entries(&rows).into_iter().map(|(_, e)| e).collect();
    if out.is_empty() {
        out.push(FactsEntry {
            effective_from: None,
            school_type: current.school_type,
            students: current.students,
            staff: current.staff,
            boarding: current.boarding,
            canteen: current.canteen,
            buses: current.buses,
            labs: current.labs,
            special_equipment: current.special_equipment,
            correction: false,
            in_force: true,
            recorded_at: 0,
            recorded_by: String::new(),
        });
    }
    Ok(out)
}
