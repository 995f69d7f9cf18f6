//! Portico's domain: enterprises, organizations, users, org groups and their memberships, roles,
//! admin API keys, console sessions and the audit trail, persisted with diesel on SQLite or
//! PostgreSQL through one code path.
//!
//! The crate knows nothing of HTTP. Every operation that touches tenant data takes an [`Actor`]
//! and is scoped by enterprise: an actor that may not see an enterprise gets `NotFound`, exactly
//! as if it did not exist. Every mutation writes its audit event in the same transaction.

pub mod access;
pub mod api_key;
pub mod audit;
pub mod backup;
pub mod clock;
pub mod connection;
mod data_fix;
pub mod db;
pub mod enterprise;
pub mod error;
pub mod event;
pub mod group;
pub mod host_application;
pub mod ids;
pub mod job;
pub mod mapping;
pub mod operator;
pub mod organization;
pub mod page;
pub mod password;
pub mod permission;
pub mod provider;
pub mod provisioning;
mod raw;
pub mod role;
pub mod schema;
pub mod scim_token;
pub mod secret;
pub mod session;
pub mod setup;
pub mod sign_in;
pub mod sso_sign_in;
pub mod stored;
#[cfg(feature = "test-support")]
pub mod testing;
pub mod user;
pub mod validate;
pub mod webhook;

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDateTime;

pub use access::{Actor, Ctx};
pub use clock::{Clock, ManualClock, SystemClock};
pub use db::{Backend, DatabaseUrl, DbConnection};
pub use error::{DirectoryError, FieldError, FieldErrors, Result};
pub use page::{Page, PageRequest};

/// The domain service: a connection pool and a clock. Cheap to clone; share one per process.
#[derive(Clone)]
pub struct Directory {
    pool: db::DbPool,
    clock: Arc<dyn Clock>,
    backend: Backend,
    passwords: Arc<password::PasswordGate>,
    jobs: Arc<job::JobSettings>,
    /// Whether changes write their events: always, except in the benchmark that measures what
    /// events cost (see [`Directory::set_events_for_benchmarks`]).
    events: Arc<std::sync::atomic::AtomicBool>,
}

impl std::fmt::Debug for Directory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Directory").field("backend", &self.backend).finish_non_exhaustive()
    }
}

impl Directory {
    /// Connects to the database at `url` (see [`DatabaseUrl::parse`]). Does not migrate.
    pub fn connect(url: &str, pool_size: u32, clock: Arc<dyn Clock>) -> Result<Self> {
        let url = DatabaseUrl::parse(url).map_err(DirectoryError::Unavailable)?;
        let pool = db::open_pool(&url, pool_size, Duration::from_secs(10))?;
        let cores = std::thread::available_parallelism().map(usize::from).unwrap_or(2);
        let passwords = Arc::new(password::PasswordGate::new(cores));
        let events = Arc::new(std::sync::atomic::AtomicBool::new(true));
        Ok(Directory { pool, clock, backend: url.backend, passwords, jobs: Arc::default(), events })
    }

    /// The same directory, running jobs as `settings` say.
    pub fn with_job_settings(mut self, settings: job::JobSettings) -> Self {
        self.jobs = Arc::new(settings);
        self
    }

    /// Turns the writing of events off or on, for this directory and its clones. Only the
    /// events benchmark calls it, to measure a change with and without its events side by
    /// side; Portico itself never turns events off.
    #[cfg(feature = "test-support")]
    pub fn set_events_for_benchmarks(&self, on: bool) {
        self.events.store(on, std::sync::atomic::Ordering::Relaxed);
    }

    pub(crate) fn events_on(&self) -> bool {
        self.events.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Applies pending migrations; returns the versions applied (empty when up to date).
    pub fn migrate(&self) -> Result<Vec<String>> {
        let mut conn = self.pool.get()?;
        db::run_migrations(&mut conn, self.now())
    }

    /// True when the database answers and has every migration this binary knows.
    pub fn is_ready(&self) -> Result<bool> {
        let mut conn = self.pool.get()?;
        db::migrations_complete(&mut conn)
    }

    pub fn now(&self) -> NaiveDateTime {
        self.clock.now()
    }

    pub(crate) fn conn(&self) -> Result<db::PooledDb> {
        Ok(self.pool.get()?)
    }

    /// A write transaction with the current time.
    pub(crate) fn write<T>(&self, f: impl FnOnce(&mut DbConnection, NaiveDateTime) -> Result<T>) -> Result<T> {
        let now = self.now();
        let mut conn = self.conn()?;
        db::write_tx(&mut conn, |c| f(c, now))
    }

    /// A mutation an admin performs: runs `f` in a transaction and writes its audit event, and
    /// the events its subject carries for the host product, in the same transaction. When `f` refuses (bad input, conflict, not allowed), the refusal is
    /// audited on its own, since the change itself was rolled back.
    pub(crate) fn audited<T>(
        &self,
        ctx: &Ctx<'_>,
        action: &'static str,
        f: impl FnOnce(&mut DbConnection, NaiveDateTime) -> Result<(T, audit::Subject)>,
    ) -> Result<T> {
        self.audited_with(ctx, action, None, f)
    }

    /// As [`Directory::audited`], for a change to enterprise `enterprise_key`: a refusal is
    /// audited in that enterprise's log too, so its admins see what was refused (an operator's
    /// key, another enterprise's admin knocking), not only the enterprise of whoever asked.
    pub(crate) fn audited_in<T>(
        &self,
        ctx: &Ctx<'_>,
        action: &'static str,
        enterprise_key: &str,
        f: impl FnOnce(&mut DbConnection, NaiveDateTime) -> Result<(T, audit::Subject)>,
    ) -> Result<T> {
        self.audited_with(ctx, action, Some(enterprise_key), f)
    }

    fn audited_with<T>(
        &self,
        ctx: &Ctx<'_>,
        action: &'static str,
        enterprise_key: Option<&str>,
        f: impl FnOnce(&mut DbConnection, NaiveDateTime) -> Result<(T, audit::Subject)>,
    ) -> Result<T> {
        let result = self.write(|conn, now| {
            let (value, subject) = f(conn, now)?;
            audit::record_with_events(conn, now, ctx, action, &subject, self.events_on())?;
            Ok(value)
        });
        if let Err(e) = &result {
            let outcome = match e {
                DirectoryError::Forbidden(_) | DirectoryError::NotFound(_) => Some(audit::Outcome::Denied),
                DirectoryError::Validation(_) | DirectoryError::Conflict(_) => Some(audit::Outcome::Failure),
                _ => None,
            };
            if let Some(outcome) = outcome {
                let reason = e.to_string();
                let logged = self.write(|conn, now| {
                    let enterprise_id = match enterprise_key {
                        Some(key) => enterprise::find_by_key(conn, key)?.map(|e| e.id.to_string()),
                        None => None,
                    };
                    let subject = audit::Subject { enterprise_id, ..audit::Subject::none() };
                    audit::record(conn, now, ctx, action, &subject, outcome, Some(&reason))
                });
                if let Err(log_err) = logged {
                    tracing::error!(error = %log_err, action, "could not audit a refused change");
                }
            }
        }
        result
    }
}
