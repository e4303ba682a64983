//! The MQTT subscriber: `xiaoan/v1/{school_code}/{device_code}/telemetry|event|status`
//! (QoS 1, optionally through a shared subscription `$share/{group}/…` so that several
//! ingest nodes split the load). Messages are gathered for a short window or up to a batch
//! size, written per device in one transaction each, and acknowledged to the broker only
//! after their transaction committed: a crash before the commit has the broker send them
//! again, and the message ids make the repeat harmless. A message that cannot be read is
//! counted against its device, logged and acknowledged; it never stops the subscriber.

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, Publish, QoS};
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::mpsc;
use xiaoan_domain::now_millis;
use xiaoan_store::Db;
use xiaoan_store::iot::{self, Record};

/// Where and how to subscribe.
#[derive(Debug, Clone)]
pub struct MqttSettings {
    pub host: String,
    pub port: u16,
    /// Stable per node, so that the broker keeps the session (and unacknowledged messages)
    /// across a reconnect.
    pub client_id: String,
    /// A shared-subscription group: several nodes with the same group split the messages.
    pub share_group: Option<String>,
    /// The most messages written in one round.
    pub batch: usize,
    /// How long a round waits for more messages after the first.
    pub window: Duration,
}

/// The topic filter this node subscribes to.
pub fn filter(s: &MqttSettings) -> String {
    match &s.share_group {
        Some(g) => format!("$share/{g}/xiaoan/v1/+/+/+"),
        None => "xiaoan/v1/+/+/+".to_string(),
    }
}

/// The school code, device code and record type a topic names.
pub fn topic_parts(topic: &str) -> Option<(&str, &str, &str)> {
    let mut it = topic.split('/');
    if it.next()? != "xiaoan" || it.next()? != "v1" {
        return None;
    }
    let (school, device, kind) = (it.next()?, it.next()?, it.next()?);
    if it.next().is_some() || !matches!(kind, "telemetry" | "event" | "status") {
        return None;
    }
    Some((school, device, kind))
}

/// What the subscriber has done so far (for logs and tests).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub accepted: u64,
    pub duplicates: u64,
    pub malformed: u64,
    pub unknown: u64,
}

/// Runs the subscriber until `shutdown` completes.
pub async fn run(db: Db, s: MqttSettings, shutdown: impl std::future::Future<Output = ()>) {
    let mut opts = MqttOptions::new(s.client_id.clone(), s.host.clone(), s.port);
    opts.set_keep_alive(Duration::from_secs(30));
    opts.set_manual_acks(true);
    opts.set_clean_session(false);
    let (client, mut eventloop) = AsyncClient::new(opts, 1024);
    let (tx, rx) = mpsc::channel::<Publish>(s.batch.max(1) * 4);
    let topic = filter(&s);
    let writer = tokio::spawn(write_rounds(db, client.clone(), rx, s.clone()));
    tokio::pin!(shutdown);
    let mut backoff = Duration::from_millis(200);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            ev = eventloop.poll() => match ev {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    backoff = Duration::from_millis(200);
                    // Subscriptions are renewed on every connection.
                    if let Err(e) = client.subscribe(topic.clone(), QoS::AtLeastOnce).await {
                        tracing::error!(error = %e, "cannot subscribe");
                    } else {
                        tracing::info!(%topic, "subscribed");
                    }
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    if tx.send(p).await.is_err() {
                        break;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "MQTT connection lost; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                }
            }
        }
    }
    drop(tx);
    let _ = writer.await;
    let _ = client.disconnect().await;
}

/// Gathers messages into rounds and writes them.
async fn write_rounds(
    db: Db,
    client: AsyncClient,
    mut rx: mpsc::Receiver<Publish>,
    s: MqttSettings,
) {
    let mut counts = Counts::default();
    while let Some(first) = rx.recv().await {
        let mut round = vec![first];
        let until = tokio::time::Instant::now() + s.window;
        while round.len() < s.batch {
            match tokio::time::timeout_at(until, rx.recv()).await {
                Ok(Some(p)) => round.push(p),
                Ok(None) | Err(_) => break,
            }
        }
        write_round(&db, &client, round, &mut counts).await;
    }
    tracing::info!(?counts, "MQTT subscriber stopped");
}

async fn write_round(db: &Db, client: &AsyncClient, round: Vec<Publish>, counts: &mut Counts) {
    let now = now_millis();
    // The messages of each device (school code, device code).
    let mut by_device: HashMap<(String, String), Vec<Publish>> = HashMap::new();
    let mut done: Vec<Publish> = Vec::new();
    for p in round {
        let Some((school, device, _)) = topic_parts(&p.topic) else {
            tracing::warn!(topic = %p.topic, "message on an unknown topic");
            counts.unknown += 1;
            done.push(p);
            continue;
        };
        let key = (school.to_string(), device.to_string());
        by_device.entry(key).or_default().push(p);
    }
    let mut ready: Vec<(iot::Device, Vec<Record>, usize, Vec<Publish>)> = Vec::new();
    for ((school, code), publishes) in by_device {
        let mut records: Vec<Record> = Vec::new();
        let mut bad = 0;
        let device = match iot::by_code(db, &school, &code).await {
            Ok(Some(d)) => d,
            Ok(None) => {
                tracing::warn!(%school, %code, n = publishes.len(), "messages of an unknown device");
                counts.unknown += publishes.len() as u64;
                done.extend(publishes);
                continue;
            }
            Err(e) => {
                // Not acknowledged: the broker sends them again.
                tracing::error!(error = %e, "cannot look up a device");
                continue;
            }
        };
        if device.retired_at.is_some() {
            tracing::warn!(device_id = device.id, "messages of a retired device");
            counts.unknown += publishes.len() as u64;
            done.extend(publishes);
            continue;
        }
        for p in &publishes {
            let kind = topic_parts(&p.topic).map(|(_, _, k)| k);
            let parsed = serde_json::from_slice::<serde_json::Value>(&p.payload)
                .map_err(|_| "ingest_json")
                .and_then(|v| crate::record(&device, &v, kind, now));
            match parsed {
                Ok(r) => records.push(r),
                Err(code) => {
                    bad += 1;
                    tracing::warn!(device_id = device.id, code, "an unreadable message");
                }
            }
        }
        ready.push((device, records, bad, publishes));
    }
    // One transaction for the round: every device's records are durable, or none is and
    // nothing is acknowledged (the broker sends them again).
    let items: Vec<(&iot::Device, Vec<Record>, usize)> = ready
        .iter()
        .map(|(d, r, bad, _)| (d, r.clone(), *bad))
        .collect();
    match iot::ingest_round(db, &items, now).await {
        Ok(written) => {
            for (n, (_, _, bad, publishes)) in written.iter().zip(ready) {
                counts.accepted += n.accepted as u64;
                counts.duplicates += n.duplicates as u64;
                counts.malformed += bad as u64;
                done.extend(publishes);
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot write a round; the broker will resend it");
        }
    }
    for p in done {
        if let Err(e) = client.ack(&p).await {
            tracing::warn!(error = %e, "cannot acknowledge a message");
        }
    }
}
