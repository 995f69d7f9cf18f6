//! The schemas Portico serves, and the case rules read from them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use scim::filter::parse_filter;
use scim::matching::matches;
use scim::schemas::{case_exact, enterprise_user, group, user};
use serde_json::json;

fn path(text: &str) -> scim::filter::AttrPath {
    match scim::filter::parse_path(text).unwrap() {
        scim::filter::Path::Attr(a) => a,
        other => panic!("{other:?}"),
    }
}

#[test]
fn case_rules_follow_rfc_7643() {
    let u = user();
    assert!(!case_exact(&u, &path("userName")), "userName is case-insensitive");
    assert!(!case_exact(&u, &path("USERNAME")));
    assert!(case_exact(&u, &path("id")));
    assert!(case_exact(&u, &path("externalId")));
    assert!(!case_exact(&u, &path("emails.value")));
    assert!(case_exact(&u, &path("groups.value")));
    assert!(case_exact(&u, &path("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value")));
    assert!(!case_exact(&u, &path("nickName")), "unknown attributes compare without case");
    assert!(case_exact(&group(), &path("members.value")));
    assert!(!case_exact(&group(), &path("displayName")));
}

#[test]
fn matching_with_the_schema_rules() {
    let u = user();
    let ada = json!({"id": "AbC", "userName": "Ada@Acme.test", "externalId": "X-1"});
    let rule = |p: &scim::filter::AttrPath| case_exact(&u, p);
    assert!(matches(&parse_filter(r#"userName eq "ada@acme.test""#).unwrap(), &ada, &rule));
    assert!(!matches(&parse_filter(r#"externalId eq "x-1""#).unwrap(), &ada, &rule));
    assert!(!matches(&parse_filter(r#"id eq "abc""#).unwrap(), &ada, &rule));
}

#[test]
fn schema_documents_have_the_rfc_shape() {
    let doc =
        user().to_json("https://portico.example/api/scim/v2/acme/Schemas/urn:ietf:params:scim:schemas:core:2.0:User");
    assert_eq!(doc["id"], "urn:ietf:params:scim:schemas:core:2.0:User");
    assert_eq!(doc["schemas"][0], "urn:ietf:params:scim:schemas:core:2.0:Schema");
    let attrs = doc["attributes"].as_array().unwrap();
    let user_name = attrs.iter().find(|a| a["name"] == "userName").unwrap();
    assert_eq!((user_name["required"].clone(), user_name["uniqueness"].clone()), (json!(true), json!("server")));
    let groups = attrs.iter().find(|a| a["name"] == "groups").unwrap();
    assert_eq!(groups["mutability"], "readOnly");
    assert_eq!(groups["subAttributes"].as_array().unwrap().len(), 3);
    for a in attrs {
        for key in ["name", "type", "multiValued", "required", "caseExact", "mutability", "returned", "uniqueness"] {
            assert!(a.get(key).is_some(), "{key} in {a}");
        }
    }
    assert_eq!(enterprise_user().to_json("x")["name"], "EnterpriseUser");
    assert_eq!(group().to_json("x")["attributes"].as_array().unwrap().len(), 4);
}
