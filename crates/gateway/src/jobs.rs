//! The background job runner of this instance: it claims jobs from the database (any instance
//! may run any job) and runs them chunk by chunk on the blocking pool. It wakes when this
//! instance queues a job, and every few seconds for jobs queued elsewhere or orphaned by an
//! instance that died.

use std::sync::Arc;
use std::time::Duration;

use directory::Directory;
use tokio::sync::Notify;

/// How often the runner looks for work it was not told about.
const POLL: Duration = Duration::from_secs(2);

/// Wakes the runner.
#[derive(Debug, Default)]
pub struct JobRunner {
    wake: Notify,
}

impl JobRunner {
    /// Starts the runner on the current actix system; it stops with it.
    pub fn start(directory: Directory) -> Arc<JobRunner> {
        let runner = Arc::new(JobRunner::default());
        let me = runner.clone();
        actix_web::rt::spawn(async move {
            loop {
                let dir = directory.clone();
                match actix_web::web::block(move || dir.run_jobs_until_idle()).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => tracing::warn!(error = %e, "the job runner could not run jobs"),
                    Err(_) => return, // the blocking pool is gone: shutting down
                }
                let _ = tokio::time::timeout(POLL, me.wake.notified()).await;
            }
        });
        runner
    }

    /// Tells the runner there is work.
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}
