//! `/api/v1/inbox`, `/api/v1/notification-settings`, `/api/v1/notification-channels`.

use super::input::{self, ChannelIn, EventChoice, channel_orgs, clock, entry_title, object_path};
use crate::kit::error::AppResult;
use crate::kit::{ApiJson, ApiQuery, AppState, Caller, ErrorBody, Id};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use xiaoan_domain::notify::Event;
use xiaoan_domain::{Millis, now_millis};
use xiaoan_store::notify::{self, Channel, InboxEntry};

/// One inbox entry.
#[derive(Serialize, ToSchema)]
pub struct EntryOut {
    pub id: i64,
    pub event: String,
    /// The message in the request's language.
    pub title: String,
    pub object_kind: String,
    pub object_id: i64,
    /// Where the object is shown.
    pub link: String,
    pub urgent: bool,
    /// Identical events grouped into this entry.
    pub count: i64,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub read_at: Option<Millis>,
}

fn entry(e: InboxEntry, caller: &Caller) -> EntryOut {
    EntryOut {
        title: entry_title(&e, caller.lang),
        link: object_path(&e.object_kind, e.object_id),
        id: e.id,
        event: e.event,
        object_kind: e.object_kind,
        object_id: e.object_id,
        urgent: e.urgent == 1,
        count: e.count,
        created_at: e.created_at,
        updated_at: e.updated_at,
        read_at: e.read_at,
    }
}

/// A page of the inbox, newest first.
#[derive(Serialize, ToSchema)]
pub struct InboxOut {
    pub items: Vec<EntryOut>,
    pub unread: i64,
    /// Pass as `before` for the next page.
    pub next_before: Option<i64>,
}

/// Paging and filter of the inbox.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct InboxQuery {
    /// Only unread entries.
    pub unread: Option<bool>,
    pub before: Option<i64>,
    pub limit: Option<i64>,
}

/// The caller's inbox.
#[utoipa::path(get, path = "/api/v1/inbox", tag = "notifications", params(InboxQuery), security(("bearer" = [])),
    responses((status = 200, body = InboxOut), (status = 401, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn inbox(
    State(st): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<InboxQuery>,
) -> AppResult<Json<InboxOut>> {
    let limit = q.limit.unwrap_or(50).clamp(1, 200);
    let rows = notify::list_inbox(
        &st.db,
        caller.user.id,
        q.unread.unwrap_or(false),
        q.before,
        limit,
    )
    .await?;
    let next_before = (rows.len() as i64 == limit)
        .then(|| rows.last().map(|e| e.id))
        .flatten();
    Ok(Json(InboxOut {
        unread: notify::unread_count(&st.db, caller.user.id).await?,
        items: rows.into_iter().map(|e| entry(e, &caller)).collect(),
        next_before,
    }))
}

/// Marks one of the caller's entries read.
#[utoipa::path(post, path = "/api/v1/inbox/{id}/read", tag = "notifications", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = EntryOut), (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn read(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> AppResult<Json<EntryOut>> {
    let e = notify::mark_read(&st.db, caller.user.id, id, now_millis()).await?;
    Ok(Json(entry(e, &caller)))
}

/// One event's choice, with its name.
#[derive(Serialize, ToSchema)]
pub struct EventPrefOut {
    pub event: String,
    pub name: String,
    pub email: bool,
    pub digest: bool,
}

/// Quiet hours, local time.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuietHours {
    /// "22:00".
    pub start: String,
    /// "07:00".
    pub end: String,
}

/// The caller's preferences and the channels of the orgs they run (secrets never shown).
#[derive(Serialize, ToSchema)]
pub struct SettingsOut {
    pub email: Option<String>,
    pub quiet_hours: Option<QuietHours>,
    pub events: Vec<EventPrefOut>,
    #[schema(value_type = Vec<Object>)]
    pub channels: Vec<Channel>,
    /// The orgs whose channels the caller may configure.
    pub channel_orgs: Vec<i64>,
}

async fn settings_of(st: &AppState, caller: &Caller) -> AppResult<SettingsOut> {
    let p = notify::get_prefs(&st.db, caller.user.id).await?;
    let events = Event::ALL
        .iter()
        .map(|e| {
            let c = p.event(*e);
            EventPrefOut {
                event: e.code().to_string(),
                name: xiaoan_notify::words::event_name(e.code(), caller.lang.code()),
                email: c.email,
                digest: c.digest,
            }
        })
        .collect();
    let orgs = channel_orgs(caller);
    Ok(SettingsOut {
        email: p.email.clone(),
        quiet_hours: p.quiet_start.zip(p.quiet_end).map(|(a, b)| QuietHours {
            start: clock(Some(a)),
            end: clock(Some(b)),
        }),
        events,
        channels: notify::list_channels(&st.db, &orgs).await?,
        channel_orgs: orgs,
    })
}

/// The caller's notification settings.
#[utoipa::path(get, path = "/api/v1/notification-settings", tag = "notifications", security(("bearer" = [])),
    responses((status = 200, body = SettingsOut)))]
#[tracing::instrument(skip_all)]
pub async fn get_settings(
    State(st): State<AppState>,
    caller: Caller,
) -> AppResult<Json<SettingsOut>> {
    Ok(Json(settings_of(&st, &caller).await?))
}

/// New preferences: every field replaces what was there; events not listed take their
/// defaults.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsIn {
    pub email: Option<String>,
    pub quiet_hours: Option<QuietHours>,
    #[serde(default)]
    pub events: Vec<EventChoice>,
}

/// Replaces the caller's preferences.
#[utoipa::path(put, path = "/api/v1/notification-settings", tag = "notifications", request_body = SettingsIn, security(("bearer" = [])),
    responses((status = 200, body = SettingsOut), (status = 400, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn put_settings(
    State(st): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<SettingsIn>,
) -> AppResult<Json<SettingsOut>> {
    let (start, end) = body
        .quiet_hours
        .as_ref()
        .map_or((String::new(), String::new()), |q| {
            (q.start.clone(), q.end.clone())
        });
    let p = input::prefs(body.email.as_deref(), &start, &end, &body.events)?;
    notify::put_prefs(&st.db, &caller.actor(), caller.user.id, &p, now_millis()).await?;
    Ok(Json(settings_of(&st, &caller).await?))
}

/// Adds a delivery channel to one of the caller's orgs.
#[utoipa::path(post, path = "/api/v1/notification-channels", tag = "notifications", request_body = ChannelIn, security(("bearer" = [])),
    responses((status = 201, body = Object), (status = 400, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn add_channel(
    State(st): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<ChannelIn>,
) -> AppResult<(StatusCode, Json<Channel>)> {
    let new = input::channel(&caller, &body)?;
    let id =
        notify::create_channel(&st.db, &caller.actor(), caller.user.id, &new, now_millis()).await?;
    let channels = notify::list_channels(&st.db, &[new.org_id]).await?;
    let c = channels
        .into_iter()
        .find(|c| c.id == id)
        .ok_or_else(crate::kit::error::AppError::not_found)?;
    Ok((StatusCode::CREATED, Json(c)))
}

/// Removes one of the caller's orgs' channels (its delivery history stays).
#[utoipa::path(delete, path = "/api/v1/notification-channels/{id}", tag = "notifications", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn remove_channel(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> AppResult<StatusCode> {
    notify::remove_channel(
        &st.db,
        &caller.actor(),
        &channel_orgs(&caller),
        id,
        now_millis(),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
