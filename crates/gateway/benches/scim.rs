//! SCIM provisioning throughput over HTTP on loopback, on SQLite and (when reachable)
//! PostgreSQL: `cargo bench -p gateway --bench scim`.
//!
//! Each run measures, against a running Portico:
//! - POST /Users one after another, and from 16 clients at once;
//! - GET /Users filtered by userName (Okta's and Entra ID's look-up);
//! - PATCH /Groups adding 1,000 and then 10,000 members in one request.
//!
//! In the same run on the same database, the database's own rates: single-row inserts
//! each committed on its own (what one user creation must at least cost), and one set-based
//! insert of 10,000 rows into a table shaped like the membership table. Last, the token check:
//! the SHA-256 and constant-time comparison, and the whole look-up with its query.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::{ExpressionMethods, RunQueryDsl};
use directory::enterprise::NewEnterprise;
use directory::provisioning::ScimUserData;
use directory::testing::TestDatabase;
use directory::{Actor, Backend, Ctx, DbConnection, Directory, SystemClock};
use gateway::config::Settings;
use gateway::startup::Application;
use serde_json::{Value, json};

const SEQUENTIAL: usize = 1000;
const CLIENTS: usize = 16;
const PER_CLIENT: usize = 100;
const LOOKUPS: usize = 1000;
const RAW_ROWS: usize = 1000;
const BIG_GROUP: usize = 10_000;

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

fn user(login: &str) -> Value {
    json!({"schemas": [USER], "userName": login, "active": true, "externalId": format!("ext-{login}"),
           "name": {"givenName": "Bench", "familyName": login},
           "emails": [{"value": format!("{login}@acme.example"), "type": "work", "primary": true}]})
}

fn rate(what: &str, backend: Backend, n: usize, elapsed: Duration) -> f64 {
    let per_second = n as f64 / elapsed.as_secs_f64();
    println!("{backend:?} {what}: {n} in {:.2} s = {per_second:.0} per second", elapsed.as_secs_f64());
    per_second
}

/// CPU time used so far by this process (Portico and its client; PostgreSQL's own work is in
/// its processes) as (user, system), from `/proc/self/stat`. Unlike wall time, user CPU time
/// does not move with the disk's slow phases, so two builds compare on it even on a noisy
/// machine (system time still carries the virtual machine's scheduling noise).
fn process_cpu() -> (Duration, Duration) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which ends with the last ')'): utime and stime are the
    // 12th and 13th, in clock ticks of 1/100 s on Linux.
    let fields: Vec<&str> =
        stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    (Duration::from_millis(ticks(11) * 10), Duration::from_millis(ticks(12) * 10))
}

/// Wall time and process CPU time of one timed phase.
struct Phase {
    wall: Instant,
    cpu: (Duration, Duration),
}

impl Phase {
    fn start() -> Phase {
        Phase { wall: Instant::now(), cpu: process_cpu() }
    }

    /// Prints the rate (as `rate` does) and the CPU time per request.
    fn end(self, what: &str, backend: Backend, n: usize) -> f64 {
        let per_second = rate(what, backend, n, self.wall.elapsed());
        let (user, system) = process_cpu();
        let per_request = |d: Duration| d.as_secs_f64() * 1e6 / n as f64;
        println!(
            "{backend:?} {what}: {:.0} µs of user CPU and {:.0} µs of system CPU per request (server and client)",
            per_request(user.saturating_sub(self.cpu.0)),
            per_request(system.saturating_sub(self.cpu.1)),
        );
        per_second
    }
}

/// The database's single-row commit rate: `RAW_ROWS` inserts, each its own transaction, on a
/// connection set up as Portico's are.
fn raw_commit_rate(conn: &mut DbConnection) -> Duration {
    conn.batch_execute("CREATE TABLE bench_raw (id TEXT PRIMARY KEY, login TEXT NOT NULL, at TIMESTAMP NOT NULL)")
        .unwrap();
    let start = Instant::now();
    for i in 0..RAW_ROWS {
        let id = directory::secret::new_id();
        diesel::insert_into(raw::table)
            .values((raw::id.eq(&id), raw::login.eq(format!("raw{i}")), raw::at.eq(chrono::Utc::now().naive_utc())))
            .execute(conn)
            .unwrap();
    }
    start.elapsed()
}

