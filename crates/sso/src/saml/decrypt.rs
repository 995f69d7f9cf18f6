//! Encrypted assertions (XML Encryption), decrypted before any signature check.
//!
//! samael decrypts only AES-128 and refuses an encrypted, signed assertion inside an unsigned
//! response; Okta and others recommend AES-256. So Portico finds the `EncryptedAssertion`, takes
//! the content key out of its `EncryptedKey` with the connection's SP key (RSA-OAEP), decrypts the
//! content (AES-128/256 in GCM or CBC mode) with OpenSSL, and puts the plaintext assertion in the
//! encrypted one's place. The document then goes through the very same checks as a plain one:
//! the assertion's own signature must verify.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use openssl::encrypt::Decrypter;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Padding;
use openssl::symm::{Cipher, decrypt_aead};
use quick_xml::Reader;
use quick_xml::events::Event;

use super::Refusal;

pub const AES128_CBC: &str = "http://www.w3.org/2001/04/xmlenc#aes128-cbc";
pub const AES256_CBC: &str = "http://www.w3.org/2001/04/xmlenc#aes256-cbc";
pub const AES128_GCM: &str = "http://www.w3.org/2009/xmlenc11#aes128-gcm";
pub const AES256_GCM: &str = "http://www.w3.org/2009/xmlenc11#aes256-gcm";
pub const RSA_OAEP_MGF1P: &str = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p";
pub const RSA_OAEP: &str = "http://www.w3.org/2009/xmlenc11#rsa-oaep";

/// What the `EncryptedAssertion` says, and where it stands in the document.
#[derive(Debug, Default)]
struct Parts {
    /// Byte range of the whole `EncryptedAssertion` element.
    span: (usize, usize),
    data_algorithm: String,
    data_cipher: String,
    key_algorithm: String,
    key_digest: Option<String>,
    key_mgf: Option<String>,
    key_cipher: String,
}

fn bad(reason: impl Into<String>) -> Refusal {
    Refusal::Decryption(reason.into())
}

/// One answer for every failure of the cryptography itself (wrong key, tampering, bad padding,
/// garbage plaintext), so that nothing can be learned by trying variants.
fn undecryptable() -> Refusal {
    bad("it cannot be decrypted with this connection's SP key")
}

fn local(name: &[u8]) -> &[u8] {
    name.rsplit(|b| *b == b':').next().unwrap_or(name)
}

fn algorithm_of(e: &quick_xml::events::BytesStart<'_>) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| local(a.key.as_ref()) == b"Algorithm")
        .and_then(|a| a.normalized_value(quick_xml::XmlVersion::Implicit1_0).ok().map(|v| v.into_owned()))
}

/// Reads the algorithms and cipher values of the `EncryptedAssertion` child of the root element,
/// using the first `EncryptedKey` only.
fn parts(xml: &str) -> Result<Parts, Refusal> {
    let mut reader = Reader::from_str(xml);
    let mut path: Vec<Vec<u8>> = Vec::new();
    let mut p = Parts::default();
    let mut depth = 0usize;
    let mut inside = false;
    let mut keys_seen = 0usize;
    loop {
        let before = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        let event = reader.read_event().map_err(|e| Refusal::MalformedXml(e.to_string()))?;
        let (element, opens) = match &event {
            Event::Start(e) => (Some(e), true),
            Event::Empty(e) => (Some(e), false),
            _ => (None, false),
        };
        if let Some(e) = element {
            let name = local(e.name().as_ref()).to_vec();
            if !inside && depth == 1 && name == b"EncryptedAssertion" {
                inside = true;
                p.span.0 = before;
            }
            if inside {
                if name == b"EncryptedKey" {
                    keys_seen += 1;
                }
                // Only the first EncryptedKey counts (others are for other recipients).
                let in_key = path.iter().any(|n| n == b"EncryptedKey") || name == b"EncryptedKey";
                let first_key = keys_seen <= 1;
                match name.as_slice() {
                    b"EncryptionMethod" if in_key && first_key => p.key_algorithm = algorithm_of(e).unwrap_or_default(),
                    b"EncryptionMethod" if !in_key => p.data_algorithm = algorithm_of(e).unwrap_or_default(),
                    b"DigestMethod" if in_key && first_key => p.key_digest = algorithm_of(e),
                    b"MGF" if in_key && first_key => p.key_mgf = algorithm_of(e),
                    _ => {}
                }
                if opens {
                    path.push(name);
                }
            }
            if opens {
                depth += 1;
            }
            continue;
        }
        match event {
            Event::Text(t) if inside && path.last().is_some_and(|n| n == b"CipherValue") => {
                let text = t.decode().map_err(|e| Refusal::MalformedXml(e.to_string()))?;
                let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
                if path.iter().any(|n| n == b"EncryptedKey") {
                    if keys_seen <= 1 {
                        p.key_cipher.push_str(&compact);
                    }
                } else {
                    p.data_cipher.push_str(&compact);
                }
            }
            Event::End(e) => {
                depth = depth.saturating_sub(1);
                if inside {
                    path.pop();
                    if depth == 1 && local(e.name().as_ref()) == b"EncryptedAssertion" {
                        p.span.1 = usize::try_from(reader.buffer_position()).unwrap_or(0);
                        return Ok(p);
                    }
                }
            }
            Event::Eof => return Err(bad("the response carries no complete EncryptedAssertion")),
            _ => {}
        }
    }
}

