//! The engine against hand-worked cases: kindergarten quarters, monthly drills month by
//! month, class hours adding up to 12, reports due by the 10th, daily patrols, coverage,
//! standing conditions and term windows.

use super::*;
use crate::calendar::{DayKind, Term};
use crate::plan::{Plan, parse, tests::SMALL};
use crate::{OrgKind, SchoolFacts, SchoolType};
use serde_json::json;

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn plan() -> Plan {
    parse(SMALL).unwrap()
}

fn calendar() -> SchoolCalendar {
    let t = |y: i32, n: u8, s: &str, e: &str| Term {
        school_year: y,
        number: n,
        starts_on: d(s),
        ends_on: d(e),
    };
    SchoolCalendar::new(
        vec![
            t(2020, 1, "2020-09-01", "2021-01-22"),
            t(2020, 2, "2021-03-01", "2021-07-09"),
            t(2021, 1, "2021-09-01", "2022-01-21"),
            t(2021, 2, "2022-02-21", "2022-07-08"),
            t(2022, 1, "2022-09-01", "2023-01-13"),
        ],
        [
            (d("2021-10-01"), DayKind::Holiday),
            (d("2021-09-26"), DayKind::SchoolDay),
        ],
    )
    .unwrap()
}

fn school(t: SchoolType) -> SchoolFacts {
    SchoolFacts {
        school_type: t,
        address: String::new(),
        latitude: None,
        longitude: None,
        students: 400,
        staff: 4,
        boarding: false,
        canteen: true,
        buses: false,
        labs: false,
        special_equipment: false,
    }
}

fn ev(day: &str, fields: serde_json::Value) -> Evidence {
    Evidence {
        day: d(day),
        fields,
    }
}

fn drill(day: &str) -> Evidence {
    ev(
        day,
        json!({"drill_type": "evacuation", "participants": 300, "evacuation_seconds": 110}),
    )
}

/// Evaluates obligation `id` for a school of type `t` on `today` over `period`.
fn cell(id: &str, t: SchoolType, today: &str, period: &str, records: &[Evidence]) -> Cell {
    let (p, cal) = (plan(), calendar());
    let ctx = Context::new(&p, &cal, d(today));
    let ob = p.obligation(id).unwrap();
    let facts = school(t);
    evaluate_records(
        &p,
        ob,
        &ctx,
        OrgKind::School,
        Some(&facts),
        &Period::parse(period).unwrap(),
        records,
    )
}

fn statuses(c: &Cell) -> Vec<(&str, Status)> {
    c.occurrences
        .iter()
        .map(|o| (o.occurrence.key.as_str(), o.status))
        .collect()
}

#[test]
fn a_kindergarten_that_drilled_in_january_but_not_since_april_missed_the_second_quarter() {
    let records = [drill("2021-01-14")];
    let k = SchoolType::Kindergarten;
    let q1 = cell("drill-kindergarten", k, "2021-08-02", "2021-Q1", &records);
    assert_eq!((q1.status, q1.measured, q1.target), (Status::Met, 1.0, 1.0));
    let q2 = cell("drill-kindergarten", k, "2021-08-02", "2021-Q2", &records);
    assert_eq!(
        (q2.status, q2.measured, q2.target),
        (Status::Missed, 0.0, 1.0)
    );
    // Still time in the third quarter; over the year, the missed quarter decides.
    let q3 = cell("drill-kindergarten", k, "2021-08-02", "2021-Q3", &records);
    assert_eq!(q3.status, Status::Due);
    let year = cell("drill-kindergarten", k, "2021-08-02", "2021", &records);
    assert_eq!(
        statuses(&year),
        [
            ("2021-Q1", Status::Met),
            ("2021-Q2", Status::Missed),
            ("2021-Q3", Status::Due),
            ("2021-Q4", Status::Due)
        ]
    );
    assert_eq!(year.status, Status::Missed);
    assert_eq!(
        (year.measured, year.target, year.unit),
        (1.0, 3.0, crate::plan::Unit::Quarters)
    );
    // Monthly school drills do not apply to a kindergarten.
    assert_eq!(
        cell("drill-school", k, "2021-08-02", "2021-Q2", &records).status,
        Status::NotApplicable
    );
}

