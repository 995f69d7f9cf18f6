//! A test identity provider (feature `test-idp`): its own RSA key and certificate, generated per
//! test run, and SAML responses signed by libxmlsec1 (through samael's signing code). Only the
//! document around the signature is a template; every signature is real.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use samael::crypto::{Crypto, CryptoProvider};
use samael::idp::{CertificateParams, IdentityProvider, KeyType, Rsa};

pub const SHA256: (&str, &str) =
    ("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256", "http://www.w3.org/2001/04/xmlenc#sha256");
pub const SHA1: (&str, &str) = ("http://www.w3.org/2000/09/xmldsig#rsa-sha1", "http://www.w3.org/2000/09/xmldsig#sha1");

#[derive(Debug)]
pub struct TestIdp {
    pub key_der: Vec<u8>,
    pub cert_der: Vec<u8>,
    pub entity_id: String,
}

impl TestIdp {
    pub fn new(name: &str) -> TestIdp {
        let idp = IdentityProvider::generate_new(KeyType::Rsa(Rsa::Rsa2048)).unwrap();
        let cert = idp
            .create_certificate(&CertificateParams { common_name: name, issuer_name: name, days_until_expiration: 365 })
            .unwrap();
        TestIdp {
            key_der: idp.export_private_key_der().unwrap(),
            cert_der: cert.der_data().to_vec(),
            entity_id: format!("https://{name}.idp.test/metadata"),
        }
    }

