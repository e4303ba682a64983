//! Plans, the calendar, records and compliance measures on both backends: idempotent plan
//! loading and versions, the calendar's rules, records with corrections and withdrawals,
//! incremental measures against a full recompute and against a hand count.

use chrono::NaiveDate;
use serde_json::json;
use xiaoan_domain::audit::Actor;
use xiaoan_domain::calendar::{DayKind, Term};
use xiaoan_domain::compliance::{Period, Status};
use xiaoan_domain::plan::{Plan, parse};
use xiaoan_domain::{OrgKind, Role, SchoolFacts, SchoolType, Scope};
use xiaoan_store::compliance::{self, MatrixQuery};
use xiaoan_store::orgs::Org;
use xiaoan_store::plans::{self, LoadOutcome, StoredPlan};
use xiaoan_store::records::{self, NewRecord, RecordFilter, RecordPatch};
use xiaoan_store::{Db, StoreError, calendar};
use xiaoan_testkit::{both_backends, tree};

pub(crate) const SEED: &str = include_str!("../../../../plans/edu-safety-3yr.toml");

pub(crate) fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

pub(crate) fn seed() -> Plan {
    parse(SEED).expect("the seed plan parses")
}

pub(crate) fn facts(t: SchoolType) -> SchoolFacts {
    SchoolFacts {
        staff: 3,
        canteen: t != SchoolType::Kindergarten,
        ..tree::school_facts(t)
    }
}

pub(crate) async fn org(
    db: &Db,
    kind: OrgKind,
    code: &str,
    parent: Option<i64>,
    t: Option<SchoolType>,
) -> Org {
    let name = format!("機構{code}");
    tree::create_org(db, tree::new_org(kind, code, &name, parent, t.map(facts))).await
}

pub(crate) async fn user(db: &Db, login: &str, org_id: i64) -> Actor {
    tree::actor_of(&tree::role_user(db, login, Role::SafetyOfficer, org_id).await)
}

pub(crate) struct World {
    pub(crate) bureau: Org,
    pub(crate) primary: Org,
    pub(crate) kindergarten: Org,
    pub(crate) author: Actor,
    pub(crate) other: Actor,
    pub(crate) plan: StoredPlan,
}

pub(crate) async fn world(db: &Db) -> World {
    let bureau = org(db, OrgKind::Bureau, "B", None, None).await;
    let centre = org(db, OrgKind::Centre, "C", Some(bureau.id), None).await;
    let primary = org(
        db,
        OrgKind::School,
        "P",
        Some(centre.id),
        Some(SchoolType::Primary),
    )
    .await;
    let kindergarten = org(
        db,
        OrgKind::School,
        "K",
        Some(centre.id),
        Some(SchoolType::Kindergarten),
    )
    .await;
    let author = user(db, "author", primary.id).await;
    let other = user(db, "other", primary.id).await;
    let admin = Actor::system("test");
    for (y, n, s, e) in [
        (2020, 1, "2020-09-01", "2021-01-22"),
        (2020, 2, "2021-03-01", "2021-07-09"),
        (2021, 1, "2021-09-01", "2022-01-21"),
        (2021, 2, "2022-02-21", "2022-07-08"),
    ] {
        let t = Term {
            school_year: y,
            number: n,
            starts_on: d(s),
            ends_on: d(e),
        };
        calendar::set_term(db, &admin, t).await.unwrap();
    }
    calendar::set_day(db, &admin, d("2021-10-01"), DayKind::Holiday, "國慶節")
        .await
        .unwrap();
    let plan = plans::load(db, &admin, &seed(), SEED)
        .await
        .unwrap()
        .plan()
        .clone();
    World {
        bureau,
        primary,
        kindergarten,
        author,
        other,
        plan,
    }
}

pub(crate) fn drill(day: &str, org_id: i64) -> NewRecord {
    NewRecord {
        org_id,
        kind: "drill".into(),
        occurred_on: d(day),
        fields: json!({"drill_type": "evacuation", "participants": 300, "evacuation_seconds": 118})
            .as_object()
            .unwrap()
            .clone(),
        note: String::new(),
        attachment_ids: vec![],
    }
}

pub(crate) fn lesson(day: &str, org_id: i64, hours: f64) -> NewRecord {
    NewRecord {
        org_id,
        kind: "lesson".into(),
        occurred_on: d(day),
        fields: json!({"class_name": "三年級2班", "topic": "防溺水", "hours": hours})
            .as_object()
            .unwrap()
            .clone(),
        note: String::new(),
        attachment_ids: vec![],
    }
}

