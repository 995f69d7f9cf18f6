//! The sign-in trust boundary over HTTP, on both backends: every XML-signature-wrapping shape
//! and every reference out of the document is refused at the ACS with its reason audited;
//! refusals spend no pending request, are audited bounded and escaped, and are limited per
//! address and connection; responses of users with many groups are accepted up to the ACS's
//! own limit.

use directory::{Actor, Ctx, PageRequest};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::saml::{Setup, answer, post_acs, request_id, setup};

/// A SAML connection that is tested and enabled.
async fn enabled(app: &TestApp) -> Setup {
    let s = setup(app).await;
    app.directory
        .record_test_result(&directory::ids::ConnectionId::from(s.id.as_str()), true, None, &json!({}), None)
        .unwrap();
    let res = app
        .api(Method::POST, &format!("/api/v1/enterprises/acme/connections/{}/enable", s.id), &app.operator_key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    s
}

/// Starts a sign-in the way a browser does and returns the request id the IdP is asked for.
async fn start(app: &TestApp) -> String {
    let res = app.client.get(app.url("/login/sso?enterprise_key=acme")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    request_id(res.headers()["location"].to_str().unwrap())
}

fn sign_in_events(app: &TestApp) -> Vec<directory::audit::AuditEvent> {
    let page = PageRequest::first(500);
    let events = app.directory.list_audit_events(&Ctx::new(&Actor::System, None), Some("acme"), &page).unwrap();
    events.items.into_iter().filter(|e| e.action == "sign_in").collect()
}

async fn logins(app: &TestApp) -> Vec<String> {
    let users: Value = app
        .api(Method::GET, "/api/v1/enterprises/acme/users", &app.operator_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    users["items"].as_array().unwrap().iter().map(|u| u["login"].as_str().unwrap().to_owned()).collect()
}

async fn every_wrapping_shape_is_refused_and_audited(app: TestApp) {
    let s = enabled(&app).await;
    let req = start(&app).await;
    let spec = answer(&s, Some(&req), "ada", &["Developers"]);
    let mut attacks = s.idp.wrapping_attacks(&spec);
    attacks.extend(s.idp.reference_attacks(&spec, &["http://127.0.0.1:9/latest/meta-data/", "file:///etc/hostname"]));
    for attack in &attacks {
        let res = post_acs(&app, &s, &attack.body()).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{}", attack.name);
        let latest = sign_in_events(&app).into_iter().next().unwrap();
        assert_eq!(latest.outcome, "failure", "{}", attack.name);
        let details: Value = serde_json::from_str(&latest.details).unwrap();
        assert_eq!(details["code"], attack.code, "{}: {}", attack.name, latest.details);
        assert!(latest.reason.is_some_and(|r| !r.is_empty()), "{}", attack.name);
    }
    assert_eq!(sign_in_events(&app).len(), attacks.len(), "one audit event per refusal");
    assert!(logins(&app).await.is_empty(), "nobody was provisioned");
    // None of it spent the request: the genuine answer still signs Ada in.
    let res = post_acs(&app, &s, &s.idp.response(&spec)).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(logins(&app).await, ["ada"]);
}

/// Entra ID and Okta send every group a user is in: 150 values make a 40 KB response, more
/// than the console's form limit, and 1,000 values about 200 KB.
async fn responses_with_many_groups_sign_people_in(app: TestApp) {
    let s = enabled(&app).await;
    for (login, count) in [("ada", 150), ("grace", 1000)] {
        let req = start(&app).await;
        let groups: Vec<String> =
            (0..count).map(|i| format!("Engineering Team {i:04} - Platform Services and Infrastructure")).collect();
        let mut spec = answer(&s, Some(&req), login, &[]);
        spec.name_id = format!("{login}@acme.test");
        spec.attributes.retain(|(name, _)| name != "groups");
        spec.attributes.push(("groups".into(), groups.clone()));
        let body = s.idp.response(&spec);
        assert!(body.len() > 16 * 1024, "{count} groups make {} bytes", body.len());
        let res = post_acs(&app, &s, &body).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{count} groups");
        let success = sign_in_events(&app).into_iter().find(|e| e.outcome == "success").unwrap();
        let details: Value = serde_json::from_str(&success.details).unwrap();
        assert_eq!(details["groups"].as_array().unwrap().len(), count);
    }
    assert_eq!(logins(&app).await, ["ada", "grace"]);
}

/// With `sso.max_saml_response_bytes` at its smallest, a larger response is refused as too
/// large, audited, and a form beyond what the limit allows gets a clear error page.
async fn responses_over_the_limit_are_refused(app: TestApp) {
    let s = enabled(&app).await;
    let req = start(&app).await;
    let mut spec = answer(&s, Some(&req), "ada", &[]);
    spec.attributes.push(("groups".into(), (0..150).map(|i| format!("Group {i:04} of many")).collect()));
    let body = s.idp.response(&spec);
    assert!(body.len() > 16 * 1024);
    assert_eq!(post_acs(&app, &s, &body).await.status(), StatusCode::FORBIDDEN);
    let latest = sign_in_events(&app).into_iter().next().unwrap();
    assert!(latest.details.contains("too_large"), "{}", latest.details);
    let huge = "A".repeat(100 * 1024);
    let res = post_acs(&app, &s, &huge).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains("could not be read"));
}

/// Refusals are audited with what the sender wrote escaped and cut short, and past
/// `sso.refusals_per_minute` an address is turned away unread at that connection.
async fn refusals_are_bounded_escaped_and_limited(app: TestApp) {
    let s = enabled(&app).await;
    let req = start(&app).await;
    let mut spec = answer(&s, Some(&req), "ada", &[]);
    // An attribute value may hold an encoded line break; the rest is padding.
    spec.destination = format!("https://elsewhere.test/acs&#10;forged audit line {}", "x".repeat(5000));
    assert_eq!(post_acs(&app, &s, &s.idp.response(&spec)).await.status(), StatusCode::FORBIDDEN);
    let latest = sign_in_events(&app).into_iter().next().unwrap();
    let reason = latest.reason.unwrap();
    assert!(latest.details.contains("destination_mismatch"), "{}", latest.details);
    assert!(!reason.contains('\n') && reason.contains("\\n"), "{reason}");
    assert!(reason.chars().count() <= directory::audit::REASON_MAX + 1, "{} characters", reason.chars().count());
    // Three refusals a minute in these settings: the fourth post is not even read.
    for _ in 0..2 {
        assert_eq!(post_acs(&app, &s, "not base64 %%%").await.status(), StatusCode::FORBIDDEN);
    }
    assert_eq!(post_acs(&app, &s, "not base64 %%%").await.status(), StatusCode::TOO_MANY_REQUESTS);
    // Not even read: a body far over the size limit gets the same answer.
    assert_eq!(post_acs(&app, &s, &"A".repeat(200 * 1024)).await.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(sign_in_events(&app).len(), 3, "turned-away posts are not audited");
}

crate::both_backends!(
    in many_refusals with [("PORTICO__SSO__REFUSALS_PER_MINUTE", "1000")];
    every_wrapping_shape_is_refused_and_audited,
    responses_with_many_groups_sign_people_in,
);
crate::both_backends!(
    in small_limits with [("PORTICO__SSO__MAX_SAML_RESPONSE_BYTES", "16384"), ("PORTICO__SSO__REFUSALS_PER_MINUTE", "3")];
    responses_over_the_limit_are_refused,
    refusals_are_bounded_escaped_and_limited,
);

/// A local account (here an admin made through the API) is not bound by a sign-in that asserts
/// its login; an admin links it explicitly, in the API or the console, and can unlink it.
async fn admins_link_local_accounts_and_sign_ins_do_not(app: TestApp) {
    let s = enabled(&app).await;
    let res = app
        .api(Method::POST, "/api/v1/enterprises/acme/users", &app.operator_key)
        .json(&json!({"login": "boss", "name": "The Boss"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let as_boss = |req: &str| {
        let mut spec = answer(&s, Some(req), "boss", &[]);
        spec.name_id = "boss@idp.test".into();
        s.idp.response(&spec)
    };
    let req = start(&app).await;
    assert_eq!(post_acs(&app, &s, &as_boss(&req)).await.status(), StatusCode::FORBIDDEN);
    let latest = sign_in_events(&app).into_iter().next().unwrap();
    assert!(latest.details.contains("not_linked"), "{}", latest.details);

    let res = app
        .api(Method::PUT, "/api/v1/enterprises/acme/users/boss/idp-subject", &app.operator_key)
        .json(&json!({"subject": "boss@idp.test"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["external_id"], "boss@idp.test");
    let req = start(&app).await;
    assert_eq!(post_acs(&app, &s, &as_boss(&req)).await.status(), StatusCode::SEE_OTHER);

    let res = app
        .api(Method::DELETE, "/api/v1/enterprises/acme/users/boss/idp-subject", &app.operator_key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["external_id"], Value::Null);

    // The console does the same, with a message after each action.
    let b = crate::console::first_operator(&app).await;
    let page = b.get(app.url("/console/e/acme/users")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("not linked") && page.contains("Link to an IdP identity"), "{page}");
    let csrf = crate::helpers::csrf_of(&page);
    let form = [("csrf_token", csrf.as_str()), ("login", "boss"), ("subject", "boss@idp.test")];
    let page = b.post(app.url("/console/e/acme/users/link")).form(&form).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("boss is linked to the IdP identity boss@idp.test"), "{page}");
    let req = start(&app).await;
    assert_eq!(post_acs(&app, &s, &as_boss(&req)).await.status(), StatusCode::SEE_OTHER);
    let form = [("csrf_token", csrf.as_str()), ("login", "boss"), ("subject", "")];
    let page = b.post(app.url("/console/e/acme/users/link")).form(&form).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("boss was not linked"), "an empty identity is refused with a reason");
    let form = [("csrf_token", csrf.as_str()), ("login", "boss")];
    let page = b.post(app.url("/console/e/acme/users/unlink")).form(&form).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("boss is no longer linked"), "{page}");
}

/// Every answer carries the security headers: the console, the admin API (its errors too),
/// SCIM, the ACS; and HSTS exactly when Portico is served over HTTPS.
async fn every_answer_carries_the_security_headers(app: TestApp) {
    let s = enabled(&app).await;
    let answers = vec![
        ("console", app.client.get(app.url("/login")).send().await.unwrap()),
        ("api", app.api(Method::GET, "/api/v1/enterprises", &app.operator_key).send().await.unwrap()),
        ("api error", app.client.get(app.url("/api/v1/enterprises")).send().await.unwrap()),
        ("scim", app.client.get(app.url("/api/scim/v2/acme/Users")).send().await.unwrap()),
        (
            "acs",
            // The test server speaks plain HTTP even where it announces HTTPS.
            app.client
                .post(s.acs.replacen("https://", "http://", 1))
                .form(&[("SAMLResponse", "not a response")])
                .send()
                .await
                .unwrap(),
        ),
        ("sign-in start", app.client.get(app.url("/login/sso?enterprise_key=acme")).send().await.unwrap()),
    ];
    let served_over_https = app
        .api(Method::GET, &format!("/api/v1/enterprises/acme/connections/{}", s.id), &app.operator_key)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["sp"]["acs_url"]
        .as_str()
        .unwrap()
        .starts_with("https://");
    for (what, res) in answers {
        let h = res.headers();
        assert_eq!(h["x-content-type-options"], "nosniff", "{what}");
        assert_eq!(h["x-frame-options"], "DENY", "{what}");
        assert_eq!(h["referrer-policy"], "same-origin", "{what}");
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
        match h.get("strict-transport-security") {
            Some(v) => {
                assert!(served_over_https, "{what}: HSTS over plain HTTP");
                assert_eq!(v, "max-age=31536000", "{what}");
            }
            None => assert!(!served_over_https, "{what}: no HSTS over HTTPS"),
        }
    }
}

crate::both_backends!(admins_link_local_accounts_and_sign_ins_do_not, every_answer_carries_the_security_headers);

mod over_https {
    #[actix_web::test]
    async fn every_answer_carries_the_security_headers_and_hsts() {
        let app = crate::helpers::TestApp::spawn_with(
            directory::Backend::Sqlite,
            &[("PORTICO__SERVER__PUBLIC_URL", "https://127.0.0.1:0")],
        )
        .await
        .unwrap();
        super::every_answer_carries_the_security_headers(app).await
    }
}
