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

/// The small plan with its campaign starting on Wednesday 17 June 2020, in the middle of a
/// week, a month, a quarter, a calendar year and a school year; plus a weekly duty and a
/// term duty falling due three months after the spring term's start.
fn mid_june_plan() -> Plan {
    let src = SMALL.replace("starts_on = 2020-06-01", "starts_on = 2020-06-17")
        + r#"
[[obligations]]
id = "weekly-check"
task = "4"
title = "周排查"
cadence = "week"
record = "weekly_check"
source = "seed 三(三)"

[[obligations]]
id = "student-check"
task = "4"
title = "開學後排查"
cadence = "term"
anchor = "after_start"
window_days = 120
record = "patrol"
source = "seed 三(三)"
"#;
    parse(&src).unwrap()
}

/// The test calendar with the 2019 school year in front of it.
fn calendar_from_2019() -> SchoolCalendar {
    let mut terms = calendar().terms().to_vec();
    for (n, s, e) in [
        (1, "2019-09-02", "2020-01-17"),
        (2, "2020-03-02", "2020-07-10"),
    ] {
        terms.push(Term {
            school_year: 2019,
            number: n,
            starts_on: d(s),
            ends_on: d(e),
        });
    }
    SchoolCalendar::new(terms, []).unwrap()
}

fn first_year_cell(
    id: &str,
    kind: OrgKind,
    today: &str,
    period: &str,
    records: &[Evidence],
) -> Cell {
    let (p, cal) = (mid_june_plan(), calendar_from_2019());
    let ctx = Context::new(&p, &cal, d(today));
    let facts = school(SchoolType::Primary);
    let facts = (kind == OrgKind::School).then_some(&facts);
    evaluate_records(
        &p,
        p.obligation(id).unwrap(),
        &ctx,
        kind,
        facts,
        &Period::parse(period).unwrap(),
        records,
    )
}

