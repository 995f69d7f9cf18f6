//! The SAML service provider against responses signed by real XML-signature code: one valid
//! sign-in, and an attack corpus in which every response must be refused for the right reason.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{Duration, Utc};
use sso::AttributeMapping;
use sso::saml::{
    Certificate, IdentityProviderSettings, Refusal, SamlConnection, ServiceProviderSettings, authn_request_url,
    verify_response,
};

use sso::testing::{ResponseSpec, SHA1, TestIdp};

trait Valid {
    fn valid(idp: &TestIdp, now: chrono::DateTime<Utc>) -> ResponseSpec;
}

impl Valid for ResponseSpec {
    fn valid(idp: &TestIdp, now: chrono::DateTime<Utc>) -> ResponseSpec {
        ResponseSpec::answering(idp, now, ACS, SP_ENTITY, Some(REQUEST_ID))
    }
}

pub const ACS: &str = "https://portico.test/sso/saml/acs/conn-1";
pub const SP_ENTITY: &str = "https://portico.test/sso/saml/metadata/conn-1";
pub const REQUEST_ID: &str = "_0b3c2f0e-6a2d-4f8e-9d55-2f9f3c1f5a10";

fn connection(idp: &TestIdp) -> SamlConnection {
    SamlConnection {
        sp: ServiceProviderSettings { entity_id: SP_ENTITY.into(), acs_url: ACS.into() },
        idp: IdentityProviderSettings {
            entity_id: idp.entity_id.clone(),
            sso_url: "https://idp.test/sso".into(),
            certificates: vec![Certificate::parse(idp.cert_pem().as_bytes()).unwrap()],
        },
        mapping: AttributeMapping {
            login: None,
            email: Some("email".into()),
            name: Some("displayName".into()),
            groups: Some("groups".into()),
        },
        allow_idp_initiated: false,
        clock_skew: Duration::seconds(60),
        decryption_key: None,
        signing_key: None,
        require_signed_assertion: false,
        max_response_bytes: sso::saml::response::MAX_RESPONSE_BYTES,
        allow_cbc: false,
    }
}

mod fuzz;
mod wrapping;

fn check(conn: &SamlConnection, body: &str) -> Result<sso::saml::VerifiedAssertion, Refusal> {
    verify_response(conn, body, &[REQUEST_ID], Utc::now())
}

/// Wrapping attacks may be caught by the signature check or by the envelope's structure; either
/// way nothing comes out.
fn refused_wrapping(conn: &SamlConnection, body: &str) {
    match check(conn, body) {
        Ok(v) => panic!("a wrapped response was accepted with subject {}", v.identity.subject),
        Err(r) => assert_eq!(r.code(), "unexpected_structure", "refused for `{r}`"),
    }
}

fn refused(conn: &SamlConnection, body: &str, code: &str) {
    match check(conn, body) {
        Ok(v) => panic!("accepted, expected refusal `{code}`: {:?}", v.identity),
        Err(r) => assert_eq!(r.code(), code, "refused for `{r}`"),
    }
}

#[test]
fn a_valid_response_yields_the_mapped_identity() {
    let idp = TestIdp::new("okta");
    let spec = ResponseSpec::valid(&idp, Utc::now());
    let v = check(&connection(&idp), &idp.response(&spec)).unwrap();
    assert_eq!(v.identity.subject, "ada@acme.test");
    assert_eq!(v.identity.login.as_deref(), Some("ada@acme.test"));
    assert_eq!(v.identity.email.as_deref(), Some("ada@acme.test"));
    assert_eq!(v.identity.name.as_deref(), Some("Ada Lovelace"));
    assert_eq!(v.identity.groups, vec!["Developers", "Admins"]);
    assert_eq!(v.assertion_id, spec.assertion_id);
    assert_eq!(v.in_response_to.as_deref(), Some(REQUEST_ID));
    assert!(v.replay_until > Utc::now());
}

#[test]
fn a_signed_response_around_a_signed_assertion_is_accepted() {
    let idp = TestIdp::new("entra");
    let spec = ResponseSpec { sign_response: true, ..ResponseSpec::valid(&idp, Utc::now()) };
    assert!(check(&connection(&idp), &idp.response(&spec)).is_ok());
}

