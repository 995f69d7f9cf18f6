//! What Portico keeps of a User body and how it renders stored resources: the profile, ETags.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use scim::render::{etag, parse_etag, user_data};
use serde_json::{Value, json};

#[test]
fn the_profile_keeps_what_the_idp_sent_but_never_the_password() {
    let (_, data) = user_data(&json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:scim:schemas:extension:enterprise:1.0"],
        "userName": "ada", "password": "hunter2", "groups": [], "id": "client-chosen", "meta": {"x": 1},
        "nickName": "A", "emails": [{"value": "ada@example.com", "primary": "True"}],
        "urn:scim:schemas:extension:enterprise:1.0": {"manager": "m1"},
        "urn:example:other": {"ignored": true}
    }))
    .unwrap();
    let profile: Value = serde_json::from_str(&data.profile).unwrap();
    for gone in ["password", "groups", "id", "meta", "userName", "urn:example:other"] {
        assert!(profile.get(gone).is_none(), "{gone} is not kept: {profile}");
    }
    assert_eq!(profile["nickName"], "A");
    assert_eq!(profile["emails"][0]["primary"], true, "Entra ID's string booleans become booleans");
    assert_eq!(
        profile["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["manager"],
        json!({"value": "m1"})
    );
    assert_eq!(data.email.as_deref(), Some("ada@example.com"));
}

#[test]
fn etags_round_trip_and_foreign_ones_match_nothing() {
    assert_eq!(etag(7), "W/\"7\"");
    assert_eq!(parse_etag(&etag(7)).unwrap(), Some(7));
    assert_eq!(parse_etag("\"7\"").unwrap(), Some(7));
    assert_eq!(parse_etag("*").unwrap(), None);
    assert_eq!(parse_etag("W/\"abc\"").unwrap_err().status, 412);
}
