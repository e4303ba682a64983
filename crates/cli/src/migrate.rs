//! `xiaoan migrate`: apply migrations; create the first administrator on a new database.

use crate::config::AppConfig;

/// Options of `xiaoan migrate`.
#[derive(clap::Args)]
pub struct Args {
    /// Database URL (default from the config).
    #[arg(long)]
    database: Option<String>,
}

/// Runs the subcommand.
pub async fn run(cfg: AppConfig, args: Args) -> anyhow::Result<()> {
    let url = args.database.unwrap_or_else(|| cfg.database.url.clone());
    let db = crate::bootstrap::open(&url).await?;
    if let Some(pw) = crate::bootstrap::first_run(&db, &cfg).await? {
        crate::bootstrap::announce(&pw);
    }
    println!("Database {} is up to date.", crate::bootstrap::redact(&url));
    db.close().await;
    Ok(())
}
