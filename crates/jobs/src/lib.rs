//! Background work: each job is a step function (idempotent, tested by calling it) and
//! [`run`] is the loop that calls the steps on a timer until shutdown.
#![forbid(unsafe_code)]

use std::time::Duration;
use xiaoan_store::Db;

/// What the jobs need to know about the district.
#[derive(Debug, Clone)]
pub struct JobSettings {
    /// Time between rounds.
    pub interval: Duration,
    /// The district's date rules: what "today" is, and when overdue hazards are listed.
    pub district: xiaoan_domain::District,
}

/// What one round did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RoundReport {
    pub escalated: usize,
    pub sessions_removed: u64,
}

/// One round of every job: escalate overdue and major hazards, drop expired sessions.
pub async fn round(db: &Db, s: &JobSettings) -> xiaoan_store::StoreResult<RoundReport> {
    let escalated =
        xiaoan_store::hazards::escalate(db, s.district.today(), s.district.listing_overdue_days)
            .await?;
    let sessions_removed = xiaoan_store::sessions::delete_expired(db).await?;
    Ok(RoundReport {
        escalated,
        sessions_removed,
    })
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
                    Ok(r) if r != RoundReport::default() => tracing::info!(escalated = r.escalated, sessions_removed = r.sessions_removed, "background round"),
                    Ok(_) => {}
                    Err(e) => tracing::error!(error = %e, "background round failed"),
                }
            }
        }
    }
}
