//! Integration tests: the real server on a free loopback port, a database of its own per test,
//! driven over HTTP. One test binary for the whole crate keeps link time down.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;

mod admin_api;
mod boundary;
mod browser;
mod cli;
mod completion;
mod console;
mod deploy;
mod health;
mod instances;
mod interop;
mod isolation;
mod mappings;
mod oidc;
mod provider;
mod provider_interop;
mod proxy;
mod saml;
mod scim;
mod scim_tokens;
mod test_idp;
mod webhooks;
