//! Signing people in through their enterprise's IdP: `/login/sso` starts it, the SAML endpoints
//! (SP metadata, Assertion Consumer Service, test start) finish it. The protocol checks are the
//! `sso` crate's; provisioning and the session are the `directory`'s; this module carries bytes
//! between them and renders the outcome.

pub mod fetch;
pub mod oidc;
pub mod saml;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    saml::configure(cfg);
    oidc::configure(cfg);
}
