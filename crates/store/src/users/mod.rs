//! Accounts, role assignments and the scopes they give; passwords and sign-in live in
//! [`passwords`].

use crate::audit::{self, Event};
use crate::error::unique_as;
use crate::sql::Sql;
use crate::{Db, StoreError, StoreResult, tokens};

mod passwords;

pub use passwords::{
    GLOBAL_LOCKOUT_FACTOR, Lockout, ONE_TIME_PASSWORD_MS, Origin, check_password,
    generate_password, hash_password, set_password, sign_in,
};
use serde::Serialize;
use sqlx::FromRow;
use xiaoan_domain::audit::Actor;
use xiaoan_domain::permission::may_grant;
use xiaoan_domain::scope::Assignment;
use xiaoan_domain::text::{Login, Name};
use xiaoan_domain::{Millis, OrgKind, Role, Scope, now_millis};

/// One role held at one org node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RoleAt {
    pub role: Role,
    pub org_id: i64,
}

/// An account as callers see it (never the hash).
#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub id: i64,
    pub login: String,
    pub display_name: String,
    pub org_id: i64,
    pub disabled: bool,
    pub must_change_password: bool,
    pub roles: Vec<RoleAt>,
    #[serde(skip)]
    pub password_changed_at: Millis,
    pub last_login_at: Option<Millis>,
}

#[derive(FromRow)]
struct Row {
    id: i64,
    login: String,
    display_name: String,
    org_id: i64,
    disabled: i64,
    must_change_password: i64,
    password_changed_at: i64,
    last_login_at: Option<i64>,
}

const COLUMNS: &str = "u.id, u.login, u.display_name, u.org_id, u.disabled, u.must_change_password, u.password_changed_at, u.last_login_at";

async fn roles_of(db: &Db, user_ids: &[i64]) -> StoreResult<Vec<(i64, RoleAt)>> {
    if user_ids.is_empty() {
        return Ok(vec![]);
    }
    let mut sql = Sql::new(
        db.backend(),
        "SELECT user_id, role, org_id FROM role_assignments WHERE user_id IN ",
    );
    sql.list(user_ids.iter().copied())
        .push(" ORDER BY user_id, id");
    let (text, args) = sql.build();
    let rows: Vec<(i64, String, i64)> =
        sqlx::query_as_with(text, args).fetch_all(db.pool()).await?;
    Ok(rows
        .into_iter()
        .filter_map(|(u, r, o)| Role::from_code(&r).map(|role| (u, RoleAt { role, org_id: o })))
        .collect())
}

async fn with_roles(db: &Db, rows: Vec<Row>) -> StoreResult<Vec<User>> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut roles = roles_of(db, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|r| User {
            id: r.id,
            roles: roles
                .extract_if(.., |(u, _)| *u == r.id)
                .map(|(_, ra)| ra)
                .collect(),
            login: r.login,
            display_name: r.display_name,
            org_id: r.org_id,
            disabled: r.disabled != 0,
            must_change_password: r.must_change_password != 0,
            password_changed_at: r.password_changed_at,
            last_login_at: r.last_login_at,
        })
        .collect())
}

/// A user by id, without any scope check: for the signed-in user's own session only.
#[tracing::instrument(skip_all, fields(id))]
pub async fn get_self(db: &Db, id: i64) -> StoreResult<User> {
    let mut sql = Sql::new(db.backend(), "SELECT ");
    sql.push(COLUMNS)
        .push(" FROM users u WHERE u.id = ")
        .bind(id);
    let (text, args) = sql.build();
    let rows: Vec<Row> = sqlx::query_as_with(text, args).fetch_all(db.pool()).await?;
    with_roles(db, rows)
        .await?
        .pop()
        .ok_or(StoreError::NotFound)
}

/// Filters for [`list`].
#[derive(Debug, Default, Clone)]
pub struct UserFilter {
    pub org_id: Option<i64>,
    pub q: Option<String>,
    pub include_disabled: bool,
}

