//! The filter and path grammar, with the filters RFC 7644 shows and those Okta, Entra ID and
//! JumpCloud send.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use scim::filter::{AttrPath, CompValue, CompareOp, Filter, MAX_DEPTH, MAX_LENGTH, Path, parse_filter, parse_path};

fn attr(name: &str) -> AttrPath {
    AttrPath { schema: None, name: name.into(), sub_attr: None }
}

fn eq(name: &str, v: &str) -> Filter {
    Filter::Compare(attr(name), CompareOp::Eq, CompValue::String(v.into()))
}

#[test]
fn okta_user_look_up() {
    assert_eq!(parse_filter(r#"userName eq "ADA@acme.test""#).unwrap(), eq("userName", "ADA@acme.test"));
}

#[test]
fn entra_external_id_and_capitalised_operators() {
    assert_eq!(parse_filter(r#"externalId EQ "7c1a""#).unwrap(), eq("externalId", "7c1a"));
    assert_eq!(parse_filter(r#"displayName Eq "Admins""#).unwrap(), eq("displayName", "Admins"));
}

#[test]
fn every_operator() {
    for (word, op) in [
        ("eq", CompareOp::Eq),
        ("ne", CompareOp::Ne),
        ("co", CompareOp::Co),
        ("sw", CompareOp::Sw),
        ("ew", CompareOp::Ew),
        ("gt", CompareOp::Gt),
        ("ge", CompareOp::Ge),
        ("lt", CompareOp::Lt),
        ("le", CompareOp::Le),
    ] {
        let f = parse_filter(&format!(r#"meta.lastModified {word} "2011-05-13T04:42:34Z""#)).unwrap();
        let Filter::Compare(path, got, _) = f else { panic!("{word}") };
        assert_eq!(got, op);
        assert_eq!(path.name, "meta");
        assert_eq!(path.sub_attr.as_deref(), Some("lastModified"));
    }
    assert_eq!(parse_filter("title pr").unwrap(), Filter::Present(attr("title")));
    assert_eq!(parse_filter("title PR").unwrap(), Filter::Present(attr("title")));
}

#[test]
fn literals() {
    let value = |text: &str| match parse_filter(&format!("x eq {text}")).unwrap() {
        Filter::Compare(_, _, v) => v,
        other => panic!("{other:?}"),
    };
    assert_eq!(value("true"), CompValue::Bool(true));
    assert_eq!(value("False"), CompValue::Bool(false));
    assert_eq!(value("null"), CompValue::Null);
    assert_eq!(value("42"), CompValue::Number(42.into()));
    assert_eq!(value("-1.5e3"), CompValue::Number(serde_json::Number::from_f64(-1500.0).unwrap()));
    assert_eq!(value(r#""a \"quoted\" \u00e9 word""#), CompValue::String("a \"quoted\" é word".into()));
    assert_eq!(value(r#""and or not (x)""#), CompValue::String("and or not (x)".into()));
}

#[test]
fn precedence_not_then_and_then_or() {
    let f = parse_filter(r#"a eq "1" or b eq "2" and not (c eq "3")"#).unwrap();
    assert_eq!(
        f,
        Filter::Or(
            Box::new(eq("a", "1")),
            Box::new(Filter::And(Box::new(eq("b", "2")), Box::new(Filter::Not(Box::new(eq("c", "3")))))),
        )
    );
    // Grouping overrides it.
    let f = parse_filter(r#"(a eq "1" or b eq "2") and c eq "3""#).unwrap();
    assert_eq!(
        f,
        Filter::And(Box::new(Filter::Or(Box::new(eq("a", "1")), Box::new(eq("b", "2")))), Box::new(eq("c", "3")))
    );
}

#[test]
fn value_paths_from_the_rfc() {
    let f = parse_filter(
        r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
    )
    .unwrap();
    let Filter::Or(left, right) = f else { panic!() };
    assert!(matches!(*left, Filter::ValuePath(ref a, _) if a.is("emails")));
    assert!(matches!(*right, Filter::ValuePath(ref a, _) if a.is("ims")));
}

#[test]
fn schema_qualified_attributes() {
    let f = parse_filter(r#"urn:ietf:params:scim:schemas:core:2.0:User:name.familyName co "O'Malley""#).unwrap();
    let Filter::Compare(path, CompareOp::Co, CompValue::String(v)) = f else { panic!() };
    assert_eq!(path.schema.as_deref(), Some("urn:ietf:params:scim:schemas:core:2.0:User"));
    assert_eq!((path.name.as_str(), path.sub_attr.as_deref()), ("name", Some("familyName")));
    assert_eq!(v, "O'Malley");
    let f = parse_filter(r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#)
        .unwrap();
    let Filter::Compare(path, ..) = f else { panic!() };
    assert_eq!(path.name, "employeeNumber");
    assert_eq!(path.to_string(), "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber");
}

#[test]
fn patch_paths() {
    assert_eq!(parse_path("members").unwrap(), Path::Attr(attr("members")));
    assert_eq!(
        parse_path("name.givenName").unwrap(),
        Path::Attr(AttrPath { schema: None, name: "name".into(), sub_attr: Some("givenName".into()) })
    );
    // Entra ID's member removal.
    let Path::Values { attr: a, filter, sub_attr } =
        parse_path(r#"members[value eq "2819c223-7f76-453a-919d-413861904646"]"#).unwrap()
    else {
        panic!()
    };
    assert!(a.is("members"));
    assert_eq!(filter, eq("value", "2819c223-7f76-453a-919d-413861904646"));
    assert_eq!(sub_attr, None);
    // Entra ID's e-mail update, with a sub-attribute after the filter.
    let Path::Values { attr: a, sub_attr, .. } = parse_path(r#"emails[type eq "work"].value"#).unwrap() else {
        panic!()
    };
    assert!(a.is("emails"));
    assert_eq!(sub_attr.as_deref(), Some("value"));
    let Path::Attr(a) = parse_path("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager").unwrap()
    else {
        panic!()
    };
    assert_eq!(a.name, "manager");
}

#[test]
fn errors_say_what_and_where() {
    for (text, says, at) in [
        ("", "empty", 1),
        ("userName", "expected an operator", 9),
        (r#"userName eq"#, "expected a value", 12),
        (r#"userName equals "x""#, "not an operator", 10),
        (r#"userName eq "x"#, "not closed", 13),
        (r#"userName eq x"#, "expected a value", 13),
        (r#"(userName eq "x""#, "expected `)`", 17),
        (r#"userName eq "x" and"#, "expected an attribute name", 20),
        (r#"userName eq "x" extra"#, "after the end", 17),
        (r#"emails[type eq "work""#, "`]`", 22),
        (r#"emails[value[type eq "x"] pr]"#, "another one", 13),
        (r#"not userName eq "x""#, "`(` after `not`", 5),
        (r#"1abc eq "x""#, "not a number", 1),
        (r#"user name eq "x""#, "not an operator", 6),
        (r#"foo:bar eq "x""#, "urn:", 1),
        (r#"userName eq "x" ; drop"#, "unexpected character", 17),
    ] {
        let e = parse_filter(text).expect_err(text);
        assert!(e.message.contains(says), "{text}: {e}");
        assert_eq!(e.position, at, "{text}: {e}");
    }
    assert!(parse_path(r#"emails[type eq "work"].9"#).is_err());
}

#[test]
fn depth_is_limited() {
    let nested = |n: usize| format!("{}a eq 1{}", "not (".repeat(n), ")".repeat(n));
    assert_eq!(parse_filter(&nested(MAX_DEPTH - 1)).unwrap().depth(), MAX_DEPTH);
    let e = parse_filter(&nested(MAX_DEPTH)).unwrap_err();
    assert!(e.message.contains("deeper"), "{e}");
    // Parentheses alone nest the parser even when they add nothing to the tree.
    let e = parse_filter(&format!("{}a eq 1{}", "(".repeat(2000), ")".repeat(2000))).unwrap_err();
    assert!(e.message.contains("deeper"), "{e}");
    // A long chain of `or`s makes a deep tree too.
    let chain = vec!["a eq 1"; MAX_DEPTH + 1].join(" or ");
    assert!(parse_filter(&chain).unwrap_err().message.contains("deeper"));
    let chain = vec!["a eq 1"; MAX_DEPTH - 1].join(" or ");
    assert!(parse_filter(&chain).is_ok());
}

#[test]
fn length_is_limited() {
    let long = format!(r#"userName eq "{}""#, "x".repeat(MAX_LENGTH));
    assert!(parse_filter(&long).unwrap_err().message.contains("longer than"));
}

/// Whatever an IdP (or anyone holding a token) sends, the parser answers with a tree or an
/// error, never a panic.
#[test]
fn arbitrary_text_never_panics() {
    let pieces = [
        "(", ")", "[", "]", "\"", "\\", " ", "a", "eq", "pr", "not", "and", "or", "1", "-", ".", ":", "urn:x:", "é",
        "\"s\"", "true", "$ref", "e5", "\u{2028}",
    ];
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    for _ in 0..20_000 {
        let mut text = String::new();
        for _ in 0..(seed % 12) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            text.push_str(pieces[(seed % pieces.len() as u64) as usize]);
        }
        seed = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let _ = parse_filter(&text);
        let _ = parse_path(&text);
    }
}
