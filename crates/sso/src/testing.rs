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
        signed.trim_start_matches(|c| c != '<').to_owned().replacen("<?xml version=\"1.0\"?>\n", "", 1)
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
