//! Reading a page's multipart form (a hazard report, a step, a record): text fields and up
//! to five photos, each cleaned and stored before the form's action uses them.

use crate::kit::AppState;
use crate::kit::Caller;
use crate::kit::error::{AppError, AppResult};
use axum::extract::Multipart;
use std::collections::HashMap;

/// The fields of a submitted form and the ids of the photos it carried.
pub struct Submitted {
    pub fields: HashMap<String, String>,
    /// Every text field in order, repeated names included (checkboxes of one field).
    pub pairs: Vec<(String, String)>,
    pub photos: Vec<i64>,
}

impl Submitted {
    /// A text field, empty when absent.
    pub fn get(&self, name: &str) -> String {
        self.fields.get(name).cloned().unwrap_or_default()
    }

    /// A text field, `None` when absent or blank.
    pub fn opt(&self, name: &str) -> Option<String> {
        self.fields
            .get(name)
            .filter(|v| !v.trim().is_empty())
            .cloned()
    }
}

/// Reads the form; photos (fields named `photos`) are cleaned and stored as they arrive,
/// after those kept from a refused attempt (fields named `photo`, by id). Empty file inputs
/// (nothing chosen) are skipped.
#[tracing::instrument(skip_all)]
pub async fn read(
    st: &AppState,
    caller: &Caller,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> AppResult<Submitted> {
    let bad = || AppError::invalid("upload_field");
    let mut multipart = multipart.map_err(|_| bad())?;
    let mut fields = HashMap::new();
    let mut pairs = Vec::new();
    let mut photos = Vec::new();
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|_| AppError::new(axum::http::StatusCode::PAYLOAD_TOO_LARGE, "photo_too_large"))?
    {
        let name = field.name().unwrap_or("").to_string();
        // The form token (checked before the handler runs) is not form data.
        if name == crate::kit::auth::CSRF_FIELD {
            continue;
        }
        // Photos kept from a refused attempt come back by id (the store takes only the
        // caller's own uploads).
        if name == "photo" {
            let text = field.text().await.map_err(|_| bad())?;
            let id = text.trim().parse().map_err(|_| bad())?;
            if !photos.contains(&id) {
                photos.push(id);
            }
            continue;
        }
        if name == "photos" {
            let file_name = field.file_name().unwrap_or("photo").to_string();
            let bytes = field.bytes().await.map_err(|_| {
                AppError::new(axum::http::StatusCode::PAYLOAD_TOO_LARGE, "photo_too_large")
            })?;
            if bytes.is_empty() {
                continue;
            }
            if photos.len() >= 5 {
                return Err(AppError::invalid("too_many_photos"));
            }
            photos.push(
                crate::attachments::store_photo(st, caller, &file_name, &bytes)
                    .await?
                    .id,
            );
        } else {
            let text = field.text().await.map_err(|_| bad())?;
            if text.len() > 20_000 {
                return Err(AppError::invalid("hazard_description"));
            }
            pairs.push((name.clone(), text.clone()));
            fields.insert(name, text);
        }
    }
    Ok(Submitted {
        fields,
        pairs,
        photos,
    })
}
