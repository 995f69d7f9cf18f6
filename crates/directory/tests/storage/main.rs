//! Storage tests of the domain, each run on SQLite and on PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod access;
mod accounts;
mod backup;
mod mapping;
mod migrations;
mod provisioning;
mod schema;
mod scim_tokens;
mod sso;
mod tenants;

use std::sync::Arc;

use chrono::NaiveDate;
use directory::testing::TestDatabase;
use directory::{Actor, Directory, ManualClock};

/// A migrated directory on `db` with a hand-driven clock.
pub fn open(db: &TestDatabase) -> (Directory, Arc<ManualClock>) {
    let start = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap().and_hms_opt(9, 0, 0).unwrap();
    let clock = Arc::new(ManualClock::new(start));
    let dir = Directory::connect(&db.url, 4, clock.clone()).unwrap();
    dir.migrate().unwrap();
    (dir, clock)
}

pub fn operator() -> Actor {
    Actor::System
}
