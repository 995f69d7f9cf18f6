//! "Map all" at scale, on SQLite and (when reachable) PostgreSQL:
//! `cargo bench -p directory --bench mapping`.
//!
//! 1,000 IdP groups of 50 members each onto 200 organizations: the fresh run (every organization
//! gets 1,000 new org groups and mappings), the same job again (nothing left to write), and in the
//! same run a raw set-based insert of the same number of link rows into a plain link table (IdP
//! group, organization, org group: key, indexes and foreign keys as a mapping table of its own
//! would have). Then a SCIM change adding 1,000 members to a group that feeds all 200
//! organizations, beside the same change to a group that feeds one; and last the group mapping
//! page's listing once there are 5,000 IdP groups.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::RunQueryDsl;
use diesel::connection::SimpleConnection;
use directory::enterprise::NewEnterprise;
use directory::organization::NewOrganization;
use directory::provisioning::{GroupChanges, MemberChange, NewIdpGroup, ScimUserData};
use directory::testing::TestDatabase;
use directory::{Actor, Backend, Ctx, DbConnection, Directory, PageRequest, SystemClock};

const ORGS: usize = 200;
const GROUPS: usize = 1000;
const MEMBERS: usize = 50;
const USERS: usize = 5000;
const ADDED: usize = 1000;
const ROUNDS: usize = 3;
const PAGE_GROUPS: usize = 5000;

fn median(runs: &mut [f64]) -> f64 {
    runs.sort_by(f64::total_cmp);
    runs[runs.len() / 2]
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// Org groups fed by an IdP group: one per link.
const FED: &str = "org_groups WHERE idp_group_id IS NOT NULL";

fn count(conn: &mut DbConnection, table: &str) -> i64 {
    diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}")).get_result::<Count>(conn).unwrap().n
}

/// Writes out what earlier steps left in the write-ahead log, so that neither timed run pays
/// for the set-up's checkpoint.
fn settle(conn: &mut DbConnection) {
    let sql = match conn {
        DbConnection::Sqlite(_) => "PRAGMA wal_checkpoint(TRUNCATE);",
        DbConnection::Postgresql(_) => "CHECKPOINT;",
    };
    conn.batch_execute(sql).unwrap();
}

