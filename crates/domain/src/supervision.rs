//! Supervision items: the ladder a bureau or centre climbs with a school that does not act
//! (提醒 → 通報 → 預警 → 約談 → 問責), and the states an item moves through.

use crate::OrgKind;

crate::codes! {
    /// A rung of the ladder, lowest first.
    #[derive(PartialOrd, Ord)]
    pub enum Rung {
        Reminder => "reminder",
        Notice => "notice",
        Warning => "warning",
        Interview => "interview",
        Accountability => "accountability",
    }
}

impl Rung {
    /// The rung an unanswered item escalates to; none above accountability.
    pub fn next(self) -> Option<Rung> {
        match self {
            Rung::Reminder => Some(Rung::Notice),
            Rung::Notice => Some(Rung::Warning),
            Rung::Warning => Some(Rung::Interview),
            Rung::Interview => Some(Rung::Accountability),
            Rung::Accountability => None,
        }
    }
}

crate::codes! {
    /// Where an item stands.
    pub enum State as SupervisionState {
        /// Issued; the school's response is awaited.
        Open => "open",
        /// The school responded; the issuer decides.
        Responded => "responded",
        /// The issuer accepted the response: done.
        Accepted => "accepted",
        /// The issuer sent the response back; a new response is awaited.
        Returned => "returned",
        /// Not answered by its deadline: a new item on the next rung replaced it.
        Escalated => "escalated",
    }
}

impl State {
    /// States in which the school owes a response (and the deadline runs).
    pub const AWAITING: [State; 2] = [State::Open, State::Returned];
}

crate::codes! {
    /// A step on an item.
    pub enum Step as SupervisionStep {
        Issue => "issue",
        Respond => "respond",
        Accept => "accept",
        Return => "return",
        Escalate => "escalate",
    }
}

/// Why a step is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not allowed from the item's state (409 `illegal_transition`).
    State,
    /// Not this person's step (403).
    Forbidden,
}

/// Who acts, relative to the item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor {
    /// Leads the school the item was issued to.
    pub school_lead: bool,
    /// Oversees the issuing org (may accept or return).
    pub issuer: bool,
}

/// The state `step` leads to from `from`, or why not.
pub fn decide(from: State, step: Step, who: Actor) -> Result<State, Refusal> {
    let (allowed, to, needs) = match step {
        Step::Respond => (
            State::AWAITING.contains(&from),
            State::Responded,
            who.school_lead,
        ),
        Step::Accept => (from == State::Responded, State::Accepted, who.issuer),
        Step::Return => (from == State::Responded, State::Returned, who.issuer),
        Step::Escalate => (State::AWAITING.contains(&from), State::Escalated, true),
        Step::Issue => (false, State::Open, who.issuer),
    };
    if !allowed {
        return Err(Refusal::State);
    }
    if !needs {
        return Err(Refusal::Forbidden);
    }
    Ok(to)
}

/// Which orgs may issue items: the bureau (to any school) and a centre (to its schools).
pub fn may_issue_from(kind: OrgKind) -> bool {
    matches!(kind, OrgKind::Bureau | OrgKind::Section | OrgKind::Centre)
}

/// The placeholders a document template may use.
pub const PLACEHOLDERS: [&str; 8] = [
    "issuer", "school", "number", "date", "deadline", "subject", "hazard", "rung",
];

#[cfg(test)]
mod tests {
    use super::*;

    const SCHOOL: Actor = Actor {
        school_lead: true,
        issuer: false,
    };
    const ISSUER: Actor = Actor {
        school_lead: false,
        issuer: true,
    };

    #[test]
    fn the_school_responds_and_the_issuer_decides() {
        assert_eq!(
            decide(State::Open, Step::Respond, SCHOOL),
            Ok(State::Responded)
        );
        assert_eq!(
            decide(State::Open, Step::Respond, ISSUER),
            Err(Refusal::Forbidden)
        );
        assert_eq!(
            decide(State::Responded, Step::Accept, ISSUER),
            Ok(State::Accepted)
        );
        assert_eq!(
            decide(State::Responded, Step::Accept, SCHOOL),
            Err(Refusal::Forbidden)
        );
        assert_eq!(
            decide(State::Responded, Step::Return, ISSUER),
            Ok(State::Returned)
        );
        assert_eq!(
            decide(State::Returned, Step::Respond, SCHOOL),
            Ok(State::Responded)
        );
        // An accepted item takes no more responses.
        assert_eq!(
            decide(State::Accepted, Step::Respond, SCHOOL),
            Err(Refusal::State)
        );
        assert_eq!(
            decide(State::Accepted, Step::Escalate, ISSUER),
            Err(Refusal::State)
        );
    }

    #[test]
    fn the_ladder_ends_at_accountability() {
        let mut r = Rung::Reminder;
        let mut n = 0;
        while let Some(next) = r.next() {
            assert!(next > r);
            r = next;
            n += 1;
        }
        assert_eq!((r, n), (Rung::Accountability, 4));
    }
}