#[test]
fn the_first_campaign_year_owes_every_duty_that_falls_due_inside_it() {
    let s = OrgKind::School;
    let none: [Evidence; 0] = [];
    // Yearly: the 2020 annual report (due 15 December) is owed although the year opened
    // before the campaign: due, overdue after the 15th, missed after the year.
    let report = |today: &str| first_year_cell("annual-report", s, today, "2020", &none);
    assert_eq!(statuses(&report("2020-12-01")), [("2020", Status::Due)]);
    assert_eq!(report("2020-12-20").status, Status::Overdue);
    assert_eq!(report("2021-01-05").status, Status::Missed);
    let sent = [ev(
        "2020-12-10",
        json!({"report_year": 2020, "summary": "年度總結"}),
    )];
    assert_eq!(
        first_year_cell("annual-report", s, "2020-12-20", "2020", &sent).status,
        Status::Met
    );
    // The bureau's yearly study, met in March, before the campaign began: evidence inside
    // the occurrence's own year counts.
    let study = [ev(
        "2020-03-03",
        json!({"topic": "重要論述", "participants": 20}),
    )];
    let c = first_year_cell("study", OrgKind::Bureau, "2020-07-01", "2020", &study);
    assert_eq!(statuses(&c), [("2020", Status::Met)]);
    // Yearly coverage: staff trained in spring count for the campaign's first year.
    let t = |day: &str, who: &[&str]| {
        ev(
            day,
            json!({"topic": "消防", "training_type": "fire", "attendees": who}),
        )
    };
    let trained = [
        t("2020-04-02", &["王", "李", "張"]),
        t("2020-09-02", &["趙"]),
    ];
    let c = first_year_cell("fire-training", s, "2020-10-01", "2020", &trained);
    assert_eq!((c.status, c.measured, c.target), (Status::Met, 4.0, 4.0));
    // Monthly: June 2020 is owed; a drill on 5 June counts for it.
    let c = first_year_cell(
        "drill-school",
        s,
        "2020-07-01",
        "2020-06",
        &[drill("2020-06-05")],
    );
    assert_eq!(statuses(&c), [("2020-06", Status::Met)]);
    assert_eq!(
        first_year_cell("drill-school", s, "2020-07-01", "2020-06", &none).status,
        Status::Missed
    );
    // Months that fell due before the campaign are not owed.
    assert_eq!(
        first_year_cell("drill-school", s, "2020-07-01", "2020-05", &none).status,
        Status::NotApplicable
    );
    // Quarterly: the second quarter of 2020 (due 30 June) is owed by kindergartens.
    let kg = {
        let (p, cal) = (mid_june_plan(), calendar_from_2019());
        let ctx = Context::new(&p, &cal, d("2020-07-01"));
        let facts = school(SchoolType::Kindergarten);
        evaluate_records(
            &p,
            p.obligation("drill-kindergarten").unwrap(),
            &ctx,
            OrgKind::School,
            Some(&facts),
            &Period::parse("2020-Q2").unwrap(),
            &[drill("2020-04-20")],
        )
    };
    assert_eq!(statuses(&kg), [("2020-Q2", Status::Met)]);
    // Weekly: the week of Monday 15 June falls due on the 21st.
    let c = first_year_cell("weekly-check", s, "2020-06-22", "2020-06", &none);
    assert_eq!(
        statuses(&c),
        [
            ("2020-W25", Status::Missed),
            ("2020-W26", Status::Due),
            ("2020-W27", Status::Due)
        ]
    );
    // School year: SY2019 ends on 10 July 2020, inside the campaign; its lessons from
    // autumn 2019 count.
    let lesson = |day: &str, h: f64| {
        ev(
            day,
            json!({"class_name": "三年級2班", "topic": "防溺水", "hours": h}),
        )
    };
    let lessons = [lesson("2019-10-08", 8.0), lesson("2020-06-20", 4.0)];
    let c = first_year_cell("edu-hours", s, "2020-07-01", "2020-06", &lessons);
    assert_eq!(
        c.occurrences
            .iter()
            .map(|o| (o.occurrence.key.as_str(), o.status, o.measured))
            .collect::<Vec<_>>(),
        [("SY2019", Status::Met, 12.0)]
    );
    // Term: the spring 2020 term's check falls due 120 days after 2 March, inside the
    // campaign.
    let c = first_year_cell("student-check", s, "2020-06-20", "2020-06", &none);
    assert_eq!(statuses(&c), [("T2019-2", Status::Due)]);
    // School days: only the campaign's own days are owed (from the 17th).
    let c = first_year_cell("patrol", s, "2020-06-17", "2020-06", &none);
    assert_eq!(c.occurrences[0].occurrence.key, "2020-06-17");
    assert_eq!(c.occurrences.len(), 10);
    // Standing: the grace still runs from the campaign's start.
    assert_eq!(
        first_year_cell("video", s, "2020-07-10", "2020-07", &none).status,
        Status::Due
    );
}

#[test]
fn the_stored_buckets_reach_back_to_the_first_occurrences_start() {
    let (p, cal) = (mid_june_plan(), calendar_from_2019());
    let campaign = (p.starts_on, p.ends_on);
    let w = |id: &str| evidence_window(p.obligation(id).unwrap(), campaign, &cal);
    assert_eq!(w("annual-report").0, d("2020-01-01"));
    assert_eq!(w("edu-hours").0, d("2019-09-02"));
    assert_eq!(w("drill-school").0, d("2020-06-01"));
    assert_eq!(w("drill-kindergarten").0, d("2020-04-01"));
    assert_eq!(w("patrol").0, d("2020-06-17"));
    let ob = p.obligation("annual-report").unwrap();
    assert_eq!(
        bucket_of(ob, campaign, &cal, d("2020-03-01")).map(|b| b.0),
        Some("2020".to_string())
    );
    assert_eq!(bucket_of(ob, campaign, &cal, d("2019-12-01")), None);
}

