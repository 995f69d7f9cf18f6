//! Background jobs: long work (applying "map all" to every organization, for instance) split
//! into chunks, each its own short transaction, so sign-ins and SCIM requests never wait long
//! behind it.
//!
//! Any instance may run any job: a job is claimed by one `UPDATE … RETURNING` (with `FOR UPDATE
//! SKIP LOCKED` on PostgreSQL, so instances do not queue behind each other's claims); the
//! claimer keeps a heartbeat, and a running job whose heartbeat is older than
//! [`STALE_AFTER_SECS`] is claimed again and resumes after its last finished chunk. Each chunk
//! moves `done` forward only from the value it started with, so a chunk that two instances
//! race on is applied once; chunks are idempotent, so one applied again after a crash changes
//! nothing.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use diesel::sql_types::{Text, Timestamp};
use serde::Serialize;

use crate::Directory;
use crate::access::Ctx;
use crate::db::{DbConnection, write_tx};
use crate::error::{DirectoryError, Result};
use crate::ids::{EnterpriseId, JobId};
use crate::schema::jobs;
use crate::secret::new_id;
use crate::stored::stored_enum;

/// A running job whose heartbeat is older than this is taken to be orphaned.
pub const STALE_AFTER_SECS: i64 = 30;

/// The kinds of job Portico runs.
pub const MAP_ALL: &str = "map_all";
/// A change of one organization's mappings too large for one chunk.
pub const SET_MAPPINGS: &str = "set_mappings";

stored_enum! {
    /// Where a job stands. A `running` job whose heartbeat went stale is claimed again.
    pub enum JobState {
        Queued = "queued",
        Running = "running",
        Done = "done",
        Failed = "failed",
    }
}

/// A job as stored. `kind` stays text: an instance of an older version that meets a kind it
/// does not know marks that job failed rather than failing to read the queue.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Serialize)]
#[diesel(table_name = jobs)]
pub struct Job {
    pub id: JobId,
    pub kind: String,
    pub enterprise_id: Option<EnterpriseId>,
    #[diesel(deserialize_as = String)]
    pub state: JobState,
    pub done: i64,
    pub total: i64,
    pub payload: String,
    pub error: Option<String>,
    pub created_by: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub heartbeat_at: Option<NaiveDateTime>,
    /// The instance that claimed it last.
    pub claimed_by: Option<String>,
}

/// How this instance runs jobs.
#[derive(Debug, Clone)]
pub struct JobSettings {
    /// This instance's name in `claimed_by` (host and process by default).
    pub instance: String,
    /// A running job whose heartbeat is older than this is taken over by another instance.
    pub takeover_after: Duration,
    /// Links a "map all" chunk writes at most (see [`crate::mapping::MAP_ALL_LINKS_PER_CHUNK`]).
    pub map_all_links_per_chunk: i64,
}

impl Default for JobSettings {
    fn default() -> Self {
        let host = std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()).unwrap_or_else(|| "portico".to_owned());
        JobSettings {
            instance: format!("{host}:{}", std::process::id()),
            takeover_after: Duration::seconds(STALE_AFTER_SECS),
            map_all_links_per_chunk: crate::mapping::MAP_ALL_LINKS_PER_CHUNK,
        }
    }
}

#[derive(QueryableByName)]
struct Claimed {
    #[diesel(sql_type = Text)]
    id: String,
}

