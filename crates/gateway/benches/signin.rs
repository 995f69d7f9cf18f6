//! End-to-end sign-ins per second over HTTP on loopback, SAML (ACS through session) and OpenID
//! Connect (callback through session), on SQLite and (when reachable) PostgreSQL:
//! `cargo bench -p gateway --bench signin`.
//!
//! SAML responses and ID tokens are signed beforehand (the identity provider's work is not
//! Portico's); each is verified, provisioned by JIT (half new users, half returning, ten groups
//! each) and given a session. For OpenID Connect every callback also exchanges its code at a
//! provider answering on loopback. On PostgreSQL the run also counts committed transactions per
//! sign-in.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::sync::Arc;
use std::time::Instant;

use diesel::{Connection, RunQueryDsl};
use directory::connection::{Mapping, NewConnection, OidcSettings, Protocol, Provider, SamlSettings};
use directory::enterprise::NewEnterprise;
use directory::group::NewGroup;
use directory::organization::NewOrganization;
use directory::testing::TestDatabase;
use directory::{Actor, Backend, Ctx, Directory, SystemClock};
use gateway::config::Settings;
use gateway::startup::Application;
use sso::testing::{ResponseSpec, TestIdp};

// The provider the sso crate's tests use, serving ID tokens filed by code.
#[allow(dead_code)]
#[path = "../../sso/tests/oidc/fake_op.rs"]
mod fake_op;

const SIGN_INS: usize = 400;

#[derive(diesel::QueryableByName)]
struct Commits {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    xact_commit: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    xid: i64,
}

/// The database's committed transactions, and the transaction id counter: PostgreSQL assigns an
/// id only to transactions that write, so its advance counts writing transactions (plus one for
/// this query's own `txid_current()`).
fn commits(url: &str) -> Option<(i64, i64)> {
    let mut c = diesel::PgConnection::establish(url).ok()?;
    diesel::sql_query("SELECT pg_stat_clear_snapshot()").execute(&mut c).ok()?;
    let rows: Vec<Commits> = diesel::sql_query(
        "SELECT xact_commit, txid_current() AS xid FROM pg_stat_database WHERE datname = current_database()",
    )
    .load(&mut c)
    .ok()?;
    rows.first().map(|r| (r.xact_commit, r.xid))
}

/// Waits until PostgreSQL's statistics include every transaction so far: an idle session
/// reports its counters within ten seconds (PGSTAT_IDLE_INTERVAL), a busy one once a second.
async fn settle(db: &TestDatabase) {
    if db.backend == Backend::Postgres {
        tokio::time::sleep(std::time::Duration::from_secs(11)).await;
    }
}

/// A running Portico on `db` with enterprise `acme`: five organizations of ten groups each.
async fn portico(db: &TestDatabase, data: &tempfile::TempDir) -> (Directory, String, Settings) {
    let env = vec![
        ("PORTICO__SERVER__BIND".to_owned(), "127.0.0.1:0".to_owned()),
        ("PORTICO__DATABASE__URL".to_owned(), db.url.clone()),
        ("PORTICO__DATA__DIR".to_owned(), data.path().display().to_string()),
        ("PORTICO__LOG__LEVEL".to_owned(), "error".to_owned()),
        ("PORTICO__SSO__REQUESTS_PER_MINUTE".to_owned(), "1000000".to_owned()),
        // The provider answers on loopback over plain HTTP.
        ("PORTICO__SSO__ALLOW_PRIVATE_METADATA".to_owned(), "true".to_owned()),
    ];
    let settings = Settings::load_from(None, env).unwrap();
    let dir = Directory::connect(&settings.database_url, settings.pool_size, Arc::new(SystemClock)).unwrap();
    dir.migrate().unwrap();
    let app = Application::build(settings.clone(), dir.clone()).unwrap();
    let base = app.public_url().trim_end_matches('/').to_owned();
    actix_web::rt::spawn(app.run_until_stopped());

    let actor = Actor::System;
    let ctx = Ctx::new(&actor, None);
    dir.create_enterprise(&ctx, NewEnterprise { key: "acme".into(), name: "Acme".into(), provisioning_mode: None })
        .unwrap();
    for o in 0..5 {
        dir.create_organization(&ctx, "acme", NewOrganization { key: format!("org-{o}"), name: format!("Org {o}") })
            .unwrap();
        for g in 0..10 {
            dir.create_group(
                &ctx,
                "acme",
                &format!("org-{o}"),
                NewGroup { name: format!("Team {g}"), description: None },
            )
            .unwrap();
        }
    }
    (dir, base, settings)
}

fn report(
    db: &TestDatabase,
    protocol: &str,
    elapsed: std::time::Duration,
    before: Option<(i64, i64)>,
    after: Option<(i64, i64)>,
) {
    println!(
        "{:?} {protocol}: {SIGN_INS} sign-ins in {:.2} s = {:.0} sign-ins per second (sequential)",
        db.backend,
        elapsed.as_secs_f64(),
        SIGN_INS as f64 / elapsed.as_secs_f64()
    );
    if let (Some((commits_before, xid_before)), Some((commits_after, xid_after))) = (before, after) {
        println!(
            "{:?} {protocol}: per sign-in {:.2} committed transactions, of which {:.2} wrote",
            db.backend,
            (commits_after - commits_before) as f64 / SIGN_INS as f64,
            (xid_after - xid_before - 1) as f64 / SIGN_INS as f64
        );
    }
}

