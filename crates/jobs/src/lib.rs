//! Background work on the database job queue: each kind of job is a type with a name, a
//! step (idempotent, tested by calling it) and a retry policy ([`kinds`]); the [`worker`]
//! that every app node runs schedules the periodic kinds once per slot, claims due jobs
//! under a lease and records their outcomes, so several nodes on one database never run
//! the same job twice.
#![forbid(unsafe_code)]

pub mod kinds;
pub mod message;
pub mod worker;

use std::path::{Path, PathBuf};
use std::time::Duration;
use xiaoan_store::Db;

/// What the jobs need to know about the district.
#[derive(Debug, Clone)]
pub struct JobSettings {
    /// Time between rounds.
    pub interval: Duration,
    /// The district's date rules: what "today" is, and when overdue hazards are listed.
    pub district: xiaoan_domain::District,
    /// Where uploaded files are kept (the web layer's storage directory).
    pub storage_dir: PathBuf,
    /// How long an upload may stay unused by any hazard step or record before it is removed.
    pub unreferenced_upload_grace: Duration,
    /// How notifications are worded, grouped and retried.
    pub notify: NotifySettings,
    /// How long device readings are kept.
    pub reading_retention: Duration,
    /// When unacknowledged alarms are repeated and escalated.
    pub alarm_escalation: xiaoan_domain::iot::Escalation,
}

/// How notifications are delivered.
#[derive(Debug, Clone)]
pub struct NotifySettings {
    /// The address people open xiaoan at: links in messages start with it.
    pub public_url: String,
    /// The language robots and emails are written in.
    pub lang: String,
    /// Identical events on one object within this window are grouped.
    pub group_window: Duration,
    /// How a failed delivery is retried.
    pub retry: xiaoan_store::jobs::Retry,
    /// The local hour (0–23) the daily digest is sent.
    pub digest_hour: u32,
}

impl Default for NotifySettings {
    fn default() -> Self {
        NotifySettings {
            public_url: "http://127.0.0.1:8080".to_string(),
            lang: "zh-TW".to_string(),
            group_window: Duration::from_secs(3600),
            retry: xiaoan_store::jobs::Retry {
                base_ms: 30_000,
                max_ms: 3_600_000,
                max_attempts: 8,
            },
            digest_hour: 7,
        }
    }
}

/// What one round did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RoundReport {
    pub escalated: usize,
    pub sessions_removed: u64,
    pub uploads_removed: usize,
}

/// One round of every job: escalate overdue and major hazards, drop expired sessions,
/// remove uploads nobody used.
pub async fn round(db: &Db, s: &JobSettings) -> xiaoan_store::StoreResult<RoundReport> {
    let escalated =
        xiaoan_store::hazards::escalate(db, s.district.today(), s.district.listing_overdue_days)
            .await?;
    let sessions_removed = xiaoan_store::sessions::delete_expired(db).await?;
    let grace_ms = i64::try_from(s.unreferenced_upload_grace.as_millis()).unwrap_or(i64::MAX);
    let uploaded_before = xiaoan_domain::now_millis().saturating_sub(grace_ms);
    let uploads_removed = remove_unreferenced_uploads(db, &s.storage_dir, uploaded_before).await?;
    Ok(RoundReport {
        escalated,
        sessions_removed,
        uploads_removed,
    })
}

/// Uploads removed per transaction.
const UPLOAD_BATCH: i64 = 500;

/// Removes the uploads (database rows and files under `storage_dir`) made before
/// `uploaded_before` (milliseconds; a round passes now minus the grace period) that no
/// hazard step and no record uses; returns how many. The rows go first, in their own
/// transaction; a file that is already gone is not an error, so a rerun changes nothing.
pub async fn remove_unreferenced_uploads(
    db: &Db,
    storage_dir: &Path,
    uploaded_before: xiaoan_domain::Millis,
) -> xiaoan_store::StoreResult<usize> {
    let actor = xiaoan_domain::audit::Actor::system("jobs");
    let mut removed = 0;
    loop {
        let batch = xiaoan_store::attachments::remove_unreferenced(
            db,
            &actor,
            uploaded_before,
            UPLOAD_BATCH,
        )
        .await?;
        for r in &batch {
            let path = storage_dir.join(&r.stored_name);
            match tokio::fs::remove_file(&path).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    tracing::error!(error = %e, id = r.id, path = %path.display(), "cannot delete an unused upload's file");
                }
            }
        }
        removed += batch.len();
        if (batch.len() as i64) < UPLOAD_BATCH {
            return Ok(removed);
        }
    }
}

/// Runs this node's worker until `shutdown` resolves: the periodic rounds, notification
/// dispatch and delivery, all through the job queue.
pub async fn run(
    db: Db,
    s: JobSettings,
    sender: xiaoan_notify::Sender,
    worker: worker::WorkerSettings,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let registry = std::sync::Arc::new(worker::Registry::new(kinds::all(&s)));
    let ctx = std::sync::Arc::new(kinds::Ctx {
        db,
        settings: s,
        sender,
        node: worker.node.clone(),
    });
    worker::run(ctx, registry, worker, shutdown).await;
}
