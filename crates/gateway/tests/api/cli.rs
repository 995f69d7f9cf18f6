//! The `portico` binary itself: configuration errors, `migrate`, `api-key create`, and `serve`
//! answering with the key it printed.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use directory::Backend;
use directory::testing::TestDatabase;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn portico(db: &TestDatabase, data: &std::path::Path) -> Command {
    portico_on(&db.url, data)
}

/// `portico` on the database at `url`, with its data folder `data`.
fn portico_on(url: &str, data: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_portico"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PORTICO__DATABASE__URL", url)
        .env("PORTICO__DATA__DIR", data)
        .env("PORTICO__SERVER__BIND", "127.0.0.1:0")
        .env("PORTICO__LOG__LEVEL", "warn");
    cmd
}

/// Kills the server (by process id) when the test ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn api_key_create_serve_and_use_it(backend: Backend) {
    let Some(db) = TestDatabase::new(backend) else {
        return;
    };
    let data = tempfile::tempdir().unwrap();

    let out = portico(&db, data.path()).arg("migrate").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let out = portico(&db, data.path()).args(["api-key", "create", "--operator"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let key = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(key.starts_with("portico_"), "{key}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("shown only now"));

    let running = Running::start(portico(&db, data.path()).stderr(Stdio::null()));
    let (server, base) = (running.server, running.base);
    let setup_link = loop {
        let line = running.lines.recv_timeout(Duration::from_secs(30)).expect("portico serve prints a set-up link");
        if line.trim_start().contains("/setup/") {
            break line.trim().to_owned();
        }
    };
    assert!(setup_link.starts_with(&format!("{base}/setup/")));

    let client = reqwest::Client::new();
    let ready = client.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    let res = client
        .request(Method::POST, format!("{base}/api/v1/enterprises"))
        .bearer_auth(&key)
        .json(&json!({"key": "acme", "name": "Acme"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let res = client
        .request(Method::POST, format!("{base}/api/v1/enterprises/acme/organizations"))
        .bearer_auth(&key)
        .json(&json!({"key": "eng", "name": "Engineering"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let org: Value = res.json().await.unwrap();
    assert_eq!(org["key"], "eng");
    drop(server);
}

/// `portico backup` while `portico serve` runs; a second installation on the copy accepts the
/// admin API key and has the data made before the backup. (The storage test of backups signs
/// an operator in with a password on a restored copy.)
#[actix_web::test]
async fn a_backup_taken_while_serving_restores_into_a_working_installation() {
    let db = TestDatabase::sqlite();
    let data = tempfile::tempdir().unwrap();
    let key =
        String::from_utf8(portico(&db, data.path()).args(["api-key", "create", "--operator"]).output().unwrap().stdout)
            .unwrap()
            .trim()
            .to_owned();
    let (server, base) = serve(&db.url, data.path());
    let client = reqwest::Client::new();
    let res = client
        .post(format!("{base}/api/v1/enterprises"))
        .bearer_auth(&key)
        .json(&json!({"key": "acme", "name": "Acme"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);

    let copy = data.path().join("backup.db");
    let out = portico(&db, data.path()).args(["backup", "--to", copy.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let again = portico(&db, data.path()).args(["backup", "--to", copy.to_str().unwrap()]).output().unwrap();
    assert!(!again.status.success() && String::from_utf8_lossy(&again.stderr).contains("exists already"));
    drop(server);

    // Restored: a fresh data folder, the database URL pointing at a copy of the backup.
    let restored_data = tempfile::tempdir().unwrap();
    let restored_db = restored_data.path().join("portico.db");
    std::fs::copy(&copy, &restored_db).unwrap();
    let (_server, base) = serve(&format!("sqlite://{}", restored_db.display()), restored_data.path());
    let res = client.get(format!("{base}/api/v1/enterprises/acme")).bearer_auth(&key).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "the key and the enterprise came back");
    // The signing keys were sealed with the old secret key: the OpenID Provider says it cannot
    // sign, everything else serves, and `portico keys reset` replaces them.
    let res = client.get(format!("{base}/oauth2/jwks")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "server_error");
    let url = format!("sqlite://{}", restored_db.display());
    let out = portico_on(&url, restored_data.path()).args(["keys", "reset"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let jwks: Value = client.get(format!("{base}/oauth2/jwks")).send().await.unwrap().json().await.unwrap();
    assert_eq!(jwks["keys"].as_array().map(Vec::len), Some(4), "{jwks}");
}

/// Starts `portico serve`; returns it (killed when dropped) and its base URL.
fn serve(url: &str, data: &std::path::Path) -> (Server, String) {
    let running = Running::start(portico_on(url, data).stderr(Stdio::null()));
    (running.server, running.base)
}

/// A `portico serve` started from `cmd`, once it printed its URL: the process (killed when
/// dropped), that URL, the lines printed so far and the ones still to come (read on a thread of
/// their own, so that the server never blocks on a full pipe).
struct Running {
    server: Server,
    base: String,
    printed: Vec<String>,
    lines: mpsc::Receiver<String>,
}

impl Running {
    fn start(cmd: &mut Command) -> Running {
        let mut child = cmd.arg("serve").stdout(Stdio::piped()).spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let server = Server(child);
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut printed = Vec::new();
        let base = loop {
            let line = lines.recv_timeout(Duration::from_secs(30)).expect("portico serve prints its URL");
            printed.push(line.clone());
            if let Some(url) = line.strip_prefix("Portico is running at ") {
                break url.trim_end_matches('/').to_owned();
            }
        };
        Running { server, base, printed, lines }
    }
}

/// The client secret, in clear or base64 (HTTP Basic), is in no log line of a
/// server logging at debug level through a whole OpenID Connect set-up and sign-in, nor in any
/// API answer on the way.
#[actix_web::test]
async fn the_client_secret_is_never_logged_nor_answered() {
    if !crate::helpers::available(crate::helpers::Tool::OpenIdProvider) {
        return;
    }
    use base64::Engine;
    let db = TestDatabase::new(Backend::Sqlite).unwrap();
    let data = tempfile::tempdir().unwrap();
    let log = data.path().join("portico.log");
    let out = portico(&db, data.path()).arg("migrate").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = portico(&db, data.path()).args(["api-key", "create", "--operator"]).output().unwrap();
    let key = String::from_utf8(out.stdout).unwrap().trim().to_owned();

    let log_file = std::fs::File::create(&log).unwrap();
    let running = Running::start(
        portico(&db, data.path())
            .env("PORTICO__LOG__LEVEL", "debug")
            .env("PORTICO__SSO__ALLOW_PRIVATE_METADATA", "true")
            .stderr(log_file),
    );
    let (server, base, rx) = (running.server, running.base, running.lines);
    let mut lines = running.printed;
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let api = |method: Method, path: &str| client.request(method, format!("{base}{path}")).bearer_auth(&key);
    let mut answers = String::new();
    let res =
        api(Method::POST, "/api/v1/enterprises").json(&json!({"key": "acme", "name": "Acme"})).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let placeholder = crate::oidc::start_op(port, "http://127.0.0.1:9/placeholder");
    let res = api(Method::POST, "/api/v1/enterprises/acme/connections")
        .json(&json!({"protocol": "oidc", "provider": "custom",
            "oidc": {"issuer": format!("http://127.0.0.1:{port}"), "client_id": "portico", "client_secret": crate::oidc::SECRET}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let c: Value = serde_json::from_str(&{
        let t = res.text().await.unwrap();
        answers.push_str(&t);
        t
    })
    .unwrap();
    let id = c["id"].as_str().unwrap().to_owned();
    let redirect_uri = c["redirect_uri"].as_str().unwrap().to_owned();
    drop(placeholder);
    let _op = crate::oidc::start_op(port, &redirect_uri);
    answers.push_str(
        &api(Method::GET, &format!("/api/v1/enterprises/acme/connections/{id}"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    answers.push_str(
        &api(Method::GET, "/api/v1/enterprises/acme/connections").send().await.unwrap().text().await.unwrap(),
    );
    let t: Value = api(Method::POST, &format!("/api/v1/enterprises/acme/connections/{id}/test"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let back = crate::oidc::through_provider(t["url"].as_str().unwrap(), &redirect_uri).await;
    let page = client.get(&back).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("it works"), "the code exchange (which sends the secret) happened: {page}");
    answers.push_str(&page);
    answers.push_str(&api(Method::GET, "/api/v1/openapi.json").send().await.unwrap().text().await.unwrap());
    drop(server);
    // Log lines go to stdout; the reader ends when the stopped server's pipe closes.
    lines.extend(rx.iter());

    let secret = crate::oidc::SECRET;
    // In clear (as in a form body) and as sent in the HTTP Basic header of the code exchange.
    let forms = [secret.to_owned(), base64::engine::general_purpose::STANDARD.encode(format!("portico:{secret}"))];
    let logged = std::fs::read_to_string(&log).unwrap() + &lines.join("\n");
    assert!(logged.lines().count() > 20, "the server logged at debug level: {logged}");
    for form in &forms {
        assert!(!logged.contains(form.as_str()), "the secret ({form}) is in the log");
        assert!(!answers.contains(form.as_str()), "the secret ({form}) is in an answer");
    }
}

#[actix_web::test]
async fn api_key_create_serve_and_use_it_sqlite() {
    api_key_create_serve_and_use_it(Backend::Sqlite).await
}

#[actix_web::test]
async fn api_key_create_serve_and_use_it_postgres() {
    api_key_create_serve_and_use_it(Backend::Postgres).await
}

#[test]
fn bad_configuration_stops_start_up_naming_the_key() {
    let db = TestDatabase::sqlite();
    let data = tempfile::tempdir().unwrap();
    for (key, value, named) in [
        ("PORTICO__SERVER__BIND", "everywhere", "server.bind"),
        ("PORTICO__DATABASE__POOL_SIZE", "many", "pool_size"),
        ("PORTICO__LOG__FORMAT", "xml", "log.format"),
        ("PORTICO__SERVER__COLOUR", "blue", "colour"),
    ] {
        let out = portico(&db, data.path()).env(key, value).arg("migrate").output().unwrap();
        assert!(!out.status.success(), "{key}={value} should stop start-up");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(named), "{key}={value}: {stderr}");
    }
    let out = portico(&db, data.path()).args(["--config", "/nonexistent/portico.toml", "migrate"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/portico.toml"));
}

/// SIGTERM, as an orchestrator sends it: the server says it is stopping, stops accepting, and
/// exits cleanly well within its grace period.
#[actix_web::test]
async fn sigterm_stops_the_server_cleanly() {
    let db = TestDatabase::sqlite();
    let data = tempfile::tempdir().unwrap();
    let running = Running::start(
        portico(&db, data.path())
            .env("PORTICO__LOG__LEVEL", "info")
            .env("PORTICO__SERVER__SHUTDOWN_GRACE_SECS", "5")
            .stderr(Stdio::null()),
    );
    let (mut server, base, rx) = (running.server, running.base, running.lines);
    let child = &mut server.0;
    let ready = reqwest::get(format!("{base}/readyz")).await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);

    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "still running 10 s after SIGTERM");
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status}");
    let log: Vec<String> = rx.try_iter().collect();
    assert!(log.iter().any(|l| l.contains("stopping: no new connections")), "{log:?}");
    assert!(reqwest::get(format!("{base}/healthz")).await.is_err(), "nothing listens any more");
}

/// An unreachable PostgreSQL is waited for, with a log line each try, then named.
#[test]
fn start_up_waits_for_the_database_then_names_it() {
    let db = TestDatabase::sqlite();
    let data = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let out = portico(&db, data.path())
        .env("PORTICO__DATABASE__URL", "postgres://nobody@127.0.0.1:1/portico")
        .env("PORTICO__DATABASE__WAIT_SECS", "3")
        .arg("migrate")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(started.elapsed() >= Duration::from_secs(3), "it waited");
    let (log, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(log.matches("waiting for the database").count() >= 2, "{log}");
    assert!(stderr.contains("database.url") && stderr.contains("127.0.0.1"), "{stderr}");
}

#[test]
fn unreachable_database_is_named() {
    let db = TestDatabase::sqlite();
    let data = tempfile::tempdir().unwrap();
    let out = portico(&db, data.path())
        .env("PORTICO__DATABASE__URL", "postgres://nobody@127.0.0.1:1/portico")
        .env("PORTICO__DATABASE__WAIT_SECS", "0")
        .arg("migrate")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("database.url") && stderr.contains("127.0.0.1"), "{stderr}");
}

/// A tiny HTTP server on loopback that answers every request with `body` and counts them; as
/// a "proxy" it counts the connections made to it.
fn counting_server(body: String) -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = hits.clone();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mut buf = [0u8; 4096];
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            let _ = stream.read(&mut buf);
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (port, hits)
}

/// Outbound requests (here: reading an IdP's metadata) ignore the proxy variables of the
/// environment, which would route them past Portico's address checks, and go through
/// `sso.outbound_proxy` when an operator sets it.
#[actix_web::test]
async fn outbound_requests_ignore_proxy_variables_unless_configured() {
    use base64::Engine;
    let db = TestDatabase::new(Backend::Sqlite).unwrap();
    let data = tempfile::tempdir().unwrap();
    let out = portico(&db, data.path()).arg("migrate").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = portico(&db, data.path()).args(["api-key", "create", "--operator"]).output().unwrap();
    let key = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let idp = sso::testing::TestIdp::new("okta");
    let metadata = format!(
        r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{}"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.test/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>"#,
        idp.entity_id,
        base64::engine::general_purpose::STANDARD.encode(&idp.cert_der)
    );
    let (metadata_port, metadata_hits) = counting_server(metadata);
    let (proxy_port, proxy_hits) = counting_server(String::new());
    let proxy = format!("http://127.0.0.1:{proxy_port}");
    let hits = |h: &std::sync::Arc<std::sync::atomic::AtomicUsize>| h.load(std::sync::atomic::Ordering::SeqCst);

    for configured in [false, true] {
        let mut cmd = portico(&db, data.path());
        cmd.env("PORTICO__SSO__ALLOW_PRIVATE_METADATA", "true").stderr(Stdio::null());
        for var in ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"] {
            cmd.env(var, &proxy);
        }
        if configured {
            cmd.env("PORTICO__SSO__OUTBOUND_PROXY", &proxy);
        }
        let running = Running::start(&mut cmd);
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let (before_metadata, before_proxy) = (hits(&metadata_hits), hits(&proxy_hits));
        let enterprise = if configured { "globex" } else { "acme" };
        client
            .post(format!("{}/api/v1/enterprises", running.base))
            .bearer_auth(&key)
            .json(&json!({"key": enterprise, "name": enterprise}))
            .send()
            .await
            .unwrap();
        let res = client
            .post(format!("{}/api/v1/enterprises/{enterprise}/connections", running.base))
            .bearer_auth(&key)
            .json(&json!({"protocol": "saml", "provider": "okta",
                "saml": {"metadata_url": format!("http://127.0.0.1:{metadata_port}/metadata")}}))
            .send()
            .await
            .unwrap();
        let status = res.status();
        let text = res.text().await.unwrap();
        if configured {
            assert!(hits(&proxy_hits) > before_proxy, "the configured proxy carried the request");
            assert_eq!(hits(&metadata_hits), before_metadata, "nothing went around the proxy");
        } else {
            assert_eq!(status, StatusCode::CREATED, "{text}");
            assert_eq!(hits(&metadata_hits), before_metadata + 1, "read directly");
            assert_eq!(hits(&proxy_hits), before_proxy, "the environment's proxy was not used");
        }
        drop(running.server);
    }
}

/// `portico app` and `portico keys`: an application registered on the command line answers
/// at the token endpoint with the secret printed once; `keys rotate` puts the next key to work
/// and keeps the old one published; `app rotate-secret` kills the old secret, `app delete` the
/// application.
#[test]
fn apps_and_keys_from_the_command_line() {
    let db = TestDatabase::new(Backend::Sqlite).unwrap();
    let data = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = portico(&db, data.path()).args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        (String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
    };
    let (out, err) = run(&["app", "create", "--name", "Acme Cloud", "--redirect-uri", "https://app.example/cb"]);
    let field = |text: &str, name: &str| {
        text.lines().find_map(|l| l.strip_prefix(&format!("{name}="))).map(str::to_owned).unwrap_or_default()
    };
    let (client_id, secret) = (field(&out, "client_id"), field(&out, "client_secret"));
    assert!(client_id.starts_with("papp_") && secret.starts_with("pcs_"), "{out}");
    assert!(err.contains("shown only now"), "{err}");
    let (list, _) = run(&["app", "list"]);
    assert!(list.contains(&client_id) && list.contains("confidential") && !list.contains(&secret), "{list}");

    let dir = directory::Directory::connect(&db.url, 1, std::sync::Arc::new(directory::SystemClock)).unwrap();
    assert!(dir.authenticate_host_application(&client_id, &secret).unwrap().is_some());
    let (out, _) = run(&["app", "rotate-secret", &client_id]);
    let new_secret = field(&out, "client_secret");
    assert!(dir.authenticate_host_application(&client_id, &secret).unwrap().is_none());
    assert!(dir.authenticate_host_application(&client_id, &new_secret).unwrap().is_some());

    // Keys: the first run makes them (migrate does not); a rotation promotes the next one.
    run(&["keys", "rotate"]);
    let before = dir.signing_keys().unwrap();
    let next: Vec<String> =
        before.iter().filter(|k| k.state == directory::provider::KeyState::Next).map(|k| k.kid.clone()).collect();
    assert_eq!(next.len(), 2, "a next key per algorithm");
    let (out, _) = run(&["keys", "rotate"]);
    assert!(out.contains("RS256: rotated") && out.contains("ES256: rotated"), "{out}");
    let after = dir.signing_keys().unwrap();
    for kid in &next {
        let k = after.iter().find(|k| &k.kid == kid).unwrap();
        assert_eq!(k.state, directory::provider::KeyState::Current, "the published next key signs now");
    }
    assert_eq!(after.iter().filter(|k| k.state == directory::provider::KeyState::Previous).count(), 2);
    assert!(after.iter().all(|k| !k.private_key_sealed.contains("PRIVATE KEY")), "private keys are sealed");

    // Webhook endpoints: the secret once, a listing without it, a rotation that overlaps.
    let (out, err) = run(&["webhook", "create", &client_id, "--url", "https://hooks.example/in", "--event", "user.*"]);
    let (hook, hook_secret) = (field(&out, "id"), field(&out, "secret"));
    assert!(hook_secret.starts_with("whsec_") && err.contains("shown only now"), "{out}{err}");
    let (list, _) = run(&["webhook", "list", &client_id]);
    assert!(list.contains(&hook) && list.contains("user.*") && list.contains("enabled"), "{list}");
    assert!(!list.contains(&hook_secret));
    let (out, err) = run(&["webhook", "rotate-secret", &client_id, &hook]);
    assert!(field(&out, "secret").starts_with("whsec_") && field(&out, "secret") != hook_secret, "{out}");
    assert!(err.contains("keeps signing"), "{err}");
    let refused = portico(&db, data.path())
        .args(["webhook", "create", &client_id, "--url", "https://hooks.example/in", "--event", "users.*"])
        .output()
        .unwrap();
    assert!(!refused.status.success() && String::from_utf8_lossy(&refused.stderr).contains("users.*"));
    run(&["webhook", "delete", &client_id, &hook]);
    let (list, _) = run(&["webhook", "list", &client_id]);
    assert!(list.trim().is_empty(), "{list}");

    run(&["app", "delete", &client_id]);
    assert!(dir.host_application(&client_id).unwrap().is_none());
    let bad = portico(&db, data.path())
        .args(["app", "create", "--name", "x", "--redirect-uri", "http://evil.example/cb"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("https://"), "{}", String::from_utf8_lossy(&bad.stderr));
}