/// The users whose home org lies inside `scope`.
#[tracing::instrument(skip_all)]
pub async fn list(db: &Db, scope: &Scope, filter: &UserFilter) -> StoreResult<Vec<User>> {
    let mut sql = Sql::new(db.backend(), "SELECT ");
    sql.push(COLUMNS)
        .push(" FROM users u JOIN orgs o ON o.id = u.org_id WHERE ")
        .scope("o.path", scope);
    if let Some(org) = filter.org_id {
        sql.push(" AND u.org_id = ").bind(org);
    }
    if !filter.include_disabled {
        sql.push(" AND u.disabled = 0");
    }
    if let Some(q) = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        sql.push(" AND ")
            .contains(&["u.login", "u.display_name"], q);
    }
    sql.push(" ORDER BY o.path, u.login");
    let (text, args) = sql.build();
    let rows: Vec<Row> = sqlx::query_as_with(text, args).fetch_all(db.pool()).await?;
    with_roles(db, rows).await
}

/// A user by login, if their home org lies inside `scope`.
#[tracing::instrument(skip_all)]
pub async fn by_login(db: &Db, scope: &Scope, login: &str) -> StoreResult<User> {
    let mut sql = Sql::new(db.backend(), "SELECT ");
    sql.push(COLUMNS)
        .push(" FROM users u JOIN orgs o ON o.id = u.org_id WHERE u.login = ")
        .bind(login.to_lowercase())
        .push(" AND ")
        .scope("o.path", scope);
    let (text, args) = sql.build();
    let rows: Vec<Row> = sqlx::query_as_with(text, args).fetch_all(db.pool()).await?;
    with_roles(db, rows)
        .await?
        .pop()
        .ok_or(StoreError::NotFound)
}

/// The role assignments of a user with the org facts the scope computation needs.
#[tracing::instrument(skip_all, fields(user_id))]
pub async fn assignments(db: &Db, user_id: i64) -> StoreResult<Vec<Assignment>> {
    let rows: Vec<(String, i64, String, String, Option<String>)> = sqlx::query_as(
        "SELECT ra.role, o.id, o.kind, o.path, p.path FROM role_assignments ra \
         JOIN orgs o ON o.id = ra.org_id LEFT JOIN orgs p ON p.id = o.parent_id \
         WHERE ra.user_id = $1 ORDER BY ra.id",
    )
    .bind(user_id)
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(role, org_id, kind, org_path, parent_path)| {
            Some(Assignment {
                role: Role::from_code(&role)?,
                org_id,
                org_kind: OrgKind::from_code(&kind)?,
                org_path,
                parent_path,
            })
        })
        .collect())
}

/// An account to create.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub login: Login,
    pub display_name: Name,
    pub org_id: i64,
    /// `None` generates a one-time password that must be changed at first sign-in.
    pub password_hash: Option<String>,
    pub must_change_password: bool,
    pub roles: Vec<RoleAt>,
}

/// Checks that every role may be held at its org, that the org lies inside `scope`, and
/// that the actor may grant it.
async fn check_roles(
    db: &Db,
    scope: &Scope,
    actor_roles: &[Role],
    roles: &[RoleAt],
) -> StoreResult<()> {
    for ra in roles {
        let org = crate::orgs::get(db, scope, ra.org_id)
            .await
            .map_err(|_| StoreError::Invalid("role_org"))?;
        if !ra.role.assignable_at().contains(&org.kind) {
            return Err(StoreError::Invalid("role_org_kind"));
        }
        if !may_grant(actor_roles, ra.role) {
            return Err(StoreError::Forbidden("role_grant"));
        }
    }
    Ok(())
}

