//! The org tree: bureaus, sections, centres and schools, each with a materialised path
//! (`/1/5/23/`) so that scope checks are a prefix match; and schools' facts over time
//! (`school_facts`): a change of type, head counts or facts applies from the day given,
//! so that periods before it keep the facts they had.

use crate::audit::{self, Event};
use crate::error::unique_as;
use crate::sql::Sql;
use crate::{Backend, Db, StoreError, StoreResult};
use chrono::NaiveDate;
use serde::Serialize;
use sqlx::{AnyConnection, FromRow};
use std::collections::HashMap;
use xiaoan_domain::audit::Actor;
use xiaoan_domain::org::child_path;
use xiaoan_domain::text::{Code, Name};
use xiaoan_domain::{
    FactsHistory, FactsVersion, Millis, OrgKind, SchoolFacts, SchoolType, Scope, now_millis,
};

/// An org node as callers see it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Org {
    pub id: i64,
    pub kind: OrgKind,
    pub code: String,
    pub name: String,
    pub parent_id: Option<i64>,
    #[serde(skip)]
    pub path: String,
    /// Present for schools only.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub school: Option<SchoolFacts>,
}

#[derive(FromRow)]
struct Row {
    id: i64,
    #[sqlx(try_from = "String")]
    kind: OrgKind,
    code: String,
    name: String,
    parent_id: Option<i64>,
    path: String,
    school_type: Option<String>,
    address: String,
    latitude_e6: Option<i64>,
    longitude_e6: Option<i64>,
    students: i64,
    staff: i64,
    boarding: i64,
    canteen: i64,
    buses: i64,
    labs: i64,
    special_equipment: i64,
}

/// Coordinates are stored as integer micro-degrees: exact, and portable across backends.
fn to_e6(deg: f64) -> i64 {
    (deg * 1e6).round() as i64
}

fn from_e6(e6: i64) -> f64 {
    e6 as f64 / 1e6
}

const COLUMNS: &str = "id, kind, code, name, parent_id, path, school_type, address, latitude_e6, longitude_e6, \
                       students, staff, boarding, canteen, buses, labs, special_equipment";

impl Row {
    fn into_org(self) -> StoreResult<Org> {
        let kind = self.kind;
        let school = match self.school_type.as_deref().and_then(SchoolType::from_code) {
            Some(school_type) if kind == OrgKind::School => Some(SchoolFacts {
                school_type,
                address: self.address,
                latitude: self.latitude_e6.map(from_e6),
                longitude: self.longitude_e6.map(from_e6),
                students: self.students,
                staff: self.staff,
                boarding: self.boarding != 0,
                canteen: self.canteen != 0,
                buses: self.buses != 0,
                labs: self.labs != 0,
                special_equipment: self.special_equipment != 0,
            }),
            _ => None,
        };
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

/// Filters for [`list`].
#[derive(Debug, Default, Clone)]
pub struct OrgFilter {
    pub kind: Option<OrgKind>,
    pub parent_id: Option<i64>,
    pub school_type: Option<SchoolType>,
    /// Matches the name or code, case-insensitively.
    pub q: Option<String>,
}

/// The org nodes inside `scope` that match `filter`, in tree order.
#[tracing::instrument(skip_all)]
pub async fn list(db: &Db, scope: &Scope, filter: &OrgFilter) -> StoreResult<Vec<Org>> {
    let mut sql = Sql::new(db.backend(), "SELECT ");
    sql.push(COLUMNS)
        .push(" FROM orgs WHERE ")
        .scope("path", scope);
    if let Some(kind) = filter.kind {
        sql.push(" AND kind = ").bind(kind.code().to_string());
    }
    if let Some(parent) = filter.parent_id {
        sql.push(" AND parent_id = ").bind(parent);
    }
    if let Some(t) = filter.school_type {
        sql.push(" AND school_type = ").bind(t.code().to_string());
    }
    if let Some(q) = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        sql.push(" AND ").contains(&["name", "code"], q);
    }
    sql.push(" ORDER BY path");
    let (text, args) = sql.build();
    let rows: Vec<Row> = sqlx::query_as_with(text, args).fetch_all(db.pool()).await?;
    rows.into_iter().map(Row::into_org).collect()
}

/// One node, if it exists and lies inside `scope`; otherwise `NotFound`.
#[tracing::instrument(skip_all, fields(id))]
pub async fn get(db: &Db, scope: &Scope, id: i64) -> StoreResult<Org> {
    let org = get_unscoped(db, id).await?;
    if scope.contains(&org.path) {
        Ok(org)
    } else {
        Err(StoreError::NotFound)
    }
}

pub(crate) async fn get_unscoped(db: &Db, id: i64) -> StoreResult<Org> {
    let mut sql = Sql::new(db.backend(), "SELECT ");
    sql.push(COLUMNS).push(" FROM orgs WHERE id = ").bind(id);
    let (text, args) = sql.build();
    let row: Option<Row> = sqlx::query_as_with(text, args)
        .fetch_optional(db.pool())
        .await?;
    row.ok_or(StoreError::NotFound)?.into_org()
}

/// Looks a node up by its code, inside `scope`.
#[tracing::instrument(skip_all)]
pub async fn by_code(db: &Db, scope: &Scope, code: &str) -> StoreResult<Org> {
    let id: Option<i64> = sqlx::query_scalar("SELECT id FROM orgs WHERE code = $1")
        .bind(code.to_string())
        .fetch_optional(db.pool())
        .await?;
    get(db, scope, id.ok_or(StoreError::NotFound)?).await
}

/// The first root bureau, if the tree has been created.
#[tracing::instrument(skip_all)]
pub async fn root(db: &Db) -> StoreResult<Option<Org>> {
    let id: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM orgs WHERE parent_id IS NULL AND kind = 'bureau' ORDER BY id LIMIT 1",
    )
    .fetch_optional(db.pool())
    .await?;
    match id {
        Some(id) => Ok(Some(get_unscoped(db, id).await?)),
        None => Ok(None),
    }
}

