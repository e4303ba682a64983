//! Raising a hazard from a problem a record found (a drill's blocked stairway, a patrol's
//! broken extinguisher): the problem becomes a hazard report at the record's school, in the
//! hazard closed loop, with the record's date as the day it was found.

use crate::hazards::HazardIn;
use crate::kit::AppState;
use crate::kit::Caller;
use crate::kit::Id;
use crate::kit::error::{AppError, AppResult};
use crate::kit::page::refuse;
use crate::plan::kind_label;
use axum::Form;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::Value;
use tower_sessions::Session;
use xiaoan_domain::Permission;
use xiaoan_domain::hazard::{Grade, Source};
use xiaoan_store::records::{self, Record};

/// The problems a record lists (its `problems` or `issues` field), in order.
pub fn problems(r: &Record) -> Vec<String> {
    ["problems", "issues"]
        .iter()
        .filter_map(|f| r.fields.get(f).and_then(Value::as_array))
        .flatten()
        .filter_map(Value::as_str)
        .map(String::from)
        .collect()
}

/// Which problem, and what the hazard report needs besides it.
#[derive(Deserialize)]
pub struct ProblemForm {
    problem: String,
    category: String,
    #[serde(default)]
    location: String,
}

/// `POST /records/{id}/hazards`: reports problem number `problem` as a hazard.
#[tracing::instrument(skip_all, fields(id = id))]
pub async fn report(
    State(st): State<AppState>,
    caller: Caller,
    session: Session,
    Id(id): Id,
    Form(f): Form<ProblemForm>,
) -> AppResult<Response> {
    let l = caller.lang;
    let rid = id;
    let r = records::get(&st.db, &caller.scope(Permission::RecordRead), rid).await?;
    let result = async {
        let list = problems(&r);
        let problem = f
            .problem
            .trim()
            .parse::<usize>()
            .ok()
            .and_then(|i| list.get(i))
            .ok_or_else(|| AppError::invalid("bad_fields"))?;
        if f.location.trim().is_empty() {
            return Err(AppError::invalid("record_hazard_location"));
        }
        let a = crate::plan::active(&st).await?;
        let what = a
            .as_ref()
            .and_then(|a| a.plan.plan.kind(&r.kind))
            .map(|k| kind_label(l, &k))
            .unwrap_or_else(|| r.kind.clone());
        let body = HazardIn {
            school_id: r.org_id,
            category: crate::kit::parse_code(&f.category)?,
            grade: Grade::General,
            source: if r.kind == "patrol" {
                Source::Patrol
            } else {
                Source::SelfInspection
            },
            location: f.location.trim().to_string(),
            title: problem.chars().take(100).collect(),
            description: format!("{what} {} (#{}): {problem}", r.occurred_on, r.id),
            found_by: None,
            found_on: Some(r.occurred_on),
            attachments: vec![],
        };
        let created = crate::hazards::report(&st, &caller, body).await?;
        Ok(created.hazard.id)
    }
    .await;
    match result {
        Ok(hid) => Ok(Redirect::to(&format!("/hazards/{hid}")).into_response()),
        // Refused: back to the record (Post/Redirect/Get), the problem's fields kept.
        Err(e) if e.status.is_client_error() && e.status != axum::http::StatusCode::NOT_FOUND => {
            let sent = [
                ("problem".to_string(), f.problem.clone()),
                ("category".to_string(), f.category.clone()),
                ("location".to_string(), f.location.clone()),
            ];
            let kept = super::refused(id, "hazard", e.message(caller.lang), &sent);
            Ok(refuse(&session, &super::page_of(id), kept).await)
        }
        Err(e) => Err(e),
    }
}
