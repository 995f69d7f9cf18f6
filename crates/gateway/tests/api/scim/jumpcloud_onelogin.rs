//! JumpCloud (a base URL with a trailing slash, pathless `replace {displayName}`, DELETE of
//! users) and OneLogin (SCIM 1.0 schema URNs and attributes Portico does not know).

use reqwest::StatusCode;
use serde_json::json;

use super::Idp;
use crate::helpers::TestApp;

const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

async fn jumpcloud_sequence(app: TestApp) {
    let mut jc = Idp::new(&app, "initech", "JumpCloud SCIM").await;
    // The admin pasted the URL with a trailing slash; JumpCloud appends `/Users` to it.
    jc.base.push('/');
    let (status, body) = jc.get("/Users?filter=userName%20eq%20%22peter%40initech.example%22").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["totalResults"], 0);
    let (status, user) = jc
        .post(
            "/Users",
            json!({"schemas": [USER], "userName": "peter@initech.example", "displayName": "Peter Gibbons",
                   "name": {"givenName": "Peter", "familyName": "Gibbons"},
                   "emails": [{"value": "peter@initech.example", "type": "work", "primary": true}], "active": true}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    let id = user["id"].as_str().unwrap().to_owned();

    let (status, group) = jc.post("/Groups", json!({"schemas": [GROUP], "displayName": "TPS reports"})).await;
    assert_eq!(status, StatusCode::CREATED);
    let gid = group["id"].as_str().unwrap().to_owned();
    // Pathless replace of the name, with the id repeated in the value.
    let (status, _) = jc
        .patch(
            &format!("/Groups/{gid}"),
            json!({"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"id": gid, "displayName": "TPS"}}]}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, body) = jc.get(&format!("/Groups/{gid}")).await;
    assert_eq!(body["displayName"], "TPS");
    let (status, body) = jc
        .patch(
            &format!("/Users/{id}"),
            json!({"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"displayName": "Peter G."}}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["displayName"], "Peter G.");

    // Doubled slashes in the configured URL work as well.
    let doubled = format!("{}/api/scim/v2//initech//Users/{id}", app.base);
    let (status, body) = jc.get(&doubled).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, _) = jc.delete(&format!("/Users/{id}")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = jc.get(&format!("/Users/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}

async fn onelogin_scim_1_0_shapes(app: TestApp) {
    let onelogin = Idp::new(&app, "hooli", "OneLogin SCIM").await;
    let (status, user) = onelogin
        .post(
            "/Users",
            json!({
                "schemas": ["urn:scim:schemas:core:1.0", "urn:scim:schemas:extension:enterprise:1.0"],
                "userName": "gavin@hooli.example",
                "name": {"givenName": "Gavin", "familyName": "Belson"},
                "emails": [{"value": "gavin@hooli.example", "primary": true}],
                "urn:scim:schemas:extension:enterprise:1.0": {"department": "Executive"},
                "nickName": "G",
                "x-onelogin-custom": {"favouriteColour": "gold"},
                "active": true
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    assert_eq!(user["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"], "Executive");
    assert_eq!(user["nickName"], "G");
    let id = user["id"].as_str().unwrap();
    let (status, body) = onelogin.get(&format!("/Users/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["name"]["familyName"], "Belson");
}

crate::both_backends!(jumpcloud_sequence, onelogin_scim_1_0_shapes);
