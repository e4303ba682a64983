//! The state machine of a hazard, as a pure function of its facts, the requested action,
//! who asks, and the district's date today. The store calls [`decide`] inside the write
//! transaction, so the rules hold whatever the caller (API, page, job).

use super::{Grade, Status};
use chrono::NaiveDate;

/// What the rules need to know about a hazard.
#[derive(Debug, Clone)]
pub struct HazardFacts {
    pub status: Status,
    pub grade: Grade,
    pub owner_id: Option<i64>,
    /// Who submitted the last rectification.
    pub rectifier_id: Option<i64>,
    pub deadline: Option<NaiveDate>,
    pub on_plan: bool,
}

/// What the rules need to know about the person acting.
#[derive(Debug, Clone, Copy)]
pub struct ActorFacts {
    pub user_id: i64,
    /// May register, dismiss, plan and reopen hazards at this school.
    pub can_manage: bool,
    /// May verify and close out (銷賬) or send back rectifications at this school.
    pub can_verify: bool,
}

/// A requested step.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// 登記: name the owner, the measures and the deadline.
    Register {
        owner_id: i64,
        measures: String,
        deadline: NaiveDate,
        grade: Option<Grade>,
    },
    /// The owner starts the work.
    Start,
    /// 報告: the rectification is done, with a note and after-photos.
    Submit { note: String, attachments: Vec<i64> },
    /// 銷賬: someone other than the rectifier checks and closes it.
    Verify { note: String },
    /// The check failed; back to rectifying.
    SendBack { reason: String },
    /// Not a hazard, or a duplicate.
    Dismiss { reason: String },
    /// 整改計劃: cannot be fixed soon; interim controls and a later deadline.
    Plan {
        interim_measures: String,
        deadline: NaiveDate,
    },
    /// A closed or dismissed hazard came back.
    Reopen { reason: String },
}

impl Action {
    /// The stable code of the action.
    pub fn code(&self) -> &'static str {
        match self {
            Action::Register { .. } => "register",
            Action::Start => "start",
            Action::Submit { .. } => "submit",
            Action::Verify { .. } => "verify",
            Action::SendBack { .. } => "send_back",
            Action::Dismiss { .. } => "dismiss",
            Action::Plan { .. } => "plan",
            Action::Reopen { .. } => "reopen",
        }
    }
}

