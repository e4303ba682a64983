//! The worker: every node runs one. Each poll it schedules the periodic kinds (one job per
//! kind and time slot: the queue's dedupe key makes the other nodes' attempts no-ops),
//! claims due jobs under a lease, runs them concurrently while a ticker extends their
//! leases, and records each outcome. A node that dies leaves its leases to lapse; another
//! node claims the jobs again, and a step that lost its lease changes nothing on finish.

use crate::kinds::{Ctx, Kind};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use xiaoan_domain::now_millis;
use xiaoan_store::jobs::{self, Job, NewJob};

/// How a worker polls and leases.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// This node's name in leases and delivery attempts.
    pub node: String,
    /// Time between polls when the queue is idle.
    pub poll: Duration,
    /// How long a claim holds a job; extended every third of it while the job runs.
    pub lease: Duration,
    /// Jobs claimed at once.
    pub batch: i64,
}

/// A name for this node: host and process, and a random part so that a restarted process
/// never mistakes an old lease for its own.
pub fn node_name() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "node".to_string());
    format!(
        "{host}-{}-{:04x}",
        std::process::id(),
        rand::random::<u16>()
    )
}

/// The registered kinds by name.
pub struct Registry {
    kinds: HashMap<&'static str, Arc<dyn Kind>>,
}

impl Registry {
    pub fn new(kinds: Vec<Arc<dyn Kind>>) -> Registry {
        Registry {
            kinds: kinds.into_iter().map(|k| (k.name(), k)).collect(),
        }
    }

    pub fn get(&self, name: &str) -> Option<&Arc<dyn Kind>> {
        self.kinds.get(name)
    }

    fn periodic(&self) -> impl Iterator<Item = (&'static str, Duration)> + '_ {
        self.kinds
            .values()
            .filter_map(|k| k.every().map(|e| (k.name(), e)))
    }
}

/// Adds this slot's job of every periodic kind (a no-op where another node already has).
pub async fn schedule(db: &xiaoan_store::Db, registry: &Registry, now: i64) -> usize {
    let mut added = 0;
    for (name, every) in registry.periodic() {
        let every_ms = i64::try_from(every.as_millis()).unwrap_or(i64::MAX).max(1);
        let slot = now / every_ms;
        let job = NewJob {
            kind: name.to_string(),
            payload: serde_json::json!({ "slot": slot }),
            dedupe_key: Some(format!("slot-{slot}")),
            run_at: slot * every_ms,
            max_attempts: 3,
        };
        match jobs::enqueue(db, &job, now).await {
            Ok(Some(_)) => added += 1,
            Ok(None) => {}
            Err(e) => tracing::error!(error = %e, kind = name, "cannot schedule a periodic job"),
        }
    }
    added
}

/// Runs one claimed job to its outcome.
pub async fn run_job(ctx: Arc<Ctx>, registry: Arc<Registry>, job: Job, lease: Duration) {
    let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(60_000);
    let node = ctx.node.clone();
    let Some(kind) = registry.get(&job.kind).cloned() else {
        let retry = jobs::Retry {
            base_ms: 60_000,
            max_ms: 60_000,
            max_attempts: 1,
        };
        let _ = jobs::fail(
            &ctx.db,
            job.id,
            &node,
            "unknown job kind",
            &retry,
            0.0,
            now_millis(),
        )
        .await;
        return;
    };
    // Keep the lease while the step runs.
    let db = ctx.db.clone();
    let (id, owner) = (job.id, node.clone());
    let ticker = tokio::spawn(async move {
        let mut every = tokio::time::interval(lease / 3);
        every.tick().await;
        loop {
            every.tick().await;
            let now = now_millis();
            match jobs::extend(&db, id, &owner, now + lease_ms, now).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!(job = id, "lease lost to another node");
                    return;
                }
                Err(e) => tracing::error!(error = %e, job = id, "cannot extend a lease"),
            }
        }
    });
    let outcome = kind.step(&ctx, &job).await;
    ticker.abort();
    let now = now_millis();
    let recorded = match outcome {
        Ok(()) => jobs::finish(&ctx.db, job.id, &node, now).await,
        Err(error) => {
            tracing::warn!(job = job.id, kind = %job.kind, attempt = job.attempts, %error, "job failed");
            jobs::fail(
                &ctx.db,
                job.id,
                &node,
                &error,
                &kind.retry(),
                rand::random::<f64>(),
                now,
            )
            .await
        }
    };
    if let Err(e) = recorded {
        tracing::error!(error = %e, job = job.id, "cannot record a job's outcome");
    }
}

/// Polls until `shutdown` resolves: schedule, claim, run. Returns after the jobs in hand
/// have finished.
pub async fn run(
    ctx: Arc<Ctx>,
    registry: Arc<Registry>,
    s: WorkerSettings,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let lease_ms = i64::try_from(s.lease.as_millis()).unwrap_or(60_000);
    let mut running = tokio::task::JoinSet::new();
    // Periodic work is offered to the queue once per slot by each node (the dedupe key keeps
    // one), not on every turn of the loop: a turn then costs one claim.
    let mut offered: Option<i64> = None;
    let tick_ms = registry
        .periodic()
        .map(|(_, every)| i64::try_from(every.as_millis()).unwrap_or(i64::MAX))
        .min()
        .unwrap_or(i64::MAX)
        .clamp(1, 60_000);
    loop {
        let now = now_millis();
        if offered != Some(now / tick_ms) {
            schedule(&ctx.db, &registry, now).await;
            offered = Some(now / tick_ms);
        }
        while running.try_join_next().is_some() {}
        let room = s.batch - i64::try_from(running.len()).unwrap_or(0);
        // Claim when half the batch is free (or nothing runs): one claim for many jobs.
        let mut claimed = 0;
        if room > 0 && (running.is_empty() || room * 2 >= s.batch) {
            match jobs::claim(&ctx.db, &ctx.node, now, lease_ms, room).await {
                Ok(batch) => {
                    claimed = batch.len();
                    for job in batch {
                        running.spawn(run_job(ctx.clone(), registry.clone(), job, s.lease));
                    }
                }
                Err(e) => tracing::error!(error = %e, "cannot claim jobs"),
            }
        }
        if claimed > 0 && claimed as i64 == room {
            continue;
        }
        tokio::select! {
            () = &mut shutdown => break,
            () = tokio::time::sleep(s.poll) => {}
            Some(_) = running.join_next(), if !running.is_empty() => {}
        }
    }
    while running.join_next().await.is_some() {}
}
