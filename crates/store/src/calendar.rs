//! The district's school calendar as the bureau edits it: terms, holidays inside terms and
//! make-up school days. Every change is checked by the domain (no overlapping terms) and
//! audited; the caller then refreshes the measures that depend on term dates.

use crate::audit::{self, Event};
use crate::{Db, StoreError, StoreResult};
use chrono::NaiveDate;
use xiaoan_domain::audit::Actor;
use xiaoan_domain::calendar::{CalendarError, DayKind, SchoolCalendar, Term};

fn date(s: &str) -> StoreResult<NaiveDate> {
    s.parse()
        .map_err(|_| StoreError::Internal(format!("bad stored date {s:?}")))
}

async fn terms(conn: &mut sqlx::AnyConnection) -> StoreResult<Vec<Term>> {
    let rows: Vec<(i64, i64, String, String)> = sqlx::query_as(
        "SELECT school_year, number, starts_on, ends_on FROM calendar_terms ORDER BY starts_on",
    )
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(|(y, n, s, e)| {
            Ok(Term {
                school_year: y as i32,
                number: n as u8,
                starts_on: date(&s)?,
                ends_on: date(&e)?,
            })
        })
        .collect()
}

/// An exceptional day with its note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecialDay {
    pub day: NaiveDate,
    pub kind: DayKind,
    pub note: String,
}

/// The exceptional days, in date order.
#[tracing::instrument(skip_all)]
pub async fn special_days(db: &Db) -> StoreResult<Vec<SpecialDay>> {
    let rows: Vec<(String, String, String)> =
        sqlx::query_as("SELECT day, kind, note FROM calendar_days ORDER BY day")
            .fetch_all(db.pool())
            .await?;
    rows.into_iter()
        .map(|(d, k, note)| {
            Ok(SpecialDay {
                day: date(&d)?,
                kind: DayKind::from_code(&k).unwrap_or(DayKind::Holiday),
                note,
            })
        })
        .collect()
}

/// The whole calendar.
#[tracing::instrument(skip_all)]
pub async fn load(db: &Db) -> StoreResult<SchoolCalendar> {
    let mut conn = db.pool().acquire().await?;
    let terms = terms(&mut conn).await?;
    drop(conn);
    let days = special_days(db).await?;
    SchoolCalendar::new(terms, days.into_iter().map(|d| (d.day, d.kind)))
        .map_err(|e| StoreError::Internal(format!("stored calendar invalid: {e}")))
}

fn calendar_error(e: CalendarError) -> StoreError {
    StoreError::Invalid(match e {
        CalendarError::TermOrder => "term_order",
        CalendarError::TermNumber => "term_number",
        CalendarError::TermOverlap => "term_overlap",
        CalendarError::TermLength => "term_length",
        CalendarError::SchoolYear => "term_school_year",
    })
}

/// Sets (adds or replaces) the term `school_year`/`number`.
#[tracing::instrument(skip_all)]
pub async fn set_term(db: &Db, actor: &Actor, term: Term) -> StoreResult<()> {
    let mut tx = db.begin_write().await?;
    let mut all = terms(&mut tx).await?;
    all.retain(|t| !(t.school_year == term.school_year && t.number == term.number));
    all.push(term.clone());
    SchoolCalendar::new(all, []).map_err(calendar_error)?;
    sqlx::query("DELETE FROM calendar_terms WHERE school_year = $1 AND number = $2")
        .bind(i64::from(term.school_year))
        .bind(i64::from(term.number))
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO calendar_terms (school_year, number, starts_on, ends_on) VALUES ($1, $2, $3, $4)",
    )
    .bind(i64::from(term.school_year))
    .bind(i64::from(term.number))
    .bind(term.starts_on.to_string())
    .bind(term.ends_on.to_string())
    .execute(&mut *tx)
    .await?;
    let detail = serde_json::json!({"school_year": term.school_year, "number": term.number,
        "starts_on": term.starts_on, "ends_on": term.ends_on});
    audit::append(
        &mut tx,
        actor,
        Event::ok("calendar.term.set", "term", term.key(), detail),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Removes a term; `NotFound` if there is none.
#[tracing::instrument(skip_all)]
pub async fn remove_term(db: &Db, actor: &Actor, school_year: i32, number: u8) -> StoreResult<()> {
    let mut tx = db.begin_write().await?;
    let n = sqlx::query("DELETE FROM calendar_terms WHERE school_year = $1 AND number = $2")
        .bind(i64::from(school_year))
        .bind(i64::from(number))
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    let key = format!("T{school_year}-{number}");
    audit::append(
        &mut tx,
        actor,
        Event::ok("calendar.term.remove", "term", key, serde_json::json!({})),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Marks `day` as a holiday or a make-up school day (replacing an earlier mark).
#[tracing::instrument(skip_all)]
pub async fn set_day(
    db: &Db,
    actor: &Actor,
    day: NaiveDate,
    kind: DayKind,
    note: &str,
) -> StoreResult<()> {
    let note: String = note.trim().chars().take(100).collect();
    if note.chars().any(char::is_control) {
        return Err(StoreError::Invalid("field_bad_characters"));
    }
    let mut tx = db.begin_write().await?;
    sqlx::query("DELETE FROM calendar_days WHERE day = $1")
        .bind(day.to_string())
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO calendar_days (day, kind, note) VALUES ($1, $2, $3)")
        .bind(day.to_string())
        .bind(kind.code().to_string())
        .bind(note.clone())
        .execute(&mut *tx)
        .await?;
    let detail = serde_json::json!({"kind": kind.code(), "note": note});
    audit::append(
        &mut tx,
        actor,
        Event::ok("calendar.day.set", "day", day, detail),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Removes the mark on `day`; `NotFound` if it has none.
#[tracing::instrument(skip_all)]
pub async fn remove_day(db: &Db, actor: &Actor, day: NaiveDate) -> StoreResult<()> {
    let mut tx = db.begin_write().await?;
    let n = sqlx::query("DELETE FROM calendar_days WHERE day = $1")
        .bind(day.to_string())
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    audit::append(
        &mut tx,
        actor,
        Event::ok("calendar.day.remove", "day", day, serde_json::json!({})),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
