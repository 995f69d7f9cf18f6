//! Portico as the host product's OpenID Provider, over HTTP: applications through the admin
//! API, discovery and keys, the code flow through a SAML sign-in (the `sso` test IdP, real XML
//! signatures), and one test per attack class the specifications and RFC 9700 name. The full
//! flow with a certified relying-party library is in `provider_interop.rs`.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};
use sha2::Digest;

use crate::helpers::TestApp;

pub const REDIRECT: &str = "http://127.0.0.1:9/cb";
pub const LOGGED_OUT: &str = "http://127.0.0.1:9/bye";
/// An RFC 7636 verifier and its S256 challenge.
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// A clock the test moves forward (codes expire after 60 seconds).
#[derive(Debug, Default)]
pub struct OffsetClock(AtomicI64);

impl OffsetClock {
    pub fn advance(&self, secs: i64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }
}

impl directory::Clock for OffsetClock {
    fn now(&self) -> chrono::NaiveDateTime {
        directory::SystemClock.now() + chrono::Duration::seconds(self.0.load(Ordering::SeqCst))
    }
}

/// A registered application.
pub struct App {
    pub client_id: String,
    pub secret: Option<String>,
}

pub async fn register(app: &TestApp, body: Value) -> App {
    let res = app.api(Method::POST, "/api/v1/applications", &app.operator_key).json(&body).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let v: Value = res.json().await.unwrap();
    App {
        client_id: v["client_id"].as_str().unwrap().to_owned(),
        secret: v["client_secret"].as_str().map(str::to_owned),
    }
}

