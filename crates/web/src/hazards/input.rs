//! Hazard input shared by the JSON API and the pages: a report, list filters and a step of
//! the closed loop, each parsed into the store's typed input.

use crate::kit::error::text_error;
use crate::kit::{AppError, AppResult, AppState, Caller};
use chrono::NaiveDate;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use xiaoan_domain::Permission;
use xiaoan_domain::hazard::{self, Action, Category, Escalation, Grade, Source, Status};
use xiaoan_domain::text::{Name, Text};
use xiaoan_store::hazards::{HazardFilter, HazardOrder, NewHazard, Powers};

/// The escalation code of a level.
pub fn escalation_code(level: Escalation) -> &'static str {
    level.code()
}

/// A hazard to report.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HazardIn {
    pub school_id: i64,
    pub category: String,
    #[serde(default = "general")]
    pub grade: String,
    #[serde(default = "self_inspection")]
    pub source: String,
    pub location: String,
    pub title: String,
    pub description: String,
    /// Who found it; defaults to the reporter's name.
    pub found_by: Option<String>,
    /// `YYYY-MM-DD`; defaults to today.
    pub found_on: Option<String>,
    /// Ids of photos uploaded with `POST /api/v1/attachments`.
    #[serde(default)]
    pub attachments: Vec<i64>,
}

fn general() -> String {
    "general".into()
}

fn self_inspection() -> String {
    "self_inspection".into()
}

/// Parses a `YYYY-MM-DD` date or answers 400 with `code`.
pub fn parse_date(s: &str, code: &'static str) -> AppResult<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| AppError::invalid(code))
}

/// Turns a report into the store's input (shared with the page form).
pub fn new_hazard(st: &AppState, caller: &Caller, body: HazardIn) -> AppResult<NewHazard> {
    Ok(NewHazard {
        school_id: body.school_id,
        category: Category::from_code(&body.category)
            .ok_or_else(|| AppError::invalid("hazard_category"))?,
        grade: Grade::from_code(&body.grade).ok_or_else(|| AppError::invalid("hazard_grade"))?,
        source: Source::from_code(&body.source)
            .ok_or_else(|| AppError::invalid("hazard_source"))?,
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
        found_on: match body.found_on.as_deref().filter(|d| !d.trim().is_empty()) {
            Some(d) => parse_date(d, "found_on_format")?,
            None => st.config.today(),
        },
        attachments: body.attachments,
    })
}

/// Filters of the hazard list.
#[derive(Deserialize, IntoParams, Default)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub status: Option<String>,
    pub category: Option<String>,
    pub grade: Option<String>,
    pub source: Option<String>,
    pub school_id: Option<i64>,
    /// A centre (or any org): hazards of the schools under it.
    pub centre_id: Option<i64>,
    pub overdue: Option<bool>,
    pub on_plan: Option<bool>,
    /// Only open hazards.
    pub open: Option<bool>,
    /// `centre` or `listed`: at least this escalation.
    pub escalation: Option<String>,
    /// Found on or after (`YYYY-MM-DD`).
    pub from: Option<String>,
    /// Found on or before (`YYYY-MM-DD`).
    pub to: Option<String>,
    /// Text in the number, title, location or description.
    pub q: Option<String>,
    /// `newest` (the default): newest first. `overdue`: most overdue first — overdue
    /// hazards by deadline, the earliest first, then all others newest first. Counts ignore it.
    pub sort: Option<String>,
    /// The `next_cursor` of the previous page, listed in the same `sort`.
    pub cursor: Option<String>,
    /// 1–200, default 50.
    pub limit: Option<i64>,
}

