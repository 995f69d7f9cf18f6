//! End-to-end SAML sign-ins per second, ACS through session, over HTTP on loopback, on SQLite
//! and (when reachable) PostgreSQL: `cargo bench -p gateway --bench signin`.
//!
//! Responses are signed beforehand (the IdP's work is not Portico's); each POST to the ACS is
//! verified, provisioned by JIT (half new users, half returning, ten groups each) and given a
//! session. On PostgreSQL the run also counts committed transactions per sign-in.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::sync::Arc;
use std::time::Instant;

use diesel::{Connection, RunQueryDsl};
use directory::connection::{NewConnection, Protocol, Provider, SamlSettings};
use directory::enterprise::NewEnterprise;
use directory::group::NewGroup;
use directory::organization::NewOrganization;
use directory::testing::TestDatabase;
use directory::{Actor, Backend, Ctx, Directory, SystemClock};
use gateway::config::Settings;
use gateway::startup::Application;
use sso::testing::{ResponseSpec, TestIdp};

const SIGN_INS: usize = 400;

#[derive(diesel::QueryableByName)]
struct Commits {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    xact_commit: i64,
}

fn commits(url: &str) -> Option<i64> {
    let mut c = diesel::PgConnection::establish(url).ok()?;
    diesel::sql_query("SELECT pg_stat_clear_snapshot()").execute(&mut c).ok()?;
    let rows: Vec<Commits> =
        diesel::sql_query("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")
            .load(&mut c)
            .ok()?;
    rows.first().map(|r| r.xact_commit)
}

async fn bench(db: TestDatabase) {
    let data = tempfile::tempdir().unwrap();
    let env = vec![
        ("PORTICO__SERVER__BIND".to_owned(), "127.0.0.1:0".to_owned()),
        ("PORTICO__DATABASE__URL".to_owned(), db.url.clone()),
        ("PORTICO__DATA__DIR".to_owned(), data.path().display().to_string()),
        ("PORTICO__LOG__LEVEL".to_owned(), "error".to_owned()),
        ("PORTICO__SSO__REQUESTS_PER_MINUTE".to_owned(), "1000000".to_owned()),
    ];
    let settings = Settings::load_from(None, env).unwrap();
    let dir = Directory::connect(&settings.database_url, settings.pool_size, Arc::new(SystemClock)).unwrap();
    dir.migrate().unwrap();
    let app = Application::build(settings, dir.clone()).unwrap();
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
    let before = commits(&db.url);
    let start = Instant::now();
    for body in &bodies {
        let res = client.post(&acs).form(&[("SAMLResponse", body.as_str())]).send().await.unwrap();
        assert_eq!(res.status(), 303, "every sign-in succeeds");
    }
    let elapsed = start.elapsed();
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    let after = commits(&db.url);
    println!(
        "{:?}: {SIGN_INS} sign-ins in {:.2} s = {:.0} sign-ins per second (sequential, ACS through session)",
        db.backend,
        elapsed.as_secs_f64(),
        SIGN_INS as f64 / elapsed.as_secs_f64()
    );
    if let (Some(b), Some(a)) = (before, after) {
        println!(
            "{:?}: {:.2} committed transactions per sign-in (1 writes; the others are single-statement reads)",
            db.backend,
            (a - b) as f64 / SIGN_INS as f64
        );
    }
}

fn main() {
    actix_web::rt::System::new().block_on(async {
        for backend in [Backend::Sqlite, Backend::Postgres] {
            if let Some(db) = TestDatabase::new(backend) {
                bench(db).await;
            }
        }
    });
}
