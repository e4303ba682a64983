//! The demo district: mid-campaign with every compliance status, and the same district on
//! PostgreSQL, refusing a database in use.

use super::*;

#[tokio::test]
async fn the_demo_is_mid_campaign_and_its_matrix_shows_every_status() {
    let dir = tempfile::tempdir().unwrap();
    let o = xiaoan(&[
        "demo",
        "--no-serve",
        "--schools",
        "24",
        "--data",
        dir.path().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{o:?}");
    assert!(stdout(&o).contains("集中攻堅"), "{}", stdout(&o));
    let url = format!("sqlite://{}", dir.path().join("xiaoan-demo.db").display());
    let db = xiaoan_store::Db::connect(&url).await.unwrap();
    let plan = xiaoan_store::plans::active(&db)
        .await
        .unwrap()
        .expect("a plan");
    let cal = xiaoan_store::calendar::load(&db).await.unwrap();
    let today = xiaoan_domain::District::default().today();
    assert!(plan.plan.starts_on < today && today < plan.plan.ends_on);
    // Every demo record names its author's account, so pages show a person, not a login;
    // only those the system computes (video from the camera inventory) are its own.
    let (unnamed,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM records WHERE author_id IS NULL AND author_login NOT LIKE 'system:%'",
    )
    .fetch_one(db.pool())
    .await
    .unwrap();
    assert_eq!(unnamed, 0);
    let q = xiaoan_store::compliance::MatrixQuery {
        period: xiaoan_domain::compliance::Period::month_of(today),
        under: None,
        school_type: None,
        name: None,
        obligations: vec![],
        offset: 0,
        limit: 100,
    };
    let m = xiaoan_store::compliance::matrix(
        &db,
        &xiaoan_domain::Scope::everything(),
        &plan,
        &cal,
        today,
        &q,
    )
    .await
    .unwrap();
    let seen: std::collections::BTreeSet<&str> = m
        .rows
        .iter()
        .flat_map(|r| r.cells.iter().map(|c| c.status.code()))
        .collect();
    for s in ["met", "due", "overdue", "missed", "not_applicable"] {
        assert!(seen.contains(s), "no {s} cell this month: {seen:?}");
    }
}

/// Row counts that describe a demo district.
async fn demo_counts(url: &str) -> Vec<(&'static str, i64)> {
    let db = xiaoan_store::Db::connect(url).await.unwrap();
    let mut out = Vec::new();
    for table in [
        "orgs",
        "users",
        "hazards",
        "hazard_events",
        "records",
        "attachments",
        "plans",
    ] {
        let n: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
                .fetch_one(db.pool())
                .await
                .unwrap();
        out.push((table, n));
    }
    db.close().await;
    out
}

#[tokio::test]
async fn the_demo_builds_the_same_district_on_postgres_and_refuses_a_database_in_use() {
    let url = empty_postgres().await;
    let pg_dir = tempfile::tempdir().unwrap();
    let lite_dir = tempfile::tempdir().unwrap();
    let demo = |dir: &tempfile::TempDir, db: Option<&str>, reset: bool| {
        let mut args = vec![
            "demo",
            "--no-serve",
            "--schools",
            "12",
            "--data",
            dir.path().to_str().unwrap(),
        ];
        if let Some(db) = db {
            args.extend(["--database", db]);
        }
        if reset {
            args.push("--reset");
        }
        xiaoan(&args)
    };
    let on_pg = demo(&pg_dir, Some(&url), false);
    assert!(on_pg.status.success(), "{on_pg:?}");
    assert!(stdout(&on_pg).contains("principal"), "{}", stdout(&on_pg));
    let on_lite = demo(&lite_dir, None, false);
    assert!(on_lite.status.success(), "{on_lite:?}");
    let lite_url = format!(
        "sqlite://{}",
        lite_dir.path().join("xiaoan-demo.db").display()
    );
    let pg_counts = demo_counts(&url).await;
    assert_eq!(pg_counts, demo_counts(&lite_url).await);
    assert!(pg_counts.iter().all(|(_, n)| *n > 0), "{pg_counts:?}");
    // A second run would wipe a database someone may be using: refused, nothing changed.
    let again = demo(&pg_dir, Some(&url), false);
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("--reset"),
        "{again:?}"
    );
    assert_eq!(demo_counts(&url).await, pg_counts);
    // With --reset it is rebuilt from nothing: the same district again.
    let reset = demo(&pg_dir, Some(&url), true);
    assert!(reset.status.success(), "{reset:?}");
    assert_eq!(demo_counts(&url).await, pg_counts);
    let not_pg = demo(&pg_dir, Some(&lite_url), false);
    assert!(!not_pg.status.success());
    assert!(String::from_utf8_lossy(&not_pg.stderr).contains("PostgreSQL"));
}
