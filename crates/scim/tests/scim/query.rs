//! List request parameters as IdPs send them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use scim::ScimType;
use scim::query::{ListQuery, MAX_COUNT, SortOrder};

#[test]
fn okta_look_up_by_user_name() {
    let q =
        ListQuery::from_pairs([("filter", r#"userName eq "ada@acme.test""#), ("startIndex", "1"), ("count", "100")])
            .unwrap();
    assert!(q.filter.is_some());
    assert_eq!((q.start_index, q.count), (1, 100));
}

#[test]
fn entra_flags_and_excluded_members_are_read() {
    let q = ListQuery::from_pairs([
        ("aadOptscim062020", ""),
        ("excludedAttributes", "members"),
        ("filter", r#"displayName eq "Engineering""#),
    ])
    .unwrap();
    assert_eq!(q.excluded_attributes.len(), 1);
    assert!(q.excluded_attributes[0].is("members"));
}

#[test]
fn paging_is_lenient_as_the_rfc_asks() {
    let q = ListQuery::from_pairs([("startIndex", "0"), ("count", "-5")]).unwrap();
    assert_eq!((q.start_index, q.count), (1, 0));
    let q = ListQuery::from_pairs([("count", "100000")]).unwrap();
    assert_eq!(q.count, MAX_COUNT);
    let q = ListQuery::from_pairs([]).unwrap();
    assert_eq!((q.start_index, q.count, q.filter), (1, MAX_COUNT, None));
}

#[test]
fn sorting_and_attribute_lists() {
    let q = ListQuery::from_pairs([
        ("sortBy", "name.familyName"),
        ("SORTORDER", "Descending"),
        ("attributes", "userName, emails ,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"),
    ])
    .unwrap();
    assert_eq!(q.sort_by.unwrap().to_string(), "name.familyName");
    assert_eq!(q.sort_order, SortOrder::Descending);
    assert_eq!(q.attributes.len(), 3);
    assert_eq!(q.attributes[2].name, "department");
}

#[test]
fn bad_parameters_get_scim_errors() {
    for (pairs, t) in [
        (vec![("filter", "userName eq")], ScimType::InvalidFilter),
        (vec![("count", "ten")], ScimType::InvalidValue),
        (vec![("startIndex", "1.5")], ScimType::InvalidValue),
        (vec![("sortOrder", "sideways")], ScimType::InvalidValue),
        (vec![("attributes", "emails[type eq \"work\"]")], ScimType::InvalidPath),
        (vec![("excludedAttributes", "bad name")], ScimType::InvalidPath),
    ] {
        let e = ListQuery::from_pairs(pairs.clone()).expect_err(&format!("{pairs:?}"));
        assert_eq!(e.scim_type, Some(t), "{pairs:?}: {e}");
        assert_eq!(e.status, 400);
    }
}
