//! What the engine owes and counts over time, on both backends: the campaign's first year
//! (duties that opened before the campaign and fall due inside it), records that name the
//! period they are for, and school facts that change on a given day (or are corrected from
//! the start) — incremental measures always equal to a full recompute.

use crate::compliance::*;
use serde_json::{Map, Value, json};
use xiaoan_domain::audit::Actor;
use xiaoan_domain::calendar::SchoolCalendar;
use xiaoan_domain::compliance::Status;
use xiaoan_domain::{SchoolType, Scope};
use xiaoan_store::orgs::{self, Org, OrgPatch};
use xiaoan_store::records::{self, NewRecord, RecordPatch};
use xiaoan_store::{Db, StoreError, calendar, compliance};
use xiaoan_testkit::both_backends;

fn record(kind: &str, day: &str, org_id: i64, fields: Value) -> NewRecord {
    NewRecord {
        org_id,
        kind: kind.into(),
        occurred_on: d(day),
        fields: fields.as_object().cloned().unwrap_or_else(Map::new),
        note: String::new(),
        attachment_ids: vec![],
    }
}

async fn enter(db: &Db, w: &World, cal: &SchoolCalendar, r: NewRecord) -> records::Record {
    let writable = [w.primary.id, w.kindergarten.id, w.bureau.id];
    records::create(
        db,
        &w.author,
        &writable,
        &w.plan,
        cal,
        r,
        xiaoan_domain::District::default().today(),
    )
    .await
    .unwrap()
}

/// The measures as they stand, then after a full recompute: they must be equal.
async fn assert_recompute_agrees(db: &Db, w: &World, cal: &SchoolCalendar) {
    let before = crate::compliance_scale::snapshot(db).await;
    compliance::recompute(db, &Actor::system("test"), &w.plan, cal, None)
        .await
        .unwrap();
    assert_eq!(
        before,
        crate::compliance_scale::snapshot(db).await,
        "full recompute equals incremental refresh"
    );
}

async fn the_first_campaign_year_owes_its_yearly_duties(db: &Db) {
    let w = world(db).await;
    let cal = calendar::load(db).await.unwrap();
    let p = &w.primary;
    // Nothing entered: 2020's report due on 15 December is owed, not "not applicable".
    assert_eq!(
        cell(db, &w, p, "annual-report", "2020", "2020-12-20")
            .await
            .0,
        Status::Overdue
    );
    // Warning education in April 2020, before the campaign started on 1 June, counts for
    // 2020: it lies inside the occurrence's own year.
    enter(
        db,
        &w,
        &cal,
        record(
            "warning_education",
            "2020-04-15",
            p.id,
            json!({"topic": "事故案例", "form": "case_study", "participants": 30}),
        ),
    )
    .await;
    assert_eq!(
        cell(db, &w, p, "warning-edu", "2020", "2020-07-01").await,
        (Status::Met, 1.0, 1.0)
    );
    enter(
        db,
        &w,
        &cal,
        record(
            "annual_report",
            "2020-12-10",
            p.id,
            json!({"report_year": 2020, "summary": "年度總結"}),
        ),
    )
    .await;
    assert_eq!(
        cell(db, &w, p, "annual-report", "2020", "2020-12-20")
            .await
            .0,
        Status::Met
    );
    // Quarterly: the kindergarten's second-quarter drill (due 30 June) is owed; a drill
    // in May counts.
    let k = &w.kindergarten;
    assert_eq!(
        cell(db, &w, k, "drill-kindergarten", "2020-Q2", "2020-07-01").await,
        (Status::Missed, 0.0, 1.0)
    );
    enter(db, &w, &cal, drill("2020-05-20", k.id)).await;
    assert_eq!(
        cell(db, &w, k, "drill-kindergarten", "2020-Q2", "2020-07-01").await,
        (Status::Met, 1.0, 1.0)
    );
    assert_recompute_agrees(db, &w, &cal).await;
}
both_backends!(
    the_first_campaign_year_owes_its_yearly_duties_,
    the_first_campaign_year_owes_its_yearly_duties
);

