//! How notifications read, in the three interface languages: the events' names (for the
//! settings page), the one-line title of each message (for the inbox, robots and email),
//! and the rungs of the supervision ladder. The inbox pages and the deliveries share these
//! words, so a message reads the same wherever it arrives.

use xiaoan_domain::iot::video::{GapWords, KeyArea};

/// The language codes the words come in.
pub const LANGS: [&str; 3] = ["zh-TW", "zh-CN", "en"];

fn arg(args: &serde_json::Value, key: &str) -> String {
    match args.get(key) {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Null) | None => String::new(),
        Some(v) => v.to_string(),
    }
}

/// An event's name, e.g. "隱患指派給我".
pub fn event_name(event: &str, lang: &str) -> String {
    let key = format!("event.{event}.name");
    rust_i18n::t!(key.as_str(), locale = lang).into_owned()
}

/// A rung's name, e.g. "預警".
pub fn rung_name(rung: &str, lang: &str) -> String {
    let key = format!("rung.{rung}");
    rust_i18n::t!(key.as_str(), locale = lang).into_owned()
}

/// The message's title for `event` with its `args` (number, title, subject, school,
/// issuer, rung, deadline).
pub fn title(event: &str, args: &serde_json::Value, lang: &str) -> String {
    let rung = rung_name(&arg(args, "rung"), lang);
    let alarm = arg(args, "alarm");
    let alarm = if alarm.is_empty() {
        alarm
    } else {
        alarm_name(&alarm, lang)
    };
    // An alarm without a value (an event, no data) has a title without one.
    let plain = format!("event.{event}.title_no_value");
    let has_plain = rust_i18n::t!(plain.as_str(), locale = lang) != plain.as_str();
    let key = if arg(args, "value").is_empty() && has_plain {
        plain
    } else {
        format!("event.{event}.title")
    };
    rust_i18n::t!(
        key.as_str(),
        locale = lang,
        number = arg(args, "number"),
        title = arg(args, "title"),
        subject = arg(args, "subject"),
        school = arg(args, "school"),
        issuer = arg(args, "issuer"),
        deadline = arg(args, "deadline"),
        rung = rung,
        location = arg(args, "location"),
        device = arg(args, "device"),
        value = arg(args, "value"),
        alarm = alarm
    )
    .into_owned()
}

/// A monitoring alarm type's name, e.g. "煙感報警".
pub fn alarm_name(alarm: &str, lang: &str) -> String {
    let key = format!("alarm.{alarm}");
    rust_i18n::t!(key.as_str(), locale = lang).into_owned()
}

/// The title and description of the hazard filed for a fire, smoke or gas alarm.
pub fn alarm_hazard(alarm: &str, location: &str, device: &str, lang: &str) -> (String, String) {
    let name = alarm_name(alarm, lang);
    (
        rust_i18n::t!(
            "alarm_hazard.title",
            locale = lang,
            alarm = name,
            location = location
        )
        .into_owned(),
        rust_i18n::t!(
            "alarm_hazard.description",
            locale = lang,
            alarm = name,
            location = location,
            device = device
        )
        .into_owned(),
    )
}

/// The name of key area `area`.
pub fn area_name(area: KeyArea, lang: &str) -> String {
    let key = format!("video_area.{}", area.code());
    rust_i18n::t!(key.as_str(), locale = lang).into_owned()
}

/// The hazard of an uncovered key area `area`.
pub fn video_gap(area: KeyArea, lang: &str) -> GapWords {
    let name = area_name(area, lang);
    GapWords {
        title: rust_i18n::t!("video_gap.title", locale = lang, area = name).into_owned(),
        description: rust_i18n::t!("video_gap.description", locale = lang, area = name)
            .into_owned(),
        location: name,
        found_by: rust_i18n::t!("video_gap.found_by", locale = lang).into_owned(),
    }
}

/// The note of the video obligation's record computed from the camera inventory.
pub fn video_record_note(lang: &str) -> String {
    rust_i18n::t!("video_gap.record_note", locale = lang).into_owned()
}

/// The lines under the title: the school and the deadline when there are any.
pub fn details(args: &serde_json::Value, lang: &str) -> Vec<String> {
    let mut out = Vec::new();
    let school = arg(args, "school");
    if !school.is_empty() {
        out.push(rust_i18n::t!("detail.school", locale = lang, school = school).into_owned());
    }
    let deadline = arg(args, "deadline");
    if !deadline.is_empty() {
        out.push(rust_i18n::t!("detail.deadline", locale = lang, deadline = deadline).into_owned());
    }
    out
}

/// The subject and first line of a digest of `n` events.
pub fn digest_title(n: usize, lang: &str) -> String {
    rust_i18n::t!("digest.title", locale = lang, n = n).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_and_rung_has_words_in_every_language() {
        let events = xiaoan_domain::notify::Event::CODES;
        for lang in LANGS {
            for e in events {
                let name = event_name(e, lang);
                assert!(!name.starts_with("event."), "{lang} {e}");
                let t = title(
                    e,
                    &serde_json::json!({"number": "N-1", "subject": "S", "title": "T", "rung": "warning"}),
                    lang,
                );
                assert!(
                    !t.contains("event.") && !t.contains("%{"),
                    "{lang} {e}: {t}"
                );
            }
            for r in [
                "reminder",
                "notice",
                "warning",
                "interview",
                "accountability",
            ] {
                assert!(!rung_name(r, lang).starts_with("rung."));
            }
        }
        assert_eq!(
            title(
                "hazard.assigned",
                &serde_json::json!({"number": "S001-2026-0001", "title": "扶手鬆動"}),
                "zh-TW"
            ),
            "隱患指派給你：S001-2026-0001 扶手鬆動"
        );
        let alarm = |value: &str| {
            title(
                "alarm.raised",
                &serde_json::json!({"school": "一中", "location": "宿舍", "device": "T-1",
                    "alarm": "no_data", "value": value}),
                "zh-TW",
            )
        };
        assert_eq!(
            alarm(""),
            "一中：宿舍設備無數據（設備 T-1）",
            "no value, no code"
        );
        assert_eq!(alarm("63.5"), "一中：宿舍設備無數據（設備 T-1，63.5）");
    }
}
