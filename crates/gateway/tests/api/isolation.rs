//! Tenant isolation: a key of enterprise A walks every route of the OpenAPI document against
//! enterprise B and gets 403 or 404 each time, and B is unchanged afterwards.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::TestApp;

/// A body the operation would accept if the caller were allowed: every required property of
/// its request schema, filled with a plausible value.
fn valid_body(doc: &Value, operation: &Value) -> Option<Value> {
    let schema = &operation["requestBody"]["content"]["application/json"]["schema"];
    let name = schema["$ref"].as_str()?.rsplit('/').next()?;
    let schema = &doc["components"]["schemas"][name];
    let mut body = serde_json::Map::new();
    for field in schema["required"].as_array().into_iter().flatten() {
        let field = field.as_str()?;
        body.insert(field.to_owned(), plausible(doc, &schema["properties"][field]));
    }
    Some(Value::Object(body))
}

/// A value of the right shape for a property schema: an enum's first value, a string, ...
fn plausible(doc: &Value, property: &Value) -> Value {
    let resolved = match property["$ref"].as_str().and_then(|r| r.rsplit('/').next()) {
        Some(name) => &doc["components"]["schemas"][name],
        None => property,
    };
    if let Some(first) = resolved["enum"].as_array().and_then(|e| e.first()) {
        return first.clone();
    }
    match resolved["type"].as_str() {
        Some("boolean") => json!(false),
        Some("array") => json!([]),
        Some("object") => json!({}),
        Some("integer") | Some("number") => json!(1),
        _ => json!("intruder"),
    }
}

async fn enterprise_key_cannot_reach_another_enterprise(app: TestApp) {
    app.create_enterprise("alpha").await;
    app.create_enterprise("beta").await;
    app.create_organization("alpha", "a-org").await;
    app.create_organization("beta", "b-org").await;
    let key_a = app.enterprise_key("alpha");
    let beta_connection = app.create_saml_connection("beta").await["id"].as_str().unwrap().to_owned();

    let doc: Value = app.client.get(app.url("/api/v1/openapi.json")).send().await.unwrap().json().await.unwrap();
    let mut walked = 0;
    for (template, item) in doc["paths"].as_object().unwrap() {
        if !template.contains("{key}") {
            continue;
        }
        let path = template.replace("{key}", "beta").replace("{org_key}", "b-org").replace("{id}", &beta_connection);
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_none() {
                continue;
            }
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let mut req = app.api(m, &path, &key_a);
            if let Some(body) = valid_body(&doc, &item[method]) {
                req = req.json(&body);
            }
            let res = req.send().await.unwrap();
            assert!(
                matches!(res.status(), StatusCode::NOT_FOUND | StatusCode::FORBIDDEN),
                "{} {path} answered {} to a key of another enterprise",
                method.to_uppercase(),
                res.status()
            );
            walked += 1;
        }
    }
    assert!(walked >= 10, "walked only {walked} operations");

    // Routes without an enterprise in the path.
    let list: Value = app.api(Method::GET, "/api/v1/enterprises", &key_a).send().await.unwrap().json().await.unwrap();
    let keys: Vec<&str> = list["items"].as_array().unwrap().iter().map(|e| e["key"].as_str().unwrap()).collect();
    assert_eq!(keys, vec!["alpha"]);
    let res = app
        .api(Method::POST, "/api/v1/enterprises", &key_a)
        .json(&json!({"key": "gamma", "name": "G"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    // Beta is untouched.
    let c: Value = app
        .api(Method::GET, &format!("/api/v1/enterprises/beta/connections/{beta_connection}"), &app.operator_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(c["status"], "draft");
    let beta: Value =
        app.api(Method::GET, "/api/v1/enterprises/beta", &app.operator_key).send().await.unwrap().json().await.unwrap();
    assert_eq!(beta["name"], "beta corporation");
    let orgs: Value = app
        .api(Method::GET, "/api/v1/enterprises/beta/organizations", &app.operator_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(orgs["items"].as_array().unwrap().len(), 1);
    let users: Value = app
        .api(Method::GET, "/api/v1/enterprises/beta/users", &app.operator_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(users["items"].as_array().unwrap().is_empty());

    // While A's own routes work with A's key.
    let res = app.api(Method::GET, "/api/v1/enterprises/alpha/organizations/a-org", &key_a).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

crate::both_backends!(enterprise_key_cannot_reach_another_enterprise);
