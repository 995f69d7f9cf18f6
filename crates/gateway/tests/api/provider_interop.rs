//! Portico's OpenID Provider against the OpenID-certified relying-party library (panva's
//! openid-client, `interop/op-rp.mjs`): discovery, the code flow with PKCE, state and nonce, ID
//! token validation (signature against the JWKS, issuer, audience, expiry, nonce, at_hash),
//! userinfo, refresh, revocation and RP-initiated logout, with the person signed in through an
//! independent SAML IdP (samlp) and through an independent OpenID Provider (oidc-provider).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::TestApp;

/// The relying party as a child process, stopped by process id when dropped.
struct RelyingParty {
    child: Child,
    base: String,
}

impl Drop for RelyingParty {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Registers the relying party as a confidential application of `acme` and starts it.
async fn start_rp(app: &TestApp) -> RelyingParty {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let created: Value = app
        .api(Method::POST, "/api/v1/applications", &app.operator_key)
        .json(&json!({"name": "openid-client host", "redirect_uris": [format!("{base}/cb")],
            "post_logout_redirect_uris": [format!("{base}/bye")], "enterprises": ["acme"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../interop");
    let mut child = Command::new("node")
        .arg(dir.join("op-rp.mjs"))
        .current_dir(&dir)
        .env("PORT", port.to_string())
        .env("ISSUER", &app.base)
        .env("CLIENT_ID", created["client_id"].as_str().unwrap())
        .env("CLIENT_SECRET", created["client_secret"].as_str().unwrap())
        .env("ENTERPRISE_KEY", "acme")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node runs the relying party");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let rp = RelyingParty { child, base };
    assert_eq!(rx.recv_timeout(Duration::from_secs(30)).expect("the relying party starts"), "ready");
    rp
}

/// Plays the browser from `start`: follows redirects, posts the SAML IdP's auto-post form,
/// and returns the first page that is neither (the relying party's answer).
async fn browse(b: &Client, start: &str) -> reqwest::Response {
    let mut res = b.get(start).send().await.unwrap();
    let mut at = start.to_owned();
    for _ in 0..20 {
        if res.status().is_redirection() {
            let location = res.headers()["location"].to_str().unwrap().to_owned();
            at = url::Url::parse(&at).unwrap().join(&location).unwrap().to_string();
            res = b.get(&at).send().await.unwrap();
            continue;
        }
        let is_html = res.headers().get("content-type").is_some_and(|c| c.to_str().unwrap().contains("html"));
        if !is_html {
            return res;
        }
        let page = res.text().await.unwrap();
        assert!(page.contains("SAMLResponse"), "an unexpected page at {at}: {page}");
        let action = {
            let a = page.find("action=\"").unwrap() + 8;
            page[a..].split('"').next().unwrap().to_owned()
        };
        let body = crate::interop::form_value(&page, "SAMLResponse");
        at = action.clone();
        res = b.post(&action).form(&[("SAMLResponse", body.as_str()), ("RelayState", "")]).send().await.unwrap();
    }
    panic!("the browser never reached the application");
}

fn browser() -> Client {
    Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// Signs in through the relying party and checks everything it reports, then logs out.
async fn sign_in_and_out(app: &TestApp, rp: &RelyingParty, protocol: &str, connection: &str) -> Value {
    let b = browser();
    let res = browse(&b, &format!("{}/login", rp.base)).await;
    let status = res.status();
    let report: Value = res.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["issuer"], app.base.as_str());
    let claims = &report["claims"];
    assert_eq!(claims["iss"], app.base.as_str());
    assert_eq!(claims["enterprise"]["key"], "acme");
    assert_eq!(claims["idp"], json!({"connection": connection, "protocol": protocol}));
    assert!(claims["sid"].is_string() && claims["auth_time"].is_number(), "{claims}");
    assert_eq!(report["userinfo"]["sub"], claims["sub"]);
    assert_eq!(report["userinfo"]["organizations"], claims["organizations"]);
    assert_eq!(report["refreshed_claims"]["sub"], claims["sub"]);
    assert_eq!(report["userinfo_after_revocation"], "invalid_token");
    // RP-initiated logout: back at the application with its state; the session is gone.
    let res = browse(&b, report["end_session_url"].as_str().unwrap()).await;
    let bye: Value = res.json().await.unwrap();
    assert_eq!(bye, json!({"signed_out": true, "state": "after-logout"}));
    let again = b.get(format!("{}/login", rp.base)).send().await.unwrap();
    let authorize = again.headers()["location"].to_str().unwrap().to_owned();
    let res = b.get(&authorize).send().await.unwrap();
    let next = res.headers()["location"].to_str().unwrap();
    assert!(!next.contains("code="), "signed out: the IdP is asked again, not answered from a session: {next}");
    claims.clone()
}

async fn openid_client_signs_in_through_a_saml_idp(app: TestApp) {
    if !crate::helpers::available(crate::helpers::Tool::SamlIdp)
        || !crate::helpers::available(crate::helpers::Tool::RelyingParty)
    {
        return;
    }
    app.create_enterprise("acme").await;
    app.create_organization("acme", "eng").await;
    app.api(Method::POST, "/api/v1/enterprises/acme/organizations/eng/groups", &app.operator_key)
        .json(&json!({"name": "Developers"}))
        .send()
        .await
        .unwrap();
    let grace = json!({"login": "grace", "email": "grace@acme.test", "name": "Grace Hopper", "groups": ["Developers"]});
    let (id, _idp) = crate::interop::enabled_samlp_connection(&app, &grace).await;
    let rp = start_rp(&app).await;
    let claims = sign_in_and_out(&app, &rp, "saml", &id).await;
    assert_eq!(claims["preferred_username"], "grace");
    assert_eq!(claims["email"], "grace@acme.test");
    assert!(claims.get("email_verified").is_none(), "SAML does not assert verification");
    assert_eq!(claims["organizations"][0]["key"], "eng");
    assert_eq!(claims["organizations"][0]["groups"], json!(["Developers"]));
    assert!(claims["organizations"][0]["permissions"].is_array());
}

async fn openid_client_signs_in_through_an_oidc_idp(app: TestApp) {
    if !crate::helpers::available(crate::helpers::Tool::OpenIdProvider)
        || !crate::helpers::available(crate::helpers::Tool::RelyingParty)
    {
        return;
    }
    let (id, _, _op) = crate::oidc::enabled_connection(&app).await;
    app.create_organization("acme", "eng").await;
    app.api(Method::POST, "/api/v1/enterprises/acme/organizations/eng/groups", &app.operator_key)
        .json(&json!({"name": "Developers"}))
        .send()
        .await
        .unwrap();
    // The provider sends groups when asked for the `groups` scope.
    let res = app
        .api(Method::PATCH, &format!("/api/v1/enterprises/acme/connections/{id}"), &app.operator_key)
        .json(&json!({"oidc": {"scopes": ["openid", "email", "profile", "groups"]}, "claims_mapping": {"groups": "groups"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let rp = start_rp(&app).await;
    let claims = sign_in_and_out(&app, &rp, "oidc", &id).await;
    assert_eq!(claims["preferred_username"], "ada");
    assert_eq!(claims["email_verified"], true, "the provider said so: {claims}");
    assert_eq!(claims["organizations"][0]["groups"], json!(["Developers"]), "{claims}");
}

crate::both_backends!(openid_client_signs_in_through_a_saml_idp, openid_client_signs_in_through_an_oidc_idp);
