//! What events cost, on SQLite and (when reachable) PostgreSQL: `cargo bench -p gateway --bench
//! events`.
//!
//! Three operations, each measured in the same run under three conditions, interleaved round by
//! round so that the machine's drift hits all three alike:
//! - **off**: the directory writes no events (a switch only this benchmark uses);
//! - **on**: events written, no webhook endpoint;
//! - **endpoint**: events written, and an endpoint subscribed to every kind, whose deliveries
//!   the same process dispatches and sends to a receiver on loopback while the operation runs.
//!
//! The operations: `POST /Users` over HTTP (sequential), a SCIM PATCH adding 10,000 members to
//! a group that feeds 50 organizations, and "map all" of 200 IdP groups onto 50 organizations
//! (10,000 links). Last, deliveries per second: 2,000 events sent to the receiver.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use actix_web::{App, HttpResponse, HttpServer, web};
use directory::enterprise::NewEnterprise;
use directory::organization::NewOrganization;
use directory::provisioning::{NewIdpGroup, ScimUserData};
use directory::testing::TestDatabase;
use directory::{Actor, Backend, Ctx, Directory, SystemClock};
use gateway::config::Settings;
use gateway::startup::Application;
use serde_json::{Value, json};

const ROUNDS: usize = 5;
const USERS_PER_ROUND: usize = 300;
const BIG_GROUP: usize = 10_000;
const ORGS: usize = 50;
const MAP_ALL_GROUPS: usize = 200;
const DELIVERIES: usize = 2000;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Condition {
    Off,
    On,
    Endpoint,
}

const CONDITIONS: [Condition; 3] = [Condition::Off, Condition::On, Condition::Endpoint];

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// A receiver on loopback that answers 204 and counts.
async fn receiver(count: Arc<AtomicUsize>) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = HttpServer::new(move || {
        let count = count.clone();
        App::new().default_service(web::to(move || {
            let count = count.clone();
            async move {
                count.fetch_add(1, Ordering::Relaxed);
                HttpResponse::NoContent().finish()
            }
        }))
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    actix_web::rt::spawn(server);
    format!("http://127.0.0.1:{port}/hooks")
}

struct Bench {
    dir: Directory,
    base_url: String,
    operator_key: String,
    client_id: String,
    hook_url: String,
    endpoint: Option<String>,
    client: reqwest::Client,
}

impl Bench {
    /// Puts the directory and the endpoint in `condition`.
    async fn set(&mut self, condition: Condition) {
        self.dir.set_events_for_benchmarks(condition != Condition::Off);
        let wanted = condition == Condition::Endpoint;
        match (&self.endpoint, wanted) {
            (None, true) => {
                let res: Value = self
                    .client
                    .post(format!("{}/api/v1/applications/{}/webhooks", self.base_url, self.client_id))
                    .bearer_auth(&self.operator_key)
                    .json(&json!({"url": self.hook_url, "events": ["*"]}))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                self.endpoint = Some(res["id"].as_str().unwrap().to_owned());
            }
            (Some(id), false) => {
                let res = self
                    .client
                    .delete(format!("{}/api/v1/applications/{}/webhooks/{id}", self.base_url, self.client_id))
                    .bearer_auth(&self.operator_key)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), 204);
                self.endpoint = None;
            }
            _ => {}
        }
    }
}

