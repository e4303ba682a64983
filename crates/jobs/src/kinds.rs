//! The kinds of job: each a type with a name, a step and a retry policy; periodic ones also
//! say how often they run.

use crate::JobSettings;
use std::sync::Arc;
use std::time::Duration;
use xiaoan_domain::now_millis;
use xiaoan_store::Db;
use xiaoan_store::jobs::{Job, Retry};
use xiaoan_store::notify as store_notify;

/// What a step works with.
pub struct Ctx {
    pub db: Db,
    pub settings: JobSettings,
    pub sender: xiaoan_notify::Sender,
    pub node: String,
}

/// A kind of job.
#[async_trait::async_trait]
pub trait Kind: Send + Sync {
    /// Its name in the queue.
    fn name(&self) -> &'static str;
    /// How a failed attempt is retried.
    fn retry(&self) -> Retry {
        Retry {
            base_ms: 30_000,
            max_ms: 15 * 60_000,
            max_attempts: 3,
        }
    }
    /// For periodic work, how often.
    fn every(&self) -> Option<Duration> {
        None
    }
    /// Does the work of `job`; an error is retried by the policy.
    async fn step(&self, ctx: &Ctx, job: &Job) -> Result<(), String>;
}

fn payload_id(job: &Job, key: &str) -> Result<i64, String> {
    serde_json::from_str::<serde_json::Value>(&job.payload)
        .ok()
        .and_then(|v| v.get(key).and_then(serde_json::Value::as_i64))
        .ok_or_else(|| format!("payload has no {key}"))
}

/// Escalation of overdue and major hazards, and of supervision items not answered in time.
pub struct Escalate;

#[async_trait::async_trait]
impl Kind for Escalate {
    fn name(&self) -> &'static str {
        "escalate"
    }
    fn every(&self) -> Option<Duration> {
        Some(Duration::from_secs(60))
    }
    async fn step(&self, ctx: &Ctx, _: &Job) -> Result<(), String> {
        let d = &ctx.settings.district;
        let hazards = xiaoan_store::hazards::escalate(&ctx.db, d.today(), d.listing_overdue_days)
            .await
            .map_err(|e| e.to_string())?;
        let items = xiaoan_store::supervision::escalate_overdue(&ctx.db, d.today())
            .await
            .map_err(|e| e.to_string())?;
        if hazards + items > 0 {
            tracing::info!(hazards, items, "escalated");
        }
        Ok(())
    }
}

/// Periodic work whose interval comes from the settings.
pub struct Every<K> {
    pub kind: K,
    pub every: Duration,
}

#[async_trait::async_trait]
impl<K: Kind> Kind for Every<K> {
    fn name(&self) -> &'static str {
        self.kind.name()
    }
    fn retry(&self) -> Retry {
        self.kind.retry()
    }
    fn every(&self) -> Option<Duration> {
        Some(self.every)
    }
    async fn step(&self, ctx: &Ctx, job: &Job) -> Result<(), String> {
        self.kind.step(ctx, job).await
    }
}

/// Expired sessions and uploads nobody used.
pub struct Purge;

#[async_trait::async_trait]
impl Kind for Purge {
    fn name(&self) -> &'static str {
        "purge"
    }
    async fn step(&self, ctx: &Ctx, _: &Job) -> Result<(), String> {
        let sessions = xiaoan_store::sessions::delete_expired(&ctx.db)
            .await
            .map_err(|e| e.to_string())?;
        let grace_ms =
            i64::try_from(ctx.settings.unreferenced_upload_grace.as_millis()).unwrap_or(i64::MAX);
        let uploads = crate::remove_unreferenced_uploads(
            &ctx.db,
            &ctx.settings.storage_dir,
            now_millis().saturating_sub(grace_ms),
        )
        .await
        .map_err(|e| e.to_string())?;
        let jobs = xiaoan_store::jobs::purge_finished(
            &ctx.db,
            now_millis().saturating_sub(7 * 86_400_000),
        )
        .await
        .map_err(|e| e.to_string())?;
        if sessions + uploads as u64 + jobs > 0 {
            tracing::info!(sessions, uploads, jobs, "purged");
        }
        Ok(())
    }
}

