//! The hazard benchmark: a district of `--schools` schools with `--hazards` hazards on
//! SQLite (or the database given), then the filtered list API and the bureau's hazard page
//! under `--clients` concurrent clients, the same page of the list straight from the store,
//! and the district-wide xlsx export.

use super::percentiles;
use crate::config::AppConfig;
use axum::body::Body;
use axum::http::{Request, header};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;
use std::time::Instant;
use tower::ServiceExt;
use xiaoan_domain::audit::Actor;
use xiaoan_domain::hazard::{Category, Status};
use xiaoan_domain::text::{Code, Login, Name};
use xiaoan_domain::{OrgKind, Role, SchoolFacts, SchoolType, Scope};
use xiaoan_store::Db;
use xiaoan_store::hazards::HazardFilter;
use xiaoan_store::orgs::{self, NewOrg};
use xiaoan_store::users::{self, NewUser, RoleAt};

/// Options of `xiaoan bench hazards`.
#[derive(clap::Args)]
pub struct Args {
    #[arg(long, default_value_t = 300)]
    schools: usize,
    #[arg(long, default_value_t = 200_000)]
    hazards: usize,
    /// Concurrent clients.
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// Requests per measurement, spread over the clients.
    #[arg(long, default_value_t = 3200)]
    requests: usize,
    /// Database URL (default: a fresh SQLite file in a temporary directory).
    #[arg(long)]
    database: Option<String>,
}

const PASSWORD: &str = "Bench-Xiaoan-2026!";

async fn org(
    db: &Db,
    kind: OrgKind,
    code: &str,
    name: &str,
    parent: Option<i64>,
    school: Option<SchoolFacts>,
) -> anyhow::Result<i64> {
    let new = NewOrg {
        kind,
        code: Code::parse(code).map_err(|e| anyhow::anyhow!("{e}"))?,
        name: Name::parse("name", name).map_err(|e| anyhow::anyhow!("{e}"))?,
        parent_id: parent,
        school,
    };
    Ok(
        orgs::create(db, &Actor::system("bench"), &Scope::everything(), new)
            .await?
            .id,
    )
}

