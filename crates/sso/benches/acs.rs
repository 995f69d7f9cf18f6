//! ACS verification rate against a raw libxmlsec1 verification of the same document, in one
//! run, on one core: `cargo bench -p sso --bench acs`.
//!
//! The response is realistic: about 8 KB, signed assertion, 35 group values.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::Utc;
use samael::crypto::{CertificateDer, Crypto, CryptoProvider};
use sso::AttributeMapping;
use sso::saml::{Certificate, IdentityProviderSettings, SamlConnection, ServiceProviderSettings, verify_response};
use sso::testing::{ResponseSpec, TestIdp};

const ACS: &str = "https://portico.example/sso/saml/0190/acs";
const ENTITY: &str = "https://portico.example/sso/saml/0190/metadata";
const REQUEST: &str = "_5f0c7a3e-2b8d-4c1e-9a77-1d2e3f405162";

/// Runs `f` for about `for_how_long` and returns calls per second.
fn rate(for_how_long: Duration, mut f: impl FnMut()) -> f64 {
    for _ in 0..20 {
        f();
    }
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < for_how_long {
        for _ in 0..20 {
            f();
        }
        n += 20;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let idp = TestIdp::new("bench-idp");
    let mut spec = ResponseSpec::answering(&idp, Utc::now(), ACS, ENTITY, Some(REQUEST));
    spec.attributes = vec![
        ("login".into(), vec!["ada.lovelace".into()]),
        ("email".into(), vec!["ada.lovelace@acme.example".into()]),
        ("name".into(), vec!["Ada Lovelace".into()]),
        ("groups".into(), (0..35).map(|i| format!("Engineering Team {i:02} - Platform Services")).collect()),
    ];
    let xml = idp.response_xml(&spec);
    let body = STANDARD.encode(&xml);
    let conn = SamlConnection {
        sp: ServiceProviderSettings { entity_id: ENTITY.into(), acs_url: ACS.into() },
        idp: IdentityProviderSettings {
            entity_id: idp.entity_id.clone(),
            sso_url: "https://idp.example/sso".into(),
            certificates: vec![Certificate::parse(&idp.cert_der).unwrap()],
        },
        mapping: AttributeMapping {
            login: Some("login".into()),
            email: Some("email".into()),
            name: Some("name".into()),
            groups: Some("groups".into()),
        },
        allow_idp_initiated: false,
        clock_skew: chrono::Duration::seconds(120),
        decryption_key: None,
        signing_key: None,
        require_signed_assertion: false,
        max_response_bytes: sso::saml::response::MAX_RESPONSE_BYTES,
        allow_cbc: false,
    };
    let v = verify_response(&conn, &body, &[REQUEST], Utc::now()).expect("the bench response verifies");
    assert_eq!(v.identity.groups.len(), 35);

    let cert = CertificateDer::from(idp.cert_der.clone());
    Crypto::verify_signed_xml(xml.as_bytes(), &cert, Some("ID")).expect("raw verification works");

    let window = Duration::from_secs(5);
    let raw = rate(window, || Crypto::verify_signed_xml(xml.as_bytes(), &cert, Some("ID")).unwrap());
    let prepared = conn.prepare().unwrap();
    let acs = rate(window, || {
        prepared.verify(&body, &[REQUEST], Utc::now()).unwrap();
    });
    println!("response size: {} bytes of XML, {} groups", xml.len(), v.identity.groups.len());
    println!("raw libxmlsec1 verify: {raw:>8.0} per second (one core)");
    println!("ACS verify (prepared): {acs:>8.0} per second (one core)");
    println!("ratio: {:.0}% of the raw verify rate (goal: at least 50%)", 100.0 * acs / raw);
}