    pub fn cert_pem(&self) -> String {
        let b64 = STANDARD.encode(&self.cert_der);
        let lines: Vec<&str> = b64.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap()).collect();
        format!("-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n", lines.join("\n"))
    }

    fn signature_template(&self, reference: &str, algorithms: (&str, &str)) -> String {
        format!(
            r##"<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="{sig}"/><ds:Reference URI="#{reference}"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms><ds:DigestMethod Algorithm="{digest}"/><ds:DigestValue></ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue></ds:SignatureValue><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature>"##,
            sig = algorithms.0,
            digest = algorithms.1,
            cert = STANDARD.encode(&self.cert_der),
        )
    }

    fn sign(&self, xml: &str) -> String {
        let signed = Crypto::sign_xml(xml, &self.key_der).expect("xmlsec signs the template");
        // libxml2 writes an XML declaration first; the element goes inside other documents.
        let signed = signed.trim_start_matches(|c| c != '<');
        match signed.strip_prefix("<?xml").and_then(|rest| rest.split_once("?>")) {
            Some((_, element)) => element.trim().to_owned(),
            None => signed.trim().to_owned(),
        }
    }

    /// The assertion of `r`, signed when `r.sign_assertion`.
    pub fn assertion_xml(&self, r: &ResponseSpec) -> String {
        let attrs: String = r
            .attributes
            .iter()
            .map(|(name, values)| {
                let vals: String = values
                    .iter()
                    .map(|v| format!(r#"<saml:AttributeValue xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="xs:string">{v}</saml:AttributeValue>"#))
                    .collect();
                format!(r#"<saml:Attribute Name="{name}" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic">{vals}</saml:Attribute>"#)
            })
            .collect();
        let irt = r.in_response_to.as_ref().map(|i| format!(r#" InResponseTo="{i}""#)).unwrap_or_default();
        let signature =
            if r.sign_assertion { self.signature_template(&r.assertion_id, r.algorithms) } else { String::new() };
        let xml = format!(
            r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{aid}" Version="2.0" IssueInstant="{ii}"><saml:Issuer>{issuer}</saml:Issuer>{signature}<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">{name_id}</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData{irt} NotOnOrAfter="{noa}" Recipient="{recipient}"/></saml:SubjectConfirmation></saml:Subject><saml:Conditions NotBefore="{nb}" NotOnOrAfter="{noa}"><saml:AudienceRestriction><saml:Audience>{audience}</saml:Audience></saml:AudienceRestriction></saml:Conditions><saml:AuthnStatement AuthnInstant="{ii}" SessionIndex="{aid}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement><saml:AttributeStatement>{attrs}</saml:AttributeStatement></saml:Assertion>"#,
            aid = r.assertion_id,
            ii = ts(r.issue_instant),
            issuer = r.issuer,
            name_id = r.name_id,
            noa = ts(r.not_on_or_after),
            nb = ts(r.not_before),
            recipient = r.recipient,
            audience = r.audience,
        );
        if r.sign_assertion { self.sign(&xml) } else { xml }
    }

    /// A complete response as XML, signed as `r` says.
    pub fn response_xml(&self, r: &ResponseSpec) -> String {
        let assertion = self.assertion_xml(r);
        self.envelope(r, &assertion)
    }

    /// Wraps any assertion XML in a response envelope (signed when `r.sign_response`).
    pub fn envelope(&self, r: &ResponseSpec, assertion: &str) -> String {
        let irt = r.in_response_to.as_ref().map(|i| format!(r#" InResponseTo="{i}""#)).unwrap_or_default();
        let signature =
            if r.sign_response { self.signature_template(&r.response_id, r.algorithms) } else { String::new() };
        let xml = format!(
            r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{rid}" Version="2.0" IssueInstant="{ii}"{destination}{irt}><saml:Issuer>{issuer}</saml:Issuer>{signature}<samlp:Status><samlp:StatusCode Value="{status}"/></samlp:Status>{assertion}</samlp:Response>"#,
            rid = r.response_id,
            ii = ts(r.issue_instant),
            destination =
                if r.destination.is_empty() { String::new() } else { format!(r#" Destination="{}""#, r.destination) },
            issuer = r.issuer,
            status = r.status,
        );
        if r.sign_response { self.sign(&xml) } else { xml }
    }

    /// The base64 `SAMLResponse` form value.
    pub fn response(&self, r: &ResponseSpec) -> String {
        STANDARD.encode(self.response_xml(r))
    }
}

/// Content encryption of an encrypted assertion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enc {
    Aes128Gcm,
    Aes256Gcm,
    Aes128Cbc,
    Aes256Cbc,
}

impl Enc {
    pub const ALL: [Enc; 4] = [Enc::Aes128Gcm, Enc::Aes256Gcm, Enc::Aes128Cbc, Enc::Aes256Cbc];

    fn uri(self) -> &'static str {
        use crate::saml::decrypt::*;
        match self {
            Enc::Aes128Gcm => AES128_GCM,
            Enc::Aes256Gcm => AES256_GCM,
            Enc::Aes128Cbc => AES128_CBC,
            Enc::Aes256Cbc => AES256_CBC,
        }
    }
}

/// An SP key pair, as a connection that receives encrypted assertions has.
#[derive(Debug)]
pub struct SpKey {
    pub key: openssl::pkey::PKey<openssl::pkey::Private>,
    pub cert_der: Vec<u8>,
}

impl SpKey {
    pub fn new() -> SpKey {
        let sp = IdentityProvider::generate_new(KeyType::Rsa(Rsa::Rsa2048)).unwrap();
        let cert = sp
            .create_certificate(&CertificateParams {
                common_name: "portico-sp",
                issuer_name: "portico-sp",
                days_until_expiration: 365,
            })
            .unwrap();
        let key = openssl::pkey::PKey::private_key_from_der(&sp.export_private_key_der().unwrap()).unwrap();
        SpKey { key, cert_der: cert.der_data().to_vec() }
    }
}

impl Default for SpKey {
    fn default() -> Self {
        SpKey::new()
    }
}

impl TestIdp {
    /// Encrypts `assertion_xml` to the SP certificate: RSA-OAEP (MGF1, SHA-1) for the content
    /// key, `enc` for the content, as Okta and Entra do.
    pub fn encrypt_assertion(&self, assertion_xml: &str, sp_cert_der: &[u8], enc: Enc) -> String {
        use openssl::symm::{Cipher, encrypt, encrypt_aead};
        let cert = openssl::x509::X509::from_der(sp_cert_der).unwrap();
        let public = cert.public_key().unwrap();
        let (cipher, key_len, gcm) = match enc {
            Enc::Aes128Gcm => (Cipher::aes_128_gcm(), 16, true),
            Enc::Aes256Gcm => (Cipher::aes_256_gcm(), 32, true),
            Enc::Aes128Cbc => (Cipher::aes_128_cbc(), 16, false),
            Enc::Aes256Cbc => (Cipher::aes_256_cbc(), 32, false),
        };
        let mut key = vec![0u8; key_len];
        openssl::rand::rand_bytes(&mut key).unwrap();
        let data = if gcm {
            let mut iv = [0u8; 12];
            openssl::rand::rand_bytes(&mut iv).unwrap();
            let mut tag = [0u8; 16];
            let ct = encrypt_aead(cipher, &key, Some(&iv), &[], assertion_xml.as_bytes(), &mut tag).unwrap();
            [iv.as_slice(), &ct, &tag].concat()
        } else {
            let mut iv = [0u8; 16];
            openssl::rand::rand_bytes(&mut iv).unwrap();
            let ct = encrypt(cipher, &key, Some(&iv), assertion_xml.as_bytes()).unwrap();
            [iv.as_slice(), &ct].concat()
        };
        let mut e = openssl::encrypt::Encrypter::new(&public).unwrap();
        e.set_rsa_padding(openssl::rsa::Padding::PKCS1_OAEP).unwrap();
        let mut wrapped = vec![0; e.encrypt_len(&key).unwrap()];
        let n = e.encrypt(&key, &mut wrapped).unwrap();
        wrapped.truncate(n);
        format!(
            r#"<saml:EncryptedAssertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"><xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" Type="http://www.w3.org/2001/04/xmlenc#Element"><xenc:EncryptionMethod Algorithm="{alg}"/><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><xenc:EncryptedKey><xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"><ds:DigestMethod Algorithm="http://www.w3.org/2000/09/xmldsig#sha1"/></xenc:EncryptionMethod><xenc:CipherData><xenc:CipherValue>{key}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedKey></ds:KeyInfo><xenc:CipherData><xenc:CipherValue>{data}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData></saml:EncryptedAssertion>"#,
            alg = enc.uri(),
            key = STANDARD.encode(&wrapped),
            data = STANDARD.encode(&data),
        )
    }

    /// A response whose (signed) assertion is encrypted to `sp_cert_der`.
    pub fn encrypted_response(&self, r: &ResponseSpec, sp_cert_der: &[u8], enc: Enc) -> String {
        let encrypted = self.encrypt_assertion(&self.assertion_xml(r), sp_cert_der, enc);
        STANDARD.encode(self.envelope(r, &encrypted))
    }
}

pub fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Everything a response says, defaulting to a valid answer to request `REQUEST_ID`.
#[derive(Debug, Clone)]
pub struct ResponseSpec {
    pub response_id: String,
    pub assertion_id: String,
    pub in_response_to: Option<String>,
    pub issuer: String,
    pub destination: String,
    pub recipient: String,
    pub audience: String,
    pub name_id: String,
    pub issue_instant: DateTime<Utc>,
    pub not_before: DateTime<Utc>,
    pub not_on_or_after: DateTime<Utc>,
    pub status: String,
    pub attributes: Vec<(String, Vec<String>)>,
    pub sign_assertion: bool,
    pub sign_response: bool,
    pub algorithms: (&'static str, &'static str),
}

impl ResponseSpec {
    /// A valid answer to `request_id` for the SP at `acs` / `audience`.
    pub fn answering(
        idp: &TestIdp,
        now: DateTime<Utc>,
        acs: &str,
        audience: &str,
        request_id: Option<&str>,
    ) -> ResponseSpec {
        ResponseSpec {
            response_id: format!("_r{}", uuid::Uuid::new_v4().simple()),
            assertion_id: format!("_a{}", uuid::Uuid::new_v4().simple()),
            in_response_to: request_id.map(str::to_owned),
            issuer: idp.entity_id.clone(),
            destination: acs.to_owned(),
            recipient: acs.to_owned(),
            audience: audience.to_owned(),
            name_id: "ada@acme.test".to_owned(),
            issue_instant: now,
            not_before: now - Duration::seconds(5),
            not_on_or_after: now + Duration::minutes(5),
            status: "urn:oasis:names:tc:SAML:2.0:status:Success".to_owned(),
            attributes: vec![
                ("email".into(), vec!["ada@acme.test".into()]),
                ("displayName".into(), vec!["Ada Lovelace".into()]),
                ("groups".into(), vec!["Developers".into(), "Admins".into()]),
            ],
            sign_assertion: true,
            sign_response: false,
            algorithms: SHA256,
        }
    }
}

/// One response an attacker could post, and the refusal code Portico must answer it with.
#[derive(Debug, Clone)]
pub struct Attack {
    pub name: &'static str,
    /// The decoded document (base64-encode it to post it).
    pub xml: String,
    pub code: &'static str,
}

impl Attack {
    pub fn body(&self) -> String {
        STANDARD.encode(&self.xml)
    }
}

/// The first `ds:Signature` element of `xml`, whole.
pub fn signature_block(xml: &str) -> &str {
    let start = xml.find("<ds:Signature").expect("a signature");
    let end = xml[start..].find("</ds:Signature>").expect("its end") + start + "</ds:Signature>".len();
    &xml[start..end]
}

/// `xml` without its first signature.
pub fn without_signature(xml: &str) -> String {
    xml.replacen(signature_block(xml), "", 1)
}

/// `outer` with `inner` inserted just before its last closing tag `close`.
fn inside_last(outer: &str, close: &str, inner: &str) -> String {
    let at = outer.rfind(close).expect("the closing tag");
    format!("{}{inner}{}", &outer[..at], &outer[at..])
}

impl TestIdp {
    /// The XML signature wrapping shapes of the literature (Somorovsky et al., "On Breaking SAML",
    /// 2012; the XSW1 to XSW8 of SAML Raider) and their relatives, built around a genuine
    /// signature over `spec`'s answer, each with the refusal it must get. `spec` answers a
    /// request; the forged content names `admin@acme.test`.
    pub fn wrapping_attacks(&self, spec: &ResponseSpec) -> Vec<Attack> {
        let assertion_signed = ResponseSpec { sign_assertion: true, sign_response: false, ..spec.clone() };
        let signed = self.assertion_xml(&assertion_signed);
        let evil_spec = ResponseSpec {
            sign_assertion: false,
            sign_response: false,
            assertion_id: format!("{}evil", spec.assertion_id),
            name_id: "admin@acme.test".into(),
            ..spec.clone()
        };
        let evil = self.assertion_xml(&evil_spec);
        let envelope = |assertions: &str| self.envelope(&assertion_signed, assertions);
        let signature = signature_block(&signed).to_owned();
        let stripped = without_signature(&signed);
        let evil_with_signature = evil.replacen("</saml:Issuer>", &format!("</saml:Issuer>{signature}"), 1);
        let in_extensions = |extensions: &str, assertion: &str| {
            envelope(assertion).replacen(
                "<samlp:Status>",
                &format!("<samlp:Extensions>{extensions}</samlp:Extensions><samlp:Status>"),
                1,
            )
        };

        let response_signed = ResponseSpec { sign_assertion: false, sign_response: true, ..spec.clone() };
        let whole = self.response_xml(&response_signed);
        let response_signature = signature_block(&whole).to_owned();
        let forged_response = without_signature(&whole)
            .replace(&format!("{}</saml:NameID>", spec.name_id), "admin@acme.test</saml:NameID>")
            .replacen(&format!(r#"ID="{}""#, response_signed.response_id), r#"ID="_forged""#, 1);

        let mut attacks = vec![
            Attack {
                name: "XSW3: a forged assertion before the signed one",
                xml: envelope(&format!("{evil}{signed}")),
                code: "unexpected_structure",
            },
            Attack {
                name: "a forged assertion after the signed one",
                xml: envelope(&format!("{signed}{evil}")),
                code: "unexpected_structure",
            },
            Attack {
                name: "XSW4: a forged assertion wrapping the signed one",
                xml: envelope(&inside_last(&evil, "</saml:Assertion>", &signed)),
                code: "unexpected_structure",
            },
            Attack {
                name: "XSW5: the signature copied onto a forged assertion, the original beside it",
                xml: envelope(&format!("{evil_with_signature}{stripped}")),
                code: "unexpected_structure",
            },
            Attack {
                name: "XSW6: the original inside the copied signature of a forged assertion",
                xml: envelope(&evil.replacen(
                    "</saml:Issuer>",
                    &format!("</saml:Issuer>{}", inside_last(&signature, "</ds:Signature>", &stripped)),
                    1,
                )),
                code: "unexpected_structure",
            },
            Attack {
                name: "XSW7: the signed assertion hidden in Extensions, a forged one in its place",
                xml: in_extensions(&signed, &evil),
                code: "unexpected_structure",
            },
            Attack {
                name: "XSW8: the original in an Object of the copied signature",
                xml: envelope(&evil.replacen(
                    "</saml:Issuer>",
                    &format!(
                        "</saml:Issuer>{}",
                        inside_last(&signature, "</ds:Signature>", &format!("<ds:Object>{stripped}</ds:Object>"))
                    ),
                    1,
                )),
                code: "unexpected_structure",
            },
            Attack {
                name: "the signed assertion moved into the Advice of a forged one",
                xml: envelope(&evil.replacen(
                    "<saml:AuthnStatement",
                    &format!("<saml:Advice>{signed}</saml:Advice><saml:AuthnStatement"),
                    1,
                )),
                code: "unexpected_structure",
            },
            Attack {
                name: "an Assertion of another namespace beside the signed one",
                xml: in_extensions(
                    r#"<x:Assertion xmlns:x="urn:example:evil" ID="_x1"><x:NameID>admin@acme.test</x:NameID></x:Assertion>"#,
                    &signed,
                ),
                code: "unexpected_structure",
            },
            Attack {
                name: "a second element carrying the signed assertion's ID",
                xml: in_extensions(
                    &format!(r#"<x:Evil xmlns:x="urn:example:evil" ID="{}"/>"#, spec.assertion_id),
                    &signed,
                ),
                code: "unexpected_structure",
            },
            Attack {
                name: "an xml:id naming the signed assertion's ID",
                xml: in_extensions(
                    &format!(r#"<x:Evil xmlns:x="urn:example:evil" xml:id="{}"/>"#, spec.assertion_id),
                    &signed,
                ),
                code: "unexpected_structure",
            },
            Attack {
                name: "a comment inside the NameID, signed by the IdP",
                xml: envelope(&self.assertion_xml(&ResponseSpec {
                    name_id: "admin@acme.test<!---->.evil.test".into(),
                    ..assertion_signed.clone()
                })),
                code: "comment",
            },
            Attack {
                name: "two signatures in the assertion",
                xml: envelope(&signed.replacen(&signature, &format!("{signature}{signature}"), 1)),
                code: "signature_placement",
            },
            Attack {
                name: "the assertion's signature moved into its Subject",
                xml: envelope(&stripped.replacen("<saml:Subject>", &format!("<saml:Subject>{signature}"), 1)),
                code: "signature_placement",
            },
            Attack {
                name: "XSW1: the signed response inside the signature of a forged response",
                xml: forged_response.replacen(
                    "</saml:Issuer>",
                    &format!("</saml:Issuer>{}", inside_last(&response_signature, "</ds:Signature>", &whole)),
                    1,
                ),
                code: "unexpected_structure",
            },
            Attack {
                name: "XSW2: the signed response detached before the signature of a forged response",
                xml: forged_response.replacen(
                    "</saml:Issuer>",
                    &format!("</saml:Issuer>{whole}{response_signature}"),
                    1,
                ),
                code: "unexpected_structure",
            },
            Attack {
                name: "a detached copy of the signed response in the Status",
                xml: whole.replacen(
                    "</samlp:Status>",
                    &format!("<samlp:StatusDetail>{whole}</samlp:StatusDetail></samlp:Status>"),
                    1,
                ),
                code: "unexpected_structure",
            },
            Attack {
                name: "the response's signature moved into its Status",
                xml: without_signature(&whole).replacen(
                    "</samlp:Status>",
                    &format!("{response_signature}</samlp:Status>"),
                    1,
                ),
                code: "signature_placement",
            },
            Attack {
                name: "the response's signature moved into the assertion",
                xml: without_signature(&whole).replacen(
                    "</saml:Issuer><saml:Subject>",
                    &format!("</saml:Issuer>{response_signature}<saml:Subject>"),
                    1,
                ),
                code: "signature_reference",
            },
            Attack {
                name: "an Object in the response's signature, a forged assertion in place",
                xml: {
                    let original = self.assertion_xml(&response_signed);
                    let forged =
                        original.replace(&format!("{}</saml:NameID>", spec.name_id), "admin@acme.test</saml:NameID>");
                    inside_last(
                        &whole.replacen(&original, &forged, 1),
                        "</ds:Signature>",
                        &format!("<ds:Object>{original}</ds:Object>"),
                    )
                },
                code: "unexpected_structure",
            },
            Attack {
                name: "an Object with text in the response's signature",
                xml: whole.replacen("</ds:Signature>", "<ds:Object>hello</ds:Object></ds:Signature>", 1),
                code: "signature_content",
            },
        ];
        // Signed and encrypted: an extra plain assertion beside the encrypted one.
        attacks.push(Attack {
            name: "a plain forged assertion beside an encrypted one",
            xml: envelope(&format!(
                "{evil}<saml:EncryptedAssertion xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\"/>"
            )),
            code: "unexpected_structure",
        });
        attacks
    }

    /// Signatures that point outside the document or ask for transforms Portico does not run,
    /// each around a signed assertion answering `spec`. `elsewhere` names what a reference
    /// points to (a loopback listener's URL, a file), so that a test can prove nothing was
    /// fetched; the signature values are left as they are, since libxmlsec1 dereferences
    /// before it compares.
    pub fn reference_attacks(&self, spec: &ResponseSpec, elsewhere: &[&str]) -> Vec<Attack> {
        let assertion_signed = ResponseSpec { sign_assertion: true, sign_response: false, ..spec.clone() };
        let signed = self.assertion_xml(&assertion_signed);
        let envelope = |a: &str| self.envelope(&assertion_signed, a);
        let reference = format!(r##"URI="#{}""##, spec.assertion_id);
        let transforms = r#"<ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms>"#;
        assert!(signed.contains(&reference) && signed.contains(transforms), "the test IdP's signature layout changed");
        let with_transforms =
            |t: &str| envelope(&signed.replacen(transforms, &format!("<ds:Transforms>{t}</ds:Transforms>"), 1));
        let mut attacks: Vec<Attack> = elsewhere
            .iter()
            .map(|uri| Attack {
                name: "a Reference to a URI outside the document",
                xml: envelope(&signed.replacen(&reference, &format!(r#"URI="{uri}""#), 1)),
                code: "signature_reference",
            })
            .collect();
        if let Some(uri) = elsewhere.first() {
            attacks.push(Attack {
                name: "a RetrievalMethod in the KeyInfo",
                xml: envelope(&signed.replacen(
                    "<ds:KeyInfo>",
                    &format!(r#"<ds:KeyInfo><ds:RetrievalMethod URI="{uri}"/>"#),
                    1,
                )),
                code: "signature_reference",
            });
        }
        attacks.extend([
            Attack {
                name: "a namespaced URI on the Reference, read first by libxmlsec1",
                xml: envelope(&signed.replacen(
                    &reference,
                    &format!(r#"xmlns:x="urn:example:x" x:URI="http://127.0.0.1:9/" {reference}"#),
                    1,
                )),
                code: "unexpected_structure",
            },
            Attack {
                name: "a namespaced Algorithm on a Transform",
                xml: envelope(&signed.replacen(
                    r#"<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>"#,
                    r#"<ds:Transform xmlns:x="urn:example:x" x:Algorithm="http://www.w3.org/TR/1999/REC-xslt-19991116" Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>"#,
                    1,
                )),
                code: "unexpected_structure",
            },
            Attack {
                name: "an InclusiveNamespaces made a stylesheet by xsl:version",
                xml: with_transforms(r#"<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"><ec:InclusiveNamespaces xmlns:ec="http://www.w3.org/2001/10/xml-exc-c14n#" xmlns:xsl="http://www.w3.org/1999/XSL/Transform" xsl:version="1.0" PrefixList="{count(//*)}"/></ds:Transform>"#),
                code: "signature_content",
            },
            Attack {
                name: "an InclusiveNamespaces with other attributes",
                xml: with_transforms(r#"<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"><ec:InclusiveNamespaces xmlns:ec="http://www.w3.org/2001/10/xml-exc-c14n#" PrefixList="xs" Other="x"/></ds:Transform>"#),
                code: "signature_transform",
            },
            Attack {
                name: "an XPointer Reference",
                xml: envelope(&signed.replacen(&reference, r##"URI="#xpointer(/)""##, 1)),
                code: "signature_reference",
            },
            Attack {
                name: "a Reference to the whole document from the assertion",
                xml: envelope(&signed.replacen(&reference, r#"URI="""#, 1)),
                code: "signature_reference",
            },
            Attack {
                name: "a Reference without a URI",
                xml: envelope(&signed.replacen(&reference, "", 1)),
                code: "signature_reference",
            },
            Attack {
                name: "a Reference to the response from the assertion",
                xml: envelope(&signed.replacen(&reference, &format!(r##"URI="#{}""##, spec.response_id), 1)),
                code: "signature_reference",
            },
            Attack {
                name: "two References",
                xml: {
                    let r = &signed[signed.find("<ds:Reference").expect("a reference")..];
                    let r = &r[..r.find("</ds:Reference>").expect("its end") + "</ds:Reference>".len()];
                    envelope(&signed.replacen(r, &format!("{r}{r}"), 1))
                },
                code: "signature_content",
            },
            Attack {
                name: "an XSLT transform",
                xml: with_transforms(r#"<ds:Transform Algorithm="http://www.w3.org/TR/1999/REC-xslt-19991116"><xsl:stylesheet xmlns:xsl="http://www.w3.org/1999/XSL/Transform" version="1.0"><xsl:template match="/"><xsl:value-of select="document('http://127.0.0.1:9/')"/></xsl:template></xsl:stylesheet></ds:Transform>"#),
                code: "signature_transform",
            },
            Attack {
                name: "an XPath transform",
                xml: with_transforms(r#"<ds:Transform Algorithm="http://www.w3.org/TR/1999/REC-xpath-19991116"><ds:XPath>count(//. | //@* | //namespace::*)</ds:XPath></ds:Transform><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>"#),
                code: "signature_transform",
            },
            Attack {
                name: "an XPath Filter 2.0 transform",
                xml: with_transforms(r#"<ds:Transform Algorithm="http://www.w3.org/2002/06/xmldsig-filter2"><dsig-xpath:XPath xmlns:dsig-xpath="http://www.w3.org/2002/06/xmldsig-filter2" Filter="union">/</dsig-xpath:XPath></ds:Transform><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>"#),
                code: "signature_transform",
            },
            Attack {
                name: "a base64 transform",
                xml: with_transforms(r#"<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#base64"/>"#),
                code: "signature_transform",
            },
            Attack {
                name: "the enveloped transform alone",
                xml: with_transforms(r#"<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>"#),
                code: "signature_transform",
            },
            Attack {
                name: "canonicalisation with comments",
                xml: with_transforms(r#"<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#WithComments"/>"#),
                code: "signature_transform",
            },
            Attack {
                name: "SignedInfo canonicalised by XSLT",
                xml: envelope(&signed.replacen(
                    r#"<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>"#,
                    r#"<ds:CanonicalizationMethod Algorithm="http://www.w3.org/TR/1999/REC-xslt-19991116"/>"#,
                    1,
                )),
                code: "signature_transform",
            },
        ]);
        attacks
    }
}
