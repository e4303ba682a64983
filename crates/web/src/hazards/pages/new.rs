//! Reporting a hazard from a phone: one form, photos straight from the camera.

use crate::attachments::{Submitted, read_form as read};
use crate::hazards::HazardIn;
use crate::hazards::input::parse_date;
use crate::kit::AppState;
use crate::kit::Caller;
use crate::kit::Choice;
use crate::kit::error::AppResult;
use crate::kit::page::{Layout, Refused, refuse, render, take_refused};
use crate::kit::parse_code;
use crate::kit::widgets::code_choices;
use askama::Template;
use axum::extract::{Multipart, State};
use axum::response::{IntoResponse, Redirect, Response};
use tower_sessions::Session;
use xiaoan_domain::Permission;
use xiaoan_domain::hazard::{Category, Grade, Source};

#[derive(Template)]
#[template(path = "hazards/new.html")]
struct NewPage {
    l: Layout,
    schools: Vec<Choice>,
    categories: Vec<Choice>,
    grades: Vec<Choice>,
    sources: Vec<Choice>,
    location: String,
    title: String,
    description: String,
    found_by: String,
    found_on: String,
    today: String,
    /// Photos already uploaded with a refused attempt.
    photos: Vec<i64>,
    error: Option<String>,
}

async fn page(
    st: &AppState,
    caller: &Caller,
    f: Option<&Submitted>,
    error: Option<String>,
) -> AppResult<Response> {
    let l = caller.lang;
    let field = |k: &str| f.map(|f| f.get(k)).unwrap_or_default();
    let chosen = f.and_then(|f| f.opt("school_id")).unwrap_or_default();
    let schools = crate::kit::widgets::school_choices(
        &st.db,
        &caller.scope(Permission::HazardReport),
        &chosen,
    )
    .await?;
    let codes = |all: Vec<&'static str>| all;
    let page = NewPage {
        schools,
        categories: code_choices(
            &codes(Category::ALL.iter().map(|c| c.code()).collect()),
            "hazard.category",
            l,
            &field("category"),
        ),
        grades: code_choices(
            &codes(Grade::ALL.iter().map(|c| c.code()).collect()),
            "hazard.grade",
            l,
            &f.and_then(|f| f.opt("grade"))
                .unwrap_or_else(|| "general".into()),
        ),
        sources: code_choices(
            &codes(Source::ALL.iter().map(|c| c.code()).collect()),
            "hazard.source",
            l,
            &f.and_then(|f| f.opt("source"))
                .unwrap_or_else(|| "self_inspection".into()),
        ),
        location: field("location"),
        title: field("title"),
        description: field("description"),
        found_by: f
            .and_then(|f| f.opt("found_by"))
            .unwrap_or_else(|| caller.user.display_name.clone()),
        found_on: f
            .and_then(|f| f.opt("found_on"))
            .unwrap_or_else(|| st.config.today().to_string()),
        today: st.config.today().to_string(),
        photos: f.map(|f| f.photos.clone()).unwrap_or_default(),
        error,
        l: Layout::new(caller, "hazards.new", "/hazards"),
    };
    Ok(render(&page))
}

/// `GET /hazards/new`: the form, filled in again with why it was refused after a refusal.
#[tracing::instrument(skip_all)]
pub async fn new_form(
    State(st): State<AppState>,
    caller: Caller,
    session: Session,
) -> AppResult<Response> {
    match take_refused(&session, FORM).await {
        Some(r) => {
            let form = Submitted {
                fields: r.fields,
                pairs: vec![],
                photos: r.photos,
            };
            page(&st, &caller, Some(&form), Some(r.error)).await
        }
        None => page(&st, &caller, None, None).await,
    }
}

/// The page of the report form.
const FORM: &str = "/hazards/new";

/// `POST /hazards` (multipart): reports the hazard and opens it, noting possible duplicates.
/// A refused report goes back to the form with its message (Post/Redirect/Get).
pub async fn create(
    State(st): State<AppState>,
    caller: Caller,
    session: Session,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> AppResult<Response> {
    let form = match read(&st, &caller, multipart).await {
        Ok(f) => f,
        Err(e) if e.status.is_client_error() => {
            return Ok(refuse(
                &session,
                FORM,
                Refused {
                    path: FORM.to_string(),
                    error: e.message(caller.lang),
                    ..Refused::default()
                },
            )
            .await);
        }
        Err(e) => return Err(e),
    };
    let attempt = async {
        let body = HazardIn {
            school_id: form.get("school_id").trim().parse().unwrap_or(0),
            category: parse_code(&form.get("category"))?,
            grade: match form.opt("grade") {
                Some(g) => parse_code(&g)?,
                None => Grade::General,
            },
            source: match form.opt("source") {
                Some(s) => parse_code(&s)?,
                None => Source::SelfInspection,
            },
            location: form.get("location"),
            title: form.get("title"),
            description: form.get("description"),
            found_by: form.opt("found_by"),
            found_on: form
                .opt("found_on")
                .map(|d| parse_date(&d, "found_on_format"))
                .transpose()?,
            attachments: form.photos.clone(),
        };
        crate::hazards::report(&st, &caller, body).await
    };
    match attempt.await {
        Ok(c) => {
            let dups: Vec<String> = c
                .possible_duplicates
                .iter()
                .map(|d| d.to_string())
                .collect();
            let target = if dups.is_empty() {
                format!("/hazards/{}", c.hazard.id)
            } else {
                format!("/hazards/{}?duplicates={}", c.hazard.id, dups.join(","))
            };
            Ok(Redirect::to(&target).into_response())
        }
        Err(e) if e.status.is_client_error() => Ok(refuse(
            &session,
            FORM,
            Refused {
                path: FORM.to_string(),
                error: e.message(caller.lang),
                fields: form.fields,
                pairs: vec![],
                photos: form.photos,
            },
        )
        .await),
        Err(e) => Err(e),
    }
}
