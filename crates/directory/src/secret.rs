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

/// Hex characters of a stored token's public prefix, by which it is found and named.
const PREFIX_HEX: usize = 12;

/// A new token `{tag}{12 hex characters}_{256 random bits}`, and its prefix. The prefix finds
/// the stored hash; the rest is the secret.
pub(crate) fn new_prefixed_token(tag: &str) -> Result<(String, String)> {
    let mut buf = [0u8; PREFIX_HEX / 2];
    getrandom::fill(&mut buf).map_err(|e| DirectoryError::Unavailable(format!("no randomness from the OS: {e}")))?;
    let prefix = hex(&buf);
    let token = format!("{tag}{prefix}_{}", random_token(32)?);
    Ok((prefix, token))
}

/// The prefix of a token made by [`new_prefixed_token`] with `tag`, or `None` for anything
/// else (so malformed input never reaches the database).
pub(crate) fn token_prefix<'a>(token: &'a str, tag: &str) -> Option<&'a str> {
    let rest = token.strip_prefix(tag)?;
    let prefix = rest.get(..PREFIX_HEX)?;
    let secret = rest.get(PREFIX_HEX..)?.strip_prefix('_')?;
    (prefix.chars().all(|c| c.is_ascii_hexdigit()) && secret.len() >= 40).then_some(prefix)
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

/// Lower-case hex SHA-256 of a secret: what is stored instead of the secret.
pub fn hash_secret(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

/// Compares a presented secret with a stored hash without leaking where they differ.
pub fn secret_matches(presented: &str, stored_hash: &str) -> bool {
    hash_secret(presented).as_bytes().ct_eq(stored_hash.as_bytes()).into()
}

/// `bytes` random bytes as lower-case hex: public identifiers that must not be guessable.
pub fn random_hex(bytes: usize) -> Result<String> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| DirectoryError::Unavailable(format!("no randomness from the OS: {e}")))?;
    Ok(hex(&buf))
}

/// A new UUID v7 string: ids sort by creation time on both backends.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixed_tokens_are_read_back_only_with_their_tag() {
        let (prefix, token) = new_prefixed_token("pscim_").unwrap();
        assert_eq!(prefix.len(), PREFIX_HEX);
        assert_eq!(token_prefix(&token, "pscim_"), Some(prefix.as_str()));
        assert_eq!(token_prefix(&token, "portico_"), None);
        // The separator replaced (dropping it would be flaky: the secret may start with `_`).
        assert_eq!(token_prefix(&format!("pscim_{prefix}x{}", &token[6 + PREFIX_HEX + 1..]), "pscim_"), None);
        assert_eq!(token_prefix("pscim_0123456789zz_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "pscim_"), None);
        assert_eq!(token_prefix("pscim_0123456789ab_short", "pscim_"), None);
        assert_eq!(token_prefix("pscim_é", "pscim_"), None);
    }

    #[test]
    fn hashes_are_lower_case_hex_sha256() {
        assert_eq!(hash_secret("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
