//! Metadata of uploaded files (photos). The bytes live on disk under random names; the
//! store knows who uploaded them, what they are, and which hazard steps use them.

use crate::{Db, StoreError, StoreResult};
use serde::Serialize;
use sqlx::FromRow;
use xiaoan_domain::{Millis, Scope, now_millis};

/// A stored file.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct Attachment {
    pub id: i64,
    pub uploader_id: i64,
    #[serde(skip)]
    pub stored_name: String,
    pub original_name: String,
    pub mime: String,
    pub size: i64,
    pub width: i64,
    pub height: i64,
    #[serde(skip)]
    pub source_sha256: String,
    /// An earlier upload of the same bytes.
    pub duplicate_of: Option<i64>,
    pub created_at: Millis,
}

/// A file to record.
pub struct NewAttachment {
    pub stored_name: String,
    pub original_name: String,
    pub mime: String,
    pub size: i64,
    pub width: i64,
    pub height: i64,
    pub source_sha256: String,
}

/// Records an upload (the file is already on disk); flags an earlier use of the same bytes.
/// Audited.
#[tracing::instrument(skip_all)]
pub async fn insert(
    db: &Db,
    actor: &xiaoan_domain::audit::Actor,
    uploader_id: i64,
    new: NewAttachment,
) -> StoreResult<Attachment> {
    let mut tx = db.begin_write().await?;
    // The same bytes used before: by someone else, or by the uploader on a hazard or a
    // record. The uploader's own unused earlier upload (a form sent again after a refusal)
    // is no reuse.
    let duplicate_of: Option<i64> = sqlx::query_scalar(
        "SELECT MIN(a.id) FROM attachments a WHERE a.source_sha256 = $1 AND (a.uploader_id <> $2 \
         OR EXISTS (SELECT 1 FROM hazard_attachments h WHERE h.attachment_id = a.id) \
         OR EXISTS (SELECT 1 FROM record_attachments r WHERE r.attachment_id = a.id))",
    )
    .bind(new.source_sha256.clone())
    .bind(uploader_id)
    .fetch_one(&mut *tx)
    .await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO attachments (uploader_id, stored_name, original_name, mime, size, width, height, source_sha256, \
         duplicate_of, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
    )
    .bind(uploader_id)
    .bind(new.stored_name)
    .bind(new.original_name)
    .bind(new.mime)
    .bind(new.size)
    .bind(new.width)
    .bind(new.height)
    .bind(new.source_sha256)
    .bind(duplicate_of)
    .bind(now_millis())
    .fetch_one(&mut *tx)
    .await?;
    let detail = serde_json::json!({"duplicate_of": duplicate_of});
    crate::audit::append(
        &mut tx,
        actor,
        crate::audit::Event::ok("attachment.upload", "attachment", id, detail),
    )
    .await?;
    tx.commit().await?;
    get_unchecked(db, id).await
}

async fn get_unchecked(db: &Db, id: i64) -> StoreResult<Attachment> {
    let row: Option<Attachment> = sqlx::query_as(
        "SELECT id, uploader_id, stored_name, original_name, mime, size, width, height, source_sha256, duplicate_of, \
         created_at FROM attachments WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(db.pool())
    .await?;
    row.ok_or(StoreError::NotFound)
}

/// Whether every one of `ids` is an upload of `user_id` (a step may attach only its
/// author's own photos); checked in the writer's transaction.
pub async fn all_uploaded_by(
    conn: &mut sqlx::AnyConnection,
    user_id: Option<i64>,
    ids: &[i64],
) -> StoreResult<bool> {
    for a in ids {
        let uploader: Option<i64> =
            sqlx::query_scalar("SELECT uploader_id FROM attachments WHERE id = $1")
                .bind(*a)
                .fetch_optional(&mut *conn)
                .await?;
        if uploader.is_none() || uploader != user_id {
            return Ok(false);
        }
    }
    Ok(true)
}

/// A file the user may see: their own upload, or one attached to a hazard inside `scope`.
#[tracing::instrument(skip_all, fields(user_id, id))]
pub async fn get(db: &Db, user_id: i64, scope: &Scope, id: i64) -> StoreResult<Attachment> {
    let within = Readable {
        hazards: scope.clone(),
        ..Readable::default()
    };
    get_readable(db, user_id, &within, id).await
}

/// Where a reader may see attached files, by what they are attached to (the school's or
/// org's place in the tree).
#[derive(Debug, Clone, Default)]
pub struct Readable {
    pub hazards: Scope,
    pub records: Scope,
    /// Photos with a school's response to a supervision item.
    pub supervision: Scope,
}

/// A file the user may see: their own upload, one attached to a hazard inside
/// `within.hazards`, to a record (a drill's photos, a sign-in sheet) inside
/// `within.records`, or to a supervision response of a school inside `within.supervision`.
/// Anything else is not found, exactly like a missing id.
#[tracing::instrument(skip_all, fields(user_id, id))]
pub async fn get_readable(
    db: &Db,
    user_id: i64,
    within: &Readable,
    id: i64,
) -> StoreResult<Attachment> {
    let (hazards, records) = (&within.hazards, &within.records);
    let a = get_unchecked(db, id).await?;
    if a.uploader_id == user_id {
        return Ok(a);
    }
    let mut sql = crate::sql::Sql::new(
        db.backend(),
        "SELECT (SELECT COUNT(*) FROM hazard_attachments ha JOIN hazards h ON h.id = ha.hazard_id \
         JOIN orgs o ON o.id = h.school_id WHERE ha.attachment_id = ",
    );
    sql.bind(id).push(" AND ").scope("o.path", hazards);
    sql.push(
        ") + (SELECT COUNT(*) FROM record_attachments ra JOIN records r ON r.id = ra.record_id \
         JOIN orgs o ON o.id = r.org_id WHERE ra.attachment_id = ",
    );
    sql.bind(id)
        .push(" AND ")
        .scope("o.path", records)
        .push(
            ") + (SELECT COUNT(*) FROM supervision_attachments sa JOIN supervision_events e ON e.id = sa.event_id \
             JOIN supervision_items s ON s.id = e.item_id JOIN orgs o ON o.id = s.school_id WHERE sa.attachment_id = ",
        );
    sql.bind(id)
        .push(" AND ")
        .scope("o.path", &within.supervision)
        .push(")");
    let (text, args) = sql.build();
    let n: i64 = sqlx::query_scalar_with(text, args)
        .fetch_one(db.pool())
        .await?;
    if n > 0 {
        Ok(a)
    } else {
        Err(StoreError::NotFound)
    }
}

/// Files uploaded but never linked: removed from the database by [`remove_unreferenced`];
/// their bytes are for the caller to delete from disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removed {
    pub id: i64,
    pub stored_name: String,
}

