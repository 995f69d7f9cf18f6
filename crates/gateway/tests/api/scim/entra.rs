//! Microsoft Entra ID's request shapes, as its SCIM provisioning documentation shows them, in
//! both of its PATCH formats: the default one (capitalised `Add`/`Replace`/`Remove`, `"True"` and
//! `"False"` strings, member removal by a value array, `manager` as a plain string) and the one
//! a tenant URL ending in `?aadOptscim062020` selects (lower-case ops, real booleans, member
//! removal by `members[value eq "..."]`, pathless replaces with dotted and URN keys).

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::Idp;
use crate::helpers::TestApp;

const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const MS_GROUP: &str = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group";

fn patch(ops: Value) -> Value {
    json!({"schemas": [PATCH], "Operations": ops})
}

/// The user Entra ID creates, with its test values.
fn entra_user(user_name: &str, external_id: &str) -> Value {
    json!({
        "schemas": [USER, ENTERPRISE],
        "externalId": external_id,
        "userName": user_name,
        "active": true,
        "emails": [{"primary": true, "type": "work", "value": format!("{user_name}@testuser.com")}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
        "roles": []
    })
}

/// Entra ID's sequence; `flag` is the query its tenant URL carries (`""` or `"?aadOptscim062020"`).
async fn entra_sequence(app: &TestApp, enterprise: &str, flag: &str) {
    let entra = Idp::new(app, enterprise, "Microsoft.Identity.Provisioning/1.0").await;
    let with_flag = |path: &str| {
        if flag.is_empty() {
            path.to_owned()
        } else if path.contains('?') {
            format!("{path}&{}", &flag[1..])
        } else {
            format!("{path}{flag}")
        }
    };
    let optscim = !flag.is_empty();

    // "Test connection": a random user and group that do not exist, expecting empty lists.
    let (status, body) =
        entra.get(&with_flag("/Users?filter=userName+eq+%22d9e1e8f1-3a6c-4a3e-8a33-5ae0f2b0c7a1%22")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["totalResults"], 0);
    let (status, body) = entra
        .get(&with_flag("/Groups?excludedAttributes=members&filter=displayName+eq+%22a1b2c3d4-random-group%22"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["totalResults"], 0);

    // Create, then find by externalId.
    let external = "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef";
    let (status, user) = entra.post(&with_flag("/Users"), entra_user("Test_User_ab6490ee", external)).await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    let id = user["id"].as_str().unwrap().to_owned();
    let (status, body) = entra.get(&with_flag(&format!("/Users?filter=externalId+eq+%22{external}%22"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["totalResults"], 1, "{body}");
    assert_eq!(body["Resources"][0]["id"], id.as_str());
    let (_, body) =
        entra.get(&with_flag(&format!("/Users?filter=externalId+eq+%22{}%22", external.to_uppercase()))).await;
    assert_eq!(body["totalResults"], 0, "externalId is case-exact");

    // Multi-valued and sub-attribute updates.
    let (op_replace, op_add) = if optscim { ("replace", "add") } else { ("Replace", "Add") };
    let (status, body) = entra
        .patch(
            &with_flag(&format!("/Users/{id}")),
            patch(json!([
                {"op": op_replace, "path": "emails[type eq \"work\"].value", "value": "updatedEmail@microsoft.com"},
                {"op": op_replace, "path": "name.familyName", "value": "updatedFamilyName"}
            ])),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["emails"][0]["value"], "updatedEmail@microsoft.com");
    assert_eq!(body["name"]["familyName"], "updatedFamilyName");
    assert_eq!(body["name"]["givenName"], "givenName", "other sub-attributes stay");

    // A filtered PATCH on an element that does not exist yet creates it.
    let (status, body) = entra
        .patch(
            &with_flag(&format!("/Users/{id}")),
            patch(json!([{"op": op_add, "path": "phoneNumbers[type eq \"work\"].value", "value": "+1 555 0100"}])),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["phoneNumbers"], json!([{"type": "work", "value": "+1 555 0100"}]));

    // Enterprise attributes: the manager as a plain string (default format) or in a pathless
    // replace with URN and dotted keys (aadOptscim062020).
    let manager = entra.create_user(&format!("manager-{enterprise}@testuser.com")).await;
    let ops = if optscim {
        json!([{"op": "replace", "value": {
            "name.givenName": "Ada",
            format!("{ENTERPRISE}:department"): "Research",
            ENTERPRISE: {"employeeNumber": "42"},
            format!("{ENTERPRISE}:manager"): {"value": manager}
        }}])
    } else {
        json!([
            {"op": "Add", "path": format!("{ENTERPRISE}:manager"), "value": manager},
            {"op": "Add", "path": format!("{ENTERPRISE}:department"), "value": "Research"},
            {"op": "Replace", "path": format!("{ENTERPRISE}:employeeNumber"), "value": "42"},
            {"op": "Replace", "path": "name.givenName", "value": "Ada"}
        ])
    };
    let (status, body) = entra.patch(&with_flag(&format!("/Users/{id}")), patch(ops)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body[ENTERPRISE]["manager"]["value"], manager.as_str(), "{body}");
    assert_eq!(body[ENTERPRISE]["department"], "Research");
    assert_eq!(body[ENTERPRISE]["employeeNumber"], "42");
    assert_eq!(body["name"]["givenName"], "Ada");
    assert!(body["schemas"].as_array().unwrap().iter().any(|s| s == ENTERPRISE));

    // userName changed by PATCH.
    let renamed = format!("renamed-{enterprise}@testuser.com");
    let (status, body) = entra
        .patch(
            &with_flag(&format!("/Users/{id}")),
            patch(json!([{"op": op_replace, "path": "userName", "value": renamed}])),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["userName"], renamed.as_str());

    // Disable: "False" as a string in the default format.
    let off: Value = if optscim { json!(false) } else { json!("False") };
    let (status, body) = entra
        .patch(&with_flag(&format!("/Users/{id}")), patch(json!([{"op": op_replace, "path": "active", "value": off}])))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["active"], false);
    let (_, body) = entra.get(&with_flag("/Users?filter=active+eq+false")).await;
    assert_eq!(body["totalResults"], 1, "{body}");

    // Groups: created with Microsoft's extra schema, read without members.
    let (status, group) = entra
        .post(
            &with_flag("/Groups"),
            json!({"schemas": [GROUP, MS_GROUP], "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
                   "displayName": "displayName", "meta": {"resourceType": "Group"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{group}");
    let gid = group["id"].as_str().unwrap().to_owned();
    let (status, body) = entra.get(&with_flag(&format!("/Groups/{gid}?excludedAttributes=members"))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.get("members").is_none(), "{body}");
    assert_eq!(body["displayName"], "displayName");
    let (_, body) =
        entra.get(&with_flag("/Groups?excludedAttributes=members&filter=displayName+eq+%22displayName%22")).await;
    assert_eq!(body["totalResults"], 1);
    assert!(body["Resources"][0].get("members").is_none());

    // Members: added with a null $ref, removed by value list or by filter.
    let second = entra.create_user(&format!("second-{enterprise}@testuser.com")).await;
    let (status, _) = entra
        .patch(
            &with_flag(&format!("/Groups/{gid}")),
            patch(json!([{"op": op_add, "path": "members", "value": [{"$ref": null, "value": id}, {"$ref": null, "value": second}]}])),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(entra.members(&gid).await.len(), 2);
    let removal = if optscim {
        json!([{"op": "remove", "path": format!("members[value eq \"{id}\"]")}])
    } else {
        json!([{"op": "Remove", "path": "members", "value": [{"$ref": null, "value": id}]}])
    };
    let (status, _) = entra.patch(&with_flag(&format!("/Groups/{gid}")), patch(removal.clone())).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(entra.members(&gid).await, vec![second.clone()]);
    let (status, _) = entra.patch(&with_flag(&format!("/Groups/{gid}")), patch(removal)).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "removing an absent member changes nothing");
    assert_eq!(entra.members(&gid).await, vec![second.clone()]);

    // Rename.
    let (status, _) = entra
        .patch(
            &with_flag(&format!("/Groups/{gid}")),
            patch(json!([{"op": op_replace, "path": "displayName", "value": "updatedDisplayName"}])),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, body) = entra.get(&with_flag(&format!("/Groups/{gid}"))).await;
    assert_eq!(body["displayName"], "updatedDisplayName");

    // Delete the user: gone from listings and groups.
    let (status, _) = entra.delete(&with_flag(&format!("/Users/{second}"))).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = entra.get(&with_flag(&format!("/Users/{second}"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(entra.members(&gid).await.is_empty());
    let (status, _) = entra.delete(&with_flag(&format!("/Users/{second}"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn entra_default_format(app: TestApp) {
    entra_sequence(&app, "contoso", "").await;
}

async fn entra_aadoptscim062020_format(app: TestApp) {
    entra_sequence(&app, "fabrikam", "?aadOptscim062020").await;
}

crate::both_backends!(entra_default_format, entra_aadoptscim062020_format);
