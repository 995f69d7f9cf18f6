//! SAML 2.0 service provider, built on samael and libxmlsec1.
//!
//! samael does the XML signature work; this module adds what it leaves to its caller (see
//! `shared/DEPENDENCIES.md`): a configuration without an IdP certificate is refused instead of
//! silently accepting unsigned responses; only SHA-256-or-stronger signatures are allowed;
//! `Destination` is always checked; AuthnRequest ids are ours (UUIDs); time rules are evaluated
//! against the `now` passed in; DOCTYPEs and oversized bodies are refused before any parsing;
//! samael's non-`Send` errors become [`Refusal`] values here.

pub mod certificate;
pub mod decrypt;
pub mod metadata;
pub mod request;
pub mod response;
pub mod sp_key;
pub mod structure;
mod xmlsec_io;

use chrono::Duration;

use crate::identity::AttributeMapping;

pub use certificate::Certificate;
pub use metadata::{IdpMetadata, SpMetadata, fetch_idp_metadata, parse_idp_metadata, sp_metadata};
pub use request::authn_request_url;
pub use response::{PreparedSaml, VerifiedAssertion, in_response_to, verify_response};
pub use xmlsec_io::forbid_uri_loading;

/// The SP's side of one connection: what Portico tells the IdP about itself.
#[derive(Debug, Clone)]
pub struct ServiceProviderSettings {
    /// Portico's entity id for this connection (also the expected Audience).
    pub entity_id: String,
    /// The Assertion Consumer Service URL the IdP posts to.
    pub acs_url: String,
}

/// The IdP's side: who signs, where to send people.
#[derive(Debug, Clone)]
pub struct IdentityProviderSettings {
    pub entity_id: String,
    pub sso_url: String,
    /// Every certificate currently trusted to sign (several during a rotation).
    pub certificates: Vec<Certificate>,
}

/// Everything needed to start and finish a SAML sign-in for one connection.
#[derive(Debug, Clone)]
pub struct SamlConnection {
    pub sp: ServiceProviderSettings,
    pub idp: IdentityProviderSettings,
    pub mapping: AttributeMapping,
    /// Accept responses that answer no request of ours. Off unless the admin turns it on.
    pub allow_idp_initiated: bool,
    /// Tolerated difference between the IdP's clock and ours.
    pub clock_skew: Duration,
    /// The SP's private key, when the IdP encrypts assertions to this connection. With a key,
    /// unencrypted assertions are refused: the admin asked for encryption.
    pub decryption_key: Option<openssl::pkey::PKey<openssl::pkey::Private>>,
    /// The SP's private key for signing AuthnRequests (HTTP-Redirect binding, RSA-SHA256).
    pub signing_key: Option<openssl::pkey::PKey<openssl::pkey::Private>>,
    /// Require a signature on the assertion itself; a signed response around an unsigned
    /// assertion is then refused.
    pub require_signed_assertion: bool,
    /// The largest `SAMLResponse` form value accepted (base64 text), normally
    /// [`response::MAX_RESPONSE_BYTES`].
    pub max_response_bytes: usize,
    /// Accept assertions encrypted with AES-CBC. CBC without a MAC is open to padding-oracle
    /// attacks (the content is decrypted before its signature is checked), so only AES-GCM is
    /// accepted unless the admin allows CBC for an IdP that can do nothing else.
    pub allow_cbc: bool,
}

