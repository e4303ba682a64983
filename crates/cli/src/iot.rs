//! `xiaoan iot simulate mqtt|http|gb26875`: a monitoring device for tests and demos. Over
//! MQTT and HTTP it sends telemetry for one device, ramping from `--from` to `--to` over
//! `--count` readings, so that a threshold is crossed (and, with `--back`, cleared again)
//! while the alarm board watches; as a GB/T 26875.3 transmission device it sends one fire,
//! fault or reset frame and prints the receiver's answer.

use anyhow::{Context, anyhow};
use std::time::Duration;

/// Options of `xiaoan iot`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    which: Which,
}

#[derive(clap::Subcommand)]
enum Which {
    /// Send simulated readings of one device.
    Simulate {
        #[command(subcommand)]
        how: How,
    },
}

/// What the simulated device sends.
#[derive(clap::Args, Clone)]
struct Readings {
    /// The metric, e.g. temp_c, rc_ma, lel_pct.
    #[arg(long, default_value = "temp_c")]
    metric: String,
    /// The first value.
    #[arg(long, default_value_t = 25.0)]
    from: f64,
    /// The last value of the ramp.
    #[arg(long, default_value_t = 65.0)]
    to: f64,
    /// Readings to send.
    #[arg(long, default_value_t = 20)]
    count: u32,
    /// Then as many readings back down to `--from`.
    #[arg(long)]
    back: bool,
    /// Milliseconds between readings.
    #[arg(long, default_value_t = 1000)]
    interval_ms: u64,
}

#[derive(clap::Subcommand)]
enum How {
    /// Publish to an MQTT broker on xiaoan/v1/{school}/{device}/telemetry (QoS 1).
    Mqtt {
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        #[arg(long, default_value_t = 1883)]
        port: u16,
        /// The school's org code.
        #[arg(long)]
        school: String,
        /// The device's code.
        #[arg(long)]
        device: String,
        #[command(flatten)]
        readings: Readings,
    },
    /// Send one GB/T 26875.3 frame as a user information transmission device.
    Gb26875 {
        /// The receiver, HOST:PORT.
        #[arg(long, default_value = "127.0.0.1:9026")]
        addr: String,
        /// The device's source address, 12 hexadecimal digits (its device code).
        #[arg(long)]
        source: String,
        /// What the frame reports: fire, fault or reset.
        #[arg(long, default_value = "fire")]
        report: String,
    },
    /// Post batches of one reading to POST /api/v1/ingest with the device's secret.
    Http {
        /// Where xiaoan serves, e.g. http://127.0.0.1:8080.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        url: String,
        /// The device's secret (shown when it was registered).
        #[arg(long)]
        secret: String,
        #[command(flatten)]
        readings: Readings,
    },
}

/// The values to send.
fn values(r: &Readings) -> Vec<f64> {
    let n = r.count.max(1);
    let step = if n > 1 {
        (r.to - r.from) / f64::from(n - 1)
    } else {
        0.0
    };
    let mut v: Vec<f64> = (0..n).map(|i| r.from + step * f64::from(i)).collect();
    if r.back {
        v.extend((0..n).rev().map(|i| r.from + step * f64::from(i)));
    }
    v
}

fn record(r: &Readings, i: usize, value: f64) -> serde_json::Value {
    let run = std::process::id();
    serde_json::json!({
        "ts": xiaoan_domain::now_millis(),
        "msg_id": format!("sim-{run}-{i}"),
        "type": "telemetry",
        "values": { r.metric.clone(): (value * 10.0).round() / 10.0 },
    })
}

/// Runs the subcommand.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let Which::Simulate { how } = args.which;
    match how {
        How::Mqtt {
            host,
            port,
            school,
            device,
            readings,
        } => {
            let mut opts = rumqttc::MqttOptions::new(
                format!("xiaoan-sim-{}", std::process::id()),
                host.clone(),
                port,
            );
            opts.set_keep_alive(Duration::from_secs(10));
            let (client, mut eventloop) = rumqttc::AsyncClient::new(opts, 64);
            let topic = format!("xiaoan/v1/{school}/{device}/telemetry");
            let poller = tokio::spawn(async move {
                loop {
                    if let Err(e) = eventloop.poll().await {
                        return Err(anyhow!("MQTT broker {host}:{port}: {e}"));
                    }
                }
            });
            for (i, v) in values(&readings).into_iter().enumerate() {
                let body = record(&readings, i, v).to_string();
                client
                    .publish(topic.clone(), rumqttc::QoS::AtLeastOnce, false, body)
                    .await
                    .context("publish")?;
                println!("{topic} {} = {v:.1}", readings.metric);
                tokio::time::sleep(Duration::from_millis(readings.interval_ms)).await;
                if poller.is_finished() {
                    return poller.await?;
                }
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
            let _ = client.disconnect().await;
            Ok(())
        }
        How::Gb26875 {
            addr,
            source,
            report,
        } => gb26875(&addr, &source, &report).await,
        How::Http {
            url,
            secret,
            readings,
        } => {
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()?;
            let endpoint = format!("{}/api/v1/ingest", url.trim_end_matches('/'));
            for (i, v) in values(&readings).into_iter().enumerate() {
                let body = serde_json::json!([record(&readings, i, v)]);
                let res = client
                    .post(&endpoint)
                    .bearer_auth(&secret)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.to_string())
                    .send()
                    .await
                    .with_context(|| format!("cannot reach {endpoint}"))?;
                let status = res.status();
                let text = res.text().await.unwrap_or_default();
                if !status.is_success() {
                    return Err(anyhow!("{endpoint} answered {status}: {text}"));
                }
                println!("{} = {v:.1} → {text}", readings.metric);
                tokio::time::sleep(Duration::from_millis(readings.interval_ms)).await;
            }
            Ok(())
        }
    }
}

async fn gb26875(addr: &str, source: &str, report: &str) -> anyhow::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use xiaoan_iot::gb26875::{self, component_status, system_normal, time_tag};
    let raw = source.trim();
    if raw.len() != 12 || !raw.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(anyhow!(
            "--source is 12 hexadecimal digits, e.g. 0000A1B2C3D4"
        ));
    }
    let mut address = [0u8; 6];
    for (i, b) in address.iter_mut().enumerate() {
        *b = u8::from_str_radix(&raw[i * 2..i * 2 + 2], 16)?;
    }
    let seq = u16::try_from(std::process::id() % 65_536).unwrap_or(1);
    let time = time_tag(xiaoan_domain::now_millis(), 8);
    let frame = match report {
        "fire" => component_status(address, seq, time, true, false),
        "fault" => component_status(address, seq, time, false, true),
        "reset" => system_normal(address, seq, time),
        other => return Err(anyhow!("--report is fire, fault or reset, not {other}")),
    };
    let mut s = tokio::net::TcpStream::connect(addr)
        .await
        .with_context(|| format!("cannot connect to {addr}"))?;
    s.write_all(&frame.encode()).await?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 256];
    let started = std::time::Instant::now();
    loop {
        let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut chunk))
            .await
            .context("no answer within 10 s")??;
        if n == 0 {
            return Err(anyhow!("the receiver closed the connection"));
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Ok((answer, _)) = gb26875::parse(&buf) {
            let word = match answer.command {
                gb26875::CONFIRM => "confirmed",
                gb26875::DENY => "denied",
                _ => "answered",
            };
            println!(
                "{report} frame {seq} from {raw}: {word} in {} ms",
                started.elapsed().as_millis()
            );
            return if answer.command == gb26875::DENY {
                Err(anyhow!("the receiver denied the frame"))
            } else {
                Ok(())
            };
        }
    }
}
