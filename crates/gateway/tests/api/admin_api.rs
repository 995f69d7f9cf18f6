//! The admin API: happy paths, the OpenAPI document, and bad input that changes nothing.

use directory::{Actor, Ctx, PageRequest};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, problem};

async fn operator_key_creates_enterprise_and_organization(app: TestApp) {
    let e = app.create_enterprise("acme").await;
    assert_eq!(e["key"], "acme");
    assert_eq!(e["provisioning_mode"], "jit");
    let o = app.create_organization("acme", "eng").await;
    assert_eq!(o["key"], "eng");

    let groups: Value = app
        .api(Method::GET, "/api/v1/enterprises/acme/organizations/eng/groups", &app.operator_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(groups["items"][0]["name"], "Members");
    assert_eq!(groups["items"][0]["builtin"], true);

    // SCIM mode waits for working single sign-on (409), unless the caller forces it.
    let res = app
        .api(Method::PATCH, "/api/v1/enterprises/acme", &app.operator_key)
        .json(&json!({"name": "Acme Corp", "provisioning_mode": "scim"}))
        .send()
        .await
        .unwrap();
    let refused = crate::helpers::problem(res, StatusCode::CONFLICT).await;
    assert!(refused["detail"].as_str().unwrap().contains("no enabled, tested SSO connection"), "{refused}");
    let res = app
        .api(Method::PATCH, "/api/v1/enterprises/acme", &app.operator_key)
        .json(&json!({"name": "Acme Corp", "provisioning_mode": "scim", "force": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["provisioning_mode"], "scim");

    // Every mutation is audited with the request's operation id.
    let events =
        app.directory.list_audit_events(&Ctx::new(&Actor::System, None), None, &PageRequest::default()).unwrap();
    let actions: Vec<&str> = events.items.iter().map(|e| e.action.as_str()).collect();
    assert!(
        actions.starts_with(&["enterprise.update", "enterprise.update", "organization.create", "enterprise.create"]),
        "the refused switch is audited too: {actions:?}"
    );
    let forced: serde_json::Value = serde_json::from_str(&events.items[0].details).unwrap();
    assert_eq!(forced["forced"], true, "a forced switch says so in the audit log");
    assert_eq!(events.items[1].outcome, "failure");
    assert!(events.items.iter().filter(|e| e.action != "api_key.create").all(|e| e.actor_name.starts_with("API key ")));
    assert!(events.items.iter().filter(|e| e.action != "api_key.create").all(|e| e.operation_id.is_some()));

    let res =
        app.api(Method::DELETE, "/api/v1/enterprises/acme/organizations/eng", &app.operator_key).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = app.api(Method::DELETE, "/api/v1/enterprises/acme", &app.operator_key).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = app.api(Method::GET, "/api/v1/enterprises/acme", &app.operator_key).send().await.unwrap();
    problem(res, StatusCode::NOT_FOUND).await;
}

async fn openapi_describes_the_routes(app: TestApp) {
    let doc: Value = app.client.get(app.url("/api/v1/openapi.json")).send().await.unwrap().json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert!(doc["paths"]["/api/v1/enterprises"]["post"]["requestBody"].is_object());
    assert!(doc["paths"]["/api/v1/enterprises/{key}/organizations"]["post"]["responses"]["201"].is_object());
    assert!(doc["components"]["schemas"]["CreateEnterprise"].is_object());
    assert!(doc["components"]["securitySchemes"]["admin_api_key"].is_object());
    for path in [
        "/api/v1/enterprises/{key}",
        "/api/v1/enterprises/{key}/organizations/{org_key}",
        "/api/v1/enterprises/{key}/organizations/{org_key}/groups",
        "/api/v1/enterprises/{key}/users",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} is missing");
    }
}

async fn missing_or_bad_keys_get_401(app: TestApp) {
    let res = app.client.get(app.url("/api/v1/enterprises")).send().await.unwrap();
    assert_eq!(res.headers()["www-authenticate"], "Bearer realm=\"portico\"");
    problem(res, StatusCode::UNAUTHORIZED).await;
    let res = app
        .api(Method::GET, "/api/v1/enterprises", "portico_0123456789ab_nopenopenopenopenopenopenopenopenopenopenope")
        .send()
        .await
        .unwrap();
    problem(res, StatusCode::UNAUTHORIZED).await;
    // Unauthenticated callers learn nothing about the body they sent.
    let res = app
        .client
        .post(app.url("/api/v1/enterprises"))
        .body("{not json")
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    problem(res, StatusCode::UNAUTHORIZED).await;
}

async fn bad_input_gets_a_clear_error_and_changes_nothing(app: TestApp) {
    app.create_enterprise("acme").await;
    let post = |body: &'static str, content_type: &'static str| {
        app.api(Method::POST, "/api/v1/enterprises", &app.operator_key)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let body = problem(post("{\"key\": \"x1\", ", "application/json").await.unwrap(), StatusCode::BAD_REQUEST).await;
    assert!(body["detail"].as_str().unwrap().contains("invalid JSON"), "{body}");

    let body = problem(
        post(r#"{"key":"x1","name":"X","colour":"red"}"#, "application/json").await.unwrap(),
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("colour"), "{body}");

    let body =
        problem(post(r#"{"key":"acme","name":"Again"}"#, "application/json").await.unwrap(), StatusCode::CONFLICT)
            .await;
    assert_eq!(body["code"], "conflict");

    let long = format!(r#"{{"key":"long1","name":"{}"}}"#, "n".repeat(201));
    let res = app
        .api(Method::POST, "/api/v1/enterprises", &app.operator_key)
        .header("content-type", "application/json")
        .body(long)
        .send()
        .await
        .unwrap();
    let body = problem(res, StatusCode::BAD_REQUEST).await;
    assert_eq!(body["code"], "validation_failed");
    assert_eq!(body["errors"][0]["field"], "name");

    let body =
        problem(post(r#"{"key":"Bad Key","name":"X"}"#, "application/json").await.unwrap(), StatusCode::BAD_REQUEST)
            .await;
    assert_eq!(body["errors"][0]["field"], "key");

    problem(post(r#"{"key":"x2","name":"X"}"#, "text/plain").await.unwrap(), StatusCode::UNSUPPORTED_MEDIA_TYPE).await;

    let body = problem(
        post(r#"{"key":"x3","name":"X","provisioning_mode":"ldap"}"#, "application/json").await.unwrap(),
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("ldap"), "{body}");

    let huge = format!(r#"{{"key":"x4","name":"{}"}}"#, "n".repeat(70 * 1024));
    let res = app
        .api(Method::POST, "/api/v1/enterprises", &app.operator_key)
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    problem(res, StatusCode::PAYLOAD_TOO_LARGE).await;

    let res = app.api(Method::GET, "/api/v1/enterprises?limit=abc", &app.operator_key).send().await.unwrap();
    problem(res, StatusCode::BAD_REQUEST).await;
    let res = app
        .api(Method::PATCH, "/api/v1/enterprises/acme", &app.operator_key)
        .json(&json!({"key": "renamed"}))
        .send()
        .await
        .unwrap();
    problem(res, StatusCode::BAD_REQUEST).await;

    // Nothing of the above was written.
    let list: Value =
        app.api(Method::GET, "/api/v1/enterprises", &app.operator_key).send().await.unwrap().json().await.unwrap();
    let keys: Vec<&str> = list["items"].as_array().unwrap().iter().map(|e| e["key"].as_str().unwrap()).collect();
    assert_eq!(keys, vec!["acme"]);
    assert_eq!(list["items"][0]["name"], "acme corporation");
}

async fn lists_are_paginated(app: TestApp) {
    for i in 0..5 {
        app.create_enterprise(&format!("ent-{i}")).await;
    }
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let path = match &after {
            Some(a) => format!("/api/v1/enterprises?limit=2&after={a}"),
            None => "/api/v1/enterprises?limit=2".to_owned(),
        };
        let page: Value = app.api(Method::GET, &path, &app.operator_key).send().await.unwrap().json().await.unwrap();
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(|e| e["key"].as_str().unwrap().to_owned()));
        match page["next"].as_str() {
            Some(n) => after = Some(n.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, vec!["ent-0", "ent-1", "ent-2", "ent-3", "ent-4"]);
}

async fn users_are_listed_with_their_groups(app: TestApp) {
    app.create_enterprise("acme").await;
    app.create_organization("acme", "eng").await;
    let res = app
        .api(Method::POST, "/api/v1/enterprises/acme/users", &app.operator_key)
        .json(&json!({"login": "Ada", "email": "ada@acme.test", "name": "Ada Lovelace"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    app.directory.add_group_member(&Ctx::new(&Actor::System, None), "acme", "eng", "Members", "ada").unwrap();
    let users: Value = app
        .api(Method::GET, "/api/v1/enterprises/acme/users", &app.operator_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ada = &users["items"][0];
    assert_eq!(ada["login"], "Ada");
    assert_eq!(ada["origin"], "local");
    assert_eq!(ada["active"], true);
    assert_eq!(ada["groups"], json!([{"organization": "eng", "group": "Members", "source": "local"}]));
    let res = app
        .api(Method::POST, "/api/v1/enterprises/acme/users", &app.operator_key)
        .json(&json!({"login": "ADA"}))
        .send()
        .await
        .unwrap();
    problem(res, StatusCode::CONFLICT).await;
}

async fn appointing_an_admin_returns_a_setup_link(app: TestApp) {
    app.create_enterprise("acme").await;
    let res = app
        .api(Method::POST, "/api/v1/enterprises/acme/admins", &app.operator_key)
        .json(&json!({"login": "ada", "email": "ada@acme.test"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let body: Value = res.json().await.unwrap();
    let link = body["setup_url"].as_str().unwrap();
    assert!(link.starts_with(&format!("{}/setup/", app.base)), "{link}");
    let page = app.client.get(link).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("Choose your password"));
}

async fn other_methods_get_405_with_allow(app: TestApp) {
    app.create_enterprise("acme").await;
    let res =
        app.api(Method::PUT, "/api/v1/enterprises/acme", &app.operator_key).json(&json!({})).send().await.unwrap();
    assert_eq!(res.headers()["allow"], "GET, PATCH, DELETE");
    let body = problem(res, StatusCode::METHOD_NOT_ALLOWED).await;
    assert_eq!(body["code"], "method_not_allowed");
    let res = app.api(Method::GET, "/api/v1/nothing-here", &app.operator_key).send().await.unwrap();
    problem(res, StatusCode::NOT_FOUND).await;
}

crate::both_backends!(
    other_methods_get_405_with_allow,
    operator_key_creates_enterprise_and_organization,
    openapi_describes_the_routes,
    missing_or_bad_keys_get_401,
    bad_input_gets_a_clear_error_and_changes_nothing,
    lists_are_paginated,
    users_are_listed_with_their_groups,
    appointing_an_admin_returns_a_setup_link,
);
