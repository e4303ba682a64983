//! Extractors whose rejections are clear, localised errors: JSON bodies, query strings and
//! numeric path ids. No message carries the framework's or the parser's own text: a body
//! over the limit is 413 `too_large`, and a bad field or query parameter is named in the
//! caller's language.

use crate::kit::error::AppError;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

/// A JSON body whose rejections (bad JSON, wrong types, unknown fields, missing content
/// type, a body over the limit) become clear 400/413/415 errors in the caller's language.
pub struct ApiJson<T>(pub T);

/// Whether the request says its body is JSON (`application/json` or `…+json`).
fn is_json(req: &Request) -> bool {
    let Some(ct) = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// The first name in backquotes of a serde message (`missing field `list``).
fn quoted_name(message: &str) -> Option<&str> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(&message[start..start + len])
}

/// What was wrong with one field, from serde's message and the path it was met at.
enum FieldProblem {
    Missing(String),
    Unknown(String),
    Invalid(String),
    Whole,
}

fn field_problem(path: &str, message: &str) -> FieldProblem {
    let at = |name: &str| {
        if path.is_empty() || path == "." {
            name.to_string()
        } else {
            format!("{path}.{name}")
        }
    };
    if message.starts_with("missing field")
        && let Some(name) = quoted_name(message)
    {
        return FieldProblem::Missing(at(name));
    }
    if message.starts_with("unknown field")
        && let Some(name) = quoted_name(message)
    {
        return FieldProblem::Unknown(at(name));
    }
    if path.is_empty() || path == "." {
        FieldProblem::Whole
    } else {
        FieldProblem::Invalid(path.to_string())
    }
}

/// A 400 with `code`, worded to name the field or parameter when one is known; `prefix`
/// picks the wording (`json_field` or `query`).
fn field_error(code: &'static str, words: [&'static str; 3], problem: FieldProblem) -> AppError {
    let e = AppError::invalid(code);
    match problem {
        FieldProblem::Missing(n) => e.worded(words[0]).arg("name", n),
        FieldProblem::Unknown(n) => e.worded(words[1]).arg("name", n),
        FieldProblem::Invalid(n) => e.worded(words[2]).arg("name", n),
        FieldProblem::Whole => e,
    }
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(&req) {
            return Err(AppError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "json_content_type",
            ));
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|rej| body_error(rej.status()))?;
        let de = &mut serde_json::Deserializer::from_slice(&bytes);
        serde_path_to_error::deserialize::<_, T>(de)
            .map(ApiJson)
            .map_err(json_error)
    }
}

/// Decodes a JSON value built by a page from its form into the same input type the API
/// takes, with the same errors: a page and the API parse one way.
pub fn from_json<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, AppError> {
    serde_path_to_error::deserialize::<_, T>(value).map_err(json_error)
}

/// The error for a JSON body that did not decode into `T`.
fn json_error(err: serde_path_to_error::Error<serde_json::Error>) -> AppError {
    let path = err.path().to_string();
    let inner = err.into_inner();
    if !inner.is_data() {
        return AppError::invalid("bad_json");
    }
    let message = inner.to_string();
    if let Some(e) = code_error(&message) {
        return e;
    }
    field_error(
        "bad_fields",
        [
            "json_field_missing",
            "json_field_unknown",
            "json_field_invalid",
        ],
        field_problem(&path, &message),
    )
}

/// The error a value that is not a code of its enum answers with: each code enum has its own
/// error code (an unknown category is `hazard_category`), found by the kind serde names.
fn code_error(message: &str) -> Option<AppError> {
    kind_error(xiaoan_domain::code::unknown_kind(message)?)
}

/// A query parameter where blank means absent (`?status=` is "any status"), for codes and
/// dates: `#[serde(default, deserialize_with = "blank")]`.
pub fn blank<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: DeserializeOwned,
{
    use serde::Deserialize;
    let raw: Option<String> = Option::deserialize(d)?;
    match raw.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => T::deserialize(serde::de::value::StrDeserializer::<D::Error>::new(v)).map(Some),
    }
}

/// Parses a code from a form field, refusing it exactly as the API refuses it in JSON.
pub fn parse_code<T: xiaoan_domain::code::Code>(raw: &str) -> Result<T, AppError> {
    T::from_code(raw.trim())
        .ok_or_else(|| kind_error(T::KIND).unwrap_or_else(|| AppError::invalid("bad_fields")))
}

/// The error code of an unknown value of the code enum `kind`.
fn kind_error(kind: &str) -> Option<AppError> {
    use xiaoan_domain::code::Code;
    use xiaoan_domain::hazard::{Category, Escalation, Grade, Source, Status};
    use xiaoan_domain::{OrgKind, Role, SchoolType};
    let table: [(&str, &'static str); 16] = [
        (xiaoan_domain::iot::DeviceKind::KIND, "device_kind"),
        (xiaoan_domain::iot::video::KeyArea::KIND, "camera_area"),
        (xiaoan_domain::iot::video::Link::KIND, "camera_link"),
        (xiaoan_domain::iot::SilenceReason::KIND, "silence_reason"),
        (xiaoan_domain::iot::CloseReason::KIND, "alarm_close_reason"),
        (xiaoan_domain::iot::AlarmType::KIND, "alarm_type"),
        (xiaoan_domain::supervision::Rung::KIND, "supervision_rung"),
        (
            xiaoan_domain::supervision::State::KIND,
            "supervision_state_unknown",
        ),
        (Category::KIND, "hazard_category"),
        (Grade::KIND, "hazard_grade"),
        (Source::KIND, "hazard_source"),
        (Status::KIND, "hazard_status"),
        (Escalation::KIND, "hazard_escalation"),
        (OrgKind::KIND, "org_kind"),
        (SchoolType::KIND, "school_type"),
        (Role::KIND, "role_unknown"),
    ];
    let code = table.iter().find(|(k, _)| *k == kind)?.1;
    Some(AppError::invalid(code))
}

/// The error for a body that could not be read: 413 when it is over the limit.
fn body_error(status: StatusCode) -> AppError {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        AppError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large")
    } else {
        AppError::invalid("bad_body")
    }
}

/// Query parameters whose rejections become clear 400 errors naming the parameter.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(url::form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize::<_, T>(de)
            .map(ApiQuery)
            .map_err(|err| {
                let path = err.path().to_string();
                let message = err.into_inner().to_string();
                if let Some(e) = code_error(&message) {
                    return e;
                }
                let problem = field_problem(&path, &message);
                field_error(
                    "bad_query",
                    ["query_missing", "query_unknown", "query_invalid"],
                    problem,
                )
            })
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