#[test]
fn a_certificate_being_rotated_in_is_trusted_too() {
    let old = TestIdp::new("okta");
    let new = TestIdp { entity_id: old.entity_id.clone(), ..TestIdp::new("okta-next") };
    let mut conn = connection(&old);
    conn.idp.certificates.push(Certificate::parse(&new.cert_der).unwrap());
    assert!(check(&conn, &new.response(&ResponseSpec::valid(&new, Utc::now()))).is_ok());
    assert!(check(&conn, &old.response(&ResponseSpec::valid(&old, Utc::now()))).is_ok());
}

#[test]
fn no_configured_certificate_means_no_trust() {
    let idp = TestIdp::new("okta");
    let mut conn = connection(&idp);
    conn.idp.certificates.clear();
    refused(&conn, &idp.response(&ResponseSpec::valid(&idp, Utc::now())), "no_certificate");
}

#[test]
fn signature_removed() {
    let idp = TestIdp::new("okta");
    let spec = ResponseSpec { sign_assertion: false, ..ResponseSpec::valid(&idp, Utc::now()) };
    refused(&connection(&idp), &idp.response(&spec), "signature_invalid");
}

#[test]
fn signed_by_a_certificate_that_is_not_configured_even_if_embedded_in_key_info() {
    let idp = TestIdp::new("okta");
    let attacker = TestIdp { entity_id: idp.entity_id.clone(), ..TestIdp::new("attacker") };
    // The attacker's response carries the attacker's certificate in KeyInfo.
    refused(&connection(&idp), &attacker.response(&ResponseSpec::valid(&attacker, Utc::now())), "signature_invalid");
}

#[test]
fn digest_mismatch_after_editing_the_name_id() {
    let idp = TestIdp::new("okta");
    let xml = idp.response_xml(&ResponseSpec::valid(&idp, Utc::now()));
    let edited = xml.replace("ada@acme.test</saml:NameID>", "admin@acme.test</saml:NameID>");
    assert_ne!(xml, edited);
    refused(&connection(&idp), &STANDARD.encode(edited), "signature_invalid");
}

#[test]
fn comment_injected_into_the_name_id_does_not_truncate_it() {
    let idp = TestIdp::new("okta");
    // The IdP signs what the attacker registered: a NameID with a comment in it.
    let spec =
        ResponseSpec { name_id: "admin@acme.test<!---->.evil.test".into(), ..ResponseSpec::valid(&idp, Utc::now()) };
    refused(&connection(&idp), &idp.response(&spec), "comment");
}

#[test]
fn sha1_signatures_are_refused() {
    let idp = TestIdp::new("okta");
    let spec = ResponseSpec { algorithms: SHA1, ..ResponseSpec::valid(&idp, Utc::now()) };
    refused(&connection(&idp), &idp.response(&spec), "weak_algorithm");
}

#[test]
fn xsw_forged_assertion_beside_the_signed_one() {
    // The signed assertion stays (so its signature verifies) and an unsigned forged assertion
    // comes first, hoping the SP reads the first one.
    let idp = TestIdp::new("okta");
    let now = Utc::now();
    let good = ResponseSpec::valid(&idp, now);
    let signed = idp.assertion_xml(&good);
    let evil = idp.assertion_xml(&ResponseSpec {
        sign_assertion: false,
        assertion_id: "_evil".into(),
        name_id: "admin@acme.test".into(),
        ..good.clone()
    });
    let body = STANDARD.encode(idp.envelope(&good, &format!("{evil}{signed}")));
    refused_wrapping(&connection(&idp), &body);
}

