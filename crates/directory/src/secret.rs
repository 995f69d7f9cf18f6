//! High-entropy secrets (session ids, API keys, setup links): random, hashed with SHA-256 for
//! storage and compared in constant time. Argon2 is for human passwords only.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::{DirectoryError, Result};

/// `bytes` random bytes from the operating system, URL-safe base64 without padding.
pub fn random_token(bytes: usize) -> Result<String> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| DirectoryError::Unavailable(format!("no randomness from the OS: {e}")))?;
    Ok(URL_SAFE_NO_PAD.encode(buf))
}

/// `chars` random lower-case hex characters: the public prefix by which a stored token is found
/// and named.
pub fn random_hex(chars: usize) -> Result<String> {
    let mut buf = vec![0u8; chars.div_ceil(2)];
    getrandom::fill(&mut buf).map_err(|e| DirectoryError::Unavailable(format!("no randomness from the OS: {e}")))?;
    let mut out: String = buf.iter().map(|b| format!("{b:02x}")).collect();
    out.truncate(chars);
    Ok(out)
}

/// The prefix of a token shaped `{tag}{prefix_len hex characters}_{secret of 40 or more}`, or
/// `None` for anything else (so malformed input never reaches the database).
pub fn token_prefix<'a>(token: &'a str, tag: &str, prefix_len: usize) -> Option<&'a str> {
    let rest = token.strip_prefix(tag)?;
    let prefix = rest.get(..prefix_len)?;
    let secret = rest.get(prefix_len..)?.strip_prefix('_')?;
    (prefix.chars().all(|c| c.is_ascii_hexdigit()) && secret.len() >= 40).then_some(prefix)
}

/// Lower-case hex SHA-256 of a secret: what is stored instead of the secret.
pub fn hash_secret(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Compares a presented secret with a stored hash without leaking where they differ.
pub fn secret_matches(presented: &str, stored_hash: &str) -> bool {
    hash_secret(presented).as_bytes().ct_eq(stored_hash.as_bytes()).into()
}

/// A new UUID v7 string: ids sort by creation time on both backends.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
