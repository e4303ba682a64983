//! The MQTT subscriber: `xiaoan/v1/{school_code}/{device_code}/telemetry|event|status`
//! (QoS 1, optionally through a shared subscription `$share/{group}/…` so that several
//! ingest nodes split the load). Messages are gathered for a short window or up to a batch
//! size (an event closes the round at once, so an alarm never waits out the window),
//! written in one transaction per round, and acknowledged to the broker only
//! after their transaction committed: a crash before the commit has the broker send them
//! again, and the message ids make the repeat harmless. A message that cannot be read is
//! counted against its device, logged and acknowledged; it never stops the subscriber.

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, Publish, QoS};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;
use xiaoan_domain::now_millis;
use xiaoan_store::iot::{self, Record};
use xiaoan_store::{Db, StoreError};

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
    /// What the subscriber has done, shared with whoever watches it.
    pub stats: Arc<Stats>,
    /// Messages allowed per device.
    pub flood: crate::FloodLimit,
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

/// The slots of the latency histogram: one per millisecond, the last for everything
/// slower.
const LATENCY_SLOTS: usize = 10_001;

/// What the subscriber has done so far (for logs, benchmarks and tests): counts, and the
/// time from a record's timestamp to the commit of its round, by millisecond.
pub struct Stats {
    pub accepted: AtomicU64,
    pub duplicates: AtomicU64,
    pub malformed: AtomicU64,
    pub unknown: AtomicU64,
    pub flooded: AtomicU64,
    pub rounds: AtomicU64,
    latency_ms: Box<[AtomicU64]>,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            accepted: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            malformed: AtomicU64::new(0),
            unknown: AtomicU64::new(0),
            flooded: AtomicU64::new(0),
            rounds: AtomicU64::new(0),
            latency_ms: (0..LATENCY_SLOTS).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

impl std::fmt::Debug for Stats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = |c: &AtomicU64| c.load(Ordering::Relaxed);
        f.debug_struct("Stats")
            .field("accepted", &n(&self.accepted))
            .field("duplicates", &n(&self.duplicates))
            .field("malformed", &n(&self.malformed))
            .field("unknown", &n(&self.unknown))
            .field("flooded", &n(&self.flooded))
            .field("rounds", &n(&self.rounds))
            .field("latency_p50_ms", &self.latency_quantile(0.5))
            .field("latency_p99_ms", &self.latency_quantile(0.99))
            .finish()
    }
}

impl Stats {
    fn add(counter: &AtomicU64, n: usize) {
        counter.fetch_add(n as u64, Ordering::Relaxed);
    }

    fn observe(&self, ms: i64) {
        let slot = usize::try_from(ms.max(0))
            .unwrap_or(0)
            .min(LATENCY_SLOTS - 1);
        self.latency_ms[slot].fetch_add(1, Ordering::Relaxed);
    }

    /// The latency (milliseconds) below which fraction `q` of the committed records fall;
    /// `None` before any.
    pub fn latency_quantile(&self, q: f64) -> Option<u64> {
        let counts: Vec<u64> = self
            .latency_ms
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return None;
        }
        let rank = ((total as f64) * q.clamp(0.0, 1.0)).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (ms, c) in counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Some(ms as u64);
            }
        }
        Some((LATENCY_SLOTS - 1) as u64)
    }

    /// Forgets the latencies seen so far (a benchmark's warm-up).
    pub fn reset_latency(&self) {
        for c in &self.latency_ms {
            c.store(0, Ordering::Relaxed);
        }
    }
}

