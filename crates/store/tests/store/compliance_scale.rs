//! Compliance measures at scale: the matrix against a hand count of synthetic records, and
//! incremental updates against a full recompute, with old plan versions left as they were.

use crate::compliance::*;
use chrono::NaiveDate;
use serde_json::{Map, Value, json};
use xiaoan_domain::audit::Actor;
use xiaoan_domain::compliance::{Context, Evidence, Period, Status, evaluate_records};
use xiaoan_domain::{OrgKind, SchoolType, Scope};
use xiaoan_store::compliance::{self, MatrixQuery};
use xiaoan_store::orgs::{self, Org};
use xiaoan_store::plans::{self};
use xiaoan_store::records::{self, BulkRecord, NewRecord};
use xiaoan_store::{Db, calendar};
use xiaoan_testkit::both_backends;

/// Records as (kind, day, fields).
type Synthetic = Vec<(String, NaiveDate, Map<String, Value>)>;

/// Deterministic synthetic records for one school.
fn synthetic(org: &Org, seed: u64) -> Synthetic {
    let mut out = Vec::new();
    let mut x = seed;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut day = d("2020-06-01");
    // Up to the day the matrix is read: records are never dated in the future.
    while day <= d("2022-10-18") {
        let r = next() % 100;
        if r < 70 {
            out.push(("patrol".into(), day, Map::new()));
        }
        if r < 6 {
            let f = json!({"drill_type": if r < 2 { "earthquake" } else { "fire" }, "participants": 100, "evacuation_seconds": 100 + r});
            out.push(("drill".into(), day, f.as_object().unwrap().clone()));
        }
        if (6..10).contains(&r)
            && org
                .school
                .as_ref()
                .is_some_and(|f| f.school_type != SchoolType::Kindergarten)
        {
            let f = json!({"class_name": "一班", "topic": "安全", "hours": 1.5});
            out.push(("lesson".into(), day, f.as_object().unwrap().clone()));
        }
        if (13..60).contains(&r) {
            // Samples too light or kept too briefly do not count (checked in SQL by the recompute).
            let grams = if r % 5 == 0 { 100 } else { 150 };
            let hours = if r % 7 == 0 { 24 } else { 48 };
            let f = json!({"meal": "lunch", "dishes": 3, "min_weight_g": grams, "kept_hours": hours, "sampler": "李"});
            out.push(("food_sample".into(), day, f.as_object().unwrap().clone()));
        }
        if (10..13).contains(&r) {
            let f = json!({"topic": "消防", "training_type": "fire", "attendees": [format!("員工{}", r % 4)]});
            out.push(("training".into(), day, f.as_object().unwrap().clone()));
        }
        day = day.succ_opt().unwrap();
    }
    out
}

