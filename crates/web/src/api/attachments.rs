//! `/api/v1/attachments`: photo uploads (cleaned of all metadata) and downloads.

use super::ErrorBody;
use crate::AppState;
use crate::auth::Caller;
use crate::error::{AppError, AppResult, StoreCtx};
use axum::Json;
use axum::extract::{Multipart, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use xiaoan_domain::Permission;
use xiaoan_store::attachments::{self, Attachment, NewAttachment};

/// A stored photo.
#[derive(Serialize, ToSchema)]
pub struct AttachmentOut {
    pub id: i64,
    pub mime: String,
    pub width: i64,
    pub height: i64,
    /// An earlier upload of exactly the same file, if any (a re-used photo).
    pub duplicate_of: Option<i64>,
}

impl From<Attachment> for AttachmentOut {
    fn from(a: Attachment) -> Self {
        AttachmentOut {
            id: a.id,
            mime: a.mime,
            width: a.width,
            height: a.height,
            duplicate_of: a.duplicate_of,
        }
    }
}

/// Cleans and stores one uploaded photo (shared with the page forms).
pub async fn store_photo(
    st: &AppState,
    caller: &Caller,
    name: &str,
    bytes: &[u8],
) -> AppResult<Attachment> {
    let (l, s) = (caller.lang, caller.surface);
    let cleaned = {
        let bytes = bytes.to_vec();
        tokio::task::spawn_blocking(move || crate::photos::clean(&bytes))
            .await
            .map_err(|_| AppError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", l, s))?
    };
    let photo = cleaned.map_err(|e| {
        let status = if e == crate::photos::PhotoError::TooLarge {
            StatusCode::PAYLOAD_TOO_LARGE
        } else {
            StatusCode::BAD_REQUEST
        };
        AppError::new(status, e.code(), l, s)
    })?;
    let dir = st.config.storage_dir.clone();
    let (ext, data) = (photo.extension, photo.bytes.clone());
    let stored_name = tokio::task::spawn_blocking(move || crate::photos::save(&dir, ext, &data))
        .await
        .map_err(|_| AppError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", l, s))?
        .map_err(|e| {
            tracing::error!(error = %e, "cannot store a photo");
            AppError::new(StatusCode::INSUFFICIENT_STORAGE, "storage_failed", l, s)
        })?;
    let original_name: String = name.chars().filter(|c| !c.is_control()).take(100).collect();
    let new = NewAttachment {
        stored_name,
        original_name,
        mime: photo.mime.into(),
        size: photo.bytes.len() as i64,
        width: photo.width as i64,
        height: photo.height as i64,
        source_sha256: photo.source_sha256,
    };
    attachments::insert(&st.db, &caller.actor(), caller.user.id, new)
        .await
        .ctx(l, s)
}

/// Uploads a photo (multipart field `file`, JPEG or PNG, at most 10 MB). Metadata such as
/// EXIF and GPS is removed and the picture is turned upright.
#[utoipa::path(post, path = "/api/v1/attachments", tag = "attachments", security(("bearer" = [])),
    request_body(content_type = "multipart/form-data", description = "field `file`: the photo"),
    responses((status = 201, body = AttachmentOut), (status = 400, body = ErrorBody), (status = 413, body = ErrorBody)))]
pub async fn upload(
    State(st): State<AppState>,
    caller: Caller,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> AppResult<(StatusCode, Json<AttachmentOut>)> {
    let (l, s) = (caller.lang, caller.surface);
    let bad = || AppError::invalid("upload_field", l, s);
    let mut multipart = multipart.map_err(|_| bad())?;
    while let Some(field) = multipart.next_field().await.map_err(|_| bad())? {
        if field.name() != Some("file") {
            continue;
        }
        let name = field.file_name().unwrap_or("photo").to_string();
        let bytes = field
            .bytes()
            .await
            .map_err(|_| AppError::new(StatusCode::PAYLOAD_TOO_LARGE, "photo_too_large", l, s))?;
        let a = store_photo(&st, &caller, &name, &bytes).await?;
        return Ok((StatusCode::CREATED, Json(a.into())));
    }
    Err(bad())
}

/// Answers with a stored file as a download that browsers will not run or sniff.
pub async fn file_response(st: &AppState, caller: &Caller, id: i64) -> AppResult<Response> {
    let (l, s) = (caller.lang, caller.surface);
    let a = attachments::get(
        &st.db,
        caller.user.id,
        &caller.scope_for(Permission::HazardRead),
        id,
    )
    .await
    .ctx(l, s)?;
    let path = st.config.storage_dir.join(&a.stored_name);
    let bytes = tokio::fs::read(&path).await.map_err(|e| {
        tracing::error!(error = %e, id, "stored file missing");
        AppError::not_found(l, s)
    })?;
    let ext = if a.mime == "image/png" { "png" } else { "jpg" };
    let filename = format!("attachment-{}.{ext}", a.id);
    Ok((
        [
            (header::CONTENT_TYPE, a.mime),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                "sandbox; default-src 'none'".to_string(),
            ),
            (header::CACHE_CONTROL, "private, max-age=3600".to_string()),
        ],
        bytes,
    )
        .into_response())
}

/// The bytes of a photo the caller may see: their own upload, or one on a hazard in scope.
#[utoipa::path(get, path = "/api/v1/attachments/{id}", tag = "attachments", params(("id" = i64, Path)),
    security(("bearer" = [])), responses((status = 200, description = "the photo"), (status = 404, body = ErrorBody)))]
pub async fn download(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let id = super::parse_id(&id, &caller)?;
    file_response(&st, &caller, id).await
}
