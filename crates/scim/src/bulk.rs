//! Bulk requests (RFC 7644 section 3.7): several operations in one request, run in order, each
//! answered on its own. A `bulkId` names a resource created earlier in the same request, so a
//! group can list users created just before it (`"value": "bulkId:ada"`).

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::error::{ScimError, ScimType};
use crate::field;
use crate::query::ListQuery;
use crate::service::{Reply, Service};

/// Most operations in one bulk request; advertised in the ServiceProviderConfig.
pub const MAX_BULK_OPERATIONS: usize = 100;
/// Largest bulk request body, in bytes; advertised in the ServiceProviderConfig.
pub const MAX_BULK_PAYLOAD: usize = 1024 * 1024;

const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
const BULK_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";

/// Replaces `bulkId:x` references in every string of `value` with the ids created so far; an
/// unknown reference is an error.
fn resolve(value: &mut Value, ids: &HashMap<String, String>) -> Result<(), ScimError> {
    match value {
        Value::String(s) => {
            if let Some(reference) = s.strip_prefix("bulkId:") {
                let id = ids.get(reference).ok_or_else(|| {
                    ScimError::status(409, format!("bulkId `{reference}` does not name a resource created earlier"))
                })?;
                *s = id.clone();
            }
            Ok(())
        }
        Value::Array(items) => items.iter_mut().try_for_each(|v| resolve(v, ids)),
        Value::Object(o) => o.values_mut().try_for_each(|v| resolve(v, ids)),
        _ => Ok(()),
    }
}

fn run_one(
    service: &Service<'_>,
    method: &str,
    path: &str,
    data: &Value,
    version: Option<&str>,
) -> Result<Reply, ScimError> {
    let trimmed = path.trim_matches('/');
    let (kind, id) = match trimmed.split_once('/') {
        Some((k, id)) => (k, Some(id)),
        None => (trimmed, None),
    };
    let users = kind.eq_ignore_ascii_case("Users");
    if !users && !kind.eq_ignore_ascii_case("Groups") {
        return Err(ScimError::new(ScimType::InvalidPath, format!("`{path}` is not /Users or /Groups")));
    }
    let no_id = || ScimError::new(ScimType::InvalidPath, format!("`{path}` must name a resource, as in /Users/{{id}}"));
    match (method.to_ascii_uppercase().as_str(), id) {
        ("POST", None) if users => service.create_user(data),
        ("POST", None) => service.create_group(data),
        ("PUT", Some(id)) if users => service.replace_user(id, data, version),
        ("PUT", Some(id)) => service.replace_group(id, data, version),
        ("PATCH", Some(id)) if users => service.patch_user(id, data, version),
        ("PATCH", Some(id)) => service.patch_group(id, data, version),
        ("DELETE", Some(id)) if users => service.delete_user(id, version),
        ("DELETE", Some(id)) => service.delete_group(id, version),
        ("GET", Some(id)) if users => service.get_user(id, &ListQuery::default()),
        ("GET", Some(id)) => service.get_group(id, &ListQuery::default()),
        ("PUT" | "PATCH" | "DELETE" | "GET", None) => Err(no_id()),
        ("POST", Some(_)) => Err(ScimError::new(ScimType::InvalidPath, "POST goes to /Users or /Groups")),
        (other, _) => Err(ScimError::new(ScimType::InvalidSyntax, format!("`{other}` is not a bulk method"))),
    }
}

/// Runs a bulk request and returns the BulkResponse.
pub fn run(service: &Service<'_>, body: &Value) -> Result<Value, ScimError> {
    let object =
        body.as_object().ok_or_else(|| ScimError::new(ScimType::InvalidSyntax, "the body is not an object"))?;
    let schemas = field(object, "schemas").and_then(Value::as_array);
    if !schemas.is_some_and(|s| s.iter().any(|v| v.as_str().is_some_and(|s| s.eq_ignore_ascii_case(BULK_REQUEST)))) {
        return Err(ScimError::new(ScimType::InvalidSyntax, format!("`schemas` must contain {BULK_REQUEST}")));
    }
    let ops = field(object, "Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| ScimError::new(ScimType::InvalidSyntax, "`Operations` must be a list"))?;
    if ops.len() > MAX_BULK_OPERATIONS {
        return Err(ScimError::status(413, format!("more than {MAX_BULK_OPERATIONS} operations in one bulk request")));
    }
    let fail_on_errors = field(object, "failOnErrors").and_then(Value::as_u64).filter(|n| *n > 0);
    let mut ids: HashMap<String, String> = HashMap::new();
    let mut results = Vec::with_capacity(ops.len());
    let mut errors = 0u64;
    for op in ops {
        if fail_on_errors.is_some_and(|limit| errors >= limit) {
            break;
        }
        let o = op.as_object().cloned().unwrap_or_default();
        let text = |name: &str| field(&o, name).and_then(Value::as_str).map(str::to_owned);
        let method = text("method").unwrap_or_default();
        let bulk_id = text("bulkId");
        let version = text("version");
        let outcome = (|| {
            // A path names a created resource by a segment: `/Users/bulkId:ada`.
            let mut segments: Vec<Value> =
                text("path").unwrap_or_default().split('/').map(|s| Value::String(s.to_owned())).collect();
            segments.iter_mut().try_for_each(|s| resolve(s, &ids))?;
            let path: Vec<&str> = segments.iter().filter_map(Value::as_str).collect();
            let mut data = field(&o, "data").cloned().unwrap_or(Value::Null);
            resolve(&mut data, &ids)?;
            run_one(service, &method, &path.join("/"), &data, version.as_deref())
        })();
        let mut entry = json!({ "method": method.to_ascii_uppercase() });
        if let Some(b) = &bulk_id {
            entry["bulkId"] = b.clone().into();
        }
        match outcome {
            Ok(reply) => {
                let location = reply.body.as_ref().and_then(|b| b.pointer("/meta/location")).cloned();
                if let (Some(b), Some(id)) = (&bulk_id, reply.body.as_ref().and_then(|b| b["id"].as_str())) {
                    ids.insert(b.clone(), id.to_owned());
                }
                if let Some(l) = location {
                    entry["location"] = l;
                }
                if let Some(v) = reply.etag {
                    entry["version"] = v.into();
                }
                entry["status"] = reply.status.to_string().into();
            }
            Err(e) => {
                errors += 1;
                entry["status"] = e.status.to_string().into();
                entry["response"] = e.to_json();
            }
        }
        results.push(entry);
    }
    Ok(json!({ "schemas": [BULK_RESPONSE], "Operations": results }))
}
