//! `xiaoan serve`: run the web interface and API until interrupted.

use crate::config::AppConfig;
use anyhow::Context;
use xiaoan_store::Db;

/// Options of `xiaoan serve`.
#[derive(clap::Args)]
pub struct Args {
    /// Address to listen on, HOST:PORT (default from the config).
    #[arg(long)]
    addr: Option<String>,
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
    let addr = args.addr.unwrap_or_else(|| cfg.server.addr.clone());
    serve_on(db, cfg, &addr, |url| println!("xiaoan is serving on {url}")).await
}

/// Binds `addr`, reports the URL, and serves until Ctrl-C / SIGTERM.
pub async fn serve_on(
    db: Db,
    cfg: AppConfig,
    addr: &str,
    ready: impl FnOnce(&str),
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr()?;
    ready(&format!("http://{local}/"));
    let mut state = xiaoan_web::AppState::new(db.clone(), cfg.web.clone());
    state.flood = xiaoan_iot::FloodLimit::per_minute(cfg.iot.device_messages_per_minute);
    // Background jobs stop when the server does.
    let (stop, mut stopped) = tokio::sync::watch::channel(());
    let jobs = tokio::spawn(xiaoan_jobs::run(
        db.clone(),
        cfg.job_settings(),
        cfg.sender(),
        cfg.worker_settings(),
        async move {
            let _ = stopped.changed().await;
        },
    ));
    let mqtt = cfg.iot.mqtt().map(|mut settings| {
        settings.flood = state.flood.clone();
        let mut stopped = stop.subscribe();
        tokio::spawn(xiaoan_iot::mqtt::run(db.clone(), settings, async move {
            let _ = stopped.changed().await;
        }))
    });
    let gb26875 = match cfg.iot.gb26875_listen.trim() {
        "" => None,
        at => {
            let l = tokio::net::TcpListener::bind(at)
                .await
                .with_context(|| format!("cannot listen for GB/T 26875.3 on {at}"))?;
            let mut stopped = stop.subscribe();
            Some(tokio::spawn(xiaoan_iot::gb26875::serve(
                db.clone(),
                l,
                cfg.district.utc_offset_minutes,
                async move {
                    let _ = stopped.changed().await;
                },
            )))
        }
    };
    xiaoan_web::serve(listener, state, async move {
        shutdown_signal().await;
        let _ = stop.send(());
    })
    .await?;
    let _ = jobs.await;
    for task in [mqtt, gb26875].into_iter().flatten() {
        let _ = task.await;
    }
    db.close().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
}
