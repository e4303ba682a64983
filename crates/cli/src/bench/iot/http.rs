//! The monitoring benchmark's HTTP part: batches through `POST /api/v1/ingest`.

use axum::body::Body;
use axum::http::{Request, header};
use std::sync::Arc;
use std::time::Instant;
use xiaoan_domain::now_millis;
use xiaoan_store::Db;
use xiaoan_store::iot::Device;

/// HTTP batch ingest through the router: 100 records a request, 4 clients.
pub(super) async fn run(
    db: &Db,
    sensors: &[(Device, String)],
    batches: usize,
    raw: f64,
) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let web = xiaoan_web::WebConfig {
        storage_dir: dir.path().join("files"),
        ..xiaoan_web::WebConfig::default()
    };
    let app = xiaoan_web::router(xiaoan_web::AppState::new(db.clone(), web));
    let secrets: Arc<Vec<String>> = Arc::new(sensors.iter().map(|(_, s)| s.clone()).collect());
    let started = Instant::now();
    let mut latencies = super::super::load(&app, 4, batches, move |i| {
        let records: Vec<serde_json::Value> = (0..100)
            .map(|k| {
                serde_json::json!({"ts": now_millis(), "msg_id": format!("h-{i}-{k}"), "type": "telemetry",
                    "values": {"temp_c": 22.0}})
            })
            .collect();
        Request::post("/api/v1/ingest")
            .header(header::AUTHORIZATION, format!("Bearer {}", secrets[i % secrets.len()]))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(serde_json::Value::Array(records).to_string()))
            .unwrap_or_default()
    })
    .await?;
    let rate = (batches * 100) as f64 / started.elapsed().as_secs_f64();
    let (p50, p99) = super::super::percentiles(&mut latencies);
    println!(
        "HTTP batch ingest (100 records a request, 4 clients): {rate:.0} readings/s (ratio {:.2} of the raw insert); \
         request p50 {p50:.1} ms, p99 {p99:.1} ms",
        rate / raw
    );
    Ok(())
}
