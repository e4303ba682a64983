//! Extractors whose rejections are clear, localised errors: JSON bodies, query strings and
//! numeric path ids.

use crate::kit::error::AppError;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

/// A JSON body whose rejections (bad JSON, wrong types, unknown fields, missing content
/// type) become clear 400/415 errors in the caller's language.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(rej) => {
                use axum::extract::rejection::JsonRejection::*;
                let (status, code) = match &rej {
                    MissingJsonContentType(_) => {
                        (StatusCode::UNSUPPORTED_MEDIA_TYPE, "json_content_type")
                    }
                    JsonSyntaxError(_) => (StatusCode::BAD_REQUEST, "bad_json"),
                    JsonDataError(_) => (StatusCode::BAD_REQUEST, "bad_fields"),
                    _ => (StatusCode::BAD_REQUEST, "bad_json"),
                };
                Err(AppError::new(status, code).with_detail(rej.body_text()))
            }
        }
    }
}

/// Query parameters whose rejections become clear 400 errors.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| ApiQuery(q.0))
            .map_err(|rej| AppError::invalid("bad_query").with_detail(rej.body_text()))
    }
}

/// A numeric id from the route's one path parameter; anything else is simply not found
/// (404, exactly like an id that does not exist).
pub struct Id(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| AppError::not_found())?;
        raw.parse().map(Id).map_err(|_| AppError::not_found())
    }
}
