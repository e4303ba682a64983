//! Hazard input shared by the JSON API and the pages: a report, list filters and a step of
//! the closed loop, each parsed into the store's typed input.

use crate::kit::error::text_error;
use crate::kit::extract::blank;
use crate::kit::{AppError, AppResult, AppState, Caller, from_json};
use chrono::NaiveDate;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use xiaoan_domain::Permission;
use xiaoan_domain::hazard::{self, Action, Category, Escalation, Grade, Source, Status};
use xiaoan_domain::text::{Name, Text};
use xiaoan_store::hazards::{HazardFilter, HazardOrder, NewHazard, Powers};

/// A hazard to report.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HazardIn {
    pub school_id: i64,
    pub category: Category,
    #[serde(default = "general")]
    #[schema(default = "general")]
    pub grade: Grade,
    #[serde(default = "self_inspection")]
    #[schema(default = "self_inspection")]
    pub source: Source,
    #[schema(min_length = 1, max_length = 200)]
    pub location: String,
    #[schema(min_length = 1, max_length = 100)]
    pub title: String,
    #[schema(min_length = 1, max_length = 2000)]
    pub description: String,
    /// Who found it; defaults to the reporter's name.
    pub found_by: Option<String>,
    /// Defaults to today.
    pub found_on: Option<NaiveDate>,
    /// Ids of photos uploaded with `POST /api/v1/attachments`.
    #[serde(default)]
    pub attachments: Vec<i64>,
}

fn general() -> Grade {
    Grade::General
}

fn self_inspection() -> Source {
    Source::SelfInspection
}

/// Parses a `YYYY-MM-DD` date or answers 400 with `code`.
pub fn parse_date(s: &str, code: &'static str) -> AppResult<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| AppError::invalid(code))
}

/// Turns a report into the store's input (shared with the page form).
pub fn new_hazard(st: &AppState, caller: &Caller, body: HazardIn) -> AppResult<NewHazard> {
    Ok(NewHazard {
        school_id: body.school_id,
        category: body.category,
        grade: body.grade,
        source: body.source,
        location: Text::line("location", &body.location, hazard::LOCATION_MAX)
            .map_err(text_error)?,
        title: Text::line("title", &body.title, hazard::TITLE_MAX).map_err(text_error)?,
        description: Text::lines("description", &body.description, hazard::DESCRIPTION_MAX)
            .map_err(text_error)?,
        found_by: Name::parse(
            "found_by",
            body.found_by
                .as_deref()
                .filter(|f| !f.trim().is_empty())
                .unwrap_or(&caller.user.display_name),
        )
        .map_err(text_error)?,
        found_on: body.found_on.unwrap_or_else(|| st.config.today()),
        attachments: body.attachments,
    })
}

/// Filters of the hazard list.
#[derive(Deserialize, IntoParams, Default)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    #[serde(default, deserialize_with = "blank")]
    pub status: Option<Status>,
    #[serde(default, deserialize_with = "blank")]
    pub category: Option<Category>,
    #[serde(default, deserialize_with = "blank")]
    pub grade: Option<Grade>,
    #[serde(default, deserialize_with = "blank")]
    pub source: Option<Source>,
    pub school_id: Option<i64>,
    /// A centre (or any org): hazards of the schools under it.
    pub centre_id: Option<i64>,
    pub overdue: Option<bool>,
    pub on_plan: Option<bool>,
    /// Only open hazards.
    pub open: Option<bool>,
    /// At least this escalation (`centre` or `listed`).
    #[serde(default, deserialize_with = "blank")]
    pub escalation: Option<Escalation>,
    /// Found on or after.
    #[serde(default, deserialize_with = "blank")]
    pub from: Option<NaiveDate>,
    /// Found on or before.
    #[serde(default, deserialize_with = "blank")]
    pub to: Option<NaiveDate>,
    /// Text in the number, title, location or description.
    pub q: Option<String>,
    /// `newest` (the default): newest first. `overdue`: most overdue first — overdue
    /// hazards by deadline, the earliest first, then all others newest first. Counts ignore it.
    pub sort: Option<String>,
    /// The `next_cursor` of the previous page, listed in the same `sort`.
    pub cursor: Option<String>,
    /// 1–200, default 50.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

/// Turns list parameters into a store filter (shared with the pages and exports).
#[tracing::instrument(skip_all)]
pub async fn filter(st: &AppState, caller: &Caller, q: &ListQuery) -> AppResult<HazardFilter> {
    let under_path = match q.centre_id {
        Some(id) => Some(
            xiaoan_store::orgs::get(&st.db, &caller.scope(Permission::HazardRead), id)
                .await
                .map_err(|_| AppError::invalid("org_unknown"))?
                .path,
        ),
        None => None,
    };
    Ok(HazardFilter {
        status: q.status,
        open: q.open.unwrap_or(false),
        category: q.category,
        grade: q.grade,
        source: q.source,
        overdue: q.overdue,
        on_plan: q.on_plan,
        escalation_at_least: q.escalation.filter(|e| *e != Escalation::None),
        school_id: q.school_id,
        under_path,
        found_from: q.from,
        found_to: q.to,
        q: q.q.clone(),
        order: match q.sort.as_deref().filter(|s| !s.is_empty()) {
            None | Some("newest") => HazardOrder::Newest,
            Some("overdue") => HazardOrder::MostOverdue,
            Some(_) => return Err(AppError::invalid("hazard_sort")),
        },
        ..HazardFilter::default()
    })
}

