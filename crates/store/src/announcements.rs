//! Announcements (migration 0011): the bureau or a centre publishes to the people of the
//! schools under it (all of them, or holders of chosen roles); each recipient is listed
//! when it is published, so the issuer sees who has not read it.

use crate::audit::{self, Event as AuditEvent};
use crate::notify::{self, Intent};
use crate::sql::Sql;
use crate::{Db, StoreError, StoreResult};
use serde::Serialize;
use sqlx::AnyConnection;
use xiaoan_domain::audit::Actor;
use xiaoan_domain::notify::Event as NotifyEvent;
use xiaoan_domain::{Millis, OrgKind, Role, Scope, now_millis};

/// An announcement.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Announcement {
    pub id: i64,
    pub org_id: i64,
    pub org_name: String,
    pub title: String,
    pub body: String,
    /// The roles it went to; empty for everyone at the schools.
    pub roles: Vec<Role>,
    pub created_at: Millis,
    pub recipients: i64,
    pub read: i64,
    /// For the reader: when they acknowledged it.
    pub read_at: Option<Millis>,
}

/// A recipient and whether they read it.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Reader {
    pub user_id: i64,
    pub login: String,
    pub display_name: String,
    pub org_name: String,
    pub read_at: Option<Millis>,
}

/// An announcement to publish.
#[derive(Debug, Clone)]
pub struct NewAnnouncement {
    pub org_id: i64,
    pub title: String,
    pub body: String,
    pub roles: Vec<Role>,
}

type Row = (
    i64,
    i64,
    String,
    String,
    String,
    String,
    Millis,
    i64,
    i64,
    Option<Millis>,
);

fn announcement(r: Row) -> Announcement {
    let roles: Vec<String> = serde_json::from_str(&r.5).unwrap_or_default();
    Announcement {
        id: r.0,
        org_id: r.1,
        org_name: r.2,
        title: r.3,
        body: r.4,
        roles: roles.iter().filter_map(|c| Role::from_code(c)).collect(),
        created_at: r.6,
        recipients: r.7,
        read: r.8,
        read_at: r.9,
    }
}

const SELECT: &str = "SELECT a.id, a.org_id, o.name, a.title, a.body, a.roles, a.created_at, \
     (SELECT COUNT(*) FROM announcement_recipients r WHERE r.announcement_id = a.id), \
     (SELECT COUNT(*) FROM announcement_recipients r WHERE r.announcement_id = a.id AND r.read_at IS NOT NULL), \
     (SELECT r.read_at FROM announcement_recipients r WHERE r.announcement_id = a.id AND r.user_id = ";

/// Publishes from an org in `scope` (the publisher's AnnouncementPublish scope) to the
/// enabled users of the schools under it holding one of `roles` (anyone there when empty).
pub async fn publish(
    db: &Db,
    actor: &Actor,
    user_id: i64,
    scope: &Scope,
    new: &NewAnnouncement,
) -> StoreResult<Announcement> {
    let org = crate::orgs::get(db, scope, new.org_id)
        .await
        .map_err(|_| StoreError::Invalid("announcement_org"))?;
    if org.kind == OrgKind::School {
        return Err(StoreError::Invalid("announcement_org"));
    }
    let reach = if org.kind == OrgKind::Section {
        match org.parent_id {
            Some(p) => crate::orgs::get_unscoped(db, p).await?.path,
            None => org.path.clone(),
        }
    } else {
        org.path.clone()
    };
    let mut tx = db.begin_write().await?;
    let id = publish_on(
        &mut tx,
        db.backend(),
        actor,
        user_id,
        (&org, &reach),
        new,
        None,
    )
    .await?;
    tx.commit().await?;
    get(db, user_id, scope, id).await
}