fn bench(db: &TestDatabase) {
    let backend = db.backend;
    let dir = Directory::connect(&db.url, 4, Arc::new(SystemClock)).unwrap();
    dir.migrate().unwrap();
    let system = Actor::System;
    let ctx = Ctx::new(&system, None);
    let e = dir
        .create_enterprise(&ctx, NewEnterprise { key: "acme".into(), name: "Acme".into(), provisioning_mode: None })
        .unwrap();
    for o in 0..ORGS {
        dir.create_organization(&ctx, "acme", NewOrganization { key: format!("org-{o:03}"), name: format!("Org {o}") })
            .unwrap();
    }
    let idp = Actor::ScimToken { id: "bench".into(), prefix: "bench".into(), enterprise_id: e.id.clone() };
    let scim = Ctx::new(&idp, None);
    let users: Vec<String> = (0..USERS)
        .map(|i| {
            let login = format!("user{i:05}");
            let data = ScimUserData {
                user_name: login.clone(),
                external_id: None,
                active: true,
                email: None,
                name: login,
                profile: "{}".into(),
            };
            dir.scim_create_user(&scim, &data).unwrap().id.into_string()
        })
        .collect();
    for g in 0..GROUPS {
        let members = (0..MEMBERS).map(|m| users[(g * 7 + m * 97) % USERS].clone()).collect();
        dir.scim_create_group(&scim, &NewIdpGroup { display_name: format!("Team {g:04}"), external_id: None, members })
            .unwrap();
    }
    let wide = dir
        .scim_create_group(&scim, &NewIdpGroup { display_name: "Wide".into(), external_id: None, members: vec![] })
        .unwrap();
    let mut pool =
        directory::db::open_pool(&directory::DatabaseUrl::parse(&db.url).unwrap(), 1, Duration::from_secs(5)).unwrap();

    // The same number of link rows, inserted raw in one statement, in a table made for it.
    let mut conn = pool.get().unwrap();
    conn.batch_execute(
        "CREATE TABLE bench_links (idp_group_id TEXT NOT NULL REFERENCES idp_groups (id) ON DELETE CASCADE, \
         organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE, org_group_id TEXT NOT NULL, \
         enterprise_id TEXT NOT NULL REFERENCES enterprises (id) ON DELETE CASCADE, created_group BOOLEAN NOT NULL, \
         created_at TIMESTAMP NOT NULL, PRIMARY KEY (idp_group_id, organization_id)); \
         CREATE INDEX bench_links_org_group ON bench_links (org_group_id); \
         CREATE INDEX bench_links_organization ON bench_links (organization_id); \
         CREATE INDEX bench_links_enterprise ON bench_links (enterprise_id);",
    )
    .unwrap();
    drop(conn);

    // Fresh map all and the raw insert, in turns; each round starts from nothing mapped and an
    // empty link table, and the medians are compared.
    let (mut fresh, mut raw) = (Vec::new(), Vec::new());
    let mut links = 0;
    for round in 0..ROUNDS {
        let mut conn = pool.get().unwrap();
        if round > 0 {
            conn.batch_execute("DELETE FROM org_groups WHERE idp_group_id IS NOT NULL; DELETE FROM bench_links;")
                .unwrap();
            if let DbConnection::Postgresql(_) = &*conn {
                conn.batch_execute("VACUUM org_groups").unwrap();
                conn.batch_execute("VACUUM bench_links").unwrap();
            }
        }
        settle(&mut conn);
        drop(conn);
        let start = Instant::now();
        dir.start_map_all(&ctx, "acme").unwrap();
        dir.run_jobs_until_idle().unwrap();
        fresh.push(start.elapsed().as_secs_f64());
        let mut conn = pool.get().unwrap();
        links = count(&mut conn, FED);
        assert_eq!(links as usize, (GROUPS + 1) * ORGS);

        settle(&mut conn);
        let start = Instant::now();
        conn.batch_execute(
            "BEGIN; INSERT INTO bench_links SELECT g.id, o.id, g.id || o.id, g.enterprise_id, TRUE, CURRENT_TIMESTAMP \
             FROM idp_groups g CROSS JOIN organizations o; COMMIT;",
        )
        .unwrap();
        raw.push(start.elapsed().as_secs_f64());
        assert_eq!(count(&mut conn, "bench_links"), links);
    }
    let (fresh, raw) = (median(&mut fresh), median(&mut raw));
    println!(
        "{backend:?} map all, fresh: {links} links (as many org groups created) in {fresh:.2} s (median of {ROUNDS})"
    );
    println!(
        "{backend:?} raw set-based insert of {links} link rows: {raw:.2} s; map all took {:.2}x that",
        fresh / raw
    );

    // Again: nothing to write.
    let mut conn = pool.get().unwrap();
    let (groups_before, links_before) = (count(&mut conn, "org_groups"), count(&mut conn, FED));
    drop(conn);
    let start = Instant::now();
    dir.start_map_all(&ctx, "acme").unwrap();
    dir.run_jobs_until_idle().unwrap();
    let again = start.elapsed();
    let mut conn = pool.get().unwrap();
    assert_eq!((count(&mut conn, "org_groups"), count(&mut conn, FED)), (groups_before, links_before));
    println!("{backend:?} map all, applied again: nothing written, {:.2} s", again.as_secs_f64());
    drop(conn);

    // A group feeding one organization.
    let narrow = dir
        .scim_create_group(&scim, &NewIdpGroup { display_name: "Narrow".into(), external_id: None, members: vec![] })
        .unwrap();
    let add = directory::mapping::MappingChange { add: vec![narrow.id.clone()], remove: vec![] };
    dir.change_group_mappings(&ctx, "acme", "org-000", add).unwrap();
    let fed = dir.list_mapped_idp_groups(&ctx, "acme", Some("Wide"), &PageRequest::first(5)).unwrap().items;
    assert_eq!(fed[0].organizations.len(), ORGS);
    for (label, group, slice) in
        [("1 organization", &narrow, &users[..ADDED]), ("200 organizations", &wide, &users[ADDED..2 * ADDED])]
    {
        let change = GroupChanges { members: vec![MemberChange::Add(slice.to_vec())], ..Default::default() };
        let start = Instant::now();
        dir.scim_change_group(&scim, &group.id, &change, None).unwrap();
        println!(
            "{backend:?} SCIM change adding {ADDED} members to a group feeding {label}: {:.1} ms",
            start.elapsed().as_secs_f64() * 1000.0
        );
    }

    // The group mapping page's listing among 5,000 IdP groups (the first 1,000 mapped to every
    // organization): a page of 50 from the start, a search, and a page deep in the list.
    for g in GROUPS..PAGE_GROUPS {
        let new = NewIdpGroup { display_name: format!("Team {g:04}"), external_id: None, members: vec![] };
        dir.scim_create_group(&scim, &new).unwrap();
    }
    let page = |filter: Option<&str>, after: Option<&str>| {
        let request = PageRequest { limit: Some(50), after: after.map(str::to_owned) };
        let mut runs: Vec<f64> = (0..5)
            .map(|_| {
                let start = Instant::now();
                let listed = dir.list_mapped_idp_groups(&ctx, "acme", filter, &request).unwrap();
                assert_eq!(listed.items.len(), 50);
                start.elapsed().as_secs_f64() * 1000.0
            })
            .collect();
        median(&mut runs)
    };
    println!(
        "{backend:?} IdP groups page of 50 among {PAGE_GROUPS}: first {:.1} ms (each fed to {ORGS} organizations), \
         searched \"team 4\" {:.1} ms, after \"Team 3000\" {:.1} ms",
        page(None, None),
        page(Some("team 4"), None),
        page(None, Some("Team 3000"))
    );
    let _ = &mut pool;
}

fn main() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        if let Some(db) = TestDatabase::new(backend) {
            bench(&db);
        }
    }
}