#[test]
fn a_primary_schools_monthly_drills_show_month_by_month() {
    let p = SchoolType::Primary;
    let records = [
        drill("2021-09-08"),
        drill("2021-10-20"),
        drill("2021-12-01"),
    ];
    let today = "2021-12-15";
    let month = |m: &str| cell("drill-school", p, today, m, &records).status;
    assert_eq!(month("2021-09"), Status::Met);
    assert_eq!(month("2021-10"), Status::Met);
    assert_eq!(month("2021-11"), Status::Missed);
    assert_eq!(month("2021-12"), Status::Met);
    assert_eq!(month("2022-01"), Status::Due);
    let q4 = cell("drill-school", p, today, "2021-Q4", &records);
    assert_eq!(
        statuses(&q4),
        [
            ("2021-10", Status::Met),
            ("2021-11", Status::Missed),
            ("2021-12", Status::Met)
        ]
    );
    assert_eq!((q4.measured, q4.target), (2.0, 3.0));
    // Before the month ends an undone drill is still due, never overdue.
    assert_eq!(
        cell("drill-school", p, "2021-11-30", "2021-11", &records).status,
        Status::Due
    );
    // Drills before the campaign do not exist for it.
    assert_eq!(
        cell("drill-school", p, today, "2020-05", &records).status,
        Status::NotApplicable
    );
}

#[test]
fn class_hours_add_up_across_lessons_to_the_twelve_hour_target() {
    let p = SchoolType::Middle;
    let lesson = |day: &str, h: f64| {
        ev(
            day,
            json!({"class_name": "七年級1班", "topic": "防溺水", "hours": h}),
        )
    };
    let mut records = vec![
        lesson("2021-09-10", 4.0),
        lesson("2021-10-15", 4.0),
        lesson("2021-11-19", 1.0),
    ];
    // Hours before the school year started do not count for it.
    records.push(lesson("2021-06-01", 8.0));
    let c = cell("edu-hours", p, "2021-12-01", "2021", &records);
    let sy = c
        .occurrences
        .iter()
        .find(|o| o.occurrence.key == "SY2021")
        .unwrap();
    assert_eq!(
        (sy.status, sy.measured, sy.target),
        (Status::Due, 9.0, 12.0)
    );
    records.push(lesson("2022-03-04", 3.0));
    let c = cell("edu-hours", p, "2022-03-10", "2022", &records);
    // SY2021 falls due in 2022; SY2022 would fall due after the campaign ends.
    assert_eq!(c.occurrences.len(), 1);
    let sy = c
        .occurrences
        .iter()
        .find(|o| o.occurrence.key == "SY2021")
        .unwrap();
    assert_eq!(
        (sy.status, sy.measured, sy.target),
        (Status::Met, 12.0, 12.0)
    );
    assert_eq!(
        cell(
            "edu-hours",
            SchoolType::Kindergarten,
            "2022-03-10",
            "2022",
            &records
        )
        .status,
        Status::NotApplicable
    );
}

#[test]
fn a_monthly_report_is_due_by_the_tenth_then_overdue_then_missed() {
    let p = SchoolType::Primary;
    let none: [Evidence; 0] = [];
    assert_eq!(
        cell("monthly-report", p, "2021-11-10", "2021-11", &none).status,
        Status::Due
    );
    assert_eq!(
        cell("monthly-report", p, "2021-11-11", "2021-11", &none).status,
        Status::Overdue
    );
    assert_eq!(
        cell("monthly-report", p, "2021-12-01", "2021-11", &none).status,
        Status::Missed
    );
    let late = [ev(
        "2021-11-18",
        json!({"report_month": "2021-11", "hazards_listed": 3, "key_students": 2}),
    )];
    assert_eq!(
        cell("monthly-report", p, "2021-11-20", "2021-11", &late).status,
        Status::Met
    );
    assert_eq!(
        cell("monthly-report", p, "2021-11-12", "2021-11", &late).status,
        Status::Overdue
    );
}

