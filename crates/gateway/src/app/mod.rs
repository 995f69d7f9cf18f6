//! The application layer: what Portico does with the domain (`directory`) and the protocol
//! engines (`sso`, `scim`), whichever way it is asked. Setting up a connection is the same
//! operation from the console and from the admin API; every sign-in, SAML or OpenID Connect,
//! real or a test, ends in one function. The HTTP modules call this layer; it calls none of
//! them.

pub mod connections;
pub mod provider;
pub mod scim;
pub mod sign_in;
