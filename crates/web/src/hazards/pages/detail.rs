//! One hazard: its facts, photos, history, and the forms for the steps the caller may take
//! next in its closed loop.

use crate::attachments::read_form as read;
use crate::hazards::input::{action, powers, transition_body};
use crate::kit::AppError;
use crate::kit::AppState;
use crate::kit::Caller;
use crate::kit::Choice;
use crate::kit::Id;
use crate::kit::error::AppResult;
use crate::kit::page::{Layout, Refused, refuse, render, take_refused};
use crate::kit::widgets::code_choices;
use askama::Template;
use axum::extract::{Multipart, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tower_sessions::Session;
use xiaoan_domain::hazard::{Grade, Status};
use xiaoan_domain::{Permission, Scope};
use xiaoan_store::hazards::{self, Hazard};
use xiaoan_store::users::UserFilter;

/// A step in the history, ready to show.
pub struct EventRow {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub to_status: String,
    pub note: String,
    pub photos: Vec<(i64, bool)>,
}

/// Why the background round raised a hazard, from what it recorded: the deadline it
/// missed, or the grade that put it on the bureau's list. Empty for other steps.
fn escalation_reason(l: crate::kit::Lang, action: &str, detail: &serde_json::Value) -> String {
    let deadline = detail["deadline"].as_str().unwrap_or_default();
    match action {
        "escalate" => l.t1("hazard.escalation_reason.overdue", "deadline", deadline),
        "list" if detail["grade"] == "major" => l.t("hazard.escalation_reason.major"),
        "list" => l.t1(
            "hazard.escalation_reason.long_overdue",
            "deadline",
            deadline,
        ),
        _ => String::new(),
    }
}

/// Which step forms to show.
#[derive(Default)]
pub struct Steps {
    pub register: bool,
    pub start: bool,
    pub submit: bool,
    pub verify: bool,
    pub plan: bool,
    pub dismiss: bool,
    pub reopen: bool,
}

impl Steps {
    fn any(&self) -> bool {
        self.register
            || self.start
            || self.submit
            || self.verify
            || self.plan
            || self.dismiss
            || self.reopen
    }
}

#[derive(Template)]
#[template(path = "hazards/detail.html")]
struct DetailPage {
    l: Layout,
    h: Hazard,
    row: super::HazardRow,
    source: String,
    history: Vec<EventRow>,
    steps: Steps,
    has_steps: bool,
    owners: Vec<Choice>,
    grades: Vec<Choice>,
    today: String,
    duplicates: Vec<(i64, String)>,
    recurrence: Option<(i64, String)>,
    error: Option<String>,
    /// The text of a refused step's form, to fill it in again.
    kept: std::collections::HashMap<String, String>,
    /// Photos already uploaded with a refused step.
    kept_photos: Vec<i64>,
    /// The report's photos and the latest rectification's, with their reuse flags.
    before: Vec<(i64, bool)>,
    after: Vec<(i64, bool)>,
    /// When it was closed (verified or dismissed), in local time; empty while open.
    closed_at: String,
}

impl DetailPage {
    /// What was typed into `field` of the refused `action` form, if that form was refused.
    /// Whether the refused step being shown again is `action`.
    fn refused_step(&self, action: &str) -> bool {
        self.kept.get("action").map(String::as_str) == Some(action)
    }

    fn kept(&self, action: &str, field: &str) -> &str {
        if self.kept.get("action").map(String::as_str) == Some(action) {
            self.kept.get(field).map_or("", String::as_str)
        } else {
            ""
        }
    }
}

/// Extra things the detail page shows once.
#[derive(Deserialize, Default)]
pub struct DetailQuery {
    duplicates: Option<String>,
}

fn steps_for(h: &Hazard, caller: &Caller) -> Steps {
    let manage = caller
        .scope(Permission::HazardManage)
        .contains(&h.school_path);
    let verify = caller
        .scope(Permission::HazardVerify)
        .contains(&h.school_path);
    let me = caller.user.id;
    let owner = h.owner.as_ref().is_some_and(|u| u.id == me);
    let rectifier = h.rectifier.as_ref().is_some_and(|u| u.id == me);
    Steps {
        register: h.status == Status::Reported && manage,
        start: h.status == Status::Registered && (owner || manage),
        submit: h.status == Status::Rectifying && (owner || manage),
        verify: h.status == Status::Submitted && verify && !owner && !rectifier,
        plan: matches!(h.status, Status::Registered | Status::Rectifying) && manage,
        dismiss: matches!(h.status, Status::Reported | Status::Registered) && manage,
        reopen: !h.status.is_open() && (manage || verify),
    }
}

async fn show(
    st: &AppState,
    caller: &Caller,
    id: i64,
    dup_ids: &[i64],
    refused: Option<crate::kit::page::Refused>,
) -> AppResult<Response> {
    let (error, kept, kept_photos) = match refused {
        Some(r) => (Some(r.error), r.fields, r.photos),
        None => (None, Default::default(), vec![]),
    };
    let l = caller.lang;
    let today = st.config.today();
    let scope = caller.scope(Permission::HazardRead);
    let h = hazards::get(&st.db, &scope, id, today).await?;
    let offset = st.config.offset();
    let events = hazards::history(&st.db, &h).await?;
    // The evidence side by side: the photos of the report, and those of the latest
    // rectification handed in.
    let photos_of = |action: &str| -> Vec<(i64, bool)> {
        events
            .iter()
            .rev()
            .find(|e| e.action == action && !e.attachments.is_empty())
            .map(|e| e.attachments.iter().map(|a| (a.id, a.reused)).collect())
            .unwrap_or_default()
    };
    let before = photos_of("report");
    let after = photos_of("submit");
    let local_time = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .map(|t| {
                t.with_timezone(&offset)
                    .format("%Y-%m-%d %H:%M")
                    .to_string()
            })
            .unwrap_or_default()
    };
    let closed_at = h.closed_at.map(local_time).unwrap_or_default();
    let names = crate::kit::page::display_names(
        &st.db,
        &events
            .iter()
            .map(|e| e.actor_login.clone())
            .collect::<Vec<_>>(),
    )
    .await;
    let history = events
        .into_iter()
        .map(|e| EventRow {
            at: local_time(e.at),
            actor: if e.actor_login.starts_with("system:") {
                l.t("hazard.actor.system")
            } else {
                names.get(&e.actor_login).cloned().unwrap_or(e.actor_login)
            },
            action: l.t(&format!("hazard.action.{}", e.action)),
            to_status: l.t(&format!("hazard.status.{}", e.to_status)),
            note: if e.note.is_empty() {
                escalation_reason(l, &e.action, &e.detail)
            } else {
                e.note
            },
            photos: e.attachments.iter().map(|a| (a.id, a.reused)).collect(),
        })
        .collect();
    let steps = steps_for(&h, caller);
    let owners = if steps.register {
        let people = xiaoan_store::users::list(
            &st.db,
            &Scope::subtree(&h.school_path),
            &UserFilter {
                org_id: Some(h.school_id),
                ..Default::default()
            },
        )
        .await?;
        people
            .into_iter()
            .map(|u| Choice {
                label: format!("{} ({})", u.display_name, u.login),
                value: u.login,
                selected: false,
            })
            .collect()
    } else {
        vec![]
    };
    let mut duplicates = vec![];
    for d in dup_ids.iter().filter(|d| **d != h.id).take(10) {
        if let Ok(o) = hazards::get(&st.db, &scope, *d, today).await {
            duplicates.push((o.id, format!("{} {}", o.number, o.title)));
        }
    }
    let recurrence = match h.recurrence_of {
        Some(r) => hazards::get(&st.db, &scope, r, today)
            .await
            .ok()
            .map(|o| (o.id, o.number)),
        None => None,
    };
    let page = DetailPage {
        row: super::HazardRow::new(&h, l),
        source: l.t(&format!("hazard.source.{}", h.source.code())),
        history,
        has_steps: steps.any(),
        steps,
        owners,
        grades: code_choices(
            &Grade::ALL.iter().map(|g| g.code()).collect::<Vec<_>>(),
            "hazard.grade",
            l,
            h.grade.code(),
        ),
        today: today.to_string(),
        duplicates,
        recurrence,
        error,
        kept,
        kept_photos,
        before,
        after,
        closed_at,
        l: Layout::new(caller, "hazards.detail", "/hazards"),
        h,
    };
    Ok(render(&page))
}

