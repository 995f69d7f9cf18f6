//! SAML metadata: reading an IdP's (the "automatic" set-up) and writing Portico's own SP
//! metadata (samael's marks every key as a signing key and advertises ciphers it cannot
//! decrypt, so Portico writes its own).

use std::str::FromStr;

use samael::metadata::EntityDescriptor;

use super::certificate::Certificate;

const REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";

/// Largest IdP metadata document read. Entra's federation metadata is about 20 KB.
pub const MAX_METADATA_BYTES: usize = 1024 * 1024;

/// What Portico takes from an IdP's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpMetadata {
    pub entity_id: String,
    pub sso_url: String,
    pub certificates: Vec<Certificate>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    #[error("the metadata is larger than {MAX_METADATA_BYTES} bytes")]
    TooLarge,
    #[error("the metadata contains a DOCTYPE, which SAML metadata never needs")]
    Doctype,
    #[error("this is not SAML metadata: {0}")]
    Unreadable(String),
    #[error("the metadata names no entity id")]
    NoEntityId,
    #[error("the metadata describes no identity provider (IDPSSODescriptor)")]
    NotAnIdp,
    #[error("the IdP offers no single sign-on service over HTTP-Redirect")]
    NoRedirectBinding,
    #[error("the IdP publishes no signing certificate")]
    NoCertificate,
}

/// Fetches an IdP's metadata from `url` through `outbound` (the outbound policy: HTTPS, public
/// addresses checked when connecting, no redirect, time and size limits) and reads it. The
/// certificates in it become trusted signing keys. The error is a sentence for the admin.
pub async fn fetch_idp_metadata(outbound: &crate::outbound::Outbound, url: &str) -> Result<IdpMetadata, String> {
    use crate::outbound::OutboundError;
    let parsed = url::Url::parse(url).map_err(|e| format!("`{url}` is not a URL: {e}"))?;
    let body = outbound.get(&parsed).await.map_err(|e| match e {
        OutboundError::Refused(why) => format!("Portico does not fetch metadata from there: {why}"),
        OutboundError::TooLarge { .. } => MetadataError::TooLarge.to_string(),
        other => format!("Portico could not read the metadata URL: {other}"),
    })?;
    let text = String::from_utf8(body).map_err(|_| "the metadata is not UTF-8 text".to_owned())?;
    parse_idp_metadata(&text).map_err(|e| e.to_string())
}

/// Reads an IdP's metadata document.
pub fn parse_idp_metadata(xml: &str) -> Result<IdpMetadata, MetadataError> {
    if xml.len() > MAX_METADATA_BYTES {
        return Err(MetadataError::TooLarge);
    }
    let lower = xml.to_ascii_lowercase();
    if lower.contains("<!doctype") || lower.contains("<!entity") {
        return Err(MetadataError::Doctype);
    }
    if !xml.contains("EntityDescriptor") {
        return Err(MetadataError::Unreadable("no EntityDescriptor element".into()));
    }
    let doc = EntityDescriptor::from_str(xml).map_err(|e| MetadataError::Unreadable(e.to_string()))?;
    let entity_id = doc.entity_id.clone().filter(|e| !e.trim().is_empty()).ok_or(MetadataError::NoEntityId)?;
    let idps = doc.idp_sso_descriptors.unwrap_or_default();
    if idps.is_empty() {
        return Err(MetadataError::NotAnIdp);
    }
    let sso_url = idps
        .iter()
        .flat_map(|d| d.single_sign_on_services.iter())
        .find(|e| e.binding == REDIRECT)
        .map(|e| e.location.clone())
        .ok_or(MetadataError::NoRedirectBinding)?;
    let mut certificates: Vec<Certificate> = Vec::new();
    for d in &idps {
        for key in &d.key_descriptors {
            if matches!(key.key_use.as_deref(), Some("encryption")) {
                continue;
            }
            for b64 in key.key_info.x509_data.iter().flat_map(|x| x.certificates.iter()) {
                if let Ok(cert) = Certificate::parse(b64.as_bytes())
                    && !certificates.contains(&cert)
                {
                    certificates.push(cert);
                }
            }
        }
    }
    if certificates.is_empty() {
        return Err(MetadataError::NoCertificate);
    }
    Ok(IdpMetadata { entity_id, sso_url, certificates })
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// What Portico's SP metadata says about one connection.
#[derive(Debug, Clone, Default)]
pub struct SpMetadata<'a> {
    pub entity_id: &'a str,
    pub acs_url: &'a str,
    /// The SP certificate (base64 DER) the IdP encrypts assertions to, if it should.
    pub encryption_certificate: Option<&'a str>,
    /// The SP certificate (base64 DER) AuthnRequests are signed with, if they are.
    pub signing_certificate: Option<&'a str>,
    pub want_assertions_signed: bool,
}

/// Portico's SP metadata for one connection: entity id, the ACS (HTTP-POST), whether assertions
/// must be signed, and the SP's signing and encryption certificates when it has them, with the
/// algorithms Portico decrypts.
pub fn sp_metadata(m: &SpMetadata<'_>) -> String {
    let (entity_id, acs_url, encryption_certificate) = (m.entity_id, m.acs_url, m.encryption_certificate);
    let signing = m
        .signing_certificate
        .map(|cert| format!(r#"
    <md:KeyDescriptor use="signing">
      <ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>
    </md:KeyDescriptor>"#))
        .unwrap_or_default();
    let encryption = encryption_certificate
        .map(|cert| {
            format!(
                r#"
    <md:KeyDescriptor use="encryption">
      <ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>
      <md:EncryptionMethod Algorithm="{}"/>
      <md:EncryptionMethod Algorithm="{}"/>
      <md:EncryptionMethod Algorithm="{}"/>
      <md:EncryptionMethod Algorithm="{}"/>
      <md:EncryptionMethod Algorithm="{}"/>
    </md:KeyDescriptor>"#,
                super::decrypt::AES256_GCM,
                super::decrypt::AES128_GCM,
                super::decrypt::AES256_CBC,
                super::decrypt::AES128_CBC,
                super::decrypt::RSA_OAEP_MGF1P,
            )
        })
        .unwrap_or_default();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{entity}">
  <md:SPSSODescriptor AuthnRequestsSigned="{signed}" WantAssertionsSigned="{want}" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">{signing}{encryption}
    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified</md:NameIDFormat>
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="{acs}" index="0" isDefault="true"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>
"#,
        entity = escape(entity_id),
        acs = escape(acs_url),
        signed = m.signing_certificate.is_some(),
        want = m.want_assertions_signed,
    )
}