/// Inserts a queued job.
pub(crate) fn enqueue(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    ctx: &Ctx<'_>,
    kind: &str,
    enterprise_id: &str,
    total: i64,
) -> Result<Job> {
    let job = Job {
        id: new_id().into(),
        kind: kind.to_owned(),
        enterprise_id: Some(enterprise_id.into()),
        state: if total == 0 { JobState::Done } else { JobState::Queued },
        done: 0,
        total,
        payload: "{}".to_owned(),
        error: None,
        created_by: ctx.actor.display_name(),
        created_at: now,
        updated_at: now,
        heartbeat_at: None,
        claimed_by: None,
    };
    diesel::insert_into(jobs::table)
        .values((
            jobs::id.eq(&job.id),
            jobs::kind.eq(&job.kind),
            jobs::enterprise_id.eq(&job.enterprise_id),
            jobs::state.eq(job.state.as_str()),
            jobs::done.eq(0),
            jobs::total.eq(total),
            jobs::payload.eq(&job.payload),
            jobs::created_by.eq(&job.created_by),
            jobs::created_at.eq(now),
            jobs::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(job)
}

impl Directory {
    /// One job, for whoever may change what it changes: the admins of its enterprise, and for
    /// a change of one organization's mappings that organization's admins too. Anyone else,
    /// other org admins of the enterprise included, is told there is no such job.
    pub fn get_job(&self, ctx: &Ctx<'_>, id: &JobId) -> Result<Job> {
        let mut conn = self.conn()?;
        let job: Option<Job> =
            jobs::table.filter(jobs::id.eq(id)).select(Job::as_select()).first(&mut conn).optional()?;
        let may_read = |j: &Job| {
            if ctx.actor.is_platform_admin() {
                return true;
            }
            let Some(enterprise) = j.enterprise_id.as_deref() else { return false };
            ctx.actor.can_administer_enterprise(enterprise)
                || crate::mapping::job_organization(j)
                    .is_some_and(|org| ctx.actor.can_administer_organization(enterprise, &org))
        };
        match job {
            Some(j) if may_read(&j) => Ok(j),
            _ => Err(DirectoryError::NotFound("job")),
        }
    }

    /// Claims the oldest queued job, or a running one whose heartbeat stopped.
    pub fn claim_job(&self) -> Result<Option<Job>> {
        let now = self.now();
        let stale = now - self.jobs.takeover_after;
        let me = self.jobs.instance.as_str();
        let mut conn = self.conn()?;
        let claimed: Option<Claimed> = write_tx(&mut conn, |c| {
            let picked = "SELECT id FROM jobs WHERE state = 'queued' OR (state = 'running' AND heartbeat_at < $2) \
                          ORDER BY created_at LIMIT 1";
            Ok(match c {
                DbConnection::Postgresql(pg) => diesel::sql_query(format!(
                    "UPDATE jobs SET state = 'running', heartbeat_at = $1, updated_at = $1, claimed_by = $3 \
                     WHERE id = ({picked} FOR UPDATE SKIP LOCKED) RETURNING id"
                ))
                .bind::<Timestamp, _>(now)
                .bind::<Timestamp, _>(stale)
                .bind::<Text, _>(me)
                .get_result(pg)
                .optional()?,
                DbConnection::Sqlite(lite) => diesel::sql_query(format!(
                    "UPDATE jobs SET state = 'running', heartbeat_at = ?1, updated_at = ?1, claimed_by = ?3 \
                     WHERE id = ({}) RETURNING id",
                    picked.replace("$2", "?2")
                ))
                .bind::<Timestamp, _>(now)
                .bind::<Timestamp, _>(stale)
                .bind::<Text, _>(me)
                .get_result(lite)
                .optional()?,
            })
        })?;
        match claimed {
            None => Ok(None),
            Some(c) => Ok(Some(jobs::table.filter(jobs::id.eq(&c.id)).select(Job::as_select()).first(&mut conn)?)),
        }
    }

    /// Runs the next chunk of a claimed job; true when the job is finished (done or failed).
    pub fn run_job_chunk(&self, job: &Job) -> Result<bool> {
        let result = match job.kind.as_str() {
            MAP_ALL => self.map_all_chunk(job),
            SET_MAPPINGS => self.set_mappings_chunk(job),
            other => Err(DirectoryError::Internal(format!("unknown job kind {other}"))),
        };
        match result {
            Ok(finished) => Ok(finished),
            Err(DirectoryError::VersionMismatch(_)) => Ok(true), // another instance moved it on
            Err(e) => {
                let message = e.to_string();
                tracing::error!(job = %job.id, error = %message, "job failed");
                self.write(|conn, now| {
                    diesel::update(jobs::table.filter(jobs::id.eq(&job.id)))
                        .set((
                            jobs::state.eq(JobState::Failed.as_str()),
                            jobs::error.eq(&message),
                            jobs::updated_at.eq(now),
                        ))
                        .execute(conn)?;
                    Ok(())
                })?;
                Ok(true)
            }
        }
    }

    /// Claims and runs jobs until none is left; returns how many chunks ran.
    pub fn run_jobs_until_idle(&self) -> Result<usize> {
        self.run_jobs_until_idle_or_stopped(|| false)
    }

    /// As [`Directory::run_jobs_until_idle`], but asks `stop` between chunks: when it says so,
    /// the job in hand is released (queued again, as it stands) so that another instance takes
    /// it over at once instead of waiting for its heartbeat to go stale, and this returns.
    pub fn run_jobs_until_idle_or_stopped(&self, stop: impl Fn() -> bool) -> Result<usize> {
        let mut chunks = 0;
        while !stop()
            && let Some(mut job) = self.claim_job()?
        {
            let _span = tracing::info_span!("job", id = %job.id, kind = %job.kind).entered();
            loop {
                chunks += 1;
                if self.run_job_chunk(&job)? {
                    break;
                }
                job = jobs::table.filter(jobs::id.eq(&job.id)).select(Job::as_select()).first(&mut self.conn()?)?;
                if stop() {
                    self.release_job(&job)?;
                    tracing::info!(done = job.done, total = job.total, "job released for another instance");
                    return Ok(chunks);
                }
            }
        }
        Ok(chunks)
    }

    /// Puts a running job back in the queue, unless another instance took it over or moved
    /// it on meanwhile.
    fn release_job(&self, job: &Job) -> Result<()> {
        self.write(|conn, now| {
            diesel::update(
                jobs::table
                    .filter(jobs::id.eq(&job.id))
                    .filter(jobs::state.eq(JobState::Running.as_str()))
                    .filter(jobs::done.eq(job.done))
                    .filter(jobs::claimed_by.eq(&self.jobs.instance)),
            )
            .set((
                jobs::state.eq(JobState::Queued.as_str()),
                jobs::heartbeat_at.eq(None::<NaiveDateTime>),
                jobs::updated_at.eq(now),
            ))
            .execute(conn)?;
            Ok(())
        })
    }
}

/// Records a finished chunk: `done` moves from `job.done` to `job.done + 1` (refused when another
/// instance moved it first) and the job's payload becomes `payload` when given. The job is done
/// at `total`, or when `exhausted` says no work is left; `total` then becomes `done`, so that
/// progress reads complete even when the estimate made at the start was off.
pub(crate) fn advance(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    job: &Job,
    payload: Option<&str>,
    exhausted: bool,
) -> Result<bool> {
    let next = job.done + 1;
    let finished = exhausted || (next >= job.total && payload.is_none());
    let total = if finished { next } else { job.total.max(next + 1) };
    let moved = diesel::update(jobs::table.filter(jobs::id.eq(&job.id)).filter(jobs::done.eq(job.done)))
        .set((
            jobs::done.eq(next),
            jobs::total.eq(total),
            jobs::payload.eq(payload.unwrap_or(&job.payload)),
            jobs::state.eq(if finished { JobState::Done } else { JobState::Running }.as_str()),
            jobs::heartbeat_at.eq(now),
            jobs::updated_at.eq(now),
        ))
        .execute(conn)?;
    if moved != 1 {
        return Err(DirectoryError::VersionMismatch("job"));
    }
    Ok(finished)
}
