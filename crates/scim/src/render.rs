//! Stored users and groups back into SCIM resources, and the user profile Portico keeps.
//!
//! A user is kept as columns Portico works with (`userName`, `externalId`, `active`, the primary
//! e-mail, the name it shows) plus a profile document with every other attribute the IdP sent,
//! as it sent them, so that what the IdP writes it reads back: Microsoft's validator and Okta's
//! checks compare the two.

use chrono::NaiveDateTime;
use serde_json::{Map, Value, json};

use crate::error::ScimError;
use crate::resource::{UserInput, boolean, parse_user};
use crate::schemas::{ENTERPRISE_USER, GROUP, USER};
use crate::store::{StoredGroup, StoredUser, UserData};

const ENTERPRISE_1_0: &str = "urn:scim:schemas:extension:enterprise:1.0";

/// Attributes that are columns, read-only, or never kept (`password`).
const NOT_IN_PROFILE: [&str; 8] = ["schemas", "id", "meta", "userName", "externalId", "password", "groups", "members"];

/// The ETag of a resource version.
pub fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

/// The version an `If-Match` value names: `W/"3"`, `"3"` or `3`; `*` (any version) is `None`.
/// A value that names no version of ours can match nothing: 412.
pub fn parse_etag(value: &str) -> Result<Option<i64>, ScimError> {
    let v = value.trim();
    if v == "*" {
        return Ok(None);
    }
    let bare = v.strip_prefix("W/").unwrap_or(v).trim_matches('"');
    bare.parse::<i64>()
        .map(Some)
        .map_err(|_| ScimError::status(412, format!("If-Match `{value}` names no version of this resource")))
}

fn timestamp(t: NaiveDateTime) -> String {
    t.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Reads a User body into what the store keeps.
pub fn user_data(body: &Value) -> Result<(UserInput, UserData), ScimError> {
    let input = parse_user(body)?;
    let mut profile = Map::new();
    if let Some(object) = body.as_object() {
        for (key, value) in object {
            if value.is_null() || NOT_IN_PROFILE.iter().any(|n| n.eq_ignore_ascii_case(key)) {
                continue;
            }
            let is_enterprise = key.eq_ignore_ascii_case(ENTERPRISE_USER) || key.eq_ignore_ascii_case(ENTERPRISE_1_0);
            if is_enterprise {
                profile.insert(ENTERPRISE_USER.to_owned(), enterprise_extension(value));
            } else if key.contains(':') {
                // Another schema's extension: not advertised, not kept.
                continue;
            } else if key.eq_ignore_ascii_case("active") {
                // Kept as a marker that the IdP set it; the column holds the value.
                profile.insert("active".to_owned(), Value::Bool(input.active));
            } else if key.eq_ignore_ascii_case("emails") {
                profile.insert("emails".to_owned(), normalise_multi(value));
            } else {
                profile.insert(key.clone(), value.clone());
            }
        }
    }
    let data = UserData {
        user_name: input.user_name.clone(),
        external_id: input.external_id.clone(),
        active: input.active,
        email: input.email().map(str::to_owned),
        name: input.name().unwrap_or_default().chars().take(200).collect(),
        profile: Value::Object(profile).to_string(),
    };
    Ok((input, data))
}

/// The extension with `manager` as an object, whatever form the IdP sent it in.
fn enterprise_extension(value: &Value) -> Value {
    let mut ext = value.as_object().cloned().unwrap_or_default();
    ext.retain(|_, v| !v.is_null());
    let manager_key = ext.keys().find(|k| k.eq_ignore_ascii_case("manager")).cloned();
    if let Some(key) = manager_key {
        let manager = ext.remove(&key).unwrap_or(Value::Null);
        match manager {
            Value::String(s) if !s.trim().is_empty() => {
                ext.insert("manager".into(), json!({ "value": s.trim() }));
            }
            Value::Object(m) if !m.is_empty() => {
                ext.insert("manager".into(), Value::Object(m));
            }
            _ => {}
        }
    }
    Value::Object(ext)
}

/// A multi-valued attribute with Entra ID's string booleans made booleans.
fn normalise_multi(value: &Value) -> Value {
    let Some(items) = value.as_array() else { return value.clone() };
    Value::Array(
        items
            .iter()
            .map(|item| {
                let mut item = item.clone();
                if let Some(o) = item.as_object_mut() {
                    let key = o.keys().find(|k| k.eq_ignore_ascii_case("primary")).cloned();
                    if let Some(key) = key
                        && let Some(b) = o.get(&key).and_then(|v| boolean("primary", v).ok())
                    {
                        o.remove(&key);
                        o.insert("primary".into(), Value::Bool(b));
                    }
                }
                item
            })
            .collect(),
    )
}

/// A user as a SCIM resource; `groups` are (id, display name).
pub fn user_resource(user: &StoredUser, groups: &[(String, String)], base_url: &str) -> Value {
    let mut object: Map<String, Value> = serde_json::from_str(&user.profile).unwrap_or_default();
    let mut schemas = vec![Value::from(USER)];
    if object.contains_key(ENTERPRISE_USER) {
        schemas.push(ENTERPRISE_USER.into());
    }
    object.insert("schemas".into(), Value::Array(schemas));
    object.insert("id".into(), user.id.clone().into());
    if let Some(e) = &user.external_id {
        object.insert("externalId".into(), e.clone().into());
    }
    object.insert("userName".into(), user.user_name.clone().into());
    // `active` is shown when the IdP set it (a user it never said anything about is active in
    // Portico, but the attribute stays absent, as the IdP left it); the column is the truth.
    if object.contains_key("active") || !user.active || !user.provisioned {
        object.insert("active".into(), user.active.into());
    }
    if !object.contains_key("displayName") && !user.name.is_empty() && !object.contains_key("name") {
        object.insert("displayName".into(), user.name.clone().into());
    }
    if !object.contains_key("emails")
        && let Some(email) = &user.email
    {
        object.insert("emails".into(), json!([{ "value": email, "primary": true }]));
    }
    if !groups.is_empty() {
        let list = groups
            .iter()
            .map(|(id, name)| json!({ "value": id, "display": name, "$ref": format!("{base_url}/Groups/{id}") }))
            .collect();
        object.insert("groups".into(), Value::Array(list));
    }
    object.insert(
        "meta".into(),
        json!({
            "resourceType": "User",
            "created": timestamp(user.created_at),
            "lastModified": timestamp(user.updated_at),
            "location": format!("{base_url}/Users/{}", user.id),
            "version": etag(user.version),
        }),
    );
    Value::Object(object)
}

/// A group as a SCIM resource; `members` are (user id, login), or `None` when not wanted.
pub fn group_resource(group: &StoredGroup, members: Option<&[(String, String)]>, base_url: &str) -> Value {
    let mut object = Map::new();
    object.insert("schemas".into(), json!([GROUP]));
    object.insert("id".into(), group.id.clone().into());
    if let Some(e) = &group.external_id {
        object.insert("externalId".into(), e.clone().into());
    }
    object.insert("displayName".into(), group.display_name.clone().into());
    if let Some(members) = members {
        let list = members
            .iter()
            .map(|(id, login)| {
                json!({ "value": id, "display": login, "type": "User", "$ref": format!("{base_url}/Users/{id}") })
            })
            .collect();
        object.insert("members".into(), Value::Array(list));
    }
    object.insert(
        "meta".into(),
        json!({
            "resourceType": "Group",
            "created": timestamp(group.created_at),
            "lastModified": timestamp(group.updated_at),
            "location": format!("{base_url}/Groups/{}", group.id),
            "version": etag(group.version),
        }),
    );
    Value::Object(object)
}
