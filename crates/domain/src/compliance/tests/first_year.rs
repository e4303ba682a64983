//! The first campaign year (a campaign starting mid-June, mid-week) and records that name
//! the period they count for.

use super::*;

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