/// Why a step was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransitionError {
    /// The step does not apply in the current state (HTTP 409).
    Illegal { from: Status, action: &'static str },
    /// The actor may not take this step (HTTP 403); the code names the rule.
    Forbidden(&'static str),
    /// The step's input breaks a rule (HTTP 400); the code names the rule.
    Invalid(&'static str),
}

/// The outcome of an allowed step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub to: Status,
    /// Whether the hazard is (still) on a long-term rectification plan afterwards.
    pub on_plan: bool,
}

const MAX_TEXT: usize = 2000;

/// A step's free text (measures, note, reason) under the one text rule of [`crate::text`].
fn text(s: &str, code: &'static str) -> Result<(), TransitionError> {
    crate::text::clean("text", s, MAX_TEXT, crate::text::Lines::Many, true)
        .map(drop)
        .map_err(|_| TransitionError::Invalid(code))
}

/// Decides whether `actor` may take `action` on hazard `h` today, and where it leads.
pub fn decide(
    h: &HazardFacts,
    action: &Action,
    actor: &ActorFacts,
    today: NaiveDate,
) -> Result<Decision, TransitionError> {
    use Status::*;
    let illegal = || TransitionError::Illegal {
        from: h.status,
        action: action.code(),
    };
    let is_owner = h.owner_id == Some(actor.user_id);
    let stay = |to| {
        Ok(Decision {
            to,
            on_plan: h.on_plan,
        })
    };
    match action {
        Action::Register {
            measures, deadline, ..
        } => {
            if h.status != Reported {
                return Err(illegal());
            }
            if !actor.can_manage {
                return Err(TransitionError::Forbidden("hazard_manage"));
            }
            text(measures, "measures_required")?;
            if *deadline < today {
                return Err(TransitionError::Invalid("deadline_past"));
            }
            stay(Registered)
        }
        Action::Start => {
            if h.status != Registered {
                return Err(illegal());
            }
            if !(is_owner || actor.can_manage) {
                return Err(TransitionError::Forbidden("hazard_owner"));
            }
            stay(Rectifying)
        }
        Action::Submit { note, attachments } => {
            if h.status != Rectifying {
                return Err(illegal());
            }
            if !(is_owner || actor.can_manage) {
                return Err(TransitionError::Forbidden("hazard_owner"));
            }
            text(note, "note_required")?;
            if attachments.is_empty() {
                return Err(TransitionError::Invalid("after_photo_required"));
            }
            stay(Submitted)
        }
        Action::Verify { .. } | Action::SendBack { .. } => {
            if h.status != Submitted {
                return Err(illegal());
            }
            if !actor.can_verify {
                return Err(TransitionError::Forbidden("hazard_verify"));
            }
            if h.rectifier_id == Some(actor.user_id) || is_owner {
                return Err(TransitionError::Forbidden("verifier_is_rectifier"));
            }
            match action {
                Action::SendBack { reason } => {
                    text(reason, "reason_required")?;
                    stay(Rectifying)
                }
                Action::Verify { note } if !note.trim().is_empty() => {
                    text(note, "note_invalid")?;
                    Ok(Decision {
                        to: Closed,
                        on_plan: false,
                    })
                }
                _ => Ok(Decision {
                    to: Closed,
                    on_plan: false,
                }),
            }
        }
        Action::Dismiss { reason } => {
            if !matches!(h.status, Reported | Registered) {
                return Err(illegal());
            }
            if !actor.can_manage {
                return Err(TransitionError::Forbidden("hazard_manage"));
            }
            text(reason, "reason_required")?;
            Ok(Decision {
                to: Dismissed,
                on_plan: false,
            })
        }
        Action::Plan {
            interim_measures,
            deadline,
        } => {
            if !matches!(h.status, Registered | Rectifying) {
                return Err(illegal());
            }
            if !actor.can_manage {
                return Err(TransitionError::Forbidden("hazard_manage"));
            }
            text(interim_measures, "interim_required")?;
            if h.deadline.is_some_and(|d| *deadline <= d) || *deadline < today {
                return Err(TransitionError::Invalid("plan_deadline_later"));
            }
            Ok(Decision {
                to: h.status,
                on_plan: true,
            })
        }
        Action::Reopen { reason } => {
            if !matches!(h.status, Closed | Dismissed) {
                return Err(illegal());
            }
            if !(actor.can_manage || actor.can_verify) {
                return Err(TransitionError::Forbidden("hazard_manage"));
            }
            text(reason, "reason_required")?;
            Ok(Decision {
                to: Reported,
                on_plan: false,
            })
        }
    }
}

/// Whether the work is late: registered or being rectified past its deadline. A submitted
/// rectification waits for its check and is not the rectifier's delay.
pub fn is_overdue(status: Status, deadline: Option<NaiveDate>, today: NaiveDate) -> bool {
    status.can_be_overdue() && deadline.is_some_and(|d| d < today)
}

crate::codes! {
    /// How far up the tree a hazard has gone. Ordered: `None < Centre < Listed`.
    #[derive(PartialOrd, Ord)]
    pub enum Escalation {
        /// The school handles it.
        None => "none",
        /// Overdue: the centre (or, for schools under the bureau, the bureau) is told.
        Centre => "centre",
        /// Listed for supervision by the bureau (掛牌督辦): major, or overdue by more than the
        /// configured number of days.
        Listed => "listed",
    }
}

impl Escalation {
    /// The level stored in the database: 0, 1 or 2.
    pub fn level(self) -> i64 {
        match self {
            Escalation::None => 0,
            Escalation::Centre => 1,
            Escalation::Listed => 2,
        }
    }

    /// The escalation stored as `level`; `None` for a level out of range.
    pub fn from_level(level: i64) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.level() == level)
    }
}