async fn insert_roles(
    conn: &mut sqlx::AnyConnection,
    user_id: i64,
    roles: &[RoleAt],
) -> StoreResult<()> {
    for ra in roles {
        sqlx::query("INSERT INTO role_assignments (user_id, role, org_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
            .bind(user_id)
            .bind(ra.role.code().to_string())
            .bind(ra.org_id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Creates an account inside `scope`. Returns the user and, when none was given, the
/// one-time password to hand over.
#[tracing::instrument(skip_all)]
pub async fn create(
    db: &Db,
    actor: &Actor,
    actor_roles: &[Role],
    scope: &Scope,
    new: NewUser,
) -> StoreResult<(User, Option<String>)> {
    crate::orgs::get(db, scope, new.org_id)
        .await
        .map_err(|_| StoreError::Invalid("user_org"))?;
    check_roles(db, scope, actor_roles, &new.roles).await?;
    let (hash, one_time) = match new.password_hash {
        Some(h) => (h, None),
        None => {
            let pw = generate_password();
            (hash_password(&pw)?, Some(pw))
        }
    };
    let must_change = new.must_change_password || one_time.is_some();
    let now = now_millis();
    let mut tx = db.begin_write().await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO users (login, display_name, org_id, password_hash, must_change_password, \
         password_expires_at, password_changed_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $7, $6, $6, $6) RETURNING id",
    )
    .bind(new.login.as_str().to_string())
    .bind(new.display_name.as_str().to_string())
    .bind(new.org_id)
    .bind(hash)
    .bind(must_change as i64)
    .bind(now)
    .bind(one_time.as_ref().map(|_| now + ONE_TIME_PASSWORD_MS))
    .fetch_one(&mut *tx)
    .await
    .map_err(unique_as("login_taken"))?;
    insert_roles(&mut tx, id, &new.roles).await?;
    let detail = serde_json::json!({"login": new.login, "org_id": new.org_id, "roles": new.roles});
    audit::append(&mut tx, actor, Event::ok("user.create", "user", id, detail)).await?;
    tx.commit().await?;
    Ok((get_self(db, id).await?, one_time))
}

/// Changes to an account; `None` leaves a part as it is.
#[derive(Debug, Clone, Default)]
pub struct UserChange {
    pub display_name: Option<Name>,
    pub org_id: Option<i64>,
    /// Replaces every role assignment.
    pub roles: Option<Vec<RoleAt>>,
    pub disabled: Option<bool>,
}

/// Applies every part of `change` to the account `login` inside `scope`, in one
/// transaction: all parts are checked first, and either all take effect or none does. The
/// actor must be allowed to manage the account and to grant every role added or removed;
/// disabling ends the account's sessions and tokens. Takes effect on the user's next request.
#[tracing::instrument(skip_all)]
pub async fn update(
    db: &Db,
    actor: &Actor,
    actor_roles: &[Role],
    scope: &Scope,
    login: &str,
    change: UserChange,
) -> StoreResult<User> {
    let user = by_login(db, scope, login).await?;
    ensure_manageable(actor_roles, &user)?;
    if let Some(org) = change.org_id {
        crate::orgs::get(db, scope, org)
            .await
            .map_err(|_| StoreError::Invalid("user_org"))?;
    }
    let role_diff = match &change.roles {
        Some(roles) => {
            let removed: Vec<RoleAt> = user
                .roles
                .iter()
                .filter(|r| !roles.contains(r))
                .copied()
                .collect();
            let added: Vec<RoleAt> = roles
                .iter()
                .filter(|r| !user.roles.contains(r))
                .copied()
                .collect();
            check_roles(db, scope, actor_roles, &added).await?;
            check_roles(db, scope, actor_roles, &removed).await?;
            Some((added, removed))
        }
        None => None,
    };
    if change.disabled == Some(true) && Some(user.id) == actor.user_id {
        return Err(StoreError::Invalid("disable_self"));
    }
    let now = now_millis();
    let mut tx = db.begin_write().await?;
    if change.display_name.is_some() || change.org_id.is_some() {
        sqlx::query(
            "UPDATE users SET display_name = COALESCE($1, display_name), org_id = COALESCE($2, org_id), \
             updated_at = $3 WHERE id = $4",
        )
        .bind(change.display_name.as_ref().map(|n| n.as_str().to_string()))
        .bind(change.org_id)
        .bind(now)
        .bind(user.id)
        .execute(&mut *tx)
        .await?;
        let detail =
            serde_json::json!({"display_name": change.display_name, "org_id": change.org_id});
        audit::append(
            &mut tx,
            actor,
            Event::ok("user.update", "user", user.id, detail),
        )
        .await?;
    }
    if let (Some(roles), Some((added, removed))) = (&change.roles, role_diff) {
        sqlx::query("DELETE FROM role_assignments WHERE user_id = $1")
            .bind(user.id)
            .execute(&mut *tx)
            .await?;
        insert_roles(&mut tx, user.id, roles).await?;
        let detail = serde_json::json!({"added": added, "removed": removed});
        audit::append(
            &mut tx,
            actor,
            Event::ok("user.roles", "user", user.id, detail),
        )
        .await?;
    }
    if let Some(disabled) = change.disabled {
        sqlx::query("UPDATE users SET disabled = $1, failed_logins = 0, locked_until = 0, updated_at = $2 WHERE id = $3")
            .bind(disabled as i64)
            .bind(now)
            .bind(user.id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM login_failures WHERE user_id = $1")
            .bind(user.id)
            .execute(&mut *tx)
            .await?;
        if disabled {
            tokens::revoke_all(&mut tx, user.id).await?;
        }
        let action = if disabled {
            "user.disable"
        } else {
            "user.enable"
        };
        audit::append(
            &mut tx,
            actor,
            Event::ok(action, "user", user.id, serde_json::json!({})),
        )
        .await?;
    }
    tx.commit().await?;
    get_self(db, user.id).await
}

/// Replaces a user's role assignments (see [`update`]).
#[tracing::instrument(skip_all)]
pub async fn set_roles(
    db: &Db,
    actor: &Actor,
    actor_roles: &[Role],
    scope: &Scope,
    login: &str,
    roles: Vec<RoleAt>,
) -> StoreResult<User> {
    let change = UserChange {
        roles: Some(roles),
        ..UserChange::default()
    };
    update(db, actor, actor_roles, scope, login, change).await
}

/// An actor may manage an account only if they could grant every role it holds: a
/// principal cannot disable, rename or re-role an administrator homed at their school.
pub fn ensure_manageable(actor_roles: &[Role], user: &User) -> StoreResult<()> {
    if user.roles.iter().all(|r| may_grant(actor_roles, r.role)) {
        Ok(())
    } else {
        Err(StoreError::Forbidden("role_grant"))
    }
}

/// Changes a user's display name and home org inside `scope` (see [`update`]).
#[tracing::instrument(skip_all)]
pub async fn update_profile(
    db: &Db,
    actor: &Actor,
    actor_roles: &[Role],
    scope: &Scope,
    login: &str,
    display_name: Option<Name>,
    org_id: Option<i64>,
) -> StoreResult<User> {
    let change = UserChange {
        display_name,
        org_id,
        ..UserChange::default()
    };
    update(db, actor, actor_roles, scope, login, change).await
}

/// Disables or re-enables an account inside `scope` (see [`update`]). Disabling ends its
/// sessions and tokens.
#[tracing::instrument(skip_all)]
pub async fn set_disabled(
    db: &Db,
    actor: &Actor,
    actor_roles: &[Role],
    scope: &Scope,
    login: &str,
    disabled: bool,
) -> StoreResult<User> {
    let change = UserChange {
        disabled: Some(disabled),
        ..UserChange::default()
    };
    update(db, actor, actor_roles, scope, login, change).await
}

/// How many accounts exist (0 on a fresh install).
#[tracing::instrument(skip_all)]
pub async fn count(db: &Db) -> StoreResult<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(db.pool())
        .await?)
}

/// The id of the (enabled) account with this login, without any scope: only for checks that
/// then confirm membership of a school (e.g. naming a hazard's owner).
#[tracing::instrument(skip_all)]
pub async fn id_by_login(db: &Db, login: &str) -> StoreResult<Option<i64>> {
    Ok(
        sqlx::query_scalar("SELECT id FROM users WHERE login = $1 AND disabled = 0")
            .bind(login.trim().to_lowercase())
            .fetch_optional(db.pool())
            .await?,
    )
}

/// The signed-in user and their role assignments, read together for every request (two
/// queries; the roles come from the assignments).
#[tracing::instrument(skip_all, fields(id))]
pub async fn signed_in(db: &Db, id: i64) -> StoreResult<(User, Vec<Assignment>)> {
    let mut sql = Sql::new(db.backend(), "SELECT ");
    sql.push(COLUMNS)
        .push(" FROM users u WHERE u.id = ")
        .bind(id);
    let (text, args) = sql.build();
    let row: Option<Row> = sqlx::query_as_with(text, args)
        .fetch_optional(db.pool())
        .await?;
    let r = row.ok_or(StoreError::NotFound)?;
    let assignments = assignments(db, id).await?;
    let user = User {
        id: r.id,
        roles: assignments
            .iter()
            .map(|a| RoleAt {
                role: a.role,
                org_id: a.org_id,
            })
            .collect(),
        login: r.login,
        display_name: r.display_name,
        org_id: r.org_id,
        disabled: r.disabled != 0,
        must_change_password: r.must_change_password != 0,
        password_changed_at: r.password_changed_at,
        last_login_at: r.last_login_at,
    };
    Ok((user, assignments))
}