/// A step of the closed loop, named by `action`; each step carries the fields it needs.
/// A required text that is missing or blank answers 400 with its own code
/// (`owner_required`, `reason_required`, …).
#[derive(Deserialize, ToSchema)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum TransitionIn {
    /// Registers a reported hazard (登記): who rectifies it, how, and by when.
    Register {
        /// The owner's login; a user of the hazard's school.
        #[serde(default)]
        #[schema(required = true, value_type = String, min_length = 1)]
        owner: Option<String>,
        #[serde(default)]
        #[schema(required = true, value_type = String, min_length = 1)]
        measures: Option<String>,
        #[serde(default)]
        #[schema(required = true, value_type = NaiveDate)]
        deadline: Option<NaiveDate>,
        /// Regrades the hazard at registration.
        #[serde(default)]
        grade: Option<Grade>,
    },
    /// Starts the rectification.
    Start,
    /// Submits the rectification for verification, with after photos.
    Submit {
        #[serde(default)]
        #[schema(required = true, value_type = String, min_length = 1)]
        note: Option<String>,
        #[serde(default)]
        attachments: Vec<i64>,
    },
    /// Verifies the rectification and closes the hazard (銷賬).
    Verify {
        #[serde(default)]
        note: Option<String>,
    },
    /// Sends the rectification back to the owner.
    SendBack {
        #[serde(default)]
        #[schema(required = true, value_type = String, min_length = 1)]
        reason: Option<String>,
    },
    /// Dismisses a report that is not a hazard.
    Dismiss {
        #[serde(default)]
        #[schema(required = true, value_type = String, min_length = 1)]
        reason: Option<String>,
    },
    /// Puts a hazard that cannot be fixed at once on a rectification plan (整改計劃).
    Plan {
        #[serde(default)]
        #[schema(required = true, value_type = String, min_length = 1)]
        interim_measures: Option<String>,
        #[serde(default)]
        #[schema(required = true, value_type = NaiveDate)]
        deadline: Option<NaiveDate>,
    },
    /// Reopens a closed hazard that came back.
    Reopen {
        #[serde(default)]
        #[schema(required = true, value_type = String, min_length = 1)]
        reason: Option<String>,
    },
}

/// The `action` of every step, as the API spells it.
pub const ACTIONS: [&str; 8] = [
    "register",
    "start",
    "submit",
    "verify",
    "send_back",
    "dismiss",
    "plan",
    "reopen",
];

/// Decodes a step from JSON (the API body, or a page form's fields): an absent or unknown
/// `action` is 400 `hazard_action`.
pub fn transition_body(value: serde_json::Value) -> AppResult<TransitionIn> {
    let known = value
        .get("action")
        .and_then(|a| a.as_str())
        .is_some_and(|a| ACTIONS.contains(&a));
    if !known {
        return Err(AppError::invalid("hazard_action"));
    }
    from_json(value)
}

/// Turns a step request into a domain action (shared with the page forms).
#[tracing::instrument(skip_all)]
pub async fn action(st: &AppState, _caller: &Caller, t: TransitionIn) -> AppResult<Action> {
    fn need(v: Option<String>, code: &'static str) -> AppResult<String> {
        v.filter(|v| !v.trim().is_empty())
            .ok_or_else(|| AppError::invalid(code))
    }
    fn date(v: Option<NaiveDate>) -> AppResult<NaiveDate> {
        v.ok_or_else(|| AppError::invalid("deadline_required"))
    }
    Ok(match t {
        TransitionIn::Register {
            owner,
            measures,
            deadline,
            grade,
        } => {
            let login = need(owner, "owner_required")?;
            let owner_id = xiaoan_store::users::id_by_login(&st.db, &login)
                .await?
                .ok_or_else(|| AppError::invalid("owner_not_at_school"))?;
            Action::Register {
                owner_id,
                measures: need(measures, "measures_required")?,
                deadline: date(deadline)?,
                grade,
            }
        }
        TransitionIn::Start => Action::Start,
        TransitionIn::Submit { note, attachments } => Action::Submit {
            note: need(note, "note_required")?,
            attachments,
        },
        TransitionIn::Verify { note } => Action::Verify {
            note: note.unwrap_or_default(),
        },
        TransitionIn::SendBack { reason } => Action::SendBack {
            reason: need(reason, "reason_required")?,
        },
        TransitionIn::Dismiss { reason } => Action::Dismiss {
            reason: need(reason, "reason_required")?,
        },
        TransitionIn::Plan {
            interim_measures,
            deadline,
        } => Action::Plan {
            interim_measures: need(interim_measures, "interim_required")?,
            deadline: date(deadline)?,
        },
        TransitionIn::Reopen { reason } => Action::Reopen {
            reason: need(reason, "reason_required")?,
        },
    })
}

/// The caller's powers over hazards.
pub fn powers(caller: &Caller) -> Powers {
    Powers {
        user_id: caller.user.id,
        manage: caller.scope(Permission::HazardManage),
        verify: caller.scope(Permission::HazardVerify),
    }
}
