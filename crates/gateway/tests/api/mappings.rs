//! The group-mapping contract of the admin API: IdP groups pushed over SCIM, listed with the
//! organizations they feed, mapped per organization, and the members that follow.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, problem};
use crate::scim::Idp;

async fn idp_groups_are_mapped_per_organization(app: TestApp) {
    let idp = Idp::new(&app, "acme", "test").await;
    app.create_organization("acme", "eng").await;
    app.create_organization("acme", "ops").await;
    let ada = idp.create_user("ada@acme.example").await;
    let (_, platform) = idp
        .post(
            "/Groups",
            json!({"schemas": [scim::schemas::GROUP], "displayName": "Platform", "members": [{"value": ada}]}),
        )
        .await;
    let (_, design) = idp.post("/Groups", json!({"schemas": [scim::schemas::GROUP], "displayName": "Design"})).await;
    let key = &app.operator_key;

    let url = "/api/v1/enterprises/acme/organizations/eng/group-mappings";
    let res = app
        .api(Method::PUT, url, key)
        .json(&json!({"idp_groups": [platform["id"], design["id"]]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let outcome: Value = res.json().await.unwrap();
    assert_eq!(outcome["added"], json!(["Design", "Platform"]));
    let current: Value = app.api(Method::GET, url, key).send().await.unwrap().json().await.unwrap();
    assert_eq!(current["idp_groups"].as_array().unwrap().len(), 2);

    let listed: Value = app
        .api(Method::GET, "/api/v1/enterprises/acme/idp-groups?filter=plat", key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    assert_eq!(listed["items"][0]["id"], platform["id"]);
    assert_eq!(listed["items"][0]["name"], "Platform");
    assert_eq!(listed["items"][0]["members"], 1);
    assert_eq!(listed["items"][0]["organizations"], json!(["eng"]));

    // The IdP group's members are the org group's sso members.
    let members: Value = app
        .api(Method::GET, "/api/v1/enterprises/acme/organizations/eng/groups/Platform/members", key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(members[0]["login"], "ada@acme.example", "{members}");
    assert_eq!(members[0]["source"], "sso");

    // Unknown ids change nothing; an empty list unmaps all.
    let res = app.api(Method::PUT, url, key).json(&json!({"idp_groups": ["nope"]})).send().await.unwrap();
    problem(res, StatusCode::BAD_REQUEST).await;
    let res = app.api(Method::PUT, url, key).json(&json!({"idp_groups": []})).send().await.unwrap();
    let outcome: Value = res.json().await.unwrap();
    assert_eq!(outcome["removed"].as_array().unwrap().len(), 2);
}

async fn map_all_runs_as_a_job_with_progress(app: TestApp) {
    let idp = Idp::new(&app, "acme", "test").await;
    for org in ["eng", "ops", "qa"] {
        app.create_organization("acme", org).await;
    }
    for name in ["Platform", "Design"] {
        let (status, _) = idp.post("/Groups", json!({"schemas": [scim::schemas::GROUP], "displayName": name})).await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let key = &app.operator_key;
    let res = app.api(Method::POST, "/api/v1/enterprises/acme/group-mappings/map-all", key).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let job = res.json::<Value>().await.unwrap()["job"].as_str().unwrap().to_owned();
    let last = finished_job(&app, &job).await;
    assert_eq!(last["state"], "done", "{last}");
    assert!(last["total"].as_i64() >= Some(1), "{last}");
    assert_eq!(last["done"], last["total"]);
    let listed: Value =
        app.api(Method::GET, "/api/v1/enterprises/acme/idp-groups", key).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), 2, "{listed}");
    for g in listed["items"].as_array().unwrap() {
        assert_eq!(g["organizations"], json!(["eng", "ops", "qa"]), "{g}");
    }
    // Another enterprise's key does not see the job.
    app.create_enterprise("globex").await;
    let other = app.enterprise_key("globex");
    problem(app.api(Method::GET, &format!("/api/v1/jobs/{job}"), &other).send().await.unwrap(), StatusCode::NOT_FOUND)
        .await;
}

/// Waits for a job to end, and answers its last state.
async fn finished_job(app: &TestApp, job: &str) -> Value {
    let mut last = Value::Null;
    for _ in 0..100 {
        last = app
            .api(Method::GET, &format!("/api/v1/jobs/{job}"), &app.operator_key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if last["state"] == "done" || last["state"] == "failed" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    last
}

/// A PUT larger than one chunk (two links here) answers 202 with a job that applies it.
async fn a_large_change_of_mappings_is_a_job(backend: directory::Backend) {
    let Some(app) = TestApp::spawn_with(backend, &[("PORTICO__JOBS__MAP_ALL_LINKS_PER_CHUNK", "2")]).await else {
        return;
    };
    let idp = Idp::new(&app, "acme", "test").await;
    app.create_organization("acme", "eng").await;
    let mut ids = Vec::new();
    for name in ["Alpha", "Bravo", "Charlie", "Delta", "Echo"] {
        let (_, g) = idp.post("/Groups", json!({"schemas": [scim::schemas::GROUP], "displayName": name})).await;
        ids.push(g["id"].clone());
    }
    let key = &app.operator_key;
    let url = "/api/v1/enterprises/acme/organizations/eng/group-mappings";
    let res = app.api(Method::PUT, url, key).json(&json!({"idp_groups": ids})).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let job = res.json::<Value>().await.unwrap()["job"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("/api/v1/jobs/{job}"));
    let last = finished_job(&app, &job).await;
    assert_eq!(
        (&last["state"], &last["kind"], &last["done"], &last["total"]),
        (&json!("done"), &json!("set_mappings"), &json!(3), &json!(3)),
        "{last}"
    );
    let current: Value = app.api(Method::GET, url, key).send().await.unwrap().json().await.unwrap();
    assert_eq!(current["idp_groups"].as_array().unwrap().len(), 5, "{current}");
    // Small changes are still applied at once.
    let res = app.api(Method::PUT, url, key).json(&json!({"idp_groups": ids[..4]})).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["removed"], json!(["Echo"]));
}

#[actix_web::test]
async fn a_large_change_of_mappings_is_a_job_sqlite() {
    a_large_change_of_mappings_is_a_job(directory::Backend::Sqlite).await
}

#[actix_web::test]
async fn a_large_change_of_mappings_is_a_job_postgres() {
    a_large_change_of_mappings_is_a_job(directory::Backend::Postgres).await
}

async fn access_answers_organizations_groups_and_permissions(app: TestApp) {
    let idp = Idp::new(&app, "acme", "test").await;
    app.create_organization("acme", "eng").await;
    let ada = idp.create_user("ada@acme.example").await;
    let (_, platform) = idp
        .post(
            "/Groups",
            json!({"schemas": [scim::schemas::GROUP], "displayName": "Platform", "members": [{"value": ada}]}),
        )
        .await;
    let key = &app.operator_key;
    app.api(Method::PUT, "/api/v1/enterprises/acme/organizations/eng/group-mappings", key)
        .json(&json!({"idp_groups": [platform["id"]]}))
        .send()
        .await
        .unwrap();
    let perms_url = "/api/v1/enterprises/acme/organizations/eng/groups/Platform/permissions";
    let res = app
        .api(Method::PUT, perms_url, key)
        .json(&json!({"permissions": ["create_projects", "browse"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["permissions"], json!(["create_projects", "browse"]));
    let res = app.api(Method::PUT, perms_url, key).json(&json!({"permissions": ["everything"]})).send().await.unwrap();
    problem(res, StatusCode::BAD_REQUEST).await;

    let access: Value = app
        .api(Method::GET, "/api/v1/enterprises/acme/users/ada@acme.example/access", key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(access["active"], true);
    assert_eq!(access["organizations"][0]["key"], "eng");
    assert_eq!(access["organizations"][0]["groups"][0]["group"], "Platform");
    assert_eq!(access["organizations"][0]["groups"][0]["source"], "sso");
    assert_eq!(access["organizations"][0]["permissions"], json!(["create_projects", "browse"]));
    // Org membership follows group membership.
    let members: Value = app
        .api(Method::GET, "/api/v1/enterprises/acme/organizations/eng/members", key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(members["items"][0]["login"], "ada@acme.example");
    assert_eq!(members["items"][0]["groups"], json!([{"group": "Platform", "source": "sso"}]));

    // Deactivated by the IdP: no access at all.
    let (status, _) = idp
        .patch(
            &format!("/Users/{ada}"),
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "value": {"active": false}}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let access: Value = app
        .api(Method::GET, "/api/v1/enterprises/acme/users/ada@acme.example/access", key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(access["active"], false);
    assert_eq!(access["organizations"], json!([]));
}

crate::both_backends!(
    idp_groups_are_mapped_per_organization,
    map_all_runs_as_a_job_with_progress,
    access_answers_organizations_groups_and_permissions,
);
