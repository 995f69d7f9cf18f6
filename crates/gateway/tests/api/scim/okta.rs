//! Okta's SCIM 2.0 request sequence, in the shapes Okta documents for its SCIM integrations:
//! look-up before create, create with `password` and `groups: []`, PUT for profile changes,
//! pathless `replace {"active": false}` to deactivate, group push with empty members, then
//! multi-operation group PATCHes and a `replace` of the whole member list.

use reqwest::StatusCode;
use serde_json::json;

use super::Idp;
use crate::helpers::TestApp;

const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

async fn okta_provisioning_sequence(app: TestApp) {
    let okta = Idp::new(&app, "acme", "Okta SCIM Client 1.0.0").await;

    // Look-up before create: nothing yet, an empty list.
    let lookup = "/Users?filter=userName%20eq%20%22test.user%40okta.local%22&startIndex=1&count=100";
    let (status, body) = okta.get(lookup).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["totalResults"], 0);
    assert_eq!(body["Resources"], json!([]));

    let (status, created) = okta
        .post(
            "/Users",
            json!({
                "schemas": [USER],
                "userName": "test.user@okta.local",
                "name": {"givenName": "Test", "familyName": "User"},
                "emails": [{"primary": true, "value": "test.user@okta.local", "type": "work"}],
                "displayName": "Test User",
                "locale": "en-US",
                "externalId": "00ujl29u0le5T6Aj10h7",
                "groups": [],
                "password": "1mz050nq",
                "active": true
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["userName"], "test.user@okta.local");
    assert_eq!(created["externalId"], "00ujl29u0le5T6Aj10h7");
    assert_eq!(created["locale"], "en-US", "attributes Portico does not model are kept");
    assert!(created.get("password").is_none(), "a password is never stored nor returned");
    assert_eq!(created["meta"]["resourceType"], "User");
    assert_eq!(created["meta"]["location"], format!("{}/Users/{id}", okta.base));

    // userName is case-insensitive in look-ups.
    let (status, body) =
        okta.get("/Users?filter=userName%20eq%20%22TEST.USER%40OKTA.LOCAL%22&startIndex=1&count=100").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["totalResults"], 1, "{body}");
    assert_eq!(body["Resources"][0]["id"], id.as_str());

    // Creating the same userName again is a conflict, whatever its case.
    let (status, body) =
        okta.post("/Users", json!({"schemas": [USER], "userName": "Test.User@okta.local", "active": true})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["scimType"], "uniqueness");

    // Profile change by PUT.
    let (status, body) = okta
        .put(
            &format!("/Users/{id}"),
            json!({
                "schemas": [USER],
                "id": id,
                "userName": "test.user@okta.local",
                "name": {"givenName": "Another", "familyName": "User"},
                "emails": [{"primary": true, "value": "test.user@okta.local", "type": "work"}],
                "displayName": "Another User",
                "externalId": "00ujl29u0le5T6Aj10h7",
                "active": true
            }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["name"]["givenName"], "Another");
    assert!(body.get("locale").is_none(), "PUT replaces the whole resource");

    // Deactivation and reactivation, pathless.
    let deactivate = json!({"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": false}}]});
    let (status, body) = okta.patch(&format!("/Users/{id}"), deactivate).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["active"], false);
    let (_, body) = okta.get(&format!("/Users/{id}")).await;
    assert_eq!(body["active"], false);
    let reactivate = json!({"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": true}}]});
    let (status, body) = okta.patch(&format!("/Users/{id}"), reactivate).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["active"], true);

    let second = okta.create_user("second.user@okta.local").await;
    let third = okta.create_user("third.user@okta.local").await;

    // Group push: created empty, then members by PATCH.
    let (status, group) =
        okta.post("/Groups", json!({"schemas": [GROUP], "displayName": "Engineering", "members": []})).await;
    assert_eq!(status, StatusCode::CREATED, "{group}");
    let gid = group["id"].as_str().unwrap().to_owned();
    assert_eq!(group["members"], json!([]));

    let (status, _) = okta
        .patch(
            &format!("/Groups/{gid}"),
            json!({"schemas": [PATCH], "Operations": [
                {"op": "replace", "value": {"id": gid, "displayName": "Engineering EU"}},
                {"op": "add", "path": "members", "value": [
                    {"value": id, "display": "test.user@okta.local"},
                    {"value": second, "display": "second.user@okta.local"}
                ]}
            ]}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let mut expected = vec![id.clone(), second.clone()];
    expected.sort();
    assert_eq!(okta.members(&gid).await, expected);

    // Remove one by filter and add another, in one request.
    let (status, _) = okta
        .patch(
            &format!("/Groups/{gid}"),
            json!({"schemas": [PATCH], "Operations": [
                {"op": "remove", "path": format!("members[value eq \"{second}\"]")},
                {"op": "add", "path": "members", "value": [{"value": third, "display": "third.user@okta.local"}]}
            ]}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let mut expected = vec![id.clone(), third.clone()];
    expected.sort();
    assert_eq!(okta.members(&gid).await, expected);

    // Replace the whole member list.
    let (status, _) = okta
        .patch(
            &format!("/Groups/{gid}"),
            json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "members", "value": [{"value": second}]}]}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(okta.members(&gid).await, vec![second.clone()]);

    // The user shows its groups, read-only.
    let (_, body) = okta.get(&format!("/Users/{second}")).await;
    assert_eq!(body["groups"][0]["value"], gid.as_str());
    assert_eq!(body["groups"][0]["display"], "Engineering EU");

    // Look-up by name, as Okta does before pushing a group.
    let (status, body) =
        okta.get("/Groups?filter=displayName%20eq%20%22Engineering%20EU%22&startIndex=1&count=100").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["totalResults"], 1);
    assert_eq!(body["Resources"][0]["id"], gid.as_str());

    // Unlinking the push deletes the group.
    let (status, _) = okta.delete(&format!("/Groups/{gid}")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = okta.get(&format!("/Groups/{gid}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, body) = okta.get(&format!("/Users/{second}")).await;
    assert!(body.get("groups").is_none(), "{body}");
}

crate::both_backends!(okta_provisioning_sequence);