/// Turns list parameters into a store filter (shared with the pages and exports).
pub async fn filter(st: &AppState, caller: &Caller, q: &ListQuery) -> AppResult<HazardFilter> {
    fn code<T>(
        v: Option<&str>,
        parse: fn(&str) -> Option<T>,
        err: &'static str,
    ) -> AppResult<Option<T>> {
        match v.filter(|v| !v.is_empty()) {
            Some(v) => parse(v).map(Some).ok_or_else(|| AppError::invalid(err)),
            None => Ok(None),
        }
    }
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
        status: code(q.status.as_deref(), Status::from_code, "hazard_status")?,
        open: q.open.unwrap_or(false),
        category: code(
            q.category.as_deref(),
            Category::from_code,
            "hazard_category",
        )?,
        grade: code(q.grade.as_deref(), Grade::from_code, "hazard_grade")?,
        source: code(q.source.as_deref(), Source::from_code, "hazard_source")?,
        overdue: q.overdue,
        on_plan: q.on_plan,
        escalation_at_least: match q.escalation.as_deref().filter(|e| !e.is_empty()) {
            Some("centre") => Some(Escalation::Centre),
            Some("listed") => Some(Escalation::Listed),
            Some(_) => return Err(AppError::invalid("hazard_escalation")),
            None => None,
        },
        school_id: q.school_id,
        under_path,
        found_from: q
            .from
            .as_deref()
            .filter(|d| !d.is_empty())
            .map(|d| parse_date(d, "date_format"))
            .transpose()?,
        found_to: q
            .to
            .as_deref()
            .filter(|d| !d.is_empty())
            .map(|d| parse_date(d, "date_format"))
            .transpose()?,
        q: q.q.clone(),
        order: match q.sort.as_deref().filter(|s| !s.is_empty()) {
            None | Some("newest") => HazardOrder::Newest,
            Some("overdue") => HazardOrder::MostOverdue,
            Some(_) => return Err(AppError::invalid("hazard_sort")),
        },
        ..HazardFilter::default()
    })
}

/// A step of the closed loop. Which fields are needed depends on `action`:
/// `register` (owner login, measures, deadline, optional grade), `start`, `submit` (note,
/// attachments), `verify` (optional note), `send_back` (reason), `dismiss` (reason),
/// `plan` (interim_measures, deadline), `reopen` (reason).
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct TransitionIn {
    pub action: String,
    pub owner: Option<String>,
    pub measures: Option<String>,
    pub deadline: Option<String>,
    pub grade: Option<String>,
    pub note: Option<String>,
    #[serde(default)]
    pub attachments: Vec<i64>,
    pub reason: Option<String>,
    pub interim_measures: Option<String>,
}

/// Turns a step request into a domain action (shared with the page forms).
pub async fn action(st: &AppState, _caller: &Caller, t: TransitionIn) -> AppResult<Action> {
    let need = |v: Option<String>, code: &'static str| {
        v.filter(|v| !v.trim().is_empty())
            .ok_or_else(|| AppError::invalid(code))
    };
    Ok(match t.action.as_str() {
        "register" => {
            let login = need(t.owner, "owner_required")?;
            let owner_id = xiaoan_store::users::id_by_login(&st.db, &login)
                .await?
                .ok_or_else(|| AppError::invalid("owner_not_at_school"))?;
            Action::Register {
                owner_id,
                measures: need(t.measures, "measures_required")?,
                deadline: parse_date(&need(t.deadline, "deadline_required")?, "date_format")?,
                grade: match t.grade.as_deref().filter(|g| !g.is_empty()) {
                    Some(g) => {
                        Some(Grade::from_code(g).ok_or_else(|| AppError::invalid("hazard_grade"))?)
                    }
                    None => None,
                },
            }
        }
        "start" => Action::Start,
        "submit" => Action::Submit {
            note: need(t.note, "note_required")?,
            attachments: t.attachments,
        },
        "verify" => Action::Verify {
            note: t.note.unwrap_or_default(),
        },
        "send_back" => Action::SendBack {
            reason: need(t.reason, "reason_required")?,
        },
        "dismiss" => Action::Dismiss {
            reason: need(t.reason, "reason_required")?,
        },
        "plan" => Action::Plan {
            interim_measures: need(t.interim_measures, "interim_required")?,
            deadline: parse_date(&need(t.deadline, "deadline_required")?, "date_format")?,
        },
        "reopen" => Action::Reopen {
            reason: need(t.reason, "reason_required")?,
        },
        _ => return Err(AppError::invalid("hazard_action")),
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
