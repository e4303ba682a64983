//! Campaign plan versions. Loading the same plan twice changes nothing; a changed plan
//! becomes a new version of its code and the active plan, while the measures computed for
//! earlier versions stay as they were.

use crate::audit::{self, Event};
use crate::{Db, StoreError, StoreResult};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::FromRow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use xiaoan_domain::audit::Actor;
use xiaoan_domain::plan::Plan;
use xiaoan_domain::{Millis, now_millis};

/// A loaded plan version.
#[derive(Debug, Clone, Serialize)]
pub struct StoredPlan {
    pub id: i64,
    pub code: String,
    pub version: i64,
    pub sha256: String,
    pub active: bool,
    pub loaded_at: Millis,
    pub loaded_by: String,
    #[serde(skip)]
    pub plan: Arc<Plan>,
}

/// What loading did.
#[derive(Debug, Clone)]
pub enum LoadOutcome {
    /// The same plan was already the active version.
    Unchanged(StoredPlan),
    /// The same plan existed as an earlier version and is active again.
    Reactivated(StoredPlan),
    /// A new version was stored and made active.
    Loaded(StoredPlan),
}

impl LoadOutcome {
    /// The version concerned.
    pub fn plan(&self) -> &StoredPlan {
        match self {
            LoadOutcome::Unchanged(p) | LoadOutcome::Reactivated(p) | LoadOutcome::Loaded(p) => p,
        }
    }
}

#[derive(FromRow)]
struct Row {
    id: i64,
    code: String,
    version: i64,
    sha256: String,
    active: i64,
    loaded_at: i64,
    loaded_by: String,
}

const COLUMNS: &str = "id, code, version, sha256, active, loaded_at, loaded_by";

/// Parsed plans by content hash: versions never change, so a plan is parsed once per process.
fn cache() -> &'static Mutex<HashMap<String, Arc<Plan>>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<Plan>>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

async fn model(db: &Db, r: &Row) -> StoreResult<Arc<Plan>> {
    if let Some(p) = cache().lock().ok().and_then(|c| c.get(&r.sha256).cloned()) {
        return Ok(p);
    }
    let json: String = sqlx::query_scalar("SELECT model FROM plans WHERE id = $1")
        .bind(r.id)
        .fetch_one(db.pool())
        .await?;
    let plan: Plan = serde_json::from_str(&json)
        .map_err(|e| StoreError::Internal(format!("stored plan {} unreadable: {e}", r.id)))?;
    let plan = Arc::new(plan);
    if let Ok(mut c) = cache().lock() {
        c.insert(r.sha256.clone(), plan.clone());
    }
    Ok(plan)
}

async fn stored(db: &Db, r: Row) -> StoreResult<StoredPlan> {
    let plan = model(db, &r).await?;
    Ok(StoredPlan {
        id: r.id,
        code: r.code,
        version: r.version,
        sha256: r.sha256,
        active: r.active != 0,
        loaded_at: r.loaded_at,
        loaded_by: r.loaded_by,
        plan,
    })
}

/// The content hash of a checked plan.
pub fn hash(plan: &Plan) -> StoreResult<String> {
    let json = serde_json::to_string(plan).map_err(|e| StoreError::Internal(e.to_string()))?;
    Ok(hex::encode(Sha256::digest(json.as_bytes())))
}

