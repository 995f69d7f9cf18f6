//! The Assertion Consumer Service's check of a SAML response (HTTP-POST binding).

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use samael::crypto::{AllowedSignatureAlgorithm, CryptoProvider, ReduceMode};
use samael::metadata::EntityDescriptor;
use samael::schema::Assertion;

use samael::service_provider::{Error as SpError, ServiceProvider};

use super::structure::{self, AssertionKind};
use super::{Refusal, SamlConnection};
use crate::identity::VerifiedIdentity;

/// The default for the largest `SAMLResponse` form value accepted (base64 text). Real responses
/// with a few dozen groups weigh 10 to 30 KB; with 150 groups about 40 KB; with 1,000 groups
/// about 200 KB.
pub const MAX_RESPONSE_BYTES: usize = 512 * 1024;

const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";

/// A response that passed every check.
#[derive(Debug, Clone)]
pub struct VerifiedAssertion {
    pub identity: VerifiedIdentity,
    /// The assertion's ID: the caller refuses it if seen before (replay).
    pub assertion_id: String,
    /// How long the assertion id must be remembered: after this the assertion is expired anyway.
    pub replay_until: DateTime<Utc>,
    /// The request this answers; `None` for an IdP-initiated sign-in.
    pub in_response_to: Option<String>,
}

/// Signature algorithms accepted: RSA and ECDSA with SHA-256 or stronger. samael's default
/// would also accept RSA-SHA1.
const ALLOWED: [AllowedSignatureAlgorithm; 6] = [
    AllowedSignatureAlgorithm::RsaSha256,
    AllowedSignatureAlgorithm::RsaSha384,
    AllowedSignatureAlgorithm::RsaSha512,
    AllowedSignatureAlgorithm::EcdsaSha256,
    AllowedSignatureAlgorithm::EcdsaSha384,
    AllowedSignatureAlgorithm::EcdsaSha512,
];

/// Algorithm URIs that name SHA-1 (or no hash worth the name): refused with a precise reason
/// rather than a generic signature failure.
const WEAK: [&str; 5] = [
    "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
    "http://www.w3.org/2000/09/xmldsig#dsa-sha1",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha1",
    "http://www.w3.org/2000/09/xmldsig#hmac-sha1",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-md5",
];

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The IdP as samael wants it: metadata with the pinned signing certificates. Certificates in
/// the message's own KeyInfo are never trusted.
fn idp_metadata(conn: &SamlConnection, with_keys: bool) -> Result<EntityDescriptor, Refusal> {
    let keys: String = conn
        .idp
        .certificates
        .iter()
        .filter(|_| with_keys)
        .collect::<Vec<_>>()
        .iter()
        .map(|c| {
            format!(
                "<md:KeyDescriptor use=\"signing\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>",
                c.base64()
            )
        })
        .collect();
    let xml = format!(
        "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" entityID=\"{}\">\
         <md:IDPSSODescriptor protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">{keys}\
         <md:SingleSignOnService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\" Location=\"{}\"/>\
         </md:IDPSSODescriptor></md:EntityDescriptor>",
        xml_escape(&conn.idp.entity_id),
        xml_escape(&conn.idp.sso_url),
    );
    xml.parse().map_err(|e| Refusal::Other(format!("the IdP settings cannot be used: {e}")))
}

