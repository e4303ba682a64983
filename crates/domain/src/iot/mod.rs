//! IoT monitoring rules, pure: device kinds and their default rules, per-device overrides,
//! and the evaluation of one reading, one event or one moment without data against a rule's
//! persisted state. The store runs these on arrival and on a timer and keeps their state, so
//! that a restart neither loses nor repeats an alarm.

use crate::hazard::Category;
use serde::{Deserialize, Serialize};

mod escalation;
pub mod video;

pub use escalation::*;

crate::codes! {
    /// What a device is.
    pub enum DeviceKind {
        /// A temperature sensor (a dormitory, a kitchen, a server room).
        Temperature => "temperature",
        /// A smoke detector.
        Smoke => "smoke",
        /// An electrical-fire monitor (GB 14287): residual current and cable temperature.
        ElectricalFire => "electrical_fire",
        /// A combustible-gas detector (canteen, laboratory).
        Gas => "gas",
        /// A cold-room or refrigerator sensor (food safety).
        ColdRoom => "cold_room",
        /// A fire alarm panel behind a user information transmission device.
        FirePanel => "fire_panel",
        /// A surveillance camera; its alarms come from the video platform it is on.
        Camera => "camera",
    }
}

crate::codes! {
    /// The kind of an alarm: with its device, the key of the one open alarm.
    pub enum AlarmType {
        OverTemperature => "over_temperature",
        ColdChain => "cold_chain",
        ResidualCurrent => "residual_current",
        CableTemperature => "cable_temperature",
        GasLeak => "gas_leak",
        Smoke => "smoke",
        Fire => "fire",
        Fault => "fault",
        Tamper => "tamper",
        NoData => "no_data",
        /// Temperature rising faster than a rate-of-rise heat detector allows.
        RapidRise => "rapid_rise",
        /// Video analytics saw someone cross a line or enter a zone.
        Intrusion => "intrusion",
        /// A camera's picture is lost.
        VideoLoss => "video_loss",
    }
}

crate::codes! {
    /// How urgent an alarm is, most urgent first.
    #[derive(PartialOrd, Ord)]
    pub enum Severity as AlarmSeverity {
        Critical => "critical",
        Major => "major",
        Minor => "minor",
        Warning => "warning",
    }
}

crate::codes! {
    /// Whether the condition behind an alarm still holds.
    pub enum Condition as AlarmCondition {
        Active => "active",
        Cleared => "cleared",
    }
}

crate::codes! {
    /// Why an alarm was closed.
    pub enum CloseReason {
        Resolved => "resolved",
        FalseAlarm => "false_alarm",
        Drill => "drill",
        Test => "test",
        Maintenance => "maintenance",
        Duplicate => "duplicate",
    }
}

impl AlarmType {
    /// Alarms that become (or join) a hazard in the closed loop when raised.
    pub fn makes_hazard(self) -> bool {
        matches!(
            self,
            AlarmType::Fire | AlarmType::Smoke | AlarmType::GasLeak
        )
    }

    /// Urgent alarms reach people at any hour (quiet hours do not hold them).
    pub fn urgent(self) -> bool {
        matches!(
            self,
            AlarmType::Fire | AlarmType::Smoke | AlarmType::GasLeak
        )
    }

    /// The hazard category an alarm of this type is filed under.
    pub fn category(self) -> Category {
        match self {
            AlarmType::ColdChain => Category::CanteenFood,
            AlarmType::Intrusion | AlarmType::VideoLoss => Category::Security,
            _ => Category::FireHeating,
        }
    }
}

/// A threshold with hysteresis: raised after `for_readings` consecutive readings above
/// `raise_above`, cleared by the first reading below `clear_below`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Threshold {
    pub metric: &'static str,
    pub alarm: AlarmType,
    pub severity: Severity,
    pub raise_above: f64,
    pub clear_below: f64,
    pub for_readings: u32,
}

/// What a device of a kind watches by default.
#[derive(Debug, Clone, PartialEq)]
pub struct KindRules {
    pub thresholds: Vec<Threshold>,
    /// Minutes without any message after which "no data" is raised (0: never).
    pub no_data_minutes: i64,
    /// Discrete events the device reports, each an alarm type with its severity.
    pub events: &'static [(&'static str, AlarmType, Severity)],
    /// Rate-of-change rules.
    pub rises: Vec<Rise>,
}

/// A rate-of-change rule: raised when a metric climbs at least `per_minute` a minute, and
/// by at least `min_rise` (so that two close readings' noise is no rate), between two
/// readings at most `within_ms` apart; cleared when a later reading shows it rising at less
/// than a quarter of that.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Rise {
    pub metric: &'static str,
    pub alarm: AlarmType,
    pub severity: Severity,
    pub per_minute: f64,
    pub min_rise: f64,
    pub within_ms: i64,
}

