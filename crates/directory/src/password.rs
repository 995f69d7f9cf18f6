//! Local passwords: argon2id with the crate's defaults (OWASP parameters). Verifying costs tens
//! of milliseconds of CPU, so callers on an async runtime run it on a blocking thread.

use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};

use crate::error::{DirectoryError, FieldErrors, Result};

pub const MIN_PASSWORD_CHARS: usize = 12;
pub const MAX_PASSWORD_CHARS: usize = 256;

/// Checks a new password against the policy and hashes it.
pub fn hash_new_password(password: &str) -> Result<String> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(FieldErrors::single(
            "password",
            format!("use at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(FieldErrors::single(
            "password",
            format!("use at most {MAX_PASSWORD_CHARS} characters"),
        ));
    }
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| DirectoryError::Password(e.to_string()))
}

/// True when `password` matches `stored`. A malformed stored hash never matches.
pub fn verify_password(password: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A valid hash of a random password, verified against when an account does not exist so that
/// the response time does not reveal which logins exist.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| {
        Argon2::default()
            .hash_password(b"portico-decoy-password-never-matches")
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}