/// The escalation a hazard should have today. `listing_days` is the district's setting
/// for how long overdue a hazard may be before the bureau lists it.
pub fn escalation_level(h: &HazardFacts, today: NaiveDate, listing_days: i64) -> Escalation {
    if !h.status.is_open() {
        return Escalation::None;
    }
    let overdue_days = match h.deadline {
        Some(d) if is_overdue(h.status, Some(d), today) => (today - d).num_days(),
        _ => 0,
    };
    if (h.grade == Grade::Major && h.status != Status::Reported) || overdue_days > listing_days {
        Escalation::Listed
    } else if overdue_days > 0 {
        Escalation::Centre
    } else {
        Escalation::None
    }
}

/// A location reduced to what matters for spotting duplicates: no spaces or punctuation,
/// lower case, full-width forms folded.
pub fn location_key(location: &str) -> String {
    location
        .chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            _ => c,
        })
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn h(status: Status) -> HazardFacts {
        HazardFacts {
            status,
            grade: Grade::General,
            owner_id: Some(2),
            rectifier_id: None,
            deadline: Some(d("2026-12-10")),
            on_plan: false,
        }
    }

    const MANAGER: ActorFacts = ActorFacts {
        user_id: 1,
        can_manage: true,
        can_verify: true,
    };
    const OWNER: ActorFacts = ActorFacts {
        user_id: 2,
        can_manage: false,
        can_verify: false,
    };
    const STAFF: ActorFacts = ActorFacts {
        user_id: 3,
        can_manage: false,
        can_verify: false,
    };
    const CENTRE: ActorFacts = ActorFacts {
        user_id: 4,
        can_manage: false,
        can_verify: true,
    };
    const TODAY: &str = "2026-11-29";

    #[test]
    fn the_whole_loop() {
        let t = d(TODAY);
        let reg = Action::Register {
            owner_id: 2,
            measures: "更換護欄".into(),
            deadline: d("2026-12-10"),
            grade: None,
        };
        assert_eq!(
            decide(&h(Status::Reported), &reg, &MANAGER, t).unwrap().to,
            Status::Registered
        );
        assert_eq!(
            decide(&h(Status::Registered), &Action::Start, &OWNER, t)
                .unwrap()
                .to,
            Status::Rectifying
        );
        let sub = Action::Submit {
            note: "已更換".into(),
            attachments: vec![9],
        };
        assert_eq!(
            decide(&h(Status::Rectifying), &sub, &OWNER, t).unwrap().to,
            Status::Submitted
        );
        let mut submitted = h(Status::Submitted);
        submitted.rectifier_id = Some(2);
        let verify = Action::Verify {
            note: "驗收合格".into(),
        };
        assert_eq!(
            decide(&submitted, &verify, &CENTRE, t).unwrap().to,
            Status::Closed
        );
        let back = Action::SendBack {
            reason: "護欄仍鬆動".into(),
        };
        assert_eq!(
            decide(&submitted, &back, &MANAGER, t).unwrap().to,
            Status::Rectifying
        );
    }

    #[test]
    fn the_rectifier_never_verifies_their_own_work() {
        let t = d(TODAY);
        let mut submitted = h(Status::Submitted);
        submitted.rectifier_id = Some(1);
        submitted.owner_id = Some(7);
        let verify = Action::Verify { note: "ok".into() };
        assert_eq!(
            decide(&submitted, &verify, &MANAGER, t),
            Err(TransitionError::Forbidden("verifier_is_rectifier"))
        );
        // Nor does the owner, even with the right to verify.
        submitted.rectifier_id = Some(9);
        submitted.owner_id = Some(4);
        assert_eq!(
            decide(&submitted, &verify, &CENTRE, t),
            Err(TransitionError::Forbidden("verifier_is_rectifier"))
        );
        // And staff without the right cannot verify at all.
        assert_eq!(
            decide(&submitted, &verify, &STAFF, t),
            Err(TransitionError::Forbidden("hazard_verify"))
        );
    }

    #[test]
    fn illegal_steps_are_refused_with_the_state() {
        let t = d(TODAY);
        let verify = Action::Verify { note: "ok".into() };
        assert_eq!(
            decide(&h(Status::Reported), &verify, &CENTRE, t),
            Err(TransitionError::Illegal {
                from: Status::Reported,
                action: "verify"
            })
        );
        assert!(matches!(
            decide(&h(Status::Closed), &Action::Start, &MANAGER, t),
            Err(TransitionError::Illegal { .. })
        ));
        let dismiss = Action::Dismiss {
            reason: "重複".into(),
        };
        assert!(matches!(
            decide(&h(Status::Submitted), &dismiss, &MANAGER, t),
            Err(TransitionError::Illegal { .. })
        ));
    }

    #[test]
    fn inputs_are_checked() {
        let t = d(TODAY);
        let past = Action::Register {
            owner_id: 2,
            measures: "x".into(),
            deadline: d("2026-11-01"),
            grade: None,
        };
        assert_eq!(
            decide(&h(Status::Reported), &past, &MANAGER, t),
            Err(TransitionError::Invalid("deadline_past"))
        );
        let no_photo = Action::Submit {
            note: "done".into(),
            attachments: vec![],
        };
        assert_eq!(
            decide(&h(Status::Rectifying), &no_photo, &OWNER, t),
            Err(TransitionError::Invalid("after_photo_required"))
        );
        let blank = Action::Dismiss {
            reason: "  ".into(),
        };
        assert_eq!(
            decide(&h(Status::Reported), &blank, &MANAGER, t),
            Err(TransitionError::Invalid("reason_required"))
        );
        let reg = Action::Register {
            owner_id: 2,
            measures: "x".into(),
            deadline: d("2026-12-01"),
            grade: None,
        };
        assert_eq!(
            decide(&h(Status::Reported), &reg, &STAFF, t),
            Err(TransitionError::Forbidden("hazard_manage"))
        );
    }

    #[test]
    fn a_plan_needs_interim_controls_and_a_later_deadline() {
        let t = d(TODAY);
        let early = Action::Plan {
            interim_measures: "設置圍擋".into(),
            deadline: d("2026-12-01"),
        };
        assert_eq!(
            decide(&h(Status::Rectifying), &early, &MANAGER, t),
            Err(TransitionError::Invalid("plan_deadline_later"))
        );
        let later = Action::Plan {
            interim_measures: "設置圍擋".into(),
            deadline: d("2027-08-31"),
        };
        let dec = decide(&h(Status::Rectifying), &later, &MANAGER, t).unwrap();
        assert_eq!(
            dec,
            Decision {
                to: Status::Rectifying,
                on_plan: true
            }
        );
    }

    #[test]
    fn overdue_and_escalation() {
        let mut x = h(Status::Rectifying);
        x.deadline = Some(d("2026-11-25"));
        assert!(is_overdue(x.status, x.deadline, d(TODAY)));
        assert_eq!(escalation_level(&x, d(TODAY), 7), Escalation::Centre);
        assert_eq!(escalation_level(&x, d("2026-12-03"), 7), Escalation::Listed);
        x.status = Status::Submitted;
        assert!(!is_overdue(x.status, x.deadline, d(TODAY)));
        let mut major = h(Status::Registered);
        major.grade = Grade::Major;
        assert_eq!(escalation_level(&major, d(TODAY), 7), Escalation::Listed);
        major.status = Status::Closed;
        assert_eq!(escalation_level(&major, d(TODAY), 7), Escalation::None);
    }

    #[test]
    fn locations_fold() {
        assert_eq!(
            location_key(" 教學樓 2F 東側樓梯！"),
            location_key("教學樓2f東側樓梯")
        );
        assert_ne!(location_key("教學樓東側"), location_key("教學樓西側"));
    }
}
