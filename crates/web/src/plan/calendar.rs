//! The school calendar the bureau edits: terms, holidays inside terms and make-up school
//! days. After a change the measures of the obligations that follow term dates are
//! recomputed, so the matrix is right at once.

use crate::kit::AppState;
use crate::kit::Caller;
use crate::kit::error::{AppError, AppResult};
use crate::kit::page::{Layout, Refused, refuse, render, take_refused};
use crate::plan::active;
use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::NaiveDate;
use serde::Deserialize;
use std::collections::HashMap;
use tower_sessions::Session;
use xiaoan_domain::Permission;
use xiaoan_domain::calendar::{DayKind, Term};
use xiaoan_domain::plan::Cadence;
use xiaoan_store::{calendar, compliance};

/// A term as a table row.
pub struct TermView {
    pub school_year: i32,
    pub number: u8,
    pub label: String,
    pub start: String,
    pub end: String,
    pub school_days: usize,
}

/// A special day as a table row.
pub struct DayView {
    pub day: String,
    pub kind: String,
    pub note: String,
}

#[derive(Template)]
#[template(path = "plan/calendar.html")]
struct CalendarPage {
    l: Layout,
    terms: Vec<TermView>,
    days: Vec<DayView>,
    can_edit: bool,
    error: Option<String>,
    /// The fields of a refused form, to fill it in again.
    kept: HashMap<String, String>,
}

impl CalendarPage {
    fn kept(&self, name: &str) -> &str {
        self.kept.get(name).map_or("", String::as_str)
    }
}

/// A notice to show.
#[derive(Deserialize)]
pub struct Done {
    done: Option<String>,
}

async fn show(
    st: &AppState,
    caller: &Caller,
    refused: Option<Refused>,
    notice: Option<String>,
) -> AppResult<Response> {
    let (error, kept) = match refused {
        Some(r) => (Some(r.error), r.fields),
        None => (None, HashMap::new()),
    };
    let l = caller.lang;
    let cal = calendar::load(&st.db).await?;
    let days = calendar::special_days(&st.db).await?;
    let mut layout = Layout::new(caller, "calendar.title", "/campaign");
    layout.notice = notice;
    let page = CalendarPage {
        terms: cal
            .terms()
            .iter()
            .rev()
            .map(|t| TermView {
                school_year: t.school_year,
                number: t.number,
                label: l
                    .t(if t.number == 1 {
                        "calendar.autumn"
                    } else {
                        "calendar.spring"
                    })
                    .replace(
                        "%{year}",
                        &format!("{}–{}", t.school_year, t.school_year + 1),
                    ),
                start: t.starts_on.to_string(),
                end: t.ends_on.to_string(),
                school_days: cal.school_days(t.starts_on, t.ends_on).len(),
            })
            .collect(),
        days: days
            .iter()
            .rev()
            .map(|d| DayView {
                day: d.day.to_string(),
                kind: l.t(&format!("calendar.{}", d.kind.code())),
                note: d.note.clone(),
            })
            .collect(),
        can_edit: caller.can(Permission::CalendarManage),
        error,
        kept,
        l: layout,
    };
    Ok(render(&page))
}

/// `GET /calendar`.
#[tracing::instrument(skip_all)]
pub async fn page(
    State(st): State<AppState>,
    caller: Caller,
    session: Session,
    Query(q): Query<Done>,
) -> AppResult<Response> {
    let notice = q.done.is_some().then(|| caller.lang.t("calendar.saved"));
    let refused = take_refused(&session, CALENDAR).await;
    show(&st, &caller, refused, notice).await
}

/// The calendar page.
const CALENDAR: &str = "/calendar";

/// Recomputes what follows term dates (terms, school years, school weeks).
async fn refresh(st: &AppState, caller: &Caller) -> AppResult<()> {
    let Some(a) = active(st).await? else {
        return Ok(());
    };
    let ids: Vec<String> = a
        .plan
        .plan
        .obligations
        .iter()
        .filter(|o| {
            matches!(
                o.cadence,
                Cadence::Term { .. } | Cadence::SchoolYear | Cadence::Week
            )
        })
        .map(|o| o.id.clone())
        .collect();
    compliance::recompute(&st.db, &caller.actor(), &a.plan, &a.calendar, Some(&ids)).await?;
    Ok(())
}