/// The key a rate rule's state is kept under, beside its metric's threshold state.
pub fn rise_key(metric: &str) -> String {
    format!("{metric}:rise")
}

/// Evaluates a rate rule on a reading `(at, value)` after the previous reading `prev` of
/// the metric, with the rule `firing` or not; returns whether it fires after this reading,
/// and what to do.
pub fn on_rise(
    r: &Rise,
    firing: bool,
    prev: Option<(i64, f64)>,
    at: i64,
    value: f64,
) -> (bool, Verdict) {
    let Some((then, before)) = prev else {
        return (firing, Verdict::Hold);
    };
    let dt = at.saturating_sub(then);
    if dt <= 0 || dt > r.within_ms {
        return (firing, Verdict::Hold);
    }
    let rate = (value - before) * 60_000.0 / dt as f64;
    if rate >= r.per_minute && value - before >= r.min_rise {
        let v = if firing {
            Verdict::Update(rate)
        } else {
            Verdict::Raise(rate)
        };
        (true, v)
    } else if firing && rate < r.per_minute / 4.0 {
        (false, Verdict::Clear)
    } else {
        (firing, Verdict::Hold)
    }
}

const FIRE_EVENTS: &[(&str, AlarmType, Severity)] = &[
    ("fire", AlarmType::Fire, Severity::Critical),
    ("smoke", AlarmType::Smoke, Severity::Critical),
    ("fault", AlarmType::Fault, Severity::Minor),
    ("tamper", AlarmType::Tamper, Severity::Major),
];
const GAS_EVENTS: &[(&str, AlarmType, Severity)] = &[
    ("gas", AlarmType::GasLeak, Severity::Critical),
    ("fault", AlarmType::Fault, Severity::Minor),
    ("tamper", AlarmType::Tamper, Severity::Major),
];
const CAMERA_EVENTS: &[(&str, AlarmType, Severity)] = &[
    ("intrusion", AlarmType::Intrusion, Severity::Major),
    ("video_loss", AlarmType::VideoLoss, Severity::Minor),
    ("tamper", AlarmType::Tamper, Severity::Major),
    ("fault", AlarmType::Fault, Severity::Minor),
];
const PLAIN_EVENTS: &[(&str, AlarmType, Severity)] = &[
    ("fault", AlarmType::Fault, Severity::Minor),
    ("tamper", AlarmType::Tamper, Severity::Major),
];

/// The default rules of `kind`.
pub fn defaults(kind: DeviceKind) -> KindRules {
    let t = |metric, alarm, severity, raise_above, clear_below, for_readings| Threshold {
        metric,
        alarm,
        severity,
        raise_above,
        clear_below,
        for_readings,
    };
    match kind {
        DeviceKind::Temperature => KindRules {
            thresholds: vec![t(
                "temp_c",
                AlarmType::OverTemperature,
                Severity::Major,
                60.0,
                55.0,
                3,
            )],
            no_data_minutes: 30,
            events: PLAIN_EVENTS,
            // A class A1R heat detector (EN 54-5) answers a rise of 10 °C a minute.
            rises: vec![Rise {
                metric: "temp_c",
                alarm: AlarmType::RapidRise,
                severity: Severity::Critical,
                per_minute: 10.0,
                min_rise: 5.0,
                within_ms: 10 * 60_000,
            }],
        },
        DeviceKind::ColdRoom => KindRules {
            thresholds: vec![t(
                "temp_c",
                AlarmType::ColdChain,
                Severity::Major,
                8.0,
                5.0,
                3,
            )],
            no_data_minutes: 30,
            events: PLAIN_EVENTS,
            rises: vec![],
        },
        // GB 50116 9.2.3: residual-current alarms set at 300–500 mA; cable temperature per
        // GB 14287.3 (settable 55–140 °C).
        DeviceKind::ElectricalFire => KindRules {
            thresholds: vec![
                t(
                    "rc_ma",
                    AlarmType::ResidualCurrent,
                    Severity::Major,
                    300.0,
                    250.0,
                    2,
                ),
                t(
                    "cable_temp_c",
                    AlarmType::CableTemperature,
                    Severity::Major,
                    70.0,
                    65.0,
                    2,
                ),
            ],
            no_data_minutes: 30,
            events: PLAIN_EVENTS,
            rises: vec![],
        },
        // Stage-one alarm of a combustible-gas detector at 25 %LEL.
        DeviceKind::Gas => KindRules {
            thresholds: vec![t(
                "lel_pct",
                AlarmType::GasLeak,
                Severity::Critical,
                25.0,
                20.0,
                1,
            )],
            no_data_minutes: 30,
            events: GAS_EVENTS,
            rises: vec![],
        },
        DeviceKind::Smoke => KindRules {
            thresholds: vec![],
            no_data_minutes: 24 * 60,
            events: FIRE_EVENTS,
            rises: vec![],
        },
        // GB 50440: the polling period of a transmission device is at most 2 hours.
        DeviceKind::FirePanel => KindRules {
            thresholds: vec![],
            no_data_minutes: 120,
            events: FIRE_EVENTS,
            rises: vec![],
        },
        // A camera is heard through its platform, which need not report it when idle.
        DeviceKind::Camera => KindRules {
            thresholds: vec![],
            no_data_minutes: 0,
            events: CAMERA_EVENTS,
            rises: vec![],
        },
    }
}

