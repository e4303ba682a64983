//! Parsing shared by the API and the pages: preferences, quiet hours, channels; and how an
//! inbox entry reads.

use crate::kit::error::{AppError, AppResult};
use crate::kit::{Caller, Lang};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use xiaoan_domain::Permission;
use xiaoan_domain::notify::Event;
use xiaoan_notify::{ChannelConfig, ChannelKind, validate};
use xiaoan_store::notify::{EventPref, InboxEntry, NewChannel, Prefs};

/// Where an inbox entry's object is shown.
pub fn object_path(kind: &str, id: i64) -> String {
    match kind {
        "hazard" => format!("/hazards/{id}"),
        "supervision" => format!("/supervision/{id}"),
        "announcement" => format!("/announcements/{id}"),
        "alarm" => format!("/alarms/{id}"),
        _ => "/inbox".to_string(),
    }
}

/// How an entry reads in `lang`.
pub fn entry_title(e: &InboxEntry, lang: Lang) -> String {
    let args: serde_json::Value = serde_json::from_str(&e.args).unwrap_or_default();
    xiaoan_notify::words::title(&e.event, &args, lang.code())
}

/// "HH:MM" as minutes of the day.
pub fn minutes(raw: &str) -> AppResult<Option<u32>> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    let bad = || AppError::invalid("quiet_hours");
    let (h, m) = raw.split_once(':').ok_or_else(bad)?;
    let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if h > 23 || m > 59 {
        return Err(bad());
    }
    Ok(Some(h * 60 + m))
}

/// Minutes of the day as "HH:MM".
pub fn clock(m: Option<u32>) -> String {
    m.map(|m| format!("{:02}:{:02}", m / 60, m % 60))
        .unwrap_or_default()
}

/// One event's choice as sent.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventChoice {
    /// An event code, e.g. `hazard.assigned`.
    pub event: String,
    pub email: bool,
    pub digest: bool,
}

/// Validated preferences from what was sent.
pub fn prefs(
    email: Option<&str>,
    quiet_start: &str,
    quiet_end: &str,
    events: &[EventChoice],
) -> AppResult<Prefs> {
    let email = email.map(str::trim).filter(|e| !e.is_empty());
    if let Some(e) = email {
        let c = ChannelConfig {
            kind: ChannelKind::Email,
            target: e.to_string(),
            secret: None,
        };
        if validate(&c).is_err() || e.contains([',', ';', ' ']) {
            return Err(AppError::invalid("email_address"));
        }
    }
    let (start, end) = (minutes(quiet_start)?, minutes(quiet_end)?);
    if start.is_some() != end.is_some() {
        return Err(AppError::invalid("quiet_hours"));
    }
    let mut chosen = BTreeMap::new();
    for c in events {
        let event = Event::from_code(&c.event).ok_or_else(|| AppError::invalid("notify_event"))?;
        chosen.insert(
            event.code().to_string(),
            EventPref {
                email: c.email,
                digest: c.digest,
            },
        );
    }
    Ok(Prefs {
        email: email.map(str::to_string),
        quiet_start: start,
        quiet_end: end,
        events: chosen,
    })
}

/// A channel as sent.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelIn {
    pub org_id: i64,
    /// `email`, `wecom`, `dingtalk`, `feishu` or `webhook`.
    pub kind: String,
    pub name: String,
    /// The robot's or webhook's URL, or the mailbox addresses.
    pub target: String,
    /// DingTalk `SEC…`, Feishu signing secret, webhook HMAC key.
    #[serde(default)]
    pub secret: Option<String>,
    /// Event codes it carries; none for all.
    #[serde(default)]
    pub events: Vec<String>,
}

/// The orgs whose channels `caller` runs.
pub fn channel_orgs(caller: &Caller) -> Vec<i64> {
    let mut orgs: Vec<i64> = caller
        .assignments
        .iter()
        .filter(|a| Permission::ChannelManage.granted_to(a.role))
        .map(|a| a.org_id)
        .collect();
    orgs.sort_unstable();
    orgs.dedup();
    orgs
}

/// A validated channel for one of `caller`'s orgs.
pub fn channel(caller: &Caller, c: &ChannelIn) -> AppResult<NewChannel> {
    if !channel_orgs(caller).contains(&c.org_id) {
        return Err(AppError::invalid("channel_org"));
    }
    let kind = ChannelKind::parse(&c.kind).ok_or_else(|| AppError::invalid("channel_kind"))?;
    let name = c.name.trim();
    if name.is_empty() || name.chars().count() > 60 {
        return Err(AppError::invalid("channel_name"));
    }
    let secret = c
        .secret
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    let config = ChannelConfig {
        kind,
        target: c.target.trim().to_string(),
        secret: secret.clone(),
    };
    validate(&config).map_err(|e| AppError::invalid(e.code()))?;
    for e in &c.events {
        Event::from_code(e).ok_or_else(|| AppError::invalid("notify_event"))?;
    }
    Ok(NewChannel {
        org_id: c.org_id,
        kind: kind.as_str().to_string(),
        name: name.to_string(),
        target: config.target,
        secret,
        events: c.events.clone(),
    })
}
