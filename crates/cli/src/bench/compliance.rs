//! The compliance benchmark: a province-shaped instance (districts → centres → schools) with
//! the seed's plan (66 obligations) and one school year of records per school, on the
//! database given (a fresh SQLite file by default). Measures the full recompute, one new
//! record (its transaction with the incremental refresh), the district's and the
//! province's matrix page, and the compliance API for one district.

use super::percentiles;
use crate::config::AppConfig;
use crate::demo::evidence::{Setting, Subject, generate};
use axum::body::Body;
use axum::http::{Request, header};
use chrono::{Datelike, NaiveDate};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;
use std::time::Instant;
use xiaoan_domain::audit::Actor;
use xiaoan_domain::text::{Login, Name};
use xiaoan_domain::{OrgKind, Role, SchoolFacts, SchoolType, Scope};
use xiaoan_store::records::{self, BulkRecord, NewRecord};
use xiaoan_store::users::{self, NewUser, RoleAt};
use xiaoan_store::{Db, calendar, compliance, plans};

/// Options of `xiaoan bench compliance`.
#[derive(clap::Args)]
pub struct Args {
    /// Schools in the province.
    #[arg(long, default_value_t = 2000)]
    schools: usize,
    /// Schools per district (the district page shows one district).
    #[arg(long, default_value_t = 300)]
    per_district: usize,
    /// New records timed one by one.
    #[arg(long, default_value_t = 200)]
    records: usize,
    /// Page and API requests per measurement.
    #[arg(long, default_value_t = 200)]
    requests: usize,
    /// Concurrent clients for the page and API measurements.
    #[arg(long, default_value_t = 4)]
    clients: usize,
    /// Database URL (default: a fresh SQLite file in a temporary directory).
    #[arg(long)]
    database: Option<String>,
}

const PASSWORD: &str = "Bench-Xiaoan-2026!";

/// Inserts one org and returns its id (paths are set by the caller's UPDATE).
async fn insert_org(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    kind: OrgKind,
    code: &str,
    parent: Option<(i64, &str)>,
    facts: Option<&SchoolFacts>,
) -> anyhow::Result<(i64, String)> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO orgs (kind, code, name, parent_id, path, school_type, students, staff, boarding, canteen, buses, \
         labs, special_equipment, created_at, updated_at) VALUES ($1, $2, $2, $3, '/', $4, $5, $6, $7, $8, $9, $10, $11, 0, 0) \
         RETURNING id",
    )
    .bind(kind.code().to_string())
    .bind(code.to_string())
    .bind(parent.map(|p| p.0))
    .bind(facts.map(|f| f.school_type.code().to_string()))
    .bind(facts.map_or(0, |f| f.students))
    .bind(facts.map_or(0, |f| f.staff))
    .bind(facts.is_some_and(|f| f.boarding) as i64)
    .bind(facts.is_some_and(|f| f.canteen) as i64)
    .bind(facts.is_some_and(|f| f.buses) as i64)
    .bind(facts.is_some_and(|f| f.labs) as i64)
    .bind(facts.is_some_and(|f| f.special_equipment) as i64)
    .fetch_one(&mut **tx)
    .await?;
    let path = xiaoan_domain::org::child_path(parent.map(|p| p.1), id);
    sqlx::query("UPDATE orgs SET path = $1 WHERE id = $2")
        .bind(path.clone())
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok((id, path))
}

/// A school's facts, varied deterministically.
fn facts(i: usize, rng: &mut ChaCha8Rng) -> SchoolFacts {
    let t = [
        SchoolType::Primary,
        SchoolType::Primary,
        SchoolType::Middle,
        SchoolType::Kindergarten,
        SchoolType::NineYear,
        SchoolType::Vocational,
    ][i % 6];
    SchoolFacts {
        school_type: t,
        address: String::new(),
        latitude: None,
        longitude: None,
        students: rng.random_range(120..1800),
        staff: rng.random_range(12..120),
        boarding: t != SchoolType::Kindergarten && rng.random_bool(0.3),
        canteen: rng.random_bool(0.75),
        buses: rng.random_bool(0.2),
        labs: matches!(
            t,
            SchoolType::Middle | SchoolType::NineYear | SchoolType::Vocational
        ),
        special_equipment: rng.random_bool(0.15),
    }
}

struct Built {
    province: i64,
    district: i64,
    schools: Vec<(i64, SchoolFacts)>,
}