#[test]
fn xsw_signed_assertion_hidden_in_extensions() {
    let idp = TestIdp::new("okta");
    let now = Utc::now();
    let good = ResponseSpec::valid(&idp, now);
    let signed = idp.assertion_xml(&good);
    let evil =
        idp.assertion_xml(&ResponseSpec { sign_assertion: false, name_id: "admin@acme.test".into(), ..good.clone() });
    let wrapped = format!(r#"<samlp:Extensions>{signed}</samlp:Extensions>{evil}"#);
    let body = STANDARD.encode(idp.envelope(&good, &wrapped));
    refused_wrapping(&connection(&idp), &body);
}

#[test]
fn xsw_signed_response_with_its_assertion_replaced() {
    // A response signed as a whole; the attacker moves the signed original into the signature's
    // Object and puts a forged assertion in its place.
    let idp = TestIdp::new("okta");
    let good = ResponseSpec { sign_response: true, sign_assertion: false, ..ResponseSpec::valid(&idp, Utc::now()) };
    let xml = idp.response_xml(&good);
    let original = idp.assertion_xml(&good);
    let forged = original.replace("ada@acme.test</saml:NameID>", "admin@acme.test</saml:NameID>");
    let moved = xml.replacen(&original, &forged, 1).replacen(
        "</ds:Signature>",
        &format!("<ds:Object>{original}</ds:Object></ds:Signature>"),
        1,
    );
    assert_ne!(moved, xml);
    refused_wrapping(&connection(&idp), &STANDARD.encode(moved));
}

#[test]
fn expired() {
    let idp = TestIdp::new("okta");
    let then = Utc::now() - Duration::hours(2);
    refused(&connection(&idp), &idp.response(&ResponseSpec::valid(&idp, then)), "expired");
    // And by the clock Portico passes in: a fresh response checked an hour later.
    let spec = ResponseSpec::valid(&idp, Utc::now());
    let r = verify_response(&connection(&idp), &idp.response(&spec), &[REQUEST_ID], Utc::now() + Duration::hours(1));
    assert_eq!(r.unwrap_err().code(), "expired");
}

#[test]
fn not_yet_valid() {
    let idp = TestIdp::new("okta");
    let now = Utc::now();
    let spec = ResponseSpec { not_before: now + Duration::minutes(30), ..ResponseSpec::valid(&idp, now) };
    refused(&connection(&idp), &idp.response(&spec), "not_yet_valid");
}

#[test]
fn wrong_audience() {
    let idp = TestIdp::new("okta");
    let spec = ResponseSpec { audience: "https://other-sp.test".into(), ..ResponseSpec::valid(&idp, Utc::now()) };
    refused(&connection(&idp), &idp.response(&spec), "audience_mismatch");
}

#[test]
fn wrong_destination() {
    let idp = TestIdp::new("okta");
    let spec =
        ResponseSpec { destination: "https://other-sp.test/acs".into(), ..ResponseSpec::valid(&idp, Utc::now()) };
    refused(&connection(&idp), &idp.response(&spec), "destination_mismatch");
}

#[test]
fn absent_destination_is_accepted_as_the_recipient_is_signed() {
    let idp = TestIdp::new("okta");
    let spec = ResponseSpec { destination: String::new(), ..ResponseSpec::valid(&idp, Utc::now()) };
    assert!(check(&connection(&idp), &idp.response(&spec)).is_ok());
}

#[test]
fn wrong_recipient() {
    let idp = TestIdp::new("okta");
    let spec = ResponseSpec { recipient: "https://other-sp.test/acs".into(), ..ResponseSpec::valid(&idp, Utc::now()) };
    refused(&connection(&idp), &idp.response(&spec), "recipient_mismatch");
}

#[test]
fn unknown_in_response_to() {
    let idp = TestIdp::new("okta");
    let spec =
        ResponseSpec { in_response_to: Some("_someone-elses-request".into()), ..ResponseSpec::valid(&idp, Utc::now()) };
    refused(&connection(&idp), &idp.response(&spec), "unknown_in_response_to");
}

#[test]
fn idp_initiated_is_refused_unless_enabled() {
    let idp = TestIdp::new("okta");
    let spec = ResponseSpec { in_response_to: None, ..ResponseSpec::valid(&idp, Utc::now()) };
    let body = idp.response(&spec);
    refused(&connection(&idp), &body, "unsolicited");
    let mut conn = connection(&idp);
    conn.allow_idp_initiated = true;
    let v = check(&conn, &body).unwrap();
    assert!(v.in_response_to.is_none());
}

#[test]
fn wrong_issuer() {
    let idp = TestIdp::new("okta");
    let spec = ResponseSpec { issuer: "https://impostor.test".into(), ..ResponseSpec::valid(&idp, Utc::now()) };
    refused(&connection(&idp), &idp.response(&spec), "issuer_mismatch");
}

#[test]
fn non_success_status() {
    let idp = TestIdp::new("okta");
    let spec = ResponseSpec {
        status: "urn:oasis:names:tc:SAML:2.0:status:Requester".into(),
        ..ResponseSpec::valid(&idp, Utc::now())
    };
    refused(&connection(&idp), &idp.response(&spec), "status_not_success");
}

#[test]
fn doctype_and_entities() {
    let idp = TestIdp::new("okta");
    let xml = idp.response_xml(&ResponseSpec::valid(&idp, Utc::now()));
    let bomb = format!(
        r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>{xml}"#
    );
    refused(&connection(&idp), &STANDARD.encode(bomb), "doctype");
}

#[test]
fn oversized_body() {
    let idp = TestIdp::new("okta");
    refused(&connection(&idp), &"A".repeat(sso::saml::response::MAX_RESPONSE_BYTES + 4), "too_large");
}

#[test]
fn malformed_base64_and_xml() {
    let idp = TestIdp::new("okta");
    refused(&connection(&idp), "this is *not* base64!", "malformed_base64");
    refused(&connection(&idp), &STANDARD.encode("<samlp:Response"), "malformed_xml");
}

#[test]
fn authn_request_url_carries_our_id_and_relay_state() {
    let idp = TestIdp::new("okta");
    let url =
        authn_request_url(&connection(&idp), "_0b3c2f0e-6a2d-4f8e-9d55-2f9f3c1f5a10", "state-123", Utc::now()).unwrap();
    assert!(url.as_str().starts_with("https://idp.test/sso?"));
    let pairs: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(pairs["RelayState"], "state-123");
    // HTTP-Redirect binding: base64 of raw DEFLATE.
    let deflated = STANDARD.decode(&pairs["SAMLRequest"]).unwrap();
    let mut xml = String::new();
    std::io::Read::read_to_string(&mut flate2::read::DeflateDecoder::new(&deflated[..]), &mut xml).unwrap();
    assert!(xml.contains(r#"ID="_0b3c2f0e-6a2d-4f8e-9d55-2f9f3c1f5a10""#), "{xml}");
    assert!(xml.contains(ACS) && xml.contains(SP_ENTITY), "{xml}");
    assert!(!pairs.contains_key("Signature"));
}

#[test]
fn signed_authn_requests_verify_with_the_sp_certificate() {
    let idp = TestIdp::new("okta");
    let sp = sso::testing::SpKey::new();
    let conn = SamlConnection { signing_key: Some(sp.key.clone()), ..connection(&idp) };
    let url = authn_request_url(&conn, "_c0ffee00-0000-4000-8000-000000000001", "rs", Utc::now()).unwrap();
    let query = url.query().unwrap();
    // HTTP-Redirect binding: the signature covers the raw query up to SigAlg.
    let (signed_part, signature) = query.split_once("&Signature=").unwrap();
    assert!(
        signed_part.contains("SigAlg=http%3A%2F%2Fwww.w3.org%2F2001%2F04%2Fxmldsig-more%23rsa-sha256"),
        "{signed_part}"
    );
    let signature = STANDARD
        .decode(url::form_urlencoded::parse(format!("s={signature}").as_bytes()).next().unwrap().1.as_bytes())
        .unwrap();
    let public = openssl::x509::X509::from_der(&sp.cert_der).unwrap().public_key().unwrap();
    let mut v = openssl::sign::Verifier::new(openssl::hash::MessageDigest::sha256(), &public).unwrap();
    v.update(signed_part.as_bytes()).unwrap();
    assert!(v.verify(&signature).unwrap());
}

#[test]
fn unsigned_assertion_in_signed_response_when_assertion_signatures_are_required() {
    let idp = TestIdp::new("entra");
    let spec = ResponseSpec { sign_response: true, sign_assertion: false, ..ResponseSpec::valid(&idp, Utc::now()) };
    let body = idp.response(&spec);
    assert!(check(&connection(&idp), &body).is_ok(), "a signed response covers its assertion");
    let strict = SamlConnection { require_signed_assertion: true, ..connection(&idp) };
    refused(&strict, &body, "assertion_unsigned");
    let both = ResponseSpec { sign_response: true, ..ResponseSpec::valid(&idp, Utc::now()) };
    assert!(check(&strict, &idp.response(&both)).is_ok());
}

fn idp_metadata_xml(idp: &TestIdp) -> String {
    format!(
        r#"<?xml version="1.0"?><md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{entity}"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol" WantAuthnRequestsSigned="false"><md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://idp.test/sso/post"/><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.test/sso/redirect"/></md:IDPSSODescriptor></md:EntityDescriptor>"#,
        entity = idp.entity_id,
        cert = STANDARD.encode(&idp.cert_der),
    )
}

#[test]
fn idp_metadata_gives_entity_id_redirect_url_and_certificates() {
    let idp = TestIdp::new("okta");
    let m = sso::saml::parse_idp_metadata(&idp_metadata_xml(&idp)).unwrap();
    assert_eq!(m.entity_id, idp.entity_id);
    assert_eq!(m.sso_url, "https://idp.test/sso/redirect");
    assert_eq!(m.certificates.len(), 1);
    assert_eq!(m.certificates[0].der, idp.cert_der);
    assert!(m.certificates[0].subject.contains("okta"));
    assert!(!m.certificates[0].is_expired(Utc::now()));
    assert!(m.certificates[0].is_expired(Utc::now() + Duration::days(400)));
}

#[test]
fn unusable_idp_metadata_says_why() {
    use sso::saml::metadata::MetadataError;
    let idp = TestIdp::new("okta");
    let xml = idp_metadata_xml(&idp);
    let no_redirect = xml.replace("HTTP-Redirect", "HTTP-Artifact");
    assert_eq!(sso::saml::parse_idp_metadata(&no_redirect).unwrap_err(), MetadataError::NoRedirectBinding);
    let no_cert = xml.replace(&STANDARD.encode(&idp.cert_der), "");
    assert_eq!(sso::saml::parse_idp_metadata(&no_cert).unwrap_err(), MetadataError::NoCertificate);
    assert!(matches!(sso::saml::parse_idp_metadata("<html>login</html>"), Err(MetadataError::Unreadable(_))));
    let doctype = format!("<!DOCTYPE x [<!ENTITY a 'b'>]>{xml}");
    assert_eq!(sso::saml::parse_idp_metadata(&doctype).unwrap_err(), MetadataError::Doctype);
}

#[test]
fn certificates_parse_from_pem_der_and_bare_base64() {
    let idp = TestIdp::new("okta");
    let from_pem = Certificate::parse(idp.cert_pem().as_bytes()).unwrap();
    let from_der = Certificate::parse(&idp.cert_der).unwrap();
    let bare = STANDARD.encode(&idp.cert_der);
    let wrapped: String =
        bare.as_bytes().chunks(60).map(|c| format!("{}\n", std::str::from_utf8(c).unwrap())).collect();
    let from_b64 = Certificate::parse(wrapped.as_bytes()).unwrap();
    assert_eq!(from_pem, from_der);
    assert_eq!(from_der, from_b64);
    assert!(Certificate::parse(b"not a certificate").is_err());
}

#[test]
fn sp_metadata_names_the_acs() {
    let plain = sso::saml::SpMetadata { entity_id: SP_ENTITY, acs_url: ACS, ..Default::default() };
    let xml = sso::saml::sp_metadata(&plain);
    assert!(xml.contains(&format!(r#"entityID="{SP_ENTITY}""#)));
    assert!(xml.contains(&format!(r#"Location="{ACS}""#)));
    assert!(!xml.contains("encryption") && xml.contains(r#"AuthnRequestsSigned="false" WantAssertionsSigned="false""#));
    let with_keys = sso::saml::sp_metadata(&sso::saml::SpMetadata {
        encryption_certificate: Some("MIIBenc"),
        signing_certificate: Some("MIIBsig"),
        want_assertions_signed: true,
        ..plain
    });
    assert!(
        with_keys.contains(r#"use="encryption""#) && with_keys.contains("MIIBenc") && with_keys.contains("aes256-gcm")
    );
    assert!(with_keys.contains(r#"use="signing""#) && with_keys.contains("MIIBsig"));
    assert!(with_keys.contains(r#"AuthnRequestsSigned="true" WantAssertionsSigned="true""#));
}

#[test]
fn in_response_to_is_read_without_trust() {
    let idp = TestIdp::new("okta");
    let body = idp.response(&ResponseSpec::valid(&idp, Utc::now()));
    let max = sso::saml::response::MAX_RESPONSE_BYTES;
    assert_eq!(sso::saml::in_response_to(&body, max).as_deref(), Some(REQUEST_ID));
    assert_eq!(sso::saml::in_response_to("garbage", max), None);
    assert_eq!(sso::saml::in_response_to(&body, body.len() - 1), None, "nothing is read from an oversized body");
}

mod encrypted {
    use super::*;
    use sso::testing::{Enc, SpKey};

    fn with_key(idp: &TestIdp, sp: &SpKey) -> SamlConnection {
        SamlConnection { decryption_key: Some(sp.key.clone()), ..connection(idp) }
    }

    #[test]
    fn every_content_cipher_is_decrypted_and_its_signature_checked() {
        let idp = TestIdp::new("okta");
        let sp = SpKey::new();
        let cbc_allowed = SamlConnection { allow_cbc: true, ..with_key(&idp, &sp) };
        for enc in Enc::ALL {
            let spec = ResponseSpec::valid(&idp, Utc::now());
            let body = idp.encrypted_response(&spec, &sp.cert_der, enc);
            let v = check(&cbc_allowed, &body).unwrap_or_else(|r| panic!("{enc:?}: {r}"));
            assert_eq!(v.identity.subject, "ada@acme.test", "{enc:?}");
            assert_eq!(v.identity.groups, vec!["Developers", "Admins"]);
        }
    }

    #[test]
    fn cbc_is_refused_unless_the_connection_allows_it() {
        let idp = TestIdp::new("okta");
        let sp = SpKey::new();
        for enc in [Enc::Aes128Gcm, Enc::Aes256Gcm] {
            let body = idp.encrypted_response(&ResponseSpec::valid(&idp, Utc::now()), &sp.cert_der, enc);
            assert!(check(&with_key(&idp, &sp), &body).is_ok(), "{enc:?} is accepted by default");
        }
        for enc in [Enc::Aes128Cbc, Enc::Aes256Cbc] {
            let body = idp.encrypted_response(&ResponseSpec::valid(&idp, Utc::now()), &sp.cert_der, enc);
            refused(&with_key(&idp, &sp), &body, "weak_encryption");
            // Refused before any decryption: even a ciphertext for another key gets the same
            // answer, so nothing about padding can be learned.
            let other = SpKey::new();
            let foreign = idp.encrypted_response(&ResponseSpec::valid(&idp, Utc::now()), &other.cert_der, enc);
            refused(&with_key(&idp, &sp), &foreign, "weak_encryption");
        }
    }

    #[test]
    fn encrypted_but_unsigned_is_refused() {
        let idp = TestIdp::new("okta");
        let sp = SpKey::new();
        let spec = ResponseSpec { sign_assertion: false, ..ResponseSpec::valid(&idp, Utc::now()) };
        refused(
            &with_key(&idp, &sp),
            &idp.encrypted_response(&spec, &sp.cert_der, Enc::Aes256Gcm),
            "signature_invalid",
        );
    }

    #[test]
    fn encrypted_to_another_key_is_refused() {
        let idp = TestIdp::new("okta");
        let (sp, other) = (SpKey::new(), SpKey::new());
        let body = idp.encrypted_response(&ResponseSpec::valid(&idp, Utc::now()), &other.cert_der, Enc::Aes256Gcm);
        refused(&with_key(&idp, &sp), &body, "decryption_failed");
    }

    #[test]
    fn tampered_ciphertext_is_refused() {
        let idp = TestIdp::new("okta");
        let sp = SpKey::new();
        let xml = String::from_utf8(
            STANDARD
                .decode(idp.encrypted_response(&ResponseSpec::valid(&idp, Utc::now()), &sp.cert_der, Enc::Aes256Gcm))
                .unwrap(),
        )
        .unwrap();
        // Flip one character of the content's base64, well inside the ciphertext.
        let marker = "</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData>";
        let at = xml.find(marker).unwrap() - 40;
        let mut bytes = xml.into_bytes();
        bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
        refused(&with_key(&idp, &sp), &STANDARD.encode(bytes), "decryption_failed");
    }

    #[test]
    fn plain_assertions_are_refused_when_encryption_is_required_and_vice_versa() {
        let idp = TestIdp::new("okta");
        let sp = SpKey::new();
        refused(&with_key(&idp, &sp), &idp.response(&ResponseSpec::valid(&idp, Utc::now())), "not_encrypted");
        let body = idp.encrypted_response(&ResponseSpec::valid(&idp, Utc::now()), &sp.cert_der, Enc::Aes128Cbc);
        refused(&connection(&idp), &body, "encrypted_without_key");
    }
}

mod review {
    //! Cases from a security review: each once slipped through or was wrongly refused.
    use super::*;
    use sso::testing::{Enc, SpKey};

    #[test]
    fn encrypted_assertion_inside_a_signed_response_okta_and_keycloak_styles() {
        let idp = TestIdp::new("okta");
        let sp = SpKey::new();
        let conn = SamlConnection { decryption_key: Some(sp.key.clone()), allow_cbc: true, ..connection(&idp) };
        // Okta: assertion signed, then encrypted, response signed over the encrypted form.
        let okta = ResponseSpec { sign_response: true, ..ResponseSpec::valid(&idp, Utc::now()) };
        let v = check(&conn, &idp.encrypted_response(&okta, &sp.cert_der, Enc::Aes256Gcm)).unwrap();
        assert_eq!(v.identity.subject, "ada@acme.test");
        // Keycloak's default: only the response signed.
        let keycloak =
            ResponseSpec { sign_response: true, sign_assertion: false, ..ResponseSpec::valid(&idp, Utc::now()) };
        let body = idp.encrypted_response(&keycloak, &sp.cert_der, Enc::Aes128Cbc);
        assert!(check(&conn, &body).is_ok());
        // ... which is not enough when the connection requires signed assertions.
        refused(&SamlConnection { require_signed_assertion: true, ..conn.clone() }, &body, "assertion_unsigned");
        // And the response signature really covers the encrypted content.
        let xml = String::from_utf8(STANDARD.decode(&body).unwrap()).unwrap();
        let marker = "</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData>";
        let at = xml.find(marker).unwrap() - 30;
        let mut bytes = xml.into_bytes();
        bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
        refused(&conn, &STANDARD.encode(bytes), "signature_invalid");
    }

    #[test]
    fn a_comment_cannot_fake_an_assertion_signature() {
        let idp = TestIdp::new("entra");
        let spec = ResponseSpec { sign_response: true, sign_assertion: false, ..ResponseSpec::valid(&idp, Utc::now()) };
        let xml = idp.response_xml(&spec);
        let faked =
            xml.replacen("<samlp:Status>", &format!(r##"<!--URI="#{}"--><samlp:Status>"##, spec.assertion_id), 1);
        assert_ne!(faked, xml);
        let strict = SamlConnection { require_signed_assertion: true, ..connection(&idp) };
        refused(&strict, &STANDARD.encode(faked), "comment");
    }

    #[test]
    fn the_unsigned_envelope_cannot_redirect_the_answer_to_another_request() {
        let idp = TestIdp::new("okta");
        let spec = ResponseSpec::valid(&idp, Utc::now());
        let xml = idp.response_xml(&spec);
        // The envelope now claims another pending request (an admin's test, say).
        let moved = xml.replacen(&format!(r#"InResponseTo="{REQUEST_ID}""#), r#"InResponseTo="_admins-test""#, 1);
        let conn = SamlConnection { allow_idp_initiated: true, ..connection(&idp) };
        let r = verify_response(&conn, &STANDARD.encode(moved), &[REQUEST_ID, "_admins-test"], Utc::now());
        assert_eq!(r.unwrap_err().code(), "unknown_in_response_to");
    }

    #[test]
    fn signed_responses_must_name_their_destination() {
        let idp = TestIdp::new("okta");
        let spec =
            ResponseSpec { sign_response: true, destination: String::new(), ..ResponseSpec::valid(&idp, Utc::now()) };
        refused(&connection(&idp), &idp.response(&spec), "destination_mismatch");
    }

    #[test]
    fn documents_in_another_encoding_are_refused() {
        let idp = TestIdp::new("okta");
        let xml = idp.response_xml(&ResponseSpec::valid(&idp, Utc::now()));
        let utf7 = format!(r#"<?xml version="1.0" encoding="UTF-7"?>{xml}"#);
        refused(&connection(&idp), &STANDARD.encode(utf7), "malformed_xml");
        let utf8 = format!(r#"<?xml version="1.0" encoding="UTF-8"?>{xml}"#);
        assert!(check(&connection(&idp), &STANDARD.encode(utf8)).is_ok());
    }
}