#[test]
fn daily_patrols_count_school_days_only() {
    let p = SchoolType::Primary;
    // September 2021: 22 weekdays, plus the make-up Sunday the 26th; 1–3 patrolled.
    let records = [
        ev("2021-09-01", json!({})),
        ev("2021-09-02", json!({})),
        ev("2021-09-03", json!({})),
        ev("2021-09-04", json!({})),
    ];
    let c = cell("patrol", p, "2021-09-06", "2021-09", &records);
    assert_eq!(c.occurrences.len(), 23);
    assert_eq!(
        (c.measured, c.target, c.unit),
        (3.0, 4.0, crate::plan::Unit::Days)
    );
    assert_eq!(
        statuses(&c)[..4],
        [
            ("2021-09-01", Status::Met),
            ("2021-09-02", Status::Met),
            ("2021-09-03", Status::Met),
            ("2021-09-06", Status::Due)
        ]
    );
    assert_eq!(c.status, Status::Due);
    let c = cell("patrol", p, "2021-09-08", "2021-09", &records);
    assert_eq!(c.status, Status::Missed, "the 6th and 7th went unpatrolled");
    // National Day is a holiday: no occurrence.
    let c = cell("patrol", p, "2021-10-08", "2021-10", &records);
    assert!(
        !c.occurrences
            .iter()
            .any(|o| o.occurrence.key == "2021-10-01")
    );
}

#[test]
fn samples_count_only_when_heavy_enough_and_kept_long_enough() {
    let p = SchoolType::Primary;
    let s = |g: i64, h: i64| {
        ev(
            "2021-09-01",
            json!({"meal": "lunch", "dishes": 4, "min_weight_g": g, "kept_hours": h, "sampler": "李"}),
        )
    };
    let c =
        |r: &[Evidence]| cell("food-sample", p, "2021-09-01", "2021-09", r).occurrences[0].status;
    assert_eq!(c(&[s(125, 48)]), Status::Met);
    assert_eq!(c(&[s(100, 48)]), Status::Due);
    assert_eq!(c(&[s(150, 24)]), Status::Due);
    let mut nc = school(p);
    nc.canteen = false;
    let (pl, cal) = (plan(), calendar());
    let ctx = Context::new(&pl, &cal, d("2021-09-01"));
    let ob = pl.obligation("food-sample").unwrap();
    let cell = evaluate_records(
        &pl,
        ob,
        &ctx,
        OrgKind::School,
        Some(&nc),
        &Period::parse("2021-09").unwrap(),
        &[],
    );
    assert_eq!(cell.status, Status::NotApplicable);
}

#[test]
fn coverage_counts_distinct_people_against_the_head_count() {
    let p = SchoolType::Primary; // 4 staff
    let t = |day: &str, who: &[&str], ty: &str| {
        ev(
            day,
            json!({"topic": "消防", "training_type": ty, "attendees": who}),
        )
    };
    let mut records = vec![
        t("2021-03-02", &["王", "李"], "fire"),
        t("2021-04-02", &["王", "張"], "fire"),
        t("2021-05-02", &["趙"], "food"),
    ];
    let c = cell("fire-training", p, "2021-06-01", "2021", &records);
    assert_eq!(
        (c.status, c.measured, c.target, c.unit),
        (Status::Due, 3.0, 4.0, crate::plan::Unit::People)
    );
    records.push(t("2021-06-01", &["陳"], "fire"));
    let c = cell("fire-training", p, "2021-06-01", "2021", &records);
    assert_eq!((c.status, c.measured), (Status::Met, 4.0));
}