pub(crate) async fn cell(
    db: &Db,
    w: &World,
    org: &Org,
    ob: &str,
    period: &str,
    today: &str,
) -> (Status, f64, f64) {
    let cal = calendar::load(db).await.unwrap();
    let q = MatrixQuery {
        period: Period::parse(period).unwrap(),
        under: Some(org.path.clone()),
        school_type: None,
        name: None,
        obligations: vec![ob.to_string()],
        offset: 0,
        limit: 10,
    };
    let m = compliance::matrix(db, &Scope::everything(), &w.plan, &cal, d(today), &q)
        .await
        .unwrap();
    let row = m.rows.iter().find(|r| r.org.id == org.id).expect("org row");
    let c = &row.cells[0];
    (c.status, c.measured, c.target)
}

async fn plans_load_once_and_version_changes(db: &Db) {
    let admin = Actor::system("test");
    let plan = seed();
    let first = plans::load(db, &admin, &plan, SEED).await.unwrap();
    assert!(matches!(first, LoadOutcome::Loaded(_)));
    assert_eq!(first.plan().version, 1);
    let again = plans::load(db, &admin, &plan, SEED).await.unwrap();
    assert!(matches!(again, LoadOutcome::Unchanged(_)), "{again:?}");
    assert_eq!(plans::list(db).await.unwrap().len(), 1);
    let moved = plan.rebased(5);
    let second = plans::load(db, &admin, &moved, SEED).await.unwrap();
    assert!(matches!(second, LoadOutcome::Loaded(_)));
    assert_eq!(second.plan().version, 2);
    let active = plans::active(db).await.unwrap().unwrap();
    assert_eq!(
        (active.version, active.plan.starts_on),
        (2, d("2025-06-01"))
    );
    // Loading the first file again brings version 1 back, without a new version.
    let back = plans::load(db, &admin, &plan, SEED).await.unwrap();
    assert!(matches!(back, LoadOutcome::Reactivated(_)));
    assert_eq!(plans::active(db).await.unwrap().unwrap().version, 1);
    assert_eq!(plans::list(db).await.unwrap().len(), 2);
}
both_backends!(
    plans_load_once_and_version_changes_,
    plans_load_once_and_version_changes
);

async fn the_calendar_refuses_overlaps(db: &Db) {
    let admin = Actor::system("test");
    let t = |y, n, s: &str, e: &str| Term {
        school_year: y,
        number: n,
        starts_on: d(s),
        ends_on: d(e),
    };
    calendar::set_term(db, &admin, t(2021, 1, "2021-09-01", "2022-01-21"))
        .await
        .unwrap();
    let e = calendar::set_term(db, &admin, t(2021, 2, "2022-01-10", "2022-07-01"))
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Invalid("term_overlap")), "{e:?}");
    calendar::set_term(db, &admin, t(2021, 2, "2022-02-21", "2022-07-08"))
        .await
        .unwrap();
    // Replacing a term moves it.
    calendar::set_term(db, &admin, t(2021, 1, "2021-08-30", "2022-01-21"))
        .await
        .unwrap();
    let cal = calendar::load(db).await.unwrap();
    assert_eq!(cal.terms().len(), 2);
    assert!(cal.is_school_day(d("2021-08-30")));
    calendar::set_day(db, &admin, d("2021-09-26"), DayKind::SchoolDay, "調休")
        .await
        .unwrap();
    assert!(
        calendar::load(db)
            .await
            .unwrap()
            .is_school_day(d("2021-09-26"))
    );
    calendar::remove_day(db, &admin, d("2021-09-26"))
        .await
        .unwrap();
    assert!(matches!(
        calendar::remove_day(db, &admin, d("2021-09-26")).await,
        Err(StoreError::NotFound)
    ));
    calendar::remove_term(db, &admin, 2021, 2).await.unwrap();
    assert_eq!(calendar::load(db).await.unwrap().terms().len(), 1);
}
both_backends!(
    the_calendar_refuses_overlaps_,
    the_calendar_refuses_overlaps
);

