//! PATCH applied to JSON resources: what each operation does to simple, complex, multi-valued
//! and extension attributes, and where IdPs need leniency.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use scim::apply::apply;
use scim::patch::parse_patch;
use scim::{ScimError, ScimType};
use serde_json::{Value, json};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn user() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": "u1",
        "userName": "ada",
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "emails": [{"value": "ada@work.example", "type": "work", "primary": true},
                   {"value": "ada@home.example", "type": "home"}],
    })
}

fn patched(ops: Value) -> Result<Value, ScimError> {
    let mut resource = user();
    let ops = parse_patch(&json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops}))?;
    apply(&mut resource, &ops)?;
    Ok(resource)
}

#[test]
fn replace_of_a_complex_attribute_keeps_the_sub_attributes_it_does_not_name() {
    let r = patched(json!([{"op": "replace", "path": "name", "value": {"familyName": "King"}}])).unwrap();
    assert_eq!(r["name"], json!({"givenName": "Ada", "familyName": "King"}));
    let r = patched(json!([{"op": "Replace", "path": "name.givenName", "value": "Augusta"}])).unwrap();
    assert_eq!(r["name"]["givenName"], "Augusta");
}

#[test]
fn value_filters_select_the_values_they_change() {
    let r = patched(json!([{"op": "replace", "path": "emails[type eq \"home\"].value", "value": "a@new.example"}]))
        .unwrap();
    assert_eq!(r["emails"][0]["value"], "ada@work.example");
    assert_eq!(r["emails"][1]["value"], "a@new.example");
    let r = patched(json!([{"op": "remove", "path": "emails[type eq \"home\"]"}])).unwrap();
    assert_eq!(r["emails"].as_array().unwrap().len(), 1);
    // Removing what is not there changes nothing.
    let r = patched(json!([{"op": "remove", "path": "emails[type eq \"other\"]"}])).unwrap();
    assert_eq!(r["emails"], user()["emails"]);
}

#[test]
fn a_filter_that_selects_nothing_creates_the_value_it_describes() {
    let r = patched(json!([{"op": "add", "path": "phoneNumbers[type eq \"work\"].value", "value": "+1 555"}])).unwrap();
    assert_eq!(r["phoneNumbers"], json!([{"type": "work", "value": "+1 555"}]));
    // Unless the filter describes no single value.
    let e = patched(json!([{"op": "replace", "path": "emails[value co \"zzz\"].type", "value": "other"}])).unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::NoTarget));
}

#[test]
fn add_appends_to_multi_valued_attributes_without_duplicates() {
    let r = patched(json!([{"op": "add", "path": "emails", "value": [
        {"value": "ada@work.example", "type": "work"}, {"value": "ada@third.example"}
    ]}]))
    .unwrap();
    assert_eq!(r["emails"].as_array().unwrap().len(), 3);
    let r = patched(json!([{"op": "remove", "path": "emails", "value": [{"value": "ada@home.example"}]}])).unwrap();
    assert_eq!(r["emails"].as_array().unwrap().len(), 1, "remove by value list");
}

#[test]
fn extensions_by_urn_path_by_whole_object_and_pathless() {
    let r = patched(json!([{"op": "add", "path": format!("{ENTERPRISE}:department"), "value": "Research"}])).unwrap();
    assert_eq!(r[ENTERPRISE]["department"], "Research");
    let r = patched(json!([{"op": "add", "path": ENTERPRISE, "value": {"employeeNumber": "7", "department": "R"}}]))
        .unwrap();
    assert_eq!(r[ENTERPRISE], json!({"employeeNumber": "7", "department": "R"}));
    let r = patched(json!([
        {"op": "add", "path": ENTERPRISE, "value": {"employeeNumber": "7"}},
        {"op": "remove", "path": ENTERPRISE}
    ]))
    .unwrap();
    assert!(r.get(ENTERPRISE).is_none());
    let r = patched(json!([{"op": "replace", "value": {"name.familyName": "Byron", ENTERPRISE: {"manager": "m1"}}}]))
        .unwrap();
    assert_eq!(r["name"]["familyName"], "Byron");
    assert_eq!(r[ENTERPRISE]["manager"], "m1");
}

#[test]
fn read_only_attributes_are_refused_but_a_repeated_id_is_not_a_change() {
    for path in ["id", "meta", "groups"] {
        let e = patched(json!([{"op": "replace", "path": path, "value": "x"}])).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::Mutability), "{path}");
        assert!(e.detail.starts_with("operation 1:"), "{}", e.detail);
    }
    let r = patched(json!([{"op": "replace", "value": {"id": "u1", "displayName": "Ada L."}}])).unwrap();
    assert_eq!(r["id"], "u1");
    assert_eq!(r["displayName"], "Ada L.");
}

#[test]
fn operations_apply_in_order() {
    let r = patched(json!([
        {"op": "replace", "path": "displayName", "value": "First"},
        {"op": "remove", "path": "displayName"},
        {"op": "add", "path": "displayName", "value": "Last"}
    ]))
    .unwrap();
    assert_eq!(r["displayName"], "Last");
}
