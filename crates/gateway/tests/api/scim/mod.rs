//! The SCIM API driven as IdPs drive it: each file replays one IdP's documented request shapes,
//! or checks one part of the protocol, over HTTP against a running Portico.

mod compliance;
mod entra;
mod jumpcloud_onelogin;
mod okta;
mod protocol;
mod semantics;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::TestApp;

/// An IdP's view of Portico: the enterprise's SCIM base URL and a token for it.
pub struct Idp<'a> {
    pub app: &'a TestApp,
    pub base: String,
    pub token: String,
    pub user_agent: &'static str,
}

impl<'a> Idp<'a> {
    /// Creates enterprise `key` and a SCIM token for it.
    pub async fn new(app: &'a TestApp, key: &str, user_agent: &'static str) -> Idp<'a> {
        app.create_enterprise(key).await;
        let res = app
            .api(Method::POST, &format!("/api/v1/enterprises/{key}/scim-tokens"), &app.operator_key)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
        let body: Value = res.json().await.unwrap();
        Idp {
            app,
            base: app.url(&format!("/api/scim/v2/{key}")),
            token: body["token"].as_str().unwrap().to_owned(),
            user_agent,
        }
    }

    /// Sends `method` to `path` (relative to the base URL, or absolute when it starts with
    /// `http`), with a JSON body when given; returns the status and the JSON body (or `Null`).
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let url = if path.starts_with("http") { path.to_owned() } else { format!("{}{path}", self.base) };
        let mut req =
            self.app.client.request(method, url).bearer_auth(&self.token).header("user-agent", self.user_agent);
        if let Some(body) = body {
            req = req.header("content-type", "application/scim+json").body(body.to_string());
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        if let Some(ct) = res.headers().get("content-type") {
            assert!(ct.to_str().unwrap().starts_with("application/scim+json"), "{ct:?}");
        }
        let text = res.text().await.unwrap();
        let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() };
        if status.is_client_error() || status.is_server_error() {
            assert_eq!(body["schemas"][0], scim::error::ERROR_SCHEMA, "errors use the SCIM schema: {body}");
            assert_eq!(body["status"], status.as_u16().to_string(), "{body}");
        }
        (status, body)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PUT, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::DELETE, path, None).await
    }

    /// Creates a user and returns its id.
    pub async fn create_user(&self, user_name: &str) -> String {
        let (status, body) = self
            .post(
                "/Users",
                serde_json::json!({
                    "schemas": [scim::schemas::USER],
                    "userName": user_name,
                    "name": {"givenName": "Test", "familyName": user_name},
                    "emails": [{"value": user_name, "primary": true, "type": "work"}],
                    "active": true
                }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_str().unwrap().to_owned()
    }

    /// The member ids of a group, sorted.
    pub async fn members(&self, group_id: &str) -> Vec<String> {
        let (status, body) = self.get(&format!("/Groups/{group_id}")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let mut ids: Vec<String> = body["members"]
            .as_array()
            .map(|m| m.iter().map(|m| m["value"].as_str().unwrap().to_owned()).collect())
            .unwrap_or_default();
        ids.sort();
        ids
    }
}