/// Stores `plan` (checked, as parsed from `source`) and makes it the active plan.
#[tracing::instrument(skip_all)]
pub async fn load(db: &Db, actor: &Actor, plan: &Plan, source: &str) -> StoreResult<LoadOutcome> {
    let sha = hash(plan)?;
    let json = serde_json::to_string(plan).map_err(|e| StoreError::Internal(e.to_string()))?;
    let mut tx = db.begin_write().await?;
    let mut sql = crate::sql::Sql::new(db.backend(), "SELECT ");
    sql.push(COLUMNS)
        .push(" FROM plans WHERE code = ")
        .bind(plan.code.clone())
        .push(" AND sha256 = ")
        .bind(sha.clone());
    let (text, args) = sql.build();
    let existing: Option<Row> = sqlx::query_as_with(text, args)
        .fetch_optional(&mut *tx)
        .await?;
    let (id, outcome): (i64, fn(StoredPlan) -> LoadOutcome) = match existing {
        Some(r) if r.active != 0 => {
            tx.rollback().await?;
            return Ok(LoadOutcome::Unchanged(stored(db, r).await?));
        }
        Some(r) => (r.id, LoadOutcome::Reactivated),
        None => {
            let version: i64 = sqlx::query_scalar(
                "SELECT CAST(COALESCE(MAX(version), 0) + 1 AS BIGINT) FROM plans WHERE code = $1",
            )
            .bind(plan.code.clone())
            .fetch_one(&mut *tx)
            .await?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO plans (code, version, sha256, name, starts_on, ends_on, model, source, active, \
                 loaded_at, loaded_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9, $10) RETURNING id",
            )
            .bind(plan.code.clone())
            .bind(version)
            .bind(sha.clone())
            .bind(plan.name.zh_tw.clone())
            .bind(plan.starts_on.to_string())
            .bind(plan.ends_on.to_string())
            .bind(json)
            .bind(source.to_string())
            .bind(now_millis())
            .bind(actor.login.clone())
            .fetch_one(&mut *tx)
            .await?;
            (id, LoadOutcome::Loaded)
        }
    };
    sqlx::query("UPDATE plans SET active = CASE WHEN id = $1 THEN 1 ELSE 0 END")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let detail = serde_json::json!({"code": plan.code, "sha256": sha, "obligations": plan.obligations.len()});
    audit::append(&mut tx, actor, Event::ok("plan.load", "plan", id, detail)).await?;
    tx.commit().await?;
    Ok(outcome(get(db, id).await?))
}

/// One version by id.
#[tracing::instrument(skip_all, fields(id))]
pub async fn get(db: &Db, id: i64) -> StoreResult<StoredPlan> {
    let mut sql = crate::sql::Sql::new(db.backend(), "SELECT ");
    sql.push(COLUMNS).push(" FROM plans WHERE id = ").bind(id);
    let (text, args) = sql.build();
    let r: Option<Row> = sqlx::query_as_with(text, args)
        .fetch_optional(db.pool())
        .await?;
    stored(db, r.ok_or(StoreError::NotFound)?).await
}

/// The active plan, if one has been loaded.
#[tracing::instrument(skip_all)]
pub async fn active(db: &Db) -> StoreResult<Option<StoredPlan>> {
    let mut sql = crate::sql::Sql::new(db.backend(), "SELECT ");
    sql.push(COLUMNS).push(" FROM plans WHERE active = 1");
    let (text, args) = sql.build();
    let r: Option<Row> = sqlx::query_as_with(text, args)
        .fetch_optional(db.pool())
        .await?;
    match r {
        Some(r) => Ok(Some(stored(db, r).await?)),
        None => Ok(None),
    }
}

/// A version as listed (without its model).
#[derive(Debug, Clone, Serialize)]
pub struct PlanVersion {
    pub id: i64,
    pub code: String,
    pub version: i64,
    pub active: bool,
    pub loaded_at: Millis,
    pub loaded_by: String,
}

/// Every version, newest first.
#[tracing::instrument(skip_all)]
pub async fn list(db: &Db) -> StoreResult<Vec<PlanVersion>> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, code, version, sha256, active, loaded_at, loaded_by FROM plans ORDER BY loaded_at DESC, id DESC",
    )
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| PlanVersion {
            id: r.id,
            code: r.code,
            version: r.version,
            active: r.active != 0,
            loaded_at: r.loaded_at,
            loaded_by: r.loaded_by,
        })
        .collect())
}
