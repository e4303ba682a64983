//! Storing a cleaned photo and handing one out: shared by the API and every page that
//! takes or shows photos.

use crate::kit::{AppError, AppResult, AppState, Caller};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use xiaoan_domain::Permission;
use xiaoan_store::attachments::{self, Attachment, NewAttachment};

/// Seconds a client is told to wait after a `busy` answer.
const BUSY_RETRY_SECONDS: u64 = 5;

fn photo_error(e: super::photos::PhotoError) -> AppError {
    let status = if e == super::photos::PhotoError::TooLarge {
        StatusCode::PAYLOAD_TOO_LARGE
    } else {
        StatusCode::BAD_REQUEST
    };
    AppError::new(status, e.code())
}

/// Runs `f` over the upload on the blocking pool.
async fn blocking<T: Send + 'static>(
    bytes: &std::sync::Arc<[u8]>,
    f: fn(&[u8]) -> Result<T, super::photos::PhotoError>,
) -> AppResult<T> {
    let bytes = std::sync::Arc::clone(bytes);
    tokio::task::spawn_blocking(move || f(&bytes))
        .await
        .map_err(|_| AppError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal"))?
        .map_err(photo_error)
}

/// Cleans and stores one uploaded photo (shared with the page forms). The decode first
/// reserves its memory (read from the header) in the shared budget; when the budget stays
/// spent for the configured wait, the answer is 503 `busy` with `Retry-After`.
#[tracing::instrument(skip_all)]
pub async fn store_photo(
    st: &AppState,
    caller: &Caller,
    name: &str,
    bytes: &[u8],
) -> AppResult<Attachment> {
    let bytes: std::sync::Arc<[u8]> = bytes.into();
    let cost = blocking(&bytes, super::photos::decode_cost).await?;
    let Some(reservation) = st.photo_decodes.reserve(cost).await else {
        tracing::warn!(cost, "photo decode budget spent; upload turned away");
        return Err(
            AppError::new(StatusCode::SERVICE_UNAVAILABLE, "busy").retry_after(BUSY_RETRY_SECONDS)
        );
    };
    let photo = blocking(&bytes, super::photos::clean).await;
    drop(reservation);
    let photo = photo?;
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
/// How a browser should take a file: shown in place (the evidence opened from a page) or
/// saved (the API's download).
#[derive(Debug, Clone, Copy)]
pub enum Disposition {
    Inline,
    Download,
}

impl Disposition {
    fn word(self) -> &'static str {
        match self {
            Disposition::Inline => "inline",
            Disposition::Download => "attachment",
        }
    }
}

#[tracing::instrument(skip_all, fields(id))]
pub async fn file_response(
    st: &AppState,
    caller: &Caller,
    id: i64,
    disposition: Disposition,
) -> AppResult<Response> {
    let within = attachments::Readable {
        hazards: caller.scope(Permission::HazardRead),
        records: caller.scope(Permission::RecordRead),
        supervision: caller.scope(Permission::SupervisionRead),
    };
    let a = attachments::get_readable(&st.db, caller.user.id, &within, id).await?;
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
                format!("{}; filename=\"{filename}\"", disposition.word()),
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
