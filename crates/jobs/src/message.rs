//! The text of a delivery: the notification's title in the district's language, its
//! details, and a link back to the object.

use crate::NotifySettings;
use xiaoan_notify::{Message, words};
use xiaoan_store::notify::{Digest, Notification};

/// The path of a notification's object in the web interface.
pub fn path_of(object_kind: &str, object_id: i64) -> String {
    match object_kind {
        "hazard" => format!("/hazards/{object_id}"),
        "supervision" => format!("/supervision/{object_id}"),
        "announcement" => format!("/announcements/{object_id}"),
        "alarm" => format!("/alarms/{object_id}"),
        _ => "/inbox".to_string(),
    }
}

fn link(s: &NotifySettings, n: &Notification) -> String {
    format!(
        "{}{}",
        s.public_url.trim_end_matches('/'),
        path_of(&n.object_kind, n.object_id)
    )
}

/// The message for delivery `delivery_id` of `n`.
pub fn message(s: &NotifySettings, n: &Notification, delivery_id: i64) -> Message {
    let args: serde_json::Value = serde_json::from_str(&n.args).unwrap_or_default();
    Message {
        title: words::title(&n.event, &args, &s.lang),
        body: words::details(&args, &s.lang).join("\n"),
        link: Some(link(s, n)),
        event: n.event.clone(),
        urgent: n.urgent == 1,
        id: format!("delivery-{delivery_id}"),
    }
}

/// One email with every event a digest held.
pub fn digest(s: &NotifySettings, d: &Digest) -> Message {
    let lines: Vec<String> = d
        .items
        .iter()
        .map(|(_, n)| {
            let args: serde_json::Value = serde_json::from_str(&n.args).unwrap_or_default();
            format!(
                "· {}\n  {}",
                words::title(&n.event, &args, &s.lang),
                link(s, n)
            )
        })
        .collect();
    Message {
        title: words::digest_title(d.items.len(), &s.lang),
        body: lines.join("\n"),
        link: Some(format!("{}/inbox", s.public_url.trim_end_matches('/'))),
        event: "digest".to_string(),
        urgent: false,
        id: format!(
            "digest-{}-{}",
            d.user_id,
            d.items.first().map_or(0, |(id, _)| *id)
        ),
    }
}
