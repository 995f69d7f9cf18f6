//! The OpenID Provider over HTTP on loopback, on SQLite and (when reachable) PostgreSQL:
//! `cargo bench -p gateway --bench provider`.
//!
//! 1. Token endpoint: authorization codes are issued beforehand, then exchanged (code, PKCE,
//!    client secret, a new access and refresh token, the person's claims, an RS256 ID token) by
//!    16 clients at once. Exchanges per CPU-second of the whole process (server and client) are
//!    set beside the raw RS256 signing rate of the same key, measured in the same run: per core,
//!    both, and the first is a lower bound (the client's work is counted too).
//! 2. The whole flow, sequential and with 16 clients: a browser signed in to its enterprise
//!    (authorization request, code, token exchange), and a browser that first signs in at the
//!    enterprise's SAML IdP (authorization request, IdP, ACS, resume, code, token exchange). The
//!    test IdP signs its responses in this process; its time is reported apart.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use directory::connection::{NewConnection, Protocol, Provider, SamlSettings};
use directory::enterprise::NewEnterprise;
use directory::group::NewGroup;
use directory::host_application::{EnterpriseScope, NewHostApplication, SigningAlg};
use directory::organization::NewOrganization;
use directory::provider::NewGrant;
use directory::testing::TestDatabase;
use directory::{Actor, Backend, Ctx, Directory, SystemClock};
use gateway::config::Settings;
use gateway::startup::Application;
use sso::testing::{ResponseSpec, TestIdp};

const EXCHANGES: usize = 1000;
const FLOWS: usize = 200;
const CLIENTS: usize = 16;
const SIGNATURES: usize = 2000;
const REDIRECT: &str = "http://127.0.0.1:9/cb";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn process_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> =
        stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

/// CPU time of this process's threads other than the main one: the server's workers and its
/// blocking pool. The bench's clients run on the main thread (connections to a loopback
/// address need no resolver thread), so this is Portico's own work.
fn server_cpu() -> Duration {
    let pid = std::process::id().to_string();
    let mut ticks = 0u64;
    for task in std::fs::read_dir("/proc/self/task").into_iter().flatten().flatten() {
        if task.file_name().to_string_lossy() == pid {
            continue;
        }
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        let fields: Vec<&str> =
            stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
        let field = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        ticks += field(11) + field(12);
    }
    Duration::from_millis(ticks * 10)
}

struct Setup {
    dir: Directory,
    settings: Settings,
    base: String,
    idp: Arc<TestIdp>,
    acs: String,
    entity: String,
    client_id: String,
    secret: String,
}

