//! The `xiaoan` binary: a thin entry point; each subcommand lives in its own module.
#![forbid(unsafe_code)]

mod audit;
mod bench;
mod bootstrap;
mod config;
mod demo;
mod iot;
mod jobs;
mod migrate;
mod plan;
mod serve;
mod user;

use clap::{Parser, Subcommand};

/// xiaoan (校安): campus-safety governance for a district education bureau and its schools.
#[derive(Parser)]
#[command(name = "xiaoan", version, about)]
struct Cli {
    /// A TOML config file (default: ./xiaoan.toml when present).
    #[arg(long, global = true, env = "XIAOAN_CONFIG")]
    config: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the web interface and API.
    Serve(serve::Args),
    /// Apply database migrations (and create the first administrator on a new database).
    Migrate(migrate::Args),
    /// Create a synthetic demo district, print one login per role, and serve it.
    Demo(demo::Args),
    /// Manage user accounts.
    User(user::Args),
    /// Print the documented default configuration.
    Config,
    /// Audit-log tools.
    Audit(audit::Args),
    /// Benchmarks on synthetic data (figures printed, never asserted).
    Bench(bench::Args),
    /// Campaign plan files: check, load, list versions, recompute compliance.
    Plan(plan::Args),
    /// The background job queue: list, retry, cancel.
    Jobs(jobs::Args),
    /// Monitoring tools: a simulated device over MQTT or HTTP.
    Iot(iot::Args),
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn,tower_http=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    if let Command::Config = cli.command {
        // Printing the defaults must work even when the current settings are broken.
        print!("{}", config::DEFAULT_TOML);
        return Ok(());
    }
    let cfg = config::load(cli.config.as_deref())?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        match cli.command {
            Command::Serve(a) => serve::run(cfg, a).await,
            Command::Migrate(a) => migrate::run(cfg, a).await,
            Command::Demo(a) => demo::run(cfg, a).await,
            Command::User(a) => user::run(cfg, a).await,
            Command::Config => Ok(()),
            Command::Audit(a) => audit::run(cfg, a).await,
            Command::Bench(a) => bench::run(cfg, a).await,
            Command::Plan(a) => plan::run(cfg, a).await,
            Command::Jobs(a) => jobs::run(cfg, a).await,
            Command::Iot(a) => iot::run(a).await,
        }
    })
}
