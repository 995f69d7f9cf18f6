//! The SCIM token contract of the admin API: created once with the secret, listed without it,
//! revoked.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, problem};

async fn tokens_are_shown_once_listed_without_secrets_and_revoked(app: TestApp) {
    app.create_enterprise("acme").await;
    app.create_enterprise("globex").await;
    let url = "/api/v1/enterprises/acme/scim-tokens";

    // No body at all, as the contract's minimal call.
    let res = app.api(Method::POST, url, &app.operator_key).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let first: Value = res.json().await.unwrap();
    let token = first["token"].as_str().unwrap().to_owned();
    let prefix = first["prefix"].as_str().unwrap().to_owned();
    assert!(token.starts_with(&format!("pscim_{prefix}_")), "{first}");
    assert!(first["id"].is_string());

    let res = app.api(Method::POST, url, &app.operator_key).json(&json!({"description": "Okta"})).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let second: Value = res.json().await.unwrap();
    assert_eq!(second["description"], "Okta");

    let listed = app.api(Method::GET, url, &app.operator_key).send().await.unwrap().text().await.unwrap();
    assert!(!listed.contains(&token) && !listed.contains("\"token\""), "no secret in the list: {listed}");
    let listed: Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert_eq!(listed[0]["id"], second["id"], "newest first");

    // Bad input changes nothing.
    let res = app.api(Method::POST, url, &app.operator_key).json(&json!({"name": "x"})).send().await.unwrap();
    problem(res, StatusCode::BAD_REQUEST).await;
    let res = app
        .api(Method::POST, url, &app.operator_key)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    problem(res, StatusCode::BAD_REQUEST).await;

    // Revocation, once; never from another enterprise's path.
    let first_id = first["id"].as_str().unwrap();
    let other = format!("/api/v1/enterprises/globex/scim-tokens/{first_id}");
    problem(app.api(Method::DELETE, &other, &app.operator_key).send().await.unwrap(), StatusCode::NOT_FOUND).await;
    let own = format!("{url}/{first_id}");
    assert_eq!(app.api(Method::DELETE, &own, &app.operator_key).send().await.unwrap().status(), StatusCode::NO_CONTENT);
    problem(app.api(Method::DELETE, &own, &app.operator_key).send().await.unwrap(), StatusCode::NOT_FOUND).await;
    let listed: Value = app.api(Method::GET, url, &app.operator_key).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert!(app.directory.authenticate_scim_token("acme", &token).unwrap().is_none(), "revoked at once");
    let second_token = second["token"].as_str().unwrap();
    assert!(app.directory.authenticate_scim_token("acme", second_token).unwrap().is_some());
}

crate::both_backends!(tokens_are_shown_once_listed_without_secrets_and_revoked);