/// Counts of nodes per kind inside `scope`.
#[tracing::instrument(skip_all)]
pub async fn count_by_kind(db: &Db, scope: &Scope) -> StoreResult<Vec<(OrgKind, i64)>> {
    let mut sql = Sql::new(db.backend(), "SELECT kind, COUNT(*) FROM orgs WHERE ");
    sql.scope("path", scope).push(" GROUP BY kind");
    let (text, args) = sql.build();
    let rows: Vec<(String, i64)> = sqlx::query_as_with(text, args).fetch_all(db.pool()).await?;
    Ok(rows
        .into_iter()
        .filter_map(|(k, n)| OrgKind::from_code(&k).map(|k| (k, n)))
        .collect())
}

/// A node to create.
#[derive(Debug, Clone)]
pub struct NewOrg {
    pub kind: OrgKind,
    pub code: Code,
    pub name: Name,
    pub parent_id: Option<i64>,
    /// Required for schools, refused for other kinds.
    pub school: Option<SchoolFacts>,
}

fn check_shape(
    kind: OrgKind,
    parent: Option<&Org>,
    school: Option<&SchoolFacts>,
) -> StoreResult<()> {
    if !kind.may_have_parent(parent.map(|p| p.kind)) {
        return Err(StoreError::Invalid("org_parent_kind"));
    }
    match (kind, school) {
        (OrgKind::School, None) => Err(StoreError::Invalid("school_facts_required")),
        (OrgKind::School, Some(f)) => f
            .validate()
            .map_err(|_| StoreError::Invalid("school_facts")),
        (_, Some(_)) => Err(StoreError::Invalid("school_facts_not_allowed")),
        _ => Ok(()),
    }
}

