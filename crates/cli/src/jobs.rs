//! `xiaoan jobs`: the job queue for administrators: `list` (optionally of one state),
//! `retry` a dead or cancelled job, `cancel` a queued one. Changes are audited.

use crate::config::AppConfig;
use anyhow::bail;
use xiaoan_domain::audit::Actor;
use xiaoan_store::StoreError;
use xiaoan_store::audit::{self, Event};
use xiaoan_store::jobs::{self, Job};

/// Options of `xiaoan jobs`.
#[derive(clap::Args)]
pub struct Args {
    /// Database URL (default from the config).
    #[arg(long, global = true)]
    database: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// List jobs, newest first.
    List {
        /// Only jobs in this state: queued, running, done, dead or cancelled.
        #[arg(long)]
        state: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Put a dead or cancelled job back in the queue, due now, its attempts reset.
    Retry { id: i64 },
    /// Cancel a queued job.
    Cancel { id: i64 },
}

fn when(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

fn line(j: &Job) -> String {
    format!(
        "{:>8}  {:<10} {:<24} {:>3}/{:<3} {:<19}  {}{}",
        j.id,
        j.state,
        j.kind,
        j.attempts,
        j.max_attempts,
        when(j.run_at),
        j.lease_owner
            .as_deref()
            .map(|o| format!("held by {o} "))
            .unwrap_or_default(),
        j.last_error.as_deref().unwrap_or("")
    )
}

/// Runs the subcommand.
pub async fn run(cfg: AppConfig, args: Args) -> anyhow::Result<()> {
    let db = crate::bootstrap::open(&args.database.unwrap_or(cfg.database.url)).await?;
    let now = xiaoan_domain::now_millis();
    let r = match args.command {
        Command::List { state, limit } => match jobs::list(&db, state.as_deref(), limit).await {
            Ok(list) => {
                println!(
                    "{:>8}  {:<10} {:<24} {:>7} {:<19}  lease, last error",
                    "id", "state", "kind", "tries", "due"
                );
                for j in &list {
                    println!("{}", line(j));
                }
                Ok(())
            }
            Err(StoreError::Invalid(_)) => Err(anyhow::anyhow!(
                "unknown state {:?}: one of {}",
                state.unwrap_or_default(),
                jobs::STATES.join(", ")
            )),
            Err(e) => Err(e.into()),
        },
        Command::Retry { id } => {
            change(&db, id, "job.retry", jobs::retry(&db, id, now).await).await
        }
        Command::Cancel { id } => {
            change(&db, id, "job.cancel", jobs::cancel(&db, id, now).await).await
        }
    };
    db.close().await;
    r
}

async fn change(
    db: &xiaoan_store::Db,
    id: i64,
    action: &str,
    r: Result<(), StoreError>,
) -> anyhow::Result<()> {
    match r {
        Ok(()) => {
            audit::record(
                db,
                &Actor::system("cli"),
                Event::ok(action, "job", id, serde_json::json!({})),
            )
            .await?;
            let job = jobs::get(db, id).await?;
            if let Some(j) = job {
                println!("{}", line(&j));
            }
            Ok(())
        }
        Err(StoreError::NotFound) => bail!("no job {id}"),
        Err(StoreError::Conflict(_)) => {
            let state = jobs::get(db, id)
                .await?
                .map(|j| j.state)
                .unwrap_or_default();
            bail!(
                "job {id} is {state}: only a dead or cancelled job is retried, only a queued one cancelled"
            )
        }
        Err(e) => Err(e.into()),
    }
}
