//! Local passwords: argon2id with the crate's defaults (OWASP parameters). Verifying costs tens
//! of milliseconds of CPU, so callers on an async runtime run it on a blocking thread.

use std::sync::{Condvar, Mutex};

use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};

use crate::error::{DirectoryError, FieldErrors, Result};

pub const MIN_PASSWORD_CHARS: usize = 12;
pub const MAX_PASSWORD_CHARS: usize = 256;

/// Checks a new password against the policy and hashes it.
pub fn hash_new_password(password: &str) -> Result<String> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(FieldErrors::single("password", format!("use at least {MIN_PASSWORD_CHARS} characters")));
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(FieldErrors::single("password", format!("use at most {MAX_PASSWORD_CHARS} characters")));
    }
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| DirectoryError::Password(e.to_string()))
}

/// True when `password` matches `stored`. A malformed stored hash never matches.
pub fn verify_password(password: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(parsed) => Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
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

/// Bounds how many argon2 computations run at once. Each takes tens of milliseconds of CPU and
/// about 19 MiB of memory, so an unbounded burst of sign-in or set-up requests could exhaust
/// the machine; excess callers wait their turn instead.
#[derive(Debug)]
pub struct PasswordGate {
    running: Mutex<usize>,
    freed: Condvar,
    limit: usize,
}

impl PasswordGate {
    pub fn new(limit: usize) -> Self {
        PasswordGate { running: Mutex::new(0), freed: Condvar::new(), limit: limit.max(1) }
    }

    /// Runs `f` once a slot is free.
    pub fn run<T>(&self, f: impl FnOnce() -> T) -> T {
        {
            let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
            while *running >= self.limit {
                running = self.freed.wait(running).unwrap_or_else(|p| p.into_inner());
            }
            *running += 1;
        }
        let result = f();
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        *running -= 1;
        self.freed.notify_one();
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn gate_never_runs_more_than_its_limit() {
        let gate = Arc::new(PasswordGate::new(2));
        let now = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (gate, now, peak) = (gate.clone(), now.clone(), peak.clone());
                std::thread::spawn(move || {
                    gate.run(|| {
                        let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(n, Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(10));
                        now.fetch_sub(1, Ordering::SeqCst);
                    })
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap_or_default();
        }
        assert_eq!(peak.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn passwords_verify_and_policy_holds() {
        let hash = hash_new_password("a long enough password").unwrap_or_default();
        assert!(verify_password("a long enough password", &hash));
        assert!(!verify_password("a long enough passwore", &hash));
        assert!(!verify_password("x", "not a hash"));
        assert!(hash_new_password("short").is_err());
    }
}