/// Runs the subscriber until `shutdown` completes.
pub async fn run(db: Db, s: MqttSettings, shutdown: impl std::future::Future<Output = ()>) {
    let mut opts = MqttOptions::new(s.client_id.clone(), s.host.clone(), s.port);
    opts.set_keep_alive(Duration::from_secs(30));
    opts.set_manual_acks(true);
    opts.set_clean_session(false);
    // Unbounded, so that reading the connection never waits for the writer (whose
    // acknowledgements go out through the same event loop); what is in it is bounded by the
    // broker's in-flight limit, since nothing is acknowledged before its commit.
    let (client, mut eventloop) = AsyncClient::new(opts, 16_384);
    let (tx, rx) = mpsc::unbounded_channel::<Publish>();
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
                    if tx.send(p).is_err() {
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
    mut rx: mpsc::UnboundedReceiver<Publish>,
    s: MqttSettings,
) {
    let mut cache = DeviceCache::default();
    // An event (smoke, fire, gas, a fault) does not wait out the window: the round it
    // joins is written at once, with what had gathered before it.
    let urgent = |p: &Publish| p.topic.ends_with("/event");
    while let Some(first) = rx.recv().await {
        let mut round = vec![first];
        let until = tokio::time::Instant::now() + s.window;
        while round.len() < s.batch && !round.last().is_some_and(urgent) {
            match tokio::time::timeout_at(until, rx.recv()).await {
                Ok(Some(p)) => round.push(p),
                Ok(None) | Err(_) => break,
            }
        }
        write_round(&db, &client, round, &s, &mut cache).await;
    }
    tracing::info!(stats = ?s.stats, "MQTT subscriber stopped");
}

/// How long the subscriber trusts what it read of a device: a retirement or a change of
/// rules reaches it within this time.
const DEVICE_TTL: Duration = Duration::from_secs(10);

/// The devices a subscriber has read recently, by (school code, device code); `None` for
/// codes that named no device.
#[derive(Default)]
struct DeviceCache(HashMap<(String, String), (Option<iot::Device>, std::time::Instant)>);

impl DeviceCache {
    /// The devices of `pairs`, reading those not known or known too long ago.
    async fn get(
        &mut self,
        db: &Db,
        pairs: Vec<(String, String)>,
    ) -> xiaoan_store::StoreResult<HashMap<(String, String), iot::Device>> {
        let now = std::time::Instant::now();
        let stale: Vec<(String, String)> = pairs
            .iter()
            .filter(|k| {
                self.0
                    .get(*k)
                    .is_none_or(|(_, at)| now.duration_since(*at) > DEVICE_TTL)
            })
            .cloned()
            .collect();
        if !stale.is_empty() {
            let mut found = iot::by_codes(db, &stale).await?;
            for k in stale {
                let d = found.remove(&k);
                self.0.insert(k, (d, now));
            }
            if self.0.len() > 200_000 {
                self.0
                    .retain(|_, (_, at)| now.duration_since(*at) <= DEVICE_TTL);
            }
        }
        Ok(pairs
            .into_iter()
            .filter_map(|k| {
                let d = self.0.get(&k).and_then(|(d, _)| d.clone())?;
                Some((k, d))
            })
            .collect())
    }
}

async fn write_round(
    db: &Db,
    client: &AsyncClient,
    round: Vec<Publish>,
    s: &MqttSettings,
    cache: &mut DeviceCache,
) {
    let stats = &s.stats;
    let now = now_millis();
    // The messages of each device (school code, device code).
    let mut by_device: HashMap<(String, String), Vec<Publish>> = HashMap::new();
    let mut done: Vec<Publish> = Vec::new();
    for p in round {
        let Some((school, device, _)) = topic_parts(&p.topic) else {
            tracing::warn!(topic = %p.topic, "message on an unknown topic");
            Stats::add(&stats.unknown, 1);
            done.push(p);
            continue;
        };
        let key = (school.to_string(), device.to_string());
        by_device.entry(key).or_default().push(p);
    }
    let pairs: Vec<(String, String)> = by_device.keys().cloned().collect();
    let devices = match cache.get(db, pairs).await {
        Ok(d) => d,
        Err(e) => {
            // Not acknowledged: the broker sends them again.
            tracing::error!(error = %e, "cannot look up devices");
            return;
        }
    };
    let mut ready: Vec<(iot::Device, Vec<Record>, usize, Vec<Publish>)> = Vec::new();
    for ((school, code), mut publishes) in by_device {
        let Some(device) = devices.get(&(school.clone(), code.clone())) else {
            tracing::warn!(%school, %code, n = publishes.len(), "messages of an unknown device");
            Stats::add(&stats.unknown, publishes.len());
            done.extend(publishes);
            continue;
        };
        if device.retired_at.is_some() {
            tracing::warn!(device_id = device.id, "messages of a retired device");
            Stats::add(&stats.unknown, publishes.len());
            done.extend(publishes);
            continue;
        }
        let allowed = s.flood.allow(device.id, publishes.len());
        if allowed < publishes.len() {
            let over = publishes.split_off(allowed);
            tracing::warn!(
                device_id = device.id,
                n = over.len(),
                "a flood of messages; dropped"
            );
            Stats::add(&stats.flooded, over.len());
            if let Err(e) = iot::count_flooded(db, device.id, over.len()).await {
                tracing::error!(error = %e, "cannot count a flood");
            }
            done.extend(over);
        }
        let mut records: Vec<Record> = Vec::with_capacity(publishes.len());
        let mut bad = 0;
        for p in &publishes {
            let kind = topic_parts(&p.topic).map(|(_, _, k)| k);
            let parsed = serde_json::from_slice::<serde_json::Value>(&p.payload)
                .map_err(|_| "ingest_json")
                .and_then(|v| crate::record(device, &v, kind, now));
            match parsed {
                Ok(r) => records.push(r),
                Err(code) => {
                    bad += 1;
                    tracing::warn!(device_id = device.id, code, "an unreadable message");
                }
            }
        }
        ready.push((device.clone(), records, bad, publishes));
    }
    // One transaction for the round: every device's records are durable, or none is and
    // nothing is acknowledged. A database failure is retried with the messages held here
    // (a broker resends unacknowledged messages only after a reconnect); a round refused
    // for what one device sent is written device by device, so the others get through.
    let items: Vec<(&iot::Device, &[Record], usize)> = ready
        .iter()
        .map(|(d, r, bad, _)| (d, r.as_slice(), *bad))
        .collect();
    let mut backoff = Duration::from_millis(100);
    let written = loop {
        match iot::ingest_round(db, &items, now).await {
            Ok(w) => break w,
            Err(StoreError::Db(e)) => {
                tracing::error!(error = %e, ?backoff, "cannot write a round; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
            Err(e) => {
                tracing::warn!(error = %e, "a round refused; writing its devices one by one");
                break one_by_one(db, &items, now).await;
            }
        }
    };
    let committed = now_millis();
    Stats::add(&stats.rounds, 1);
    for (n, (_, records, bad, publishes)) in written.iter().zip(ready) {
        Stats::add(&stats.accepted, n.accepted);
        Stats::add(&stats.duplicates, n.duplicates);
        Stats::add(&stats.malformed, bad);
        for r in &records {
            stats.observe(committed - r.ts);
        }
        done.extend(publishes);
    }
    for p in done {
        if let Err(e) = client.ack(&p).await {
            tracing::warn!(error = %e, "cannot acknowledge a message");
        }
    }
}

/// Writes each device's records on its own; a device whose records are refused has them
/// counted as unreadable, with the reason.
async fn one_by_one(
    db: &Db,
    items: &[(&iot::Device, &[Record], usize)],
    now: i64,
) -> Vec<iot::Ingested> {
    let mut out = Vec::with_capacity(items.len());
    for (d, records, bad) in items {
        let mut backoff = Duration::from_millis(100);
        let n = loop {
            match iot::ingest(db, d, records, *bad, now).await {
                Ok(n) => break n,
                Err(StoreError::Db(e)) => {
                    tracing::error!(error = %e, device_id = d.id, "cannot write a device's records; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
                Err(e) => {
                    tracing::warn!(error = %e, device_id = d.id, "a device's records refused");
                    let _ =
                        iot::count_malformed(db, d.id, records.len() + bad, &e.to_string()).await;
                    break iot::Ingested::default();
                }
            }
        };
        out.push(n);
    }
    out
}
