//! Hazard pages: the list every level sees, reporting from a phone, one hazard with its
//! history and the forms for the next step, and the two lists ready to print.

mod detail;
mod list;
mod lists;
mod new;
mod summary;

pub use detail::{detail, transition};
pub use list::list;
pub use lists::{export, print};
pub use new::{create, new_form};
pub use summary::{Tile, summary};

use crate::kit::Lang;
use xiaoan_store::hazards::Hazard;

/// A hazard as a row of a page table.
pub struct HazardRow {
    pub id: i64,
    pub number: String,
    pub school: String,
    pub category: String,
    pub grade: String,
    pub major: bool,
    pub title: String,
    pub location: String,
    pub status: String,
    pub status_code: &'static str,
    pub owner: String,
    pub deadline: String,
    pub found_on: String,
    pub overdue: bool,
    pub on_plan: bool,
    pub escalation: String,
}

impl HazardRow {
    /// The row for `h` in `l`.
    pub fn new(h: &Hazard, l: Lang) -> HazardRow {
        HazardRow {
            id: h.id,
            number: h.number.clone(),
            school: h.school_name.clone(),
            category: l.t(&format!("hazard.category.{}", h.category.code())),
            grade: l.t(&format!("hazard.grade.{}", h.grade.code())),
            major: h.grade == xiaoan_domain::hazard::Grade::Major,
            title: h.title.clone(),
            location: h.location.clone(),
            status: l.t(&format!("hazard.status.{}", h.status.code())),
            status_code: h.status.code(),
            owner: h
                .owner
                .as_ref()
                .map(|u| u.display_name.clone())
                .unwrap_or_default(),
            deadline: h.deadline.map(|d| d.to_string()).unwrap_or_default(),
            found_on: h.found_on.to_string(),
            overdue: h.overdue,
            on_plan: h.on_plan,
            escalation: if h.escalation > xiaoan_domain::hazard::Escalation::None
                && h.status.is_open()
            {
                l.t(&format!("hazard.escalation.{}", h.escalation.code()))
            } else {
                String::new()
            },
        }
    }
}
