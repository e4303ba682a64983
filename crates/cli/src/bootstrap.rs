//! Opening the database, migrating, and the first-run administrator.

use crate::config::AppConfig;
use anyhow::Context;
use xiaoan_domain::audit::Actor;
use xiaoan_domain::text::{Code, Login, Name};
use xiaoan_domain::{OrgKind, Role, Scope};
use xiaoan_store::Db;
use xiaoan_store::orgs::{self, NewOrg};
use xiaoan_store::users::{self, NewUser, RoleAt};

/// Opens `url` and applies pending migrations.
pub async fn open(url: &str) -> anyhow::Result<Db> {
    let db = Db::connect(url)
        .await
        .with_context(|| format!("cannot open database {}", redact(url)))?;
    db.migrate().await.context("cannot migrate database")?;
    Ok(db)
}

/// The URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => match url[s + 3..at].split_once(':') {
            Some((user, _)) => format!("{}{}:***{}", &url[..s + 3], user, &url[at..]),
            None => url.to_string(),
        },
        _ => url.to_string(),
    }
}

/// On a database without users: creates the root bureau (if missing) and the `admin`
/// account with a one-time password, which is printed once and must be changed at first
/// sign-in. Returns the password when it created the account.
pub async fn first_run(db: &Db, cfg: &AppConfig) -> anyhow::Result<Option<String>> {
    if users::count(db).await? > 0 {
        return Ok(None);
    }
    let actor = Actor::system("bootstrap");
    let bureau = match orgs::root(db).await? {
        Some(b) => b,
        None => {
            let new = NewOrg {
                kind: OrgKind::Bureau,
                code: Code::parse(&cfg.district.bureau_code).context("district.bureau_code")?,
                name: Name::parse("name", &cfg.district.bureau_name)
                    .context("district.bureau_name")?,
                parent_id: None,
                school: None,
            };
            orgs::create(db, &actor, &Scope::everything(), new).await?
        }
    };
    let new = NewUser {
        login: Login::parse("admin").context("login")?,
        display_name: Name::parse("display_name", "系統管理員").context("name")?,
        org_id: bureau.id,
        password_hash: None,
        must_change_password: true,
        roles: vec![RoleAt {
            role: Role::SystemAdmin,
            org_id: bureau.id,
        }],
    };
    let (_, pw) =
        users::create(db, &actor, &[Role::SystemAdmin], &Scope::everything(), new).await?;
    Ok(pw)
}

/// Prints the first-run administrator's one-time password.
pub fn announce(pw: &str) {
    println!("First start: created the system administrator.");
    println!("  login:              admin");
    println!("  one-time password:  {pw}");
    println!("  (shown only now; you must choose a new password at first sign-in)");
}
