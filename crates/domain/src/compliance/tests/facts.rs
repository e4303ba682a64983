//! A school's facts over time: applicability, targets and grace periods follow the facts
//! in force on each day.

use super::*;

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