#[test]
fn standing_conditions_need_a_current_attestation() {
    let p = SchoolType::Primary;
    let check = |day: &str| ev(day, json!({"cameras_online": 32}));
    // Thirty days of grace from the campaign's start.
    assert_eq!(
        cell("video", p, "2020-06-20", "2020-06", &[]).status,
        Status::Due
    );
    assert_eq!(
        cell("video", p, "2020-07-20", "2020-07", &[]).status,
        Status::Overdue
    );
    assert_eq!(
        cell("video", p, "2020-09-01", "2020-07", &[]).status,
        Status::Missed
    );
    let r = [check("2020-07-25")];
    assert_eq!(
        cell("video", p, "2020-09-01", "2020-08", &r).status,
        Status::Met
    );
    // Valid for 180 days.
    assert_eq!(
        cell("video", p, "2021-03-01", "2021-03", &r).status,
        Status::Overdue
    );
}

#[test]
fn term_inspections_fall_due_at_the_start_of_term() {
    let p = SchoolType::Primary;
    let wc = |day: &str| ev(day, json!({}));
    assert_eq!(
        cell("term-inspection", p, "2021-08-20", "2021-08", &[]).status,
        Status::Due
    );
    assert_eq!(
        cell("term-inspection", p, "2021-09-02", "2021-09", &[]).status,
        Status::Overdue
    );
    assert_eq!(
        cell("term-inspection", p, "2021-09-20", "2021-09", &[]).status,
        Status::Missed
    );
    assert_eq!(
        cell(
            "term-inspection",
            p,
            "2021-09-02",
            "2021-09",
            &[wc("2021-08-25")]
        )
        .status,
        Status::Met
    );
    // Outside the window (too early) the inspection does not count.
    assert_eq!(
        cell(
            "term-inspection",
            p,
            "2021-09-20",
            "2021-09",
            &[wc("2021-07-01")]
        )
        .status,
        Status::Missed
    );
}

#[test]
fn bureau_obligations_apply_to_the_bureau_only() {
    let (p, cal) = (plan(), calendar());
    let ctx = Context::new(&p, &cal, d("2021-06-01"));
    let ob = p.obligation("study").unwrap();
    let year = Period::parse("2021").unwrap();
    let facts = school(SchoolType::Primary);
    assert_eq!(
        evaluate_records(&p, ob, &ctx, OrgKind::School, Some(&facts), &year, &[]).status,
        Status::NotApplicable
    );
    let r = [ev(
        "2021-03-03",
        json!({"topic": "重要論述", "participants": 20}),
    )];
    let c = evaluate_records(&p, ob, &ctx, OrgKind::Bureau, None, &year, &r);
    assert_eq!(c.status, Status::Met);
    assert_eq!(c.next_due(), None);
}

#[test]
fn stored_measures_give_the_same_answer_as_the_records() {
    let (p, cal) = (plan(), calendar());
    let ctx = Context::new(&p, &cal, d("2021-12-15"));
    let ob = p.obligation("drill-school").unwrap();
    let records = [
        drill("2021-09-08"),
        drill("2021-09-09"),
        drill("2021-12-01"),
    ];
    let t = target(ob, None);
    let mut stored = HashMap::new();
    for r in &records {
        let (key, start, end) = bucket_of(ob, ctx.campaign, &cal, r.day).unwrap();
        let rs: Vec<Evidence> = records
            .iter()
            .filter(|x| x.day >= start && x.day <= end)
            .cloned()
            .collect();
        stored.insert(key, measure(ob, t, &rs));
    }
    let period = Period::parse("2021").unwrap();
    let a = evaluate(ob, &ctx, &period, t, unit(ob, &p), |k| stored.get(k));
    let facts = school(SchoolType::Primary);
    let b = evaluate_records(
        &p,
        ob,
        &ctx,
        OrgKind::School,
        Some(&facts),
        &period,
        &records,
    );
    assert_eq!(statuses(&a), statuses(&b));
    assert_eq!(stored["2021-09"].measured, 2.0);
    assert_eq!(stored["2021-09"].met_on, Some(d("2021-09-08")));
}

mod facts;
mod first_year;
