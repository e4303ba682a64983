//! `xiaoan demo`: build a synthetic district in a fresh embedded database (or in an empty
//! PostgreSQL database, with `--database`), print the URL and one login per role, and serve
//! it. Further nodes serve the same PostgreSQL demo with `xiaoan serve --database …`.

pub(crate) mod campaign;
mod district;
pub(crate) mod evidence;
mod hazards;
mod iot;
mod simulate;

use crate::config::AppConfig;
use anyhow::{Context, anyhow};
use std::collections::HashMap;
use std::path::PathBuf;
use xiaoan_domain::audit::Actor;
use xiaoan_domain::text::{Code, Login, Name};
use xiaoan_domain::{Role, Scope};
use xiaoan_store::Db;
use xiaoan_store::orgs::{self, NewOrg};
use xiaoan_store::users::{self, NewUser, RoleAt};

/// Options of `xiaoan demo`.
#[derive(clap::Args)]
pub struct Args {
    /// Address to listen on, HOST:PORT.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: String,
    /// Directory for the demo database (recreated on every run).
    #[arg(long, default_value = "demo-data")]
    data: PathBuf,
    /// Seed of the synthetic district: the same seed gives the same district.
    #[arg(long, default_value_t = 2020)]
    seed: u64,
    /// Number of schools.
    #[arg(long, default_value_t = 120)]
    schools: usize,
    /// The password of every demo account.
    #[arg(long, default_value = "Demo-Xiaoan-2026")]
    password: String,
    /// Build the district and exit without serving.
    #[arg(long)]
    no_serve: bool,
    /// Build the demo in this PostgreSQL database (postgres://…) instead of the embedded
    /// SQLite file; it must be empty unless `--reset` is given. Photos still go under `--data`.
    #[arg(long)]
    database: Option<String>,
    /// With `--database`: drop everything in the database's schema first.
    #[arg(long, requires = "database")]
    reset: bool,
    /// Keep the demo devices reporting while serving (an alarm raised and cleared every few
    /// minutes, an intrusion on a gate camera), one tick every this many seconds; 0: off.
    #[arg(long, default_value_t = 0)]
    simulate: u64,
}