/// Why a SAML response (or the connection's settings) was refused. `code()` is stable and goes to
/// the audit log; `Display` is the sentence an admin reads in test mode. End users see neither.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the connection has no IdP signing certificate, so no response can be trusted")]
    NoCertificate,
    #[error("the SAMLResponse is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("the SAMLResponse is not valid base64")]
    MalformedBase64,
    #[error("the SAMLResponse is not well-formed XML: {0}")]
    MalformedXml(String),
    #[error("the response contains a DOCTYPE or entity declaration, which SAML never needs")]
    Doctype,
    #[error("the response is signed with {algorithm}; Portico accepts RSA or ECDSA with SHA-256 or stronger")]
    WeakAlgorithm { algorithm: String },
    #[error("no valid signature by a configured IdP certificate covers the assertion")]
    SignatureInvalid,
    #[error("the response's Destination `{found}` is not this connection's ACS URL `{expected}`")]
    DestinationMismatch { found: String, expected: String },
    #[error("the {element} Issuer `{found}` is not the IdP's entity id `{expected}`")]
    IssuerMismatch { element: &'static str, found: String, expected: String },
    #[error("the assertion is meant for audience `{found}`, not `{expected}`")]
    AudienceMismatch { found: String, expected: String },
    #[error("the assertion's Recipient `{found}` is not this connection's ACS URL `{expected}`")]
    RecipientMismatch { found: String, expected: String },
    #[error("the response answers a request Portico did not send or no longer waits for ({found})")]
    UnknownInResponseTo { found: String },
    #[error("the response answers no request (IdP-initiated sign-in), which this connection does not allow")]
    Unsolicited,
    #[error("the assertion expired at {at} (clock skew allowed: {skew_secs} s)")]
    Expired { at: String, skew_secs: i64 },
    #[error("the assertion is not valid before {at} (clock skew allowed: {skew_secs} s)")]
    NotYetValid { at: String, skew_secs: i64 },
    #[error("the IdP answered with status {code}{}", message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    Status { code: String, message: Option<String> },
    #[error("the response carries no assertion")]
    NoAssertion,
    #[error("the assertion has no subject (NameID)")]
    NoSubject,
    #[error("the assertion is encrypted, and this connection has no SP key to decrypt it")]
    EncryptedWithoutKey,
    #[error("the assertion is not encrypted, but this connection requires encrypted assertions")]
    NotEncrypted,
    #[error("the encrypted assertion cannot be used: {0}")]
    Decryption(String),
    #[error(
        "the assertion itself is not signed (only the response is), and this connection requires signed assertions"
    )]
    AssertionUnsigned,
    #[error("the response is not shaped as an IdP sends it: {0}")]
    UnexpectedStructure(String),
    #[error("the response's signatures are out of place: {0}")]
    SignaturePlacement(String),
    #[error("a signature points outside what it signs: {0}")]
    SignatureReference(String),
    #[error("a signature uses a transform Portico does not run: {0}")]
    SignatureTransform(String),
    #[error("a signature carries what Portico does not accept: {0}")]
    SignatureContent(String),
    #[error("the response contains an XML comment, which would let the signed text differ from the text read")]
    Comment,
    #[error(
        "the assertion is encrypted with {algorithm} (CBC mode); Portico accepts AES-GCM unless the connection allows CBC"
    )]
    WeakEncryption { algorithm: String },
    #[error("the response was refused: {0}")]
    Other(String),
}

impl Refusal {
    /// A stable, machine-readable reason for logs and the audit trail.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::NoCertificate => "no_certificate",
            Refusal::TooLarge { .. } => "too_large",
            Refusal::MalformedBase64 => "malformed_base64",
            Refusal::MalformedXml(_) => "malformed_xml",
            Refusal::Doctype => "doctype",
            Refusal::WeakAlgorithm { .. } => "weak_algorithm",
            Refusal::SignatureInvalid => "signature_invalid",
            Refusal::DestinationMismatch { .. } => "destination_mismatch",
            Refusal::IssuerMismatch { .. } => "issuer_mismatch",
            Refusal::AudienceMismatch { .. } => "audience_mismatch",
            Refusal::RecipientMismatch { .. } => "recipient_mismatch",
            Refusal::UnknownInResponseTo { .. } => "unknown_in_response_to",
            Refusal::Unsolicited => "unsolicited",
            Refusal::Expired { .. } => "expired",
            Refusal::NotYetValid { .. } => "not_yet_valid",
            Refusal::Status { .. } => "status_not_success",
            Refusal::NoAssertion => "no_assertion",
            Refusal::NoSubject => "no_subject",
            Refusal::EncryptedWithoutKey => "encrypted_without_key",
            Refusal::NotEncrypted => "not_encrypted",
            Refusal::Decryption(_) => "decryption_failed",
            Refusal::AssertionUnsigned => "assertion_unsigned",
            Refusal::UnexpectedStructure(_) => "unexpected_structure",
            Refusal::SignaturePlacement(_) => "signature_placement",
            Refusal::SignatureReference(_) => "signature_reference",
            Refusal::SignatureTransform(_) => "signature_transform",
            Refusal::SignatureContent(_) => "signature_content",
            Refusal::Comment => "comment",
            Refusal::WeakEncryption { .. } => "weak_encryption",
            Refusal::Other(_) => "other",
        }
    }
}
