//! What SCIM provisioning means for the rest of Portico: users the IdP pushed are read-only for
//! admins, SCIM mode changes what admins may do with the others, and every request lands in the
//! enterprise's request log, redacted.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::Idp;
use crate::helpers::{TestApp, problem};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

async fn scim_users_are_read_only_for_admins(app: TestApp) {
    let idp = Idp::new(&app, "acme", "test").await;
    idp.create_user("ada@acme.example").await;
    let key = &app.operator_key;
    let user_url = "/api/v1/enterprises/acme/users/ada@acme.example";

    let res = app.api(Method::PATCH, user_url, key).json(&json!({"name": "Someone else"})).send().await.unwrap();
    let body = problem(res, StatusCode::CONFLICT).await;
    assert!(body["detail"].as_str().unwrap().contains("SCIM"), "{body}");
    let res = app.api(Method::PATCH, user_url, key).json(&json!({"active": false})).send().await.unwrap();
    problem(res, StatusCode::CONFLICT).await;
    problem(app.api(Method::DELETE, user_url, key).send().await.unwrap(), StatusCode::CONFLICT).await;
    let (_, user) = idp.get("/Users?filter=userName%20eq%20%22ada%40acme.example%22").await;
    assert_eq!(user["Resources"][0]["active"], true, "nothing changed");

    // JIT mode: local users are the admins' to change.
    let res = app
        .api(Method::POST, "/api/v1/enterprises/acme/users", key)
        .json(&json!({"login": "bob", "email": "bob@acme.example"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let res = app
        .api(Method::PATCH, "/api/v1/enterprises/acme/users/bob", key)
        .json(&json!({"name": "Bob", "email": null}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let bob: Value = res.json().await.unwrap();
    assert_eq!(bob["name"], "Bob");
    assert_eq!(bob["email"], Value::Null);

    // SCIM mode: only the IdP creates users; the others may only be deactivated or reactivated.
    let res = app
        .api(Method::PATCH, "/api/v1/enterprises/acme", key)
        .json(&json!({"provisioning_mode": "scim", "force": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["provisioning_mode"], "scim");
    let res = app
        .api(Method::POST, "/api/v1/enterprises/acme/users", key)
        .json(&json!({"login": "carol"}))
        .send()
        .await
        .unwrap();
    problem(res, StatusCode::CONFLICT).await;
    let bob_url = "/api/v1/enterprises/acme/users/bob";
    let res = app.api(Method::PATCH, bob_url, key).json(&json!({"name": "Robert"})).send().await.unwrap();
    problem(res, StatusCode::CONFLICT).await;
    let res = app.api(Method::PATCH, bob_url, key).json(&json!({"active": false})).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["active"], false);
    problem(app.api(Method::DELETE, bob_url, key).send().await.unwrap(), StatusCode::CONFLICT).await;
    // Local users are not the IdP's: it cannot see them.
    let (_, list) = idp.get("/Users").await;
    assert_eq!(list["totalResults"], 1);

    // Back to JIT mode, a local user may be deleted.
    app.api(Method::PATCH, "/api/v1/enterprises/acme", key)
        .json(&json!({"provisioning_mode": "jit"}))
        .send()
        .await
        .unwrap();
    assert_eq!(app.api(Method::DELETE, bob_url, key).send().await.unwrap().status(), StatusCode::NO_CONTENT);
    problem(app.api(Method::GET, bob_url, key).send().await.unwrap(), StatusCode::NOT_FOUND).await;
}

async fn requests_are_logged_redacted(app: TestApp) {
    let idp = Idp::new(&app, "acme", "Okta SCIM Client 1.0.0").await;
    // A refused token is logged too (issue 16), without the token.
    let wrong = "pscim_0123456789ab_a-wrong-token-that-is-long-enough-to-look-real-0001";
    let res = app.client.get(app.url("/api/scim/v2/acme/Users")).bearer_auth(wrong).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let (status, _) = idp
        .post("/Users", json!({"schemas": [USER], "userName": "ada@acme.example", "password": "hunter2-secret"}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = idp.post("/Users", json!({"schemas": [USER], "userName": "ada@acme.example"})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = idp.get("/Users?filter=bogus").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let res = app.api(Method::GET, "/api/v1/enterprises/acme/scim-requests", &app.operator_key).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let text = res.text().await.unwrap();
    assert!(!text.contains("hunter2-secret"), "secrets never reach the log: {text}");
    assert!(!text.contains(&idp.token) && !text.contains(wrong), "nor the tokens");
    let log: Value = serde_json::from_str(&text).unwrap();
    let log = log.as_array().unwrap();
    assert_eq!(log.len(), 4, "{log:?}");
    assert_eq!(log[3]["status"], 401);
    assert!(log[3]["detail"].as_str().unwrap().contains("token"), "{log:?}");
    assert_eq!(log[3]["token_prefix"], Value::Null);
    assert_eq!(log[0]["status"], 400, "newest first");
    assert_eq!(log[0]["scim_type"], "invalidFilter");
    assert_eq!(log[0]["method"], "GET");
    assert!(log[0]["path"].as_str().unwrap().ends_with("/Users?filter=bogus"));
    assert_eq!(log[1]["status"], 409);
    assert!(log[1]["detail"].as_str().unwrap().contains("already exists"));
    assert_eq!(log[2]["status"], 201);
    assert!(log[2]["request_body"].as_str().unwrap().contains("[redacted]"));
    assert_eq!(log[2]["user_agent"], "Okta SCIM Client 1.0.0");
    assert!(log[2]["token_prefix"].is_string());
    // Another enterprise's admin key sees nothing of it.
    app.create_enterprise("globex").await;
    let other = app.enterprise_key("globex");
    let res = app.api(Method::GET, "/api/v1/enterprises/acme/scim-requests", &other).send().await.unwrap();
    problem(res, StatusCode::NOT_FOUND).await;
}

crate::both_backends!(scim_users_are_read_only_for_admins, requests_are_logged_redacted);
