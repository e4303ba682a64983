//! `/api/v1/attachments`: photo uploads (cleaned of all metadata) and downloads.

use super::service::{Disposition, file_response, store_photo};
use crate::kit::AppState;
use crate::kit::Caller;
use crate::kit::ErrorBody;
use crate::kit::Id;
use crate::kit::error::{AppError, AppResult};
use axum::Json;
use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;
use utoipa::ToSchema;
use xiaoan_store::attachments::Attachment;

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

/// Uploads a photo (multipart field `file`, JPEG or PNG, at most 10 MB). Metadata such as
/// EXIF and GPS is removed and the picture is turned upright.
#[utoipa::path(post, path = "/api/v1/attachments", tag = "attachments", security(("bearer" = [])),
    request_body(content_type = "multipart/form-data", description = "field `file`: the photo"),
    responses((status = 201, body = AttachmentOut), (status = 400, body = ErrorBody), (status = 413, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn upload(
    State(st): State<AppState>,
    caller: Caller,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> AppResult<(StatusCode, Json<AttachmentOut>)> {
    let bad = || AppError::invalid("upload_field");
    let mut multipart = multipart.map_err(|_| bad())?;
    while let Some(field) = multipart.next_field().await.map_err(|_| bad())? {
        if field.name() != Some("file") {
            continue;
        }
        let name = field.file_name().unwrap_or("photo").to_string();
        let bytes = field
            .bytes()
            .await
            .map_err(|_| AppError::new(StatusCode::PAYLOAD_TOO_LARGE, "photo_too_large"))?;
        let a = store_photo(&st, &caller, &name, &bytes).await?;
        return Ok((StatusCode::CREATED, Json(a.into())));
    }
    Err(bad())
}

/// The bytes of a photo the caller may see: their own upload, or one on a hazard in scope.
#[utoipa::path(get, path = "/api/v1/attachments/{id}", tag = "attachments", params(("id" = i64, Path)),
    security(("bearer" = [])), responses((status = 200, description = "the photo"), (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(id = id))]
pub async fn download(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> AppResult<Response> {
    file_response(&st, &caller, id, Disposition::Download).await
}
