//! Interoperability with an independent SAML identity provider: Auth0's samlp (Node.js,
//! xml-crypto signatures, xml-encryption), installed from npm by `./dev test`. Portico's
//! connection is set up from the IdP's metadata through the admin API; sign-ins go through
//! `/login/sso`, the IdP, and Portico's ACS, with and without encrypted assertions.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::TestApp;

fn interop_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../interop")
}

/// The samlp IdP as a child process, stopped by process id when dropped.
pub(crate) struct SamlpIdp {
    child: Child,
    pub base: String,
    _files: tempfile::TempDir,
}

impl Drop for SamlpIdp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_samlp(acs: &str, encryption_cert_pem: Option<&str>) -> SamlpIdp {
    let grace = json!({"login": "grace", "email": "grace@acme.test", "name": "Grace Hopper", "groups": ["Developers", "Compilers"]});
    start_samlp_as(acs, encryption_cert_pem, &grace)
}

/// The samlp IdP signing in `user` (login, email, name, groups).
pub(crate) fn start_samlp_as(acs: &str, encryption_cert_pem: Option<&str>, user: &Value) -> SamlpIdp {
    let dir = interop_dir();
    assert!(
        dir.join("node_modules/samlp").is_dir(),
        "the interop IdP is not installed: run ./dev test (it runs npm ci in {})",
        dir.display()
    );
    let files = tempfile::tempdir().unwrap();
    let key = openssl::rsa::Rsa::generate(2048).unwrap();
    let pkey = openssl::pkey::PKey::from_rsa(key).unwrap();
    let mut name = openssl::x509::X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "samlp-interop-idp").unwrap();
    let name = name.build();
    let mut b = openssl::x509::X509::builder().unwrap();
    b.set_version(2).unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(&name).unwrap();
    b.set_pubkey(&pkey).unwrap();
    b.set_not_before(&openssl::asn1::Asn1Time::days_from_now(0).unwrap()).unwrap();
    b.set_not_after(&openssl::asn1::Asn1Time::days_from_now(30).unwrap()).unwrap();
    b.sign(&pkey, openssl::hash::MessageDigest::sha256()).unwrap();
    let cert = b.build();
    std::fs::write(files.path().join("idp.crt"), cert.to_pem().unwrap()).unwrap();
    std::fs::write(files.path().join("idp.key"), pkey.private_key_to_pem_pkcs8().unwrap()).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let base = format!("http://127.0.0.1:{port}");
    let mut cmd = Command::new("node");
    cmd.arg(dir.join("samlp-idp.js"))
        .current_dir(&dir)
        .env("PORT", port.to_string())
        .env("ISSUER", format!("{base}/metadata"))
        .env("ACS", acs)
        .env("IDP_CERT", files.path().join("idp.crt"))
        .env("IDP_KEY", files.path().join("idp.key"))
        .env("USER", user.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if let Some(pem) = encryption_cert_pem {
        let cert = openssl::x509::X509::from_pem(pem.as_bytes()).unwrap();
        std::fs::write(files.path().join("sp.crt"), pem).unwrap();
        std::fs::write(files.path().join("sp.pub"), cert.public_key().unwrap().public_key_to_pem().unwrap()).unwrap();
        cmd.env("ENCRYPTION_CERT", files.path().join("sp.crt"))
            .env("ENCRYPTION_PUBLIC_KEY", files.path().join("sp.pub"));
    }
    let mut child = cmd.spawn().expect("node runs the interop IdP");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let idp = SamlpIdp { child, base, _files: files };
    assert_eq!(rx.recv_timeout(Duration::from_secs(30)).expect("the IdP starts"), "ready");
    idp
}

/// The hidden input `name` of the IdP's auto-post form.
pub(crate) fn form_value(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\"");
    let at = html.find(&marker).unwrap_or_else(|| panic!("no {name} in {html}"));
    let tag_start = html[..at].rfind('<').unwrap();
    let tag = &html[tag_start..at + html[at..].find('>').unwrap()];
    let v = tag.find("value=\"").unwrap() + 7;
    tag[v..].split('"').next().unwrap().replace("&#x3D;", "=").replace("&#x2F;", "/").replace("&#x2B;", "+")
}

