//! `xiaoan user add|list|passwd|disable`: account administration from the command line,
//! acting as the system (whole-tree scope), with every change in the audit log.

use crate::config::AppConfig;
use anyhow::{Context, anyhow};
use serde::Serialize;
use xiaoan_domain::audit::Actor;
use xiaoan_domain::text::{Login, Name};
use xiaoan_domain::{Role, Scope};
use xiaoan_store::Db;
use xiaoan_store::orgs;
use xiaoan_store::users::{self, NewUser, RoleAt, UserFilter};

/// Options of `xiaoan user`.
#[derive(clap::Args)]
pub struct Args {
    /// Database URL (default from the config).
    #[arg(long, global = true)]
    database: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Create an account; prints a one-time password unless --password is given.
    Add {
        /// Login: 3–32 characters of a-z 0-9 . _ -
        login: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// Code of the user's home org.
        #[arg(long)]
        org: String,
        /// A role, as ROLE (at the home org) or ROLE@ORGCODE; repeatable.
        #[arg(long = "role")]
        roles: Vec<String>,
        /// An initial password (must satisfy the policy); the user keeps it.
        #[arg(long)]
        password: Option<String>,
    },
    /// List accounts with their org and roles.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Set a password (checked against the policy), or a one-time one when none is given.
    Passwd {
        login: String,
        #[arg(long)]
        password: Option<String>,
    },
    /// Disable an account (ends its sessions), or re-enable it with --enable.
    Disable {
        login: String,
        #[arg(long)]
        enable: bool,
    },
}

#[derive(Serialize)]
struct RoleJson {
    role: &'static str,
    org_id: i64,
    org_code: String,
}

#[derive(Serialize)]
struct UserJson {
    login: String,
    display_name: String,
    org_id: i64,
    org_code: String,
    org_name: String,
    disabled: bool,
    must_change_password: bool,
    roles: Vec<RoleJson>,
}

fn parse_role(spec: &str, home: &str) -> anyhow::Result<(Role, String)> {
    let (role, org) = spec.split_once('@').unwrap_or((spec, home));
    let role = Role::from_code(role).ok_or_else(|| {
        let all: Vec<&str> = Role::ALL.iter().map(|r| r.code()).collect();
        anyhow!("unknown role {role:?}; roles are: {}", all.join(", "))
    })?;
    Ok((role, org.to_string()))
}

async fn org_id(db: &Db, code: &str) -> anyhow::Result<i64> {
    orgs::by_code(db, &Scope::everything(), code)
        .await
        .map(|o| o.id)
        .map_err(|_| anyhow!("no org with code {code:?}"))
}

/// Runs the subcommand.
pub async fn run(cfg: AppConfig, args: Args) -> anyhow::Result<()> {
    let db =
        crate::bootstrap::open(&args.database.unwrap_or_else(|| cfg.database.url.clone())).await?;
    let actor = Actor::system("cli");
    let all = Scope::everything();
    match args.command {
        Command::Add {
            login,
            name,
            org,
            roles,
            password,
        } => {
            let login = Login::parse(&login).map_err(|e| anyhow!("login: {e}"))?;
            let name = Name::parse("display_name", &name).map_err(|e| anyhow!("name: {e}"))?;
            let home = org_id(&db, &org).await?;
            let mut assigned = Vec::new();
            for spec in &roles {
                let (role, code) = parse_role(spec, &org)?;
                assigned.push(RoleAt {
                    role,
                    org_id: org_id(&db, &code).await?,
                });
            }
            let password_hash = match &password {
                Some(pw) => {
                    cfg.web
                        .password
                        .check(pw, &[login.as_str(), name.as_str()])
                        .map_err(|e| anyhow!("password refused: {e}"))?;
                    Some(users::hash_password(pw)?)
                }
                None => None,
            };
            let new = NewUser {
                login,
                display_name: name,
                org_id: home,
                password_hash,
                must_change_password: false,
                roles: assigned,
            };
            let (u, pw) = users::create(&db, &actor, &[Role::SystemAdmin], &all, new)
                .await
                .context("cannot create user")?;
            println!("created {}", u.login);
            if let Some(pw) = pw {
                println!("one-time password: {pw}  (must be changed at first sign-in)");
            }
        }
        Command::List { json } => {
            let list = users::list(
                &db,
                &all,
                &UserFilter {
                    include_disabled: true,
                    ..Default::default()
                },
            )
            .await?;
            let org_list = orgs::list(&db, &all, &Default::default()).await?;
            let org = |id: i64| org_list.iter().find(|o| o.id == id);
            let out: Vec<UserJson> = list
                .into_iter()
                .map(|u| UserJson {
                    org_code: org(u.org_id).map(|o| o.code.clone()).unwrap_or_default(),
                    org_name: org(u.org_id).map(|o| o.name.clone()).unwrap_or_default(),
                    roles: u
                        .roles
                        .iter()
                        .map(|r| RoleJson {
                            role: r.role.code(),
                            org_id: r.org_id,
                            org_code: org(r.org_id).map(|o| o.code.clone()).unwrap_or_default(),
                        })
                        .collect(),
                    login: u.login,
                    display_name: u.display_name,
                    org_id: u.org_id,
                    disabled: u.disabled,
                    must_change_password: u.must_change_password,
                })
                .collect();
            if json {
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                for u in out {
                    let roles: Vec<String> = u
                        .roles
                        .iter()
                        .map(|r| format!("{}@{}", r.role, r.org_code))
                        .collect();
                    let state = if u.disabled { " (disabled)" } else { "" };
                    println!(
                        "{:<24} {:<12} {:<10} {}{}",
                        u.login,
                        u.display_name,
                        u.org_code,
                        roles.join(","),
                        state
                    );
                }
            }
        }
        Command::Passwd { login, password } => {
            let u = users::by_login(&db, &all, &login)
                .await
                .map_err(|_| anyhow!("no user {login:?}"))?;
            match password {
                Some(pw) => {
                    cfg.web
                        .password
                        .check(&pw, &[u.login.as_str(), u.display_name.as_str()])
                        .map_err(|e| anyhow!("password refused: {e}"))?;
                    users::set_password(&db, &actor, u.id, users::hash_password(&pw)?, false)
                        .await?;
                    println!("password set for {}; their sessions have ended", u.login);
                }
                None => {
                    let pw = users::generate_password();
                    users::set_password(&db, &actor, u.id, users::hash_password(&pw)?, true)
                        .await?;
                    println!(
                        "one-time password for {}: {pw}  (must be changed at first sign-in)",
                        u.login
                    );
                }
            }
        }
        Command::Disable { login, enable } => {
            let u = users::set_disabled(&db, &actor, &[Role::SystemAdmin], &all, &login, !enable)
                .await
                .map_err(|e| match e {
                    xiaoan_store::StoreError::NotFound => anyhow!("no user {login:?}"),
                    e => anyhow!(e),
                })?;
            println!(
                "{} is now {}",
                u.login,
                if u.disabled {
                    "disabled; their sessions have ended"
                } else {
                    "enabled"
                }
            );
        }
    }
    db.close().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_specs() {
        assert_eq!(
            parse_role("principal", "S001").unwrap(),
            (Role::Principal, "S001".into())
        );
        assert_eq!(
            parse_role("centre_officer@C01", "S001").unwrap(),
            (Role::CentreOfficer, "C01".into())
        );
        assert!(parse_role("king", "S001").is_err());
    }
}
