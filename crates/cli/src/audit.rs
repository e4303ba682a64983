//! `xiaoan audit`: `verify` walks the audit log's hash chain and reports the first broken
//! link; `head` prints the newest entry's hash, to keep somewhere the database's
//! administrators cannot write, so that `verify --head` can later tell a cut tail.

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
    /// Verify the hash chain; exits with status 1 at the first broken link, or when the
    /// head given with `--head` is no longer in the chain.
    Verify {
        /// Database URL (default from the config).
        #[arg(long)]
        database: Option<String>,
        /// A hash printed earlier by `xiaoan audit head`: the entry with this hash must
        /// still be in the verified chain (newer entries may follow it). Its absence means
        /// the newest entries were removed and the head rewritten.
        #[arg(long, value_name = "HASH")]
        head: Option<String>,
    },
    /// Print the newest entry's hash (and its number) for keeping elsewhere.
    Head {
        /// Database URL (default from the config).
        #[arg(long)]
        database: Option<String>,
    },
}

/// Runs the subcommand.
pub async fn run(cfg: AppConfig, args: Args) -> anyhow::Result<()> {
    match args.command {
        Command::Head { database } => {
            let db = crate::bootstrap::open(&database.unwrap_or(cfg.database.url)).await?;
            let hash = xiaoan_store::audit::newest_hash(&db).await?;
            db.close().await;
            println!("{hash}");
            Ok(())
        }
        Command::Verify { database, head } => {
            let db = crate::bootstrap::open(&database.unwrap_or(cfg.database.url)).await?;
            let v = xiaoan_store::audit::verify(&db).await?;
            let kept = match &head {
                Some(h) => Some(xiaoan_store::audit::contains_hash(&db, h.trim()).await?),
                None => None,
            };
            db.close().await;
            match v {
                Verification::Intact { entries } => match kept {
                    Some(None) => {
                        println!(
                            "audit log TRUNCATED: the head {} is not in the chain ({entries} entries remain)",
                            head.unwrap_or_default().trim()
                        );
                        std::process::exit(1);
                    }
                    Some(Some(seq)) => {
                        println!(
                            "audit log intact: {entries} entries, every link verified; the given head is entry {seq}, {} newer entries follow it",
                            entries - seq
                        );
                        Ok(())
                    }
                    None => {
                        println!("audit log intact: {entries} entries, every link verified");
                        Ok(())
                    }
                },
                Verification::Broken(b) => {
                    println!("audit log BROKEN at entry {}: {}", b.seq, b.reason);
                    std::process::exit(1);
                }
            }
        }
    }
}