/// Removes, as `actor`, up to `limit` uploads made before `uploaded_before` (milliseconds)
/// that no hazard step, record or supervision response uses, oldest first, each with its audit entry, and
/// returns them so that their files can be deleted. Later uploads of the same bytes keep
/// pointing at the earliest upload that remains. Idempotent: a second call finds nothing.
pub async fn remove_unreferenced(
    db: &Db,
    actor: &xiaoan_domain::audit::Actor,
    uploaded_before: Millis,
    limit: i64,
) -> StoreResult<Vec<Removed>> {
    const UNUSED: &str = " AND NOT EXISTS (SELECT 1 FROM hazard_attachments ha WHERE ha.attachment_id = a.id) \
         AND NOT EXISTS (SELECT 1 FROM record_attachments ra WHERE ra.attachment_id = a.id) \
         AND NOT EXISTS (SELECT 1 FROM supervision_attachments sa WHERE sa.attachment_id = a.id)";
    let mut tx = db.begin_write().await?;
    // On PostgreSQL the candidates are locked first, so that a step linking one of them
    // either commits before (and the check below sees its link) or waits for this
    // transaction (and is told the attachment is unknown). SQLite's write lock serialises.
    let mut sql = crate::sql::Sql::new(
        db.backend(),
        "SELECT a.id, a.stored_name FROM attachments a WHERE a.created_at < ",
    );
    sql.bind(uploaded_before)
        .push(UNUSED)
        .push(" ORDER BY a.id LIMIT ")
        .bind(limit.max(1));
    if db.backend() == crate::Backend::Postgres {
        sql.push(" FOR UPDATE");
    }
    let (text, args) = sql.build();
    let candidates: Vec<(i64, String)> =
        sqlx::query_as_with(text, args).fetch_all(&mut *tx).await?;
    if candidates.is_empty() {
        return Ok(vec![]);
    }
    // Checked again in this statement's own view: a link committed while the candidates
    // were being locked keeps its attachment.
    let mut sql = crate::sql::Sql::new(
        db.backend(),
        "SELECT a.id, a.stored_name FROM attachments a WHERE a.id IN ",
    );
    sql.list(candidates.iter().map(|(id, _)| *id)).push(UNUSED);
    let (text, args) = sql.build();
    let gone: Vec<(i64, String)> = sqlx::query_as_with(text, args).fetch_all(&mut *tx).await?;
    if gone.is_empty() {
        return Ok(vec![]);
    }
    let ids: Vec<i64> = gone.iter().map(|(id, _)| *id).collect();
    // Later uploads of the same bytes: point at the earliest upload that stays.
    let mut sql = crate::sql::Sql::new(
        db.backend(),
        "UPDATE attachments SET duplicate_of = (SELECT MIN(b.id) FROM attachments b \
         WHERE b.source_sha256 = attachments.source_sha256 AND b.id < attachments.id AND b.id NOT IN ",
    );
    sql.list(ids.iter().copied())
        .push(") WHERE duplicate_of IN ")
        .list(ids.iter().copied())
        .push(" AND id NOT IN ")
        .list(ids.iter().copied());
    let (text, args) = sql.build();
    sqlx::query_with(text, args).execute(&mut *tx).await?;
    let mut sql = crate::sql::Sql::new(db.backend(), "DELETE FROM attachments WHERE id IN ");
    sql.list(ids.iter().copied());
    let (text, args) = sql.build();
    sqlx::query_with(text, args).execute(&mut *tx).await?;
    for (id, _) in &gone {
        crate::audit::append(
            &mut tx,
            actor,
            crate::audit::Event::ok(
                "attachment.remove_unreferenced",
                "attachment",
                id,
                serde_json::json!({"uploaded_before": uploaded_before}),
            ),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(gone
        .into_iter()
        .map(|(id, stored_name)| Removed { id, stored_name })
        .collect())
}