async fn a_record_counts_for_the_period_it_names(db: &Db) {
    let w = world(db).await;
    let cal = calendar::load(db).await.unwrap();
    let p = &w.primary;
    // The 2021 report, entered on 5 January 2022.
    let late = enter(
        db,
        &w,
        &cal,
        record(
            "annual_report",
            "2022-01-05",
            p.id,
            json!({"report_year": 2021, "summary": "年度總結"}),
        ),
    )
    .await;
    assert_eq!(
        cell(db, &w, p, "annual-report", "2021", "2022-01-10")
            .await
            .0,
        Status::Met
    );
    assert_eq!(
        cell(db, &w, p, "annual-report", "2022", "2022-12-20").await,
        (Status::Overdue, 0.0, 1.0),
        "last year's report does not count for the year it was typed in"
    );
    // October's monthly report sent on 3 November counts for October, not November.
    enter(
        db,
        &w,
        &cal,
        record(
            "monthly_report",
            "2021-11-03",
            p.id,
            json!({"report_month": "2021-10", "hazards_listed": 2, "key_students": 1}),
        ),
    )
    .await;
    assert_eq!(
        cell(db, &w, p, "monthly-report", "2021-10", "2021-11-05")
            .await
            .0,
        Status::Met
    );
    assert_eq!(
        cell(db, &w, p, "monthly-report", "2021-11", "2021-11-05").await,
        (Status::Due, 0.0, 1.0)
    );
    assert_recompute_agrees(db, &w, &cal).await;
    // Correcting the year it names moves it (both periods are refreshed).
    let mut fields = late.fields.as_object().unwrap().clone();
    fields.insert("report_year".into(), json!(2022));
    records::update(
        db,
        &w.author,
        &Scope::everything(),
        &w.plan,
        &cal,
        late.id,
        RecordPatch {
            fields: Some(fields),
            reason: "年份填錯".into(),
            ..RecordPatch::default()
        },
        xiaoan_domain::District::default().today(),
    )
    .await
    .unwrap();
    assert_eq!(
        cell(db, &w, p, "annual-report", "2021", "2022-12-20")
            .await
            .0,
        Status::Missed
    );
    assert_eq!(
        cell(db, &w, p, "annual-report", "2022", "2022-12-20")
            .await
            .0,
        Status::Met
    );
    assert_recompute_agrees(db, &w, &cal).await;
}
both_backends!(
    a_record_counts_for_the_period_it_names_,
    a_record_counts_for_the_period_it_names
);

async fn patch_facts(
    db: &Db,
    org: &Org,
    change: impl FnOnce(&mut xiaoan_domain::SchoolFacts),
    effective_from: Option<&str>,
    correction: bool,
) -> Result<Org, StoreError> {
    let current = orgs::get(db, &Scope::everything(), org.id).await?;
    let mut f = current.school.clone().unwrap();
    change(&mut f);
    orgs::update(
        db,
        &Actor::system("test"),
        &Scope::everything(),
        org.id,
        OrgPatch {
            school: Some(f),
            effective_from: effective_from.map(d),
            correction,
            ..Default::default()
        },
    )
    .await
}