/// Builds the district and returns the school ids.
async fn build(
    db: &Db,
    schools: usize,
    hazards: usize,
    today: chrono::NaiveDate,
) -> anyhow::Result<Vec<i64>> {
    let bureau = org(db, OrgKind::Bureau, "BENCH", "基準測試區教育局", None, None).await?;
    let mut centres = vec![];
    for c in 0..10 {
        centres.push(
            org(
                db,
                OrgKind::Centre,
                &format!("BC{c:02}"),
                &format!("測試鎮{c}教管中心"),
                Some(bureau),
                None,
            )
            .await?,
        );
    }
    let mut ids = vec![];
    for s in 0..schools {
        let facts = SchoolFacts {
            school_type: SchoolType::ALL[s % 5],
            address: String::new(),
            latitude: None,
            longitude: None,
            students: 500,
            staff: 40,
            boarding: false,
            canteen: true,
            buses: false,
            labs: true,
            special_equipment: false,
        };
        ids.push(
            org(
                db,
                OrgKind::School,
                &format!("BS{s:04}"),
                &format!("測試第{s}學校"),
                Some(centres[s % 10]),
                Some(facts),
            )
            .await?,
        );
    }
    let hash = users::hash_password(PASSWORD)?;
    let new = NewUser {
        login: Login::parse("bench-bureau").map_err(|e| anyhow::anyhow!("{e}"))?,
        display_name: Name::parse("display_name", "基準測試")
            .map_err(|e| anyhow::anyhow!("{e}"))?,
        org_id: bureau,
        password_hash: Some(hash),
        must_change_password: false,
        roles: vec![RoleAt {
            role: Role::BureauSafety,
            org_id: bureau,
        }],
    };
    let owner = users::create(
        db,
        &Actor::system("bench"),
        &[Role::SystemAdmin],
        &Scope::everything(),
        new,
    )
    .await?
    .0
    .id;
    // Synthetic hazards go straight into the table in large transactions: this is test data,
    // not a workload to audit.
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let now = xiaoan_domain::now_millis();
    let mut done = 0;
    while done < hazards {
        let mut tx = db.begin_write().await?;
        for _ in 0..5000.min(hazards - done) {
            done += 1;
            let school = ids[rng.random_range(0..ids.len())];
            let status = Status::ALL[rng.random_range(0..Status::ALL.len())];
            let category = Category::ALL[rng.random_range(0..Category::ALL.len())];
            let found = today - chrono::Days::new(rng.random_range(0..700));
            let deadline = (status != Status::Reported)
                .then(|| (found + chrono::Days::new(rng.random_range(5..60))).to_string());
            sqlx::query(
                "INSERT INTO hazards (school_id, number, category, grade, source, location, location_key, title, description, \
                 status, reporter_id, found_by, found_on, owner_id, measures, deadline, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, 'patrol', $5, $5, $6, $7, $8, $9, '巡查員', $10, $11, $12, $13, $14, $14)",
            )
            .bind(school)
            .bind(format!("B-{done:07}"))
            .bind(category.code().to_string())
            .bind(if rng.random_bool(0.05) { "major" } else { "general" }.to_string())
            .bind(format!("教學樓{}樓", rng.random_range(1..6)))
            .bind(format!("隱患{done}"))
            .bind("樓梯扶手鬆動，需要加固並設置警示標誌".to_string())
            .bind(status.code().to_string())
            .bind(owner)
            .bind(found.to_string())
            .bind((status != Status::Reported).then_some(owner))
            .bind("加固".to_string())
            .bind(deadline)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
    }
    Ok(ids)
}

fn random_query(rng: &mut ChaCha8Rng, schools: &[i64]) -> String {
    match rng.random_range(0..7) {
        0 => "limit=50".into(),
        1 => format!(
            "status={}&limit=50",
            Status::ALL[rng.random_range(0..Status::ALL.len())].code()
        ),
        2 => format!(
            "category={}&limit=50",
            Category::ALL[rng.random_range(0..Category::ALL.len())].code()
        ),
        3 => format!(
            "school_id={}&limit=50",
            schools[rng.random_range(0..schools.len())]
        ),
        4 => "overdue=true&limit=50".into(),
        5 => "q=%E6%95%99%E5%AE%A4&limit=50".into(),
        _ => format!(
            "status=rectifying&category={}&limit=50",
            Category::ALL[rng.random_range(0..Category::ALL.len())].code()
        ),
    }
}

/// Runs the benchmark and prints the figures.
pub async fn run(cfg: AppConfig, args: Args) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let url = args
        .database
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("bench.db").display()));
    let db = crate::bootstrap::open(&url).await?;
    let today = cfg.district.rules().today();
    let t = Instant::now();
    let schools = build(&db, args.schools, args.hazards, today).await?;
    println!(
        "built {} schools and {} hazards in {:.1} s ({})",
        args.schools,
        args.hazards,
        t.elapsed().as_secs_f64(),
        crate::bootstrap::redact(&url)
    );

    let mut web = cfg.web.clone();
    web.storage_dir = dir.path().join("files");
    web.login_attempts_per_minute = 1000;
    let app = xiaoan_web::router(xiaoan_web::AppState::new(db.clone(), web));
    let token = super::token(&app, PASSWORD, "bench-bureau").await?;

    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let queries: Arc<Vec<String>> = Arc::new(
        (0..args.requests)
            .map(|_| random_query(&mut rng, &schools))
            .collect(),
    );

    // 1. The list API under concurrent clients.
    let (q, tok) = (queries.clone(), token.clone());
    let make = move |i: usize| {
        Request::get(format!("/api/v1/hazards?{}", q[i]))
            .header(header::AUTHORIZATION, format!("Bearer {tok}"))
            .body(Body::empty())
            .expect("request")
    };
    super::load(&app, args.clients, args.clients * 4, make.clone()).await?; // warm-up
    let t = Instant::now();
    let api = super::load_indexed(&app, args.clients, args.requests, make).await?;
    let api_secs = t.elapsed().as_secs_f64();
    let by_kind = per_kind(&api, &queries);
    let mut api: Vec<f64> = api.into_iter().map(|(_, ms)| ms).collect();
    let (api50, api99) = percentiles(&mut api);

    // 2. The same pages straight from the store (the query and row decoding, no HTTP, no
    //    sign-in), under the same number of concurrent clients.
    let scope = Scope::subtree(
        &orgs::root(&db)
            .await?
            .map(|o| o.path)
            .unwrap_or_else(|| "/".into()),
    );
    let filters: Arc<Vec<HazardFilter>> = Arc::new(
        queries
            .iter()
            .map(|q| {
                let mut f = HazardFilter::default();
                for pair in q.split('&') {
                    match pair.split_once('=') {
                        Some(("status", v)) => f.status = Status::from_code(v),
                        Some(("category", v)) => f.category = Category::from_code(v),
                        Some(("school_id", v)) => f.school_id = v.parse().ok(),
                        Some(("overdue", _)) => f.overdue = Some(true),
                        Some(("q", _)) => f.q = Some("教室".into()),
                        _ => {}
                    }
                }
                f
            })
            .collect(),
    );
    let t = Instant::now();
    let mut tasks = vec![];
    for c in 0..args.clients {
        let (db, scope, filters, total) =
            (db.clone(), scope.clone(), filters.clone(), args.requests);
        let clients = args.clients;
        tasks.push(tokio::spawn(async move {
            let mut out = vec![];
            for i in (c..total).step_by(clients) {
                let t = Instant::now();
                xiaoan_store::hazards::list(&db, &scope, &filters[i], None, 50, today).await?;
                out.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            Ok::<_, anyhow::Error>(out)
        }));
    }
    let mut bare = vec![];
    for task in tasks {
        bare.extend(task.await??);
    }
    let bare_secs = t.elapsed().as_secs_f64();
    let (bare50, bare99) = percentiles(&mut bare);

    // 3. The bureau's hazard page (session sign-in, then the first page with counts).
    let cookie = super::session(&app, PASSWORD, "bench-bureau").await?;
    let page = move |_| {
        Request::get("/hazards")
            .header(header::COOKIE, cookie.clone())
            .body(Body::empty())
            .expect("request")
    };
    let mut overview = super::load(
        &app,
        args.clients,
        (args.requests / 4).max(args.clients),
        page,
    )
    .await?;
    let (page50, page99) = percentiles(&mut overview);

    // 4. The district's problem list as xlsx, twice (the first run also warms the caches).
    let mut export_secs = vec![];
    let mut xlsx_len = 0;
    for _ in 0..2 {
        let t = Instant::now();
        let res = app
            .clone()
            .oneshot(
                Request::get("/api/v1/hazards/export.xlsx?list=problems")
                    .header(header::AUTHORIZATION, format!("Bearer {token}"))
                    .body(Body::empty())?,
            )
            .await?;
        xlsx_len = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await?
            .len();
        export_secs.push(t.elapsed().as_secs_f64());
    }

    // 5. Counts per status for the bureau at one client, against their floor: a plain
    //    `GROUP BY status` over the same table, no scope, no overdue or listed.
    let mut counts = vec![];
    let mut plain = vec![];
    for _ in 0..30 {
        let t = Instant::now();
        xiaoan_store::hazards::counts(&db, &scope, &HazardFilter::default(), today).await?;
        counts.push(t.elapsed().as_secs_f64() * 1000.0);
        let t = Instant::now();
        let _: Vec<(String, i64)> =
            sqlx::query_as("SELECT status, COUNT(*) FROM hazards GROUP BY status")
                .fetch_all(db.pool())
                .await?;
        plain.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let (counts50, counts99) = percentiles(&mut counts);
    let (plain50, plain99) = percentiles(&mut plain);

    // The export's other part alone: reading the same rows in the same batches.
    let t = Instant::now();
    let (mut after, mut read_rows) = (0, 0);
    let list = HazardFilter {
        not_dismissed: true,
        ..HazardFilter::default()
    };
    loop {
        let batch =
            xiaoan_store::hazards::batch_after(&db, &scope, &list, after, 5000, today).await?;
        read_rows += batch.len();
        match batch.last() {
            Some(h) if batch.len() == 5000 => after = h.id,
            _ => break,
        }
    }
    let xlsx_read = t.elapsed().as_secs_f64();
    // 6. The floor of the export: the same number of rows and columns of text written by
    //    rust_xlsxwriter alone from memory, in the same constant-memory mode (no query, no
    //    formats, widths, title or page setup of our own).
    let columns = 13;
    let floor_write = |format: Option<&rust_xlsxwriter::Format>| -> anyhow::Result<usize> {
        let mut wb = rust_xlsxwriter::Workbook::new();
        let ws = wb.add_worksheet_with_constant_memory()?;
        for c in 0..columns {
            ws.write_string(0, c, format!("列{c}"))?;
        }
        for i in 0..read_rows {
            for c in 0..columns {
                let text = format!("教學樓{i}號 第{c}欄 滅火器過期");
                match format {
                    Some(f) => ws.write_string_with_format(i as u32 + 1, c, text, f)?,
                    None => ws.write_string(i as u32 + 1, c, text)?,
                };
            }
        }
        Ok(wb.save_to_buffer()?.len())
    };
    // The same with one bordered, wrapped cell format on every cell (what a printable list
    // needs), for how much of the export is the writer's own cost of formats.
    let t = Instant::now();
    let bordered = rust_xlsxwriter::Format::new()
        .set_border(rust_xlsxwriter::FormatBorder::Thin)
        .set_text_wrap();
    floor_write(Some(&bordered))?;
    let xlsx_formatted = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let floor_len = floor_write(None)?;
    let xlsx_floor = t.elapsed().as_secs_f64();

    println!("\n{:<48} {:>10} {:>10}", "measure", "median ms", "p99 ms");
    let line =
        |what: String, median: f64, p99: f64| println!("{what:<48} {median:>10.2} {p99:>10.2}");
    let rate = |n: usize, secs: f64| n as f64 / secs;
    line(
        format!(
            "list API, {} clients ({:.0} req/s)",
            args.clients,
            rate(api.len(), api_secs)
        ),
        api50,
        api99,
    );
    line(
        format!(
            "same pages from the store, {} clients ({:.0}/s)",
            args.clients,
            rate(bare.len(), bare_secs)
        ),
        bare50,
        bare99,
    );
    line(
        format!("bureau hazard page, {} clients", args.clients),
        page50,
        page99,
    );
    println!(
        "{:<48} {:.2} s, then {:.2} s ({xlsx_len} bytes)",
        format!("district problem list xlsx ({read_rows} rows)"),
        export_secs[0],
        export_secs[1]
    );
    println!(
        "{:<48} {:.2} s ({floor_len} bytes); export / floor {:.2}x",
        format!("floor: xlsx writer alone, {read_rows} rows"),
        xlsx_floor,
        export_secs[1] / xlsx_floor
    );
    println!(
        "{:<48} {:.2} s",
        "  the same with a cell format on every cell", xlsx_formatted
    );
    println!(
        "{:<48} {:.2} s ({read_rows} rows); export / (read + write) {:.2}x",
        "floor: reading the same rows alone, 5000 a batch",
        xlsx_read,
        export_secs[1] / (xlsx_read + xlsx_floor)
    );
    line(
        "counts per status, bureau, 1 client".into(),
        counts50,
        counts99,
    );
    line(
        "floor: plain GROUP BY status, 1 client".into(),
        plain50,
        plain99,
    );
    println!(
        "counts / plain GROUP BY (medians): {:.2}x",
        if plain50 > 0.0 {
            counts50 / plain50
        } else {
            0.0
        }
    );
    println!(
        "bureau page / list API (medians, same clients): {:.2}x",
        if api50 > 0.0 { page50 / api50 } else { 0.0 }
    );
    println!(
        "list API p99 / store p99 under the same load: {:.1}x",
        if bare99 > 0.0 { api99 / bare99 } else { 0.0 }
    );
    println!("\nlist API by filter (median / p99 ms):");
    for (kind, p50, p99, n) in by_kind {
        println!("  {kind:<24} {p50:>8.2} {p99:>8.2}  ({n} requests)");
    }
    super::search::run(&app, &db, &scope, &token, args.clients, today).await?;
    db.close().await;
    Ok(())
}

/// Latency percentiles of the list API per kind of filter.
fn per_kind(samples: &[(usize, f64)], queries: &[String]) -> Vec<(String, f64, f64, usize)> {
    let kind = |q: &str| {
        let keys: Vec<&str> = q
            .split('&')
            .filter_map(|p| p.split_once('=').map(|(k, _)| k))
            .filter(|k| *k != "limit")
            .collect();
        if keys.is_empty() {
            "none".to_string()
        } else {
            keys.join("+")
        }
    };
    let mut kinds: Vec<String> = queries.iter().map(|q| kind(q)).collect();
    kinds.sort();
    kinds.dedup();
    kinds
        .into_iter()
        .map(|k| {
            let mut v: Vec<f64> = samples
                .iter()
                .filter(|(i, _)| kind(&queries[*i]) == k)
                .map(|(_, ms)| *ms)
                .collect();
            let n = v.len();
            let (a, b) = percentiles(&mut v);
            (k, a, b, n)
        })
        .collect()
}
