//! Fuzzing the ACS's check (`PreparedSaml::verify`) on stable Rust: real signed responses,
//! mutated a few bytes or a few elements at a time, and arbitrary input, run by `cargo test` for
//! a bounded number of cases (`PORTICO_FUZZ_CASES` raises it; see `docs/security.md`).
//!
//! Whatever the input: no panic, no input that takes long, and never an identity other than
//! the one the IdP signed (a mutation that keeps the signature valid may pass, with the
//! original identity).

use std::sync::OnceLock;
use std::time::Instant;

use proptest::prelude::*;
use proptest::test_runner::Config;
use sso::saml::PreparedSaml;
use sso::testing::{Enc, SpKey};

use super::*;

fn config(default: u32) -> Config {
    let cases = std::env::var("PORTICO_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    Config { cases, failure_persistence: None, ..Config::default() }
}

/// Far above what one check takes (milliseconds), far below what a blow-up would.
const SLOW: std::time::Duration = std::time::Duration::from_secs(2);

/// The IdP's connections (plain, and one that decrypts) and genuine responses of each kind,
/// each with the connection it is checked against, made once.
struct Corpus {
    connections: [PreparedSaml; 2],
    documents: Vec<(String, usize)>,
}

fn corpus() -> &'static Corpus {
    static CORPUS: OnceLock<Corpus> = OnceLock::new();
    CORPUS.get_or_init(|| {
        let idp = TestIdp::new("okta");
        let sp = SpKey::new();
        // Long-lived, so that mutations are not refused for being late.
        let now = Utc::now();
        let spec = ResponseSpec { not_on_or_after: now + Duration::hours(12), ..ResponseSpec::valid(&idp, now) };
        let plain = |sign_assertion, sign_response| {
            idp.response_xml(&ResponseSpec { sign_assertion, sign_response, ..spec.clone() })
        };
        let encrypted = String::from_utf8(
            STANDARD
                .decode(idp.encrypted_response(
                    &ResponseSpec { sign_response: true, ..spec.clone() },
                    &sp.cert_der,
                    Enc::Aes256Gcm,
                ))
                .unwrap(),
        )
        .unwrap();
        let documents = vec![(plain(true, false), 0), (plain(false, true), 0), (plain(true, true), 0), (encrypted, 1)];
        let decrypting = SamlConnection { decryption_key: Some(sp.key.clone()), ..connection(&idp) };
        let connections = [connection(&idp).prepare().unwrap(), decrypting.prepare().unwrap()];
        for (d, c) in &documents {
            connections[*c].verify(&STANDARD.encode(d), &[REQUEST_ID], Utc::now()).expect("a genuine response");
        }
        Corpus { connections, documents }
    })
}

/// Checks `body` against connection `c` and holds the verdict to the properties above.
fn sound(body: &str, c: usize) -> Result<(), TestCaseError> {
    let started = Instant::now();
    let verdict = corpus().connections[c].verify(body, &[REQUEST_ID], Utc::now());
    prop_assert!(started.elapsed() < SLOW, "the check took {:?}", started.elapsed());
    if let Ok(v) = verdict {
        prop_assert_eq!(v.identity.subject.as_str(), "ada@acme.test");
        prop_assert_eq!(v.identity.groups, vec!["Developers".to_owned(), "Admins".to_owned()]);
    }
    Ok(())
}

/// Fragments an attacker would try, inserted anywhere.
const FRAGMENTS: [&str; 16] = [
    "<!---->",
    "<!-- x -->",
    "<?pi x?>",
    "<!DOCTYPE x>",
    "<![CDATA[admin]]>",
    "&amp;",
    "&#60;",
    "&unknown;",
    r#"<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"/>"#,
    r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_x"/>"#,
    r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"/>"#,
    r#"<x:Evil xmlns:x="urn:e" xml:id="_a"/>"#,
    r#" xmlns:saml="urn:evil""#,
    r#"URI="http://127.0.0.1:9/""#,
    "</saml:Assertion>",
    "admin@acme.test",
];

/// A genuine document and the connection it goes to.
fn document() -> impl Strategy<Value = (String, usize)> {
    (0..4usize).prop_map(|i| corpus().documents[i].clone())
}

/// A genuine document mutated by `mutate`, and its connection.
fn mutated<S: Strategy<Value = String>>(mutate: fn(String) -> S) -> impl Strategy<Value = (String, usize)> {
    document().prop_flat_map(move |(doc, c)| mutate(doc).prop_map(move |text| (text, c)))
}

fn char_edits(doc: String) -> impl Strategy<Value = String> {
    let len = doc.len();
    proptest::collection::vec((0..len, 0u8..3, any::<char>()), 1..4).prop_map(move |edits| {
        let mut text = doc.clone();
        for (at, kind, c) in edits {
            let mut at = at.min(text.len());
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            match kind {
                0 => text.insert(at, c),
                1 if at < text.len() => {
                    text.remove(at);
                }
                _ => {
                    let end = text[at..].chars().next().map(|c| at + c.len_utf8()).unwrap_or(at);
                    text.replace_range(at..end, &c.to_string());
                }
            }
        }
        text
    })
}

fn fragment_inserts(doc: String) -> impl Strategy<Value = String> {
    let len = doc.len();
    proptest::collection::vec((0..len, 0..FRAGMENTS.len()), 1..3).prop_map(move |inserts| {
        let mut text = doc.clone();
        for (at, f) in inserts {
            let mut at = at.min(text.len());
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            text.insert_str(at, FRAGMENTS[f]);
        }
        text
    })
}

/// Moves or copies one element-shaped span (from a `<` to a later `>`) elsewhere.
fn span_moves(doc: String) -> impl Strategy<Value = String> {
    let opens: Vec<usize> = doc.match_indices('<').map(|(i, _)| i).collect();
    let closes: Vec<usize> = doc.match_indices('>').map(|(i, _)| i + 1).collect();
    (0..opens.len(), 0..closes.len(), 0..opens.len(), any::<bool>()).prop_map(move |(a, b, to, copy)| {
        let (start, end) = (opens[a], closes[b]);
        if start >= end {
            return doc.clone();
        }
        let span = doc[start..end].to_owned();
        let mut text = if copy { doc.clone() } else { format!("{}{}", &doc[..start], &doc[end..]) };
        let at = opens[to].min(text.len());
        if text.is_char_boundary(at) {
            text.insert_str(at, &span);
        }
        text
    })
}

proptest! {
    #![proptest_config(config(200))]

    #[test]
    fn responses_with_a_few_characters_changed((text, c) in mutated(char_edits)) {
        sound(&STANDARD.encode(text), c)?;
    }

    #[test]
    fn responses_with_hostile_fragments_inserted((text, c) in mutated(fragment_inserts)) {
        sound(&STANDARD.encode(text), c)?;
    }

    #[test]
    fn responses_with_elements_moved_or_copied((text, c) in mutated(span_moves)) {
        sound(&STANDARD.encode(text), c)?;
    }

    #[test]
    fn arbitrary_form_values(body in prop_oneof![".{0,300}", "[A-Za-z0-9+/=]{0,400}", proptest::collection::vec(any::<u8>(), 0..300).prop_map(|b| STANDARD.encode(b))], c in 0..2usize) {
        sound(&body, c)?;
    }
}