/// Writes an announcement from `org` to the schools under `reach` in the caller's
/// transaction (a circular goes out with the notice it publishes); its id.
pub(crate) async fn publish_on(
    tx: &mut AnyConnection,
    backend: crate::Backend,
    actor: &Actor,
    user_id: i64,
    (org, reach): (&crate::orgs::Org, &str),
    new: &NewAnnouncement,
    supervision_id: Option<i64>,
) -> StoreResult<i64> {
    let now = now_millis();
    let roles: Vec<&str> = new.roles.iter().map(|r| r.code()).collect();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO announcements (org_id, title, body, roles, supervision_id, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(org.id)
    .bind(new.title.clone())
    .bind(new.body.clone())
    .bind(serde_json::json!(roles).to_string())
    .bind(supervision_id)
    .bind(user_id)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    let mut sql = Sql::new(
        backend,
        "INSERT INTO announcement_recipients (announcement_id, user_id) SELECT DISTINCT ",
    );
    sql.bind(id).push(
        ", u.id FROM users u JOIN orgs o ON o.id = u.org_id WHERE u.disabled = 0 AND o.kind = 'school' AND ",
    );
    sql.scope("o.path", &Scope::subtree(reach));
    if !new.roles.is_empty() {
        sql.push(" AND EXISTS (SELECT 1 FROM role_assignments ra WHERE ra.user_id = u.id AND ra.role IN ")
            .codes(&new.roles)
            .push(")");
    }
    let (text, args) = sql.build();
    sqlx::query_with(text, args).execute(&mut *tx).await?;
    let intent = Intent {
        event: NotifyEvent::AnnouncementPublished,
        object_kind: "announcement",
        object_id: id,
        org_id: org.id,
        actor_id: Some(user_id),
        user_id: None,
        args: serde_json::json!({"title": new.title, "issuer": org.name}),
    };
    notify::record(tx, &intent, now).await?;
    audit::append(
        tx,
        actor,
        AuditEvent::ok(
            "announcement.publish",
            "announcement",
            id,
            serde_json::json!({"org_id": org.id, "roles": roles, "supervision_id": supervision_id}),
        ),
    )
    .await?;
    Ok(id)
}

/// Announcements `user_id` received or may see as a publisher (from orgs in `scope`),
/// newest first.
pub async fn list(
    db: &Db,
    user_id: i64,
    publish_scope: &Scope,
    limit: i64,
) -> StoreResult<Vec<Announcement>> {
    let mut sql = Sql::from_text(db.backend(), SELECT.to_string());
    sql.bind(user_id)
        .push(") FROM announcements a JOIN orgs o ON o.id = a.org_id WHERE (EXISTS (SELECT 1 FROM announcement_recipients r WHERE r.announcement_id = a.id AND r.user_id = ")
        .bind(user_id)
        .push(") OR ")
        .scope("o.path", publish_scope)
        .push(") ORDER BY a.id DESC LIMIT ")
        .bind(limit.clamp(1, 200));
    let (text, args) = sql.build();
    let rows: Vec<Row> = sqlx::query_as_with(text, args).fetch_all(db.pool()).await?;
    Ok(rows.into_iter().map(announcement).collect())
}

/// One announcement `user_id` received or may see as a publisher.
pub async fn get(
    db: &Db,
    user_id: i64,
    publish_scope: &Scope,
    id: i64,
) -> StoreResult<Announcement> {
    let mut sql = Sql::from_text(db.backend(), SELECT.to_string());
    sql.bind(user_id)
        .push(") FROM announcements a JOIN orgs o ON o.id = a.org_id WHERE a.id = ")
        .bind(id)
        .push(" AND (EXISTS (SELECT 1 FROM announcement_recipients r WHERE r.announcement_id = a.id AND r.user_id = ")
        .bind(user_id)
        .push(") OR ")
        .scope("o.path", publish_scope)
        .push(")");
    let (text, args) = sql.build();
    let row: Option<Row> = sqlx::query_as_with(text, args)
        .fetch_optional(db.pool())
        .await?;
    row.map(announcement).ok_or(StoreError::NotFound)
}

/// Acknowledges announcement `id` for `user_id` (a recipient); again changes nothing.
pub async fn ack(db: &Db, user_id: i64, id: i64, now: Millis) -> StoreResult<()> {
    let n = sqlx::query(
        "UPDATE announcement_recipients SET read_at = COALESCE(read_at, $1) WHERE announcement_id = $2 AND user_id = $3",
    )
    .bind(now)
    .bind(id)
    .bind(user_id)
    .execute(db.pool())
    .await?
    .rows_affected();
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// The recipients of announcement `id`, unread first.
pub async fn readers(db: &Db, id: i64) -> StoreResult<Vec<Reader>> {
    Ok(sqlx::query_as(
        "SELECT u.id AS user_id, u.login, u.display_name, o.name AS org_name, r.read_at FROM announcement_recipients r \
         JOIN users u ON u.id = r.user_id JOIN orgs o ON o.id = u.org_id WHERE r.announcement_id = $1 \
         ORDER BY (CASE WHEN r.read_at IS NULL THEN 0 ELSE 1 END), o.name, u.login",
    )
    .bind(id)
    .fetch_all(db.pool())
    .await?)
}