/// `GET /hazards/{id}`, with why a step was refused after a refusal.
#[tracing::instrument(skip_all, fields(id = id))]
pub async fn detail(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
    session: Session,
    Query(q): Query<DetailQuery>,
) -> AppResult<Response> {
    let refused = take_refused(&session, &format!("/hazards/{id}")).await;
    let dups: Vec<i64> = q
        .duplicates
        .unwrap_or_default()
        .split(',')
        .filter_map(|d| d.trim().parse().ok())
        .collect();
    show(&st, &caller, id, &dups, refused).await
}

/// `POST /hazards/{id}/transitions` (multipart, so that a rectification can carry photos).
/// A refused step goes back to the hazard's page with its message (Post/Redirect/Get).
#[tracing::instrument(skip_all, fields(id = id))]
pub async fn transition(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
    session: Session,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> AppResult<Response> {
    let page = format!("/hazards/{id}");
    let form = match read(&st, &caller, multipart).await {
        Ok(f) => f,
        Err(e) if e.status.is_client_error() => {
            return Ok(refuse(
                &session,
                &page,
                Refused {
                    path: page.to_string(),
                    error: e.message(caller.lang),
                    ..Refused::default()
                },
            )
            .await);
        }
        Err(e) => return Err(e),
    };
    let attempt = async {
        let mut body = serde_json::Map::new();
        body.insert("action".into(), form.get("action").into());
        for field in [
            "owner",
            "measures",
            "deadline",
            "grade",
            "note",
            "reason",
            "interim_measures",
        ] {
            if let Some(v) = form.opt(field) {
                body.insert(field.into(), v.trim().into());
            }
        }
        if !form.photos.is_empty() {
            body.insert("attachments".into(), form.photos.clone().into());
        }
        let a = action(&st, &caller, transition_body(body.into())?).await?;
        hazards::transition(
            &st.db,
            &caller.actor(),
            &powers(&caller),
            &caller.scope(Permission::HazardRead),
            id,
            a,
            st.config.today(),
        )
        .await
        .map_err(AppError::from)
    };
    match attempt.await {
        Ok(h) => Ok(Redirect::to(&format!("/hazards/{}", h.id)).into_response()),
        Err(e) if e.status.is_client_error() && e.status != axum::http::StatusCode::NOT_FOUND => {
            Ok(refuse(
                &session,
                &page,
                Refused {
                    path: page.to_string(),
                    error: e.message(caller.lang),
                    fields: form.fields,
                    pairs: vec![],
                    photos: form.photos,
                },
            )
            .await)
        }
        Err(e) => Err(e),
    }
}