/// Turns one notification into inbox entries and deliveries.
pub struct Dispatch;

#[async_trait::async_trait]
impl Kind for Dispatch {
    fn name(&self) -> &'static str {
        store_notify::DISPATCH
    }
    fn retry(&self) -> Retry {
        Retry {
            base_ms: 2_000,
            max_ms: 10 * 60_000,
            max_attempts: store_notify::DISPATCH_ATTEMPTS,
        }
    }
    async fn step(&self, ctx: &Ctx, job: &Job) -> Result<(), String> {
        let id = payload_id(job, "notification")?;
        let s = &ctx.settings;
        let settings = store_notify::DispatchSettings {
            local_minute: local_minute(s),
            group_window_ms: i64::try_from(s.notify.group_window.as_millis()).unwrap_or(0),
            deliver_attempts: s.notify.retry.max_attempts,
        };
        store_notify::dispatch(&ctx.db, id, settings, now_millis())
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

fn local_minute(s: &JobSettings) -> u32 {
    use chrono::Timelike;
    let now =
        chrono::Utc::now() + chrono::Duration::minutes(i64::from(s.district.utc_offset_minutes));
    now.hour() * 60 + now.minute()
}

async fn deliver(ctx: &Ctx, job: &Job) -> Result<(), String> {
    let id = payload_id(job, "delivery")?;
    let Some(out) = store_notify::outgoing(&ctx.db, id)
        .await
        .map_err(|e| e.to_string())?
    else {
        return Ok(());
    };
    if out.state != "pending" {
        return Ok(());
    }
    let last = job.attempts >= job.max_attempts;
    let Some(target) = out.target else {
        // The channel was removed or the address dropped: nothing to send to.
        store_notify::record_attempt(
            &ctx.db,
            id,
            false,
            None,
            Some("no target"),
            &ctx.node,
            true,
            now_millis(),
        )
        .await
        .map_err(|e| e.to_string())?;
        return Ok(());
    };
    let n = &out.notification;
    let message = crate::message::message(&ctx.settings.notify, n, id);
    let config = match target {
        store_notify::Target::Channel {
            kind,
            target,
            secret,
            ..
        } => xiaoan_notify::ChannelConfig {
            kind: xiaoan_notify::ChannelKind::parse(&kind).ok_or("unknown channel kind")?,
            target,
            secret,
        },
        store_notify::Target::Email { address, .. } => xiaoan_notify::ChannelConfig {
            kind: xiaoan_notify::ChannelKind::Email,
            target: address,
            secret: None,
        },
    };
    let outcome = ctx.sender.send(&config, &message, now_millis()).await;
    store_notify::record_attempt(
        &ctx.db,
        id,
        outcome.ok,
        outcome.status,
        outcome.error.as_deref(),
        &ctx.node,
        last && !outcome.ok,
        now_millis(),
    )
    .await
    .map_err(|e| e.to_string())?;
    if outcome.ok {
        Ok(())
    } else {
        Err(outcome
            .error
            .unwrap_or_else(|| "delivery failed".to_string()))
    }
}

/// Monitoring on a timer: "no data" for devices gone quiet (so silence raises an alarm
/// without a message), unacknowledged alarms repeated and escalated, and readings past
/// the retention pruned.
pub struct IotSweep;

#[async_trait::async_trait]
impl Kind for IotSweep {
    fn name(&self) -> &'static str {
        "iot.sweep"
    }
    fn every(&self) -> Option<Duration> {
        Some(Duration::from_secs(60))
    }
    async fn step(&self, ctx: &Ctx, _: &Job) -> Result<(), String> {
        let now = now_millis();
        let raised = xiaoan_store::iot::sweep_no_data(&ctx.db, now)
            .await
            .map_err(|e| e.to_string())?;
        let escalated = xiaoan_store::iot::escalate(&ctx.db, &ctx.settings.alarm_escalation, now)
            .await
            .map_err(|e| e.to_string())?;
        if escalated != xiaoan_store::iot::Escalated::default() {
            tracing::info!(?escalated, "alarm escalation");
        }
        let keep = i64::try_from(ctx.settings.reading_retention.as_millis()).unwrap_or(i64::MAX);
        let pruned = xiaoan_store::iot::prune(&ctx.db, now.saturating_sub(keep))
            .await
            .map_err(|e| e.to_string())?;
        if raised > 0 || pruned > 0 {
            tracing::info!(raised, pruned, "monitoring sweep");
        }
        Ok(())
    }
}