#[test]
fn a_record_naming_its_period_counts_for_that_period_and_late() {
    let p = SchoolType::Primary;
    // The 2021 annual report entered on 5 January 2022: 2021 is met (late); 2022 is not.
    let report = [ev(
        "2022-01-05",
        json!({"report_year": 2021, "summary": "年度總結"}),
    )];
    let y2021 = cell("annual-report", p, "2022-01-10", "2021", &report);
    assert_eq!(statuses(&y2021), [("2021", Status::Met)]);
    assert!(y2021.occurrences[0].late);
    let y2022 = cell("annual-report", p, "2022-12-20", "2022", &report);
    assert_eq!(
        (y2022.status, y2022.measured),
        (Status::Overdue, 0.0),
        "the report typed in 2022 is last year's"
    );
    // On time: not late.
    let on_time = [ev(
        "2021-12-01",
        json!({"report_year": 2021, "summary": "年度總結"}),
    )];
    let c = cell("annual-report", p, "2022-01-10", "2021", &on_time);
    assert_eq!((c.status, c.occurrences[0].late), (Status::Met, false));
    // A monthly report for October entered on 2 November counts for October (late), and
    // November is still due.
    let october = [ev(
        "2021-11-02",
        json!({"report_month": "2021-10", "hazards_listed": 3, "key_students": 2}),
    )];
    let c = cell("monthly-report", p, "2021-11-05", "2021-10", &october);
    assert_eq!((c.status, c.occurrences[0].late), (Status::Met, true));
    assert_eq!(
        cell("monthly-report", p, "2021-11-05", "2021-11", &october).status,
        Status::Due
    );
    // A report for a year before the campaign counts for nothing, not for the year it
    // was entered in.
    let old = [ev(
        "2020-06-05",
        json!({"report_year": 2019, "summary": "舊報告"}),
    )];
    let c = cell("annual-report", p, "2020-12-20", "2020", &old);
    assert_eq!((c.status, c.measured), (Status::Overdue, 0.0));
}

fn history(versions: &[(Option<&str>, SchoolFacts)]) -> crate::FactsHistory {
    crate::FactsHistory::new(
        versions
            .iter()
            .map(|(from, facts)| crate::FactsVersion {
                from: from.map(d),
                facts: facts.clone(),
            })
            .collect(),
    )
    .unwrap()
}

fn cell_with(
    plan: &Plan,
    id: &str,
    h: &crate::FactsHistory,
    today: &str,
    period: &str,
    records: &[Evidence],
) -> Cell {
    let cal = calendar();
    let ctx = Context::new(plan, &cal, d(today));
    evaluate_records_for(
        plan,
        plan.obligation(id).unwrap(),
        &ctx,
        Subject::new(OrgKind::School, Some(h)),
        &Period::parse(period).unwrap(),
        records,
    )
}

#[test]
fn a_school_facts_history_answers_by_day() {
    let mut with = school(SchoolType::Primary);
    let mut without = with.clone();
    without.canteen = false;
    with.staff = 9;
    let h = history(&[(None, without.clone()), (Some("2021-11-15"), with.clone())]);
    assert!(!h.on(d("2021-11-14")).canteen);
    assert!(h.on(d("2021-11-15")).canteen);
    assert_eq!(h.current().staff, 9);
    assert_eq!(
        h.holds_since(d("2022-01-01"), |f| f.canteen),
        Some(d("2021-11-15"))
    );
    assert_eq!(h.holds_since(d("2021-01-01"), |f| f.canteen), None);
    assert_eq!(
        h.holds_since(d("2021-01-01"), |f| !f.canteen),
        Some(NaiveDate::MIN)
    );
    // Only type, head counts and the listed facts count as a change for duties.
    let mut moved = with.clone();
    moved.address = "新址".into();
    assert!(!moved.differs_for_duties(&with));
    assert!(without.differs_for_duties(&with));
}