/// Enterprise `acme` with an enabled SAML connection, organization `eng` whose group
/// `Developers` may create projects, and a confidential application for every enterprise.
pub async fn setup(app: &TestApp) -> (crate::saml::Setup, App) {
    let s = crate::saml::setup(app).await;
    app.directory
        .record_test_result(&directory::ids::ConnectionId::from(s.id.as_str()), true, None, &json!({}), None)
        .unwrap();
    let res = app
        .api(Method::POST, &format!("/api/v1/enterprises/acme/connections/{}/enable", s.id), &app.operator_key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = app
        .api(Method::PUT, "/api/v1/enterprises/acme/organizations/eng/groups/Developers/permissions", &app.operator_key)
        .json(&json!({"permissions": ["create_projects"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let client = register(
        app,
        json!({"name": "Acme Cloud", "redirect_uris": [REDIRECT], "post_logout_redirect_uris": [LOGGED_OUT],
               "public": false, "enterprises": "*"}),
    )
    .await;
    (s, client)
}

/// A browser: keeps cookies, follows no redirect.
pub fn browser() -> Client {
    Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

pub fn authorize_url(app: &TestApp, client_id: &str, extra: &[(&str, &str)]) -> String {
    let mut u = url::Url::parse(&app.url("/oauth2/authorize")).unwrap();
    {
        let mut q = u.query_pairs_mut();
        q.append_pair("client_id", client_id)
            .append_pair("redirect_uri", REDIRECT)
            .append_pair("response_type", "code")
            .append_pair("scope", "openid profile email organizations")
            .append_pair("state", "st-123")
            .append_pair("nonce", "n-456")
            .append_pair("code_challenge", CHALLENGE)
            .append_pair("code_challenge_method", "S256")
            .append_pair("enterprise_key", "acme");
        for (k, v) in extra {
            q.append_pair(k, v);
        }
    }
    u.to_string()
}

fn location(res: &reqwest::Response) -> String {
    res.headers().get("location").map(|l| l.to_str().unwrap().to_owned()).unwrap_or_default()
}

/// The query of a redirect to the application.
pub fn params(location: &str) -> std::collections::HashMap<String, String> {
    assert!(location.starts_with(REDIRECT), "{location}");
    url::Url::parse(location).unwrap().query_pairs().into_owned().collect()
}

/// Signs `login` in at the IdP through `authorize` in `b`, and returns the final redirect to
/// the application.
pub async fn through_saml(app: &TestApp, s: &crate::saml::Setup, b: &Client, authorize: &str, login: &str) -> String {
    let res = b.get(authorize).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FOUND, "{}", res.text().await.unwrap_or_default());
    let idp = location(&res);
    assert!(idp.starts_with("https://idp.test/sso?SAMLRequest="), "{idp}");
    let req = crate::saml::request_id(&idp);
    let body = s.idp.response(&crate::saml::answer(s, Some(&req), login, &["Developers"]));
    let res = b.post(&s.acs).form(&[("SAMLResponse", body.as_str()), ("RelayState", "")]).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let resume = location(&res);
    assert!(resume.starts_with("/oauth2/authorize/resume/"), "{resume}");
    let res = b.get(app.url(&resume)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    location(&res)
}

/// A code for `ada` through the whole flow.
async fn code(app: &TestApp, s: &crate::saml::Setup, client: &App, b: &Client) -> String {
    let back = through_saml(app, s, b, &authorize_url(app, &client.client_id, &[]), "ada").await;
    let p = params(&back);
    p["code"].clone()
}

pub async fn exchange(app: &TestApp, client: &App, form: &[(&str, &str)]) -> reqwest::Response {
    let mut req = app.client.post(app.url("/oauth2/token"));
    if let Some(secret) = &client.secret {
        req = req.basic_auth(&client.client_id, Some(secret));
    }
    req.form(form).send().await.unwrap()
}

async fn exchange_code(app: &TestApp, client: &App, code: &str) -> reqwest::Response {
    exchange(
        app,
        client,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ],
    )
    .await
}

/// The payload of a compact JWT (the certified library checks the signature in
/// `provider_interop.rs`; here the claims).
pub fn payload(jwt: &str) -> Value {
    let part = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

fn header(jwt: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(jwt.split('.').next().unwrap()).unwrap()).unwrap()
}

async fn oauth_error(res: reqwest::Response, status: StatusCode, error: &str) {
    assert_eq!(res.status(), status);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], error, "{body}");
}

async fn userinfo(app: &TestApp, access_token: &str) -> reqwest::Response {
    app.client.get(app.url("/oauth2/userinfo")).bearer_auth(access_token).send().await.unwrap()
}

/// True when the RS256 compact JWT `jwt` is signed by a key of `jwks` (checked here
/// with OpenSSL from the published JWK alone, as a host would).
pub fn signed_by(jwt: &str, jwks: &Value) -> bool {
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s).unwrap();
    let parts: Vec<&str> = jwt.split('.').collect();
    let header: Value = serde_json::from_slice(&b64(parts[0])).unwrap();
    let Some(jwk) = jwks["keys"].as_array().unwrap().iter().find(|k| k["kid"] == header["kid"]) else {
        return false;
    };
    let n = openssl::bn::BigNum::from_slice(&b64(jwk["n"].as_str().unwrap())).unwrap();
    let e = openssl::bn::BigNum::from_slice(&b64(jwk["e"].as_str().unwrap())).unwrap();
    let key = openssl::pkey::PKey::from_rsa(openssl::rsa::Rsa::from_public_components(n, e).unwrap()).unwrap();
    let mut verifier = openssl::sign::Verifier::new(openssl::hash::MessageDigest::sha256(), &key).unwrap();
    verifier.update(format!("{}.{}", parts[0], parts[1]).as_bytes()).unwrap();
    verifier.verify(&b64(parts[2])).unwrap()
}

// ---- Applications ----

async fn applications_are_managed_by_operators(app: TestApp) {
    app.create_enterprise("acme").await;
    let body = json!({"name": "Acme Cloud", "redirect_uris": ["https://app.example/cb"],
        "post_logout_redirect_uris": ["https://app.example/bye"], "backchannel_logout_uri": "https://app.example/bcl",
        "public": false, "enterprises": "*"});
    let res = app.api(Method::POST, "/api/v1/applications", &app.operator_key).json(&body).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let created: Value = res.json().await.unwrap();
    let id = created["client_id"].as_str().unwrap().to_owned();
    let secret = created["client_secret"].as_str().unwrap().to_owned();
    assert_eq!(created["enterprises"], "*");
    assert_eq!(created["id_token_signed_response_alg"], "RS256");

    // Shown once: never in a read.
    let got: Value = app
        .api(Method::GET, &format!("/api/v1/applications/{id}"), &app.operator_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(got.get("client_secret").is_none() && !got.to_string().contains(&secret), "{got}");
    let listed: Value =
        app.api(Method::GET, "/api/v1/applications", &app.operator_key).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed[0]["client_id"], id.as_str());

    let patched: Value = app
        .api(Method::PATCH, &format!("/api/v1/applications/{id}"), &app.operator_key)
        .json(
            &json!({"enterprises": ["acme"], "backchannel_logout_uri": null, "id_token_signed_response_alg": "ES256"}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(patched["enterprises"], json!(["acme"]));
    assert_eq!(patched["backchannel_logout_uri"], Value::Null);
    assert_eq!(patched["id_token_signed_response_alg"], "ES256");

    let rotated: Value = app
        .api(Method::POST, &format!("/api/v1/applications/{id}/rotate-secret"), &app.operator_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let new_secret = rotated["client_secret"].as_str().unwrap();
    assert_ne!(new_secret, secret);
    assert!(app.directory.authenticate_host_application(&id, &secret).unwrap().is_none(), "the old secret is dead");
    assert!(app.directory.authenticate_host_application(&id, new_secret).unwrap().is_some());

    // Public: no secret, and nothing to rotate.
    let res = app
        .api(Method::POST, "/api/v1/applications", &app.operator_key)
        .json(&json!({"name": "SPA", "redirect_uris": ["http://localhost:3000/cb"], "public": true, "enterprises": ["acme"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let public: Value = res.json().await.unwrap();
    assert!(public.get("client_secret").is_none(), "{public}");
    assert_eq!(public["token_endpoint_auth_method"], "none");
    let res = app
        .api(
            Method::POST,
            &format!("/api/v1/applications/{}/rotate-secret", public["client_id"].as_str().unwrap()),
            &app.operator_key,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CONFLICT);

    // Bad input is refused field by field; enterprise keys may not manage applications.
    for bad in [
        json!({"name": "x", "redirect_uris": ["http://app.example/cb"]}),
        json!({"name": "x", "redirect_uris": ["https://app.example/cb#frag"]}),
        json!({"name": "x", "redirect_uris": []}),
        json!({"name": "x", "redirect_uris": ["https://app.example/cb"], "enterprises": ["nope"]}),
        json!({"name": "x", "redirect_uris": ["https://app.example/cb"], "enterprises": "all"}),
        json!({"name": "x", "redirect_uris": ["https://app.example/cb"], "id_token_signed_response_alg": "HS256"}),
        json!({"name": "x", "redirect_uris": ["https://app.example/cb"], "access_token_ttl_secs": 1}),
    ] {
        let res = app.api(Method::POST, "/api/v1/applications", &app.operator_key).json(&bad).send().await.unwrap();
        crate::helpers::problem(res, StatusCode::BAD_REQUEST).await;
    }
    let acme_key = app.enterprise_key("acme");
    let res = app.api(Method::GET, "/api/v1/applications", &acme_key).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = app.api(Method::POST, "/api/v1/applications", &acme_key).json(&body).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    let res = app.api(Method::DELETE, &format!("/api/v1/applications/{id}"), &app.operator_key).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = app.api(Method::GET, &format!("/api/v1/applications/{id}"), &app.operator_key).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let events = app
        .directory
        .list_audit_events(
            &directory::Ctx::new(&directory::Actor::System, None),
            None,
            &directory::PageRequest::first(100),
        )
        .unwrap()
        .items;
    for action in [
        "host_application.create",
        "host_application.update",
        "host_application.rotate_secret",
        "host_application.delete",
    ] {
        assert!(events.iter().any(|e| e.action == action), "{action} audited");
    }
}

// ---- Discovery and keys ----

async fn discovery_names_the_issuer_exactly_and_the_keys_overlap(app: TestApp) {
    let d: Value =
        app.client.get(app.url("/.well-known/openid-configuration")).send().await.unwrap().json().await.unwrap();
    assert_eq!(d["issuer"], app.base.as_str(), "issuer = server.public_url as configured");
    assert_eq!(d["authorization_endpoint"], app.url("/oauth2/authorize"));
    assert_eq!(d["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(d["authorization_response_iss_parameter_supported"], true);
    let jwks: Value = app.client.get(d["jwks_uri"].as_str().unwrap()).send().await.unwrap().json().await.unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    // A current and a next key per algorithm, each with its kid; no private member.
    assert_eq!(keys.iter().filter(|k| k["alg"] == "RS256").count(), 2, "{jwks}");
    assert_eq!(keys.iter().filter(|k| k["alg"] == "ES256").count(), 2, "{jwks}");
    assert!(keys.iter().all(|k| k["kid"].is_string() && k["use"] == "sig" && k.get("d").is_none()));

    // Rotation: the next key starts signing, the current one stays published as previous.
    let before: Vec<String> = keys.iter().map(|k| k["kid"].as_str().unwrap().to_owned()).collect();
    // The new next key is a copy of a stored one (sealed with the app's own secret key).
    let system = directory::Actor::System;
    let ctx = directory::Ctx::new(&system, None);
    let stored_before = app.directory.signing_keys().unwrap();
    let next_rs = stored_before
        .iter()
        .find(|k| {
            k.alg == directory::host_application::SigningAlg::Rs256 && k.state == directory::provider::KeyState::Next
        })
        .unwrap()
        .kid
        .clone();
    let spare = stored_before[0].clone();
    let rotated = app
        .directory
        .rotate_signing_keys(&ctx, directory::host_application::SigningAlg::Rs256, None, &|| {
            Ok(directory::provider::NewSigningKey {
                kid: "test-new-next".into(),
                private_key_sealed: spare.private_key_sealed.clone(),
                public_jwk: spare.public_jwk.clone(),
            })
        })
        .unwrap();
    assert_eq!(rotated, directory::provider::Rotation::Rotated);
    let after = app.directory.signing_keys().unwrap();
    let state_of = |kid: &str| after.iter().find(|k| k.kid == kid).map(|k| k.state);
    assert_eq!(state_of(&next_rs), Some(directory::provider::KeyState::Current), "next became current");
    assert_eq!(state_of("test-new-next"), Some(directory::provider::KeyState::Next));
    assert_eq!(after.len(), before.len() + 1, "the old current is kept as previous");
    // Not due yet: the schedule leaves a fresh key alone.
    let again = app
        .directory
        .rotate_signing_keys(
            &ctx,
            directory::host_application::SigningAlg::Rs256,
            Some(app.directory.now() - chrono::Duration::days(90)),
            &|| panic!("no key is made when none is due"),
        )
        .unwrap();
    assert_eq!(again, directory::provider::Rotation::NotDue);
}

// ---- The code flow ----

async fn a_saml_sign_in_hands_the_person_to_the_application(app: TestApp) {
    let (s, client) = setup(&app).await;
    let b = browser();
    let back = through_saml(&app, &s, &b, &authorize_url(&app, &client.client_id, &[]), "ada").await;
    let p = params(&back);
    assert_eq!(p["state"], "st-123");
    assert_eq!(p["iss"], app.base.as_str(), "RFC 9207: the response names its issuer");
    let res = exchange_code(&app, &client, &p["code"]).await;
    assert_eq!(res.status(), StatusCode::OK, "{:?}", res.text().await);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let tokens: Value = res.json().await.unwrap();
    assert_eq!(tokens["token_type"], "Bearer");
    let id_token = tokens["id_token"].as_str().unwrap();
    let claims = payload(id_token);
    let users: Value = app
        .api(Method::GET, "/api/v1/enterprises/acme/users", &app.operator_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ada_id = users["items"][0]["id"].as_str().unwrap();
    assert_eq!(claims["iss"], app.base.as_str());
    assert_eq!(claims["aud"], json!([client.client_id]), "one audience: this application");
    assert_eq!(claims["sub"], ada_id, "sub is the user's id, not the login");
    assert_eq!(claims["nonce"], "n-456");
    assert_eq!(claims["preferred_username"], "ada");
    assert_eq!(claims["name"], "Ada Lovelace");
    assert_eq!(claims["email"], "ada@acme.test");
    assert!(claims.get("email_verified").is_none(), "SAML asserts no verification: {claims}");
    assert_eq!(claims["enterprise"], json!({"key": "acme", "name": "acme corporation"}));
    assert_eq!(
        claims["organizations"],
        // Developers may create projects; everyone in the organization may browse (Members).
        json!([{"key": "eng", "name": "eng team", "groups": ["Developers"], "permissions": ["create_projects", "browse"]}])
    );
    assert_eq!(claims["idp"], json!({"connection": s.id, "protocol": "saml"}));
    assert!(claims["sid"].is_string() && claims["auth_time"].is_number());
    let h = header(id_token);
    assert_eq!(h["alg"], "RS256");
    let access = tokens["access_token"].as_str().unwrap();
    let digest = sha2::Sha256::digest(access.as_bytes());
    assert_eq!(claims["at_hash"], URL_SAFE_NO_PAD.encode(&digest[..16]));
    let jwks: Value = app.client.get(app.url("/oauth2/jwks")).send().await.unwrap().json().await.unwrap();
    assert!(jwks["keys"].as_array().unwrap().iter().any(|k| k["kid"] == h["kid"]), "kid is published");

    // Userinfo: the same claims, from the directory as it is now.
    let info: Value = userinfo(&app, access).await.json().await.unwrap();
    assert_eq!(info["sub"], claims["sub"]);
    assert_eq!(info["organizations"], claims["organizations"]);
    let res = app
        .api(Method::PUT, "/api/v1/enterprises/acme/organizations/eng/groups/Developers/permissions", &app.operator_key)
        .json(&json!({"permissions": ["administer"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let info: Value = userinfo(&app, access).await.json().await.unwrap();
    assert_eq!(info["organizations"][0]["permissions"], json!(["administer", "browse"]), "read at the call");

    // A second authorization in the same browser needs no IdP: the session answers at once.
    let res =
        b.get(authorize_url(&app, &client.client_id, &[]).replace("state=st-123", "state=again")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    let again = params(&location(&res));
    assert!(again.contains_key("code"), "{again:?}");
    assert_eq!(again["state"], "again");

    // Refresh: new tokens; the old refresh token is spent.
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let res = exchange(&app, &client, &[("grant_type", "refresh_token"), ("refresh_token", refresh)]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let refreshed: Value = res.json().await.unwrap();
    let refreshed_claims = payload(refreshed["id_token"].as_str().unwrap());
    assert_eq!(refreshed_claims["sub"], claims["sub"]);
    assert_eq!(refreshed_claims["auth_time"], claims["auth_time"], "the original authentication time");
    assert_ne!(refreshed["refresh_token"], tokens["refresh_token"]);

    // Revocation of the new refresh token ends its grant: its access token too.
    let new_access = refreshed["access_token"].as_str().unwrap();
    assert_eq!(userinfo(&app, new_access).await.status(), StatusCode::OK);
    let res = app
        .client
        .post(app.url("/oauth2/revoke"))
        .basic_auth(&client.client_id, client.secret.as_ref())
        .form(&[("token", refreshed["refresh_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = userinfo(&app, new_access).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(res.headers()["www-authenticate"].to_str().unwrap().contains("invalid_token"));

    // RP-initiated logout: back to the registered page with the state, the session gone.
    let mut logout = url::Url::parse(&app.url("/oauth2/logout")).unwrap();
    logout
        .query_pairs_mut()
        .append_pair("id_token_hint", id_token)
        .append_pair("post_logout_redirect_uri", LOGGED_OUT)
        .append_pair("state", "bye-1");
    let res = b.get(logout.as_str()).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(location(&res), format!("{LOGGED_OUT}?state=bye-1"));
    let res = b.get(authorize_url(&app, &client.client_id, &[("prompt", "none")])).send().await.unwrap();
    assert_eq!(params(&location(&res))["error"], "login_required", "the session ended");
}

async fn a_request_without_enterprise_asks_for_it(app: TestApp) {
    let (_s, client) = setup(&app).await;
    let mut u = url::Url::parse(&authorize_url(&app, &client.client_id, &[])).unwrap();
    let kept: Vec<(String, String)> = u.query_pairs().into_owned().filter(|(k, _)| k != "enterprise_key").collect();
    u.query_pairs_mut().clear().extend_pairs(kept);
    let res = app.client.get(u.as_str()).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(html.contains("Choose your enterprise") && html.contains("Acme Cloud"), "{html}");
    assert!(html.contains("name=\"enterprise_key\"") && html.contains("value=\"st-123\""), "{html}");
}

// ---- Attack classes, one each ----

/// RFC 6749 §4.1.2.1, §10.15: a redirect URI that is not registered exactly gets a page, never
/// a redirect (no open redirector, no code leaked to a look-alike URI).
async fn an_unregistered_redirect_uri_is_never_followed(app: TestApp) {
    let (_s, client) = setup(&app).await;
    for near in
        ["http://127.0.0.1:9/cb/", "http://127.0.0.1:9/cb?x=1", "http://127.0.0.1:9/CB", "https://evil.example/cb"]
    {
        let url = authorize_url(&app, &client.client_id, &[]).replace(
            &url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>(),
            &url::form_urlencoded::byte_serialize(near.as_bytes()).collect::<String>(),
        );
        let res = app.client.get(url).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{near}");
        assert!(res.headers().get("location").is_none(), "{near}");
    }
    // An unknown client, and a duplicated redirect_uri, the same.
    let res = app.client.get(authorize_url(&app, "papp_unknown", &[])).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.headers().get("location").is_none());
    let res =
        app.client.get(authorize_url(&app, &client.client_id, &[("redirect_uri", REDIRECT)])).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.headers().get("location").is_none());
}

/// RFC 6749 §4.1.2, §10.5: a code is single-use; its second exchange revokes what the first
/// issued.
async fn a_replayed_code_revokes_its_tokens(app: TestApp) {
    let (s, client) = setup(&app).await;
    let code = code(&app, &s, &client, &browser()).await;
    let first: Value = exchange_code(&app, &client, &code).await.json().await.unwrap();
    let access = first["access_token"].as_str().unwrap();
    assert_eq!(userinfo(&app, access).await.status(), StatusCode::OK);
    oauth_error(exchange_code(&app, &client, &code).await, StatusCode::BAD_REQUEST, "invalid_grant").await;
    assert_eq!(userinfo(&app, access).await.status(), StatusCode::UNAUTHORIZED, "revoked by the replay");
    let res = exchange(
        &app,
        &client,
        &[("grant_type", "refresh_token"), ("refresh_token", first["refresh_token"].as_str().unwrap())],
    )
    .await;
    oauth_error(res, StatusCode::BAD_REQUEST, "invalid_grant").await;
}

/// RFC 7636 §4.6: the verifier must answer the challenge; a wrong one spends the code.
async fn a_wrong_pkce_verifier_is_refused(app: TestApp) {
    let (s, client) = setup(&app).await;
    let code = code(&app, &s, &client, &browser()).await;
    let wrong = "x".repeat(43);
    let res = exchange(
        &app,
        &client,
        &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", REDIRECT), ("code_verifier", &wrong)],
    )
    .await;
    oauth_error(res, StatusCode::BAD_REQUEST, "invalid_grant").await;
    oauth_error(exchange_code(&app, &client, &code).await, StatusCode::BAD_REQUEST, "invalid_grant").await;
}

/// RFC 9700 §2.1.1: PKCE downgrade. A code issued without a challenge is not redeemed with a
/// verifier, and `plain` is never accepted.
async fn pkce_cannot_be_downgraded(app: TestApp) {
    let (s, client) = setup(&app).await;
    let b = browser();
    let url = authorize_url(&app, &client.client_id, &[])
        .replace(&format!("&code_challenge={CHALLENGE}&code_challenge_method=S256"), "");
    let back = through_saml(&app, &s, &b, &url, "ada").await;
    let code = params(&back)["code"].clone();
    oauth_error(exchange_code(&app, &client, &code).await, StatusCode::BAD_REQUEST, "invalid_grant").await;
    let plain = authorize_url(&app, &client.client_id, &[])
        .replace("code_challenge_method=S256", "code_challenge_method=plain");
    let res = b.get(plain).send().await.unwrap();
    let p = params(&location(&res));
    assert_eq!(p["error"], "invalid_request");
    assert_eq!(p["state"], "st-123");
}

/// The code lives 60 seconds.
async fn an_expired_code_is_refused(app: TestApp, clock: Arc<OffsetClock>) {
    let (s, client) = setup(&app).await;
    let code = code(&app, &s, &client, &browser()).await;
    clock.advance(61);
    oauth_error(exchange_code(&app, &client, &code).await, StatusCode::BAD_REQUEST, "invalid_grant").await;
}

/// RFC 6749 §2.3, §5.2: a wrong secret, a confidential client leaving its secret out, and two
/// authentication methods at once are refused.
async fn client_authentication_cannot_be_confused(app: TestApp) {
    let (s, client) = setup(&app).await;
    let code = code(&app, &s, &client, &browser()).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ];
    let res = app
        .client
        .post(app.url("/oauth2/token"))
        .basic_auth(&client.client_id, Some("pcs_wrong"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert!(res.headers()["www-authenticate"].to_str().unwrap().starts_with("Basic"));
    oauth_error(res, StatusCode::UNAUTHORIZED, "invalid_client").await;
    let mut without_secret = form.to_vec();
    without_secret.push(("client_id", &client.client_id));
    let res = app.client.post(app.url("/oauth2/token")).form(&without_secret).send().await.unwrap();
    oauth_error(res, StatusCode::UNAUTHORIZED, "invalid_client").await;
    let mut both = form.to_vec();
    both.push(("client_secret", client.secret.as_deref().unwrap()));
    let res = app
        .client
        .post(app.url("/oauth2/token"))
        .basic_auth(&client.client_id, client.secret.as_ref())
        .form(&both)
        .send()
        .await
        .unwrap();
    oauth_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;
    // client_secret_post works, and the code (untouched by refused authentications) is spent once.
    let mut post = form.to_vec();
    post.push(("client_id", &client.client_id));
    post.push(("client_secret", client.secret.as_deref().unwrap()));
    let res = app.client.post(app.url("/oauth2/token")).form(&post).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

/// A public application must use PKCE (RFC 9700 §2.1.1).
async fn a_public_client_without_pkce_is_refused(app: TestApp) {
    let (_s, _) = setup(&app).await;
    let spa = register(&app, json!({"name": "SPA", "redirect_uris": [REDIRECT], "public": true})).await;
    let url = authorize_url(&app, &spa.client_id, &[])
        .replace(&format!("&code_challenge={CHALLENGE}&code_challenge_method=S256"), "");
    let res = app.client.get(url).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    let p = params(&location(&res));
    assert_eq!(p["error"], "invalid_request");
    assert!(p["error_description"].contains("PKCE"));
    assert_eq!(p["iss"], app.base.as_str());
}

/// OpenID Connect Core §3.1.2.1: prompt=none never shows a page.
async fn prompt_none_without_a_session_answers_login_required(app: TestApp) {
    let (_s, client) = setup(&app).await;
    let res = app.client.get(authorize_url(&app, &client.client_id, &[("prompt", "none")])).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    let p = params(&location(&res));
    assert_eq!(p["error"], "login_required");
    assert_eq!(p["state"], "st-123");
}

/// An application limited to some enterprises refuses the others, and says nothing of
/// whether they exist.
async fn an_enterprise_the_application_may_not_use_is_refused(app: TestApp) {
    let (_s, _) = setup(&app).await;
    app.create_enterprise("globex").await;
    let only_globex =
        register(&app, json!({"name": "Globex only", "redirect_uris": [REDIRECT], "enterprises": ["globex"]})).await;
    for key in ["acme", "no-such-enterprise"] {
        let url = authorize_url(&app, &only_globex.client_id, &[])
            .replace("enterprise_key=acme", &format!("enterprise_key={key}"));
        let res = app.client.get(url).send().await.unwrap();
        let p = params(&location(&res));
        assert_eq!(p["error"], "access_denied", "{key}");
        assert_eq!(p["error_description"], "people of this enterprise cannot sign in to this application");
    }
}

/// RP-Initiated Logout §2: an ID token issued to one application does not log out through
/// another, nor lead to another's page.
async fn an_id_token_hint_for_another_client_is_refused(app: TestApp) {
    let (s, client) = setup(&app).await;
    let other = register(&app, json!({"name": "Other", "redirect_uris": [REDIRECT], "post_logout_redirect_uris": ["http://127.0.0.1:9/other-bye"]})).await;
    let b = browser();
    let code = code(&app, &s, &client, &b).await;
    let tokens: Value = exchange_code(&app, &client, &code).await.json().await.unwrap();
    let hint = tokens["id_token"].as_str().unwrap();
    let mut u = url::Url::parse(&app.url("/oauth2/logout")).unwrap();
    u.query_pairs_mut()
        .append_pair("id_token_hint", hint)
        .append_pair("client_id", &other.client_id)
        .append_pair("post_logout_redirect_uri", "http://127.0.0.1:9/other-bye");
    let res = b.get(u.as_str()).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.headers().get("location").is_none());
    // An unregistered post-logout page, and a forged hint, the same.
    let mut u = url::Url::parse(&app.url("/oauth2/logout")).unwrap();
    u.query_pairs_mut()
        .append_pair("id_token_hint", hint)
        .append_pair("post_logout_redirect_uri", "https://evil.example/");
    assert_eq!(b.get(u.as_str()).send().await.unwrap().status(), StatusCode::BAD_REQUEST);
    let mut forged = hint.rsplit_once('.').unwrap().0.to_owned();
    forged.push_str(".AAAA");
    let mut u = url::Url::parse(&app.url("/oauth2/logout")).unwrap();
    u.query_pairs_mut().append_pair("id_token_hint", &forged);
    assert_eq!(b.get(u.as_str()).send().await.unwrap().status(), StatusCode::BAD_REQUEST);
    // The session is still there: nothing was logged out.
    let res = b.get(authorize_url(&app, &client.client_id, &[("prompt", "none")])).send().await.unwrap();
    assert!(params(&location(&res)).contains_key("code"));
}

/// RFC 9700 §4.5 (code injection) and §4.4 (mix-up): a code is bound to its client and
/// redirect URI, and every response names Portico as its issuer.
async fn a_code_is_bound_to_its_client_and_redirect_uri(app: TestApp) {
    let (s, client) = setup(&app).await;
    let other = register(&app, json!({"name": "Other", "redirect_uris": [REDIRECT]})).await;
    let code = code(&app, &s, &client, &browser()).await;
    oauth_error(exchange_code(&app, &other, &code).await, StatusCode::BAD_REQUEST, "invalid_grant").await;
    let res = exchange(
        &app,
        &client,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:9/other"),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    oauth_error(res, StatusCode::BAD_REQUEST, "invalid_grant").await;
}

/// RFC 9700 §4.14.2: a refresh token used twice revokes its grant.
async fn a_replayed_refresh_token_revokes_the_grant(app: TestApp) {
    let (s, client) = setup(&app).await;
    let code = code(&app, &s, &client, &browser()).await;
    let first: Value = exchange_code(&app, &client, &code).await.json().await.unwrap();
    let refresh = first["refresh_token"].as_str().unwrap();
    let second: Value = exchange(&app, &client, &[("grant_type", "refresh_token"), ("refresh_token", refresh)])
        .await
        .json()
        .await
        .unwrap();
    let res = exchange(&app, &client, &[("grant_type", "refresh_token"), ("refresh_token", refresh)]).await;
    oauth_error(res, StatusCode::BAD_REQUEST, "invalid_grant").await;
    assert_eq!(userinfo(&app, second["access_token"].as_str().unwrap()).await.status(), StatusCode::UNAUTHORIZED);
    let res = exchange(
        &app,
        &client,
        &[("grant_type", "refresh_token"), ("refresh_token", second["refresh_token"].as_str().unwrap())],
    )
    .await;
    oauth_error(res, StatusCode::BAD_REQUEST, "invalid_grant").await;
}

/// Login CSRF across the resumption: a parked request resumes only in the browser that made
/// it, so nobody hands their own sign-in to someone else's request.
async fn a_parked_request_resumes_only_in_its_browser(app: TestApp) {
    let (s, client) = setup(&app).await;
    let attacker = browser();
    let res = attacker.get(authorize_url(&app, &client.client_id, &[])).send().await.unwrap();
    let req = crate::saml::request_id(&location(&res));
    let body = s.idp.response(&crate::saml::answer(&s, Some(&req), "mallory", &[]));
    let res = attacker.post(&s.acs).form(&[("SAMLResponse", body.as_str()), ("RelayState", "")]).send().await.unwrap();
    let resume = location(&res);
    // The victim's browser (with a session of its own) is sent to the attacker's resume URL.
    let victim = browser();
    let _ = through_saml(&app, &s, &victim, &authorize_url(&app, &client.client_id, &[]), "ada").await;
    let res = victim.get(app.url(&resume)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.headers().get("location").is_none());
}

/// Framing (clickjacking) and caching: the provider's pages are never framed, its tokens
/// never cached, its parameters never duplicated.
async fn provider_pages_cannot_be_framed_and_parameters_cannot_repeat(app: TestApp) {
    let (_s, client) = setup(&app).await;
    let res = app
        .client
        .get(authorize_url(&app, &client.client_id, &[("prompt", "login"), ("prompt", "none")]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-frame-options"], "DENY");
    assert!(res.headers()["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
    let p = params(&location(&res));
    assert_eq!(p["error"], "invalid_request");
    let res =
        app.client.get(authorize_url(&app, &client.client_id, &[("response_type", "token")])).send().await.unwrap();
    assert_eq!(params(&location(&res))["error"], "invalid_request", "response_type twice");
    let url = authorize_url(&app, &client.client_id, &[]).replace("response_type=code", "response_type=token");
    let res = app.client.get(url).send().await.unwrap();
    assert_eq!(params(&location(&res))["error"], "unsupported_response_type");
    let url = authorize_url(&app, &client.client_id, &[]).replace("scope=openid+", "scope=");
    let res = app.client.get(url).send().await.unwrap();
    assert_eq!(params(&location(&res))["error"], "invalid_scope");
    let res = app.client.get(authorize_url(&app, &client.client_id, &[("request", "eyJ")])).send().await.unwrap();
    assert_eq!(params(&location(&res))["error"], "request_not_supported");
}

/// A one-request HTTP receiver on loopback: what was POSTed to it comes out of the channel.
fn receiver() -> (String, std::sync::mpsc::Receiver<String>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://127.0.0.1:{}/backchannel", listener.local_addr().unwrap().port());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let n = stream.read(&mut chunk).unwrap();
            buf.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&buf).to_string();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let len: usize = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap())
                    })
                    .unwrap_or(0);
                if body.len() >= len {
                    stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").unwrap();
                    let _ = tx.send(body.to_owned());
                    return;
                }
            }
            if n == 0 {
                return;
            }
        }
    });
    (url, rx)
}

/// What the receiver got, waited for without blocking the test's runtime (Portico's delivery
/// worker runs on it).
async fn arrival(received: &std::sync::mpsc::Receiver<String>, secs: u64) -> String {
    let started = std::time::Instant::now();
    loop {
        if let Ok(body) = received.try_recv() {
            return body;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(secs), "no logout token arrived");
        actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Back-Channel Logout 1.0: when the person logs out, every application that holds tokens of
/// the session gets a signed logout token naming it.
async fn logout_reaches_applications_over_the_back_channel(app: TestApp) {
    let (s, _) = setup(&app).await;
    let (url, received) = receiver();
    let client = register(
        &app,
        json!({"name": "Listening", "redirect_uris": [REDIRECT], "post_logout_redirect_uris": [LOGGED_OUT],
               "backchannel_logout_uri": url}),
    )
    .await;
    let b = browser();
    let code = code(&app, &s, &client, &b).await;
    let tokens: Value = exchange_code(&app, &client, &code).await.json().await.unwrap();
    let id_claims = payload(tokens["id_token"].as_str().unwrap());
    let mut u = url::Url::parse(&app.url("/oauth2/logout")).unwrap();
    u.query_pairs_mut().append_pair("client_id", &client.client_id).append_pair("post_logout_redirect_uri", LOGGED_OUT);
    // Without an ID token, a link cannot sign anyone out (logout CSRF): Portico asks first.
    let res = b.get(u.as_str()).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let confirm = res.text().await.unwrap();
    assert!(confirm.contains("Sign out?") && confirm.contains("method=\"post\""), "{confirm}");
    assert_eq!(
        userinfo(&app, tokens["access_token"].as_str().unwrap()).await.status(),
        StatusCode::OK,
        "still signed in"
    );
    let forged = b
        .post(app.url("/oauth2/logout"))
        .form(&[("client_id", client.client_id.as_str()), ("csrf_token", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::OK, "a POST without this browser's token is asked again");
    let csrf = crate::helpers::csrf_of(&confirm);
    let res = b
        .post(app.url("/oauth2/logout"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("client_id", client.client_id.as_str()),
            ("post_logout_redirect_uri", LOGGED_OUT),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    let body = arrival(&received, 10).await;
    let token = body.strip_prefix("logout_token=").unwrap();
    let claims = payload(token);
    assert_eq!(header(token)["typ"], "logout+jwt");
    assert_eq!(claims["iss"], app.base.as_str());
    assert_eq!(claims["aud"], client.client_id.as_str());
    assert_eq!(claims["sid"], id_claims["sid"]);
    assert_eq!(claims["sub"], id_claims["sub"]);
    assert!(claims.get("nonce").is_none());
    assert!(claims["events"]["http://schemas.openid.net/event/backchannel-logout"].is_object());
    let jwks: Value = app.client.get(app.url("/oauth2/jwks")).send().await.unwrap().json().await.unwrap();
    assert!(signed_by(token, &jwks), "signed with a published key");
    assert_eq!(userinfo(&app, tokens["access_token"].as_str().unwrap()).await.status(), StatusCode::UNAUTHORIZED);
}

/// OpenID Connect third-party initiated login: an IdP-initiated SAML sign-in lands in the
/// application the connection names, through its `initiate_login_uri`; the application's own
/// authorization request (without `enterprise_key`) is answered by the fresh session.
async fn an_idp_initiated_sign_in_lands_in_the_default_application(app: TestApp) {
    let s = crate::saml::setup(&app).await;
    let res = app
        .api(Method::PATCH, &format!("/api/v1/enterprises/acme/connections/{}", s.id), &app.operator_key)
        .json(&json!({"saml": {"sso_url": "https://idp.test/sso", "idp_entity_id": s.idp.entity_id,
            "certificates": [s.idp.cert_pem()], "allow_idp_initiated": true}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    app.directory
        .record_test_result(&directory::ids::ConnectionId::from(s.id.as_str()), true, None, &json!({}), None)
        .unwrap();
    app.api(Method::POST, &format!("/api/v1/enterprises/acme/connections/{}/enable", s.id), &app.operator_key)
        .send()
        .await
        .unwrap();
    app.create_enterprise("globex").await;
    let elsewhere =
        register(&app, json!({"name": "Globex only", "redirect_uris": [REDIRECT], "enterprises": ["globex"]})).await;
    let client = register(
        &app,
        json!({"name": "Acme Cloud", "redirect_uris": [REDIRECT], "initiate_login_uri": "http://127.0.0.1:9/start"}),
    )
    .await;
    let path = format!("/api/v1/enterprises/acme/connections/{}/default-application", s.id);
    let acme_admin = app.enterprise_key("acme");
    // An application that may not receive acme's people cannot be named (nor one that does not exist).
    for bad in [elsewhere.client_id.as_str(), "papp_nope"] {
        let res = app.api(Method::PUT, &path, &acme_admin).json(&json!({"client_id": bad})).send().await.unwrap();
        crate::helpers::problem(res, StatusCode::BAD_REQUEST).await;
    }
    let res =
        app.api(Method::PUT, &path, &acme_admin).json(&json!({"client_id": client.client_id})).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["default_application"], client.client_id.as_str());

    let b = browser();
    let body = s.idp.response(&crate::saml::answer(&s, None, "grace", &[]));
    let res = b.post(&s.acs).form(&[("SAMLResponse", body.as_str()), ("RelayState", "")]).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), format!("/oauth2/initiate/{}", client.client_id));
    let res = b.get(app.url(&location(&res))).send().await.unwrap();
    let start = url::Url::parse(&location(&res)).unwrap();
    assert_eq!(start.as_str().split('?').next(), Some("http://127.0.0.1:9/start"));
    assert_eq!(start.query_pairs().find(|(k, _)| k == "iss").unwrap().1, app.base.as_str());
    // The application's authorization request names no enterprise: the session's is used.
    let url = authorize_url(&app, &client.client_id, &[]).replace("&enterprise_key=acme", "");
    let res = b.get(url).send().await.unwrap();
    let p = params(&location(&res));
    let tokens: Value = exchange_code(&app, &client, &p["code"]).await.json().await.unwrap();
    assert_eq!(payload(tokens["id_token"].as_str().unwrap())["preferred_username"], "grace");
    // Without a session, the initiation page says so instead of sending anyone anywhere.
    let res = app.client.get(app.url(&format!("/oauth2/initiate/{}", client.client_id))).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.headers().get("location").is_none());
}

/// OpenID Connect Core §3.1.2.1: `prompt=login` and an exceeded `max_age` send the person to
/// the IdP again even with a live session, and the code comes only after that new sign-in.
async fn prompt_login_and_max_age_ask_the_idp_again(app: TestApp, clock: Arc<OffsetClock>) {
    let (s, client) = setup(&app).await;
    let b = browser();
    let first = code(&app, &s, &client, &b).await;
    let first_time = payload(
        exchange_code(&app, &client, &first).await.json::<Value>().await.unwrap()["id_token"].as_str().unwrap(),
    )["auth_time"]
        .clone();
    // The session answers at once...
    let res = b.get(authorize_url(&app, &client.client_id, &[("max_age", "300")])).send().await.unwrap();
    assert!(params(&location(&res)).contains_key("code"));
    // ...but not when the application wants a fresh sign-in, or a younger one than it is.
    clock.advance(10);
    for extra in [("prompt", "login"), ("max_age", "5")] {
        let res = b.get(authorize_url(&app, &client.client_id, &[extra])).send().await.unwrap();
        assert!(location(&res).starts_with("https://idp.test/sso?"), "{extra:?}: {}", location(&res));
    }
    let back = through_saml(&app, &s, &b, &authorize_url(&app, &client.client_id, &[("prompt", "login")]), "ada").await;
    let tokens: Value = exchange_code(&app, &client, &params(&back)["code"]).await.json().await.unwrap();
    let second_time = payload(tokens["id_token"].as_str().unwrap())["auth_time"].clone();
    assert!(second_time.as_i64().unwrap() > first_time.as_i64().unwrap(), "{first_time} then {second_time}");
}

/// An enterprise deactivates a person: their access tokens stop working at userinfo and their
/// refresh tokens are refused, at once.
async fn a_deactivated_person_loses_their_tokens(app: TestApp) {
    let (s, client) = setup(&app).await;
    let code = code(&app, &s, &client, &browser()).await;
    let tokens: Value = exchange_code(&app, &client, &code).await.json().await.unwrap();
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(userinfo(&app, access).await.status(), StatusCode::OK);
    let res = app
        .api(Method::PATCH, "/api/v1/enterprises/acme/users/ada", &app.operator_key)
        .json(&json!({"active": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(userinfo(&app, access).await.status(), StatusCode::UNAUTHORIZED);
    let res = exchange(
        &app,
        &client,
        &[("grant_type", "refresh_token"), ("refresh_token", tokens["refresh_token"].as_str().unwrap())],
    )
    .await;
    oauth_error(res, StatusCode::BAD_REQUEST, "invalid_grant").await;
}

/// Deactivation by SCIM ends the person's sessions: each application that holds tokens of them
/// and registered a back-channel logout URI gets a logout token, which panva's `jose` (the
/// library openid-client is built on) validates as Back-Channel Logout 1.0 asks.
async fn deactivation_by_scim_sends_a_logout_token_a_library_validates(app: TestApp) {
    if !crate::helpers::available(crate::helpers::Tool::Jose) {
        return;
    }
    let (s, _) = setup(&app).await;
    let (url, received) = receiver();
    let client =
        register(&app, json!({"name": "Listening", "redirect_uris": [REDIRECT], "backchannel_logout_uri": url})).await;
    let code = code(&app, &s, &client, &browser()).await;
    let tokens: Value = exchange_code(&app, &client, &code).await.json().await.unwrap();
    let id_claims = payload(tokens["id_token"].as_str().unwrap());
    let res = app.api(Method::POST, "/api/v1/enterprises/acme/scim-tokens", &app.operator_key).send().await.unwrap();
    let scim: Value = res.json().await.unwrap();
    let res = app
        .client
        .patch(app.url(&format!("/api/scim/v2/acme/Users/{}", id_claims["sub"].as_str().unwrap())))
        .bearer_auth(scim["token"].as_str().unwrap())
        .header("content-type", "application/scim+json")
        .body(
            json!({"schemas": [scim::schemas::PATCH_OP],
                   "Operations": [{"op": "replace", "path": "active", "value": false}]})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap());
    let body = arrival(&received, 15).await;
    let token = body.strip_prefix("logout_token=").unwrap();
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = std::process::Command::new("node")
        .arg(root.join("interop/logout-verify.mjs"))
        .arg(&app.base)
        .arg(app.url("/oauth2/jwks"))
        .arg(&client.client_id)
        .arg(token)
        .output()
        .unwrap();
    assert!(out.status.success(), "jose refused it: {}", String::from_utf8_lossy(&out.stderr));
    let verified: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(verified["sub"], id_claims["sub"]);
    assert_eq!(verified["sid"], id_claims["sid"]);
    // The delivery log shows it delivered.
    let log: Value = app
        .api(Method::GET, &format!("/api/v1/applications/{}/backchannel-logouts", client.client_id), &app.operator_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(log["data"][0]["kind"], "backchannel_logout", "{log}");
    assert_eq!(log["data"][0]["message_id"], verified["jti"], "the jti is the message id");
    // A forged token (another key) is refused by the same check: the check can fail.
    let forged = format!("{}.{}", token.rsplit_once('.').unwrap().0, "AAAA");
    let out = std::process::Command::new("node")
        .arg(root.join("interop/logout-verify.mjs"))
        .arg(&app.base)
        .arg(app.url("/oauth2/jwks"))
        .arg(&client.client_id)
        .arg(&forged)
        .output()
        .unwrap();
    assert!(!out.status.success());
}

crate::both_backends!(
    deactivation_by_scim_sends_a_logout_token_a_library_validates,
    a_deactivated_person_loses_their_tokens,
    an_idp_initiated_sign_in_lands_in_the_default_application,
    logout_reaches_applications_over_the_back_channel,
    applications_are_managed_by_operators,
    discovery_names_the_issuer_exactly_and_the_keys_overlap,
    a_saml_sign_in_hands_the_person_to_the_application,
    a_request_without_enterprise_asks_for_it,
    an_unregistered_redirect_uri_is_never_followed,
    a_replayed_code_revokes_its_tokens,
    a_wrong_pkce_verifier_is_refused,
    pkce_cannot_be_downgraded,
    client_authentication_cannot_be_confused,
    a_public_client_without_pkce_is_refused,
    prompt_none_without_a_session_answers_login_required,
    an_enterprise_the_application_may_not_use_is_refused,
    an_id_token_hint_for_another_client_is_refused,
    a_code_is_bound_to_its_client_and_redirect_uri,
    a_replayed_refresh_token_revokes_the_grant,
    a_parked_request_resumes_only_in_its_browser,
    provider_pages_cannot_be_framed_and_parameters_cannot_repeat,
);

/// Tests that move the clock, on each backend (PostgreSQL skipped where `both_backends!` would).
mod with_a_clock {
    use std::future::Future;
    use std::sync::Arc;

    use directory::Backend;

    use super::OffsetClock;
    use crate::helpers::TestApp;

    async fn run<Fut: Future<Output = ()>>(backend: Backend, test: impl FnOnce(TestApp, Arc<OffsetClock>) -> Fut) {
        let clock = Arc::new(OffsetClock::default());
        let Some(app) = TestApp::spawn_with_clock(backend, &[], clock.clone()).await else {
            return;
        };
        let server = app.server.clone();
        test(app, clock).await;
        server.stop(false).await;
    }

    #[actix_web::test]
    async fn prompt_login_sqlite() {
        run(Backend::Sqlite, super::prompt_login_and_max_age_ask_the_idp_again).await;
    }

    #[actix_web::test]
    async fn prompt_login_postgres() {
        run(Backend::Postgres, super::prompt_login_and_max_age_ask_the_idp_again).await;
    }

    #[actix_web::test]
    async fn expired_code_sqlite() {
        run(Backend::Sqlite, super::an_expired_code_is_refused).await;
    }

    #[actix_web::test]
    async fn expired_code_postgres() {
        run(Backend::Postgres, super::an_expired_code_is_refused).await;
    }
}

/// `provider.key_rotation_days`: reading the keys writes nothing until a rotation is due, then
/// the published next key signs and the old one stays published.
#[test]
fn keys_rotate_on_schedule_and_only_then() {
    use directory::Clock;
    let db = directory::testing::TestDatabase::sqlite();
    let data = tempfile::tempdir().unwrap();
    let clock = Arc::new(directory::ManualClock::new(directory::SystemClock.now()));
    let dir = directory::Directory::connect(&db.url, 2, clock.clone()).unwrap();
    dir.migrate().unwrap();
    let settings = gateway::config::Settings::load_from(
        None,
        vec![
            ("PORTICO__DATA__DIR".to_owned(), data.path().display().to_string()),
            ("PORTICO__DATABASE__URL".to_owned(), db.url.clone()),
            ("PORTICO__PROVIDER__KEY_ROTATION_DAYS".to_owned(), "1".to_owned()),
        ],
    )
    .unwrap();
    let rs = directory::host_application::SigningAlg::Rs256;
    let kid = |set: &gateway::app::provider::KeySet| set.signing(rs).unwrap().kid().to_owned();
    let first = gateway::app::provider::load_key_set(&dir, &settings).unwrap();
    let stored = dir.signing_keys().unwrap();
    clock.advance(chrono::Duration::hours(23));
    let again = gateway::app::provider::load_key_set(&dir, &settings).unwrap();
    assert_eq!(kid(&again), kid(&first), "not due yet");
    assert_eq!(dir.signing_keys().unwrap(), stored, "nothing written while nothing is due");
    let next =
        stored.iter().find(|k| k.alg == rs && k.state == directory::provider::KeyState::Next).unwrap().kid.clone();
    clock.advance(chrono::Duration::hours(2));
    let rotated = gateway::app::provider::load_key_set(&dir, &settings).unwrap();
    assert_eq!(kid(&rotated), next, "the published next key signs now");
    assert!(rotated.all().any(|k| k.kid() == kid(&first)), "the old key is still published");
}