/// Once a day, every school with cameras: each key area its cameras leave uncovered filed
/// as a hazard (once, until that hazard is closed), and the video obligation's record
/// written from the camera inventory when what it says changed.
pub struct VideoCheck;

#[async_trait::async_trait]
impl Kind for VideoCheck {
    fn name(&self) -> &'static str {
        "iot.video"
    }
    fn every(&self) -> Option<Duration> {
        Some(Duration::from_secs(24 * 3600))
    }
    async fn step(&self, ctx: &Ctx, _: &Job) -> Result<(), String> {
        check_video(ctx)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// [`VideoCheck`]'s round, callable from tests.
pub async fn check_video(ctx: &Ctx) -> anyhow::Result<usize> {
    use xiaoan_store::iot::video;
    let lang = ctx.settings.notify.lang.as_str();
    let gap = |a| xiaoan_notify::words::video_gap(a, lang);
    let words = video::VideoWords {
        gap: &gap,
        record_note: xiaoan_notify::words::video_record_note(lang),
    };
    let today = ctx.settings.district.today();
    let mut filed = 0;
    for school in video::video_schools(&ctx.db, &xiaoan_domain::Scope::everything()).await? {
        filed += video::check_video(&ctx.db, school, &words, today)
            .await?
            .filed
            .len();
    }
    if filed > 0 {
        tracing::info!(filed, "video coverage gaps filed as hazards");
    }
    Ok(filed)
}

/// Files the hazard of a fire, smoke or gas alarm in the closed loop (source: device alarm),
/// reported on behalf of whoever registered the device, else a lead of its school.
pub struct IotHazard;

#[async_trait::async_trait]
impl Kind for IotHazard {
    fn name(&self) -> &'static str {
        xiaoan_store::iot::HAZARD_JOB
    }
    async fn step(&self, ctx: &Ctx, job: &Job) -> Result<(), String> {
        file_alarm_hazard(ctx, payload_id(job, "alarm")?)
            .await
            .map_err(|e| e.to_string())
    }
}

