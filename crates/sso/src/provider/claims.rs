//! The claims the host product receives, by scope, in the ID token and at userinfo alike
//! (`docs/host-integration.md` shows them):
//!
//! - `openid`: `sub` (the user's id: stable, never reused, not the login), `enterprise`
//!   (`{key, name}`), `idp` (`{connection, protocol}`), and in the ID token `auth_time`, `sid`,
//!   `nonce`, `at_hash`;
//! - `profile`: `name`, `preferred_username` (the login);
//! - `email`: `email`, and `email_verified` only when the IdP's own assertion said so;
//! - `organizations`: `organizations`, each `{key, name, groups, permissions}`.

use chrono::{DateTime, Utc};
use openidconnect::core::{CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm};
use openidconnect::{
    AccessToken, AdditionalClaims, Audience, EndUserEmail, EndUserName, EndUserUsername, IdToken, IdTokenClaims,
    IssuerUrl, JsonWebTokenError, Nonce, StandardClaims, SubjectIdentifier,
};
use serde::{Deserialize, Serialize};

use super::keys::SigningKey;

/// `enterprise`: where the person comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnterpriseClaim {
    pub key: String,
    pub name: String,
}

/// One organization the person is in, with their groups and permissions there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrganizationClaim {
    pub key: String,
    pub name: String,
    pub groups: Vec<String>,
    pub permissions: Vec<String>,
}

/// `idp`: the SSO connection that vouched for the sign-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdpClaim {
    pub connection: String,
    pub protocol: String,
}

/// A person, as the claims describe them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub sub: String,
    pub login: String,
    pub name: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub enterprise: EnterpriseClaim,
    pub organizations: Vec<OrganizationClaim>,
    pub idp: Option<IdpClaim>,
}

/// Portico's claims beyond the standard ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PorticoClaims {
    pub enterprise: EnterpriseClaim,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub organizations: Option<Vec<OrganizationClaim>>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub idp: Option<IdpClaim>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sid: Option<String>,
}

impl AdditionalClaims for PorticoClaims {}

/// An ID token with Portico's claims.
pub type PorticoIdToken =
    IdToken<PorticoClaims, CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm>;

fn has(scopes: &[String], s: &str) -> bool {
    scopes.iter().any(|x| x == s)
}

fn standard(p: &Person, scopes: &[String]) -> StandardClaims<CoreGenderClaim> {
    let mut c = StandardClaims::new(SubjectIdentifier::new(p.sub.clone()));
    if has(scopes, "profile") {
        c = c
            .set_name(Some(EndUserName::new(p.name.clone()).into()))
            .set_preferred_username(Some(EndUserUsername::new(p.login.clone())));
    }
    if has(scopes, "email")
        && let Some(e) = &p.email
    {
        c = c.set_email(Some(EndUserEmail::new(e.clone()))).set_email_verified(p.email_verified.then_some(true));
    }
    c
}

fn additional(p: &Person, scopes: &[String], sid: Option<&str>) -> PorticoClaims {
    PorticoClaims {
        enterprise: p.enterprise.clone(),
        organizations: has(scopes, "organizations").then(|| p.organizations.clone()),
        idp: p.idp.clone(),
        sid: sid.map(str::to_owned),
    }
}

/// The userinfo answer (OpenID Connect Core §5.3.2): the same claims as the ID token's, from
/// the directory as it is now.
pub fn userinfo(p: &Person, scopes: &[String]) -> serde_json::Value {
    let mut out = serde_json::to_value(standard(p, scopes)).unwrap_or_default();
    if let (Some(map), Ok(serde_json::Value::Object(extra))) =
        (out.as_object_mut(), serde_json::to_value(additional(p, scopes, None)))
    {
        map.extend(extra);
    }
    out
}

/// What goes into one ID token besides the person.
#[derive(Debug, Clone)]
pub struct IdTokenInput<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub scopes: &'a [String],
    pub nonce: Option<&'a str>,
    pub sid: &'a str,
    pub auth_time: DateTime<Utc>,
    pub now: DateTime<Utc>,
    pub lifetime: chrono::Duration,
    /// Its hash becomes `at_hash`.
    pub access_token: &'a str,
}

#[derive(Debug, thiserror::Error)]
pub enum IdTokenError {
    #[error("the issuer is not a URL: {0}")]
    Issuer(String),
    #[error("cannot sign the ID token: {0}")]
    Sign(#[from] JsonWebTokenError),
}

/// A signed ID token for `p`.
pub fn id_token(p: &Person, t: &IdTokenInput<'_>, key: &SigningKey) -> Result<String, IdTokenError> {
    let issuer = IssuerUrl::new(t.issuer.to_owned()).map_err(|e| IdTokenError::Issuer(e.to_string()))?;
    let claims = IdTokenClaims::new(
        issuer,
        vec![Audience::new(t.client_id.to_owned())],
        t.now + t.lifetime,
        t.now,
        standard(p, t.scopes),
        additional(p, t.scopes, Some(t.sid)),
    )
    .set_auth_time(Some(t.auth_time))
    .set_nonce(t.nonce.map(|n| Nonce::new(n.to_owned())));
    let token =
        PorticoIdToken::new(claims, key, key.alg().jws(), Some(&AccessToken::new(t.access_token.to_owned())), None)?;
    Ok(token.to_string())
}
