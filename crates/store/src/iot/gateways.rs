//! Gateways: one credential with which a gateway or an existing platform (a video
//! platform's alarm webhook, a building-management system) sends the records of many
//! devices of one school, naming each record's device by its code.

use super::*;

/// Prefix that makes a leaked gateway token recognisable.
pub const GATEWAY_PREFIX: &str = "xg_";

/// A gateway as callers see it.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Gateway {
    pub id: i64,
    pub school_id: i64,
    pub school_name: String,
    #[serde(skip)]
    pub school_path: String,
    #[serde(skip)]
    pub school_code: String,
    pub name: String,
    pub accepted: i64,
    pub last_seen_at: Option<Millis>,
    pub retired_at: Option<Millis>,
    pub created_at: Millis,
}

const GATEWAY: &str = "SELECT g.id, g.school_id, o.name AS school_name, o.path AS school_path, o.code AS school_code, \
     g.name, g.accepted, g.last_seen_at, g.retired_at, g.created_at FROM gateways g JOIN orgs o ON o.id = g.school_id";

/// Registers a gateway at a school in `scope`; returns it and its token, shown this once
/// (only its hash is kept).
pub async fn create_gateway(
    db: &Db,
    actor: &Actor,
    scope: &Scope,
    school_id: i64,
    name: &str,
) -> StoreResult<(Gateway, String)> {
    let school = crate::orgs::get(db, scope, school_id)
        .await
        .map_err(|_| StoreError::Invalid("gateway_school"))?;
    if school.kind != OrgKind::School {
        return Err(StoreError::Invalid("gateway_school"));
    }
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(StoreError::Invalid("gateway_name"));
    }
    let token = new_secret(GATEWAY_PREFIX);
    let now = now_millis();
    let mut tx = db.begin_write().await?;
    let taken: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM gateways WHERE school_id = $1 AND name = $2")
            .bind(school.id)
            .bind(name.to_string())
            .fetch_one(&mut *tx)
            .await?;
    if taken > 0 {
        return Err(StoreError::Conflict("gateway_name_taken"));
    }
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO gateways (school_id, name, token_hash, created_by, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(school.id)
    .bind(name.to_string())
    .bind(hash(&token))
    .bind(actor.user_id)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    audit::append(
        &mut tx,
        actor,
        AuditEvent::ok(
            "gateway.create",
            "gateway",
            id,
            serde_json::json!({"school_id": school.id, "name": name}),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok((get_gateway(db, scope, id).await?, token))
}

/// Gateways of schools in `scope`, at one school when given; retired ones last.
pub async fn list_gateways(
    db: &Db,
    scope: &Scope,
    school_id: Option<i64>,
) -> StoreResult<Vec<Gateway>> {
    let mut sql = Sql::new(db.backend(), GATEWAY);
    sql.push(" WHERE ").scope("o.path", scope);
    if let Some(s) = school_id {
        sql.push(" AND g.school_id = ").bind(s);
    }
    sql.push(
        " ORDER BY CASE WHEN g.retired_at IS NULL THEN 0 ELSE 1 END, o.path, g.name LIMIT 1000",
    );
    let (text, args) = sql.build();
    Ok(sqlx::query_as_with(text, args).fetch_all(db.pool()).await?)
}

/// One gateway of a school in `scope`.
pub async fn get_gateway(db: &Db, scope: &Scope, id: i64) -> StoreResult<Gateway> {
    let mut sql = Sql::new(db.backend(), GATEWAY);
    sql.push(" WHERE g.id = ")
        .bind(id)
        .push(" AND ")
        .scope("o.path", scope);
    let (text, args) = sql.build();
    sqlx::query_as_with(text, args)
        .fetch_optional(db.pool())
        .await?
        .ok_or(StoreError::NotFound)
}

/// The gateway in service whose token this is.
pub async fn gateway_by_token(db: &Db, token: &str) -> StoreResult<Option<Gateway>> {
    let mut sql = Sql::new(db.backend(), GATEWAY);
    sql.push(" WHERE g.retired_at IS NULL AND g.token_hash = ")
        .bind(hash(token.trim()));
    let (text, args) = sql.build();
    Ok(sqlx::query_as_with(text, args)
        .fetch_optional(db.pool())
        .await?)
}

/// Counts what a gateway delivered.
pub async fn gateway_heard(db: &Db, id: i64, accepted: usize, now: Millis) -> StoreResult<()> {
    let mut tx = db.begin_write().await?;
    sqlx::query("UPDATE gateways SET accepted = accepted + $1, last_seen_at = $2 WHERE id = $3")
        .bind(i64::try_from(accepted).unwrap_or(0))
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Retires a gateway: its token stops working at once; its devices keep theirs.
pub async fn retire_gateway(
    db: &Db,
    actor: &Actor,
    scope: &Scope,
    id: i64,
) -> StoreResult<Gateway> {
    let g = get_gateway(db, scope, id).await?;
    if g.retired_at.is_some() {
        return Err(StoreError::Conflict("gateway_retired"));
    }
    let mut tx = db.begin_write().await?;
    sqlx::query("UPDATE gateways SET retired_at = $1 WHERE id = $2 AND retired_at IS NULL")
        .bind(now_millis())
        .bind(id)
        .execute(&mut *tx)
        .await?;
    audit::append(
        &mut tx,
        actor,
        AuditEvent::ok("gateway.retire", "gateway", id, serde_json::json!({})),
    )
    .await?;
    tx.commit().await?;
    get_gateway(db, scope, id).await
}