/// The province: a root bureau, district bureaus, eight centres each, and the schools.
async fn build_orgs(db: &Db, schools: usize, per_district: usize) -> anyhow::Result<Built> {
    let mut rng = ChaCha8Rng::seed_from_u64(40_000);
    let mut tx = db.begin_write().await?;
    let (province, ppath) = insert_org(&mut tx, OrgKind::Bureau, "PROV", None, None).await?;
    let mut out = Built {
        province,
        district: 0,
        schools: Vec::with_capacity(schools),
    };
    let districts = schools.div_ceil(per_district.max(1));
    for d in 0..districts {
        let (did, dpath) = insert_org(
            &mut tx,
            OrgKind::Bureau,
            &format!("D{d:03}"),
            Some((province, &ppath)),
            None,
        )
        .await?;
        if d == 0 {
            out.district = did;
        }
        let mut centres = Vec::new();
        for c in 0..8 {
            centres.push(
                insert_org(
                    &mut tx,
                    OrgKind::Centre,
                    &format!("D{d:03}C{c}"),
                    Some((did, &dpath)),
                    None,
                )
                .await?,
            );
        }
        let n = per_district.min(schools - out.schools.len());
        for s in 0..n {
            let f = facts(out.schools.len(), &mut rng);
            let (cid, cpath) = &centres[s % 8];
            let (sid, _) = insert_org(
                &mut tx,
                OrgKind::School,
                &format!("D{d:03}S{s:04}"),
                Some((*cid, cpath)),
                Some(&f),
            )
            .await?;
            out.schools.push((sid, f));
        }
        if d % 20 == 19 {
            tx.commit().await?;
            tx = db.begin_write().await?;
        }
    }
    tx.commit().await?;
    Ok(out)
}

async fn user(db: &Db, login: &str, org_id: i64, hash: &str) -> anyhow::Result<Actor> {
    let new = NewUser {
        login: Login::parse(login).map_err(|e| anyhow::anyhow!("{e}"))?,
        display_name: Name::parse("display_name", login).map_err(|e| anyhow::anyhow!("{e}"))?,
        org_id,
        password_hash: Some(hash.to_string()),
        must_change_password: false,
        roles: vec![RoleAt {
            role: Role::BureauSafety,
            org_id,
        }],
    };
    let (u, _) = users::create(
        db,
        &Actor::system("bench"),
        &[Role::SystemAdmin],
        &Scope::everything(),
        new,
    )
    .await?;
    Ok(Actor {
        user_id: Some(u.id),
        login: u.login,
        ..Actor::default()
    })
}

/// One school year of records: records are generated for a few template schools per
/// profile and copied to every school of that profile (the volume and the mix are what
/// the benchmark needs, not variety between schools).
async fn fill(
    db: &Db,
    set: &Setting<'_>,
    schools: &[(i64, SchoolFacts)],
    year: (NaiveDate, NaiveDate),
) -> anyhow::Result<u64> {
    let mut templates: HashMap<(SchoolType, [bool; 5], usize), Vec<BulkRecord>> = HashMap::new();
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut batch: Vec<BulkRecord> = Vec::new();
    let mut total = 0;
    let actor = Actor::system("bench");
    for (i, (id, f)) in schools.iter().enumerate() {
        let key = (
            f.school_type,
            [f.boarding, f.canteen, f.buses, f.labs, f.special_equipment],
            i % 3,
        );
        let recs = templates.entry(key).or_insert_with(|| {
            let mut out = Vec::new();
            let s = Subject {
                id: 0,
                kind: OrgKind::School,
                facts: Some(f),
                author: "bench",
                author_id: None,
                diligence: [0.97, 0.9, 0.75][i % 3],
            };
            generate(&mut out, set, &s, &mut rng);
            let (from, to) = (year.0.to_string(), year.1.to_string());
            out.retain(|r| r.occurred_on >= from && r.occurred_on <= to);
            out
        });
        batch.extend(recs.iter().map(|r| BulkRecord {
            org_id: *id,
            ..r.clone()
        }));
        if batch.len() >= 50_000 {
            total += records::insert_bulk(db, &actor, &batch).await?;
            batch.clear();
        }
    }
    total += records::insert_bulk(db, &actor, &batch).await?;
    Ok(total)
}

