//! `xiaoan plan check|load|list|recompute`: campaign plan files and the compliance engine.
//! `check` reports every problem with its line and column and touches no database; `load`
//! changes nothing when the file is refused or unchanged, and otherwise makes the file the
//! active plan (a new version when it changed) and computes its measures.

use crate::config::AppConfig;
use anyhow::Context;
use std::path::{Path, PathBuf};
use xiaoan_domain::audit::Actor;
use xiaoan_domain::plan::{Plan, parse};
use xiaoan_store::Db;
use xiaoan_store::plans::{self, LoadOutcome, StoredPlan};

/// Options of `xiaoan plan`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Check a plan file; prints FILE:LINE:COLUMN: MESSAGE for every problem.
    Check { file: PathBuf },
    /// Load a plan file and make it the active plan (idempotent).
    Load {
        file: PathBuf,
        /// Move every date of the plan by this many years (e.g. to rehearse a copy).
        #[arg(long, default_value_t = 0, allow_hyphen_values = true)]
        rebase_years: i32,
        /// Database URL (default from the config).
        #[arg(long)]
        database: Option<String>,
    },
    /// List the loaded plan versions.
    List {
        #[arg(long)]
        database: Option<String>,
    },
    /// Rebuild every compliance measure of the active plan from the records.
    Recompute {
        #[arg(long)]
        database: Option<String>,
    },
}

/// Reads and checks a plan file. When it is refused, prints FILE:LINE:COLUMN: MESSAGE for
/// every problem on standard error and exits with status 1, before any database is opened.
fn read(file: &Path) -> anyhow::Result<(Plan, String)> {
    let src =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    match parse(&src) {
        Ok(p) => Ok((p, src)),
        Err(errors) => {
            for e in &errors {
                eprintln!("{}:{e}", file.display());
            }
            eprintln!(
                "{} problem(s) in {}; nothing was loaded",
                errors.len(),
                file.display()
            );
            std::process::exit(1);
        }
    }
}

fn summary(p: &Plan) -> String {
    format!(
        "plan {} \"{}\" {}..{}: {} tasks ({} main), {} phases, {} obligations, {} record kinds of its own, {} parameters",
        p.code,
        p.name.zh_tw,
        p.starts_on,
        p.ends_on,
        p.tasks.len(),
        p.main_tasks().count(),
        p.phases.len(),
        p.obligations.len(),
        p.kinds.len(),
        p.params.len()
    )
}

/// Computes the measures of `plan` and prints what it did.
pub async fn recompute(db: &Db, plan: &StoredPlan) -> anyhow::Result<()> {
    let cal = xiaoan_store::calendar::load(db).await?;
    if cal.terms().is_empty() {
        println!(
            "note: the school calendar has no terms yet; term and school-year obligations have no occurrences"
        );
    }
    let s =
        xiaoan_store::compliance::recompute(db, &Actor::system("plan"), plan, &cal, None).await?;
    println!(
        "computed plan {} v{}: {} obligations, {} record rows read, {} measures written in {} ms",
        plan.code, plan.version, s.obligations, s.rows_read, s.measures_written, s.elapsed_ms
    );
    Ok(())
}

/// Runs the subcommand.
pub async fn run(cfg: AppConfig, args: Args) -> anyhow::Result<()> {
    let open = |database: Option<String>| {
        let url = database.unwrap_or_else(|| cfg.database.url.clone());
        async move { crate::bootstrap::open(&url).await }
    };
    match args.command {
        Command::Check { file } => {
            let (plan, _) = read(&file)?;
            println!("{}: ok — {}", file.display(), summary(&plan));
            Ok(())
        }
        Command::Load {
            file,
            rebase_years,
            database,
        } => {
            let (plan, src) = read(&file)?;
            let plan = if rebase_years == 0 {
                plan
            } else {
                plan.rebased(rebase_years)
            };
            let db = open(database).await?;
            let outcome = plans::load(&db, &Actor::system("plan"), &plan, &src).await?;
            match &outcome {
                LoadOutcome::Unchanged(p) => {
                    println!(
                        "unchanged: {} v{} is already the active plan",
                        p.code, p.version
                    )
                }
                LoadOutcome::Reactivated(p) => {
                    println!("{} v{} is the active plan again", p.code, p.version)
                }
                LoadOutcome::Loaded(p) => {
                    println!("loaded {} as v{} — {}", p.code, p.version, summary(&plan))
                }
            }
            if !matches!(outcome, LoadOutcome::Unchanged(_)) {
                recompute(&db, outcome.plan()).await?;
            }
            db.close().await;
            Ok(())
        }
        Command::List { database } => {
            let db = open(database).await?;
            let list = plans::list(&db).await?;
            if list.is_empty() {
                println!("no plan loaded yet (xiaoan plan load FILE)");
            }
            for v in list {
                let at = chrono::DateTime::from_timestamp_millis(v.loaded_at).unwrap_or_default();
                println!(
                    "{} {:<20} v{:<3} loaded {} by {}",
                    if v.active { "*" } else { " " },
                    v.code,
                    v.version,
                    at.format("%Y-%m-%d %H:%M UTC"),
                    v.loaded_by
                );
            }
            db.close().await;
            Ok(())
        }
        Command::Recompute { database } => {
            let db = open(database).await?;
            let plan = plans::active(&db)
                .await?
                .context("no active plan (xiaoan plan load FILE)")?;
            recompute(&db, &plan).await?;
            db.close().await;
            Ok(())
        }
    }
}