async fn file_alarm_hazard(ctx: &Ctx, id: i64) -> anyhow::Result<()> {
    use xiaoan_domain::Scope;
    use xiaoan_domain::hazard::{Grade, Source};
    use xiaoan_domain::text::{Name, Text};
    let alarm = xiaoan_store::iot::alarm_unscoped(&ctx.db, id).await?;
    if alarm.hazard_id.is_some() {
        return Ok(());
    }
    let device = xiaoan_store::iot::get(&ctx.db, &Scope::everything(), alarm.device_id).await?;
    let reporter = xiaoan_store::iot::school_reporter(&ctx.db, alarm.school_id, device.created_by)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no one at the school to report the hazard"))?;
    let lang = ctx.settings.notify.lang.as_str();
    let (title, description) = xiaoan_notify::words::alarm_hazard(
        alarm.alarm_type.code(),
        &alarm.location,
        &alarm.device_code,
        lang,
    );
    let today = ctx.settings.district.today();
    let new = xiaoan_store::hazards::NewHazard {
        school_id: alarm.school_id,
        category: device
            .category
            .unwrap_or_else(|| alarm.alarm_type.category()),
        grade: if alarm.alarm_type == xiaoan_domain::iot::AlarmType::Fire {
            Grade::Major
        } else {
            Grade::General
        },
        source: Source::DeviceAlarm,
        location: Text::line("location", &alarm.location, 100)?,
        title: Text::line("title", &title.chars().take(100).collect::<String>(), 100)?,
        description: Text::lines("description", &description, 2000)?,
        found_by: Name::parse(
            "found_by",
            &format!(
                "{} {}",
                xiaoan_notify::words::alarm_name("device", lang),
                alarm.device_code
            )
            .chars()
            .take(50)
            .collect::<String>(),
        )?,
        found_on: today,
        attachments: vec![],
    };
    let actor = xiaoan_domain::audit::Actor::system("monitoring");
    let created =
        xiaoan_store::hazards::create(&ctx.db, &actor, reporter, &Scope::everything(), new, today)
            .await?;
    xiaoan_store::iot::link_hazard(&ctx.db, id, created.hazard.id).await?;
    Ok(())
}

/// At the configured hour, sends each user one email with the events that waited for it.
pub struct Digest;

#[async_trait::async_trait]
impl Kind for Digest {
    fn name(&self) -> &'static str {
        "notify.digest"
    }
    fn every(&self) -> Option<Duration> {
        Some(Duration::from_secs(3600))
    }
    async fn step(&self, ctx: &Ctx, _: &Job) -> Result<(), String> {
        if local_minute(&ctx.settings) / 60 != ctx.settings.notify.digest_hour {
            return Ok(());
        }
        send_digests(ctx).await
    }
}

/// Sends every held digest now.
pub async fn send_digests(ctx: &Ctx) -> Result<(), String> {
    let digests = store_notify::held_digests(&ctx.db, 200)
        .await
        .map_err(|e| e.to_string())?;
    let mut failed = None;
    for d in digests {
        let message = crate::message::digest(&ctx.settings.notify, &d);
        let config = xiaoan_notify::ChannelConfig {
            kind: xiaoan_notify::ChannelKind::Email,
            target: d.address.clone(),
            secret: None,
        };
        let outcome = ctx.sender.send(&config, &message, now_millis()).await;
        let ids: Vec<i64> = d.items.iter().map(|(id, _)| *id).collect();
        store_notify::record_digest(
            &ctx.db,
            &ids,
            outcome.ok,
            outcome.status,
            outcome.error.as_deref(),
            &ctx.node,
            now_millis(),
        )
        .await
        .map_err(|e| e.to_string())?;
        if !outcome.ok {
            failed = outcome.error;
        }
    }
    failed.map_or(Ok(()), Err)
}

/// Every kind, with the intervals of `s`.
pub fn all(s: &JobSettings) -> Vec<Arc<dyn Kind>> {
    vec![
        Arc::new(Every {
            kind: Escalate,
            every: s.interval,
        }),
        Arc::new(Every {
            kind: Purge,
            every: s.interval.max(Duration::from_secs(600)),
        }),
        Arc::new(Dispatch),
        Arc::new(DeliverWith(s.notify.retry)),
        Arc::new(Digest),
        Arc::new(IotSweep),
        Arc::new(IotHazard),
        Arc::new(VideoCheck),
    ]
}

/// Sends one delivery to its channel or mailbox, recording every attempt; retried by the
/// configured policy.
pub struct DeliverWith(pub Retry);

#[async_trait::async_trait]
impl Kind for DeliverWith {
    fn name(&self) -> &'static str {
        store_notify::DELIVER
    }
    fn retry(&self) -> Retry {
        self.0
    }
    async fn step(&self, ctx: &Ctx, job: &Job) -> Result<(), String> {
        deliver(ctx, job).await
    }
}