/// Creates a node under a parent inside `scope`. A root bureau needs the whole-tree scope.
#[tracing::instrument(skip_all)]
pub async fn create(db: &Db, actor: &Actor, scope: &Scope, new: NewOrg) -> StoreResult<Org> {
    let parent = match new.parent_id {
        Some(pid) => Some(
            get(db, scope, pid)
                .await
                .map_err(|_| StoreError::Invalid("org_parent"))?,
        ),
        None if scope.contains("/") => None,
        None => return Err(StoreError::Forbidden("org_root")),
    };
    check_shape(new.kind, parent.as_ref(), new.school.as_ref())?;
    let now = now_millis();
    let f = new.school.clone();
    let mut tx = db.begin_write().await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO orgs (kind, code, name, parent_id, path, school_type, address, latitude_e6, longitude_e6, \
         students, staff, boarding, canteen, buses, labs, special_equipment, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, '/', $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16) RETURNING id",
    )
    .bind(new.kind.code().to_string())
    .bind(new.code.as_str().to_string())
    .bind(new.name.as_str().to_string())
    .bind(new.parent_id)
    .bind(f.as_ref().map(|f| f.school_type.code().to_string()))
    .bind(f.as_ref().map(|f| f.address.clone()).unwrap_or_default())
    .bind(f.as_ref().and_then(|f| f.latitude).map(to_e6))
    .bind(f.as_ref().and_then(|f| f.longitude).map(to_e6))
    .bind(f.as_ref().map_or(0, |f| f.students))
    .bind(f.as_ref().map_or(0, |f| f.staff))
    .bind(f.as_ref().is_some_and(|f| f.boarding) as i64)
    .bind(f.as_ref().is_some_and(|f| f.canteen) as i64)
    .bind(f.as_ref().is_some_and(|f| f.buses) as i64)
    .bind(f.as_ref().is_some_and(|f| f.labs) as i64)
    .bind(f.as_ref().is_some_and(|f| f.special_equipment) as i64)
    .bind(now)
    .fetch_one(&mut *tx)
    .await
    .map_err(unique_as("org_code_taken"))?;
    let path = child_path(parent.as_ref().map(|p| p.path.as_str()), id);
    sqlx::query("UPDATE orgs SET path = $1 WHERE id = $2")
        .bind(path.clone())
        .bind(id)
        .execute(&mut *tx)
        .await?;
    if let Some(f) = &f {
        insert_facts(&mut tx, id, None, f, false, &actor.login, now).await?;
    }
    let detail = serde_json::json!({"kind": new.kind, "code": new.code, "name": new.name, "parent_id": new.parent_id});
    audit::append(&mut tx, actor, Event::ok("org.create", "org", id, detail)).await?;
    tx.commit().await?;
    get_unscoped(db, id).await
}

/// Changes to a node; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct OrgPatch {
    pub name: Option<Name>,
    pub code: Option<Code>,
    /// Moves the node (and everything under it) to a new parent.
    pub parent_id: Option<i64>,
    pub school: Option<SchoolFacts>,
    /// The first day new school facts apply (required when the type, a head count or a fact
    /// changes, unless `correction`): periods due before it keep the facts they had. Not
    /// before the day the version in force began; a change on that same day replaces it.
    pub effective_from: Option<NaiveDate>,
    /// The new facts correct a data-entry mistake: they replace the version in force from
    /// its own first day (from the start, for a school whose facts never changed), which
    /// rewrites the periods it covered. Kept in the history and audited as a correction.
    pub correction: bool,
}

