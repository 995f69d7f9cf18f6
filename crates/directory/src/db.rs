//! One storage code path for SQLite (the embedded default) and PostgreSQL (production).
//!
//! The backend is chosen from the URL scheme by us, not by diesel's `MultiConnection::establish`,
//! which hides the real connection error. SQLite connections get WAL, foreign keys and a busy
//! timeout; PostgreSQL connections run in UTC. Write transactions on SQLite start with
//! `BEGIN IMMEDIATE` so that a read-then-write transaction never fails on a stale snapshot.

use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::pg::PgConnection;
use diesel::r2d2::{ManageConnection, Pool, PooledConnection};
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, RunQueryDsl};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::error::{DirectoryError, Result};

pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// A connection to either backend. Queries written once against this type run on both.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgresql(PgConnection),
    Sqlite(SqliteConnection),
}

impl std::fmt::Debug for DbConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DbConnection::Postgresql(_) => "DbConnection::Postgresql",
            DbConnection::Sqlite(_) => "DbConnection::Sqlite",
        })
    }
}

/// Which database a URL points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database location, parsed once so that errors name the URL problem rather than a driver.
#[derive(Debug, Clone)]
pub struct DatabaseUrl {
    pub backend: Backend,
    /// What the driver is given: a file path for SQLite, the URL itself for PostgreSQL.
    pub target: String,
}

impl DatabaseUrl {
    /// `message` (a driver's error) without the URL's password, nor the pieces a driver may
    /// quote when a password with `/`, `@` or `:` in it was not percent-encoded: errors are
    /// logged and shown, and must not carry it.
    pub fn redact(&self, message: &str) -> String {
        let Some(password) = self.password() else {
            return message.to_owned();
        };
        const SEPARATORS: [char; 5] = ['/', '@', ':', '?', '#'];
        // The whole, what lies before and after each separator, and between separators.
        let around = password.match_indices(SEPARATORS).flat_map(|(i, _)| [&password[..i], &password[i + 1..]]);
        let mut pieces: Vec<&str> = std::iter::once(password.as_str())
            .chain(around)
            .chain(password.split(SEPARATORS))
            .filter(|p| p.len() >= 3)
            .collect();
        pieces.sort_by_key(|p| std::cmp::Reverse(p.len()));
        pieces.into_iter().fold(message.to_owned(), |m, p| m.replace(p, "***"))
    }

    /// The password between `://user:` and the last `@` of a PostgreSQL URL, as written.
    fn password(&self) -> Option<String> {
        if self.backend != Backend::Postgres {
            return None;
        }
        let rest = self.target.split_once("://")?.1;
        let userinfo = &rest[..rest.rfind('@')?];
        let password = userinfo.split_once(':')?.1;
        (!password.is_empty()).then(|| password.to_owned())
    }

    /// Accepts `postgres://…`, `postgresql://…`, `sqlite://relative/or/absolute/path` and
    /// `sqlite:path`.
    pub fn parse(url: &str) -> Result<Self, String> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DatabaseUrl { backend: Backend::Postgres, target: url.to_owned() });
        }
        if let Some(rest) = url.strip_prefix("sqlite:") {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if path.is_empty() {
                return Err("a sqlite URL needs a file path, e.g. sqlite://data/portico.db".into());
            }
            return Ok(DatabaseUrl { backend: Backend::Sqlite, target: path.to_owned() });
        }
        Err("the database URL must start with postgres://, postgresql:// or sqlite://".into())
    }
}

/// r2d2 manager that opens the right backend and prepares each new connection.
#[derive(Debug, Clone)]
pub struct ConnectionManager {
    url: DatabaseUrl,
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error(transparent)]
    Connection(#[from] diesel::ConnectionError),
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
}

impl ManageConnection for ConnectionManager {
    type Connection = DbConnection;
    type Error = ConnectError;