fn at(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Turns samael's verdict into ours. Anything about signatures says only "invalid signature":
/// which part failed is not worth telling an attacker, and an admin's fix is the same.
fn refusal_from(e: SpError, conn: &SamlConnection) -> Refusal {
    match e {
        SpError::FailedToValidateSignature | SpError::CryptoXmlError(_) => Refusal::SignatureInvalid,
        SpError::DestinationValidationError { response_destination, sp_acs_url } => Refusal::DestinationMismatch {
            found: response_destination.unwrap_or_default(),
            expected: sp_acs_url.unwrap_or_default(),
        },
        SpError::ResponseIssuerMismatch { issuer, entity_id } => Refusal::IssuerMismatch {
            element: "response",
            found: issuer.unwrap_or_default(),
            expected: entity_id.unwrap_or_default(),
        },
        SpError::AssertionIssuerMismatch { issuer, entity_id } => Refusal::IssuerMismatch {
            element: "assertion",
            found: issuer.unwrap_or_default(),
            expected: entity_id.unwrap_or_default(),
        },
        SpError::AssertionConditionAudienceRestrictionFailed { requirement } => {
            Refusal::AudienceMismatch { found: "another audience".into(), expected: requirement }
        }
        SpError::AssertionRecipientMismatch { assertion_recipient, sp_acs_url } => Refusal::RecipientMismatch {
            found: assertion_recipient.unwrap_or_default(),
            expected: sp_acs_url.unwrap_or_default(),
        },
        SpError::AssertionInResponseToInvalid { .. } | SpError::ResponseInResponseToInvalid { .. } => {
            Refusal::UnknownInResponseTo { found: "the assertion's InResponseTo".into() }
        }
        SpError::AssertionExpired { time }
        | SpError::ResponseExpired { time }
        | SpError::AssertionConditionExpired { time }
        | SpError::AssertionSubjectConfirmationExpired { time } => {
            Refusal::Expired { at: time, skew_secs: conn.clock_skew.num_seconds() }
        }
        SpError::AssertionConditionExpiredBefore { time }
        | SpError::AssertionSubjectConfirmationExpiredBefore { time } => {
            Refusal::NotYetValid { at: time, skew_secs: conn.clock_skew.num_seconds() }
        }
        SpError::ResponseBadStatusCode { code } => Refusal::Status { code, message: None },
        SpError::MissingPrivateKeySP => Refusal::EncryptedWithoutKey,
        SpError::FailedToParseSamlResponse(e) => Refusal::MalformedXml(e.to_string()),
        other => Refusal::Other(other.to_string()),
    }
}

/// The `InResponseTo` a response claims, read without trusting anything, so the caller can
/// look up the request it says it answers (and then pass that id to [`verify_response`]).
/// Nothing is read from a body over `max_bytes` or from a document of the wrong shape.
pub fn in_response_to(saml_response: &str, max_bytes: usize) -> Option<String> {
    if saml_response.len() > max_bytes {
        return None;
    }
    let xml = decode(saml_response).ok()?;
    if has_doctype(&xml) {
        return None;
    }
    structure::read(&xml).ok()?.in_response_to
}

/// True when `xml` declares a DOCTYPE or an entity, compared without regard to case and without
/// copying the document.
fn has_doctype(xml: &str) -> bool {
    let bytes = xml.as_bytes();
    bytes.windows(9).any(|w| {
        w[0] == b'<'
            && w[1] == b'!'
            && (w[2..9].eq_ignore_ascii_case(b"doctype") || w[2..8].eq_ignore_ascii_case(b"entity"))
    })
}

/// A document that declares an encoding other than UTF-8: libxml2 would honour it while the
/// checks here read UTF-8, so the two could see different documents.
fn declares_foreign_encoding(xml: &str) -> bool {
    let Some(decl) = xml.trim_start_matches('\u{feff}').strip_prefix("<?xml") else { return false };
    let decl = &decl[..decl.find("?>").unwrap_or(decl.len())];
    match decl.find("encoding") {
        None => false,
        Some(at) => {
            let value = decl[at + 8..].trim_start().trim_start_matches('=').trim_start();
            let value = value.trim_start_matches(['"', '\'']);
            let name: String =
                value.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect();
            !name.eq_ignore_ascii_case("utf-8") && !name.eq_ignore_ascii_case("utf8")
        }
    }
}

/// Decodes the form value; IdPs may wrap base64 in lines.
fn decode(saml_response: &str) -> Result<String, Refusal> {
    let bytes = match STANDARD.decode(saml_response) {
        Ok(b) => b,
        Err(_) => {
            let compact: String = saml_response.chars().filter(|c| !c.is_ascii_whitespace()).collect();
            STANDARD.decode(compact).map_err(|_| Refusal::MalformedBase64)?
        }
    };
    String::from_utf8(bytes).map_err(|_| Refusal::MalformedXml("not UTF-8".into()))
}

/// A connection made ready for many verifications: the samael service provider (with the
/// pinned IdP certificates) is built once. Cache it per connection version.
pub struct PreparedSaml {
    conn: SamlConnection,
    sp: ServiceProvider,
    /// The same rules without signature checking, used only on content whose integrity Portico
    /// has just verified itself (a signed response around an encrypted, unsigned assertion).
    verified_content_sp: ServiceProvider,
    certificates: Vec<samael::crypto::CertificateDer>,
}

impl std::fmt::Debug for PreparedSaml {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedSaml").field("conn", &self.conn).finish_non_exhaustive()
    }
}

impl SamlConnection {
    /// Builds what verification needs once. Refuses a connection without IdP certificates.
    pub fn prepare(&self) -> Result<PreparedSaml, Refusal> {
        if self.idp.certificates.is_empty() {
            return Err(Refusal::NoCertificate);
        }
        // Before libxmlsec1 sees any response of ours, it loses the means to open URIs.
        super::xmlsec_io::forbid_uri_loading();
        let provider = |with_keys: bool| -> Result<ServiceProvider, Refusal> {
            Ok(ServiceProvider {
                entity_id: Some(self.sp.entity_id.clone()),
                acs_url: Some(self.sp.acs_url.clone()),
                idp_metadata: idp_metadata(self, with_keys)?,
                allow_idp_initiated: self.allow_idp_initiated,
                max_clock_skew: self.clock_skew,
                max_issue_delay: Duration::minutes(5) + self.clock_skew,
                allowed_signature_algorithms: Some(ALLOWED.to_vec()),
                ..ServiceProvider::default()
            })
        };
        let certificates =
            self.idp.certificates.iter().map(|c| samael::crypto::CertificateDer::from(c.der.clone())).collect();
        Ok(PreparedSaml {
            conn: self.clone(),
            sp: provider(true)?,
            verified_content_sp: provider(false)?,
            certificates,
        })
    }
}