/// Edits or moves a node inside `scope`. A move takes effect for access at once: the
/// node's and its descendants' paths are rewritten in the same transaction. Changed school
/// facts become a new version in the school's history (or, with `correction`, replace the
/// one in force), and the school's measures under the active plan are rebuilt with them in
/// the same transaction.
#[tracing::instrument(skip_all, fields(id))]
pub async fn update(
    db: &Db,
    actor: &Actor,
    scope: &Scope,
    id: i64,
    patch: OrgPatch,
) -> StoreResult<Org> {
    let org = get(db, scope, id).await?;
    let new_parent = match patch.parent_id {
        Some(pid) if Some(pid) != org.parent_id => {
            let p = get(db, scope, pid)
                .await
                .map_err(|_| StoreError::Invalid("org_parent"))?;
            if p.path.starts_with(&org.path) {
                return Err(StoreError::Invalid("org_parent_cycle"));
            }
            Some(p)
        }
        _ => None,
    };
    if new_parent.is_some() {
        check_shape(org.kind, new_parent.as_ref(), org.school.as_ref())?;
    }
    if let Some(f) = &patch.school {
        if org.kind != OrgKind::School {
            return Err(StoreError::Invalid("school_facts_not_allowed"));
        }
        f.validate()
            .map_err(|_| StoreError::Invalid("school_facts"))?;
    }
    let change = match (&patch.school, &org.school) {
        (Some(new), Some(old)) if new.differs_for_duties(old) => Some(new.clone()),
        _ => None,
    };
    let effective_from = match (&change, patch.correction) {
        (Some(_), false) => Some(
            patch
                .effective_from
                .ok_or(StoreError::Invalid("school_facts_effective_from"))?,
        ),
        _ => None,
    };
    // What the school's measures are rebuilt against, read before the write transaction.
    let active = match &change {
        Some(_) => match crate::plans::active(db).await? {
            Some(p) => Some((p, crate::calendar::load(db).await?)),
            None => None,
        },
        None => None,
    };
    let now = now_millis();
    let mut tx = db.begin_write().await?;
    let mut replaced = None;
    if let (Some(new), Some(old)) = (&change, &org.school) {
        let backend = backend_of(&tx);
        let rows = facts_rows(&mut tx, backend, Some(&[id])).await?;
        if rows.is_empty() {
            // A school entered before its history was kept: its facts so far, from the start.
            insert_facts(&mut tx, id, None, old, false, &actor.login, now).await?;
        }
        let latest = rows.last().map(|r| r.from()).unwrap_or(None);
        let from = match effective_from {
            None => latest,
            Some(d) if latest.is_some_and(|l| d < l) => {
                return Err(StoreError::Invalid("school_facts_effective_order"));
            }
            Some(d) => Some(d),
        };
        if patch.correction {
            replaced = Some(old.clone());
        }
        insert_facts(&mut tx, id, from, new, patch.correction, &actor.login, now).await?;
    }
    if let Some(name) = &patch.name {
        sqlx::query("UPDATE orgs SET name = $1, updated_at = $2 WHERE id = $3")
            .bind(name.as_str().to_string())
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    if let Some(code) = &patch.code {
        sqlx::query("UPDATE orgs SET code = $1, updated_at = $2 WHERE id = $3")
            .bind(code.as_str().to_string())
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(unique_as("org_code_taken"))?;
    }
    if let Some(f) = &patch.school {
        sqlx::query(
            "UPDATE orgs SET school_type = $1, address = $2, latitude_e6 = $3, longitude_e6 = $4, students = $5, \
             staff = $6, boarding = $7, canteen = $8, buses = $9, labs = $10, special_equipment = $11, \
             updated_at = $12 WHERE id = $13",
        )
        .bind(f.school_type.code().to_string())
        .bind(f.address.clone())
        .bind(f.latitude.map(to_e6))
        .bind(f.longitude.map(to_e6))
        .bind(f.students)
        .bind(f.staff)
        .bind(f.boarding as i64)
        .bind(f.canteen as i64)
        .bind(f.buses as i64)
        .bind(f.labs as i64)
        .bind(f.special_equipment as i64)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    }
    if let Some(p) = &new_parent {
        let new_path = child_path(Some(&p.path), id);
        sqlx::query(
            "UPDATE orgs SET path = $1 || SUBSTR(path, CAST($2 AS INTEGER)), updated_at = $3 WHERE path LIKE $4",
        )
        .bind(new_path)
        .bind(org.path.len() as i64 + 1)
        .bind(now)
        .bind(format!("{}%", org.path))
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE orgs SET parent_id = $1 WHERE id = $2")
            .bind(p.id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    if let (Some(_), Some((plan, calendar))) = (&change, &active) {
        let backend = backend_of(&tx);
        let updated = get_in(&mut tx, backend, id).await?;
        let history = histories(&mut tx, backend, Some(&[id])).await?;
        let history = history_of(&updated, &history);
        crate::compliance::refresh_org(&mut tx, plan, calendar, &updated, history.as_ref()).await?;
    }
    let detail = serde_json::json!({
        "name": patch.name, "code": patch.code, "parent_id": new_parent.as_ref().map(|p| p.id),
        "from_parent_id": new_parent.as_ref().and(org.parent_id), "school": patch.school,
        "effective_from": effective_from, "correction": change.is_some() && patch.correction,
        "replaced": replaced,
    });
    audit::append(&mut tx, actor, Event::ok("org.update", "org", id, detail)).await?;
    tx.commit().await?;
    get_unscoped(db, id).await
}

/// The backend of a connection.
pub(crate) fn backend_of(conn: &AnyConnection) -> Backend {
    if conn.backend_name().eq_ignore_ascii_case("postgresql") {
        Backend::Postgres
    } else {
        Backend::Sqlite
    }
}

async fn get_in(conn: &mut AnyConnection, backend: Backend, id: i64) -> StoreResult<Org> {
    let mut sql = Sql::new(backend, "SELECT ");
    sql.push(COLUMNS).push(" FROM orgs WHERE id = ").bind(id);
    let (text, args) = sql.build();
    let row: Option<Row> = sqlx::query_as_with(text, args)
        .fetch_optional(&mut *conn)
        .await?;
    row.ok_or(StoreError::NotFound)?.into_org()
}

mod facts;
pub use facts::{FactsEntry, facts_histories, facts_history};
use facts::{facts_rows, insert_facts};
pub(crate) use facts::{histories, history_of};
