//! The campaign plan: its obligations and record kinds (API), the campaign's timeline and
//! progress, what each school owes and when (`/due`), and the school calendar. [`context`]
//! and [`words`] are shared with records and compliance.

mod api;
mod calendar;
mod campaign;
pub mod context;
mod due;
pub mod words;

pub use context::{
    Active, active, amount, check_writable, choice_label, field_error, field_label, kind_label,
    page_period, require_active, unit_label, writable_orgs,
};
pub use due::{Reminders, reminders};

use crate::kit::Routes;
use utoipa_axum::routes;
use xiaoan_domain::Permission::{CalendarManage, PlanRead, RecordRead};

/// The routes.
pub fn routes() -> Routes {
    Routes::new()
        .api(PlanRead, routes!(api::list))
        .api(RecordRead, routes!(api::kinds))
        .get("/due", PlanRead, due::page)
        .get("/campaign", PlanRead, campaign::overview)
        .get("/campaign/sections", PlanRead, campaign::sections)
        .get("/calendar", PlanRead, calendar::page)
        .post("/calendar/terms", CalendarManage, calendar::set_term)
        .post(
            "/calendar/terms/remove",
            CalendarManage,
            calendar::remove_term,
        )
        .post("/calendar/days", CalendarManage, calendar::set_day)
        .post(
            "/calendar/days/remove",
            CalendarManage,
            calendar::remove_day,
        )
}