/// A device's own settings over its kind's defaults (every field optional).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Overrides {
    /// The first threshold's raise level.
    pub raise_above: Option<f64>,
    /// The first threshold's clear level (must stay below the raise level).
    pub clear_below: Option<f64>,
    /// Consecutive readings above the raise level before the alarm.
    pub for_readings: Option<u32>,
    /// Minutes without data before "no data".
    pub no_data_minutes: Option<i64>,
}

/// Why overrides are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverrideError {
    /// The clear level is not below the raise level.
    Hysteresis,
    /// A count or a number of minutes out of range.
    Range,
    /// A threshold override on a kind that has none.
    NoThreshold,
}

impl OverrideError {
    pub fn code(self) -> &'static str {
        match self {
            OverrideError::Hysteresis => "device_hysteresis",
            OverrideError::Range => "device_rule_range",
            OverrideError::NoThreshold => "device_no_threshold",
        }
    }
}

/// The rules of a device of `kind` with `o` applied, or why `o` is refused.
pub fn rules(kind: DeviceKind, o: &Overrides) -> Result<KindRules, OverrideError> {
    let mut r = defaults(kind);
    if o.raise_above.is_some() || o.clear_below.is_some() || o.for_readings.is_some() {
        let Some(t) = r.thresholds.first_mut() else {
            return Err(OverrideError::NoThreshold);
        };
        if let Some(v) = o.raise_above {
            t.raise_above = v;
        }
        if let Some(v) = o.clear_below {
            t.clear_below = v;
        }
        if let Some(n) = o.for_readings {
            if !(1..=100).contains(&n) {
                return Err(OverrideError::Range);
            }
            t.for_readings = n;
        }
        if !(t.raise_above.is_finite() && t.clear_below.is_finite())
            || t.clear_below >= t.raise_above
        {
            return Err(OverrideError::Hysteresis);
        }
    }
    if let Some(m) = o.no_data_minutes {
        if !(1..=7 * 24 * 60).contains(&m) {
            return Err(OverrideError::Range);
        }
        r.no_data_minutes = m;
    }
    Ok(r)
}

/// A threshold's persisted state: readings above the raise level in a row, and whether
/// its alarm is up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThresholdState {
    pub above: u32,
    pub firing: bool,
}

/// What a rule decided.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Verdict {
    /// Nothing to do.
    Hold,
    /// Raise (or, when one is open, update) the alarm with this value.
    Raise(f64),
    /// The alarm is up and this reading keeps it up (peak and last seen).
    Update(f64),
    /// The condition is gone: clear the alarm.
    Clear,
}

/// One reading `value` against threshold `t` in state `s`.
pub fn on_reading(t: &Threshold, s: ThresholdState, value: f64) -> (ThresholdState, Verdict) {
    if s.firing {
        if value < t.clear_below {
            (ThresholdState::default(), Verdict::Clear)
        } else if value > t.raise_above {
            (s, Verdict::Update(value))
        } else {
            // Between the levels: still firing, not another occurrence.
            (s, Verdict::Hold)
        }
    } else if value > t.raise_above {
        let above = s.above.saturating_add(1);
        if above >= t.for_readings {
            (
                ThresholdState {
                    above,
                    firing: true,
                },
                Verdict::Raise(value),
            )
        } else {
            (
                ThresholdState {
                    above,
                    firing: false,
                },
                Verdict::Hold,
            )
        }
    } else {
        // Between the levels or below: the run of readings above is broken.
        (ThresholdState::default(), Verdict::Hold)
    }
}

/// Whether a device last heard from at `last_seen_ms` has gone quiet at `now_ms` (never
/// when `minutes` is 0).
pub fn no_data(last_seen_ms: i64, now_ms: i64, minutes: i64) -> bool {
    minutes > 0 && now_ms.saturating_sub(last_seen_ms) > minutes.saturating_mul(60_000)
}

/// The alarm a device event names, for a device of `kind`; `None` when the kind does not
/// report it.
pub fn event_alarm(kind: DeviceKind, event: &str) -> Option<(AlarmType, Severity)> {
    defaults(kind)
        .events
        .iter()
        .find(|(name, _, _)| *name == event)
        .map(|(_, a, s)| (*a, *s))
}

/// How far in the future a device's timestamp may be (clock drift), in milliseconds.
pub const MAX_FUTURE_MS: i64 = 5 * 60_000;

#[cfg(test)]
mod tests;
