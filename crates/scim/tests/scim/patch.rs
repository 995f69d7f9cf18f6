//! PATCH bodies as Okta and Entra ID send them, and the errors for bodies no IdP should send.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use scim::ScimType;
use scim::filter::{CompValue, CompareOp, Filter, Path};
use scim::patch::{OpKind, parse_patch};
use serde_json::{Value, json};

fn body(ops: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}

fn attr_name(path: &Path) -> String {
    match path {
        Path::Attr(a) => a.to_string(),
        Path::Values { attr, .. } => attr.to_string(),
    }
}

#[test]
fn okta_deactivation_is_a_pathless_replace() {
    let ops = parse_patch(&body(json!([{"op": "replace", "value": {"active": false}}]))).unwrap();
    assert_eq!(ops.len(), 1);
    assert_eq!(ops[0].op, OpKind::Replace);
    assert_eq!(attr_name(&ops[0].path), "active");
    assert_eq!(ops[0].value, Some(json!(false)));
}

#[test]
fn entra_pathless_replace_with_dotted_and_urn_keys() {
    let ops = parse_patch(&body(json!([{"op": "Replace", "value": {
        "displayName": "Ada L.",
        "name.givenName": "Ada",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Engines",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "42"},
        "active": "False"
    }}])))
    .unwrap();
    let names: Vec<String> = ops.iter().map(|o| attr_name(&o.path)).collect();
    assert!(ops.iter().all(|o| o.op == OpKind::Replace));
    for expected in [
        "displayName",
        "name.givenName",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
        "active",
    ] {
        assert!(names.contains(&expected.to_owned()), "{expected} in {names:?}");
    }
    // Entra's string booleans are passed on for the attribute's own reading.
    let active = ops.iter().find(|o| attr_name(&o.path) == "active").unwrap();
    assert_eq!(active.value, Some(json!("False")));
}

#[test]
fn entra_member_removal_by_value_array_and_by_filter() {
    let ops = parse_patch(&body(json!([
        {"op": "Remove", "path": "members", "value": [{"value": "u-1"}, {"value": "u-2"}]},
        {"op": "Remove", "path": "members[value eq \"u-3\"]"}
    ])))
    .unwrap();
    assert_eq!(ops[0].op, OpKind::Remove);
    assert_eq!(ops[0].value, Some(json!([{"value": "u-1"}, {"value": "u-2"}])));
    let Path::Values { filter, .. } = &ops[1].path else { panic!("{:?}", ops[1].path) };
    assert!(matches!(filter, Filter::Compare(a, CompareOp::Eq, CompValue::String(v)) if a.is("value") && v == "u-3"));
    assert_eq!(ops[1].value, None);
}

#[test]
fn okta_multi_operation_group_patch() {
    let ops = parse_patch(&body(json!([
        {"op": "replace", "value": {"id": "g-1", "displayName": "Engineering"}},
        {"op": "add", "path": "members", "value": [{"value": "u-1", "display": "ada@acme.test"}]},
        {"op": "remove", "path": "members[value eq \"u-2\"]"}
    ])))
    .unwrap();
    let kinds: Vec<OpKind> = ops.iter().map(|o| o.op).collect();
    assert_eq!(kinds, [OpKind::Replace, OpKind::Replace, OpKind::Add, OpKind::Remove]);
}

#[test]
fn refusals_carry_the_right_scim_type() {
    for (b, t) in [
        (json!([1, 2]), ScimType::InvalidSyntax),
        (json!({"Operations": [{"op": "add", "path": "x", "value": 1}]}), ScimType::InvalidSyntax),
        (body(json!([])), ScimType::InvalidSyntax),
        (body(json!({"op": "add"})), ScimType::InvalidSyntax),
        (body(json!([{"op": "merge", "path": "x", "value": 1}])), ScimType::InvalidSyntax),
        (body(json!([{"path": "x", "value": 1}])), ScimType::InvalidSyntax),
        (body(json!([{"op": "remove"}])), ScimType::NoTarget),
        (body(json!([{"op": "replace", "path": "displayName"}])), ScimType::InvalidValue),
        (body(json!([{"op": "replace", "value": "Ada"}])), ScimType::InvalidValue),
        (body(json!([{"op": "add", "path": "members[value eq", "value": []}])), ScimType::InvalidPath),
        (body(json!([{"op": "replace", "value": {"bad key": 1}}])), ScimType::InvalidPath),
        (body(json!([{"op": "add", "path": 7, "value": 1}])), ScimType::InvalidSyntax),
    ] {
        let e = parse_patch(&b).expect_err(&b.to_string());
        assert_eq!(e.scim_type, Some(t), "{b}: {e}");
        assert_eq!(e.status, 400);
        let json = e.to_json();
        assert_eq!(json["scimType"], t.as_str());
        assert_eq!(json["status"], "400");
    }
    let many = body(Value::Array(vec![json!({"op": "remove", "path": "title"}); scim::patch::MAX_OPERATIONS + 1]));
    assert_eq!(parse_patch(&many).unwrap_err().scim_type, Some(ScimType::TooMany));
}

#[test]
fn uniqueness_is_a_409_and_plain_statuses_have_no_type() {
    let e = scim::ScimError::new(ScimType::Uniqueness, "userName ada is taken");
    assert_eq!(e.status, 409);
    assert_eq!(e.to_json()["scimType"], "uniqueness");
    let e = scim::ScimError::status(404, "no such user");
    assert_eq!(
        e.to_json(),
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": "404", "detail": "no such user"})
    );
}
