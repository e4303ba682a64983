//! `/announcements`: the list, the publish form, one announcement with its acknowledgement
//! and, for its publisher, who has not read it.

use super::publisher_orgs;
use crate::kit::error::AppResult;
use crate::kit::page::{Layout, Refused, refuse, render, take_refused};
use crate::kit::widgets::Choice;
use crate::kit::{AppState, Caller, Id};
use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;
use serde::{Deserialize, Serialize};
use tower_sessions::Session;
use xiaoan_domain::{Permission, Role, now_millis};
use xiaoan_store::announcements::{self, Announcement, Reader};

fn when(st: &AppState, at: i64) -> String {
    st.config
        .district
        .local(at)
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

#[derive(Template)]
#[template(path = "announcements/list.html")]
struct ListPage {
    l: Layout,
    items: Vec<(Announcement, String)>,
    may_publish: bool,
}

/// `GET /announcements`.
#[tracing::instrument(skip_all)]
pub async fn list(State(st): State<AppState>, caller: Caller) -> AppResult<Response> {
    let items = announcements::list(
        &st.db,
        caller.user.id,
        &caller.scope(Permission::AnnouncementPublish),
        200,
    )
    .await?
    .into_iter()
    .map(|a| {
        let at = when(&st, a.created_at);
        (a, at)
    })
    .collect();
    Ok(render(&ListPage {
        l: Layout::new(&caller, "announcements.title", "/announcements"),
        items,
        may_publish: caller.may("POST", "/announcements"),
    }))
}

/// The publish form.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct PublishForm {
    #[serde(default)]
    org_id: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    role: Vec<String>,
}

#[derive(Template)]
#[template(path = "announcements/new.html")]
struct NewPage {
    l: Layout,
    error: Option<String>,
    orgs: Vec<Choice>,
    roles: Vec<Choice>,
    f: PublishForm,
}

/// `GET /announcements/new`.
#[tracing::instrument(skip_all)]
pub async fn new_form(
    State(st): State<AppState>,
    caller: Caller,
    session: Session,
) -> AppResult<Response> {
    let refused = take_refused(&session, "/announcements/new").await;
    let f = refused
        .as_ref()
        .and_then(|r| r.form::<PublishForm>())
        .unwrap_or_default();
    let mut orgs = Vec::new();
    for id in publisher_orgs(&caller) {
        if let Ok(o) =
            xiaoan_store::orgs::get(&st.db, &caller.scope(Permission::AnnouncementPublish), id)
                .await
        {
            orgs.push(Choice {
                selected: o.id.to_string() == f.org_id,
                value: o.id.to_string(),
                label: o.name,
            });
        }
    }
    let roles = Role::ALL
        .iter()
        .filter(|r| r.is_school_role())
        .map(|r| Choice {
            value: r.code().into(),
            label: crate::kit::page::role_label(caller.lang, *r),
            selected: f.role.iter().any(|x| x == r.code()),
        })
        .collect();
    Ok(render(&NewPage {
        l: Layout::new(&caller, "announcements.new", "/announcements"),
        error: refused.map(|r| r.error),
        orgs,
        roles,
        f,
    }))
}

/// `POST /announcements`.
#[tracing::instrument(skip_all)]
pub async fn publish(
    State(st): State<AppState>,
    caller: Caller,
    session: Session,
    Form(f): Form<PublishForm>,
) -> AppResult<Response> {
    let org = f.org_id.trim().parse().ok();
    match super::publish(&st, &caller, org, &f.title, &f.body, &f.role).await {
        Ok(a) => Ok(Redirect::to(&format!("/announcements/{}", a.id)).into_response()),
        Err(e) if e.status.is_client_error() => {
            let refused = Refused::with_form("/announcements/new", e.message(caller.lang), &f);
            Ok(refuse(&session, "/announcements/new", refused).await)
        }
        Err(e) => Err(e),
    }
}

#[derive(Template)]
#[template(path = "announcements/detail.html")]
struct DetailPage {
    l: Layout,
    a: Announcement,
    at: String,
    paragraphs: Vec<String>,
    /// For the publisher: who has not read it, and who has.
    unread: Vec<Reader>,
    read: Vec<(Reader, String)>,
    publisher: bool,
    roles: String,
}

/// `GET /announcements/{id}`.
#[tracing::instrument(skip_all)]
pub async fn detail(State(st): State<AppState>, caller: Caller, Id(id): Id) -> AppResult<Response> {
    let scope = caller.scope(Permission::AnnouncementPublish);
    let a = announcements::get(&st.db, caller.user.id, &scope, id).await?;
    let org =
        xiaoan_store::orgs::get(&st.db, &xiaoan_domain::Scope::everything(), a.org_id).await?;
    let publisher = scope.contains(&org.path);
    let (mut unread, mut read) = (Vec::new(), Vec::new());
    if publisher {
        for r in announcements::readers(&st.db, id).await? {
            match r.read_at {
                Some(at) => {
                    let w = when(&st, at);
                    read.push((r, w));
                }
                None => unread.push(r),
            }
        }
    }
    let roles = if a.roles.is_empty() {
        caller.lang.t("announcements.everyone")
    } else {
        a.roles
            .iter()
            .map(|r| crate::kit::page::role_label(caller.lang, *r))
            .collect::<Vec<_>>()
            .join(caller.lang.list_separator())
    };
    Ok(render(&DetailPage {
        l: Layout::new(&caller, "announcements.item", "/announcements"),
        at: when(&st, a.created_at),
        paragraphs: a
            .body
            .lines()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        unread,
        read,
        publisher,
        roles,
        a,
    }))
}

/// `POST /announcements/{id}/ack`.
#[tracing::instrument(skip_all)]
pub async fn ack(State(st): State<AppState>, caller: Caller, Id(id): Id) -> AppResult<Response> {
    announcements::ack(&st.db, caller.user.id, id, now_millis()).await?;
    Ok(Redirect::to(&format!("/announcements/{id}")).into_response())
}
