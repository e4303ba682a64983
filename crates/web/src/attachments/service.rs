//! Storing a cleaned photo and handing one out: shared by the API and every page that
//! takes or shows photos.

use crate::kit::{AppError, AppResult, AppState, Caller};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use xiaoan_domain::Permission;
use xiaoan_store::attachments::{self, Attachment, NewAttachment};

/// Cleans and stores one uploaded photo (shared with the page forms).
#[tracing::instrument(skip_all)]
pub async fn store_photo(
    st: &AppState,
    caller: &Caller,
    name: &str,
    bytes: &[u8],
) -> AppResult<Attachment> {
    let cleaned = {
        let bytes = bytes.to_vec();
        tokio::task::spawn_blocking(move || super::photos::clean(&bytes))
            .await
            .map_err(|_| AppError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal"))?
    };
    let photo = cleaned.map_err(|e| {
        let status = if e == super::photos::PhotoError::TooLarge {
            StatusCode::PAYLOAD_TOO_LARGE
        } else {
            StatusCode::BAD_REQUEST
        };
        AppError::new(status, e.code())
    })?;
    let dir = st.config.storage_dir.clone();
    let (ext, data) = (photo.extension, photo.bytes.clone());
    let stored_name = tokio::task::spawn_blocking(move || super::photos::save(&dir, ext, &data))
        .await
        .map_err(|_| AppError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal"))?
        .map_err(|e| {
            tracing::error!(error = %e, "cannot store a photo");
            AppError::new(StatusCode::INSUFFICIENT_STORAGE, "storage_failed")
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
        .map_err(AppError::from)
}

/// Answers with a stored file as a download that browsers will not run or sniff.
#[tracing::instrument(skip_all, fields(id))]
pub async fn file_response(st: &AppState, caller: &Caller, id: i64) -> AppResult<Response> {
    let a = attachments::get(
        &st.db,
        caller.user.id,
        &caller.scope(Permission::HazardRead),
        id,
    )
    .await?;
    let path = st.config.storage_dir.join(&a.stored_name);
    let bytes = tokio::fs::read(&path).await.map_err(|e| {
        tracing::error!(error = %e, id, "stored file missing");
        AppError::not_found()
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