async fn bench_saml(db: &TestDatabase) {
    let data = tempfile::tempdir().unwrap();
    let (dir, base, _) = portico(db, &data).await;
    let actor = Actor::System;
    let ctx = Ctx::new(&actor, None);
    let idp = TestIdp::new("bench-idp");
    let c = dir
        .create_connection(
            &ctx,
            "acme",
            NewConnection {
                protocol: Protocol::Saml,
                provider: Provider::Okta,
                saml: Some(SamlSettings {
                    idp_entity_id: idp.entity_id.clone(),
                    sso_url: "https://idp.example/sso".into(),
                    certificates: vec![sso::saml::Certificate::parse(&idp.cert_der).unwrap().base64()],
                    ..SamlSettings::default()
                }),
                mapping: None,
                oidc: None,
            },
        )
        .unwrap();
    dir.record_test_result(&c.id, true, None, &serde_json::json!({}), None).unwrap();
    dir.enable_connection(&ctx, "acme", &c.id).unwrap();
    let acs = format!("{base}/sso/saml/{}/acs", c.id);
    let entity = format!("{base}/sso/saml/{}/metadata", c.id);

    let mut bodies = Vec::with_capacity(SIGN_INS);
    for i in 0..SIGN_INS {
        let request = dir.begin_sso_request(&c.id, false, "/").unwrap();
        let mut spec = ResponseSpec::answering(&idp, chrono::Utc::now(), &acs, &entity, Some(&request));
        let login = format!("user{}", i % (SIGN_INS / 2));
        spec.attributes = vec![
            ("login".into(), vec![login.clone()]),
            ("email".into(), vec![format!("{login}@acme.example")]),
            ("name".into(), vec![format!("User {i}")]),
            ("groups".into(), (0..10).map(|g| format!("Team {g}")).collect()),
        ];
        bodies.push(idp.response(&spec));
    }
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    settle(db).await;
    let before = commits(&db.url);
    let start = Instant::now();
    for body in &bodies {
        let res = client.post(&acs).form(&[("SAMLResponse", body.as_str())]).send().await.unwrap();
        assert_eq!(res.status(), 303, "every sign-in succeeds");
    }
    let elapsed = start.elapsed();
    settle(db).await;
    report(db, "SAML", elapsed, before, commits(&db.url));
}

async fn bench_oidc(db: &TestDatabase) {
    let data = tempfile::tempdir().unwrap();
    let (dir, base, settings) = portico(db, &data).await;
    let actor = Actor::System;
    let ctx = Ctx::new(&actor, None);
    let op = fake_op::FakeOp::start(fake_op::Key::new("k1")).await;
    let c = dir
        .create_connection(
            &ctx,
            "acme",
            NewConnection {
                protocol: Protocol::Oidc,
                provider: Provider::Custom,
                saml: None,
                oidc: Some(OidcSettings {
                    issuer: op.issuer.clone(),
                    client_id: "portico".into(),
                    client_secret: gateway::secrets::seal(
                        &settings,
                        gateway::app::connections::CLIENT_SECRET_PURPOSE,
                        b"bench-secret",
                    )
                    .unwrap(),
                    scopes: vec!["openid".into(), "email".into(), "profile".into()],
                    okta_domain: None,
                    tenant_id: None,
                }),
                mapping: Some(Mapping {
                    login: Some("preferred_username".into()),
                    email: Some("email".into()),
                    name: Some("name".into()),
                    groups: Some("groups".into()),
                }),
            },
        )
        .unwrap();
    dir.record_test_result(&c.id, true, None, &serde_json::json!({}), None).unwrap();
    dir.enable_connection(&ctx, "acme", &c.id).unwrap();

    // Each sign-in is started the way a browser starts it, and its ID token signed for its nonce.
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let mut callbacks = Vec::with_capacity(SIGN_INS);
    for i in 0..SIGN_INS {
        let res = client.get(format!("{base}/login/sso?enterprise_key=acme")).send().await.unwrap();
        assert_eq!(res.status(), 302, "the sign-in starts");
        let cookies: Vec<String> = res
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
            .collect();
        let location = url::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
        let param = |name: &str| location.query_pairs().find(|(k, _)| k == name).unwrap().1.into_owned();
        let (state, nonce) = (param("state"), param("nonce"));
        let login = format!("user{}", i % (SIGN_INS / 2));
        let now = chrono::Utc::now().timestamp();
        let code = format!("code-{i}");
        {
            let mut s = op.state.lock().unwrap();
            s.claims = serde_json::json!({
                "iss": op.issuer, "aud": "portico", "sub": format!("sub-{login}"), "preferred_username": login,
                "email": format!("{login}@acme.example"), "name": format!("User {i}"), "iat": now,
                "exp": now + 3600, "nonce": nonce, "groups": (0..10).map(|g| format!("Team {g}")).collect::<Vec<_>>(),
            });
            let token = fake_op::id_token(&s);
            s.by_code.insert(code.clone(), token);
        }
        let url = format!("{base}/sso/oidc/{}/callback?code={code}&state={state}", c.id);
        callbacks.push((url, cookies.join("; ")));
    }
    settle(db).await;
    let before = commits(&db.url);
    let start = Instant::now();
    for (url, cookie) in &callbacks {
        let res = client.get(url).header("cookie", cookie).send().await.unwrap();
        assert_eq!(res.status(), 303, "every sign-in succeeds");
    }
    let elapsed = start.elapsed();
    settle(db).await;
    report(db, "OpenID Connect", elapsed, before, commits(&db.url));
    op.stop().await;
}

fn main() {
    actix_web::rt::System::new().block_on(async {
        for backend in [Backend::Sqlite, Backend::Postgres] {
            if let Some(db) = TestDatabase::new(backend) {
                bench_saml(&db).await;
            }
            if let Some(db) = TestDatabase::new(backend) {
                bench_oidc(&db).await;
            }
        }
    });
}