/// Runs the benchmark and prints the figures.
pub async fn run(cfg: AppConfig, args: Args) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let url = args
        .database
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("bench.db").display()));
    let db = crate::bootstrap::open(&url).await?;
    let started = Instant::now();
    let built = build_orgs(&db, args.schools, args.per_district).await?;
    let orgs_secs = started.elapsed().as_secs_f64();
    let hash = users::hash_password(PASSWORD)?;
    let author = user(&db, "bench-province", built.province, &hash).await?;
    user(&db, "bench-district", built.district, &hash).await?;

    // The seed's plan with today in its second year; a calendar around today.
    let today = cfg.district.rules().today();
    let seed = crate::demo::campaign::rebased_seed(today)?;
    for (term, _) in crate::demo::campaign::demo_calendar(today) {
        calendar::set_term(&db, &Actor::system("bench"), term).await?;
    }
    let plan = plans::load(
        &db,
        &Actor::system("bench"),
        &seed,
        crate::demo::campaign::SEED_PLAN,
    )
    .await?
    .plan()
    .clone();
    let cal = calendar::load(&db).await?;
    let sy = today.year() - if today.month() >= 9 { 1 } else { 2 };
    let year = cal.school_year(sy).unwrap_or((today, today));
    let set = Setting {
        plan: &plan.plan,
        calendar: &cal,
        today,
        created_at: xiaoan_domain::now_millis(),
    };
    let t = Instant::now();
    let rows = fill(&db, &set, &built.schools, year).await?;
    let fill_secs = t.elapsed().as_secs_f64();
    println!(
        "built {} schools in {:.1} s and {} records of school year {}–{} ({} .. {}) in {:.1} s ({:.0} rows/s) on {}",
        built.schools.len(),
        orgs_secs,
        rows,
        sy,
        sy + 1,
        year.0,
        year.1,
        fill_secs,
        rows as f64 / fill_secs.max(1e-9),
        crate::bootstrap::redact(&url)
    );

    // 1. Full recompute.
    let t = Instant::now();
    let stats = compliance::recompute(&db, &Actor::system("bench"), &plan, &cal, None).await?;
    let full_secs = t.elapsed().as_secs_f64();
    println!(
        "slowest obligations in the recompute (ms): {:?}",
        stats.slowest
    );
    // Again over current measures (what an on-demand recompute usually meets).
    let t = Instant::now();
    let again = compliance::recompute(&db, &Actor::system("bench"), &plan, &cal, None).await?;
    let warm_secs = t.elapsed().as_secs_f64();

    // The floors of the recompute in the same run: reading every obligation's records
    // grouped by org and day (the bare query, once per obligation as the recompute does),
    // and writing as many measure rows as it wrote in raw 500-row inserts.
    let t = Instant::now();
    for ob in &plan.plan.obligations {
        let rows: Vec<(i64, String, i64)> = sqlx::query_as(
            "SELECT org_id, occurred_on, COUNT(*) FROM records WHERE kind = $1 AND withdrawn = 0 \
             GROUP BY org_id, occurred_on",
        )
        .bind(ob.record.clone())
        .fetch_all(db.pool())
        .await?;
        std::hint::black_box(rows.len());
    }
    let read_floor = t.elapsed().as_secs_f64();
    let write_floor = raw_insert_floor(&db, stats.measures_written).await?;

    // 2. One new record at a time: its transaction, audit entry and incremental refresh.
    let mut rng = ChaCha8Rng::seed_from_u64(99);
    let ids: Vec<i64> = built.schools.iter().map(|(id, _)| *id).collect();
    let mut one = vec![];
    for _ in 0..args.records {
        let org = ids[rng.random_range(0..ids.len())];
        let fields = serde_json::json!({"drill_type": "fire", "participants": 300, "evacuation_seconds": 110});
        let new = NewRecord {
            org_id: org,
            kind: "drill".into(),
            occurred_on: today,
            fields: fields.as_object().cloned().unwrap_or_default(),
            note: String::new(),
            attachment_ids: vec![],
        };
        let t = Instant::now();
        records::create(
            &db,
            &author,
            &ids,
            &plan,
            &cal,
            new,
            xiaoan_domain::District::default().today(),
        )
        .await?;
        one.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let (one50, one99) = percentiles(&mut one);

    // 3. Pages and API through the whole stack.
    let mut web = cfg.web.clone();
    web.storage_dir = dir.path().join("files");
    web.login_attempts_per_minute = 1000;
    let app = xiaoan_web::router(xiaoan_web::AppState::new(db.clone(), web));
    let district = super::session(&app, PASSWORD, "bench-district").await?;
    let province = super::session(&app, PASSWORD, "bench-province").await?;
    let dtoken = super::token(&app, PASSWORD, "bench-district").await?;
    let month = today.format("%Y-%m").to_string();
    let page = |cookie: String, path: String| {
        move |_| {
            Request::get(path.as_str())
                .header(header::COOKIE, cookie.clone())
                .body(Body::empty())
                .expect("request")
        }
    };
    let warm = 4usize.min(args.requests);
    let dpage = page(district.clone(), format!("/compliance?period={month}"));
    super::load(&app, 1, warm, dpage.clone()).await?;
    let mut d = super::load(&app, args.clients, args.requests, dpage).await?;
    let ppage = page(province.clone(), format!("/compliance?period={month}"));
    super::load(&app, 1, warm, ppage.clone()).await?;
    let mut p = super::load(&app, args.clients, args.requests, ppage).await?;
    let api_path = format!(
        "/api/v1/compliance?org_id={}&period={month}",
        built.district
    );
    let api = move |_| {
        Request::get(api_path.as_str())
            .header(header::AUTHORIZATION, format!("Bearer {dtoken}"))
            .body(Body::empty())
            .expect("request")
    };
    let mut a = super::load(&app, args.clients, args.requests, api).await?;
    let (d50, d99) = percentiles(&mut d);
    let (p50, p99) = percentiles(&mut p);
    let (a50, a99) = percentiles(&mut a);

    println!("\n{:<58} {:>12} {:>10}", "measure", "median", "p99");
    println!(
        "{:<58} {:>10.1} s {:>10}",
        format!(
            "full recompute ({} obligations, {} rows read, {} measures)",
            stats.obligations, stats.rows_read, stats.measures_written
        ),
        full_secs,
        ""
    );
    println!(
        "{:<58} {:>10.1} s {:>10}",
        "floor: bare grouped read of each obligation's records", read_floor, ""
    );
    println!(
        "{:<58} {:>10.1} s {:>10}",
        "floor: the same number of rows in raw 500-row inserts", write_floor, ""
    );
    println!(
        "recompute / (read floor + write floor): {:.2}x",
        full_secs / (read_floor + write_floor).max(1e-9)
    );
    println!(
        "{:<58} {:>10.1} s {:>10}",
        format!(
            "full recompute again ({} measures changed)",
            again.measures_written
        ),
        warm_secs,
        ""
    );
    println!(
        "{:<58} {:>9.2} ms {:>7.2} ms",
        format!("one new record incl. refresh ({} records)", args.records),
        one50,
        one99
    );
    println!(
        "{:<58} {:>9.2} ms {:>7.2} ms",
        format!(
            "district matrix page, {} schools, {} clients",
            args.per_district.min(args.schools),
            args.clients
        ),
        d50,
        d99
    );
    println!(
        "{:<58} {:>9.2} ms {:>7.2} ms",
        format!(
            "province matrix page, {} schools (page of 50), {} clients",
            built.schools.len(),
            args.clients
        ),
        p50,
        p99
    );
    println!(
        "{:<58} {:>9.2} ms {:>7.2} ms",
        format!("compliance API, one district, {} clients", args.clients),
        a50,
        a99
    );
    db.close().await;
    Ok(())
}

