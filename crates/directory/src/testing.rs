//! Disposable databases for tests: a temporary SQLite file, or a fresh PostgreSQL database
//! created for one test and dropped after it. Every storage test runs on both.
//!
//! PostgreSQL is found at `PORTICO_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`). When it is unreachable the PostgreSQL half of
//! a test is skipped with a message, unless `PORTICO_TEST_REQUIRE_POSTGRES=1` (set by CI), in
//! which case it fails.

#![allow(clippy::expect_used)]

use diesel::{Connection, RunQueryDsl, pg::PgConnection};

use crate::db::Backend;

const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A database that exists for as long as this value.
#[derive(Debug)]
pub struct TestDatabase {
    pub url: String,
    pub backend: Backend,
    _dir: Option<tempfile::TempDir>,
    pg: Option<(String, String)>,
}

impl TestDatabase {
    /// A new SQLite database in a temporary folder.
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temporary folder");
        let url = format!("sqlite://{}", dir.path().join("portico.db").display());
        TestDatabase { url, backend: Backend::Sqlite, _dir: Some(dir), pg: None }
    }

    /// A new, empty PostgreSQL database, or `None` (after saying why) when PostgreSQL is not
    /// reachable and not required.
    pub fn postgres() -> Option<Self> {
        let admin_url = std::env::var("PORTICO_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_owned());
        let required = std::env::var("PORTICO_TEST_REQUIRE_POSTGRES").is_ok_and(|v| v == "1");
        let mut admin = match PgConnection::establish(&admin_url) {
            Ok(c) => c,
            Err(e) if !required => {
                eprintln!("skipped on PostgreSQL: {admin_url} unreachable ({e})");
                return None;
            }
            Err(e) => panic!("PostgreSQL required but unreachable at {admin_url}: {e}"),
        };
        let name = format!("portico_test_{}", uuid::Uuid::new_v4().simple());
        diesel::sql_query(format!("CREATE DATABASE {name}")).execute(&mut admin).expect("create test database");
        let (without_query, query) = admin_url.split_once('?').unwrap_or((&admin_url, ""));
        let (base, _) = without_query.rsplit_once('/').expect("PostgreSQL URL with a database name");
        // Tests talk to a local server: without TLS, unless the URL asks for it. (Pools of
        // finished tests may still be reconnecting when the test process exits, and OpenSSL's
        // clean-up at exit would pull its locks from under a TLS handshake in flight.)
        let query = if query.is_empty() { "sslmode=disable" } else { query };
        let url = format!("{base}/{name}?{query}");
        Some(TestDatabase { url, backend: Backend::Postgres, _dir: None, pg: Some((admin_url, name)) })
    }

    /// The database for `backend`, or `None` when PostgreSQL is skipped.
    pub fn new(backend: Backend) -> Option<Self> {
        match backend {
            Backend::Sqlite => Some(Self::sqlite()),
            Backend::Postgres => Self::postgres(),
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = &self.pg
            && let Ok(mut admin) = PgConnection::establish(admin_url)
        {
            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut admin);
        }
    }
}

/// Runs a storage test once per backend: `both_backends!(name_of_fn, ...)` makes modules
/// `sqlite` and `postgres`, each with a `#[test]` per function; the function receives a
/// [`TestDatabase`].
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $name() { super::$name($crate::testing::TestDatabase::sqlite()) } )*
        }
        mod postgres {
            $( #[test] fn $name() {
                if let Some(db) = $crate::testing::TestDatabase::postgres() { super::$name(db) }
            } )*
        }
    };
}
