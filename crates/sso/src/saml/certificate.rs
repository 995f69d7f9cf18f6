//! IdP signing certificates as admins paste them: PEM, DER, or bare base64.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use openssl::x509::X509;

/// A parsed X.509 certificate with the facts the console shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    pub der: Vec<u8>,
    pub subject: String,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    #[error("this is not a certificate in PEM, DER or base64 form")]
    Unreadable,
}

fn asn1_to_utc(t: &openssl::asn1::Asn1TimeRef) -> Option<DateTime<Utc>> {
    let epoch = openssl::asn1::Asn1Time::from_unix(0).ok()?;
    let diff = epoch.diff(t).ok()?;
    DateTime::from_timestamp(i64::from(diff.days) * 86_400 + i64::from(diff.secs), 0)
}

impl Certificate {
    /// Reads a certificate from PEM (`-----BEGIN CERTIFICATE-----`), DER bytes, or the bare
    /// base64 of DER (as IdP metadata and admin consoles show it).
    pub fn parse(input: &[u8]) -> Result<Certificate, CertificateError> {
        let text = std::str::from_utf8(input).ok().map(str::trim);
        let x509 = match text {
            Some(t) if t.starts_with("-----BEGIN") => X509::from_pem(t.as_bytes()).ok(),
            Some(t) => {
                let compact: String = t.chars().filter(|c| !c.is_whitespace()).collect();
                STANDARD.decode(compact).ok().and_then(|der| X509::from_der(&der).ok())
            }
            None => None,
        }
        .or_else(|| X509::from_der(input).ok())
        .ok_or(CertificateError::Unreadable)?;
        let der = x509.to_der().map_err(|_| CertificateError::Unreadable)?;
        let subject =
            x509.subject_name().entries().filter_map(|e| e.data().to_string().ok()).collect::<Vec<_>>().join(", ");
        let not_before = asn1_to_utc(x509.not_before()).ok_or(CertificateError::Unreadable)?;
        let not_after = asn1_to_utc(x509.not_after()).ok_or(CertificateError::Unreadable)?;
        Ok(Certificate { der, subject, not_before, not_after })
    }

    /// The bare base64 form, as SAML metadata carries it.
    pub fn base64(&self) -> String {
        STANDARD.encode(&self.der)
    }

    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        now >= self.not_after
    }

    /// Expires within 30 days: time for the admin to add the IdP's next certificate.
    pub fn expiring_soon(&self, now: DateTime<Utc>) -> bool {
        self.not_after < now + chrono::Duration::days(30)
    }
}
