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
    chain: String,
    intact: bool,
    next_before: Option<i64>,
}

/// Paging.
#[derive(Deserialize)]
pub struct AuditQuery {
    before: Option<i64>,
}

/// `GET /audit`.
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
    let (intact, chain) = match audit::verify(&st.db).await? {
        Verification::Intact { entries } => (true, l.t1("audit.intact", "n", &entries.to_string())),
        Verification::Broken(b) => (false, l.t1("audit.broken", "seq", &b.seq.to_string())),
    };
    let entries = entries
        .into_iter()
        .map(|e| {
            let at = st
                .config
                .district
                .local(e.at)
                .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                .unwrap_or_default();
            (at, e)
        })
        .collect();
    Ok(render(&AuditPage {
        l: Layout::new(&caller, "audit.title", "/audit"),
        entries,
        chain,
        intact,
        next_before,
    }))
}