/// After a change: back to the page, saying it was saved, or (Post/Redirect/Get) why it
/// was refused with the form's `fields` kept.
async fn finish(
    st: &AppState,
    caller: &Caller,
    session: &Session,
    r: AppResult<()>,
    fields: &[(&str, &str)],
) -> AppResult<Response> {
    match r {
        Ok(()) => {
            refresh(st, caller).await?;
            Ok(Redirect::to("/calendar?done=1").into_response())
        }
        Err(e) if e.status.is_client_error() => {
            let refused = Refused {
                path: CALENDAR.to_string(),
                error: e.message(caller.lang),
                fields: fields
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                ..Refused::default()
            };
            Ok(refuse(session, CALENDAR, refused).await)
        }
        Err(e) => Err(e),
    }
}

fn date(s: &str) -> AppResult<NaiveDate> {
    s.trim()
        .parse()
        .map_err(|_| AppError::invalid("calendar_date"))
}

/// The term form.
#[derive(Deserialize)]
pub struct TermForm {
    school_year: String,
    number: String,
    starts_on: String,
    ends_on: String,
}

/// `POST /calendar/terms`: adds or replaces a term.
#[tracing::instrument(skip_all)]
pub async fn set_term(
    State(st): State<AppState>,
    caller: Caller,
    session: Session,
    Form(f): Form<TermForm>,
) -> AppResult<Response> {
    let r = async {
        let term = Term {
            school_year: f
                .school_year
                .trim()
                .parse()
                .map_err(|_| AppError::invalid("term_school_year"))?,
            number: f
                .number
                .trim()
                .parse()
                .map_err(|_| AppError::invalid("term_number"))?,
            starts_on: date(&f.starts_on)?,
            ends_on: date(&f.ends_on)?,
        };
        calendar::set_term(&st.db, &caller.actor(), term)
            .await
            .map_err(AppError::from)
    }
    .await;
    let kept = [
        ("school_year", f.school_year.as_str()),
        ("number", f.number.as_str()),
        ("starts_on", f.starts_on.as_str()),
        ("ends_on", f.ends_on.as_str()),
    ];
    finish(&st, &caller, &session, r, &kept).await
}

/// The form naming a term to remove.
#[derive(Deserialize)]
pub struct TermKey {
    school_year: String,
    number: String,
}

/// `POST /calendar/terms/remove`.
#[tracing::instrument(skip_all)]
pub async fn remove_term(
    State(st): State<AppState>,
    caller: Caller,
    session: Session,
    Form(f): Form<TermKey>,
) -> AppResult<Response> {
    let _l = caller.lang;
    let r = async {
        let year = f
            .school_year
            .trim()
            .parse()
            .map_err(|_| AppError::invalid("term_school_year"))?;
        let number = f
            .number
            .trim()
            .parse()
            .map_err(|_| AppError::invalid("term_number"))?;
        calendar::remove_term(&st.db, &caller.actor(), year, number)
            .await
            .map_err(AppError::from)
    }
    .await;
    finish(&st, &caller, &session, r, &[]).await
}

/// The special-day form.
#[derive(Deserialize)]
pub struct DayForm {
    day: String,
    kind: String,
    #[serde(default)]
    note: String,
}

/// `POST /calendar/days`: marks a holiday or a make-up school day.
#[tracing::instrument(skip_all)]
pub async fn set_day(
    State(st): State<AppState>,
    caller: Caller,
    session: Session,
    Form(f): Form<DayForm>,
) -> AppResult<Response> {
    let _l = caller.lang;
    let r = async {
        let kind = DayKind::from_code(&f.kind).ok_or_else(|| AppError::invalid("calendar_kind"))?;
        calendar::set_day(&st.db, &caller.actor(), date(&f.day)?, kind, &f.note)
            .await
            .map_err(AppError::from)
    }
    .await;
    let kept = [
        ("day", f.day.as_str()),
        ("kind", f.kind.as_str()),
        ("note", f.note.as_str()),
    ];
    finish(&st, &caller, &session, r, &kept).await
}

/// The form naming a day to unmark.
#[derive(Deserialize)]
pub struct DayKey {
    day: String,
}

/// `POST /calendar/days/remove`.
#[tracing::instrument(skip_all)]
pub async fn remove_day(
    State(st): State<AppState>,
    caller: Caller,
    session: Session,
    Form(f): Form<DayKey>,
) -> AppResult<Response> {
    let r = async {
        calendar::remove_day(&st.db, &caller.actor(), date(&f.day)?)
            .await
            .map_err(AppError::from)
    }
    .await;
    finish(&st, &caller, &session, r, &[]).await
}
