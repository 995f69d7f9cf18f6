//! Time is injected so that every expiry rule (sessions, setup links, sign-in limits) is testable.

use chrono::{NaiveDateTime, SubsecRound, Utc};
use std::fmt::Debug;
use std::sync::Mutex;

/// The source of "now" for the domain. Timestamps are UTC, truncated to microseconds because
/// PostgreSQL keeps no more and both backends must read back what was written.
pub trait Clock: Send + Sync + Debug {
    fn now(&self) -> NaiveDateTime;
}

/// Wall-clock time.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> NaiveDateTime {
        Utc::now().naive_utc().trunc_subsecs(6)
    }
}

/// A clock tests move by hand.
#[derive(Debug)]
pub struct ManualClock(Mutex<NaiveDateTime>);

impl ManualClock {
    pub fn new(start: NaiveDateTime) -> Self {
        ManualClock(Mutex::new(start.trunc_subsecs(6)))
    }

    pub fn advance(&self, by: chrono::Duration) {
        let mut now = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> NaiveDateTime {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}