fn scim_user(login: &str) -> ScimUserData {
    ScimUserData {
        user_name: login.to_owned(),
        external_id: None,
        active: true,
        email: None,
        name: login.to_owned(),
        profile: "{}".into(),
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
        ("PORTICO__SSO__ALLOW_PRIVATE_METADATA".to_owned(), "true".to_owned()),
        ("PORTICO__WEBHOOKS__POLL_MS".to_owned(), "100".to_owned()),
    ];
    let settings = Settings::load_from(None, env).unwrap();
    let dir = Directory::connect(&settings.database_url, settings.pool_size, Arc::new(SystemClock))
        .unwrap()
        .with_job_settings(settings.job_settings());
    dir.migrate().unwrap();
    let app = Application::build(settings, dir.clone()).unwrap();
    let base_url = app.public_url().trim_end_matches('/').to_owned();
    actix_web::rt::spawn(app.run_until_stopped());
    let count = Arc::new(AtomicUsize::new(0));
    let hook_url = receiver(count.clone()).await;
    let system = Actor::System;
    let ctx = Ctx::new(&system, None);
    let operator_key = dir.create_api_key(&ctx, None, "bench").unwrap().token;
    let client = reqwest::Client::new();
    let app_body: Value = client
        .post(format!("{base_url}/api/v1/applications"))
        .bearer_auth(&operator_key)
        .json(&json!({"name": "Bench host", "redirect_uris": ["https://app.example/cb"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut b = Bench {
        dir: dir.clone(),
        base_url: base_url.clone(),
        operator_key,
        client_id: app_body["client_id"].as_str().unwrap().to_owned(),
        hook_url,
        endpoint: None,
        client: client.clone(),
    };
    let enterprise = dir
        .create_enterprise(&ctx, NewEnterprise { key: "acme".into(), name: "Acme".into(), provisioning_mode: None })
        .unwrap();
    for o in 0..ORGS {
        dir.create_organization(&ctx, "acme", NewOrganization { key: format!("org{o}"), name: format!("Org {o}") })
            .unwrap();
    }
    let token = dir.create_scim_token(&ctx, "acme", "bench").unwrap().token;
    let scim = format!("{base_url}/api/scim/v2/acme");
    let idp = Actor::ScimToken { id: "bench".into(), prefix: "bench".into(), enterprise_id: enterprise.id.clone() };
    // The members of the big group, made once, in-process.
    let filler = dir.clone();
    let idp2 = idp.clone();
    let members: Vec<String> = web::block(move || {
        let ctx = Ctx::new(&idp2, None);
        (0..BIG_GROUP)
            .map(|i| filler.scim_create_user(&ctx, &scim_user(&format!("m{i:05}"))).unwrap().id.to_string())
            .collect()
    })
    .await
    .unwrap();

    // The database work alone: user creations on the directory, no HTTP, events off and on.
    let mut direct: Vec<Vec<f64>> = vec![Vec::new(); 2];
    for round in 0..ROUNDS {
        for (c, on) in [false, true].into_iter().enumerate() {
            dir.set_events_for_benchmarks(on);
            let (d, i2) = (dir.clone(), idp.clone());
            let took = web::block(move || {
                let ctx = Ctx::new(&i2, None);
                let started = Instant::now();
                for i in 0..USERS_PER_ROUND {
                    d.scim_create_user(&ctx, &scim_user(&format!("direct{round}{c}u{i}"))).unwrap();
                }
                started.elapsed()
            })
            .await
            .unwrap();
            direct[c].push(took.as_secs_f64() * 1e6 / USERS_PER_ROUND as f64);
        }
    }
    println!(
        "{backend:?} scim_create_user on the directory: {:.0} µs without events, {:.0} µs with (+{:.1}%)",
        median(direct[0].clone()),
        median(direct[1].clone()),
        100.0 * (median(direct[1].clone()) / median(direct[0].clone()) - 1.0)
    );

    let mut users: Vec<Vec<f64>> = vec![Vec::new(); 3];
    let mut patches: Vec<Vec<f64>> = vec![Vec::new(); 3];
    let mut map_alls: Vec<Vec<f64>> = vec![Vec::new(); 3];
    for round in 0..ROUNDS {
        for (c, condition) in CONDITIONS.iter().enumerate() {
            b.set(*condition).await;
            // POST /Users, sequential.
            let started = Instant::now();
            for i in 0..USERS_PER_ROUND {
                let login = format!("r{round}c{c}u{i}");
                let res = client
                    .post(format!("{scim}/Users"))
                    .bearer_auth(&token)
                    .header("content-type", "application/scim+json")
                    .body(
                        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": login,
                               "active": true, "emails": [{"value": format!("{login}@acme.example"), "primary": true}]})
                        .to_string(),
                    )
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), 201);
            }
            users[c].push(USERS_PER_ROUND as f64 / started.elapsed().as_secs_f64());

            // A group feeding every organization, then 10,000 members in one PATCH.
            let name = format!("Big r{round}c{c}");
            let (d, i2) = (dir.clone(), idp.clone());
            let n2 = name.clone();
            let group = web::block(move || {
                d.scim_create_group(
                    &Ctx::new(&i2, None),
                    &NewIdpGroup { display_name: n2, external_id: None, members: vec![] },
                )
            })
            .await
            .unwrap()
            .unwrap();
            let mapped = client
                .post(format!("{base_url}/api/v1/enterprises/acme/group-mappings/map-all"))
                .bearer_auth(&b.operator_key)
                .send()
                .await
                .unwrap();
            assert!(mapped.status().is_success());
            let d = dir.clone();
            web::block(move || d.run_jobs_until_idle()).await.unwrap().unwrap();
            let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
                {"op": "add", "path": "members", "value": members.iter().map(|m| json!({"value": m})).collect::<Vec<_>>()}
            ]})
            .to_string();
            let started = Instant::now();
            let res = client
                .patch(format!("{scim}/Groups/{}", group.id))
                .bearer_auth(&token)
                .header("content-type", "application/scim+json")
                .body(body)
                .send()
                .await
                .unwrap();
            assert!(res.status().is_success(), "{}", res.status());
            patches[c].push(started.elapsed().as_secs_f64() * 1000.0);

            // Map all: a fresh enterprise of 50 organizations and 200 IdP groups each time.
            let key = format!("m{round}{c}");
            let (d, k) = (dir.clone(), key.clone());
            let e = web::block(move || {
                let ctx = Ctx::new(&Actor::System, None);
                let e = d.create_enterprise(
                    &ctx,
                    NewEnterprise { key: k.clone(), name: k.clone(), provisioning_mode: None },
                )?;
                for o in 0..ORGS {
                    d.create_organization(&ctx, &k, NewOrganization { key: format!("o{o}"), name: format!("O {o}") })?;
                }
                let idp = Actor::ScimToken { id: "b".into(), prefix: "b".into(), enterprise_id: e.id.clone() };
                for g in 0..MAP_ALL_GROUPS {
                    d.scim_create_group(
                        &Ctx::new(&idp, None),
                        &NewIdpGroup { display_name: format!("G{g}"), external_id: None, members: vec![] },
                    )?;
                }
                Ok::<_, directory::DirectoryError>(e)
            })
            .await
            .unwrap()
            .unwrap();
            let _ = e;
            let d = dir.clone();
            let started = Instant::now();
            web::block(move || {
                let ctx = Ctx::new(&Actor::System, None);
                d.start_map_all(&ctx, &key)?;
                d.run_jobs_until_idle()
            })
            .await
            .unwrap()
            .unwrap();
            map_alls[c].push(started.elapsed().as_secs_f64() * 1000.0);
        }
    }
    println!("{backend:?}: medians of {ROUNDS} rounds, conditions interleaved");
    let names = ["no events", "events", "events + endpoint"];
    for (c, name) in names.iter().enumerate() {
        println!(
            "{backend:?} {name:>17}: POST /Users {:.0}/s · 10,000-member PATCH {:.1} ms · map all (10,000 links) {:.1} ms",
            median(users[c].clone()),
            median(patches[c].clone()),
            median(map_alls[c].clone())
        );
    }
    for (c, name) in names.iter().enumerate().skip(1) {
        let slower = |base: f64, x: f64| 100.0 * (x / base - 1.0);
        println!(
            "{backend:?} cost of {name}: POST /Users {:+.1}% · PATCH {:+.1}% · map all {:+.1}%",
            slower(median(users[c].clone()), median(users[0].clone())),
            slower(median(patches[0].clone()), median(patches[c].clone())),
            slower(median(map_alls[0].clone()), median(map_alls[c].clone()))
        );
    }

    // Deliveries per second: an endpoint for user.created, then users created in-process.
    b.set(Condition::On).await;
    let d = dir.clone();
    web::block(move || {
        let deadline = Instant::now() + Duration::from_secs(120);
        while d.pending_deliveries().unwrap() > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
    })
    .await
    .unwrap();
    let res: Value = client
        .post(format!("{base_url}/api/v1/applications/{}/webhooks", b.client_id))
        .bearer_auth(&b.operator_key)
        .json(&json!({"url": b.hook_url, "events": ["user.created"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(res["id"].is_string());
    // The writes run beside the deliveries (a new endpoint starts after the newest event, so
    // they cannot be written first): the figure is all 2,000 written and delivered, with the
    // writes' own time beside it.
    let before = count.load(Ordering::Relaxed);
    let started = Instant::now();
    let (d, i2) = (dir.clone(), idp.clone());
    let writes = actix_web::rt::spawn(web::block(move || {
        let ctx = Ctx::new(&i2, None);
        let started = Instant::now();
        for i in 0..DELIVERIES {
            d.scim_create_user(&ctx, &scim_user(&format!("d{i:05}"))).unwrap();
        }
        started.elapsed()
    }));
    loop {
        let sent = count.load(Ordering::Relaxed) - before;
        if sent >= DELIVERIES {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(300), "only {sent} deliveries arrived");
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let wrote = writes.await.unwrap().unwrap().as_secs_f64();
    println!(
        "{backend:?} deliveries: {DELIVERIES} events written and delivered (signed, to a loopback receiver) in {elapsed:.2} s \
         = {:.0} per second (the writes alone took {wrote:.2} s)",
        DELIVERIES as f64 / elapsed
    );
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
