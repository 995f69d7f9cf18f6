//! OpenID Connect end to end over HTTP, against a real OpenID Provider (panva's oidc-provider,
//! run on loopback): a connection configured only through the admin API, a test, enabling, and
//! a sign-in that provisions by JIT; plus refusals at the callback.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use directory::{Actor, Ctx, PageRequest};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::TestApp;

pub const SECRET: &str = "the-client-secret-of-portico";

pub struct Op {
    child: Child,
}

impl Drop for Op {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start_op(port: u16, redirect_uri: &str) -> Op {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../interop");
    assert!(dir.join("node_modules/oidc-provider").is_dir(), "run ./dev test: it installs the test OpenID Provider");
    let mut child = Command::new("node")
        .arg(dir.join("oidc-op.mjs"))
        .current_dir(&dir)
        .env("PORT", port.to_string())
        .env("ISSUER", format!("http://127.0.0.1:{port}"))
        .env("CLIENT_ID", "portico")
        .env("CLIENT_SECRET", SECRET)
        .env("REDIRECT_URI", redirect_uri)
        .env("ACCOUNT", r#"{"sub":"ada-0001","preferred_username":"ada","email":"ada@acme.test","name":"Ada Lovelace","groups":["Developers","Admins"]}"#)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("node runs the test OpenID Provider");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let op = Op { child };
    assert_eq!(rx.recv_timeout(Duration::from_secs(30)).unwrap(), "ready");
    op
}

/// Plays the browser at the provider until it is sent back to `redirect_uri`; returns that URL.
pub async fn through_provider(start: &str, redirect_uri: &str) -> String {
    let browser =
        reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let mut next = start.to_owned();
    for _ in 0..10 {
        let res = browser.get(&next).send().await.unwrap();
        let location = res
            .headers()
            .get("location")
            .unwrap_or_else(|| panic!("no redirect from {next}"))
            .to_str()
            .unwrap()
            .to_owned();
        let absolute = url::Url::parse(&next).unwrap().join(&location).unwrap().to_string();
        if absolute.starts_with(redirect_uri) {
            return absolute;
        }
        next = absolute;
    }
    panic!("the provider never sent the browser back");
}

async fn oidc_sign_in_configured_through_the_api(app: TestApp) {
    if !crate::helpers::available(crate::helpers::Tool::OpenIdProvider) {
        return;
    }
    app.create_enterprise("acme").await;
    app.create_organization("acme", "eng").await;
    app.api(Method::POST, "/api/v1/enterprises/acme/organizations/eng/groups", &app.operator_key)
        .json(&json!({"name": "Developers"}))
        .send()
        .await
        .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let issuer = format!("http://127.0.0.1:{port}");

    // The callback URL exists only once the connection does: a first provider answers discovery.
    let placeholder = start_op(port, "http://127.0.0.1:9/placeholder");
    let res = app
        .api(Method::POST, "/api/v1/enterprises/acme/connections", &app.operator_key)
        .json(&json!({"protocol": "oidc", "provider": "custom",
            "oidc": {"issuer": issuer, "client_id": "portico", "client_secret": SECRET, "scopes": ["openid", "email", "profile", "groups"]},
            "claims_mapping": {"login": "preferred_username", "email": "email", "name": "name", "groups": "groups"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let text = res.text().await.unwrap();
    assert!(!text.contains(SECRET), "the client secret never comes back: {text}");
    let c: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(c["status"], "draft");
    let id = c["id"].as_str().unwrap().to_owned();
    let redirect_uri = c["redirect_uri"].as_str().unwrap().to_owned();
    assert_eq!(redirect_uri, format!("{}/sso/oidc/{id}/callback", app.base));
    drop(placeholder);
    // The real provider registers the callback. It also has new signing keys: Portico must
    // re-read them when it meets an unknown key.
    let _op = start_op(port, &redirect_uri);

    // Test connection.
    let t: Value = app
        .api(Method::POST, &format!("/api/v1/enterprises/acme/connections/{id}/test"), &app.operator_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let back = through_provider(t["url"].as_str().unwrap(), &redirect_uri).await;
    let page = app.client.get(&back).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("it works") && page.contains("Ada Lovelace") && page.contains("Developers"), "{page}");
    let users: Value = app
        .api(Method::GET, "/api/v1/enterprises/acme/users", &app.operator_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(users["items"].as_array().unwrap().is_empty(), "a test provisions nobody");

    let res = app
        .api(Method::POST, &format!("/api/v1/enterprises/acme/connections/{id}/enable"), &app.operator_key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    // Sign-in through /login/sso.
    let start = app.client.get(app.url("/login/sso?enterprise_key=acme")).send().await.unwrap();
    assert_eq!(start.status(), StatusCode::FOUND);
    let location = start.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(&format!("{issuer}/auth?")), "{location}");
    let back = through_provider(&location, &redirect_uri).await;
    let res = app.client.get(&back).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let session = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|c| c.to_str().unwrap().split(';').next().unwrap().to_owned())
        .find(|c| c.starts_with("portico_session="))
        .expect("a session cookie");
    // Ada lands on her organizations page, with the group the JIT rules gave her.
    let mut next = res.headers()["location"].to_str().unwrap().to_owned();
    let page = loop {
        let res = app.client.get(app.url(&next)).header("cookie", &session).send().await.unwrap();
        match res.headers().get("location") {
            Some(l) if res.status().is_redirection() => next = l.to_str().unwrap().to_owned(),
            _ => break res.text().await.unwrap(),
        }
    };
    assert!(page.contains("Ada Lovelace") && page.contains("Developers"), "{page}");
    let users: Value = app
        .api(Method::GET, "/api/v1/enterprises/acme/users", &app.operator_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ada = &users["items"][0];
    assert_eq!(ada["login"], "ada");
    assert_eq!(ada["origin"], "jit");
    assert_eq!(ada["groups"], json!([{"organization": "eng", "group": "Developers", "source": "sso"}]));
    // The same callback again (replayed code and state): refused.
    assert_eq!(app.client.get(&back).send().await.unwrap().status(), StatusCode::FORBIDDEN);

    let events = app
        .directory
        .list_audit_events(&Ctx::new(&Actor::System, None), Some("acme"), &PageRequest::default())
        .unwrap()
        .items;
    assert!(events.iter().any(|e| e.action == "sign_in" && e.outcome == "success" && e.details.contains("oidc")));
}

async fn an_unreachable_provider_is_named_for_the_admin(app: TestApp) {
    app.create_enterprise("acme").await;
    let res = app
        .api(Method::POST, "/api/v1/enterprises/acme/connections", &app.operator_key)
        .json(&json!({"protocol": "oidc", "provider": "custom", "oidc": {"issuer": "http://127.0.0.1:1", "client_id": "c", "client_secret": "s"}}))
        .send()
        .await
        .unwrap();
    let body = crate::helpers::problem(res, StatusCode::BAD_REQUEST).await;
    assert_eq!(body["errors"][0]["field"], "oidc.issuer");
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("discovery"), "{body}");
}

/// Enterprise `acme` with an enabled OpenID Connect connection, tested against a running
/// provider; returns the connection id, its callback URL and the provider.
pub(crate) async fn enabled_connection(app: &TestApp) -> (String, String, Op) {
    app.create_enterprise("acme").await;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let placeholder = start_op(port, "http://127.0.0.1:9/placeholder");
    let c: Value = app
        .api(Method::POST, "/api/v1/enterprises/acme/connections", &app.operator_key)
        .json(&json!({"protocol": "oidc", "provider": "custom",
            "oidc": {"issuer": format!("http://127.0.0.1:{port}"), "client_id": "portico", "client_secret": SECRET}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    drop(placeholder);
    let (id, redirect_uri) = (c["id"].as_str().unwrap().to_owned(), c["redirect_uri"].as_str().unwrap().to_owned());
    let op = start_op(port, &redirect_uri);
    let t: Value = app
        .api(Method::POST, &format!("/api/v1/enterprises/acme/connections/{id}/test"), &app.operator_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let back = through_provider(t["url"].as_str().unwrap(), &redirect_uri).await;
    assert!(app.client.get(&back).send().await.unwrap().text().await.unwrap().contains("it works"));
    let res = app
        .api(Method::POST, &format!("/api/v1/enterprises/acme/connections/{id}/enable"), &app.operator_key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    (id, redirect_uri, op)
}

/// Starts a sign-in at `/login/sso` and plays the person at the provider; returns the callback
/// URL the provider sent the browser to, the cookies the browser holds for Portico, and the
/// authorization URL Portico sent it to first.
pub(crate) async fn to_callback(app: &TestApp, redirect_uri: &str) -> (String, String, String) {
    let start = app.client.get(app.url("/login/sso?enterprise_key=acme")).send().await.unwrap();
    let cookies: Vec<String> = start
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|c| c.to_str().unwrap().split(';').next().unwrap().to_owned())
        .collect();
    let authorization = start.headers()["location"].to_str().unwrap().to_owned();
    let back = through_provider(&authorization, redirect_uri).await;
    (back, cookies.join("; "), authorization)
}

/// The refusal codes and reasons in `acme`'s audit log, and how many sign-ins succeeded.
fn audited(app: &TestApp) -> (String, usize) {
    let events = app
        .directory
        .list_audit_events(&Ctx::new(&Actor::System, None), Some("acme"), &PageRequest::default())
        .unwrap()
        .items;
    let successes = events.iter().filter(|e| e.action == "sign_in" && e.outcome == "success").count();
    let lines: Vec<String> =
        events.iter().map(|e| format!("{} {}", e.details, e.reason.as_deref().unwrap_or_default())).collect();
    (lines.join("\n"), successes)
}

async fn a_callback_without_state_is_refused(app: TestApp) {
    if !crate::helpers::available(crate::helpers::Tool::OpenIdProvider) {
        return;
    }
    let (id, _, _op) = enabled_connection(&app).await;
    let res = app.client.get(app.url(&format!("/sso/oidc/{id}/callback?code=x"))).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(audited(&app).0.contains("missing_state"));
}

async fn a_callback_with_a_state_portico_never_issued_is_refused(app: TestApp) {
    if !crate::helpers::available(crate::helpers::Tool::OpenIdProvider) {
        return;
    }
    let (id, redirect_uri, _op) = enabled_connection(&app).await;
    // A real code from the provider, under a state Portico did not issue.
    let (back, cookies, _) = to_callback(&app, &redirect_uri).await;
    let mut url = url::Url::parse(&back).unwrap();
    let code = url.query_pairs().find(|(k, _)| k == "code").unwrap().1.into_owned();
    url.set_query(Some(&format!("code={code}&state=_forged")));
    assert!(url.path().contains(&id));
    let res = app.client.get(url.as_str()).header("cookie", cookies).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let (log, successes) = audited(&app);
    assert!(log.contains("state_mismatch"), "{log}");
    assert_eq!(successes, 0);
}

async fn a_replayed_callback_is_refused(app: TestApp) {
    if !crate::helpers::available(crate::helpers::Tool::OpenIdProvider) {
        return;
    }
    let (id, redirect_uri, _op) = enabled_connection(&app).await;
    let (back, cookies, authorization) = to_callback(&app, &redirect_uri).await;
    // While it waits, the sign-in's nonce and PKCE verifier are stored sealed, not as sent.
    let state = url::Url::parse(&back).unwrap().query_pairs().find(|(k, _)| k == "state").unwrap().1.into_owned();
    let pending = app
        .directory
        .pending_sso_request(&directory::ids::ConnectionId::from(id.as_str()), &state)
        .unwrap()
        .expect("the sign-in waits");
    let (nonce, verifier) = (pending.nonce.unwrap(), pending.pkce_verifier.unwrap());
    let sent =
        url::Url::parse(&authorization).unwrap().query_pairs().find(|(k, _)| k == "nonce").unwrap().1.into_owned();
    assert!(!nonce.contains(&sent) && nonce.len() > sent.len() + 16, "sealed: {nonce} (sent {sent})");
    assert!(verifier.len() > 43 + 16, "sealed: {verifier}");
    let first = app.client.get(&back).header("cookie", &cookies).send().await.unwrap();
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    let removed = first.headers().get_all("set-cookie").iter().any(|c| {
        let c = c.to_str().unwrap();
        c.starts_with("portico_sso_request=") && c.contains("Max-Age=0")
    });
    assert!(removed, "the spent browser-binding cookie is removed");
    // The same code and state again, from the same browser.
    let again = app.client.get(&back).header("cookie", &cookies).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::FORBIDDEN);
    let (log, successes) = audited(&app);
    assert_eq!(successes, 1, "one session only");
    assert!(log.contains("state_mismatch"), "{log}");
}

async fn a_provider_error_is_refused(app: TestApp) {
    if !crate::helpers::available(crate::helpers::Tool::OpenIdProvider) {
        return;
    }
    let (id, _, _op) = enabled_connection(&app).await;
    let url = app.url(&format!("/sso/oidc/{id}/callback?error=access_denied&error_description=not+assigned&state=_x"));
    assert_eq!(app.client.get(url).send().await.unwrap().status(), StatusCode::FORBIDDEN);
    let (log, _) = audited(&app);
    assert!(log.contains("provider_error") && log.contains("not assigned"), "{log}");
    // What the sender writes reaches the audit trail escaped and cut short.
    let long = format!("line%0Aforged audit line {}", "x".repeat(3000));
    let url = app.url(&format!("/sso/oidc/{id}/callback?error=access_denied&error_description={long}&state=_x"));
    assert_eq!(app.client.get(url).send().await.unwrap().status(), StatusCode::FORBIDDEN);
    let events = app
        .directory
        .list_audit_events(&Ctx::new(&Actor::System, None), Some("acme"), &PageRequest::default())
        .unwrap()
        .items;
    let reason = events[0].reason.clone().unwrap();
    assert!(reason.contains("line\\nforged") && !reason.contains('\n'), "{reason}");
    assert!(reason.chars().count() <= directory::audit::REASON_MAX + 1);
}

/// The provider goes away between the person's visit to it and the callback: the person gets a
/// plain page with an operation id, the admin the reason in the audit log.
async fn a_provider_gone_at_the_callback_gets_a_plain_page(app: TestApp) {
    if !crate::helpers::available(crate::helpers::Tool::OpenIdProvider) {
        return;
    }
    let (_, redirect_uri, op) = enabled_connection(&app).await;
    let (back, cookies, _) = to_callback(&app, &redirect_uri).await;
    drop(op);
    let res = app.client.get(&back).header("cookie", cookies).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let page = res.text().await.unwrap();
    assert!(page.contains("Operation"), "the person can quote an operation id: {page}");
    assert!(
        !page.contains("127.0.0.1") && !page.contains("provider_unreachable"),
        "no technical detail for the person: {page}"
    );
    let events = app
        .directory
        .list_audit_events(&Ctx::new(&Actor::System, None), Some("acme"), &PageRequest::default())
        .unwrap()
        .items;
    assert!(
        events.iter().any(|e| e.outcome != "success" && e.details.contains("provider_unreachable")),
        "the admin sees why: {events:?}"
    );
}

/// A provider on loopback that records every request it gets and serves just enough of a
/// discovery document for Portico to accept it as an issuer; its token endpoint refuses.
struct Recorder {
    base: String,
    requests: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

fn recorder() -> Recorder {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let (seen, issuer) = (requests.clone(), base.clone());
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut head = String::new();
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                head.push_str(&line);
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let request = format!("{head}\n{}", String::from_utf8_lossy(&body));
            let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
            seen.lock().unwrap().push(request);
            let (status, answer) = match path.as_str() {
                "/.well-known/openid-configuration" => (
                    "200 OK",
                    json!({
                        "issuer": issuer, "authorization_endpoint": format!("{issuer}/auth"),
                        "token_endpoint": format!("{issuer}/token"), "jwks_uri": format!("{issuer}/jwks"),
                        "response_types_supported": ["code"], "subject_types_supported": ["public"],
                        "id_token_signing_alg_values_supported": ["RS256"],
                    }),
                ),
                "/jwks" => ("200 OK", json!({"keys": []})),
                _ => ("400 Bad Request", json!({"error": "invalid_grant"})),
            };
            let answer = answer.to_string();
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                answer.len()
            );
        }
    });
    Recorder { base, requests }
}

/// Changing the issuer (or client id) of a connection needs the new client secret in the same
/// request; otherwise whoever changed it would receive the stored secret at "their" token
/// endpoint. The provider the issuer was moved to never sees the old secret in any form.
async fn a_new_issuer_needs_its_own_secret(app: TestApp) {
    if !crate::helpers::available(crate::helpers::Tool::OpenIdProvider) {
        return;
    }
    use base64::Engine;
    let (id, _, _op) = enabled_connection(&app).await;
    let elsewhere = recorder();
    let path = format!("/api/v1/enterprises/acme/connections/{id}");
    for change in [json!({"issuer": elsewhere.base}), json!({"client_id": "someone-else"})] {
        let res = app.api(Method::PATCH, &path, &app.operator_key).json(&json!({"oidc": change})).send().await.unwrap();
        let body = crate::helpers::problem(res, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(body["errors"][0]["field"], "oidc.client_secret", "{body}");
        assert!(body["detail"].as_str().unwrap().contains("client secret"), "{body}");
    }
    let c: Value = app.api(Method::GET, &path, &app.operator_key).send().await.unwrap().json().await.unwrap();
    assert_eq!(c["status"], "enabled", "the refused change changed nothing");
    assert_ne!(c["oidc"]["issuer"], elsewhere.base.as_str());
    // With its own secret the change goes through; a sign-in then sends that one, and only it.
    let res = app
        .api(Method::PATCH, &path, &app.operator_key)
        .json(&json!({"oidc": {"issuer": elsewhere.base, "client_secret": "the-new-providers-secret"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap());
    app.directory
        .record_test_result(&directory::ids::ConnectionId::from(id.as_str()), true, None, &json!({}), None)
        .unwrap();
    app.api(Method::POST, &format!("{path}/enable"), &app.operator_key).send().await.unwrap();
    let start = app.client.get(app.url("/login/sso?enterprise_key=acme")).send().await.unwrap();
    let authorization = url::Url::parse(start.headers()["location"].to_str().unwrap()).unwrap();
    let state = authorization.query_pairs().find(|(k, _)| k == "state").unwrap().1.into_owned();
    let cookies: Vec<String> = start
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|c| c.to_str().unwrap().split(';').next().unwrap().to_owned())
        .collect();
    let callback = app.url(&format!("/sso/oidc/{id}/callback?code=a-code&state={state}"));
    let res = app.client.get(callback).header("cookie", cookies.join("; ")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "the recorder refuses the code");
    let seen = elsewhere.requests.lock().unwrap().join("\n---\n");
    assert!(seen.contains("POST /token"), "the token endpoint was called: {seen}");
    let b64 = base64::engine::general_purpose::STANDARD;
    let url_form = url::form_urlencoded::byte_serialize(SECRET.as_bytes()).collect::<String>();
    for old in [SECRET.to_owned(), b64.encode(format!("portico:{SECRET}")), url_form] {
        assert!(!seen.contains(&old), "the old secret reached the new issuer: {seen}");
    }
    let new_basic = b64.encode("portico:the-new-providers-secret");
    assert!(seen.contains(&new_basic) || seen.contains("the-new-providers-secret"), "{seen}");
}

crate::both_backends!(
    a_new_issuer_needs_its_own_secret,
    oidc_sign_in_configured_through_the_api,
    an_unreachable_provider_is_named_for_the_admin,
    a_callback_without_state_is_refused,
    a_callback_with_a_state_portico_never_issued_is_refused,
    a_replayed_callback_is_refused,
    a_provider_error_is_refused,
    a_provider_gone_at_the_callback_gets_a_plain_page
);

/// With the default rule, an admin cannot point Portico at a provider on plain HTTP or on an
/// internal address, even one that answers.
#[actix_web::test]
async fn internal_and_plain_http_issuers_are_refused_by_default() {
    if !crate::helpers::available(crate::helpers::Tool::OpenIdProvider) {
        return;
    }
    let app = crate::helpers::TestApp::spawn_with(
        directory::Backend::Sqlite,
        &[("PORTICO__SSO__ALLOW_PRIVATE_METADATA", "false")],
    )
    .await
    .unwrap();
    app.create_enterprise("acme").await;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let _op = start_op(port, "http://127.0.0.1:9/cb");
    for (issuer, says) in [
        (format!("http://127.0.0.1:{port}"), "https://"),
        (format!("https://localhost:{port}"), "no public address"),
        ("https://169.254.169.254/".to_owned(), "169.254.169.254 is not a public address"),
    ] {
        let res = app
            .api(Method::POST, "/api/v1/enterprises/acme/connections", &app.operator_key)
            .json(&json!({"protocol": "oidc", "provider": "custom", "oidc": {"issuer": issuer, "client_id": "c", "client_secret": "s"}}))
            .send()
            .await
            .unwrap();
        let body = crate::helpers::problem(res, StatusCode::BAD_REQUEST).await;
        assert_eq!(body["errors"][0]["field"], "oidc.issuer", "{issuer}");
        assert!(body["errors"][0]["message"].as_str().unwrap().contains(says), "{issuer}: {body}");
    }
    let listed = app
        .api(Method::GET, "/api/v1/enterprises/acme/connections", &app.operator_key)
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    assert_eq!(listed.as_array().map(Vec::len), Some(0), "nothing was created: {listed}");
}