#[test]
fn a_canteen_opened_mid_november_leaves_october_not_applicable() {
    let p = plan();
    let mut before = school(SchoolType::Primary);
    before.canteen = false;
    let after = school(SchoolType::Primary);
    let h = history(&[(None, before), (Some("2021-11-15"), after)]);
    let sample = |day: &str| {
        ev(
            day,
            json!({"meal": "lunch", "dishes": 4, "min_weight_g": 150, "kept_hours": 48, "sampler": "李"}),
        )
    };
    // October keeps the facts it had: no canteen, nothing owed, nothing missed.
    let october = cell_with(&p, "food-sample", &h, "2021-11-20", "2021-10", &[]);
    assert_eq!(october.status, Status::NotApplicable);
    // November owes the school days from the 15th on.
    let records = [sample("2021-11-15"), sample("2021-11-16")];
    let november = cell_with(&p, "food-sample", &h, "2021-11-17", "2021-11", &records);
    assert_eq!(november.occurrences[0].occurrence.key, "2021-11-15");
    assert_eq!(
        statuses(&november)[..3],
        [
            ("2021-11-15", Status::Met),
            ("2021-11-16", Status::Met),
            ("2021-11-17", Status::Due)
        ]
    );
    assert_eq!(november.occurrences.len(), 12);
}

#[test]
fn converting_a_middle_school_keeps_last_school_years_class_hours() {
    let p = plan();
    let middle = school(SchoolType::Middle);
    let vocational = school(SchoolType::Vocational);
    let h = history(&[(None, middle), (Some("2021-09-20"), vocational)]);
    let lesson = |day: &str, h: f64| {
        ev(
            day,
            json!({"class_name": "七年級1班", "topic": "防溺水", "hours": h}),
        )
    };
    let lessons = [lesson("2020-10-10", 8.0), lesson("2021-04-10", 4.0)];
    // SY2020 fell due in July 2021, a middle school's duty: met with twelve hours.
    let c = cell_with(&p, "edu-hours", &h, "2021-10-01", "2021", &lessons);
    assert_eq!(
        c.occurrences
            .iter()
            .map(|o| (o.occurrence.key.as_str(), o.status, o.measured))
            .collect::<Vec<_>>(),
        [("SY2020", Status::Met, 12.0)],
        "SY2021 falls due after the conversion and is no duty of a vocational school"
    );
    // A correction from the start (a single vocational version) removes it altogether.
    let corrected = history(&[(None, school(SchoolType::Vocational))]);
    assert_eq!(
        cell_with(&p, "edu-hours", &corrected, "2021-10-01", "2021", &lessons).status,
        Status::NotApplicable
    );
}

#[test]
fn coverage_targets_follow_the_head_count_of_the_due_day() {
    let p = plan();
    let four = school(SchoolType::Primary);
    let mut six = four.clone();
    six.staff = 6;
    let h = history(&[(None, four), (Some("2022-01-01"), six)]);
    let t = |day: &str, who: &[&str]| {
        ev(
            day,
            json!({"topic": "消防", "training_type": "fire", "attendees": who}),
        )
    };
    let records = [
        t("2021-03-02", &["王", "李", "張", "趙"]),
        t("2022-03-02", &["王", "李", "張", "趙"]),
    ];
    let y2021 = cell_with(&p, "fire-training", &h, "2022-03-10", "2021", &records);
    assert_eq!((y2021.status, y2021.target), (Status::Met, 4.0));
    let y2022 = cell_with(&p, "fire-training", &h, "2022-03-10", "2022", &records);
    assert_eq!(
        (y2022.status, y2022.measured, y2022.target),
        (Status::Due, 4.0, 6.0)
    );
}

#[test]
fn a_standing_duty_gives_its_grace_from_the_day_it_began_to_apply() {
    let p = parse(&SMALL.replace(
        "cadence = \"standing\"\nvalid_days = 180",
        "facts = [\"canteen\"]\ncadence = \"standing\"\nvalid_days = 180",
    ))
    .unwrap();
    let mut before = school(SchoolType::Primary);
    before.canteen = false;
    let h = history(&[
        (None, before),
        (Some("2021-03-01"), school(SchoolType::Primary)),
    ]);
    assert_eq!(
        cell_with(&p, "video", &h, "2021-02-20", "2021-02", &[]).status,
        Status::NotApplicable
    );
    assert_eq!(
        cell_with(&p, "video", &h, "2021-03-20", "2021-03", &[]).status,
        Status::Due,
        "thirty days of grace from 1 March"
    );
    assert_eq!(
        cell_with(&p, "video", &h, "2021-04-05", "2021-04", &[]).status,
        Status::Overdue
    );
}
