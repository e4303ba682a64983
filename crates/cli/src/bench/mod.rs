//! `xiaoan bench …`: benchmarks on synthetic data at the sizes the product must handle.
//! Figures are printed, never asserted: machines are noisy.

mod compliance;
mod hazards;
mod iot;
mod notify;
mod search;

use crate::config::AppConfig;
use axum::body::Body;
use axum::http::{Request, header};
use std::time::Instant;
use tower::ServiceExt;

/// Options of `xiaoan bench`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    which: Which,
}

#[derive(clap::Subcommand)]
enum Which {
    /// Hazard list API, bureau overview page and district xlsx export under load.
    Hazards(hazards::Args),
    /// Full compliance recompute, one new record, and the matrix page and API at scale.
    Compliance(compliance::Args),
    /// Notification intents produced and delivered through the job queue, escalation
    /// latency, and the queue's claim overhead.
    Notify(notify::Args),
    /// Monitoring ingest over MQTT with rules on, against the broker's rate, a raw batched
    /// insert and one commit per message.
    Iot(iot::Args),
}

/// Runs the chosen benchmark.
pub async fn run(cfg: AppConfig, args: Args) -> anyhow::Result<()> {
    match args.which {
        Which::Hazards(a) => hazards::run(cfg, a).await,
        Which::Compliance(a) => compliance::run(cfg, a).await,
        Which::Notify(a) => notify::run(cfg, a).await,
        Which::Iot(a) => iot::run(a).await,
    }
}

/// Median and 99th percentile of `samples` (milliseconds).
pub fn percentiles(samples: &mut [f64]) -> (f64, f64) {
    if samples.is_empty() {
        return (0.0, 0.0);
    }
    samples.sort_by(|a, b| a.total_cmp(b));
    let at = |p: f64| samples[((samples.len() as f64 - 1.0) * p).round() as usize];
    (at(0.5), at(0.99))
}

/// A bearer token for `login`.
pub async fn token(app: &axum::Router, password: &str, login: &str) -> anyhow::Result<String> {
    let req = Request::post("/api/v1/auth/login")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(format!(
            r#"{{"username":"{login}","password":"{password}"}}"#
        )))?;
    let res = app.clone().oneshot(req).await?;
    let body = axum::body::to_bytes(res.into_body(), usize::MAX).await?;
    Ok(serde_json::from_slice::<serde_json::Value>(&body)?["token"]
        .as_str()
        .unwrap_or_default()
        .to_string())
}

/// A signed-in page session cookie (`name=value`) for `login`, through the login form.
pub async fn session(app: &axum::Router, password: &str, login: &str) -> anyhow::Result<String> {
    let cookie_of = |res: &axum::response::Response| {
        res.headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| {
                v.split(';')
                    .next()
                    .filter(|c| c.starts_with("xiaoan_session="))
                    .map(String::from)
            })
    };
    let form = app
        .clone()
        .oneshot(Request::get("/login").body(Body::empty())?)
        .await?;
    let cookie = cookie_of(&form).unwrap_or_default();
    let html = String::from_utf8(
        axum::body::to_bytes(form.into_body(), usize::MAX)
            .await?
            .to_vec(),
    )?;
    let csrf = html
        .split("name=\"_csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_default()
        .to_string();
    let signed = app
        .clone()
        .oneshot(
            Request::post("/login")
                .header(header::COOKIE, &cookie)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(format!(
                    "_csrf={csrf}&login={login}&password={password}"
                )))?,
        )
        .await?;
    Ok(cookie_of(&signed).unwrap_or(cookie))
}

/// Sends `total` requests, made by `make(i)`, from `clients` concurrent tasks; returns each
/// request's index and latency in milliseconds. A failed request fails the benchmark.
pub async fn load_indexed(
    app: &axum::Router,
    clients: usize,
    total: usize,
    make: impl Fn(usize) -> Request<Body> + Send + Sync + Clone + 'static,
) -> anyhow::Result<Vec<(usize, f64)>> {
    let mut tasks = vec![];
    for c in 0..clients {
        let (app, make) = (app.clone(), make.clone());
        tasks.push(tokio::spawn(async move {
            let mut out = vec![];
            for i in (c..total).step_by(clients) {
                let t = Instant::now();
                let res = app
                    .clone()
                    .oneshot(make(i))
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                let status = res.status();
                let _ = axum::body::to_bytes(res.into_body(), usize::MAX).await;
                anyhow::ensure!(status.is_success(), "request {i} failed with {status}");
                out.push((i, t.elapsed().as_secs_f64() * 1000.0));
            }
            Ok::<_, anyhow::Error>(out)
        }));
    }
    let mut all = vec![];
    for t in tasks {
        all.extend(t.await??);
    }
    Ok(all)
}

/// Like [`load_indexed`], the latencies alone.
pub async fn load(
    app: &axum::Router,
    clients: usize,
    total: usize,
    make: impl Fn(usize) -> Request<Body> + Send + Sync + Clone + 'static,
) -> anyhow::Result<Vec<f64>> {
    Ok(load_indexed(app, clients, total, make)
        .await?
        .into_iter()
        .map(|(_, ms)| ms)
        .collect())
}
