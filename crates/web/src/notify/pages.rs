//! `/inbox` and `/settings/notifications`.

use super::input::{self, ChannelIn, EventChoice, channel_orgs, clock, entry_title, object_path};
use crate::kit::error::{AppError, AppResult};
use crate::kit::page::{Layout, Refused, refuse, render, take_refused};
use crate::kit::{AppState, Caller, Id};
use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;
use serde::{Deserialize, Serialize};
use tower_sessions::Session;
use xiaoan_domain::notify::Event;
use xiaoan_domain::now_millis;
use xiaoan_notify::ChannelKind;
use xiaoan_store::notify;

/// An inbox entry as the page shows it.
struct Row {
    id: i64,
    title: String,
    at: String,
    count: i64,
    unread: bool,
    urgent: bool,
}

#[derive(Template)]
#[template(path = "notify/inbox.html")]
struct InboxPage {
    l: Layout,
    rows: Vec<Row>,
    unread: i64,
}

fn when(st: &AppState, at: i64) -> String {
    st.config
        .district
        .local(at)
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

/// `GET /inbox`: the newest 100 entries.
#[tracing::instrument(skip_all)]
pub async fn inbox(State(st): State<AppState>, caller: Caller) -> AppResult<Response> {
    let entries = notify::list_inbox(&st.db, caller.user.id, false, None, 100).await?;
    let rows = entries
        .iter()
        .map(|e| Row {
            id: e.id,
            title: entry_title(e, caller.lang),
            at: when(&st, e.updated_at),
            count: e.count,
            unread: e.read_at.is_none(),
            urgent: e.urgent == 1,
        })
        .collect();
    Ok(render(&InboxPage {
        l: Layout::new(&caller, "inbox.title", "/inbox"),
        rows,
        unread: caller.unread,
    }))
}

/// `POST /inbox/{id}/read`: marks the entry read and opens its object.
#[tracing::instrument(skip_all)]
pub async fn read(State(st): State<AppState>, caller: Caller, Id(id): Id) -> AppResult<Response> {
    let e = notify::mark_read(&st.db, caller.user.id, id, now_millis()).await?;
    Ok(Redirect::to(&object_path(&e.object_kind, e.object_id)).into_response())
}

/// `POST /inbox/read-all`.
#[tracing::instrument(skip_all)]
pub async fn read_all(State(st): State<AppState>, caller: Caller) -> AppResult<Response> {
    notify::mark_all_read(&st.db, caller.user.id, now_millis()).await?;
    Ok(Redirect::to("/inbox").into_response())
}

/// One event's line on the settings page.
struct EventLine {
    code: &'static str,
    name: String,
    email: bool,
    digest: bool,
}

/// A channel as the settings page lists it.
struct ChannelLine {
    id: i64,
    org: String,
    kind: String,
    name: String,
    target: String,
    has_secret: bool,
    status: String,
    failing: bool,
}

#[derive(Template)]
#[template(path = "notify/settings.html")]
struct SettingsPage {
    l: Layout,
    error: Option<String>,
    email: String,
    quiet_start: String,
    quiet_end: String,
    events: Vec<EventLine>,
    channels: Vec<ChannelLine>,
    /// The orgs the caller runs channels for: (id, name).
    orgs: Vec<(i64, String)>,
    kinds: Vec<(&'static str, String)>,
    channel: ChannelForm,
}

/// The preferences form.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct PrefsForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    quiet_start: String,
    #[serde(default)]
    quiet_end: String,
    /// Event codes ticked for email.
    #[serde(default)]
    email_event: Vec<String>,
    /// Event codes ticked for the digest.
    #[serde(default)]
    digest_event: Vec<String>,
}

/// The add-channel form.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct ChannelForm {
    #[serde(default)]
    org_id: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    target: String,
    /// Never kept after a refusal: a secret is typed again.
    #[serde(default, skip_serializing)]
    secret: String,
}

const PATH: &str = "/settings/notifications";

