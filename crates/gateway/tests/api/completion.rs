//! Every sign-in ends in one function (`app::sign_in::finish`), whichever protocol: the same
//! audit event for a person signed in, the same for a refusal, the same test result, the same
//! metrics. Each half runs on a Portico of its own (both set up enterprise `acme`).

use directory::{Actor, Ctx, PageRequest};
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::TestApp;

/// The sign-in events of `acme`, newest first: (outcome, sorted detail keys).
fn sign_in_events(app: &TestApp) -> Vec<(String, Vec<String>)> {
    let events = app
        .directory
        .list_audit_events(&Ctx::new(&Actor::System, None), Some("acme"), &PageRequest::first(100))
        .unwrap()
        .items;
    events
        .into_iter()
        .filter(|e| e.action == "sign_in")
        .map(|e| {
            let details: Value = serde_json::from_str(&e.details).unwrap();
            let mut keys: Vec<String> = details.as_object().unwrap().keys().cloned().collect();
            keys.sort();
            (e.outcome, keys)
        })
        .collect()
}

fn test_result_keys(app: &TestApp, connection: &str) -> Vec<String> {
    let results = app.directory.test_results(&Ctx::new(&Actor::System, None), "acme", &connection.into()).unwrap();
    let mut keys: Vec<String> = results[0].result.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    keys
}

async fn saml_half(app: &TestApp) -> (Vec<(String, Vec<String>)>, Vec<String>) {
    let s = crate::saml::setup(app).await;
    app.directory
        .record_test_result(
            &directory::ids::ConnectionId::from(s.id.as_str()),
            true,
            None,
            &serde_json::json!({}),
            None,
        )
        .unwrap();
    app.api(reqwest::Method::POST, &format!("/api/v1/enterprises/acme/connections/{}/enable", s.id), &app.operator_key)
        .send()
        .await
        .unwrap();
    // A test, then a person signed in, then a refusal.
    let t: Value = app
        .api(reqwest::Method::POST, &format!("/api/v1/enterprises/acme/connections/{}/test", s.id), &app.operator_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let location = app.client.get(t["url"].as_str().unwrap()).send().await.unwrap().headers()["location"]
        .to_str()
        .unwrap()
        .to_owned();
    let req = crate::saml::request_id(&location);
    let page = crate::saml::post_acs(app, &s, &s.idp.response(&crate::saml::answer(&s, Some(&req), "ada", &[]))).await;
    assert!(page.text().await.unwrap().contains("it works"));
    let tested = test_result_keys(app, &s.id);
    let start = app.client.get(app.url("/login/sso?enterprise_key=acme")).send().await.unwrap();
    let req = crate::saml::request_id(start.headers()["location"].to_str().unwrap());
    let body = s.idp.response(&crate::saml::answer(&s, Some(&req), "ada", &[]));
    assert_eq!(crate::saml::post_acs(app, &s, &body).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(crate::saml::post_acs(app, &s, &body).await.status(), StatusCode::FORBIDDEN);
    (sign_in_events(app), tested)
}

async fn oidc_half(app: &TestApp) -> (Vec<(String, Vec<String>)>, Vec<String>) {
    let (id, redirect_uri, _op) = crate::oidc::enabled_connection(app).await;
    let tested = test_result_keys(app, &id);
    let (back, cookies, _) = crate::oidc::to_callback(app, &redirect_uri).await;
    let first = app.client.get(&back).header("cookie", &cookies).send().await.unwrap();
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    let again = app.client.get(&back).header("cookie", &cookies).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::FORBIDDEN);
    (sign_in_events(app), tested)
}

#[actix_web::test]
async fn saml_and_openid_connect_sign_ins_end_the_same_way() {
    if !crate::helpers::available(crate::helpers::Tool::OpenIdProvider) {
        return;
    }
    let saml_app = TestApp::spawn(directory::Backend::Sqlite).await.unwrap();
    let oidc_app = TestApp::spawn(directory::Backend::Sqlite).await.unwrap();
    let (saml, saml_tested) = saml_half(&saml_app).await;
    let (oidc, oidc_tested) = oidc_half(&oidc_app).await;
    assert_eq!(saml_tested, oidc_tested, "the recorded test results have one shape");
    let shape = |events: &[(String, Vec<String>)], outcome: &str| {
        events.iter().find(|(o, _)| o == outcome).map(|(_, keys)| keys.clone()).expect(outcome)
    };
    assert_eq!(shape(&saml, "success"), shape(&oidc, "success"), "one audit event for a person signed in");
    assert_eq!(shape(&saml, "failure"), shape(&oidc, "failure"), "one audit event for a refusal");
    for app in [&saml_app, &oidc_app] {
        let metrics = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
        assert!(metrics.contains(r#"outcome="success"} 1"#), "{metrics}");
    }
}
