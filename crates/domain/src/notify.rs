//! What happens that someone must hear about, and who hears it: the recipient rules, one
//! declarative table beside the permission table.
//!
//! A change writes a notification naming its [`Event`], the object and the org where it
//! happened; [`rule`] says which people (by relation to the object, or by role at the
//! school, the centre above it, the bureau, or the org that issued a supervision item) get
//! it in their inbox and by their own channels, which orgs' group channels carry it, and
//! how urgent it is.

use crate::Role;

crate::codes! {
    /// Something that happened which someone must hear about.
    pub enum Event {
        HazardReported => "hazard.reported",
        HazardAssigned => "hazard.assigned",
        HazardSubmitted => "hazard.submitted",
        HazardSentBack => "hazard.sent_back",
        HazardClosed => "hazard.closed",
        HazardOverdue => "hazard.overdue",
        HazardListed => "hazard.listed",
        SupervisionIssued => "supervision.issued",
        SupervisionResponded => "supervision.responded",
        SupervisionAccepted => "supervision.accepted",
        SupervisionReturned => "supervision.returned",
        SupervisionEscalated => "supervision.escalated",
        AnnouncementPublished => "announcement.published",
        /// A monitoring alarm (over temperature, residual current, a fault, no data…).
        AlarmRaised => "alarm.raised",
        /// A fire, smoke or gas alarm: urgent, at any hour, and the centre hears of it too.
        AlarmFire => "alarm.fire",
        /// An alarm still not acknowledged: the school is told again.
        AlarmUnacked => "alarm.unacked",
        /// An alarm left unacknowledged long enough to reach the township centre.
        AlarmToCentre => "alarm.escalated.centre",
        /// An alarm left unacknowledged long enough to reach the bureau.
        AlarmToBureau => "alarm.escalated.bureau",
    }
}

crate::codes! {
    /// How soon an event must reach people. Low ones may wait for a user's daily digest;
    /// urgent ones ignore quiet hours.
    #[derive(PartialOrd, Ord)]
    pub enum Priority {
        Low => "low",
        Normal => "normal",
        Urgent => "urgent",
    }
}

