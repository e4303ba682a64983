//! `xiaoan audit verify`: walk the audit log's hash chain and report the first broken link.

use crate::config::AppConfig;
use xiaoan_store::audit::Verification;

/// Options of `xiaoan audit`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Verify the hash chain; exits with status 1 at the first broken link.
    Verify {
        /// Database URL (default from the config).
        #[arg(long)]
        database: Option<String>,
    },
}

/// Runs the subcommand.
pub async fn run(cfg: AppConfig, args: Args) -> anyhow::Result<()> {
    let Command::Verify { database } = args.command;
    let db = crate::bootstrap::open(&database.unwrap_or(cfg.database.url)).await?;
    let v = xiaoan_store::audit::verify(&db).await?;
    db.close().await;
    match v {
        Verification::Intact { entries } => {
            println!("audit log intact: {entries} entries, every link verified");
            Ok(())
        }
        Verification::Broken(b) => {
            println!("audit log BROKEN at entry {}: {}", b.seq, b.reason);
            std::process::exit(1);
        }
    }
}
