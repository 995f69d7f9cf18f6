//! SP-initiated sign-in: the AuthnRequest, sent over the HTTP-Redirect binding.

use chrono::{DateTime, Utc};
use samael::schema::{AuthnRequest, Issuer};
use url::Url;

use super::{Refusal, SamlConnection};

/// The URL that sends the browser to the IdP (signed with the SP key when the connection signs
/// its requests) with an AuthnRequest whose `ID` is `request_id`
/// (random, stored by the caller, and a valid XML ID: samael's own ids carry only 32 random
/// bits) and `relay_state`.
pub fn authn_request_url(
    conn: &SamlConnection,
    request_id: &str,
    relay_state: &str,
    now: DateTime<Utc>,
) -> Result<Url, Refusal> {
    let request = AuthnRequest {
        id: request_id.to_owned(),
        issue_instant: now,
        destination: Some(conn.idp.sso_url.clone()),
        assertion_consumer_service_url: Some(conn.sp.acs_url.clone()),
        protocol_binding: Some("urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST".to_owned()),
        issuer: Some(Issuer { value: Some(conn.sp.entity_id.clone()), ..Issuer::default() }),
        version: "2.0".to_owned(),
        ..AuthnRequest::default()
    };
    let url = match &conn.signing_key {
        Some(key) => request.signed_redirect(relay_state, key),
        None => request.redirect(relay_state),
    };
    url.map_err(|e| Refusal::Other(format!("cannot build the AuthnRequest: {e}")))?
        .ok_or_else(|| Refusal::Other("the IdP single sign-on URL is missing".into()))
}
