//! The SP's own key pair for a connection that receives encrypted assertions.

use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::{X509, X509NameBuilder};

/// A generated key pair: the certificate (DER) to publish, the key (PKCS#8 PEM) to keep secret.
#[derive(Debug)]
pub struct GeneratedKey {
    pub certificate_der: Vec<u8>,
    pub private_key_pem: Vec<u8>,
}

/// RSA 3072 with a self-signed certificate valid for ten years (IdPs pin it; they do not check
/// a chain). `name` becomes the certificate's common name.
pub fn generate(name: &str) -> Result<GeneratedKey, openssl::error::ErrorStack> {
    let key = PKey::from_rsa(Rsa::generate(3072)?)?;
    let mut subject = X509NameBuilder::new()?;
    subject.append_entry_by_nid(Nid::COMMONNAME, name)?;
    let subject = subject.build();
    let mut serial = BigNum::new()?;
    serial.rand(127, MsbOption::MAYBE_ZERO, false)?;
    let mut builder = X509::builder()?;
    builder.set_version(2)?;
    let serial = serial.to_asn1_integer()?;
    builder.set_serial_number(&serial)?;
    builder.set_subject_name(&subject)?;
    builder.set_issuer_name(&subject)?;
    builder.set_pubkey(&key)?;
    let (not_before, not_after) = (Asn1Time::days_from_now(0)?, Asn1Time::days_from_now(3650)?);
    builder.set_not_before(&not_before)?;
    builder.set_not_after(&not_after)?;
    builder.sign(&key, MessageDigest::sha256())?;
    Ok(GeneratedKey { certificate_der: builder.build().to_der()?, private_key_pem: key.private_key_to_pem_pkcs8()? })
}

/// Reads a private key kept by [`generate`].
pub fn load(pem: &[u8]) -> Result<PKey<Private>, openssl::error::ErrorStack> {
    PKey::private_key_from_pem(pem)
}
