//! User and Group bodies as Okta, Entra ID and OneLogin send them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use scim::ScimType;
use scim::resource::{parse_group, parse_user};
use serde_json::json;

#[test]
fn okta_user_creation_ignores_password_and_groups() {
    let u = parse_user(&json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "ada@acme.test",
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "emails": [{"primary": true, "value": "ada@acme.test", "type": "work"}],
        "displayName": "Ada Lovelace",
        "locale": "en-US",
        "externalId": "00u1",
        "groups": [],
        "password": "s3cret!",
        "active": true
    }))
    .unwrap();
    assert_eq!(u.user_name, "ada@acme.test");
    assert_eq!(u.email(), Some("ada@acme.test"));
    assert_eq!(u.name().as_deref(), Some("Ada Lovelace"));
    assert_eq!(u.external_id.as_deref(), Some("00u1"));
    assert!(u.active);
    assert!(!format!("{u:?}").contains("s3cret"), "the password is not kept");
}

#[test]
fn entra_user_with_string_booleans_and_a_plain_manager() {
    let u = parse_user(&json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "externalId": "0a21f0f2",
        "userName": "Test_User_ab6490ee@testuser.com",
        "active": "False",
        "emails": [{"primary": "True", "type": "work", "value": "Test_User_fd0ea19b@testuser.com"}],
        "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Dept", "manager": "m-1"}
    }))
    .unwrap();
    assert!(!u.active);
    assert!(u.emails[0].primary);
    assert_eq!(u.name().as_deref(), Some("givenName familyName"));
    assert_eq!(u.department.as_deref(), Some("Dept"));
    assert_eq!(u.manager.as_deref(), Some("m-1"));
    let u = parse_user(&json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "userName": "bo",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"manager": {"value": "m-2"}, "employeeNumber": "7"}
    }))
    .unwrap();
    assert_eq!((u.manager.as_deref(), u.employee_number.as_deref()), (Some("m-2"), Some("7")));
    assert_eq!(u.name(), None);
}

#[test]
fn onelogin_scim_1_0_and_unknown_attributes() {
    let u = parse_user(&json!({
        "schemas": ["urn:scim:schemas:core:1.0"],
        "userName": "cy@acme.test",
        "favouriteColour": "teal",
        "emails": [{"value": "cy@acme.test"}, {"value": "cy@home.test", "type": "home"}]
    }))
    .unwrap();
    assert_eq!(u.email(), Some("cy@acme.test"));
    assert!(u.active, "active by default");
}

#[test]
fn groups_with_and_without_members() {
    let g = parse_group(&json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Engineering", "members": []}))
        .unwrap();
    assert_eq!((g.display_name.as_str(), g.members.len()), ("Engineering", 0));
    let g = parse_group(&json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": "Admins",
        "externalId": "g-9",
        "members": [{"value": "u-1", "display": "Ada"}, {"value": "u-2"}, {"value": "u-1"}]
    }))
    .unwrap();
    assert_eq!(g.members, ["u-1", "u-2"], "duplicates collapse");
    assert_eq!(g.external_id.as_deref(), Some("g-9"));
}

#[test]
fn refusals_name_the_problem() {
    let user = |extra: serde_json::Value| {
        let mut b = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ada"});
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        parse_user(&b).expect_err(&extra.to_string())
    };
    for (extra, t, says) in [
        (json!({"userName": null}), ScimType::InvalidValue, "userName"),
        (json!({"userName": "  "}), ScimType::InvalidValue, "userName"),
        (json!({"userName": 7}), ScimType::InvalidValue, "string"),
        (json!({"active": "yes"}), ScimType::InvalidValue, "true or false"),
        (json!({"emails": "ada@acme.test"}), ScimType::InvalidValue, "list"),
        (json!({"name": "Ada"}), ScimType::InvalidValue, "object"),
        (json!({"schemas": ["urn:example:custom"]}), ScimType::InvalidSyntax, "not supported"),
        (
            json!({"schemas": ["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]}),
            ScimType::InvalidSyntax,
            "must contain",
        ),
        (json!({"schemas": null}), ScimType::InvalidSyntax, "missing"),
        (json!({"displayName": "x".repeat(2000)}), ScimType::InvalidValue, "longer"),
    ] {
        let e = user(extra.clone());
        assert_eq!(e.scim_type, Some(t), "{extra}: {e}");
        assert!(e.detail.contains(says), "{extra}: {e}");
    }
    assert_eq!(parse_user(&json!([])).unwrap_err().scim_type, Some(ScimType::InvalidSyntax));
    let e =
        parse_group(&json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "members": [{"value": "u"}]}))
            .unwrap_err();
    assert!(e.detail.contains("displayName"), "{e}");
    let e = parse_group(&json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "G", "members": [{"display": "no id"}]}))
        .unwrap_err();
    assert!(e.detail.contains("value"), "{e}");
}