fn digest(uri: Option<&str>) -> Result<MessageDigest, Refusal> {
    match uri.unwrap_or("http://www.w3.org/2000/09/xmldsig#sha1") {
        "http://www.w3.org/2000/09/xmldsig#sha1" => Ok(MessageDigest::sha1()),
        "http://www.w3.org/2001/04/xmlenc#sha256" => Ok(MessageDigest::sha256()),
        "http://www.w3.org/2001/04/xmlenc#sha512" => Ok(MessageDigest::sha512()),
        other => Err(bad(format!("unsupported OAEP digest {other}"))),
    }
}

fn mgf(uri: Option<&str>) -> Result<MessageDigest, Refusal> {
    match uri.unwrap_or("http://www.w3.org/2009/xmlenc11#mgf1sha1") {
        "http://www.w3.org/2009/xmlenc11#mgf1sha1" => Ok(MessageDigest::sha1()),
        "http://www.w3.org/2009/xmlenc11#mgf1sha256" => Ok(MessageDigest::sha256()),
        "http://www.w3.org/2009/xmlenc11#mgf1sha512" => Ok(MessageDigest::sha512()),
        other => Err(bad(format!("unsupported OAEP mask function {other}"))),
    }
}

fn content_key(p: &Parts, key: &PKey<Private>) -> Result<Vec<u8>, Refusal> {
    let (md, mgf_md) = match p.key_algorithm.as_str() {
        // The 2001 identifier always uses MGF1 with SHA-1; its digest may be given.
        RSA_OAEP_MGF1P => (digest(p.key_digest.as_deref())?, MessageDigest::sha1()),
        RSA_OAEP => (digest(p.key_digest.as_deref())?, mgf(p.key_mgf.as_deref())?),
        "" => return Err(bad("no EncryptedKey in the EncryptedAssertion")),
        other => {
            return Err(bad(format!("key transport {other} is not accepted; use RSA-OAEP")));
        }
    };
    let wrapped = STANDARD.decode(&p.key_cipher).map_err(|_| bad("the encrypted key is not base64"))?;
    let mut d = Decrypter::new(key).map_err(|e| bad(e.to_string()))?;
    d.set_rsa_padding(Padding::PKCS1_OAEP).map_err(|e| bad(e.to_string()))?;
    d.set_rsa_oaep_md(md).map_err(|e| bad(e.to_string()))?;
    d.set_rsa_mgf1_md(mgf_md).map_err(|e| bad(e.to_string()))?;
    let len = d.decrypt_len(&wrapped).map_err(|e| bad(e.to_string()))?;
    let mut out = vec![0; len];
    // A wrong SP key or a tampered key gives one answer, with no detail to learn from.
    let n = d
        .decrypt(&wrapped, &mut out)
        .map_err(|_| bad("the content key cannot be decrypted with this connection's SP key"))?;
    out.truncate(n);
    Ok(out)
}

