//! Events and webhooks as a host product meets them: the events API paged under concurrent
//! writers, webhook endpoints managed over the API, and deliveries checked by an independent
//! Standard Webhooks verifier (the `standardwebhooks` package from PyPI, in a receiver on
//! loopback) for their signatures, their order per resource, and their arrival after the
//! receiver was down.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, Tool, available, problem};
use crate::scim::Idp;

/// The Python receiver (`interop/webhooks/receiver.py`), killed by process id when dropped.
pub struct Receiver {
    child: Option<Child>,
    pub port: u16,
    pub out: PathBuf,
    secrets: Vec<String>,
    fail_first: u32,
    _dir: tempfile::TempDir,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Receiver {
    /// Starts a receiver that verifies with `secrets` (none: it records logout tokens only).
    pub fn start(secrets: &[&str]) -> Receiver {
        Self::start_failing(secrets, 0)
    }

    /// As [`Receiver::start`]; the first `fail_first` messages are answered 503.
    pub fn start_failing(secrets: &[&str], fail_first: u32) -> Receiver {
        let dir = tempfile::tempdir().unwrap();
        let mut r = Receiver {
            child: None,
            port: 0,
            out: dir.path().join("received.jsonl"),
            secrets: secrets.iter().map(|s| s.to_string()).collect(),
            fail_first,
            _dir: dir,
        };
        r.run(0);
        r
    }

    fn run(&mut self, port: u16) {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
        let port_file = self.out.with_extension("port");
        let _ = std::fs::remove_file(&port_file);
        let mut cmd = Command::new(root.join("interop/webhooks/.venv/bin/python"));
        cmd.arg(root.join("interop/webhooks/receiver.py"))
            .arg("--port")
            .arg(port.to_string())
            .arg("--port-file")
            .arg(&port_file)
            .arg("--out")
            .arg(&self.out)
            .arg("--fail-first")
            .arg(self.fail_first.to_string());
        for s in &self.secrets {
            cmd.arg("--secret").arg(s);
        }
        self.child = Some(cmd.stdout(Stdio::null()).stderr(Stdio::inherit()).spawn().unwrap());
        let started = Instant::now();
        loop {
            if let Ok(text) = std::fs::read_to_string(&port_file)
                && let Ok(p) = text.trim().parse()
            {
                self.port = p;
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(20), "the receiver did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops it (by process id): the port refuses connections until [`Receiver::restart`].
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port.
    pub fn restart(&mut self) {
        self.fail_first = 0;
        let port = self.port;
        self.run(port);
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hooks", self.port)
    }

    /// Every message received so far.
    pub fn received(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Waits until `done` holds of what was received, or fails after `limit`.
    pub async fn wait_for(&self, limit: Duration, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let started = Instant::now();
        loop {
            let got = self.received();
            if done(&got) {
                return got;
            }
            assert!(started.elapsed() < limit, "{what}: after {limit:?}, received {} messages: {got:?}", got.len());
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A confidential host application; answers its client id.
pub async fn application(app: &TestApp) -> String {
    let res = app
        .api(Method::POST, "/api/v1/applications", &app.operator_key)
        .json(&json!({"name": "Host", "redirect_uris": ["https://app.example/cb"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let body: Value = res.json().await.unwrap();
    body["client_id"].as_str().unwrap().to_owned()
}

/// An endpoint of `client` at `url` for `events`: (id, secret).
pub async fn endpoint(app: &TestApp, client: &str, url: &str, events: Value) -> (String, String) {
    let res = app
        .api(Method::POST, &format!("/api/v1/applications/{client}/webhooks"), &app.operator_key)
        .json(&json!({"url": url, "events": events}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let body: Value = res.json().await.unwrap();
    (body["id"].as_str().unwrap().to_owned(), body["secret"].as_str().unwrap().to_owned())
}

/// Every event after `after` the events API answers, paged `limit` at a time.
async fn all_events(app: &TestApp, key: &str, query: &str, limit: usize) -> Vec<Value> {
    let mut after = String::new();
    let mut out = Vec::new();
    loop {
        let res = app
            .api(Method::GET, &format!("/api/v1/events?after={after}&limit={limit}{query}"), key)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let page: Value = res.json().await.unwrap();
        let data = page["data"].as_array().unwrap().clone();
        after = page["next_cursor"].as_str().unwrap().to_owned();
        if data.is_empty() {
            return out;
        }
        out.extend(data);
    }
}

/// Every event the operator's key reads.
pub async fn all_events_of(app: &TestApp) -> Vec<Value> {
    all_events(app, &app.operator_key, "", 1000).await
}

/// What the events API and webhooks promise of every event: its fields, its kind's data.
fn well_formed(e: &Value) {
    for field in ["id", "cursor", "type", "occurred_at"] {
        assert!(e[field].is_string(), "{field} in {e}");
    }
    assert_eq!(e["version"], 1);
    assert!(e["data"].is_object(), "{e}");
    assert!(chrono::DateTime::parse_from_rfc3339(e["occurred_at"].as_str().unwrap()).is_ok());
}

/// The contract: endpoints made, read, changed and removed over the API; bad input refused
/// with problem details; operators only.
async fn endpoints_are_managed_over_the_api(app: TestApp) {
    let client = application(&app).await;
    let base = format!("/api/v1/applications/{client}/webhooks");
    let res = app
        .api(Method::POST, &base, &app.operator_key)
        .json(&json!({"url": "https://hooks.example/portico", "events": ["user.*", "group.members_added"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let made: Value = res.json().await.unwrap();
    let id = made["id"].as_str().unwrap();
    let secret = made["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_") && secret.len() > 40, "{secret}");
    assert_eq!(made["enabled"], true);
    assert_eq!(made["events"], json!(["user.*", "group.members_added"]));

    let listed: Value = app.api(Method::GET, &base, &app.operator_key).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert!(listed[0].get("secret").is_none(), "the secret is shown once: {listed}");
    let one = app.api(Method::GET, &format!("{base}/{id}"), &app.operator_key).send().await.unwrap();
    assert_eq!(one.status(), StatusCode::OK);
    assert!(!one.text().await.unwrap().contains(secret));

    let res = app
        .api(Method::PATCH, &format!("{base}/{id}"), &app.operator_key)
        .json(&json!({"events": ["*"], "enabled": false, "description": "staging"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let patched: Value = res.json().await.unwrap();
    assert_eq!(patched["events"], json!(["*"]));
    assert_eq!(patched["enabled"], false);

    let res = app.api(Method::POST, &format!("{base}/{id}/rotate-secret"), &app.operator_key).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let rotated: Value = res.json().await.unwrap();
    assert_ne!(rotated["secret"], made["secret"]);
    assert!(rotated["previous_secret_expires_at"].is_string(), "the old secret overlaps: {rotated}");

    let res = app.api(Method::GET, &format!("{base}/{id}/deliveries"), &app.operator_key).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let deliveries: Value = res.json().await.unwrap();
    assert_eq!(deliveries["data"], json!([]));

    // Refusals, as problems naming the field.
    for (body, field) in [
        (json!({"url": "ftp://hooks.example/x", "events": ["*"]}), "url"),
        (json!({"url": "http://hooks.example/x", "events": ["*"]}), "url"),
        (json!({"url": "https://hooks.example/x", "events": []}), "events"),
        (json!({"url": "https://hooks.example/x", "events": ["users.*"]}), "events"),
        (json!({"url": "https://hooks.example/x", "events": ["user.create"]}), "events"),
    ] {
        let res = app.api(Method::POST, &base, &app.operator_key).json(&body).send().await.unwrap();
        let p = problem(res, StatusCode::BAD_REQUEST).await;
        assert_eq!(p["errors"][0]["field"], field, "{body}: {p}");
    }
    let res = app
        .api(Method::POST, "/api/v1/applications/nope/webhooks", &app.operator_key)
        .json(&json!({"url": "https://hooks.example/x", "events": ["*"]}))
        .send()
        .await
        .unwrap();
    problem(res, StatusCode::NOT_FOUND).await;
    app.create_enterprise("acme").await;
    let admin = app.enterprise_key("acme");
    let res = app.api(Method::GET, &base, &admin).send().await.unwrap();
    problem(res, StatusCode::FORBIDDEN).await;

    let res = app.api(Method::DELETE, &format!("{base}/{id}"), &app.operator_key).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = app.api(Method::GET, &format!("{base}/{id}"), &app.operator_key).send().await.unwrap();
    problem(res, StatusCode::NOT_FOUND).await;
}

/// Each change writes its event with it; a refused change writes none; the events API filters
/// by kind and enterprise and shows an enterprise's admin their own events only.
async fn changes_write_their_events_and_refusals_none(app: TestApp) {
    let idp = Idp::new(&app, "acme", "Okta SCIM Client 1.0.0").await;
    app.create_enterprise("globex").await;
    app.create_organization("globex", "web").await;
    let ada = idp.create_user("ada@acme.test").await;
    let bob = idp.create_user("bob@acme.test").await;
    let (status, group) = idp
        .post(
            "/Groups",
            json!({"schemas": [scim::schemas::GROUP], "displayName": "Developers", "members": [{"value": ada}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let group_id = group["id"].as_str().unwrap();
    let before = all_events(&app, &app.operator_key, "", 1000).await;

    // A PATCH naming a stranger fails whole: no member is added, no event is written.
    let (status, _) = idp
        .patch(
            &format!("/Groups/{group_id}"),
            json!({"schemas": [scim::schemas::PATCH_OP], "Operations": [
                {"op": "add", "path": "members", "value": [{"value": bob}, {"value": "no-such-user"}]}
            ]}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(all_events(&app, &app.operator_key, "", 1000).await, before, "a failed PATCH emits nothing");

    let (status, _) = idp
        .patch(
            &format!("/Groups/{group_id}"),
            json!({"schemas": [scim::schemas::PATCH_OP], "Operations": [
                {"op": "add", "path": "members", "value": [{"value": bob}]},
                {"op": "remove", "path": format!("members[value eq \"{ada}\"]")}
            ]}),
        )
        .await;
    assert!(status.is_success(), "{status}");
    let (status, _) = idp
        .patch(
            &format!("/Users/{bob}"),
            json!({"schemas": [scim::schemas::PATCH_OP], "Operations": [{"op": "replace", "path": "active", "value": false}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let events = all_events(&app, &app.operator_key, "", 3).await;
    for e in &events {
        well_formed(e);
    }
    let cursors: Vec<i64> = events.iter().map(|e| e["cursor"].as_str().unwrap().parse().unwrap()).collect();
    assert!(cursors.windows(2).all(|w| w[0] < w[1]), "cursor order: {cursors:?}");
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    let acme: Vec<&str> =
        events.iter().filter(|e| e["enterprise"] == "acme").map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        acme,
        [
            "user.created",
            "user.created",
            "group.created",
            "group.members_added",
            "group.members_added",
            "group.members_removed",
            "user.deactivated"
        ],
        "{events:#?}"
    );
    assert!(kinds.contains(&"organization.created"));
    let added = events.iter().filter(|e| e["type"] == "group.members_added").nth(1).unwrap();
    assert_eq!(added["data"]["user_ids"], json!([bob]));
    assert_eq!(added["data"]["group"]["display_name"], "Developers");
    let removed = events.iter().find(|e| e["type"] == "group.members_removed").unwrap();
    assert_eq!(removed["data"]["user_ids"], json!([ada]));
    assert_eq!(added["operation_id"], removed["operation_id"], "one request, one operation");
    let deactivated = events.iter().find(|e| e["type"] == "user.deactivated").unwrap();
    assert_eq!(deactivated["data"]["user"]["id"], bob.as_str());
    assert_eq!(deactivated["data"]["user"]["active"], false);

    // Filters, and an enterprise's admin sees their own events only.
    let users = all_events(&app, &app.operator_key, "&types=user.*", 100).await;
    assert!(users.iter().all(|e| e["type"].as_str().unwrap().starts_with("user.")) && users.len() == 3);
    let globex = all_events(&app, &app.operator_key, "&enterprise=globex", 100).await;
    assert!(!globex.is_empty() && globex.iter().all(|e| e["enterprise"] == "globex"));
    let admin = app.enterprise_key("acme");
    let own = all_events(&app, &admin, "", 100).await;
    assert_eq!(own.len(), acme.len(), "{own:#?}");
    let res = app.api(Method::GET, "/api/v1/events?enterprise=globex", &admin).send().await.unwrap();
    problem(res, StatusCode::NOT_FOUND).await;
    let res = app.api(Method::GET, "/api/v1/events?types=users.*", &admin).send().await.unwrap();
    problem(res, StatusCode::BAD_REQUEST).await;
    let res = app.api(Method::GET, "/api/v1/events?after=x", &admin).send().await.unwrap();
    problem(res, StatusCode::BAD_REQUEST).await;
    // Paging on from the last cursor answers nothing more, and the same cursor back.
    let last = events.last().unwrap()["cursor"].as_str().unwrap();
    let page: Value = app
        .api(Method::GET, &format!("/api/v1/events?after={last}"), &app.operator_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page, json!({"data": [], "next_cursor": last}));
}

/// A PATCH of 2,500 members into a group that feeds three organizations writes a bounded
/// number of events: the ids in batches of 1,000, and one membership change per organization.
async fn a_large_patch_writes_a_bounded_number_of_events(app: TestApp) {
    let idp = Idp::new(&app, "acme", "Okta SCIM Client 1.0.0").await;
    for org in ["web", "api", "ops"] {
        app.create_organization("acme", org).await;
    }
    let (status, group) =
        idp.post("/Groups", json!({"schemas": [scim::schemas::GROUP], "displayName": "Everyone"})).await;
    assert_eq!(status, StatusCode::CREATED);
    let group_id = group["id"].as_str().unwrap().to_owned();
    let res = app
        .api(Method::POST, "/api/v1/enterprises/acme/group-mappings/map-all", &app.operator_key)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    app.directory.run_jobs_until_idle().unwrap();
    let enterprise: Value =
        app.api(Method::GET, "/api/v1/enterprises/acme", &app.operator_key).send().await.unwrap().json().await.unwrap();
    let actor = directory::Actor::ScimToken {
        id: "t".into(),
        prefix: "t".into(),
        enterprise_id: enterprise["id"].as_str().unwrap().to_owned().into(),
    };
    let ids: Vec<String> = (0..2500)
        .map(|i| {
            let data = directory::provisioning::ScimUserData {
                user_name: format!("u{i}@acme.test"),
                email: None,
                name: String::new(),
                external_id: None,
                active: true,
                profile: "{}".into(),
            };
            app.directory.scim_create_user(&directory::Ctx::new(&actor, None), &data).unwrap().id.to_string()
        })
        .collect();
    let before = all_events(&app, &app.operator_key, "", 1000).await.len();
    let members: Vec<Value> = ids.iter().map(|id| json!({"value": id})).collect();
    let (status, _) = idp
        .patch(
            &format!("/Groups/{group_id}"),
            json!({"schemas": [scim::schemas::PATCH_OP], "Operations": [{"op": "add", "path": "members", "value": members}]}),
        )
        .await;
    assert!(status.is_success());
    let events = all_events(&app, &app.operator_key, "", 1000).await;
    let new = &events[before..];
    let kinds: BTreeMap<&str, usize> = new.iter().fold(BTreeMap::new(), |mut m, e| {
        *m.entry(e["type"].as_str().unwrap()).or_default() += 1;
        m
    });
    assert_eq!(kinds, BTreeMap::from([("group.members_added", 3), ("organization.membership_changed", 3)]));
    let carried: BTreeSet<&str> = new
        .iter()
        .filter(|e| e["type"] == "group.members_added")
        .flat_map(|e| e["data"]["user_ids"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()))
        .collect();
    assert_eq!(carried.len(), 2500, "every id once");
    let orgs: BTreeSet<&str> = new
        .iter()
        .filter(|e| e["type"] == "organization.membership_changed")
        .map(|e| e["data"]["organization"]["key"].as_str().unwrap())
        .collect();
    assert_eq!(orgs, BTreeSet::from(["api", "ops", "web"]));
}

/// Writers on several connections pools (as several instances would be) while a reader pages
/// through the log: the reader sees every event exactly once, in cursor order, and nothing ever
/// appears behind a cursor it passed.
async fn readers_see_every_event_once_under_concurrent_writers(app: TestApp) {
    use directory::{Actor, Ctx, Directory, SystemClock};
    app.create_enterprise("acme").await;
    let url = app.directory_url();
    let writers: Vec<_> = (0..6)
        .map(|w| {
            let url = url.clone();
            std::thread::spawn(move || {
                let dir = Directory::connect(&url, 2, std::sync::Arc::new(SystemClock)).unwrap();
                let actor = Actor::System;
                for i in 0..50 {
                    let input = directory::user::NewUser {
                        login: format!("w{w}-{i}@acme.test"),
                        email: None,
                        name: Some(format!("Writer {w} number {i}")),
                    };
                    dir.create_local_user(&Ctx::new(&actor, None), "acme", input).unwrap();
                }
            })
        })
        .collect();
    // Read while they write, a few events at a time, from the last cursor seen.
    let mut seen: Vec<Value> = Vec::new();
    let mut after = String::new();
    let started = Instant::now();
    loop {
        let writing = writers.iter().any(|w| !w.is_finished());
        let page: Value = app
            .api(Method::GET, &format!("/api/v1/events?after={after}&limit=7&types=user.created"), &app.operator_key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let data = page["data"].as_array().unwrap();
        seen.extend(data.iter().cloned());
        after = page["next_cursor"].as_str().unwrap().to_owned();
        if !writing && data.is_empty() {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(120), "the writers never finished");
    }
    for w in writers {
        w.join().unwrap();
    }
    let everything = all_events(&app, &app.operator_key, "&types=user.created", 1000).await;
    assert_eq!(everything.len(), 300);
    let ids = |v: &[Value]| v.iter().map(|e| e["id"].as_str().unwrap().to_owned()).collect::<Vec<_>>();
    let (seen, everything) = (ids(&seen), ids(&everything));
    let missed: Vec<&String> = everything.iter().filter(|id| !seen.contains(id)).collect();
    assert!(
        missed.is_empty(),
        "the reader passed {} events that committed behind its cursor: {missed:?}",
        missed.len()
    );
    assert_eq!(seen, everything, "the reader saw every event once, in order");
}

/// Deliveries as an independent verifier checks them: every message verifies, each user's
/// events arrive in order, and a receiver that was down for a minute gets every event after it
/// comes back (retried with backoff). A rotated secret overlaps with the previous one.
async fn deliveries_verify_arrive_in_order_and_survive_an_outage(app: TestApp) {
    if !available(Tool::WebhookVerifier) {
        return;
    }
    let client = application(&app).await;
    // The receiver learns the secret only once Portico made it: start it after.
    let mut probe = Receiver::start(&[]);
    let url = probe.url();
    let (id, secret) = endpoint(&app, &client, &url, json!(["user.*", "group.*"])).await;
    probe.stop();
    let mut receiver = Receiver::start_failing(&[&secret], 2);
    assert_ne!(receiver.port, 0);
    // Point the endpoint at the receiver (its port changed).
    let res = app
        .api(Method::PATCH, &format!("/api/v1/applications/{client}/webhooks/{id}"), &app.operator_key)
        .json(&json!({"url": receiver.url()}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    let idp = Idp::new(&app, "acme", "Okta SCIM Client 1.0.0").await;
    let mut users = Vec::new();
    for n in 0..5 {
        let id = idp.create_user(&format!("p{n}@acme.test")).await;
        for name in ["Second", "Third"] {
            let (status, _) = idp
                .patch(
                    &format!("/Users/{id}"),
                    json!({"schemas": [scim::schemas::PATCH_OP], "Operations": [
                        {"op": "replace", "path": "displayName", "value": format!("{name} name")}
                    ]}),
                )
                .await;
            assert_eq!(status, StatusCode::OK);
        }
        users.push(id);
    }
    let expected = 15;
    let verified = |got: &[Value]| got.iter().filter(|m| m["event"].is_object()).count();
    let got = receiver.wait_for(Duration::from_secs(60), "every event delivered", |g| verified(g) >= expected).await;
    check_order(&got, &users, 3);
    assert!(got.iter().filter(|m| m["event"].is_null()).count() == 0, "all verified (503s are not recorded)");

    // Down for a minute: events written meanwhile wait, and arrive when it is back.
    receiver.stop();
    let down = Instant::now();
    for id in &users {
        let (status, _) = idp
            .patch(
                &format!("/Users/{id}"),
                json!({"schemas": [scim::schemas::PATCH_OP], "Operations": [{"op": "replace", "path": "active", "value": false}]}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    // Rotate while it is down: the messages carry both signatures during the overlap.
    let res = app
        .api(Method::POST, &format!("/api/v1/applications/{client}/webhooks/{id}/rotate-secret"), &app.operator_key)
        .send()
        .await
        .unwrap();
    let rotated: Value = res.json().await.unwrap();
    let new_secret = rotated["secret"].as_str().unwrap().to_owned();
    // The deactivations wait in the delivery log, retried while the receiver is down.
    let started = Instant::now();
    loop {
        let log: Value = app
            .api(Method::GET, &format!("/api/v1/applications/{client}/webhooks/{id}/deliveries"), &app.operator_key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let pending = log["data"].as_array().unwrap().iter().filter(|d| d["state"] == "pending").count();
        if pending == 5 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "{log}");
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    while down.elapsed() < DOWN_FOR {
        actix_web::rt::time::sleep(Duration::from_millis(500)).await;
    }
    let failing: Value = app
        .api(Method::GET, &format!("/api/v1/applications/{client}/webhooks/{id}"), &app.operator_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(failing["failing_since"].is_string(), "the endpoint shows it is failing: {failing}");
    receiver.secrets = vec![secret.clone(), new_secret.clone()];
    receiver.restart();
    let got = receiver
        .wait_for(Duration::from_secs(60), "every event after the outage", |g| verified(g) >= expected + 5)
        .await;
    check_order(&got, &users, 4);
    let after: Vec<&Value> = got.iter().skip_while(|m| m["event"]["type"] != "user.deactivated").collect();
    assert!(
        after.iter().all(|m| m["verified_with"] == json!([0, 1])),
        "both secrets sign during the overlap: {after:?}"
    );
    let recovered: Value = app
        .api(Method::GET, &format!("/api/v1/applications/{client}/webhooks/{id}"), &app.operator_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(recovered["failing_since"].is_null(), "{recovered}");
    // The log shows each attempt; a resend sends the same message again.
    let log: Value = app
        .api(Method::GET, &format!("/api/v1/applications/{client}/webhooks/{id}/deliveries"), &app.operator_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let one = &log["data"][0];
    assert_eq!(one["state"], "delivered", "{log}");
    assert!(one["attempts"].as_i64().unwrap() >= 2, "it failed while the receiver was down: {one}");
    let attempts: Value = app
        .api(
            Method::GET,
            &format!("/api/v1/applications/{client}/deliveries/{}", one["id"].as_str().unwrap()),
            &app.operator_key,
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let attempts = attempts.as_array().unwrap();
    assert_eq!(attempts[0]["status"], 204);
    assert!(attempts.last().unwrap()["error"].is_string(), "{attempts:?}");
    let res = app
        .api(
            Method::POST,
            &format!("/api/v1/applications/{client}/deliveries/{}/resend", one["id"].as_str().unwrap()),
            &app.operator_key,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let message = one["message_id"].as_str().unwrap().to_owned();
    receiver
        .wait_for(Duration::from_secs(30), "the resent message", |g| {
            g.iter().filter(|m| m["webhook_id"] == message.as_str()).count() == 2
        })
        .await;
}

/// How long the receiver stays down.
const DOWN_FOR: Duration = Duration::from_secs(60);

/// Each of `users`' events arrived in the order they were written (cursor order), and each
/// user has `count` of them; duplicates (at least once) carry the same `webhook-id`.
fn check_order(got: &[Value], users: &[String], count: usize) {
    let mut first_seen: BTreeMap<String, i64> = BTreeMap::new();
    for m in got.iter().filter(|m| m["event"].is_object()) {
        let e = &m["event"];
        assert_eq!(m["webhook_id"], e["id"], "webhook-id is the event's id");
        well_formed(e);
        first_seen
            .entry(e["id"].as_str().unwrap().to_owned())
            .or_insert(e["cursor"].as_str().unwrap().parse().unwrap());
    }
    for user in users {
        let cursors: Vec<i64> = got
            .iter()
            .filter(|m| m["event"]["data"]["user"]["id"] == user.as_str())
            .map(|m| m["event"]["cursor"].as_str().unwrap().parse().unwrap())
            .fold(Vec::new(), |mut v, c| {
                if !v.contains(&c) {
                    v.push(c);
                }
                v
            });
        assert_eq!(cursors.len(), count, "{user}: {cursors:?}");
        assert!(cursors.windows(2).all(|w| w[0] < w[1]), "{user}'s events in order: {cursors:?}");
    }
}

crate::both_backends!(
    in fast with [
        ("PORTICO__WEBHOOKS__RETRY_BASE_SECS", "0.2"),
        ("PORTICO__WEBHOOKS__RETRY_MAX_INTERVAL_SECS", "3"),
        ("PORTICO__WEBHOOKS__POLL_MS", "100"),
    ];
    endpoints_are_managed_over_the_api,
    changes_write_their_events_and_refusals_none,
    a_large_patch_writes_a_bounded_number_of_events,
    readers_see_every_event_once_under_concurrent_writers,
    deliveries_verify_arrive_in_order_and_survive_an_outage,
);

/// Settings that make a process retry quickly.
const QUICK: &[(&str, &str)] = &[
    ("PORTICO__WEBHOOKS__TIMEOUT_SECS", "2"),
    ("PORTICO__WEBHOOKS__RETRY_BASE_SECS", "0.2"),
    ("PORTICO__WEBHOOKS__RETRY_MAX_INTERVAL_SECS", "2"),
    ("PORTICO__WEBHOOKS__POLL_MS", "100"),
];

mod processes {
    use super::*;
    use crate::instances::{Cluster, Instance};
    use directory::Backend;
    use directory::testing::TestDatabase;

    async fn ready(client: &reqwest::Client, instance: &Instance) {
        let started = Instant::now();
        loop {
            let res = client.get(instance.at("/readyz")).send().await;
            if res.is_ok_and(|r| r.status() == StatusCode::OK) {
                return;
            }
            assert!(started.elapsed() < Duration::from_secs(60), "{} never became ready", instance.base);
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A free loopback port, nobody listening on it yet.
    fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
    }

    /// Changes committed while the receiver is down, then the process killed (SIGKILL, by
    /// process id) before it could deliver them: a new process delivers every one.
    async fn killed_between_commit_and_delivery(backend: Backend) {
        if !available(Tool::WebhookVerifier) {
            return;
        }
        let Some(db) = TestDatabase::new(backend) else { return };
        let data = tempfile::tempdir().unwrap();
        let client = reqwest::Client::builder().pool_idle_timeout(Duration::from_secs(2)).build().unwrap();
        let mut first = Instance::start(&db, data.path(), QUICK);
        ready(&client, &first).await;
        let dir = directory::Directory::connect(&db.url, 2, std::sync::Arc::new(directory::SystemClock)).unwrap();
        let key = dir.create_api_key(&directory::Ctx::new(&directory::Actor::System, None), None, "t").unwrap().token;
        let api = |i: &Instance, m: Method, p: &str| client.request(m, i.at(p)).bearer_auth(&key);
        let app: Value = api(&first, Method::POST, "/api/v1/applications")
            .json(&json!({"name": "Host", "redirect_uris": ["https://app.example/cb"]}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let client_id = app["client_id"].as_str().unwrap();
        let port = free_port();
        let made: Value = api(&first, Method::POST, &format!("/api/v1/applications/{client_id}/webhooks"))
            .json(&json!({"url": format!("http://127.0.0.1:{port}/hooks"), "events": ["organization.*"]}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let secret = made["secret"].as_str().unwrap().to_owned();
        let res = api(&first, Method::POST, "/api/v1/enterprises")
            .json(&json!({"key": "acme", "name": "Acme"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
        for n in 0..10 {
            let res = api(&first, Method::POST, "/api/v1/enterprises/acme/organizations")
                .json(&json!({"key": format!("org{n}"), "name": format!("Org {n}")}))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::CREATED);
        }
        let _ = first.child.kill();
        let _ = first.child.wait();

        // The receiver comes up on the port the endpoint names, then a new process starts.
        let mut receiver = Receiver::start(&[&secret]);
        receiver.stop();
        receiver.port = port;
        receiver.restart();
        let second = Instance::start(&db, data.path(), QUICK);
        ready(&client, &second).await;
        let got = receiver
            .wait_for(Duration::from_secs(60), "every event after the restart", |g| {
                g.iter().filter(|m| m["event"]["type"] == "organization.created").count() >= 10
            })
            .await;
        let keys: BTreeSet<&str> = got
            .iter()
            .filter(|m| m["event"]["type"] == "organization.created")
            .map(|m| m["event"]["data"]["organization"]["key"].as_str().unwrap())
            .collect();
        assert_eq!(keys.len(), 10, "{got:?}");
        assert!(got.iter().all(|m| !m["verified_with"].as_array().unwrap().is_empty()));
        drop(second);
    }

    #[actix_web::test]
    async fn sqlite_killed_between_commit_and_delivery_loses_nothing() {
        killed_between_commit_and_delivery(Backend::Sqlite).await;
    }

    #[actix_web::test]
    async fn postgres_killed_between_commit_and_delivery_loses_nothing() {
        killed_between_commit_and_delivery(Backend::Postgres).await;
    }

    /// Three instances on one PostgreSQL, changes made through each in turn, two endpoints:
    /// every event reaches each endpoint, one delivery per event and endpoint; a message that
    /// came twice (at least once) carries the same webhook-id.
    #[actix_web::test]
    async fn three_instances_deliver_each_event_once_per_endpoint() {
        if !available(Tool::WebhookVerifier) {
            return;
        }
        let Some(db) = TestDatabase::new(Backend::Postgres) else { return };
        let cluster = Cluster::start(&db, QUICK).await;
        let app = cluster
            .created(0, "/api/v1/applications", json!({"name": "Host", "redirect_uris": ["https://app.example/cb"]}))
            .await;
        let client_id = app["client_id"].as_str().unwrap();
        let mut receivers = Vec::new();
        for n in 0..2 {
            let port = free_port();
            let made = cluster
                .created(
                    n,
                    &format!("/api/v1/applications/{client_id}/webhooks"),
                    json!({"url": format!("http://127.0.0.1:{port}/hooks"), "events": ["organization.created"]}),
                )
                .await;
            let mut r = Receiver::start(&[made["secret"].as_str().unwrap()]);
            r.stop();
            r.port = port;
            r.restart();
            receivers.push((made["id"].as_str().unwrap().to_owned(), r));
        }
        cluster.created(0, "/api/v1/enterprises", json!({"key": "acme", "name": "Acme"})).await;
        let total = 60;
        for n in 0..total {
            cluster
                .created(
                    n % 3,
                    "/api/v1/enterprises/acme/organizations",
                    json!({"key": format!("org{n}"), "name": format!("Org {n}")}),
                )
                .await;
        }
        for (endpoint, r) in &receivers {
            let got = r
                .wait_for(Duration::from_secs(60), "every event at each endpoint", |g| {
                    g.iter().map(|m| m["webhook_id"].as_str().unwrap()).collect::<BTreeSet<_>>().len() >= total
                })
                .await;
            let mut per_id: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
            for m in &got {
                per_id.entry(m["webhook_id"].as_str().unwrap()).or_default().push(&m["event"]);
            }
            assert_eq!(per_id.len(), total);
            for (id, copies) in &per_id {
                assert!(copies.iter().all(|e| e["id"] == *id), "a copy is the same message");
            }
            // A message the receiver has may be recorded a moment after it was sent.
            let started = Instant::now();
            let log = loop {
                let log: Value = cluster
                    .api(
                        0,
                        Method::GET,
                        &format!("/api/v1/applications/{client_id}/webhooks/{endpoint}/deliveries?limit=500"),
                    )
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                let recorded = log["data"].as_array().unwrap().iter().all(|d| d["state"] == "delivered");
                if recorded || started.elapsed() > Duration::from_secs(20) {
                    break log;
                }
                actix_web::rt::time::sleep(Duration::from_millis(100)).await;
            };
            let rows = log["data"].as_array().unwrap();
            assert_eq!(rows.len(), total, "one delivery per event");
            assert!(rows.iter().all(|d| d["state"] == "delivered"), "{log}");
            let messages: BTreeSet<&str> = rows.iter().map(|d| d["message_id"].as_str().unwrap()).collect();
            assert_eq!(messages.len(), total);
        }
        drop(cluster);
    }
}

/// Failures over days, on a clock the test moves: a delivery still failing a day after its
/// event is marked failed; an endpoint that never succeeds for five days is disabled, with a
/// `webhook_endpoint.disabled` event and its reason.
async fn an_endpoint_failing_for_days_is_disabled(app: TestApp, clock: std::sync::Arc<crate::provider::OffsetClock>) {
    let client = application(&app).await;
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (id, _) = endpoint(&app, &client, &format!("http://127.0.0.1:{dead}/hooks"), json!(["organization.*"])).await;
    app.create_enterprise("acme").await;
    app.create_organization("acme", "web").await;
    let log_of = || async {
        let log: Value = app
            .api(Method::GET, &format!("/api/v1/applications/{client}/webhooks/{id}/deliveries"), &app.operator_key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        log["data"].as_array().unwrap().clone()
    };
    let started = Instant::now();
    while log_of().await.first().is_none_or(|d| d["attempts"].as_i64().unwrap() < 1) {
        assert!(started.elapsed() < Duration::from_secs(20), "no attempt was made");
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    let first = log_of().await[0].clone();
    assert_eq!(first["state"], "pending");
    assert_eq!(first["last_error"], "could not connect", "{first}");

    // A day later, the next failure is the last.
    clock.advance(25 * 3600);
    let started = Instant::now();
    while log_of().await[0]["state"] != "failed" {
        assert!(started.elapsed() < Duration::from_secs(20), "{:?}", log_of().await);
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    let hook: Value = app
        .api(Method::GET, &format!("/api/v1/applications/{client}/webhooks/{id}"), &app.operator_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(hook["enabled"], true, "a day of failures does not disable it");

    // Five days without a success: disabled, with an event saying why.
    clock.advance(5 * 86_400);
    app.create_organization("acme", "api").await;
    let started = Instant::now();
    let hook = loop {
        let hook: Value = app
            .api(Method::GET, &format!("/api/v1/applications/{client}/webhooks/{id}"), &app.operator_key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if hook["enabled"] == false {
            break hook;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "{hook}");
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(hook["disabled_reason"].as_str().unwrap().contains("failed for 5 days"), "{hook}");
    let events = all_events(&app, &app.operator_key, "&types=webhook_endpoint.disabled", 100).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["data"]["endpoint"]["id"], id.as_str());
    // Enabled again, it starts afresh.
    let res = app
        .api(Method::PATCH, &format!("/api/v1/applications/{client}/webhooks/{id}"), &app.operator_key)
        .json(&json!({"enabled": true}))
        .send()
        .await
        .unwrap();
    let hook: Value = res.json().await.unwrap();
    assert!(hook["disabled_reason"].is_null() && hook["failing_since"].is_null(), "{hook}");

    // A month on, the retention job prunes what is older than 30 days but the newest event, and
    // cursors go on from there.
    let before = all_events(&app, &app.operator_key, "", 1000).await;
    assert!(before.len() >= 3, "{before:?}");
    clock.advance(31 * 86_400);
    let cut = app.directory.now() - chrono::Duration::days(30);
    let pruned = app.directory.prune_events(cut).unwrap();
    assert_eq!(pruned, before.len() - 1);
    let after = all_events(&app, &app.operator_key, "", 1000).await;
    assert_eq!(after, before[before.len() - 1..].to_vec());
    app.create_organization("acme", "ops").await;
    let newest = all_events(&app, &app.operator_key, "", 1000).await;
    let cursor = |e: &Value| e["cursor"].as_str().unwrap().parse::<i64>().unwrap();
    assert!(cursor(newest.last().unwrap()) > cursor(before.last().unwrap()), "{newest:?}");
}

mod with_a_clock {
    use std::sync::Arc;

    use directory::Backend;

    use crate::helpers::TestApp;
    use crate::provider::OffsetClock;

    async fn run(backend: Backend) {
        let clock = Arc::new(OffsetClock::default());
        let Some(app) = TestApp::spawn_with_clock(backend, super::QUICK, clock.clone()).await else { return };
        let server = app.server.clone();
        super::an_endpoint_failing_for_days_is_disabled(app, clock).await;
        server.stop(false).await;
    }

    #[actix_web::test]
    async fn failing_endpoint_sqlite() {
        run(Backend::Sqlite).await;
    }

    #[actix_web::test]
    async fn failing_endpoint_postgres() {
        run(Backend::Postgres).await;
    }
}

/// Every kind of event, made by the changes that write it, checked against the published JSON
/// Schema (`docs/schemas/event-v1.json`) by an independent validator (check-jsonschema); the
/// schema names exactly the kinds Portico writes.
async fn every_kind_matches_its_published_schema(app: TestApp) {
    if !available(Tool::DeployValidators) {
        return;
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let schema_path = root.join("docs/schemas/event-v1.json");
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(&schema_path).unwrap()).unwrap();
    let published: BTreeSet<&str> =
        schema["properties"]["type"]["enum"].as_array().unwrap().iter().map(|k| k.as_str().unwrap()).collect();
    assert_eq!(published, directory::event::KINDS.iter().copied().collect::<BTreeSet<_>>());

    let op = |m: Method, p: &str| app.api(m, p, &app.operator_key);
    let ok = |res: reqwest::Response| async move {
        assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    };
    let system = directory::Actor::System;
    let ctx = directory::Ctx::new(&system, None);
    // A connection set up, tested, enabled, opened to IdP-initiated sign-ins, then sign-ins.
    let s = crate::saml::setup(&app).await;
    app.directory.record_test_result(&s.id.as_str().into(), true, None, &json!({}), None).unwrap();
    ok(op(Method::POST, &format!("/api/v1/enterprises/acme/connections/{}/enable", s.id)).send().await.unwrap()).await;
    ok(op(Method::PATCH, &format!("/api/v1/enterprises/acme/connections/{}", s.id))
        .json(&json!({"saml": {"sso_url": "https://idp.test/sso", "idp_entity_id": s.idp.entity_id,
            "certificates": [s.idp.cert_pem()], "allow_idp_initiated": true}}))
        .send()
        .await
        .unwrap())
    .await;
    let response = s.idp.response(&crate::saml::answer(&s, None, "ada", &["Developers", "Ops"]));
    let res = crate::saml::post_acs(&app, &s, &response).await;
    assert!(res.status().is_redirection(), "{}", res.status());
    let res = crate::saml::post_acs(&app, &s, &response).await;
    assert!(!res.status().is_redirection(), "a replay is refused");
    let again = s.idp.response(&crate::saml::answer(&s, None, "ada", &["Ops"]));
    assert!(crate::saml::post_acs(&app, &s, &again).await.status().is_redirection());
    // Local people, organizations and an admin's own group members.
    ok(op(Method::POST, "/api/v1/enterprises/acme/users")
        .json(&json!({"login": "bob", "name": "Bob"}))
        .send()
        .await
        .unwrap())
    .await;
    app.directory.add_group_member(&ctx, "acme", "eng", "Developers", "bob").unwrap();
    app.directory.remove_group_member(&ctx, "acme", "eng", "Developers", "bob").unwrap();
    ok(op(Method::PATCH, "/api/v1/enterprises/acme/users/bob").json(&json!({"name": "Bob B."})).send().await.unwrap())
        .await;
    for active in [false, true] {
        ok(op(Method::PATCH, "/api/v1/enterprises/acme/users/bob")
            .json(&json!({"active": active}))
            .send()
            .await
            .unwrap())
        .await;
    }
    ok(op(Method::DELETE, "/api/v1/enterprises/acme/users/bob").send().await.unwrap()).await;
    app.create_organization("acme", "ops").await;
    ok(op(Method::PATCH, "/api/v1/enterprises/acme/organizations/ops")
        .json(&json!({"name": "Operations"}))
        .send()
        .await
        .unwrap())
    .await;
    ok(op(Method::POST, "/api/v1/enterprises/acme/group-mappings/map-all").send().await.unwrap()).await;
    app.directory.run_jobs_until_idle().unwrap();
    ok(op(Method::PUT, "/api/v1/enterprises/acme/organizations/ops/group-mappings")
        .json(&json!({"idp_groups": []}))
        .send()
        .await
        .unwrap())
    .await;
    ok(op(Method::DELETE, "/api/v1/enterprises/acme/organizations/ops").send().await.unwrap()).await;
    // SCIM takes over.
    ok(op(Method::PATCH, "/api/v1/enterprises/acme").json(&json!({"provisioning_mode": "scim"})).send().await.unwrap())
        .await;
    let res = op(Method::POST, "/api/v1/enterprises/acme/scim-tokens").send().await.unwrap();
    let token: Value = res.json().await.unwrap();
    let idp = crate::scim::Idp {
        app: &app,
        base: app.url("/api/scim/v2/acme"),
        token: token["token"].as_str().unwrap().to_owned(),
        user_agent: "Okta SCIM Client 1.0.0",
    };
    let carol = idp.create_user("carol@acme.test").await;
    let (status, group) = idp
        .post(
            "/Groups",
            json!({"schemas": [scim::schemas::GROUP], "displayName": "Platform", "members": [{"value": carol}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let gid = group["id"].as_str().unwrap();
    let (status, _) = idp
        .patch(
            &format!("/Groups/{gid}"),
            json!({"schemas": [scim::schemas::PATCH_OP], "Operations": [
            {"op": "replace", "path": "displayName", "value": "Platform team"},
            {"op": "remove", "path": "members"}]}),
        )
        .await;
    assert!(status.is_success());
    assert!(idp.delete(&format!("/Groups/{gid}")).await.0.is_success());
    let (status, _) = idp
        .patch(
            &format!("/Users/{carol}"),
            json!({"schemas": [scim::schemas::PATCH_OP], "Operations": [
            {"op": "replace", "path": "active", "value": false}]}),
        )
        .await;
    assert!(status.is_success());
    assert!(idp.delete(&format!("/Users/{carol}")).await.0.is_success());
    ok(op(Method::POST, &format!("/api/v1/enterprises/acme/connections/{}/disable", s.id)).send().await.unwrap()).await;
    ok(op(Method::DELETE, &format!("/api/v1/enterprises/acme/connections/{}", s.id)).send().await.unwrap()).await;

    let events = all_events(&app, &app.operator_key, "", 1000).await;
    let seen: BTreeSet<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    let missing: Vec<&&str> =
        published.iter().filter(|k| !seen.contains(**k) && **k != "webhook_endpoint.disabled").collect();
    assert!(missing.is_empty(), "the scenario writes every kind but {missing:?}");
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<PathBuf> = events
        .iter()
        .enumerate()
        .map(|(n, e)| {
            let path = dir.path().join(format!("event-{n:04}.json"));
            std::fs::write(&path, e.to_string()).unwrap();
            path
        })
        .collect();
    let out = Command::new(root.join("deploy/.venv/bin/check-jsonschema"))
        .arg("--schemafile")
        .arg(&schema_path)
        .args(&files)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "events that do not match docs/schemas/event-v1.json:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The validator can fail: an event with a field the schema does not know is refused.
    let mut odd = events[0].clone();
    odd["data"]["surprise"] = json!(true);
    std::fs::write(&files[0], odd.to_string()).unwrap();
    let out = Command::new(root.join("deploy/.venv/bin/check-jsonschema"))
        .arg("--schemafile")
        .arg(&schema_path)
        .arg(&files[0])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

crate::both_backends!(in schema with []; every_kind_matches_its_published_schema);

/// With the outbound rules of a real installation (no private addresses), an endpoint Portico
/// would never send to is refused when it is made, naming the field, not at each delivery.
async fn endpoints_the_outbound_rules_refuse_are_refused_at_once(app: TestApp) {
    let client = application(&app).await;
    let base = format!("/api/v1/applications/{client}/webhooks");
    for url in ["https://10.0.0.5/hooks", "https://127.0.0.1/hooks", "https://[::1]/hooks", "http://localhost/hooks"] {
        let res = app
            .api(Method::POST, &base, &app.operator_key)
            .json(&json!({"url": url, "events": ["*"]}))
            .send()
            .await
            .unwrap();
        let p = problem(res, StatusCode::BAD_REQUEST).await;
        assert_eq!(p["errors"][0]["field"], "url", "{url}: {p}");
    }
    let res = app
        .api(Method::POST, &base, &app.operator_key)
        .json(&json!({"url": "https://hooks.example/in", "events": ["*"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let made: Value = res.json().await.unwrap();
    let res = app
        .api(Method::PATCH, &format!("{base}/{}", made["id"].as_str().unwrap()), &app.operator_key)
        .json(&json!({"url": "https://192.168.1.1/in"}))
        .send()
        .await
        .unwrap();
    problem(res, StatusCode::BAD_REQUEST).await;
}

crate::both_backends!(
    in public with [("PORTICO__SSO__ALLOW_PRIVATE_METADATA", "false")];
    endpoints_the_outbound_rules_refuse_are_refused_at_once
);