/// Checks a `SAMLResponse` form value against the connection, the request ids Portico is
/// waiting for, and `now`. Replay (an assertion id seen before) is the caller's check, using
/// [`VerifiedAssertion::assertion_id`]. For many responses, [`SamlConnection::prepare`] once and
/// call [`PreparedSaml::verify`].
pub fn verify_response(
    conn: &SamlConnection,
    saml_response: &str,
    expected_request_ids: &[&str],
    now: DateTime<Utc>,
) -> Result<VerifiedAssertion, Refusal> {
    conn.prepare()?.verify(saml_response, expected_request_ids, now)
}

impl PreparedSaml {
    pub fn connection(&self) -> &SamlConnection {
        &self.conn
    }

    /// See [`verify_response`].
    pub fn verify(
        &self,
        saml_response: &str,
        expected_request_ids: &[&str],
        now: DateTime<Utc>,
    ) -> Result<VerifiedAssertion, Refusal> {
        let conn = &self.conn;
        if saml_response.len() > conn.max_response_bytes {
            return Err(Refusal::TooLarge { limit: conn.max_response_bytes });
        }
        let xml = decode(saml_response)?;
        if has_doctype(&xml) {
            return Err(Refusal::Doctype);
        }
        if declares_foreign_encoding(&xml) {
            return Err(Refusal::MalformedXml("only UTF-8 documents are accepted".into()));
        }
        // The shape first (see `structure`): one assertion in its place, signatures only where
        // they belong and naming their own parent, no reference out of the document, no
        // comments. Nothing in it is trusted yet; it also gives earlier, clearer refusals (an
        // IdP error status, a wrong Destination, an unexpected InResponseTo).
        let outer = structure::read(&xml)?;
        if let Some(code) = outer.status.clone()
            && code != SUCCESS
        {
            return Err(Refusal::Status { code, message: outer.status_message.clone() });
        }
        let Some(kind) = outer.assertion else { return Err(Refusal::NoAssertion) };
        // Destination must name this ACS when present, and must be present on a signed response
        // (SAML bindings 3.5.5.2). The signed Recipient of the assertion is checked either way.
        match &outer.destination {
            Some(d) if *d != conn.sp.acs_url => {
                return Err(Refusal::DestinationMismatch { found: d.clone(), expected: conn.sp.acs_url.clone() });
            }
            None if outer.response_signed => {
                return Err(Refusal::DestinationMismatch { found: "(none)".into(), expected: conn.sp.acs_url.clone() });
            }
            _ => {}
        }
        match &outer.in_response_to {
            Some(id) if !expected_request_ids.contains(&id.as_str()) => {
                return Err(Refusal::UnknownInResponseTo { found: id.clone() });
            }
            None if !conn.allow_idp_initiated => return Err(Refusal::Unsolicited),
            _ => {}
        }
        if let Some(weak) = WEAK.iter().find(|w| xml.contains(*w)) {
            return Err(Refusal::WeakAlgorithm { algorithm: (*weak).to_owned() });
        }
        // An encrypted assertion is decrypted first. When the response itself is signed, that
        // signature covers the encrypted form: it is verified on the document as received, and
        // only the verified (pre-digested) content is decrypted and read further.
        let encrypted = kind == AssertionKind::Encrypted;
        let (doc, integrity_checked) = match (encrypted, &conn.decryption_key) {
            (true, Some(key)) if outer.response_signed => {
                let verified = samael::crypto::Crypto::reduce_xml_to_signed_with_allowed_algorithms(
                    &xml,
                    &self.certificates,
                    ReduceMode::PreDigest,
                    Some(&ALLOWED),
                )
                .map_err(|_| Refusal::SignatureInvalid)?;
                (super::decrypt::decrypt_in_place(&verified, key, conn.allow_cbc)?, true)
            }
            (true, Some(key)) => (super::decrypt::decrypt_in_place(&xml, key, conn.allow_cbc)?, false),
            (true, None) => return Err(Refusal::EncryptedWithoutKey),
            (false, Some(_)) => return Err(Refusal::NotEncrypted),
            (false, None) => (xml, false),
        };
        // The decrypted document has the same shape to keep, now with a plain assertion.
        let inner = structure::read(&doc)?;
        if inner.assertion != Some(AssertionKind::Plain) {
            return Err(Refusal::UnexpectedStructure("the decrypted response carries no plain assertion".into()));
        }
        if let Some(weak) = WEAK.iter().find(|w| doc.contains(*w)) {
            return Err(Refusal::WeakAlgorithm { algorithm: (*weak).to_owned() });
        }
        let assertion = if integrity_checked && !inner.assertion_signed {
            // Verified above; samael's rules still apply, without a second signature check.
            self.verified_content_sp.parse_xml_response(&doc, Some(expected_request_ids))
        } else {
            // PreDigest: what is parsed is exactly the canonical content whose digest the
            // verified signature covers, so nothing outside it (a wrapped, forged assertion) can
            // be read. It is also about three times faster than samael's default reduction.
            self.sp.parse_xml_response_with_mode(&doc, Some(expected_request_ids), ReduceMode::PreDigest)
        }
        .map_err(|e| refusal_from(e, conn))?;
        // Was the assertion signed itself? The shape allows a signature in two places only, each
        // naming its own parent, and samael verifies every signature of the document: so a
        // signature directly in the assertion is one that verified and covers it.
        if conn.require_signed_assertion && !inner.assertion_signed {
            return Err(Refusal::AssertionUnsigned);
        }
        // The request answered is the one named in the signed SubjectConfirmationData; the
        // envelope's unsigned InResponseTo must agree with it.
        let signed_irt = assertion
            .subject
            .as_ref()
            .and_then(|s| s.subject_confirmations.as_ref())
            .and_then(|c| c.iter().find_map(|c| c.subject_confirmation_data.as_ref()?.in_response_to.clone()));
        if signed_irt != outer.in_response_to {
            return Err(Refusal::UnknownInResponseTo {
                found: signed_irt.or(outer.in_response_to).unwrap_or_else(|| "(none)".into()),
            });
        }
        if let Some(id) = &signed_irt
            && !expected_request_ids.contains(&id.as_str())
        {
            return Err(Refusal::UnknownInResponseTo { found: id.clone() });
        }
        check_assertion(conn, &assertion, now, signed_irt)
    }
}

