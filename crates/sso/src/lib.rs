//! Portico's single sign-on engines. Each takes a connection's settings, the bytes the browser
//! brought back, the request ids Portico is waiting for and the current time, and answers with a
//! [`VerifiedIdentity`] or a typed refusal whose reason an admin can read.
//!
//! Nothing here knows HTTP or the database: the gateway stores request ids and seen assertion ids
//! (so every instance shares them) and passes them in.

pub mod identity;
pub mod oidc;
pub mod outbound;
pub mod provider;
pub mod saml;

pub use identity::{AttributeMapping, VerifiedIdentity};

#[cfg(feature = "test-idp")]
pub mod testing;