/// Seconds to write `n` rows shaped like measures (org, obligation, bucket, two numbers)
/// into a scratch table in 500-row multi-row inserts inside one transaction.
async fn raw_insert_floor(db: &Db, n: u64) -> anyhow::Result<f64> {
    let pool = db.pool();
    sqlx::query("DROP TABLE IF EXISTS bench_floor")
        .execute(pool)
        .await?;
    sqlx::query(
        "CREATE TABLE bench_floor (org_id BIGINT NOT NULL, obligation TEXT NOT NULL, bucket TEXT NOT NULL, \
         measured DOUBLE PRECISION NOT NULL, target DOUBLE PRECISION NOT NULL, \
         PRIMARY KEY (org_id, obligation, bucket))",
    )
    .execute(pool)
    .await?;
    let t = Instant::now();
    let mut tx = pool.begin().await?;
    let mut done = 0u64;
    while done < n {
        let take = (n - done).min(500);
        let values: Vec<String> = (done..done + take)
            .map(|i| format!("({}, 'ob{}', 'b{}', 1, 1)", i / 1000, i % 66, i % 1000))
            .collect();
        let text = format!("INSERT INTO bench_floor VALUES {}", values.join(","));
        sqlx::query(sqlx::AssertSqlSafe(text))
            .execute(&mut *tx)
            .await?;
        done += take;
    }
    tx.commit().await?;
    let secs = t.elapsed().as_secs_f64();
    sqlx::query("DROP TABLE bench_floor").execute(pool).await?;
    Ok(secs)
}