/// Writes the district into `db`; returns one login per role, in role order.
pub async fn populate(
    db: &Db,
    seed: u64,
    schools: usize,
    password: &str,
) -> anyhow::Result<Vec<(Role, String)>> {
    let d = district::generate(seed, schools);
    let actor = Actor::system("demo");
    let all = Scope::everything();
    let mut ids: HashMap<String, i64> = HashMap::new();
    for o in d.orgs {
        let parent_id = match &o.parent {
            Some(p) => Some(*ids.get(p).ok_or_else(|| anyhow!("parent {p} missing"))?),
            None => None,
        };
        let new = NewOrg {
            kind: o.kind,
            code: Code::parse(&o.code).map_err(|e| anyhow!("{e}"))?,
            name: Name::parse("name", &o.name).map_err(|e| anyhow!("{e}"))?,
            parent_id,
            school: o.school,
        };
        let created = orgs::create(db, &actor, &all, new)
            .await
            .with_context(|| format!("creating {}", o.code))?;
        ids.insert(o.code, created.id);
    }
    // One hash for all demo accounts: they share the demo password anyway.
    let hash = users::hash_password(password)?;
    let mut logins: Vec<(Role, String)> = Vec::new();
    for u in d.users {
        let roles = u
            .roles
            .iter()
            .map(|(r, code)| {
                ids.get(code)
                    .map(|id| RoleAt {
                        role: *r,
                        org_id: *id,
                    })
                    .ok_or_else(|| anyhow!("org {code} missing"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        for r in &roles {
            if !logins.iter().any(|(role, _)| *role == r.role) {
                logins.push((r.role, u.login.clone()));
            }
        }
        let new = NewUser {
            login: Login::parse(&u.login).map_err(|e| anyhow!("{e}"))?,
            display_name: Name::parse("display_name", &u.name).map_err(|e| anyhow!("{e}"))?,
            org_id: ids[&u.org],
            password_hash: Some(hash.clone()),
            must_change_password: false,
            roles,
        };
        users::create(db, &actor, &[Role::SystemAdmin], &all, new)
            .await
            .with_context(|| format!("creating user {}", u.login))?;
    }
    logins.sort_by_key(|(r, _)| Role::ALL.iter().position(|x| x == r));
    Ok(logins)
}

/// Runs the subcommand.
pub async fn run(mut cfg: AppConfig, args: Args) -> anyhow::Result<()> {
    if args.password.chars().count() < 8 {
        return Err(anyhow!("the demo password needs at least 8 characters"));
    }
    std::fs::create_dir_all(&args.data)
        .with_context(|| format!("cannot create {}", args.data.display()))?;
    let (db, shown) = match &args.database {
        Some(url) => (
            fresh_postgres(url, args.reset).await?,
            crate::bootstrap::redact(url),
        ),
        None => {
            let file = args.data.join("xiaoan-demo.db");
            for suffix in ["", "-wal", "-shm"] {
                let p = PathBuf::from(format!("{}{suffix}", file.display()));
                if p.exists() {
                    std::fs::remove_file(&p).with_context(|| {
                        format!("cannot remove old demo database {}", p.display())
                    })?;
                }
            }
            let url = format!("sqlite://{}", file.display());
            (
                crate::bootstrap::open(&url).await?,
                file.display().to_string(),
            )
        }
    };
    let logins = populate(&db, args.seed, args.schools, &args.password).await?;
    // Demo photos live beside the demo database, and are recreated with it.
    cfg.web.storage_dir = args.data.join("files");
    let _ = std::fs::remove_dir_all(&cfg.web.storage_dir);
    let today = cfg.district.rules().today();
    hazards::populate(
        &db,
        &cfg.web.storage_dir,
        args.seed,
        today,
        cfg.district.listing_overdue_days,
    )
    .await?;
    let plan = campaign::populate(&db, args.seed, today).await?;
    iot::populate(&db, today).await?;
    let print = |url: &str| {
        println!(
            "xiaoan demo district (seed {}, {} schools) at {url}",
            args.seed, args.schools
        );
        println!(
            "Campaign: {} ({}..{}), today {today} falls in its phase \"{}\"",
            plan.plan.name.zh_tw,
            plan.plan.starts_on,
            plan.plan.ends_on,
            plan.plan
                .phase_on(today)
                .map_or("—", |p| p.title.zh_tw.as_str())
        );
        println!("Every account's password: {}", args.password);
        println!("{:<18} login", "role");
        for (role, login) in &logins {
            println!("{:<18} {login}", role.code());
        }
    };
    if args.no_serve {
        print(&format!("(not serving; database {shown})"));
        db.close().await;
        return Ok(());
    }
    if args.simulate > 0 {
        simulate::spawn(db.clone(), std::time::Duration::from_secs(args.simulate));
    }
    crate::serve::serve_on(db, cfg, &args.addr, print).await
}

/// Opens the PostgreSQL database at `url` for a demo: refused unless it holds no tables
/// (or `reset` wipes its schema first), then migrated.
async fn fresh_postgres(url: &str, reset: bool) -> anyhow::Result<Db> {
    if !url.starts_with("postgres://") && !url.starts_with("postgresql://") {
        return Err(anyhow!(
            "--database takes a PostgreSQL URL (postgres://user@host/db); without it the demo uses SQLite under --data"
        ));
    }
    let shown = crate::bootstrap::redact(url);
    let db = Db::connect(url)
        .await
        .with_context(|| format!("cannot open database {shown}"))?;
    let tables: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema()",
    )
    .fetch_one(db.pool())
    .await?;
    if tables > 0 {
        if !reset {
            db.close().await;
            return Err(anyhow!(
                "database {shown} already holds {tables} tables; the demo needs an empty database (pass --reset to drop everything in it first)"
            ));
        }
        // The schema is recreated empty, owned by this user; migrations rebuild the rest.
        let schema: String = sqlx::query_scalar("SELECT CAST(current_schema() AS TEXT)")
            .fetch_one(db.pool())
            .await?;
        let quoted = format!("\"{}\"", schema.replace('"', "\"\""));
        for sql in [
            format!("DROP SCHEMA {quoted} CASCADE"),
            format!("CREATE SCHEMA {quoted}"),
        ] {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(db.pool())
                .await
                .with_context(|| format!("cannot reset database {shown}"))?;
        }
    }
    db.migrate().await.context("cannot migrate database")?;
    Ok(db)
}
