//! SAML end to end over HTTP: set up a connection through the admin API, test it, enable it,
//! sign someone in through `/login/sso` and the ACS, and refuse what must be refused. The IdP is
//! the test IdP of the `sso` crate: real keys, real XML signatures.

use std::io::Read;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use directory::{Actor, Ctx, PageRequest};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sso::testing::{ResponseSpec, TestIdp};

use crate::helpers::TestApp;

/// The AuthnRequest ID inside a redirect to the IdP.
pub fn request_id(location: &str) -> String {
    let url = url::Url::parse(location).unwrap();
    let (_, saml_request) = url.query_pairs().find(|(k, _)| k == "SAMLRequest").expect("SAMLRequest");
    let deflated = STANDARD.decode(saml_request.as_bytes()).unwrap();
    let mut xml = String::new();
    flate2::read::DeflateDecoder::new(&deflated[..]).read_to_string(&mut xml).unwrap();
    let start = xml.find(" ID=\"").unwrap() + 5;
    xml[start..].split('"').next().unwrap().to_owned()
}

pub(crate) struct Setup {
    pub idp: TestIdp,
    pub id: String,
    pub acs: String,
    pub entity_id: String,
}

pub(crate) async fn setup(app: &TestApp) -> Setup {
    app.create_enterprise("acme").await;
    app.create_organization("acme", "eng").await;
    for g in ["Developers", "developers"] {
        let res = app
            .api(Method::POST, "/api/v1/enterprises/acme/organizations/eng/groups", &app.operator_key)
            .json(&json!({"name": g}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
    }
    let idp = TestIdp::new("okta");
    let res = app
        .api(Method::POST, "/api/v1/enterprises/acme/connections", &app.operator_key)
        .json(&json!({"protocol": "saml", "provider": "okta", "saml": {
            "sso_url": "https://idp.test/sso", "idp_entity_id": idp.entity_id, "certificates": [idp.cert_pem()]
        }}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let c: Value = res.json().await.unwrap();
    assert_eq!(c["status"], "draft");
    assert_eq!(c["attribute_mapping"]["groups"], "groups", "Okta preset");
    assert_eq!(c["saml"]["certificates"][0]["expired"], false);
    let id = c["id"].as_str().unwrap().to_owned();
    let port = app.base.rsplit(':').next().unwrap();
    assert!(c["sp"]["acs_url"].as_str().unwrap().ends_with(&format!("127.0.0.1:{port}/sso/saml/{id}/acs")));
    Setup {
        acs: c["sp"]["acs_url"].as_str().unwrap().to_owned(),
        entity_id: c["sp"]["entity_id"].as_str().unwrap().to_owned(),
        idp,
        id,
    }
}

pub(crate) fn answer(s: &Setup, request: Option<&str>, login: &str, groups: &[&str]) -> ResponseSpec {
    let mut spec = ResponseSpec::answering(&s.idp, chrono::Utc::now(), &s.acs, &s.entity_id, request);
    spec.attributes = vec![
        ("login".into(), vec![login.into()]),
        ("email".into(), vec![format!("{login}@acme.test")]),
        ("name".into(), vec!["Ada Lovelace".into()]),
        ("groups".into(), groups.iter().map(|g| g.to_string()).collect()),
    ];
    spec
}

pub(crate) async fn post_acs(app: &TestApp, s: &Setup, body: &str) -> reqwest::Response {
    app.client.post(&s.acs).form(&[("SAMLResponse", body), ("RelayState", "")]).send().await.unwrap()
}

async fn test_enable_sign_in_and_refuse_replays(app: TestApp) {
    let s = setup(&app).await;

    // Enabling an untested connection is refused.
    let res = app
        .api(Method::POST, &format!("/api/v1/enterprises/acme/connections/{}/enable", s.id), &app.operator_key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CONFLICT);

    // Test connection: the admin's browser goes to the IdP and back; nobody is provisioned.
    let t: Value = app
        .api(Method::POST, &format!("/api/v1/enterprises/acme/connections/{}/test", s.id), &app.operator_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let start = app.client.get(t["url"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(start.status(), StatusCode::FOUND);
    let location = start.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with("https://idp.test/sso?SAMLRequest="), "{location}");
    let req = request_id(&location);
    let page = post_acs(&app, &s, &s.idp.response(&answer(&s, Some(&req), "ada", &["Developers"]))).await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("it works") && html.contains("Ada Lovelace") && html.contains("Developers"), "{html}");
    let results: Value = app
        .api(Method::GET, &format!("/api/v1/enterprises/acme/connections/{}/test-results", s.id), &app.operator_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(results[0]["outcome"], "success");
    assert_eq!(results[0]["result"]["identity"]["groups"], json!(["Developers"]));
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
        .api(Method::POST, &format!("/api/v1/enterprises/acme/connections/{}/enable", s.id), &app.operator_key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "enabled");

    // Sign-in: /login/sso redirects to the IdP, the ACS provisions and opens a session.
    let start = app.client.get(app.url("/login/sso?enterprise_key=acme")).send().await.unwrap();
    assert_eq!(start.status(), StatusCode::FOUND);
    let req = request_id(start.headers()["location"].to_str().unwrap());
    let body = s.idp.response(&answer(&s, Some(&req), "ada", &["Developers"]));
    let res = post_acs(&app, &s, &body).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("portico_session="))
        .expect("session");
    let session = cookie.split(';').next().unwrap().to_owned();
    let me =
        app.client.get(app.url("/console/me")).header("cookie", &session).send().await.unwrap().text().await.unwrap();
    assert!(me.contains("Developers"), "{me}");
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

    // The same response again: refused, with a plain page for the person and the reason audited.
    let again = post_acs(&app, &s, &body).await;
    assert_eq!(again.status(), StatusCode::FORBIDDEN);
    let text = again.text().await.unwrap();
    assert!(text.contains("Sign-in refused") && text.contains("Operation id"));
    assert!(!text.contains("InResponseTo"), "no internals for the end user");
    let events = app
        .directory
        .list_audit_events(&Ctx::new(&Actor::System, None), Some("acme"), &PageRequest::default())
        .unwrap()
        .items;
    assert!(
        events.iter().any(|e| e.action == "sign_in"
            && e.outcome == "failure"
            && e.reason.as_deref().is_some_and(|r| r.contains("request"))),
        "{events:?}"
    );
    assert!(events.iter().any(|e| e.action == "sign_in" && e.outcome == "success"));
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains(r#"portico_sso_sign_ins_total{protocol="saml",outcome="success"} 1"#), "{metrics}");
    assert!(
        metrics.contains(r#"portico_sso_sign_ins_total{protocol="saml",outcome="unknown_in_response_to"} 1"#),
        "{metrics}"
    );
}

async fn idp_initiated_replay_is_caught_by_the_assertion_cache(app: TestApp) {
    let s = setup(&app).await;
    let res = app
        .api(Method::PATCH, &format!("/api/v1/enterprises/acme/connections/{}", s.id), &app.operator_key)
        .json(&json!({"saml": {"sso_url": "https://idp.test/sso", "idp_entity_id": s.idp.entity_id, "certificates": [s.idp.cert_pem()], "allow_idp_initiated": true}}))
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
    let body = s.idp.response(&answer(&s, None, "grace", &[]));
    assert_eq!(post_acs(&app, &s, &body).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(post_acs(&app, &s, &body).await.status(), StatusCode::FORBIDDEN);
    let events = app
        .directory
        .list_audit_events(&Ctx::new(&Actor::System, None), Some("acme"), &PageRequest::default())
        .unwrap()
        .items;
    assert!(
        events.iter().any(|e| e.outcome == "failure" && e.reason.as_deref().is_some_and(|r| r.contains("replay"))),
        "{events:?}"
    );
}

async fn forged_or_foreign_responses_are_refused_and_audited(app: TestApp) {
    let s = setup(&app).await;
    app.directory
        .record_test_result(&directory::ids::ConnectionId::from(s.id.as_str()), true, None, &json!({}), None)
        .unwrap();
    app.api(Method::POST, &format!("/api/v1/enterprises/acme/connections/{}/enable", s.id), &app.operator_key)
        .send()
        .await
        .unwrap();
    let start = app.client.get(app.url("/login/sso?enterprise_key=acme")).send().await.unwrap();
    let req = request_id(start.headers()["location"].to_str().unwrap());
    let attacker = TestIdp { entity_id: s.idp.entity_id.clone(), ..TestIdp::new("attacker") };
    let forged = attacker.response(&answer(&s, Some(&req), "admin", &[]));
    assert_eq!(post_acs(&app, &s, &forged).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(post_acs(&app, &s, "%%%not base64").await.status(), StatusCode::FORBIDDEN);
    let events = app
        .directory
        .list_audit_events(&Ctx::new(&Actor::System, None), Some("acme"), &PageRequest::default())
        .unwrap()
        .items;
    let reasons: Vec<&str> =
        events.iter().filter(|e| e.action == "sign_in").filter_map(|e| e.reason.as_deref()).collect();
    assert!(reasons.iter().any(|r| r.contains("signature")), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("base64")), "{reasons:?}");
    let users: Value = app
        .api(Method::GET, "/api/v1/enterprises/acme/users", &app.operator_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(users["items"].as_array().unwrap().is_empty());
    // Refusals spent nothing: whoever learnt the request id could not cancel the sign-in, and
    // the genuine answer to it still signs Ada in.
    let real = s.idp.response(&answer(&s, Some(&req), "ada", &[]));
    assert_eq!(post_acs(&app, &s, &real).await.status(), StatusCode::SEE_OTHER);
}

async fn sp_metadata_and_unknown_enterprises(app: TestApp) {
    let s = setup(&app).await;
    let res = app.client.get(format!("{}/sso/saml/{}/metadata", app.base, s.id)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let xml = res.text().await.unwrap();
    assert!(xml.contains(&format!(r#"entityID="{}""#, s.entity_id)) && xml.contains(&s.acs));
    // Not enabled yet: /login/sso says so plainly.
    let res = app.client.get(app.url("/login/sso?enterprise_key=acme")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = app.client.get(app.url("/login/sso?enterprise_key=nope")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    // Bad settings get field errors.
    let res = app
        .api(Method::POST, "/api/v1/enterprises/acme/connections", &app.operator_key)
        .json(&json!({"protocol": "saml", "provider": "okta", "saml": {"sso_url": "ftp://x", "idp_entity_id": "x", "certificates": ["not a certificate"]}}))
        .send()
        .await
        .unwrap();
    let body = crate::helpers::problem(res, StatusCode::BAD_REQUEST).await;
    let fields: Vec<&str> = body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert!(fields.contains(&"saml.certificates[0]"), "{fields:?}");
}

async fn encrypted_assertions_end_to_end(app: TestApp) {
    let s = setup(&app).await;
    let res = app
        .api(Method::PATCH, &format!("/api/v1/enterprises/acme/connections/{}", s.id), &app.operator_key)
        .json(&json!({"saml": {"sso_url": "https://idp.test/sso", "idp_entity_id": s.idp.entity_id, "certificates": [s.idp.cert_pem()], "encrypt_assertions": true}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let c: Value = res.json().await.unwrap();
    let pem = c["saml"]["encryption_certificate"].as_str().expect("the SP certificate to upload to the IdP").to_owned();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
    let sp_cert = sso::saml::Certificate::parse(pem.as_bytes()).unwrap();
    let metadata =
        app.client.get(format!("{}/sso/saml/{}/metadata", app.base, s.id)).send().await.unwrap().text().await.unwrap();
    assert!(metadata.contains(r#"use="encryption""#) && metadata.contains(&sp_cert.base64()));
    // The key pair survives later edits.
    let again: Value = app
        .api(Method::PATCH, &format!("/api/v1/enterprises/acme/connections/{}", s.id), &app.operator_key)
        .json(&json!({"saml": {"sso_url": "https://idp.test/sso2", "idp_entity_id": s.idp.entity_id, "certificates": [s.idp.cert_pem()], "encrypt_assertions": true}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(again["saml"]["encryption_certificate"].as_str(), Some(pem.as_str()));

    let test_with = |enc: Option<sso::testing::Enc>| {
        let (app, s, sp_cert) = (&app, &s, &sp_cert);
        async move {
            let t: Value = app
                .api(Method::POST, &format!("/api/v1/enterprises/acme/connections/{}/test", s.id), &app.operator_key)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let start = app.client.get(t["url"].as_str().unwrap()).send().await.unwrap();
            let req = request_id(start.headers()["location"].to_str().unwrap());
            let spec = answer(s, Some(&req), "ada", &["Developers"]);
            let body = match enc {
                Some(enc) => s.idp.encrypted_response(&spec, &sp_cert.der, enc),
                None => s.idp.response(&spec),
            };
            post_acs(app, s, &body).await.text().await.unwrap()
        }
    };
    use sso::testing::Enc;
    assert!(test_with(Some(Enc::Aes256Gcm)).await.contains("it works"));
    // AES-CBC is refused before anything is decrypted, unless the connection allows it.
    let html = test_with(Some(Enc::Aes256Cbc)).await;
    assert!(!html.contains("it works") && html.contains("weak_encryption"), "{html}");
    let allowed: Value = app
        .api(Method::PATCH, &format!("/api/v1/enterprises/acme/connections/{}", s.id), &app.operator_key)
        .json(&json!({"saml": {"sso_url": "https://idp.test/sso2", "idp_entity_id": s.idp.entity_id, "certificates": [s.idp.cert_pem()], "encrypt_assertions": true, "allow_cbc_encryption": true}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(allowed["saml"]["allow_cbc_encryption"], true);
    assert!(test_with(Some(Enc::Aes256Cbc)).await.contains("it works"));
    let html = test_with(None).await;
    assert!(!html.contains("it works") && html.contains("not_encrypted"), "{html}");
}

async fn signed_requests_and_required_assertion_signatures(app: TestApp) {
    let s = setup(&app).await;
    let res = app
        .api(Method::PATCH, &format!("/api/v1/enterprises/acme/connections/{}", s.id), &app.operator_key)
        .json(&json!({"saml": {"sso_url": "https://idp.test/sso", "idp_entity_id": s.idp.entity_id, "certificates": [s.idp.cert_pem()], "sign_requests": true, "require_signed_assertions": true}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let c: Value = res.json().await.unwrap();
    assert!(c["saml"]["signing_certificate"].as_str().unwrap().starts_with("-----BEGIN CERTIFICATE-----"));
    assert!(c["saml"]["encryption_certificate"].is_null());
    let metadata =
        app.client.get(format!("{}/sso/saml/{}/metadata", app.base, s.id)).send().await.unwrap().text().await.unwrap();
    assert!(
        metadata.contains(r#"AuthnRequestsSigned="true" WantAssertionsSigned="true""#)
            && metadata.contains(r#"use="signing""#)
    );
    let t: Value = app
        .api(Method::POST, &format!("/api/v1/enterprises/acme/connections/{}/test", s.id), &app.operator_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let start = app.client.get(t["url"].as_str().unwrap()).send().await.unwrap();
    let location = start.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.contains("&SigAlg=") && location.contains("&Signature="), "{location}");
    // A signed response around an unsigned assertion is refused for this connection.
    let mut spec = answer(&s, Some(&request_id(&location)), "ada", &[]);
    spec.sign_response = true;
    spec.sign_assertion = false;
    let html = post_acs(&app, &s, &s.idp.response(&spec)).await.text().await.unwrap();
    assert!(html.contains("assertion_unsigned"), "{html}");
}

async fn every_refusal_reaches_the_audit_log(app: TestApp) {
    let s = setup(&app).await;
    app.directory
        .record_test_result(&directory::ids::ConnectionId::from(s.id.as_str()), true, None, &json!({}), None)
        .unwrap();
    app.api(Method::POST, &format!("/api/v1/enterprises/acme/connections/{}/enable", s.id), &app.operator_key)
        .send()
        .await
        .unwrap();
    let attacker = TestIdp { entity_id: s.idp.entity_id.clone(), ..TestIdp::new("attacker") };
    type Case = (&'static str, &'static str, fn(&mut ResponseSpec));
    let cases: Vec<Case> = vec![
        ("sha1", "weak_algorithm", |r| r.algorithms = sso::testing::SHA1),
        ("expired", "expired", |r| {
            r.issue_instant -= chrono::Duration::hours(2);
            r.not_before -= chrono::Duration::hours(2);
            r.not_on_or_after -= chrono::Duration::hours(2);
        }),
        ("early", "not_yet_valid", |r| r.not_before += chrono::Duration::minutes(30)),
        ("audience", "audience_mismatch", |r| r.audience = "https://elsewhere.test".into()),
        ("recipient", "recipient_mismatch", |r| r.recipient = "https://elsewhere.test/acs".into()),
        ("destination", "destination_mismatch", |r| r.destination = "https://elsewhere.test/acs".into()),
        ("status", "status_not_success", |r| r.status = "urn:oasis:names:tc:SAML:2.0:status:Responder".into()),
        ("unsigned", "signature_invalid", |r| r.sign_assertion = false),
        ("unknown request", "unknown_in_response_to", |r| r.in_response_to = Some("_not-ours".into())),
        ("unsolicited", "unsolicited", |r| r.in_response_to = None),
    ];
    for (name, code, change) in cases {
        let start = app.client.get(app.url("/login/sso?enterprise_key=acme")).send().await.unwrap();
        let mut spec = answer(&s, Some(&request_id(start.headers()["location"].to_str().unwrap())), "ada", &[]);
        change(&mut spec);
        let res = post_acs(&app, &s, &s.idp.response(&spec)).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{name}");
        let events = app
            .directory
            .list_audit_events(&Ctx::new(&Actor::System, None), Some("acme"), &PageRequest::default())
            .unwrap()
            .items;
        let latest = events.iter().find(|e| e.action == "sign_in").unwrap();
        assert_eq!(latest.outcome, "failure", "{name}");
        assert!(latest.details.contains(code), "{name}: expected {code} in {}", latest.details);
        assert!(latest.operation_id.is_some());
    }
    // Signed by a key that is not configured, and a DOCTYPE.
    let start = app.client.get(app.url("/login/sso?enterprise_key=acme")).send().await.unwrap();
    let spec = answer(&s, Some(&request_id(start.headers()["location"].to_str().unwrap())), "ada", &[]);
    assert_eq!(post_acs(&app, &s, &attacker.response(&spec)).await.status(), StatusCode::FORBIDDEN);
    let bomb = STANDARD.encode(format!("<!DOCTYPE r [<!ENTITY a 'b'>]>{}", s.idp.response_xml(&spec)));
    assert_eq!(post_acs(&app, &s, &bomb).await.status(), StatusCode::FORBIDDEN);
    let events = app
        .directory
        .list_audit_events(&Ctx::new(&Actor::System, None), Some("acme"), &PageRequest::default())
        .unwrap()
        .items;
    assert!(events.iter().any(|e| e.details.contains("doctype")));
    // Nobody got in.
    let users: Value = app
        .api(Method::GET, "/api/v1/enterprises/acme/users", &app.operator_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(users["items"].as_array().unwrap().is_empty());
    // And the connection can be deleted through the API.
    let res = app
        .api(Method::DELETE, &format!("/api/v1/enterprises/acme/connections/{}", s.id), &app.operator_key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = app.client.get(app.url("/login/sso?enterprise_key=acme")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

crate::both_backends!(
    every_refusal_reaches_the_audit_log,
    signed_requests_and_required_assertion_signatures,
    encrypted_assertions_end_to_end,
    test_enable_sign_in_and_refuse_replays,
    idp_initiated_replay_is_caught_by_the_assertion_cache,
    forged_or_foreign_responses_are_refused_and_audited,
    sp_metadata_and_unknown_enterprises,
);

/// Behind HTTPS, a response posted from a browser that did not start the sign-in is refused
/// (login CSRF). The test server speaks plain HTTP but believes it is reached over HTTPS, so the
/// client carries the Secure cookie by hand.
async fn sign_in_is_bound_to_the_starting_browser(app: TestApp) {
    let s = setup(&app).await;
    app.directory
        .record_test_result(&directory::ids::ConnectionId::from(s.id.as_str()), true, None, &json!({}), None)
        .unwrap();
    app.api(Method::POST, &format!("/api/v1/enterprises/acme/connections/{}/enable", s.id), &app.operator_key)
        .send()
        .await
        .unwrap();
    let mut bindings = Vec::new();
    for _ in 0..2 {
        let start = app.client.get(app.url("/login/sso?enterprise_key=acme")).send().await.unwrap();
        let cookie = start
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .find(|c| c.starts_with("portico_sso_request="))
            .expect("binding cookie");
        assert!(
            cookie.contains("Secure") && cookie.contains("SameSite=None") && cookie.contains("HttpOnly"),
            "{cookie}"
        );
        let req = request_id(start.headers()["location"].to_str().unwrap());
        bindings.push((req, cookie.split(';').next().unwrap().to_owned()));
    }
    // The attacker's own sign-in, posted from the victim's browser (which holds another cookie).
    let (attacker_req, _) = &bindings[0];
    let (_, victim_cookie) = &bindings[1];
    let body = s.idp.response(&answer(&s, Some(attacker_req), "mallory", &[]));
    let acs = s.acs.replacen("https://", "http://", 1);
    let res = app
        .client
        .post(&acs)
        .header("cookie", victim_cookie)
        .form(&[("SAMLResponse", body.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let events = app
        .directory
        .list_audit_events(&Ctx::new(&Actor::System, None), Some("acme"), &PageRequest::default())
        .unwrap()
        .items;
    assert!(events.iter().any(|e| e.details.contains("other_browser")));
    // The browser that started it gets in.
    let (req, cookie) = &bindings[1];
    let body = s.idp.response(&answer(&s, Some(req), "ada", &[]));
    let res =
        app.client.post(&acs).header("cookie", cookie).form(&[("SAMLResponse", body.as_str())]).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
}

mod https {
    #[actix_web::test]
    async fn sign_in_is_bound_to_the_starting_browser_sqlite() {
        let app = crate::helpers::TestApp::spawn_with(
            directory::Backend::Sqlite,
            &[("PORTICO__SERVER__PUBLIC_URL", "https://127.0.0.1:0")],
        )
        .await
        .unwrap();
        super::sign_in_is_bound_to_the_starting_browser(app).await
    }
}

async fn floods_of_sign_in_starts_are_throttled(app: TestApp) {
    let s = setup(&app).await;
    app.directory
        .record_test_result(&directory::ids::ConnectionId::from(s.id.as_str()), true, None, &json!({}), None)
        .unwrap();
    app.api(Method::POST, &format!("/api/v1/enterprises/acme/connections/{}/enable", s.id), &app.operator_key)
        .send()
        .await
        .unwrap();
    let mut statuses = Vec::new();
    for _ in 0..12 {
        statuses.push(app.client.get(app.url("/login/sso?enterprise_key=acme")).send().await.unwrap().status());
    }
    assert!(statuses[..10].iter().all(|s| *s == StatusCode::FOUND), "{statuses:?}");
    assert!(statuses[10..].iter().all(|s| *s == StatusCode::TOO_MANY_REQUESTS), "{statuses:?}");
}

mod throttled {
    #[actix_web::test]
    async fn floods_of_sign_in_starts_are_throttled_sqlite() {
        let app = crate::helpers::TestApp::spawn_with(
            directory::Backend::Sqlite,
            &[("PORTICO__SSO__REQUESTS_PER_MINUTE", "10")],
        )
        .await
        .unwrap();
        super::floods_of_sign_in_starts_are_throttled(app).await
    }
}
