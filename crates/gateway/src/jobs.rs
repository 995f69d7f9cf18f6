//! The background job runner of this instance: it claims jobs from the database (any instance
//! may run any job) and runs them chunk by chunk on the blocking pool. It wakes when this
//! instance queues a job, and every few seconds for jobs queued elsewhere or orphaned by an
//! instance that died. When the instance stops it finishes the chunk in hand and releases the
//! job, so another instance carries on at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use directory::Directory;
use tokio::sync::{Mutex, Notify};
use tokio::task::JoinHandle;

/// How often the runner looks for work it was not told about.
const POLL: Duration = Duration::from_secs(2);

/// Wakes, and stops, the runner.
#[derive(Debug, Default)]
pub struct JobRunner {
    wake: Notify,
    stop: Arc<AtomicBool>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl JobRunner {
    /// Starts the runner on the current actix system.
    pub fn start(directory: Directory) -> Arc<JobRunner> {
        let runner = Arc::new(JobRunner::default());
        let me = runner.clone();
        let task = actix_web::rt::spawn(async move {
            while !me.stop.load(Ordering::Acquire) {
                let dir = directory.clone();
                let stop = me.stop.clone();
                let ran =
                    actix_web::web::block(move || dir.run_jobs_until_idle_or_stopped(|| stop.load(Ordering::Acquire)))
                        .await;
                match ran {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => tracing::warn!(error = %e, "the job runner could not run jobs"),
                    Err(_) => return, // the blocking pool is gone: shutting down
                }
                let _ = tokio::time::timeout(POLL, me.wake.notified()).await;
            }
        });
        if let Ok(mut slot) = runner.task.try_lock() {
            *slot = Some(task);
        }
        runner
    }

    /// Tells the runner there is work.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Stops the runner after the chunk in hand (its job released for another instance), and
    /// waits until it has.
    pub async fn shutdown(&self) {
        self.stop.store(true, Ordering::Release);
        self.wake.notify_one();
        if let Some(task) = self.task.lock().await.take() {
            let _ = task.await;
        }
    }
}
