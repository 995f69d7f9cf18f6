//! Portico as an OpenID Provider for the host product: the protocol, without HTTP or storage.
//!
//! - [`request`] reads an authorization request against the registered client and says what
//!   it asks for, or how to refuse it (on Portico's own page when the client or its redirect
//!   URI cannot be trusted, at the client's redirect URI otherwise).
//! - [`keys`] makes, loads and uses ID token signing keys (RS256 and ES256, OpenSSL), as
//!   `openidconnect` signing keys.
//! - [`claims`] turns a person into claims by scope, and signs ID tokens with them.
//! - [`token`] holds the token endpoint's checks: client authentication and PKCE.
//! - [`discovery`] writes the discovery document.
//!
//! The gateway stores requests, codes, grants and keys (in `directory`) and wires the
//! endpoints; the rules live here, where they are tested one attack class at a time
//! (`tests/provider`).

pub mod claims;
pub mod discovery;
pub mod keys;
pub mod logout;
pub mod request;
pub mod token;

/// The scopes Portico answers; others are ignored (RFC 6749 §3.3 lets a server narrow them).
pub const SCOPES: [&str; 5] = ["openid", "profile", "email", "organizations", "offline_access"];
