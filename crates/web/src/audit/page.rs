//! The audit log page: newest entries and the state of the hash chain.

use crate::kit::AppState;
use crate::kit::Caller;
use crate::kit::error::AppResult;
use crate::kit::page::{Layout, render};
use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;
use xiaoan_domain::audit::AuditEntry;
use xiaoan_store::audit::{self, Verification};

#[derive(Template)]
#[template(path = "audit/log.html")]
struct AuditPage {
    l: Layout,
    entries: Vec<(String, AuditEntry)>,
    /// The outcome of a chain check, when one was asked for.
    chain: Option<String>,
    intact: bool,
    next_before: Option<i64>,
    before: Option<i64>,
}

/// Paging, and whether to verify the whole chain (on demand: it reads the whole log).
#[derive(Deserialize)]
pub struct AuditQuery {
    before: Option<i64>,
    verify: Option<String>,
}

/// `text` with every control and bidirectional-formatting character written out visibly as
/// `\u{…}`, so that a login attempt cannot hide or reorder what the page shows.
pub fn visible(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let bidi = matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}');
        if c.is_control() || bidi {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// The translation of `key`, or `recorded` as it was recorded when the interface has no
/// words for it (an entry written by a later or an earlier version).
fn word_or(l: crate::kit::Lang, key: &str, recorded: &str) -> String {
    let t = l.t(key);
    if t == key { recorded.to_string() } else { t }
}

/// `GET /audit`.
#[tracing::instrument(skip_all)]
pub async fn page(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<AuditQuery>,
) -> AppResult<Response> {
    let l = caller.lang;
    let entries = audit::recent(&st.db, q.before, 100).await?;
    let next_before = (entries.len() == 100)
        .then(|| entries.last().map(|e| e.seq))
        .flatten();
    let (intact, chain) = if q.verify.is_some() {
        match audit::verify(&st.db).await? {
            Verification::Intact { entries } => {
                (true, Some(l.t1("audit.intact", "n", &entries.to_string())))
            }
            Verification::Broken(b) => {
                (false, Some(l.t1("audit.broken", "seq", &b.seq.to_string())))
            }
        }
    } else {
        (true, None)
    };
    // People by name, the background rounds in words.
    let mut names = crate::kit::page::display_names(
        &st.db,
        &entries
            .iter()
            .map(|e| e.actor_login.clone())
            .collect::<Vec<_>>(),
    )
    .await;
    for e in &entries {
        if e.actor_login.starts_with("system") {
            names.insert(e.actor_login.clone(), l.t("audit.actor.system"));
        }
    }
    let entries = entries
        .into_iter()
        .map(|e| {
            let at = st
                .config
                .district
                .local(e.at)
                .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                .unwrap_or_default();
            // Roles in words; a code the interface does not know stays as it was recorded.
            let roles = e
                .roles
                .split(',')
                .filter(|r| !r.is_empty())
                .map(|r| match xiaoan_domain::Role::from_code(r) {
                    Some(role) => crate::kit::page::role_label(l, role),
                    None => visible(r),
                })
                .collect::<Vec<_>>()
                .join("、");
            let action = match e.action.strip_prefix("hazard.") {
                Some(step) => word_or(l, &format!("hazard.action.{step}"), &e.action),
                None => word_or(l, &format!("audit.action.{}", e.action), &e.action),
            };
            let e = AuditEntry {
                actor_login: visible(names.get(&e.actor_login).unwrap_or(&e.actor_login)),
                roles,
                action: visible(&action),
                object_type: visible(&word_or(
                    l,
                    &format!("audit.object.{}", e.object_type),
                    &e.object_type,
                )),
                object_id: visible(&e.object_id),
                result: visible(&word_or(
                    l,
                    &format!("audit.result.{}", e.result),
                    &e.result,
                )),
                ..e
            };
            (at, e)
        })
        .collect();
    Ok(render(&AuditPage {
        l: Layout::new(&caller, "audit.title", "/audit"),
        entries,
        chain,
        intact,
        next_before,
        before: q.before,
    }))
}
