//! Fresh databases for tests: a temporary SQLite file, or a new PostgreSQL database on the
//! server named by `XIAOAN_TEST_PG` (default: the local server, user `postgres`).

use rand::Rng;
use xiaoan_store::Db;

/// The server used for PostgreSQL tests when `XIAOAN_TEST_PG` is not set.
pub const DEFAULT_PG: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A database that lives as long as the value (the SQLite file is removed on drop).
pub struct TestDb {
    pub db: Db,
    dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// The temporary directory the SQLite file lives in (`None` on PostgreSQL); tests may
    /// keep other files there.
    pub fn dir(&self) -> Option<&std::path::Path> {
        self.dir.as_ref().map(tempfile::TempDir::path)
    }
}

/// The server used for PostgreSQL tests.
pub fn pg_admin_url() -> String {
    std::env::var("XIAOAN_TEST_PG").unwrap_or_else(|_| DEFAULT_PG.to_string())
}

/// A fresh, migrated SQLite database in a temporary directory.
pub async fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("test.db").display());
    let db = Db::connect(&url).await.expect("open sqlite");
    db.migrate().await.expect("migrate sqlite");
    TestDb { db, dir: Some(dir) }
}

/// A fresh, migrated PostgreSQL database with a random name (`xiaoan_t_…`; `scripts/test`
/// drops the ones earlier runs left behind).
pub async fn postgres() -> TestDb {
    let admin_url = pg_admin_url();
    let admin = Db::connect(&admin_url)
        .await
        .expect("PostgreSQL must be reachable for the tests (XIAOAN_TEST_PG)");
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
    TestDb { db, dir: None }
}

/// Runs an async test body `async fn body(db: &Db)` against both backends, as the two
/// tests `name::sqlite` and `name::postgres`. The calling crate needs `tokio` (with
/// `macros` and a runtime) among its dev-dependencies.
#[macro_export]
macro_rules! both_backends {
    ($name:ident, $body:ident) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                let t = $crate::db::sqlite().await;
                super::$body(&t.db).await;
            }
            #[tokio::test]
            async fn postgres() {
                let t = $crate::db::postgres().await;
                super::$body(&t.db).await;
            }
        }
    };
}
