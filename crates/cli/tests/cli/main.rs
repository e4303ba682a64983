//! The `xiaoan` binary as people run it: operator commands (config, migrate, users, audit,
//! plans, jobs, a kill -9 in the middle of writes), the demo district on both backends and
//! its simulator, and two nodes sharing one PostgreSQL database.

// Test code: a failed unwrap is a failed test, and helpers outside #[test] functions are
// not covered by clippy.toml's allow-unwrap-in-tests.
#![allow(clippy::unwrap_used)]

mod demo;
mod nodes;
mod operator;
mod simulator;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_xiaoan");

pub fn xiaoan(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("XIAOAN_CONFIG")
        .output()
        .expect("run xiaoan")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A fresh database with the first-run administrator and an operator account `ops` (a
/// system administrator whose password is known).
pub fn fresh_db(dir: &tempfile::TempDir) -> String {
    let url = format!("sqlite://{}", dir.path().join("x.db").display());
    let first = xiaoan(&["migrate", "--database", &url]);
    assert!(first.status.success(), "{first:?}");
    assert!(
        stdout(&first).contains("one-time password"),
        "first run announces the admin password"
    );
    let second = xiaoan(&["migrate", "--database", &url]);
    assert!(!stdout(&second).contains("one-time password"), "only once");
    let add = xiaoan(&[
        "user",
        "add",
        "ops",
        "--name",
        "運維值班",
        "--org",
        "BUREAU",
        "--role",
        "system_admin",
        "--password",
        "Harbour-Lantern-73!",
        "--database",
        &url,
    ]);
    assert!(add.status.success(), "{add:?}");
    url
}

pub struct Server {
    pub child: Child,
    pub addr: String,
}

pub fn start(url: &str) -> Server {
    start_with(url, &[])
}

/// `xiaoan serve` on a free port of `url`'s database, with `env` settings; waits for the
/// line that names its address.
pub fn start_with(url: &str, env: &[(&str, &str)]) -> Server {
    let mut child = Command::new(BIN)
        .args(["serve", "--addr", "127.0.0.1:0", "--database", url])
        .env_remove("XIAOAN_CONFIG")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start server");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains("http://"), "{line}");
    let addr = line
        .trim()
        .rsplit("http://")
        .next()
        .unwrap()
        .trim_end_matches('/')
        .to_string();
    Server { child, addr }
}

/// One HTTP/1.1 request with `Connection: close`; returns status and body.
pub fn http(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\n{auth}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut raw = String::new();
    s.read_to_string(&mut raw)?;
    let status = raw.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = raw
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

/// A new, empty PostgreSQL database on the test server (`XIAOAN_TEST_PG`); its URL.
pub async fn empty_postgres() -> String {
    let admin_url = std::env::var("XIAOAN_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let admin = xiaoan_store::Db::connect(&admin_url)
        .await
        .expect("PostgreSQL must be reachable for the tests (XIAOAN_TEST_PG)");
    let name = format!("xiaoan_t_{:016x}", rand::random::<u64>());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(admin.pool())
        .await
        .unwrap();
    admin.close().await;
    let base = admin_url.rsplit_once('/').map_or(&*admin_url, |(b, _)| b);
    format!("{base}/{name}")
}
