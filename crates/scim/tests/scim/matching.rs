//! Filters evaluated against resources, with each attribute's case rule.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use scim::filter::{AttrPath, parse_filter};
use scim::matching::matches;
use serde_json::{Value, json};

fn ada() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "id": "2819c223-7f76",
        "externalId": "Ext-7",
        "userName": "Ada@Acme.test",
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "active": true,
        "title": "",
        "emails": [
            {"type": "work", "value": "ada@acme.test", "primary": true},
            {"type": "home", "value": "ada@home.test"}
        ],
        "meta": {"lastModified": "2026-11-20T10:00:00Z"},
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "701984", "costCenter": 4130}
    })
}

/// userName and e-mail values compare without case; ids and externalId exactly (RFC 7643).
fn case_exact(path: &AttrPath) -> bool {
    ["id", "externalId"].iter().any(|n| path.is(n))
}

fn check(filter: &str) -> bool {
    matches(&parse_filter(filter).unwrap(), &ada(), &case_exact)
}

#[test]
fn user_name_is_case_insensitive_and_external_id_is_not() {
    assert!(check(r#"userName eq "ada@acme.test""#));
    assert!(check(r#"USERNAME eq "ADA@ACME.TEST""#));
    assert!(check(r#"externalId eq "Ext-7""#));
    assert!(!check(r#"externalId eq "ext-7""#));
    assert!(!check(r#"id eq "2819C223-7F76""#));
}

#[test]
fn string_operators() {
    assert!(check(r#"userName co "acme""#));
    assert!(check(r#"userName sw "ada@""#));
    assert!(check(r#"userName ew ".TEST""#));
    assert!(!check(r#"userName sw "acme""#));
    assert!(check(r#"meta.lastModified gt "2026-11-01T00:00:00Z""#));
    assert!(!check(r#"meta.lastModified lt "2026-11-01T00:00:00Z""#));
    assert!(check(r#"name.familyName ge "lovelace" and name.familyName le "Lovelace""#));
}

#[test]
fn presence_and_null() {
    assert!(check("name.givenName pr"));
    assert!(!check("title pr"), "an empty string is no value");
    assert!(!check("nickName pr"));
    assert!(check("nickName eq null"));
    assert!(!check("userName eq null"));
}

#[test]
fn multi_valued_attributes_match_on_any_value() {
    assert!(check(r#"emails.value eq "ada@home.test""#));
    assert!(check(r#"emails[type eq "work" and value co "acme"]"#));
    assert!(!check(r#"emails[type eq "home" and value co "acme"]"#));
    assert!(check(r#"emails[primary eq true]"#));
    assert!(!check(r#"emails.value ne "ada@home.test""#), "ne holds only when no value is equal");
    assert!(check(r#"emails.value ne "someone@else.test""#));
}

#[test]
fn logic_and_types() {
    assert!(check(r#"not (active eq false) and (title pr or userName pr)"#));
    assert!(check("active eq true"));
    assert!(check(r#"active eq "True""#), "Entra ID's string booleans");
    assert!(!check(r#"active eq "False""#));
    assert!(!check(r#"active co "t""#));
    assert!(!check(r#"userName eq 42"#), "no match across types");
}

#[test]
fn extension_attributes_by_their_urn() {
    assert!(check(r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#));
    assert!(check("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter gt 4000"));
    assert!(!check("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter sw 41"));
    assert!(check(r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "ada@acme.test""#));
}

#[test]
fn group_members_by_value() {
    let group = json!({"displayName": "Engineering", "members": [{"value": "u-1"}, {"value": "u-2", "display": "Bo"}]});
    let f = parse_filter(r#"value eq "u-2""#).unwrap();
    let picked: Vec<&Value> =
        group["members"].as_array().unwrap().iter().filter(|m| matches(&f, m, &|_| true)).collect();
    assert_eq!(picked, [&json!({"value": "u-2", "display": "Bo"})]);
}
