//! The example host, as built, against a real Portico: a person of enterprise `acme` signs in
//! at the host, through Portico and the enterprise's SAML IdP (the `sso` test IdP), and the
//! host shows the claims its OpenID Connect library checked.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use directory::{Actor, Backend, Ctx, Directory, SystemClock};
use gateway::config::Settings;
use gateway::startup::Application;
use reqwest::{Client, StatusCode};

struct Host(Child);

impl Drop for Host {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn request_id(location: &str) -> String {
    let url = url::Url::parse(location).unwrap();
    let (_, saml_request) = url.query_pairs().find(|(k, _)| k == "SAMLRequest").unwrap();
    let deflated = base64::engine::general_purpose::STANDARD.decode(saml_request.as_bytes()).unwrap();
    let mut xml = String::new();
    flate2::read::DeflateDecoder::new(&deflated[..]).read_to_string(&mut xml).unwrap();
    let start = xml.find(" ID=\"").unwrap() + 5;
    xml[start..].split('"').next().unwrap().to_owned()
}

fn location(res: &reqwest::Response) -> String {
    res.headers()["location"].to_str().unwrap().to_owned()
}

#[actix_web::test]
async fn the_example_host_shows_the_claims() {
    // Portico, on a database of its own.
    let db = directory::testing::TestDatabase::new(Backend::Sqlite).unwrap();
    let data = tempfile::tempdir().unwrap();
    let settings = Settings::load_from(
        None,
        vec![
            ("PORTICO__SERVER__BIND".to_owned(), "127.0.0.1:0".to_owned()),
            ("PORTICO__DATABASE__URL".to_owned(), db.url.clone()),
            ("PORTICO__DATA__DIR".to_owned(), data.path().display().to_string()),
            ("PORTICO__LOG__LEVEL".to_owned(), "warn".to_owned()),
            // The host listens on loopback: let Portico's outbound requests reach it.
            ("PORTICO__SSO__ALLOW_PRIVATE_METADATA".to_owned(), "true".to_owned()),
            ("PORTICO__WEBHOOKS__POLL_MS".to_owned(), "100".to_owned()),
        ],
    )
    .unwrap();
    let dir = Directory::connect(&settings.database_url, 4, Arc::new(SystemClock)).unwrap();
    dir.migrate().unwrap();
    let app = Application::build(settings, dir.clone()).unwrap();
    let portico = app.public_url().trim_end_matches('/').to_owned();
    let server = app.handle();
    actix_web::rt::spawn(app.run_until_stopped());

    // Enterprise acme signs in through a SAML IdP; the host is registered for every enterprise.
    let system = Actor::System;
    let ctx = Ctx::new(&system, None);
    dir.create_enterprise(
        &ctx,
        directory::enterprise::NewEnterprise { key: "acme".into(), name: "Acme".into(), provisioning_mode: None },
    )
    .unwrap();
    let idp = sso::testing::TestIdp::new("idp");
    let key = dir.create_api_key(&ctx, None, "test").unwrap().token;
    let http = Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let conn: serde_json::Value = http
        .post(format!("{portico}/api/v1/enterprises/acme/connections"))
        .bearer_auth(&key)
        .json(&serde_json::json!({"protocol": "saml", "provider": "other", "saml": {
            "sso_url": "https://idp.test/sso", "idp_entity_id": idp.entity_id, "certificates": [idp.cert_pem()]}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = conn["id"].as_str().unwrap().to_owned();
    dir.record_test_result(&id.as_str().into(), true, None, &serde_json::json!({}), None).unwrap();
    let res = http
        .post(format!("{portico}/api/v1/enterprises/acme/connections/{id}/enable"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let host_base = format!("http://127.0.0.1:{port}");
    let registered = dir
        .create_host_application(
            &ctx,
            directory::host_application::NewHostApplication {
                name: "Example host".into(),
                public: false,
                redirect_uris: vec![format!("{host_base}/callback")],
                post_logout_redirect_uris: vec![format!("{host_base}/")],
                backchannel_logout_uri: None,
                initiate_login_uri: None,
                enterprises: directory::host_application::EnterpriseScope::All,
                id_token_alg: None,
                access_token_ttl_secs: None,
                id_token_ttl_secs: None,
                refresh_token_ttl_secs: None,
            },
        )
        .unwrap();

    // Its webhook endpoint, for every event.
    let hook: serde_json::Value = http
        .post(format!("{portico}/api/v1/applications/{}/webhooks", registered.application.client_id))
        .bearer_auth(&key)
        .json(&serde_json::json!({"url": format!("{host_base}/events"), "events": ["*"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    // The host, as `examples/host/run` starts it.
    let _host = Host(
        Command::new(env!("CARGO_BIN_EXE_example-host"))
            .env("PORTICO_ISSUER", &portico)
            .env("CLIENT_ID", &registered.application.client_id)
            .env("CLIENT_SECRET", registered.client_secret.unwrap())
            .env("WEBHOOK_SECRET", hook["secret"].as_str().unwrap())
            .env("PORT", port.to_string())
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let started = Instant::now();
    while http.get(format!("{host_base}/")).send().await.is_err() {
        assert!(started.elapsed() < Duration::from_secs(30), "the example host never started");
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }

    // The browser: host → Portico → IdP → Portico's ACS → Portico → host.
    let browser = Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let res = browser.get(format!("{host_base}/login?enterprise_key=acme")).send().await.unwrap();
    let authorize = location(&res);
    assert!(authorize.starts_with(&format!("{portico}/oauth2/authorize?")), "{authorize}");
    let res = browser.get(&authorize).send().await.unwrap();
    let request = request_id(&location(&res));
    let (acs, entity) = (conn["sp"]["acs_url"].as_str().unwrap(), conn["sp"]["entity_id"].as_str().unwrap());
    let mut spec = sso::testing::ResponseSpec::answering(&idp, chrono::Utc::now(), acs, entity, Some(&request));
    spec.attributes = vec![("login".into(), vec!["ada".into()]), ("name".into(), vec!["Ada Lovelace".into()])];
    let res = browser
        .post(acs)
        .form(&[("SAMLResponse", idp.response(&spec).as_str()), ("RelayState", "")])
        .send()
        .await
        .unwrap();
    let res = browser.get(format!("{portico}{}", location(&res))).send().await.unwrap();
    let callback = location(&res);
    assert!(callback.starts_with(&format!("{host_base}/callback?")), "{callback}");
    let page = browser.get(&callback).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Signed in"), "{page}");
    assert!(page.contains("&quot;enterprise&quot;") && page.contains("&quot;acme&quot;"), "{page}");
    assert!(page.contains("Ada Lovelace") && page.contains("Sign out"), "{page}");

    // The host heard of the new person and the sign-in, through a verified webhook.
    let started = Instant::now();
    loop {
        let events = http.get(format!("{host_base}/events")).send().await.unwrap().text().await.unwrap();
        if events.contains("sign_in.succeeded") {
            assert!(events.contains("user.created") && events.contains("Ada Lovelace"), "{events}");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "no event reached the host: {events}");
        actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    }
    // A delivery it cannot verify is refused.
    let res = http
        .post(format!("{host_base}/events"))
        .header("webhook-id", "msg_forged")
        .header("webhook-timestamp", chrono::Utc::now().timestamp().to_string())
        .header("webhook-signature", "v1,AAAA")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    server.stop(false).await;
}