async fn a_change_of_facts_applies_from_its_day_and_keeps_closed_periods(db: &Db) {
    let w = world(db).await;
    let cal = calendar::load(db).await.unwrap();
    let k = &w.kindergarten;
    // The kindergarten has no canteen; it opens one on 15 November 2021.
    let meal = |day: &str| {
        record(
            "meal_accompaniment",
            day,
            k.id,
            json!({"meal": "lunch", "companion": "王園長"}),
        )
    };
    assert_eq!(
        cell(db, &w, k, "meal-accompaniment", "2021-10", "2021-11-20")
            .await
            .0,
        Status::NotApplicable
    );
    enter(db, &w, &cal, meal("2021-11-15")).await;
    // A change needs its day (or the explicit correction).
    assert!(matches!(
        patch_facts(db, k, |f| f.canteen = true, None, false).await,
        Err(StoreError::Invalid("school_facts_effective_from"))
    ));
    patch_facts(db, k, |f| f.canteen = true, Some("2021-11-15"), false)
        .await
        .unwrap();
    // October keeps the facts it had: still not applicable, never "missed".
    assert_eq!(
        cell(db, &w, k, "meal-accompaniment", "2021-10", "2021-11-20")
            .await
            .0,
        Status::NotApplicable
    );
    // November owes the school days from the 15th: the 15th met (entered before the
    // change, counted since), the 16th to 19th missed.
    let nov = cell(db, &w, k, "meal-accompaniment", "2021-11", "2021-11-20").await;
    assert_eq!((nov.0, nov.1), (Status::Missed, 1.0));
    assert_recompute_agrees(db, &w, &cal).await;
    // A change may not take effect before the version in force began.
    assert!(matches!(
        patch_facts(db, k, |f| f.boarding = true, Some("2021-11-01"), false).await,
        Err(StoreError::Invalid("school_facts_effective_order"))
    ));

    // A primary school converted to a vocational school on 20 September 2021 keeps last
    // school year's twelve class hours as a duty.
    let p = &w.primary;
    for day in ["2020-10-10", "2021-04-10"] {
        enter(db, &w, &cal, lesson(day, p.id, 6.0)).await;
    }
    patch_facts(
        db,
        p,
        |f| f.school_type = SchoolType::Vocational,
        Some("2021-09-20"),
        false,
    )
    .await
    .unwrap();
    assert_eq!(
        cell(db, &w, p, "edu-hours", "2021-07", "2021-10-01").await,
        (Status::Met, 12.0, 12.0)
    );
    assert_eq!(
        cell(db, &w, p, "edu-hours", "2022-07", "2022-07-20")
            .await
            .0,
        Status::NotApplicable,
        "SY2021 falls due after the conversion"
    );
    assert_ne!(
        cell(db, &w, p, "voc-credits", "2022-07", "2022-07-20")
            .await
            .0,
        Status::NotApplicable
    );
    assert_recompute_agrees(db, &w, &cal).await;
    // The history keeps both versions.
    let h = orgs::facts_history(db, &Scope::everything(), p.id)
        .await
        .unwrap();
    assert_eq!(
        h.iter()
            .map(|e| (e.effective_from, e.school_type, e.in_force))
            .collect::<Vec<_>>(),
        [
            (None, SchoolType::Primary, true),
            (Some(d("2021-09-20")), SchoolType::Vocational, true)
        ]
    );
    // Out of scope, the history is as missing as the school.
    assert!(matches!(
        orgs::facts_history(db, &Scope::default(), p.id).await,
        Err(StoreError::NotFound)
    ));
}
both_backends!(
    a_change_of_facts_applies_from_its_day_and_keeps_closed_periods_,
    a_change_of_facts_applies_from_its_day_and_keeps_closed_periods
);

async fn a_correction_rewrites_from_the_start_and_is_audited(db: &Db) {
    let w = world(db).await;
    let cal = calendar::load(db).await.unwrap();
    let p = &w.primary;
    for day in ["2020-10-10", "2021-04-10"] {
        enter(db, &w, &cal, lesson(day, p.id, 6.0)).await;
    }
    assert_eq!(
        cell(db, &w, p, "edu-hours", "2021-07", "2021-10-01")
            .await
            .0,
        Status::Met
    );
    // The school was entered as a primary school by mistake: it always was vocational.
    patch_facts(
        db,
        p,
        |f| f.school_type = SchoolType::Vocational,
        None,
        true,
    )
    .await
    .unwrap();
    assert_eq!(
        cell(db, &w, p, "edu-hours", "2021-07", "2021-10-01")
            .await
            .0,
        Status::NotApplicable
    );
    let h = orgs::facts_history(db, &Scope::everything(), p.id)
        .await
        .unwrap();
    assert_eq!(
        h.iter()
            .map(|e| (e.effective_from, e.school_type, e.correction, e.in_force))
            .collect::<Vec<_>>(),
        [
            (None, SchoolType::Primary, false, false),
            (None, SchoolType::Vocational, true, true)
        ]
    );
    let detail: String = sqlx::query_scalar(
        "SELECT detail FROM audit_log WHERE action = 'org.update' ORDER BY seq DESC LIMIT 1",
    )
    .fetch_one(db.pool())
    .await
    .unwrap();
    let detail: Value = serde_json::from_str(&detail).unwrap();
    assert_eq!(detail["correction"], json!(true));
    assert_eq!(detail["replaced"]["school_type"], json!("primary"));
    assert_recompute_agrees(db, &w, &cal).await;
    // The history cannot be rewritten by hand.
    assert!(
        sqlx::query("DELETE FROM school_facts")
            .execute(db.pool())
            .await
            .is_err()
    );
}
both_backends!(
    a_correction_rewrites_from_the_start_and_is_audited_,
    a_correction_rewrites_from_the_start_and_is_audited
);
