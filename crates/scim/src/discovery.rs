//! What an IdP reads to learn what Portico supports (RFC 7644 section 4):
//! `ServiceProviderConfig`, `ResourceTypes` and `Schemas`.

use serde_json::{Value, json};

use crate::bulk::{MAX_BULK_OPERATIONS, MAX_BULK_PAYLOAD};
use crate::error::ScimError;
use crate::query::MAX_COUNT;
use crate::schemas::{self, ENTERPRISE_USER, GROUP, LIST_RESPONSE, USER};

const SCHEMA_SPC: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
const SCHEMA_RESOURCE_TYPE: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";

/// The ServiceProviderConfig: the features and limits Portico supports.
pub fn service_provider_config(base_url: &str, documentation_url: &str) -> Value {
    json!({
        "schemas": [SCHEMA_SPC],
        "documentationUri": documentation_url,
        "patch": {"supported": true},
        "bulk": {"supported": true, "maxOperations": MAX_BULK_OPERATIONS, "maxPayloadSize": MAX_BULK_PAYLOAD},
        "filter": {"supported": true, "maxResults": MAX_COUNT},
        "changePassword": {"supported": false},
        "sort": {"supported": false},
        "etag": {"supported": true},
        "authenticationSchemes": [
            {
                "type": "oauthbearertoken",
                "name": "Bearer token",
                "description": "A SCIM token generated in the enterprise's provisioning settings",
                "primary": true
            },
            {
                "type": "httpbasic",
                "name": "HTTP Basic",
                "description": "The SCIM token as the user name, for IdPs that only offer Basic authentication"
            }
        ],
        "meta": {"resourceType": "ServiceProviderConfig", "location": format!("{base_url}/ServiceProviderConfig")},
    })
}

fn resource_types_list(base_url: &str) -> Vec<Value> {
    vec![
        json!({
            "schemas": [SCHEMA_RESOURCE_TYPE],
            "id": "User",
            "name": "User",
            "endpoint": "/Users",
            "description": "A person of the enterprise",
            "schema": USER,
            "schemaExtensions": [{"schema": ENTERPRISE_USER, "required": false}],
            "meta": {"resourceType": "ResourceType", "location": format!("{base_url}/ResourceTypes/User")},
        }),
        json!({
            "schemas": [SCHEMA_RESOURCE_TYPE],
            "id": "Group",
            "name": "Group",
            "endpoint": "/Groups",
            "description": "A group pushed by the IdP",
            "schema": GROUP,
            "meta": {"resourceType": "ResourceType", "location": format!("{base_url}/ResourceTypes/Group")},
        }),
    ]
}

fn list(resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_RESPONSE],
        "totalResults": resources.len(),
        "itemsPerPage": resources.len(),
        "startIndex": 1,
        "Resources": resources,
    })
}

/// `/ResourceTypes`, or one of them by id.
pub fn resource_types(base_url: &str, id: Option<&str>) -> Result<Value, ScimError> {
    let all = resource_types_list(base_url);
    match id {
        None => Ok(list(all)),
        Some(id) => all
            .into_iter()
            .find(|r| r["id"].as_str().is_some_and(|i| i.eq_ignore_ascii_case(id)))
            .ok_or_else(|| ScimError::status(404, format!("no resource type {id}"))),
    }
}

/// `/Schemas`, or one of them by URN.
pub fn schemas(base_url: &str, id: Option<&str>) -> Result<Value, ScimError> {
    let all: Vec<Value> = [schemas::user(), schemas::enterprise_user(), schemas::group()]
        .iter()
        .map(|s| s.to_json(&format!("{base_url}/Schemas/{}", s.id)))
        .collect();
    match id {
        None => Ok(list(all)),
        Some(id) => all
            .into_iter()
            .find(|s| s["id"].as_str().is_some_and(|i| i.eq_ignore_ascii_case(id)))
            .ok_or_else(|| ScimError::status(404, format!("no schema {id}"))),
    }
}
