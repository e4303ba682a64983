//! Hazards (隱患) and their closed loop: the codes a hazard is described with, the state
//! machine of 排查 → 登記 → 整治 → 報告 → 銷賬, and escalation up the org tree.

mod codes;
mod machine;

pub use codes::{Category, Grade, Source, Status};
pub use machine::{
    Action, ActorFacts, Decision, Escalation, HazardFacts, TransitionError, decide,
    escalation_level, is_overdue, location_key,
};

/// Longest location of a hazard, in characters.
pub const LOCATION_MAX: usize = 100;
/// Longest title of a hazard, in characters.
pub const TITLE_MAX: usize = 100;
/// Longest description of a hazard, in characters.
pub const DESCRIPTION_MAX: usize = 2000;
