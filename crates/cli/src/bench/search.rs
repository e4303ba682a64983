//! The text search part of `xiaoan bench hazards`: queries of one to nine characters,
//! found in no row, one row or every row, at one client and under concurrent clients, with
//! the CPU each request costs; the floor is the same page of the list without a query.

use super::percentiles;
use axum::body::Body;
use axum::http::{Request, header};
use chrono::NaiveDate;
use std::time::Instant;
use xiaoan_domain::Scope;
use xiaoan_store::Db;
use xiaoan_store::hazards::{self, HazardFilter};

/// The queries measured, with what they find in the synthetic district.
const QUERIES: [(&str, &str); 5] = [
    ("教室", "2 chars, in no row"),
    ("樓", "1 char, in every row"),
    ("教學樓", "3 chars, in every row"),
    ("扶手鬆動", "4 chars, in every row"),
    ("B-0100000", "a hazard number, one row"),
];

/// Process CPU time so far (user + system), in milliseconds; `None` off Linux.
fn cpu_ms() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // Linux reports in USER_HZ, 100 per second on every architecture it runs on.
    Some(ticks * 10.0)
}

fn filter(q: Option<&str>) -> HazardFilter {
    HazardFilter {
        q: q.map(String::from),
        ..Default::default()
    }
}

/// Runs the search measurements and prints them.
pub async fn run(
    app: &axum::Router,
    db: &Db,
    scope: &Scope,
    token: &str,
    clients: usize,
    today: NaiveDate,
) -> anyhow::Result<()> {
    println!(
        "\n{:<36} {:>9} {:>9} {:>9} {:>8} {:>12} {:>12}",
        "text search (q), 50 per page",
        "list ms",
        "count ms",
        "found",
        "API ms",
        "CPU/req 1c",
        format!("CPU/req {clients}c")
    );
    let one_client = |q: Option<&'static str>| {
        let (db, scope) = (db.clone(), scope.clone());
        async move {
            let mut list = vec![];
            let mut count = vec![];
            let mut found = 0;
            for _ in 0..20 {
                let t = Instant::now();
                hazards::list(&db, &scope, &filter(q), None, 50, today).await?;
                list.push(t.elapsed().as_secs_f64() * 1000.0);
                let t = Instant::now();
                let c = hazards::counts(&db, &scope, &filter(q), today).await?;
                count.push(t.elapsed().as_secs_f64() * 1000.0);
                found = c.by_status.iter().map(|(_, n)| n).sum::<i64>();
            }
            Ok::<_, anyhow::Error>((percentiles(&mut list).0, percentiles(&mut count).0, found))
        }
    };
    let (floor_list, floor_count, all) = one_client(None).await?;
    println!(
        "{:<36} {floor_list:>9.2} {floor_count:>9.2} {all:>9}",
        "floor: no query (same page, same counts)"
    );
    for (q, what) in QUERIES {
        let (list, count, found) = one_client(Some(q)).await?;
        // The list API with this query: CPU per request at one client and under load.
        let encoded: String = q.bytes().map(|b| format!("%{b:02X}")).collect();
        let tok = token.to_string();
        let make = move |_| {
            Request::get(format!("/api/v1/hazards?limit=50&q={encoded}"))
                .header(header::AUTHORIZATION, format!("Bearer {tok}"))
                .body(Body::empty())
                .expect("request")
        };
        let per_request = |n: usize, c: usize| {
            let make = make.clone();
            async move {
                let before = cpu_ms();
                let mut ms = super::load(app, c, n, make).await?;
                let cpu = before.zip(cpu_ms()).map(|(a, b)| (b - a) / n as f64);
                Ok::<_, anyhow::Error>((percentiles(&mut ms).0, cpu))
            }
        };
        let (api1, cpu1) = per_request(40, 1).await?;
        let (_, cpu_n) = per_request(clients * 10, clients).await?;
        let show = |c: Option<f64>| c.map_or("n/a".to_string(), |c| format!("{c:.2}"));
        println!(
            "{:<36} {list:>9.2} {count:>9.2} {found:>9} {api1:>8.2} {:>12} {:>12}",
            format!("{q} ({what})"),
            show(cpu1),
            show(cpu_n)
        );
    }
    Ok(())
}
