//! Fresh databases for store tests: a temporary SQLite file, or a new PostgreSQL database
//! on the server named by `XIAOAN_TEST_PG` (default: the local server, user `postgres`).

use rand::Rng;
use xiaoan_store::Db;

/// A database that lives as long as the value.
pub struct TestDb {
    pub db: Db,
    _dir: Option<tempfile::TempDir>,
}

/// The server used for PostgreSQL tests.
pub fn pg_admin_url() -> String {
    std::env::var("XIAOAN_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

/// A fresh, migrated SQLite database in a temporary directory.
pub async fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("test.db").display());
    let db = Db::connect(&url).await.expect("open sqlite");
    db.migrate().await.expect("migrate sqlite");
    TestDb {
        db,
        _dir: Some(dir),
    }
}

/// A fresh, migrated PostgreSQL database with a random name.
pub async fn postgres() -> TestDb {
    let admin_url = pg_admin_url();
    let admin = Db::connect(&admin_url)
        .await
        .expect("PostgreSQL must be reachable for the store tests (XIAOAN_TEST_PG)");
    let name = format!("xiaoan_t_{:016x}", rand::rng().random::<u64>());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(admin.pool())
        .await
        .expect("create database");
    admin.close().await;
    let base = admin_url
        .rsplit_once('/')
        .map(|(b, _)| b)
        .unwrap_or(&admin_url);
    let db = Db::connect(&format!("{base}/{name}"))
        .await
        .expect("open postgres");
    db.migrate().await.expect("migrate postgres");
    TestDb { db, _dir: None }
}

/// Runs an async test body against both backends.
#[macro_export]
macro_rules! both_backends {
    ($name:ident, $body:ident) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                let t = $crate::common::sqlite().await;
                super::$body(&t.db).await;
            }
            #[tokio::test]
            async fn postgres() {
                let t = $crate::common::postgres().await;
                super::$body(&t.db).await;
            }
        }
    };
}