/// The rules evaluated against the `now` passed in (samael checks them against the wall clock
/// too), and the audience, which samael checks only when present: here it is required.
fn check_assertion(
    conn: &SamlConnection,
    assertion: &Assertion,
    now: DateTime<Utc>,
    in_response_to: Option<String>,
) -> Result<VerifiedAssertion, Refusal> {
    let skew = conn.clock_skew;
    let conditions = assertion.conditions.as_ref();
    let audiences: Vec<&String> = conditions
        .and_then(|c| c.audience_restrictions.as_ref())
        .into_iter()
        .flatten()
        .flat_map(|r| r.audience.iter())
        .collect();
    if !audiences.iter().any(|a| **a == conn.sp.entity_id) {
        return Err(Refusal::AudienceMismatch {
            found: audiences.first().map(|a| a.to_string()).unwrap_or_else(|| "(none)".into()),
            expected: conn.sp.entity_id.clone(),
        });
    }
    let confirmation = assertion
        .subject
        .as_ref()
        .and_then(|s| s.subject_confirmations.as_ref())
        .and_then(|c| c.iter().find_map(|c| c.subject_confirmation_data.as_ref()));
    let not_before = conditions.and_then(|c| c.not_before);
    let not_after = [conditions.and_then(|c| c.not_on_or_after), confirmation.and_then(|d| d.not_on_or_after)]
        .into_iter()
        .flatten()
        .min();
    if let Some(nb) = not_before
        && now < nb - skew
    {
        return Err(Refusal::NotYetValid { at: at(nb), skew_secs: skew.num_seconds() });
    }
    let Some(not_after) = not_after else {
        return Err(Refusal::Expired { at: "(no NotOnOrAfter given)".into(), skew_secs: skew.num_seconds() });
    };
    if now >= not_after + skew {
        return Err(Refusal::Expired { at: at(not_after), skew_secs: skew.num_seconds() });
    }
    let subject = assertion
        .subject
        .as_ref()
        .and_then(|s| s.name_id.as_ref())
        .map(|n| n.value.trim().to_owned())
        .filter(|v| !v.is_empty())
        .ok_or(Refusal::NoSubject)?;
    let mut raw: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for statement in assertion.attribute_statements.iter().flatten() {
        for attribute in &statement.attributes {
            let Some(name) = attribute.name.clone().or_else(|| attribute.friendly_name.clone()) else {
                continue;
            };
            let values = raw.entry(name).or_default();
            values.extend(attribute.values.iter().filter_map(|v| v.value.clone()));
        }
    }
    Ok(VerifiedAssertion {
        identity: VerifiedIdentity::map(subject, raw, &conn.mapping),
        assertion_id: assertion.id.clone(),
        replay_until: not_after + skew,
        in_response_to,
    })
}
