//! Secrets Portico must keep but never show (SP private keys now, OIDC client secrets later),
//! sealed at rest with AES-256-GCM under a key derived from `security.secret_key`. Losing the
//! secret key means re-creating those secrets, not losing data.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use openssl::symm::{Cipher, decrypt_aead, encrypt_aead};
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};

use crate::config::Settings;

const PREFIX: &str = "sealed:v1:";

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("cannot seal: {0}")]
    Seal(String),
    #[error("this value was sealed with another security.secret_key, or is damaged")]
    Open,
}

fn key(settings: &Settings, purpose: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"portico seal v1\0");
    h.update(purpose.as_bytes());
    h.update(b"\0");
    h.update(settings.secret_key.expose_secret().as_bytes());
    h.finalize().into()
}

/// Seals `plain` for `purpose` (which binds it: a value sealed for one purpose does not open
/// for another).
pub fn seal(settings: &Settings, purpose: &str, plain: &[u8]) -> Result<String, SealError> {
    let mut nonce = [0u8; 12];
    openssl::rand::rand_bytes(&mut nonce).map_err(|e| SealError::Seal(e.to_string()))?;
    let mut tag = [0u8; 16];
    let ct =
        encrypt_aead(Cipher::aes_256_gcm(), &key(settings, purpose), Some(&nonce), purpose.as_bytes(), plain, &mut tag)
            .map_err(|e| SealError::Seal(e.to_string()))?;
    Ok(format!("{PREFIX}{}", STANDARD.encode([nonce.as_slice(), &ct, &tag].concat())))
}

pub fn open(settings: &Settings, purpose: &str, sealed: &str) -> Result<Vec<u8>, SealError> {
    let raw = STANDARD.decode(sealed.strip_prefix(PREFIX).ok_or(SealError::Open)?).map_err(|_| SealError::Open)?;
    if raw.len() < 12 + 16 {
        return Err(SealError::Open);
    }
    let (nonce, rest) = raw.split_at(12);
    let (ct, tag) = rest.split_at(rest.len() - 16);
    decrypt_aead(Cipher::aes_256_gcm(), &key(settings, purpose), Some(nonce), purpose.as_bytes(), ct, tag)
        .map_err(|_| SealError::Open)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(secret: &str) -> Settings {
        let dir = tempfile::tempdir().unwrap();
        let env = vec![
            ("PORTICO__DATA__DIR".to_owned(), dir.path().display().to_string()),
            ("PORTICO__SECURITY__SECRET_KEY".to_owned(), secret.to_owned()),
        ];
        Settings::load_from(None, env).unwrap()
    }

    #[test]
    fn sealed_values_open_only_with_the_same_key_and_purpose() {
        let a = settings("a-secret-key-that-is-long-enough-0001");
        let b = settings("a-secret-key-that-is-long-enough-0002");
        let sealed = seal(&a, "saml sp key", b"private").unwrap();
        assert!(!sealed.contains("private"));
        assert_eq!(open(&a, "saml sp key", &sealed).unwrap(), b"private");
        assert!(open(&b, "saml sp key", &sealed).is_err());
        assert!(open(&a, "oidc client secret", &sealed).is_err());
        assert_ne!(seal(&a, "saml sp key", b"private").unwrap(), sealed, "fresh nonce each time");
    }
}
