//! The job queue for the system administrator: queued, running, failed and dead jobs, with
//! retry and cancel (the same as `xiaoan jobs`).

use crate::kit::error::{AppError, AppResult};
use crate::kit::page::{Layout, render};
use crate::kit::widgets::Choice;
use crate::kit::{ApiQuery, AppState, Caller, ErrorBody, Id, Routes};
use askama::Template;
use axum::Json;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::routes;
use xiaoan_domain::Permission::JobManage;
use xiaoan_domain::now_millis;
use xiaoan_store::audit::{self, Event};
use xiaoan_store::jobs::{self, Job, STATES};

/// The routes.
pub fn routes() -> Routes {
    Routes::new()
        .api(JobManage, routes!(list))
        .get("/jobs", JobManage, page)
        .post("/jobs/{id}/retry", JobManage, retry)
        .post("/jobs/{id}/cancel", JobManage, cancel)
}

/// Which jobs.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct JobQuery {
    /// `queued`, `running`, `done`, `dead` or `cancelled`.
    pub state: Option<String>,
    pub limit: Option<i64>,
}

fn state_of(raw: Option<&str>) -> AppResult<Option<&str>> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => STATES
            .iter()
            .find(|x| **x == s)
            .copied()
            .map(Some)
            .ok_or_else(|| AppError::invalid("job_state")),
    }
}

/// Jobs newest first.
#[utoipa::path(get, path = "/api/v1/jobs", tag = "jobs", params(JobQuery), security(("bearer" = [])),
    responses((status = 200, body = Vec<Object>), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn list(
    State(st): State<AppState>,
    ApiQuery(q): ApiQuery<JobQuery>,
) -> AppResult<Json<Vec<Job>>> {
    let state = state_of(q.state.as_deref())?;
    Ok(Json(
        jobs::list(&st.db, state, q.limit.unwrap_or(100)).await?,
    ))
}

/// A job as the page shows it.
struct Line {
    job: Job,
    /// The kind in words.
    kind: String,
    state: String,
    run_at: String,
    updated: String,
    may_retry: bool,
    may_cancel: bool,
}

#[derive(Template)]
#[template(path = "jobs/list.html")]
struct JobsPage {
    l: Layout,
    lines: Vec<Line>,
    states: Vec<Choice>,
    counts: Vec<(String, usize)>,
}

/// The page's filter.
#[derive(Deserialize)]
pub struct PageQuery {
    #[serde(default)]
    state: String,
}

/// `GET /jobs`.
#[tracing::instrument(skip_all)]
pub async fn page(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<PageQuery>,
) -> AppResult<Response> {
    let l = caller.lang;
    let state = state_of(Some(&q.state))?;
    let time = |at: i64| {
        st.config
            .district
            .local(at)
            .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_default()
    };
    let lines = jobs::list(&st.db, state, 200)
        .await?
        .into_iter()
        .map(|job| Line {
            kind: l.t(&format!("jobs.kinds.{}", job.kind.replace('.', "_"))),
            state: l.t(&format!("jobs.state.{}", job.state)),
            run_at: time(job.run_at),
            updated: time(job.updated_at),
            may_retry: matches!(job.state.as_str(), "dead" | "cancelled"),
            may_cancel: job.state == "queued",
            job,
        })
        .collect();
    let mut counts = Vec::new();
    for s in ["queued", "running", "dead"] {
        counts.push((
            l.t(&format!("jobs.state.{s}")),
            jobs::list(&st.db, Some(s), 1000).await?.len(),
        ));
    }
    let mut states = vec![Choice {
        value: String::new(),
        label: l.t("jobs.all"),
        selected: state.is_none(),
    }];
    states.extend(STATES.iter().map(|s| Choice {
        value: (*s).into(),
        label: l.t(&format!("jobs.state.{s}")),
        selected: state == Some(*s),
    }));
    Ok(render(&JobsPage {
        l: Layout::new(&caller, "jobs.title", "/jobs"),
        lines,
        states,
        counts,
    }))
}

async fn change(
    st: &AppState,
    caller: &Caller,
    id: i64,
    action: &'static str,
) -> AppResult<Response> {
    let now = now_millis();
    match action {
        "job.retry" => jobs::retry(&st.db, id, now).await?,
        _ => jobs::cancel(&st.db, id, now).await?,
    }
    let mut tx = st.db.begin_write().await?;
    audit::append(
        &mut tx,
        &caller.actor(),
        Event::ok(action, "job", id, serde_json::json!({})),
    )
    .await?;
    tx.commit().await.map_err(xiaoan_store::StoreError::from)?;
    Ok(Redirect::to("/jobs").into_response())
}

/// `POST /jobs/{id}/retry`.
#[tracing::instrument(skip_all)]
pub async fn retry(State(st): State<AppState>, caller: Caller, Id(id): Id) -> AppResult<Response> {
    change(&st, &caller, id, "job.retry").await
}

/// `POST /jobs/{id}/cancel`.
#[tracing::instrument(skip_all)]
pub async fn cancel(State(st): State<AppState>, caller: Caller, Id(id): Id) -> AppResult<Response> {
    change(&st, &caller, id, "job.cancel").await
}