/// A SAML connection of `acme` read from the metadata of a samlp IdP signing in `user`,
/// tested and enabled; answers its id and the IdP.
pub(crate) async fn enabled_samlp_connection(app: &TestApp, user: &Value) -> (String, SamlpIdp) {
    let draft: Value = app
        .api(Method::POST, "/api/v1/enterprises/acme/connections", &app.operator_key)
        .json(&json!({"protocol": "saml", "provider": "other", "saml": {}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = draft["id"].as_str().unwrap().to_owned();
    let idp = start_samlp_as(draft["sp"]["acs_url"].as_str().unwrap(), None, user);
    let res = app
        .api(Method::PATCH, &format!("/api/v1/enterprises/acme/connections/{id}"), &app.operator_key)
        .json(&json!({"saml": {"metadata_url": format!("{}/metadata", idp.base)}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    app.directory
        .record_test_result(&directory::ids::ConnectionId::from(id.as_str()), true, None, &json!({}), None)
        .unwrap();
    let res = app
        .api(Method::POST, &format!("/api/v1/enterprises/acme/connections/{id}/enable"), &app.operator_key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    (id, idp)
}

async fn sign_in_through_samlp(app: &TestApp, idp: &SamlpIdp) -> reqwest::Response {
    let start = app.client.get(app.url("/login/sso?enterprise_key=acme")).send().await.unwrap();
    assert_eq!(start.status(), StatusCode::FOUND);
    let location = start.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(&format!("{}/sso?", idp.base)), "{location}");
    if let Ok(dir) = std::env::var("PORTICO_INTEROP_DUMP") {
        std::fs::write(format!("{dir}/samlp-location.txt"), &location).unwrap();
    }
    let page = app.client.get(&location).send().await.unwrap().text().await.unwrap();
    let action = {
        let a = page.find("action=\"").unwrap() + 8;
        page[a..].split('"').next().unwrap().to_owned()
    };
    let body = form_value(&page, "SAMLResponse");
    if let Ok(dir) = std::env::var("PORTICO_INTEROP_DUMP") {
        use base64::Engine;
        let xml = base64::engine::general_purpose::STANDARD.decode(&body).unwrap();
        std::fs::write(format!("{dir}/samlp-response.xml"), xml).unwrap();
    }
    app.client.post(action).form(&[("SAMLResponse", body.as_str()), ("RelayState", "")]).send().await.unwrap()
}

async fn samlp_signs_people_in_plain_and_encrypted(app: TestApp) {
    if !crate::helpers::available(crate::helpers::Tool::SamlIdp) {
        return;
    }
    app.create_enterprise("acme").await;
    app.create_organization("acme", "eng").await;
    app.api(Method::POST, "/api/v1/enterprises/acme/organizations/eng/groups", &app.operator_key)
        .json(&json!({"name": "Developers"}))
        .send()
        .await
        .unwrap();
    // The connection exists first (its ACS URL goes into the IdP), then reads the IdP's metadata.
    let draft: Value = app
        .api(Method::POST, "/api/v1/enterprises/acme/connections", &app.operator_key)
        .json(&json!({"protocol": "saml", "provider": "other", "saml": {}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = draft["id"].as_str().unwrap().to_owned();
    let acs = draft["sp"]["acs_url"].as_str().unwrap().to_owned();

    for encrypted in [false, true] {
        // Encryption needs Portico's certificate at the IdP: turn it on first, then start the IdP.
        let configure = |metadata_url: String| {
            app.api(Method::PATCH, &format!("/api/v1/enterprises/acme/connections/{id}"), &app.operator_key)
                .json(&json!({"saml": {"metadata_url": metadata_url, "encrypt_assertions": encrypted}}))
                .send()
        };
        let placeholder = start_samlp(&acs, None);
        let res = configure(format!("{}/metadata", placeholder.base)).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap());
        let c: Value = app
            .api(Method::GET, &format!("/api/v1/enterprises/acme/connections/{id}"), &app.operator_key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let sp_cert = c["saml"]["encryption_certificate"].as_str().map(str::to_owned);
        drop(placeholder);
        let idp = start_samlp(&acs, sp_cert.as_deref());
        let res = configure(format!("{}/metadata", idp.base)).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        app.directory
            .record_test_result(&directory::ids::ConnectionId::from(id.as_str()), true, None, &json!({}), None)
            .unwrap();
        let res = app
            .api(Method::POST, &format!("/api/v1/enterprises/acme/connections/{id}/enable"), &app.operator_key)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);

        let res = sign_in_through_samlp(&app, &idp).await;
        if res.status() != StatusCode::SEE_OTHER {
            let events = app
                .directory
                .list_audit_events(
                    &directory::Ctx::new(&directory::Actor::System, None),
                    Some("acme"),
                    &Default::default(),
                )
                .unwrap();
            let reasons: Vec<String> = events.items.iter().filter_map(|e| e.reason.clone()).collect();
            panic!("encrypted={encrypted}: sign-in refused: {reasons:?}");
        }
        assert!(
            res.headers().get_all("set-cookie").iter().any(|c| c.to_str().unwrap().starts_with("portico_session="))
        );
        let users: Value = app
            .api(Method::GET, "/api/v1/enterprises/acme/users", &app.operator_key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let grace = &users["items"][0];
        assert_eq!(grace["login"], "grace");
        assert_eq!(grace["email"], "grace@acme.test");
        assert_eq!(grace["groups"], json!([{"organization": "eng", "group": "Developers", "source": "sso"}]));
        app.api(Method::POST, &format!("/api/v1/enterprises/acme/connections/{id}/disable"), &app.operator_key)
            .send()
            .await
            .unwrap();
    }
}

/// Entra ID and Okta put every group of a user in the assertion: 1,000 values, signed by an
/// independent IdP, make a response of about 140 KB that must sign the user in.
async fn samlp_signs_in_a_user_with_a_thousand_groups(app: TestApp) {
    if !crate::helpers::available(crate::helpers::Tool::SamlIdp) {
        return;
    }
    app.create_enterprise("acme").await;
    let groups: Vec<String> =
        (0..1000).map(|i| format!("Department {i:04} - Regional Engineering and Operations")).collect();
    let user = json!({"login": "linus", "email": "linus@acme.test", "name": "Linus T", "groups": groups});
    let (_, idp) = enabled_samlp_connection(&app, &user).await;
    let res = sign_in_through_samlp(&app, &idp).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "{}", res.text().await.unwrap());
    let groups: Value = app
        .api(Method::GET, "/api/v1/enterprises/acme/idp-groups?filter=Department%200999", &app.operator_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(groups["items"].as_array().map(Vec::len), Some(1), "the last of the groups arrived");
}

crate::both_backends!(samlp_signs_people_in_plain_and_encrypted, samlp_signs_in_a_user_with_a_thousand_groups);
