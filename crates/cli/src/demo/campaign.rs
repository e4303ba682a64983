//! The demo district's campaign: a school calendar around today, the seed's plan moved by
//! whole years so that today falls in its third phase (concentrated attack), evidence from
//! every school (diligent, average and struggling ones, so the matrix shows every status),
//! and the measures computed from it.

use super::evidence::{Setting, Subject, generate};
use chrono::{Datelike, NaiveDate};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use xiaoan_domain::audit::Actor;
use xiaoan_domain::calendar::{DayKind, SchoolCalendar, Term};
use xiaoan_domain::plan::{Plan, parse};
use xiaoan_domain::{OrgKind, Scope, now_millis};
use xiaoan_store::Db;
use xiaoan_store::orgs::{self, OrgFilter};
use xiaoan_store::plans::StoredPlan;
use xiaoan_store::{calendar, compliance, plans, records};

/// The seed's plan as shipped in `plans/`.
pub const SEED_PLAN: &str = include_str!("../../../../plans/edu-safety-3yr.toml");

/// The seed's plan moved so that its concentrated-attack year (its second calendar year)
/// is the year of `today`.
pub fn rebased_seed(today: NaiveDate) -> anyhow::Result<Plan> {
    let plan =
        parse(SEED_PLAN).map_err(|e| anyhow::anyhow!("the shipped plan is invalid: {e:?}"))?;
    Ok(plan.rebased(today.year() - plan.starts_on.year() - 1))
}

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap_or_default()
}

/// The lunar festivals by year (端午節, the 5th of the 5th month; 中秋節, the 15th of the 8th),
/// from the published calendars; years outside the table get none.
/// A year with the month and day of its 端午節 and of its 中秋節.
struct Festivals {
    year: i32,
    dragon_boat: (u32, u32),
    mid_autumn: (u32, u32),
}

const fn festivals(year: i32, dragon_boat: (u32, u32), mid_autumn: (u32, u32)) -> Festivals {
    Festivals {
        year,
        dragon_boat,
        mid_autumn,
    }
}

const LUNAR_FESTIVALS: [Festivals; 7] = [
    festivals(2022, (6, 3), (9, 10)),
    festivals(2023, (6, 22), (9, 29)),
    festivals(2024, (6, 10), (9, 17)),
    festivals(2025, (5, 31), (10, 6)),
    festivals(2026, (6, 19), (9, 25)),
    festivals(2027, (6, 9), (9, 15)),
    festivals(2028, (5, 28), (10, 3)),
];

fn lunar(year: i32, pick: fn(&Festivals) -> (u32, u32)) -> Option<NaiveDate> {
    LUNAR_FESTIVALS
        .iter()
        .find(|f| f.year == year)
        .map(pick)
        .and_then(|(m, day)| NaiveDate::from_ymd_opt(year, m, day))
}

/// Terms for the school years around `today` (autumn: 1 September to mid-January; spring:
/// late February to early July) and the public holidays that fall in them.
pub fn demo_calendar(today: NaiveDate) -> Vec<(Term, Vec<(NaiveDate, &'static str)>)> {
    let mut out = Vec::new();
    for y in today.year() - 3..=today.year() + 1 {
        let autumn = Term {
            school_year: y,
            number: 1,
            starts_on: d(y, 9, 1),
            ends_on: d(y + 1, 1, 16),
        };
        let mut autumn_days: Vec<(NaiveDate, &str)> =
            (1..=7).map(|day| (d(y, 10, day), "國慶節")).collect();
        if let Some(day) =
            lunar(y, |f| f.mid_autumn).filter(|d| !autumn_days.iter().any(|a| a.0 == *d))
        {
            autumn_days.push((day, "中秋節"));
        }
        out.push((autumn, autumn_days));
        let spring = Term {
            school_year: y,
            number: 2,
            starts_on: d(y + 1, 2, 23),
            ends_on: d(y + 1, 7, 10),
        };
        let mut holidays: Vec<(NaiveDate, &str)> = vec![(d(y + 1, 4, 5), "清明節")];
        holidays.extend((1..=5).map(|day| (d(y + 1, 5, day), "勞動節")));
        holidays.extend(lunar(y + 1, |f| f.dragon_boat).map(|day| (day, "端午節")));
        out.push((spring, holidays));
    }
    out
}

/// Writes the calendar, loads the rebased plan, invents the evidence and computes the
/// measures. Returns the active plan.
pub async fn populate(db: &Db, seed: u64, today: NaiveDate) -> anyhow::Result<StoredPlan> {
    let actor = Actor::system("demo");
    for (term, holidays) in demo_calendar(today) {
        calendar::set_term(db, &actor, term).await?;
        for (day, note) in holidays {
            if day.weekday().num_days_from_monday() < 5 {
                calendar::set_day(db, &actor, day, DayKind::Holiday, note).await?;
            }
        }
    }
    let plan = rebased_seed(today)?;
    let stored = plans::load(db, &actor, &plan, SEED_PLAN)
        .await?
        .plan()
        .clone();
    let cal: SchoolCalendar = calendar::load(db).await?;
    let all = orgs::list(db, &Scope::everything(), &OrgFilter::default()).await?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x0c0f_fee0);
    let set = Setting {
        plan: &stored.plan,
        calendar: &cal,
        today,
        created_at: now_millis(),
    };
    let mut batch = Vec::new();
    for o in all
        .iter()
        .filter(|o| matches!(o.kind, OrgKind::School | OrgKind::Bureau))
    {
        // A fifth of the schools are exemplary, a quarter struggle, the rest in between.
        let diligence = match rng.random_range(0..20) {
            0..=3 => 0.99,
            4..=8 => 0.72,
            _ => 0.9,
        };
        let author = if o.kind == OrgKind::Bureau {
            "xiaoanban".to_string()
        } else {
            format!("{}.safety", o.code.to_lowercase())
        };
        // Records name their author's account, so that pages show the person's name.
        let author_id = xiaoan_store::users::by_login(db, &Scope::everything(), &author)
            .await
            .ok()
            .map(|u| u.id);
        let s = Subject {
            id: o.id,
            kind: o.kind,
            facts: o.school.as_ref(),
            author: &author,
            author_id,
            diligence: if o.kind == OrgKind::Bureau {
                0.95
            } else {
                diligence
            },
        };
        generate(&mut batch, &set, &s, &mut rng);
        if batch.len() > 20_000 {
            records::insert_bulk(db, &actor, &batch).await?;
            batch.clear();
        }
    }
    records::insert_bulk(db, &actor, &batch).await?;
    compliance::recompute(db, &actor, &stored, &cal, None).await?;
    Ok(stored)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_calendar_keeps_the_lunar_festivals() {
        let today = d(2026, 12, 1);
        let days: Vec<(NaiveDate, &str)> = demo_calendar(today)
            .into_iter()
            .flat_map(|(_, days)| days)
            .collect();
        assert!(days.contains(&(d(2026, 6, 19), "端午節")), "{days:?}");
        assert!(days.contains(&(d(2026, 9, 25), "中秋節")), "{days:?}");
        // Mid-Autumn inside the National Day week is one holiday, not two entries.
        let oct6 = days
            .iter()
            .filter(|(day, _)| *day == d(2025, 10, 6))
            .count();
        assert_eq!(oct6, 1);
    }
}
