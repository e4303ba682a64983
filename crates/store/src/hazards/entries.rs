//! The two lists' rows (the problem list and the rectification list, as xlsx and on paper):
//! only the columns they show, each row read as one text (parts separated by US, 0x1f,
//! which stored text never holds), because moving 36 values a row through the driver costs
//! more than the database's own work.

use super::list::{Schools, push_filters};
use super::search::Search;
use super::{HazardFilter, date};
use crate::sql::Sql;
use crate::{Backend, Db, StoreError, StoreResult};
use chrono::NaiveDate;
use xiaoan_domain::hazard::{Category, Grade, Status, is_overdue};
use xiaoan_domain::{Millis, Scope};

/// One hazard as the two lists show it.
#[derive(Debug, Clone, PartialEq)]
pub struct ListEntry {
    pub id: i64,
    pub school_name: String,
    pub number: String,
    pub category: Category,
    pub location: String,
    pub title: String,
    pub description: String,
    pub grade: Grade,
    pub found_on: NaiveDate,
    /// The owner's name; empty when none is assigned.
    pub owner_name: String,
    pub measures: String,
    pub deadline: Option<NaiveDate>,
    pub status: Status,
    pub on_plan: bool,
    pub overdue: bool,
    pub interim_measures: String,
    pub closed_at: Option<Millis>,
    /// The verifier's name; empty when none has verified.
    pub verifier_name: String,
}

/// The columns of a [`ListEntry`] in the order they are joined.
const PARTS: [&str; 16] = [
    "o.name",
    "h.number",
    "h.category",
    "h.location",
    "h.title",
    "h.description",
    "h.grade",
    "h.found_on",
    "COALESCE(uo.display_name, '')",
    "h.measures",
    "COALESCE(h.deadline, '')",
    "h.status",
    "CAST(h.on_plan AS TEXT)",
    "h.interim_measures",
    "COALESCE(CAST(h.closed_at AS TEXT), '')",
    "COALESCE(uv.display_name, '')",
];

fn select(backend: Backend) -> String {
    let sep = match backend {
        Backend::Sqlite => " || char(31) || ",
        Backend::Postgres => " || chr(31) || ",
    };
    format!(
        "SELECT h.id, {} FROM hazards h JOIN orgs o ON o.id = h.school_id \
         LEFT JOIN users uo ON uo.id = h.owner_id LEFT JOIN users uv ON uv.id = h.verifier_id",
        PARTS.join(sep)
    )
}

fn parse(id: i64, text: &str, today: NaiveDate) -> StoreResult<ListEntry> {
    let bad = |what: &str| StoreError::Internal(format!("bad list entry {id}: {what}"));
    let p: Vec<&str> = text.split('\u{1f}').collect();
    let [
        school_name,
        number,
        category,
        location,
        title,
        description,
        grade,
        found_on,
        owner_name,
        measures,
        deadline,
        status,
        on_plan,
        interim_measures,
        closed_at,
        verifier_name,
    ] = p[..]
    else {
        return Err(bad("parts"));
    };
    let status = Status::from_code(status).ok_or_else(|| bad(status))?;
    let deadline = Some(deadline)
        .filter(|d| !d.is_empty())
        .map(date)
        .transpose()?;
    Ok(ListEntry {
        id,
        school_name: school_name.to_string(),
        number: number.to_string(),
        category: Category::from_code(category).ok_or_else(|| bad(category))?,
        location: location.to_string(),
        title: title.to_string(),
        description: description.to_string(),
        grade: Grade::from_code(grade).ok_or_else(|| bad(grade))?,
        found_on: date(found_on)?,
        owner_name: owner_name.to_string(),
        measures: measures.to_string(),
        deadline,
        status,
        on_plan: on_plan != "0",
        overdue: is_overdue(status, deadline, today),
        interim_measures: interim_measures.to_string(),
        closed_at: Some(closed_at)
            .filter(|c| !c.is_empty())
            .map(|c| c.parse().map_err(|_| bad(c)))
            .transpose()?,
        verifier_name: verifier_name.to_string(),
    })
}

/// Up to `limit` hazards in `scope` matching `f` with ids above `after`, oldest first:
/// walk a whole list in batches (exports) by passing the last id back.
#[tracing::instrument(skip_all)]
pub async fn batch_after(
    db: &Db,
    scope: &Scope,
    f: &HazardFilter,
    after: i64,
    limit: i64,
    today: NaiveDate,
) -> StoreResult<Vec<ListEntry>> {
    let search = Search::resolve(db, f.q.as_deref()).await?;
    let mut sql = Sql::from_text(db.backend(), select(db.backend()));
    push_filters(&mut sql, scope, f, today, true, Schools::Joined);
    search.push(&mut sql, false);
    sql.push(" AND h.id > ")
        .bind(after)
        .push(" ORDER BY h.id LIMIT ")
        .bind(limit.clamp(1, 10_000));
    let (text, args) = sql.build();
    let rows: Vec<(i64, String)> = sqlx::query_as_with(text, args).fetch_all(db.pool()).await?;
    rows.iter()
        .map(|(id, text)| parse(*id, text, today))
        .collect()
}