    fn connect(&self) -> Result<DbConnection, ConnectError> {
        match self.url.backend {
            Backend::Postgres => {
                let mut conn = PgConnection::establish(&self.url.target)?;
                conn.batch_execute("SET TIME ZONE 'UTC'")?;
                Ok(DbConnection::Postgresql(conn))
            }
            Backend::Sqlite => {
                let mut conn = SqliteConnection::establish(&self.url.target)?;
                conn.batch_execute("PRAGMA busy_timeout = 10000;")?;
                // Turning a new database to WAL takes an exclusive lock, and SQLite answers
                // "locked" at once, without waiting, when processes starting together race for
                // it; whoever loses tries again shortly, by which time the mode is set.
                let mut attempts = 0;
                while let Err(e) = conn.batch_execute("PRAGMA journal_mode = WAL;") {
                    attempts += 1;
                    if attempts >= 50 || !e.to_string().contains("locked") {
                        return Err(e.into());
                    }
                    std::thread::sleep(std::time::Duration::from_millis(20 * attempts.min(10)));
                }
                conn.batch_execute("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), ConnectError> {
        // Built with the query builder rather than as text, so that it stays prepared.
        use diesel::IntoSql;
        diesel::select(1.into_sql::<diesel::sql_types::Integer>()).execute(conn)?;
        Ok(())
    }

    /// A connection whose transaction was left broken (for instance by a panic mid-way) is
    /// discarded rather than handed to the next request; a dead socket is caught by the check
    /// on checkout.
    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        std::thread::panicking() || diesel::r2d2::R2D2Connection::is_broken(conn)
    }
}

pub type DbPool = Pool<ConnectionManager>;
pub type PooledDb = PooledConnection<ConnectionManager>;

/// Opens a pool. Fails fast (with the driver's own message) when the database is unreachable.
pub fn open_pool(url: &DatabaseUrl, size: u32, connect_timeout: Duration) -> Result<DbPool> {
    let sqlite_parent = match url.backend {
        Backend::Sqlite => std::path::Path::new(&url.target).parent().filter(|p| !p.as_os_str().is_empty()),
        Backend::Postgres => None,
    };
    if let Some(parent) = sqlite_parent {
        std::fs::create_dir_all(parent).map_err(|e| {
            DirectoryError::Unavailable(format!(
                "cannot create the folder {} for the SQLite database: {e}",
                parent.display()
            ))
        })?;
    }
    let manager = ConnectionManager { url: url.clone() };
    // Establish one connection first, so the operator sees the driver's message rather than
    // r2d2's generic time-out.
    manager.connect().map_err(|e| DirectoryError::Unavailable(url.redact(&e.to_string())))?;
    Pool::builder()
        .max_size(size)
        .connection_timeout(connect_timeout)
        .build(manager)
        .map_err(|e| DirectoryError::Unavailable(url.redact(&e.to_string())))
}

/// Applies every pending migration of the connection's backend, then the data fixes not yet
/// made (see `data_fix`), under the same lock; returns the versions and fixes applied.
pub fn run_migrations(conn: &mut DbConnection, now: chrono::NaiveDateTime) -> Result<Vec<String>> {
    match conn {
        // Instances starting together queue on a session-level advisory lock: the first applies
        // what is pending, the others then find nothing to do.
        DbConnection::Postgresql(_) => {
            diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK})")).execute(conn)?;
            let applied = migrate_and_fix(conn, now);
            let unlocked = diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})")).execute(conn);
            let applied = applied?;
            unlocked?;
            Ok(applied)
        }
        // On SQLite the whole run holds the write lock (each migration a savepoint in it), so
        // a second process waits on the busy timeout and then finds nothing to do.
        DbConnection::Sqlite(c) => {
            AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?;
            let applied = migrate_and_fix(conn, now);
            let DbConnection::Sqlite(c) = conn else { unreachable!("the backend does not change") };
            match applied {
                Ok(applied) => {
                    <SqliteConnection as Connection>::TransactionManager::commit_transaction(c)?;
                    Ok(applied)
                }
                Err(e) => {
                    <SqliteConnection as Connection>::TransactionManager::rollback_transaction(c)?;
                    Err(e)
                }
            }
        }
    }
}

fn migrate_and_fix(conn: &mut DbConnection, now: chrono::NaiveDateTime) -> Result<Vec<String>> {
    let mut applied: Vec<String> = match conn {
        DbConnection::Postgresql(c) => {
            c.run_pending_migrations(POSTGRES_MIGRATIONS).map(|v| v.iter().map(ToString::to_string).collect())
        }
        DbConnection::Sqlite(c) => {
            c.run_pending_migrations(SQLITE_MIGRATIONS).map(|v| v.iter().map(ToString::to_string).collect())
        }
    }
    .map_err(|e| DirectoryError::Migration(e.to_string()))?;
    applied.extend(crate::data_fix::apply(conn, now)?);
    Ok(applied)
}

/// The advisory lock key migrations take on PostgreSQL ("portico" in ASCII).
const MIGRATION_LOCK: i64 = 0x0070_6f72_7469_636f;

/// True when the database has every migration this binary knows.
pub fn migrations_complete(conn: &mut DbConnection) -> Result<bool> {
    let pending = match conn {
        DbConnection::Postgresql(c) => c.has_pending_migration(POSTGRES_MIGRATIONS),
        DbConnection::Sqlite(c) => c.has_pending_migration(SQLITE_MIGRATIONS),
    }
    .map_err(|e| DirectoryError::Migration(e.to_string()))?;
    Ok(!pending)
}

/// Runs `f` in a write transaction: committed when it returns `Ok`, rolled back otherwise.
/// On SQLite the transaction takes the write lock up front (`BEGIN IMMEDIATE`), so concurrent
/// writers queue on the busy timeout instead of failing half-way.
pub fn write_tx<T>(conn: &mut DbConnection, f: impl FnOnce(&mut DbConnection) -> Result<T>) -> Result<T> {
    match conn {
        DbConnection::Sqlite(c) => AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?,
        DbConnection::Postgresql(_) => <DbConnection as Connection>::TransactionManager::begin_transaction(conn)?,
    }
    match f(conn) {
        Ok(value) => {
            <DbConnection as Connection>::TransactionManager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(e) => {
            if let Err(rollback) = <DbConnection as Connection>::TransactionManager::rollback_transaction(conn) {
                tracing::error!(error = %rollback, "rollback failed");
            }
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn connection_errors_never_carry_the_password() {
        let url = DatabaseUrl::parse("postgres://portico:s3cret/pa@ss@db.internal:5432/portico").unwrap();
        // What libpq says of such an unencoded password, quoting pieces of it.
        let said = "invalid integer value \"s3cret\" for connection option \"port\"; host \"pa@ss@db.internal\"";
        let shown = url.redact(said);
        assert!(!shown.contains("s3cret") && !shown.contains("pa@ss"), "{shown}");
        let plain = DatabaseUrl::parse("postgres://portico@db/portico").unwrap();
        assert_eq!(plain.redact("connection refused"), "connection refused");
        let full = DatabaseUrl::parse("postgres://u:hunter2@db/x").unwrap();
        assert_eq!(full.redact("password hunter2 rejected"), "password *** rejected");
    }
}