fn content(p: &Parts, key: &[u8]) -> Result<Vec<u8>, Refusal> {
    let data = STANDARD.decode(&p.data_cipher).map_err(|_| bad("the encrypted assertion is not base64"))?;
    let (cipher, gcm) = match (p.data_algorithm.as_str(), key.len()) {
        (AES128_GCM, 16) => (Cipher::aes_128_gcm(), true),
        (AES256_GCM, 32) => (Cipher::aes_256_gcm(), true),
        (AES128_CBC, 16) => (Cipher::aes_128_cbc(), false),
        (AES256_CBC, 32) => (Cipher::aes_256_cbc(), false),
        (AES128_GCM | AES256_GCM | AES128_CBC | AES256_CBC, _) => {
            return Err(bad("the content key has the wrong length"));
        }
        (other, _) => {
            return Err(bad(format!("content encryption {other} is not accepted; use AES-GCM or AES-CBC")));
        }
    };
    if gcm {
        // IV (12 bytes) | ciphertext | tag (16 bytes)
        if data.len() < 12 + 16 {
            return Err(bad("the encrypted assertion is too short"));
        }
        let (iv, rest) = data.split_at(12);
        let (ciphertext, tag) = rest.split_at(rest.len() - 16);
        decrypt_aead(cipher, key, Some(iv), &[], ciphertext, tag)
            .map_err(|_| bad("the encrypted assertion does not authenticate"))
    } else {
        // IV (16 bytes) | ciphertext. XML Encryption's padding only promises that the last byte
        // says how many to drop, so OpenSSL's PKCS#7 check is turned off and done here.
        if data.len() < 32 || data.len() % 16 != 0 {
            return Err(bad("the encrypted assertion has a bad length"));
        }
        let (iv, ciphertext) = data.split_at(16);
        let mut c = openssl::symm::Crypter::new(cipher, openssl::symm::Mode::Decrypt, key, Some(iv))
            .map_err(|e| bad(e.to_string()))?;
        c.pad(false);
        let mut out = vec![0; ciphertext.len() + 16];
        let mut n = c.update(ciphertext, &mut out).map_err(|_| undecryptable())?;
        n += c.finalize(&mut out[n..]).map_err(|_| undecryptable())?;
        out.truncate(n);
        let pad = usize::from(*out.last().ok_or_else(|| bad("empty plaintext"))?);
        if pad == 0 || pad > 16 || pad > out.len() {
            return Err(undecryptable());
        }
        out.truncate(out.len() - pad);
        Ok(out)
    }
}

/// Replaces the `EncryptedAssertion` child of the root of `xml` with the assertion it carries.
/// CBC content encryption is refused before anything is decrypted unless `allow_cbc`: without
/// a MAC, how a tampered CBC ciphertext fails can be observed (a padding oracle), so nothing
/// may be decrypted for an attacker to try.
pub fn decrypt_in_place(xml: &str, key: &PKey<Private>, allow_cbc: bool) -> Result<String, Refusal> {
    let p = parts(xml)?;
    if !allow_cbc && matches!(p.data_algorithm.as_str(), AES128_CBC | AES256_CBC) {
        return Err(Refusal::WeakEncryption { algorithm: p.data_algorithm.clone() });
    }
    let plaintext = content(&p, &content_key(&p, key)?)?;
    let assertion = String::from_utf8(plaintext).map_err(|_| undecryptable())?;
    let assertion = assertion.trim_start_matches('\u{feff}');
    let assertion = match assertion.find("?>") {
        Some(end) if assertion.starts_with("<?xml") => &assertion[end + 2..],
        _ => assertion,
    };
    let lower = assertion.to_ascii_lowercase();
    if lower.contains("<!doctype") || lower.contains("<!entity") {
        return Err(Refusal::Doctype);
    }
    let (start, end) = p.span;
    if start >= end || end > xml.len() || !xml.is_char_boundary(start) || !xml.is_char_boundary(end) {
        return Err(bad("the EncryptedAssertion cannot be located"));
    }
    Ok(format!("{}{}{}", &xml[..start], assertion.trim(), &xml[end..]))
}