/// Who, relative to an event, receives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recipient {
    /// The person the event is about (a hazard's owner, whoever it was assigned to).
    Subject,
    /// Holders of these roles at the school where it happened.
    School(&'static [Role]),
    /// Holders of these roles at the township centre above the school.
    Centre(&'static [Role]),
    /// Holders of these roles at the bureau (or one of its sections).
    Bureau(&'static [Role]),
    /// Holders of these roles at the org that issued the supervision item.
    Issuer(&'static [Role]),
    /// The recipients the object itself lists (an announcement's audience).
    Listed,
}

/// Whose group channels (WeCom, DingTalk, Feishu robots, webhooks, mailboxes) carry an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    School,
    Centre,
    Bureau,
    Issuer,
}

/// One line of the table.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub event: Event,
    pub people: &'static [Recipient],
    pub channels: &'static [Tier],
    pub priority: Priority,
}

const LEADS: &[Role] = &[Role::Principal, Role::SafetyOfficer];
const CENTRE: &[Role] = &[Role::CentreOfficer];
const DUTY: &[Role] = &[Role::DutyStaff];
const BUREAU: &[Role] = &[Role::BureauSafety];
const ISSUER: &[Role] = &[Role::BureauSafety, Role::Supervisor, Role::CentreOfficer];

/// The recipient rules: every event exactly once. The actor who caused an event never
/// receives it.
pub const RULES: &[Rule] = {
    use Recipient::*;
    &[
        Rule {
            event: Event::HazardReported,
            people: &[School(LEADS)],
            channels: &[Tier::School],
            priority: Priority::Normal,
        },
        Rule {
            event: Event::HazardAssigned,
            people: &[Subject],
            channels: &[],
            priority: Priority::Normal,
        },
        Rule {
            event: Event::HazardSubmitted,
            people: &[School(LEADS)],
            channels: &[Tier::School],
            priority: Priority::Normal,
        },
        Rule {
            event: Event::HazardSentBack,
            people: &[Subject],
            channels: &[],
            priority: Priority::Normal,
        },
        Rule {
            event: Event::HazardClosed,
            people: &[Subject],
            channels: &[],
            priority: Priority::Low,
        },
        Rule {
            event: Event::HazardOverdue,
            people: &[Subject, School(LEADS), Centre(CENTRE)],
            channels: &[Tier::School, Tier::Centre],
            priority: Priority::Normal,
        },
        Rule {
            event: Event::HazardListed,
            people: &[Subject, School(LEADS), Centre(CENTRE), Bureau(BUREAU)],
            channels: &[Tier::School, Tier::Centre, Tier::Bureau],
            priority: Priority::Urgent,
        },
        Rule {
            event: Event::SupervisionIssued,
            people: &[School(LEADS)],
            channels: &[Tier::School],
            priority: Priority::Normal,
        },
        Rule {
            event: Event::SupervisionResponded,
            people: &[Issuer(ISSUER)],
            channels: &[Tier::Issuer],
            priority: Priority::Normal,
        },
        Rule {
            event: Event::SupervisionAccepted,
            people: &[School(LEADS)],
            channels: &[],
            priority: Priority::Low,
        },
        Rule {
            event: Event::SupervisionReturned,
            people: &[School(LEADS)],
            channels: &[Tier::School],
            priority: Priority::Normal,
        },
        Rule {
            event: Event::SupervisionEscalated,
            people: &[School(LEADS), Issuer(ISSUER)],
            channels: &[Tier::School, Tier::Issuer],
            priority: Priority::Urgent,
        },
        Rule {
            event: Event::AnnouncementPublished,
            people: &[Listed],
            channels: &[],
            priority: Priority::Low,
        },
        Rule {
            event: Event::AlarmRaised,
            people: &[School(LEADS)],
            channels: &[Tier::School],
            priority: Priority::Normal,
        },
        Rule {
            event: Event::AlarmFire,
            people: &[School(LEADS), School(DUTY), Centre(CENTRE)],
            channels: &[Tier::School, Tier::Centre],
            priority: Priority::Urgent,
        },
        Rule {
            event: Event::AlarmUnacked,
            people: &[School(LEADS), School(DUTY)],
            channels: &[Tier::School],
            priority: Priority::Normal,
        },
        Rule {
            event: Event::AlarmToCentre,
            people: &[Centre(CENTRE)],
            channels: &[Tier::Centre],
            priority: Priority::Urgent,
        },
        Rule {
            event: Event::AlarmToBureau,
            people: &[Bureau(BUREAU)],
            channels: &[Tier::Bureau],
            priority: Priority::Urgent,
        },
    ]
};

/// The rule for `event`.
pub fn rule(event: Event) -> &'static Rule {
    RULES.iter().find(|r| r.event == event).unwrap_or(&RULES[0])
}

/// Whether a wall-clock minute of the day (0..1440) falls in quiet hours from `start` to
/// `end` (minutes; a start after the end spans midnight; equal means none).
pub fn in_quiet_hours(minute: u32, start: u32, end: u32) -> bool {
    match start.cmp(&end) {
        std::cmp::Ordering::Equal => false,
        std::cmp::Ordering::Less => (start..end).contains(&minute),
        std::cmp::Ordering::Greater => minute >= start || minute < end,
    }
}

/// The minutes from `minute` until quiet hours `start..end` are over (0 outside them).
pub fn minutes_until_quiet_ends(minute: u32, start: u32, end: u32) -> u32 {
    if !in_quiet_hours(minute, start, end) {
        return 0;
    }
    (end + 1440 - minute) % 1440
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_has_exactly_one_rule() {
        for e in Event::ALL {
            assert_eq!(RULES.iter().filter(|r| r.event == e).count(), 1, "{e:?}");
            assert_eq!(rule(e).event, e);
        }
    }

    #[test]
    fn quiet_hours_span_midnight() {
        // 22:00 to 07:00.
        assert!(in_quiet_hours(23 * 60, 22 * 60, 7 * 60));
        assert!(in_quiet_hours(60, 22 * 60, 7 * 60));
        assert!(!in_quiet_hours(12 * 60, 22 * 60, 7 * 60));
        assert!(!in_quiet_hours(7 * 60, 22 * 60, 7 * 60));
        assert_eq!(minutes_until_quiet_ends(23 * 60, 22 * 60, 7 * 60), 8 * 60);
        assert_eq!(minutes_until_quiet_ends(12 * 60, 22 * 60, 7 * 60), 0);
        // 12:00 to 13:30.
        assert!(in_quiet_hours(12 * 60 + 5, 12 * 60, 13 * 60 + 30));
        assert!(!in_quiet_hours(10, 5, 5));
    }
}