async fn portico(db: &TestDatabase, data: &tempfile::TempDir) -> Setup {
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
    let idp = Arc::new(TestIdp::new("bench-idp"));
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
    let app = dir
        .create_host_application(
            &ctx,
            NewHostApplication {
                name: "Bench".into(),
                public: false,
                redirect_uris: vec![REDIRECT.into()],
                post_logout_redirect_uris: vec![],
                backchannel_logout_uri: None,
                initiate_login_uri: None,
                enterprises: EnterpriseScope::All,
                id_token_alg: None,
                access_token_ttl_secs: None,
                id_token_ttl_secs: None,
                refresh_token_ttl_secs: None,
            },
        )
        .unwrap();
    Setup {
        acs: format!("{base}/sso/saml/{}/acs", c.id),
        entity: format!("{base}/sso/saml/{}/metadata", c.id),
        dir,
        settings,
        base,
        idp,
        client_id: app.application.client_id,
        secret: app.client_secret.unwrap(),
    }
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

fn authorize_url(s: &Setup, i: usize) -> String {
    format!(
        "{}/oauth2/authorize?response_type=code&client_id={}&redirect_uri={}&scope=openid%20profile%20email%20organizations&state=s{i}&nonce=n{i}&code_challenge={CHALLENGE}&code_challenge_method=S256&enterprise_key=acme",
        s.base,
        s.client_id,
        url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>()
    )
}

fn location(res: &reqwest::Response) -> String {
    res.headers()["location"].to_str().unwrap().to_owned()
}

fn code_of(location: &str) -> String {
    url::Url::parse(location).unwrap().query_pairs().find(|(k, _)| k == "code").expect("a code").1.into_owned()
}

/// One sign-in at the IdP through the provider; returns the code and the time the IdP spent
/// signing its response.
async fn through_idp(s: &Setup, b: &reqwest::Client, i: usize) -> (String, Duration) {
    let res = b.get(authorize_url(s, i)).send().await.unwrap();
    assert_eq!(res.status(), 302);
    let idp_url = url::Url::parse(&location(&res)).unwrap();
    let saml_request = idp_url.query_pairs().find(|(k, _)| k == "SAMLRequest").unwrap().1.into_owned();
    let request = request_id(&saml_request);
    let signing = Instant::now();
    let mut spec = ResponseSpec::answering(&s.idp, chrono::Utc::now(), &s.acs, &s.entity, Some(&request));
    let login = format!("user{}", i % 100);
    spec.attributes = vec![
        ("login".into(), vec![login.clone()]),
        ("email".into(), vec![format!("{login}@acme.example")]),
        ("groups".into(), (0..10).map(|g| format!("Team {g}")).collect()),
    ];
    let body = s.idp.response(&spec);
    let idp_time = signing.elapsed();
    let res = b.post(&s.acs).form(&[("SAMLResponse", body.as_str())]).send().await.unwrap();
    assert_eq!(res.status(), 303);
    let res = b.get(format!("{}{}", s.base, location(&res))).send().await.unwrap();
    assert_eq!(res.status(), 302);
    (code_of(&location(&res)), idp_time)
}

fn request_id(saml_request: &str) -> String {
    use base64::Engine;
    use std::io::Read;
    let deflated = base64::engine::general_purpose::STANDARD.decode(saml_request.as_bytes()).unwrap();
    let mut xml = String::new();
    flate2::read::DeflateDecoder::new(&deflated[..]).read_to_string(&mut xml).unwrap();
    let start = xml.find(" ID=\"").unwrap() + 5;
    xml[start..].split('"').next().unwrap().to_owned()
}

async fn exchange(s: &Setup, http: &reqwest::Client, code: &str) {
    let res = http
        .post(format!("{}/oauth2/token", s.base))
        .basic_auth(&s.client_id, Some(&s.secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "every exchange succeeds");
}

/// Runs `work(i)` for `0..n`, `clients` at a time; answers the wall time.
async fn concurrently<F, Fut>(n: usize, clients: usize, work: F) -> Duration
where
    F: Fn(usize) -> Fut + Clone + 'static,
    Fut: std::future::Future<Output = ()> + 'static,
{
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let work = work.clone();
        tasks.push(actix_web::rt::spawn(async move {
            let mut i = c;
            while i < n {
                work(i).await;
                i += clients;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    start.elapsed()
}

async fn bench(db: &TestDatabase) {
    let backend = db.backend;
    let data = tempfile::tempdir().unwrap();
    let s = Arc::new(portico(db, &data).await);

    // A signed-in browser, and its session as the provider sees it.
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let b = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let (code, _) = through_idp(&s, &b, 0).await;
    exchange(&s, &b, &code).await;
    let session = {
        use reqwest::cookie::CookieStore;
        let cookies = jar.cookies(&url::Url::parse(&s.base).unwrap()).unwrap();
        let token =
            cookies.to_str().unwrap().split("; ").find_map(|c| c.strip_prefix("portico_session=")).unwrap().to_owned();
        s.dir.provider_session(&token).unwrap().expect("a session")
    };

    // Raw signing rate of the key the token endpoint signs with.
    let keys = gateway::app::provider::load_key_set(&s.dir, &s.settings).unwrap();
    let key = keys.signing(SigningAlg::Rs256).unwrap();
    let input = vec![b'x'; 900];
    let (wall, cpu) = (Instant::now(), process_cpu());
    for _ in 0..SIGNATURES {
        std::hint::black_box(key.sign_bytes(&input).unwrap());
    }
    let sign_cpu = process_cpu().saturating_sub(cpu).max(Duration::from_millis(10));
    let signs_per_cpu_second = SIGNATURES as f64 / sign_cpu.as_secs_f64();
    println!(
        "{backend:?} raw RS256 signing: {:.0} per second on one core ({:.0} per CPU-second)",
        SIGNATURES as f64 / wall.elapsed().as_secs_f64(),
        signs_per_cpu_second
    );

    // Token endpoint: codes issued beforehand, in batches well inside their 60 seconds.
    let mut exchanged = 0;
    let mut cpu_used = Duration::ZERO;
    let mut server_used = Duration::ZERO;
    let mut wall_used = Duration::ZERO;
    while exchanged < EXCHANGES {
        let batch = (EXCHANGES - exchanged).min(500);
        let mut codes = Vec::with_capacity(batch);
        for _ in 0..batch {
            codes.push(
                s.dir
                    .issue_authorization_code(&NewGrant {
                        application_id: &s.client_id,
                        session: &session,
                        scope: "openid profile email organizations",
                        nonce: Some("n"),
                        redirect_uri: REDIRECT,
                        code_challenge: Some(CHALLENGE),
                    })
                    .unwrap(),
            );
        }
        let codes = Arc::new(codes);
        let http = reqwest::Client::new();
        let (cpu, server) = (process_cpu(), server_cpu());
        let (s2, c2) = (s.clone(), codes.clone());
        wall_used += concurrently(batch, CLIENTS, move |i| {
            let (s3, c3, h) = (s2.clone(), c2.clone(), http.clone());
            async move { exchange(&s3, &h, &c3[i]).await }
        })
        .await;
        cpu_used += process_cpu().saturating_sub(cpu);
        server_used += server_cpu().saturating_sub(server);
        exchanged += batch;
    }
    let per_cpu_second = EXCHANGES as f64 / cpu_used.as_secs_f64();
    let per_server_second = EXCHANGES as f64 / server_used.as_secs_f64();
    println!(
        "{backend:?} token endpoint: {EXCHANGES} exchanges, {CLIENTS} clients: {:.0} per second on 2 cores; per CPU-second {:.0} of Portico's threads = {:.0}% of the raw signing rate ({:.0} counting the clients too = {:.0}%)",
        EXCHANGES as f64 / wall_used.as_secs_f64(),
        per_server_second,
        100.0 * per_server_second / signs_per_cpu_second,
        per_cpu_second,
        100.0 * per_cpu_second / signs_per_cpu_second
    );

    if std::env::var("PORTICO_BENCH_PHASE").is_ok_and(|p| p == "token") {
        return;
    }

    // The whole flow for a signed-in browser: authorization request, code, exchange.
    for clients in [1, CLIENTS] {
        let s2 = s.clone();
        let cookies = Arc::new(b.clone());
        let wall = concurrently(FLOWS, clients, move |i| {
            let (s3, b3) = (s2.clone(), cookies.clone());
            async move {
                let res = b3.get(authorize_url(&s3, i)).send().await.unwrap();
                assert_eq!(res.status(), 302);
                exchange(&s3, &b3, &code_of(&location(&res))).await;
            }
        })
        .await;
        println!(
            "{backend:?} signed-in flow (authorize, code, token), {clients} client(s): {:.0} per second, {:.1} ms each",
            FLOWS as f64 / wall.as_secs_f64(),
            wall.as_secs_f64() * 1000.0 * clients as f64 / FLOWS as f64
        );
    }

    // The whole flow through the IdP: each flow in a browser of its own, made beforehand (a
    // client loads the system's CA certificates when it is built, which is no part of a flow).
    for clients in [1, CLIENTS] {
        let idp_time = Arc::new(std::sync::Mutex::new(Duration::ZERO));
        let browsers: Arc<Vec<reqwest::Client>> = Arc::new((0..FLOWS).map(|_| browser()).collect());
        let (s2, t2) = (s.clone(), idp_time.clone());
        let wall = concurrently(FLOWS, clients, move |i| {
            let (s3, t3, bs) = (s2.clone(), t2.clone(), browsers.clone());
            async move {
                let b = &bs[i];
                let (code, signing) = through_idp(&s3, b, i).await;
                *t3.lock().unwrap() += signing;
                exchange(&s3, b, &code).await;
            }
        })
        .await;
        let idp = *idp_time.lock().unwrap();
        println!(
            "{backend:?} flow through the SAML IdP (authorize, IdP, ACS, resume, token), {clients} client(s): {:.0} per second; the test IdP's signing took {:.1} ms of each",
            FLOWS as f64 / wall.as_secs_f64(),
            idp.as_secs_f64() * 1000.0 / FLOWS as f64
        );
    }
}

fn main() {
    actix_web::rt::System::new().block_on(async {
        // PORTICO_BENCH_BACKEND=sqlite|postgres runs one backend only (for profiling).
        let only = std::env::var("PORTICO_BENCH_BACKEND").ok();
        for backend in [Backend::Sqlite, Backend::Postgres] {
            if only.as_deref().is_some_and(|o| !format!("{backend:?}").eq_ignore_ascii_case(o)) {
                continue;
            }
            if let Some(db) = TestDatabase::new(backend) {
                bench(&db).await;
            }
        }
    });
}