/// `GET /settings/notifications`.
#[tracing::instrument(skip_all)]
pub async fn settings(
    State(st): State<AppState>,
    caller: Caller,
    session: Session,
) -> AppResult<Response> {
    let l = caller.lang;
    let refused = take_refused(&session, PATH).await;
    let p = notify::get_prefs(&st.db, caller.user.id).await?;
    let kept_prefs = refused.as_ref().and_then(|r| r.form::<PrefsForm>());
    let kept_channel = refused
        .as_ref()
        .and_then(|r| r.form::<ChannelForm>())
        .filter(|c| !c.kind.is_empty());
    let events = Event::ALL
        .iter()
        .map(|e| {
            let c = p.event(*e);
            let (email, digest) = match &kept_prefs {
                Some(k) if kept_channel.is_none() => (
                    k.email_event.iter().any(|x| x == e.code()),
                    k.digest_event.iter().any(|x| x == e.code()),
                ),
                _ => (c.email, c.digest),
            };
            EventLine {
                code: e.code(),
                name: xiaoan_notify::words::event_name(e.code(), l.code()),
                email,
                digest,
            }
        })
        .collect();
    let (email, quiet_start, quiet_end) = match &kept_prefs {
        Some(k) if kept_channel.is_none() => {
            (k.email.clone(), k.quiet_start.clone(), k.quiet_end.clone())
        }
        _ => (
            p.email.clone().unwrap_or_default(),
            clock(p.quiet_start),
            clock(p.quiet_end),
        ),
    };
    let org_ids = channel_orgs(&caller);
    let mut orgs = Vec::new();
    for id in &org_ids {
        if let Ok(o) =
            xiaoan_store::orgs::get(&st.db, &xiaoan_domain::Scope::everything(), *id).await
        {
            orgs.push((o.id, o.name));
        }
    }
    let org_name = |id: i64| {
        orgs.iter()
            .find(|(o, _)| *o == id)
            .map(|(_, n)| n.clone())
            .unwrap_or_default()
    };
    let channels = notify::list_channels(&st.db, &org_ids)
        .await?
        .into_iter()
        .map(|c| {
            let failing = c.failures > 0;
            let status = if failing {
                l.t1(
                    "settings.channel.failing",
                    "error",
                    c.last_error.as_deref().unwrap_or(""),
                )
            } else if let Some(at) = c.last_ok_at {
                l.t1("settings.channel.ok", "at", &when(&st, at))
            } else {
                l.t("settings.channel.unused")
            };
            ChannelLine {
                org: org_name(c.org_id),
                kind: l.t(&format!("settings.kind.{}", c.kind)),
                id: c.id,
                name: c.name,
                target: c.target,
                has_secret: c.has_secret,
                status,
                failing,
            }
        })
        .collect();
    let kinds = ChannelKind::ALL
        .iter()
        .map(|k| (k.as_str(), l.t(&format!("settings.kind.{}", k.as_str()))))
        .collect();
    Ok(render(&SettingsPage {
        l: Layout::new(&caller, "settings.title", "/inbox"),
        error: refused.map(|r| r.error),
        email,
        quiet_start,
        quiet_end,
        events,
        channels,
        orgs,
        kinds,
        channel: kept_channel.unwrap_or_default(),
    }))
}

async fn back(
    caller: &Caller,
    session: &Session,
    r: AppResult<()>,
    form: &impl Serialize,
) -> AppResult<Response> {
    match r {
        Ok(()) => Ok(Redirect::to(PATH).into_response()),
        Err(e) if e.status.is_client_error() => {
            let refused = Refused::with_form(PATH, e.message(caller.lang), form);
            Ok(refuse(session, PATH, refused).await)
        }
        Err(e) => Err(e),
    }
}

/// `POST /settings/notifications`: the caller's preferences.
#[tracing::instrument(skip_all)]
pub async fn save_prefs(
    State(st): State<AppState>,
    caller: Caller,
    session: Session,
    Form(f): Form<PrefsForm>,
) -> AppResult<Response> {
    let choices: Vec<EventChoice> = Event::ALL
        .iter()
        .map(|e| EventChoice {
            event: e.code().to_string(),
            email: f.email_event.iter().any(|x| x == e.code()),
            digest: f.digest_event.iter().any(|x| x == e.code()),
        })
        .collect();
    let r = async {
        let p = input::prefs(Some(&f.email), &f.quiet_start, &f.quiet_end, &choices)?;
        notify::put_prefs(&st.db, &caller.actor(), caller.user.id, &p, now_millis()).await?;
        Ok(())
    }
    .await;
    back(&caller, &session, r, &f).await
}

/// `POST /settings/channels`: adds a channel.
#[tracing::instrument(skip_all)]
pub async fn add_channel(
    State(st): State<AppState>,
    caller: Caller,
    session: Session,
    Form(f): Form<ChannelForm>,
) -> AppResult<Response> {
    let r = async {
        let body = ChannelIn {
            org_id: f
                .org_id
                .trim()
                .parse()
                .map_err(|_| AppError::invalid("channel_org"))?,
            kind: f.kind.clone(),
            name: f.name.clone(),
            target: f.target.clone(),
            secret: Some(f.secret.clone()),
            events: vec![],
        };
        let new = input::channel(&caller, &body)?;
        notify::create_channel(&st.db, &caller.actor(), caller.user.id, &new, now_millis()).await?;
        Ok(())
    }
    .await;
    back(&caller, &session, r, &f).await
}

/// `POST /settings/channels/{id}/remove`.
#[tracing::instrument(skip_all)]
pub async fn remove_channel(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> AppResult<Response> {
    notify::remove_channel(
        &st.db,
        &caller.actor(),
        &channel_orgs(&caller),
        id,
        now_millis(),
    )
    .await?;
    Ok(Redirect::to(PATH).into_response())
}