/// One set-based insert of `BIG_GROUP` rows into a copy of the membership table's shape.
/// The table has the membership table's keys, index and foreign keys.
fn raw_set_insert(conn: &mut DbConnection, enterprise_id: &str, group_id: &str) -> Duration {
    conn.batch_execute(
        "CREATE TABLE IF NOT EXISTS bench_members (group_id TEXT NOT NULL REFERENCES idp_groups (id) ON DELETE CASCADE, \
         user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE, created_at TIMESTAMP NOT NULL, \
         PRIMARY KEY (group_id, user_id)); CREATE INDEX IF NOT EXISTS bench_members_user ON bench_members (user_id);",
    )
    .unwrap();
    let sql = format!(
        "INSERT INTO bench_members (group_id, user_id, created_at) SELECT '{group_id}', id, CURRENT_TIMESTAMP FROM users \
         WHERE enterprise_id = '{enterprise_id}' AND origin = 'scim' ORDER BY id LIMIT {BIG_GROUP}"
    );
    let start = Instant::now();
    conn.batch_execute(&format!("BEGIN; {sql}; COMMIT;")).unwrap();
    start.elapsed()
}

diesel::table! {
    #[sql_name = "bench_raw"]
    raw (id) {
        id -> Text,
        login -> Text,
        at -> Timestamp,
    }
}

