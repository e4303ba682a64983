//! Alarms nobody acknowledges: silences that hold their notifications for a window, and
//! the steps that repeat an open alarm to its school and take it to the township centre
//! and the bureau.

use super::Severity;

crate::codes! {
    /// Why alarms are silenced for a while: their notifications wait until the window ends
    /// (the alarms themselves are recorded and shown as usual).
    pub enum SilenceReason {
        Maintenance => "maintenance",
        Drill => "drill",
        Test => "test",
    }
}

/// The longest silence (a week): a longer outage is a retirement, not a silence.
pub const MAX_SILENCE_MS: i64 = 7 * 24 * 3_600_000;

/// When an open alarm that nobody has acknowledged is repeated to the school and taken up
/// the org tree; the district sets these ([jobs] alarm_*_minutes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Escalation {
    /// Between reminders to the school.
    pub repeat_ms: i64,
    /// After the raise, the township centre hears of it.
    pub centre_ms: i64,
    /// After the raise, the bureau hears of it.
    pub bureau_ms: i64,
}

impl Default for Escalation {
    fn default() -> Self {
        Escalation {
            repeat_ms: 10 * 60_000,
            centre_ms: 15 * 60_000,
            bureau_ms: 60 * 60_000,
        }
    }
}

/// The level an alarm reaches unacknowledged: the school, the centre, the bureau.
pub const LEVEL_SCHOOL: u8 = 0;
pub const LEVEL_CENTRE: u8 = 1;
pub const LEVEL_BUREAU: u8 = 2;

/// What the escalation round does for one open, active, unacknowledged alarm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Nothing,
    /// Tell the school again.
    Remind,
    /// Take it up to this level (telling each level passed).
    Escalate(u8),
}

impl Severity {
    /// Critical and major alarms are repeated until acknowledged and escalate; minor ones
    /// and warnings are told once.
    pub fn escalates(self) -> bool {
        matches!(self, Severity::Critical | Severity::Major)
    }
}

/// The escalation step for an alarm of `severity` raised at `raised_at`, last told at
/// `notified_at`, at `level`, now.
pub fn escalation_step(
    p: &Escalation,
    severity: Severity,
    raised_at: i64,
    notified_at: i64,
    level: u8,
    now: i64,
) -> Step {
    if !severity.escalates() {
        return Step::Nothing;
    }
    let age = now.saturating_sub(raised_at);
    let target = if age >= p.bureau_ms {
        LEVEL_BUREAU
    } else if age >= p.centre_ms {
        LEVEL_CENTRE
    } else {
        LEVEL_SCHOOL
    };
    if target > level {
        Step::Escalate(target)
    } else if now.saturating_sub(notified_at) >= p.repeat_ms {
        Step::Remind
    } else {
        Step::Nothing
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unacknowledged_alarm_is_repeated_then_taken_to_the_centre_and_the_bureau() {
        let p = Escalation::default();
        let min = 60_000;
        let step = |sev, notified, level, now| escalation_step(&p, sev, 0, notified, level, now);
        assert_eq!(step(Severity::Major, 0, 0, 5 * min), Step::Nothing);
        assert_eq!(step(Severity::Major, 0, 0, 10 * min), Step::Remind);
        assert_eq!(
            step(Severity::Major, 10 * min, 0, 15 * min),
            Step::Escalate(LEVEL_CENTRE)
        );
        assert_eq!(step(Severity::Major, 15 * min, 1, 20 * min), Step::Nothing);
        assert_eq!(step(Severity::Major, 15 * min, 1, 25 * min), Step::Remind);
        // Long unacknowledged (a node was down): straight to the bureau.
        assert_eq!(
            step(Severity::Critical, 0, 0, 90 * min),
            Step::Escalate(LEVEL_BUREAU)
        );
        // Minor alarms are told once.
        assert_eq!(step(Severity::Minor, 0, 0, 90 * min), Step::Nothing);
    }
}