async fn records_keep_measures_current(db: &Db) {
    let w = world(db).await;
    let cal = calendar::load(db).await.unwrap();
    let writable = [w.primary.id, w.kindergarten.id];
    // Kindergarten: drilled in January, not since April.
    records::create(
        db,
        &w.author,
        &writable,
        &w.plan,
        &cal,
        drill("2021-01-14", w.kindergarten.id),
        xiaoan_domain::District::default().today(),
    )
    .await
    .unwrap();
    let k = &w.kindergarten;
    assert_eq!(
        cell(db, &w, k, "drill-kindergarten", "2021-Q1", "2021-08-02")
            .await
            .0,
        Status::Met
    );
    assert_eq!(
        cell(db, &w, k, "drill-kindergarten", "2021-Q2", "2021-08-02").await,
        (Status::Missed, 0.0, 1.0)
    );
    // Primary: lessons add up to twelve hours over the school year.
    let p = &w.primary;
    for (day, h) in [
        ("2021-09-10", 4.0),
        ("2021-10-15", 4.0),
        ("2021-11-19", 1.0),
    ] {
        records::create(
            db,
            &w.author,
            &writable,
            &w.plan,
            &cal,
            lesson(day, p.id, h),
            xiaoan_domain::District::default().today(),
        )
        .await
        .unwrap();
    }
    let c = cell(db, &w, p, "edu-hours", "2022", "2022-03-01").await;
    assert_eq!(c, (Status::Due, 9.0, 12.0));
    let last = records::create(
        db,
        &w.author,
        &writable,
        &w.plan,
        &cal,
        lesson("2022-03-04", p.id, 2.0),
        xiaoan_domain::District::default().today(),
    )
    .await
    .unwrap();
    assert_eq!(
        cell(db, &w, p, "edu-hours", "2022", "2022-03-10").await,
        (Status::Due, 11.0, 12.0)
    );
    // The author corrects the hours; the earlier version is kept with the reason.
    let mut fields = last.fields.as_object().unwrap().clone();
    fields.insert("hours".into(), json!(3.0));
    let patch = RecordPatch {
        fields: Some(fields),
        reason: "課時填錯".into(),
        ..RecordPatch::default()
    };
    let fixed = records::update(
        db,
        &w.author,
        &Scope::everything(),
        &w.plan,
        &cal,
        last.id,
        patch.clone(),
        xiaoan_domain::District::default().today(),
    )
    .await
    .unwrap();
    assert_eq!(
        (fixed.revision, fixed.fields["hours"].as_f64()),
        (2, Some(3.0))
    );
    assert_eq!(
        cell(db, &w, p, "edu-hours", "2022", "2022-03-10").await,
        (Status::Met, 12.0, 12.0)
    );
    let history = records::history(db, &Scope::everything(), last.id)
        .await
        .unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(
        (
            history[0].reason.as_str(),
            history[0].fields["hours"].as_f64()
        ),
        ("課時填錯", Some(2.0))
    );
    // Only the author may change it.
    let e = records::update(
        db,
        &w.other,
        &Scope::everything(),
        &w.plan,
        &cal,
        last.id,
        patch,
        xiaoan_domain::District::default().today(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(e, StoreError::Forbidden("record_not_author")),
        "{e:?}"
    );
    // Withdrawing: kept, marked, no longer counted.
    let withdraw = RecordPatch {
        withdraw: true,
        reason: "重複登記".into(),
        ..RecordPatch::default()
    };
    let gone = records::update(
        db,
        &w.author,
        &Scope::everything(),
        &w.plan,
        &cal,
        last.id,
        withdraw,
        xiaoan_domain::District::default().today(),
    )
    .await
    .unwrap();
    assert!(gone.withdrawn);
    assert_eq!(
        cell(db, &w, p, "edu-hours", "2022", "2022-03-10").await.1,
        9.0
    );
    let visible = records::list(
        db,
        &Scope::everything(),
        &RecordFilter {
            org_id: Some(p.id),
            limit: 50,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(visible.len(), 3);
    let all = RecordFilter {
        org_id: Some(p.id),
        limit: 50,
        include_withdrawn: true,
        ..Default::default()
    };
    assert_eq!(
        records::list(db, &Scope::everything(), &all)
            .await
            .unwrap()
            .len(),
        4
    );
    // Nothing is ever deleted, not even by hand.
    let e = sqlx::query("DELETE FROM records WHERE id = $1")
        .bind(last.id)
        .execute(db.pool())
        .await;
    assert!(e.is_err(), "the trigger refuses deletes");
    // Records outside the writable orgs, of unknown kinds or with bad fields are refused.
    let e = records::create(
        db,
        &w.author,
        &[p.id],
        &w.plan,
        &cal,
        drill("2021-01-14", w.kindergarten.id),
        xiaoan_domain::District::default().today(),
    )
    .await;
    assert!(matches!(e, Err(StoreError::Forbidden("record_org"))));
    let mut bad = drill("2021-01-14", p.id);
    bad.kind = "picnic".into();
    assert!(matches!(
        records::create(
            db,
            &w.author,
            &writable,
            &w.plan,
            &cal,
            bad,
            xiaoan_domain::District::default().today()
        )
        .await,
        Err(StoreError::Invalid("record_kind"))
    ));
    let mut bad = drill("2021-01-14", p.id);
    bad.fields.insert("colour".into(), json!("red"));
    assert!(matches!(
        records::create(
            db,
            &w.author,
            &writable,
            &w.plan,
            &cal,
            bad,
            xiaoan_domain::District::default().today()
        )
        .await,
        Err(StoreError::Invalid("record_fields"))
    ));
    let e = records::create(
        db,
        &w.author,
        &writable,
        &w.plan,
        &cal,
        drill("2099-01-01", p.id),
        xiaoan_domain::District::default().today(),
    )
    .await;
    assert!(matches!(e, Err(StoreError::Invalid("record_date_future"))));
}
both_backends!(
    records_keep_measures_current_,
    records_keep_measures_current
);
