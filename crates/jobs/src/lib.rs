//! Background work: each job is a step function (idempotent, tested by calling it) and
//! [`run`] is the loop that calls the steps on a timer until shutdown.
#![forbid(unsafe_code)]

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

/// Runs a round now and then every `interval` until `shutdown` resolves. A failed round is
/// logged and retried at the next tick; nothing is lost because every step is idempotent.
pub async fn run(db: Db, s: JobSettings, shutdown: impl std::future::Future<Output = ()>) {
    let mut tick = tokio::time::interval(s.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => return,
            _ = tick.tick() => {
                match round(&db, &s).await {
                    Ok(r) if r != RoundReport::default() => tracing::info!(
                        escalated = r.escalated,
                        sessions_removed = r.sessions_removed,
                        uploads_removed = r.uploads_removed,
                        "background round"
                    ),
                    Ok(_) => {}
                    Err(e) => tracing::error!(error = %e, "background round failed"),
                }
            }
        }
    }
}