async fn bench(db: &TestDatabase) {
    let backend = db.backend;
    let data = tempfile::tempdir().unwrap();
    let env = vec![
        ("PORTICO__SERVER__BIND".to_owned(), "127.0.0.1:0".to_owned()),
        ("PORTICO__DATABASE__URL".to_owned(), db.url.clone()),
        ("PORTICO__DATA__DIR".to_owned(), data.path().display().to_string()),
        ("PORTICO__LOG__LEVEL".to_owned(), "error".to_owned()),
    ];
    let settings = Settings::load_from(None, env).unwrap();
    let dir = Directory::connect(&settings.database_url, settings.pool_size, Arc::new(SystemClock)).unwrap();
    dir.migrate().unwrap();
    let app = Application::build(settings.clone(), dir.clone()).unwrap();
    let base_url = app.public_url().trim_end_matches('/').to_owned();
    actix_web::rt::spawn(app.run_until_stopped());
    let system = Actor::System;
    let ctx = Ctx::new(&system, None);
    let enterprise = dir
        .create_enterprise(&ctx, NewEnterprise { key: "acme".into(), name: "Acme".into(), provisioning_mode: None })
        .unwrap();
    let token = dir.create_scim_token(&ctx, "acme", "bench").unwrap().token;
    let base = format!("{base_url}/api/scim/v2/acme");
    let client = reqwest::Client::new();
    let send = |method: reqwest::Method, url: String, body: Option<Value>| {
        let mut req = client.request(method, url).bearer_auth(&token);
        if let Some(b) = body {
            req = req.header("content-type", "application/scim+json").body(b.to_string());
        }
        req.send()
    };

    let mut pool =
        directory::db::open_pool(&directory::DatabaseUrl::parse(&db.url).unwrap(), 1, Duration::from_secs(5)).unwrap();
    let mut raw_conn = pool.get().unwrap();
    let raw = raw_commit_rate(&mut raw_conn);
    let raw_rate = rate("raw single-row commits", backend, RAW_ROWS, raw);
    drop(raw_conn);

    // What a request costs before any SCIM work: HTTP alone, then HTTP with the token check.
    let start = Phase::start();
    for _ in 0..LOOKUPS {
        let res = client.get(format!("{base_url}/healthz")).send().await.unwrap();
        assert_eq!(res.status(), 200);
    }
    start.end("GET /healthz (HTTP alone)", backend, LOOKUPS);
    let start = Phase::start();
    for _ in 0..LOOKUPS {
        let res = send(reqwest::Method::GET, format!("{base}/ServiceProviderConfig"), None).await.unwrap();
        assert_eq!(res.status(), 200);
    }
    start.end("GET /ServiceProviderConfig (HTTP and token check)", backend, LOOKUPS);

    // Users, one after another.
    let start = Phase::start();
    for i in 0..SEQUENTIAL {
        let res =
            send(reqwest::Method::POST, format!("{base}/Users"), Some(user(&format!("seq{i:05}")))).await.unwrap();
        assert_eq!(res.status(), 201);
    }
    let seq_rate = start.end("POST /Users sequential", backend, SEQUENTIAL);
    println!("{backend:?} POST /Users sequential is {:.0}% of the raw commit rate", 100.0 * seq_rate / raw_rate);

    // Users from 16 clients at once.
    let start = Phase::start();
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let client = client.clone();
            let token = token.clone();
            let url = format!("{base}/Users");
            actix_web::rt::spawn(async move {
                for i in 0..PER_CLIENT {
                    let res = client
                        .post(&url)
                        .bearer_auth(&token)
                        .header("content-type", "application/scim+json")
                        .body(user(&format!("c{c:02}u{i:04}")).to_string())
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(res.status(), 201);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    start.end("POST /Users from 16 clients", backend, CLIENTS * PER_CLIENT);

    // Look-ups by userName, as IdPs do before creating.
    let start = Phase::start();
    for i in 0..LOOKUPS {
        let url = format!("{base}/Users?filter=userName%20eq%20%22SEQ{:05}%22&startIndex=1&count=100", i % SEQUENTIAL);
        let res = send(reqwest::Method::GET, url, None).await.unwrap();
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["totalResults"], 1);
    }
    start.end("GET /Users?filter=userName eq", backend, LOOKUPS);

    // Enough users for the big group, created in-process (their HTTP cost is measured above).
    let idp = Actor::ScimToken { id: "bench".into(), prefix: "bench".into(), enterprise_id: enterprise.id.clone() };
    let have = SEQUENTIAL + CLIENTS * PER_CLIENT;
    let filler = dir.clone();
    actix_web::web::block(move || {
        let ctx = Ctx::new(&idp, None);
        for i in have..BIG_GROUP + 1000 {
            let login = format!("fill{i:05}");
            filler
                .scim_create_user(
                    &ctx,
                    &ScimUserData {
                        user_name: login.clone(),
                        external_id: None,
                        active: true,
                        email: None,
                        name: login,
                        profile: "{}".into(),
                    },
                )
                .unwrap();
        }
    })
    .await
    .unwrap();
    let mut ids: Vec<String> = Vec::new();
    let mut start_index = 1;
    while ids.len() < BIG_GROUP + 1000 {
        let res =
            send(reqwest::Method::GET, format!("{base}/Users?attributes=id&count=200&startIndex={start_index}"), None)
                .await
                .unwrap();
        let body: Value = res.json().await.unwrap();
        let page: Vec<String> =
            body["Resources"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_owned()).collect();
        if page.is_empty() {
            break;
        }
        start_index += page.len();
        ids.extend(page);
    }
    assert!(ids.len() >= BIG_GROUP + 1000);

    // Each size three times, each time into a new group; the median counts. The raw insert
    // goes into a table of the membership table's shape, for the same group.
    let median = |mut v: Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    for (label, members) in [("1,000", &ids[BIG_GROUP..BIG_GROUP + 1000]), ("10,000", &ids[..BIG_GROUP])] {
        let mut patches = Vec::new();
        let mut raws = Vec::new();
        for round in 0..3 {
            let res = send(
                reqwest::Method::POST,
                format!("{base}/Groups"),
                Some(json!({"schemas": [GROUP], "displayName": format!("Group of {label} ({round})")})),
            )
            .await
            .unwrap();
            let gid = res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
            let value: Vec<Value> = members.iter().map(|id| json!({"value": id})).collect();
            let body = json!({"schemas": [PATCH], "Operations": [{"op": "add", "path": "members", "value": value}]})
                .to_string();
            let start = Instant::now();
            let res = client
                .patch(format!("{base}/Groups/{gid}"))
                .bearer_auth(&token)
                .header("content-type", "application/scim+json")
                .body(body)
                .send()
                .await
                .unwrap();
            patches.push(start.elapsed());
            assert_eq!(res.status(), 204);
            if members.len() == BIG_GROUP {
                let mut conn = pool.get().unwrap();
                raws.push(raw_set_insert(&mut conn, &enterprise.id, &gid));
            }
        }
        let patch = median(patches);
        println!("{backend:?} PATCH adding {label} members: {:.1} ms (median of 3)", patch.as_secs_f64() * 1000.0);
        if !raws.is_empty() {
            let raw = median(raws);
            println!(
                "{backend:?} raw set-based insert of {BIG_GROUP} rows: {:.1} ms (median of 3); the PATCH takes {:.2}x that",
                raw.as_secs_f64() * 1000.0,
                patch.as_secs_f64() / raw.as_secs_f64()
            );
        }
    }

    // The token check.
    let hash = directory::secret::hash_secret(&token);
    let n = 100_000;
    let start = Instant::now();
    for _ in 0..n {
        assert!(directory::secret::secret_matches(std::hint::black_box(&token), &hash));
    }
    println!("{backend:?} token hash and comparison: {:.2} µs each", start.elapsed().as_secs_f64() * 1e6 / n as f64);
    let looker = dir.clone();
    let token2 = token.clone();
    let per = actix_web::web::block(move || {
        let n = 2000;
        let start = Instant::now();
        for _ in 0..n {
            assert!(looker.authenticate_scim_token("acme", &token2).unwrap().is_some());
        }
        start.elapsed().as_secs_f64() * 1e6 / n as f64
    })
    .await
    .unwrap();
    println!("{backend:?} whole token look-up with its query: {per:.1} µs each");
    let _ = &mut pool;
}

fn main() {
    actix_web::rt::System::new().block_on(async {
        for backend in [Backend::Sqlite, Backend::Postgres] {
            if let Some(db) = TestDatabase::new(backend) {
                bench(&db).await;
            }
        }
    });
}