async fn the_matrix_matches_a_hand_count(db: &Db) {
    let w = world(db).await;
    let cal = calendar::load(db).await.unwrap();
    let schools = [&w.primary, &w.kindergarten];
    let mut bulk = Vec::new();
    let mut by_school: Vec<Synthetic> = Vec::new();
    for (i, s) in schools.iter().enumerate() {
        let rs = synthetic(s, 0x9E37_79B9_7F4A_7C15 + i as u64);
        for (kind, day, fields) in &rs {
            bulk.push(BulkRecord {
                org_id: s.id,
                kind: kind.clone(),
                occurred_on: day.to_string(),
                fields: Value::Object(fields.clone()).to_string(),
                author_id: None,
                author_login: "import".into(),
                created_at: 0,
            });
        }
        by_school.push(rs);
    }
    assert_eq!(
        records::insert_bulk(db, &Actor::system("test"), &bulk)
            .await
            .unwrap(),
        bulk.len() as u64
    );
    let stats = compliance::recompute(db, &Actor::system("test"), &w.plan, &cal, None)
        .await
        .unwrap();
    assert_eq!(stats.obligations, w.plan.plan.obligations.len());
    assert!(stats.measures_written > 0);
    let today = d("2022-10-18");
    for period in ["2021-03", "2021-Q2", "2021", "2022-10"] {
        let q = MatrixQuery {
            period: Period::parse(period).unwrap(),
            under: None,
            school_type: None,
            name: None,
            obligations: vec![],
            offset: 0,
            limit: 100,
        };
        let m = compliance::matrix(db, &Scope::everything(), &w.plan, &cal, today, &q)
            .await
            .unwrap();
        assert_eq!(m.total, 3, "two schools and the bureau");
        let ctx = Context::new(&w.plan.plan, &cal, today);
        for (s, rs) in schools.iter().zip(&by_school) {
            let row = m.rows.iter().find(|r| r.org.id == s.id).unwrap();
            for (ob, got) in m.obligations.iter().zip(&row.cells) {
                let ev: Vec<Evidence> = rs
                    .iter()
                    .filter(|(k, _, _)| *k == ob.record)
                    .map(|(_, day, f)| Evidence {
                        day: *day,
                        fields: Value::Object(f.clone()),
                    })
                    .collect();
                let want = evaluate_records(
                    &w.plan.plan,
                    ob,
                    &ctx,
                    OrgKind::School,
                    s.school.as_ref(),
                    &q.period,
                    &ev,
                );
                assert_eq!(
                    (got.status, got.measured, got.target),
                    (want.status, want.measured, want.target),
                    "{} {} {period}",
                    s.code,
                    ob.id
                );
            }
        }
        let bureau = m.rows.iter().find(|r| r.org.id == w.bureau.id).unwrap();
        let study = m.obligations.iter().position(|o| o.id == "study").unwrap();
        assert_ne!(bureau.cells[study].status, Status::NotApplicable);
    }
    // Counting over all pages agrees with the page.
    let q = MatrixQuery {
        period: Period::parse("2021").unwrap(),
        under: None,
        school_type: None,
        name: None,
        obligations: vec!["drill-school".into()],
        offset: 0,
        limit: 1,
    };
    let counts = compliance::status_counts(db, &Scope::everything(), &w.plan, &cal, today, &q)
        .await
        .unwrap();
    assert_eq!(
        counts[0].1.iter().sum::<i64>(),
        2,
        "school obligations: the two schools"
    );
    // A recompute after incremental writes changes nothing.
    let before = snapshot(db).await;
    compliance::recompute(db, &Actor::system("test"), &w.plan, &cal, None)
        .await
        .unwrap();
    assert_eq!(before, snapshot(db).await);
    // A recompute over current measures writes nothing.
    let again = compliance::recompute(db, &Actor::system("test"), &w.plan, &cal, None)
        .await
        .unwrap();
    assert_eq!(again.measures_written, 0);
    // A school whose canteen is corrected away (it never had one: a data-entry mistake)
    // loses its canteen measures at the next recompute.
    let samples = |db: &Db, id: i64| {
        let db = db.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM compliance_measures WHERE org_id = $1 AND obligation = 'food-sample'",
            )
            .bind(id)
            .fetch_one(db.pool())
            .await
            .unwrap()
        }
    };
    assert!(samples(db, w.primary.id).await > 0);
    let mut f = w.primary.school.clone().unwrap();
    f.canteen = false;
    let patch = orgs::OrgPatch {
        school: Some(f),
        correction: true,
        ..Default::default()
    };
    orgs::update(
        db,
        &Actor::system("test"),
        &Scope::everything(),
        w.primary.id,
        patch,
    )
    .await
    .unwrap();
    compliance::recompute(db, &Actor::system("test"), &w.plan, &cal, None)
        .await
        .unwrap();
    assert_eq!(samples(db, w.primary.id).await, 0);
}
both_backends!(
    the_matrix_matches_a_hand_count_,
    the_matrix_matches_a_hand_count
);

pub(crate) async fn snapshot(
    db: &Db,
) -> Vec<(i64, String, String, f64, Option<String>, i64, String)> {
    sqlx::query_as(
        "SELECT org_id, obligation, bucket, measured, met_on, mask, dates FROM compliance_measures \
         ORDER BY org_id, obligation, bucket",
    )
    .fetch_all(db.pool())
    .await
    .unwrap()
}

async fn incremental_and_full_agree_and_old_versions_stay(db: &Db) {
    let w = world(db).await;
    let cal = calendar::load(db).await.unwrap();
    let writable = [w.primary.id, w.kindergarten.id];
    for day in [
        "2021-03-02",
        "2021-03-03",
        "2021-09-08",
        "2021-10-08",
        "2022-02-22",
    ] {
        records::create(
            db,
            &w.author,
            &writable,
            &w.plan,
            &cal,
            drill(day, w.primary.id),
            xiaoan_domain::District::default().today(),
        )
        .await
        .unwrap();
        let mut p = NewRecord {
            kind: "patrol".into(),
            fields: Map::new(),
            ..drill(day, w.kindergarten.id)
        };
        p.occurred_on = d(day);
        records::create(
            db,
            &w.author,
            &writable,
            &w.plan,
            &cal,
            p,
            xiaoan_domain::District::default().today(),
        )
        .await
        .unwrap();
    }
    let incremental = snapshot(db).await;
    assert!(!incremental.is_empty());
    compliance::recompute(db, &Actor::system("test"), &w.plan, &cal, None)
        .await
        .unwrap();
    assert_eq!(
        incremental,
        snapshot(db).await,
        "full recompute equals incremental refresh"
    );
    // A new plan version gets its own measures; the old version's stay untouched.
    let mut changed = seed();
    changed.record_edit_hours = 48;
    let v2 = plans::load(db, &Actor::system("test"), &changed, SEED)
        .await
        .unwrap()
        .plan()
        .clone();
    compliance::recompute(db, &Actor::system("test"), &v2, &cal, None)
        .await
        .unwrap();
    let old: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM compliance_measures WHERE plan_id = $1")
            .bind(w.plan.id)
            .fetch_one(db.pool())
            .await
            .unwrap();
    assert_eq!(old as usize, incremental.len());
    let new: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM compliance_measures WHERE plan_id = $1")
            .bind(v2.id)
            .fetch_one(db.pool())
            .await
            .unwrap();
    assert_eq!(new, old);
}
both_backends!(
    incremental_and_full_agree_and_old_versions_stay_,
    incremental_and_full_agree_and_old_versions_stay
);
