//! OpenID Connect relying party, built on the `openidconnect` crate: discovery, the
//! authorization code flow with PKCE S256, state and nonce, ID token checks (issuer, audience,
//! expiry, nonce, allowed algorithms only), userinfo for claims the ID token lacks, and a JWKS
//! re-read once when the signing key is unknown (the provider rotated it).
//!
//! The caller stores state, nonce and PKCE verifier (in the database, so any instance can finish
//! a flow another started) and passes them back; the provider metadata is the caller's to cache.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreJsonWebKeySet, CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::{
    AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, SignatureVerificationError,
    TokenResponse,
};
use serde_json::Value;

use crate::identity::{AttributeMapping, VerifiedIdentity};

pub use openidconnect::reqwest;

pub use crate::outbound::{MAX_RESPONSE_BYTES, Outbound, OutboundError};

/// The provider metadata type, for callers that cache it.
pub mod openidconnect_metadata {
    pub use openidconnect::core::CoreProviderMetadata;
}

/// One OIDC connection's settings.
#[derive(Clone)]
pub struct OidcSettings {
    pub issuer: String,
    pub client_id: String,
    /// Kept only in memory, sealed at rest by the caller; never logged.
    pub client_secret: String,
    pub scopes: Vec<String>,
    /// Portico's callback URL, registered at the provider.
    pub redirect_uri: String,
    /// Claim names: login (default `preferred_username`), email, name, groups.
    pub mapping: AttributeMapping,
    /// How far the provider's clock may be from Portico's when `exp` and `iat` are checked.
    pub clock_skew: chrono::Duration,
}

impl std::fmt::Debug for OidcSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcSettings")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &"(hidden)")
            .field("scopes", &self.scopes)
            .field("redirect_uri", &self.redirect_uri)
            .field("clock_skew", &self.clock_skew)
            .finish()
    }
}

/// Why an OIDC sign-in was refused. `code()` goes to the audit log; `Display` is for admins.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OidcRefusal {
    #[error("the provider cannot be reached or its discovery document is unusable: {0}")]
    Unreachable(String),
    #[error("the provider's settings are invalid: {0}")]
    Configuration(String),
    #[error(
        "the provider refused to exchange the authorization code (used twice, expired, or for another client): {0}"
    )]
    CodeRefused(String),
    #[error("the provider returned no ID token")]
    NoIdToken,
    #[error("the ID token's signature does not verify with the provider's keys")]
    Signature,
    #[error("the ID token is signed with an algorithm Portico does not accept ({0})")]
    Algorithm(String),
    #[error("the ID token comes from another issuer: {0}")]
    Issuer(String),
    #[error("the ID token is meant for another client: {0}")]
    Audience(String),
    #[error("the ID token has expired: {0}")]
    Expired(String),
    #[error("the ID token answers another sign-in (nonce mismatch)")]
    Nonce,
    #[error("the ID token says it was issued in the future: {0}")]
    IssuedInFuture(String),
    #[error("the ID token was refused: {0}")]
    IdToken(String),
    #[error("the userinfo endpoint failed: {0}")]
    Userinfo(String),
}

impl OidcRefusal {
    pub fn code(&self) -> &'static str {
        match self {
            OidcRefusal::Unreachable(_) => "provider_unreachable",
            OidcRefusal::Configuration(_) => "configuration",
            OidcRefusal::CodeRefused(_) => "code_refused",
            OidcRefusal::NoIdToken => "no_id_token",
            OidcRefusal::Signature => "signature_invalid",
            OidcRefusal::Algorithm(_) => "algorithm_refused",
            OidcRefusal::Issuer(_) => "issuer_mismatch",
            OidcRefusal::Audience(_) => "audience_mismatch",
            OidcRefusal::Expired(_) => "expired",
            OidcRefusal::Nonce => "nonce_mismatch",
            OidcRefusal::IssuedInFuture(_) => "issued_in_future",
            OidcRefusal::IdToken(_) => "id_token_invalid",
            OidcRefusal::Userinfo(_) => "userinfo_failed",
        }
    }
}

/// Signing algorithms accepted for ID tokens: asymmetric only (never `none`, never an HMAC that
/// could be keyed with a public key).
const ALLOWED_ALGS: [CoreJwsSigningAlgorithm; 8] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
];

/// Every URL in `metadata` Portico will call: the keys, the token and the userinfo endpoints.
pub fn endpoints(metadata: &CoreProviderMetadata) -> Vec<(&'static str, &openidconnect::url::Url)> {
    let mut out = vec![("jwks_uri", metadata.jwks_uri().url())];
    if let Some(t) = metadata.token_endpoint() {
        out.push(("token_endpoint", t.url()));
    }
    if let Some(u) = metadata.userinfo_endpoint() {
        out.push(("userinfo_endpoint", u.url()));
    }
    out
}

/// Reads the provider's discovery document and keys.
pub async fn discover(issuer: &str, http: &Outbound) -> Result<CoreProviderMetadata, OidcRefusal> {
    let issuer = IssuerUrl::new(issuer.to_owned()).map_err(|e| OidcRefusal::Configuration(format!("issuer: {e}")))?;
    CoreProviderMetadata::discover_async(issuer, http).await.map_err(|e| OidcRefusal::Unreachable(chain(&e)))
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

fn client(
    metadata: CoreProviderMetadata,
    settings: &OidcSettings,
) -> Result<
    CoreClient<
        openidconnect::EndpointSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointMaybeSet,
        openidconnect::EndpointMaybeSet,
    >,
    OidcRefusal,
> {
    let redirect = RedirectUrl::new(settings.redirect_uri.clone())
        .map_err(|e| OidcRefusal::Configuration(format!("redirect URI: {e}")))?;
    Ok(CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(settings.client_id.clone()),
        Some(ClientSecret::new(settings.client_secret.clone())),
    )
    .set_redirect_uri(redirect))
}

/// A started sign-in: where to send the browser, and what to keep until the callback.
#[derive(Debug, Clone)]
pub struct Started {
    pub url: url::Url,
    pub nonce: String,
    pub pkce_verifier: String,
}

/// The authorization URL for a sign-in whose `state` the caller chose (and stored).
pub fn start(metadata: &CoreProviderMetadata, settings: &OidcSettings, state: &str) -> Result<Started, OidcRefusal> {
    let client = client(metadata.clone(), settings)?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let state = state.to_owned();
    let mut request = client.authorize_url(
        CoreAuthenticationFlow::AuthorizationCode,
        move || CsrfToken::new(state),
        Nonce::new_random,
    );
    for scope in settings.scopes.iter().filter(|s| *s != "openid") {
        request = request.add_scope(Scope::new(scope.clone()));
    }
    let (url, _, nonce) = request.set_pkce_challenge(challenge).url();
    Ok(Started { url, nonce: nonce.secret().clone(), pkce_verifier: verifier.secret().clone() })
}

/// Claims as name -> values, for mapping and the admin's test view.
fn flatten(claims: &serde_json::Map<String, Value>) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    for (k, v) in claims {
        let values = match v {
            Value::String(s) => vec![s.clone()],
            Value::Array(items) => items
                .iter()
                .filter_map(|i| match i {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })
                .collect(),
            Value::Bool(b) => vec![b.to_string()],
            Value::Number(n) => vec![n.to_string()],
            _ => continue,
        };
        out.insert(k.clone(), values);
    }
    out
}

/// The payload of a compact JWT whose signature has already been verified.
fn payload(jwt: &str) -> Result<serde_json::Map<String, Value>, OidcRefusal> {
    let part = jwt.split('.').nth(1).ok_or_else(|| OidcRefusal::IdToken("not a compact JWT".into()))?;
    let bytes = URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).map_err(|e| OidcRefusal::IdToken(e.to_string()))?;
    serde_json::from_slice(&bytes).map_err(|e| OidcRefusal::IdToken(e.to_string()))
}

const IAT_MARK: &str = "iat ";

/// The ID token checks: the library's (signature by an allowed algorithm, issuer, audience with
/// no untrusted extra audience, expiry, nonce) and the issue time, both times against `now`
/// (the caller's clock) with `skew` of leeway for the provider's clock.
fn verifier(
    c: &Client,
    skew: chrono::Duration,
    now: chrono::DateTime<chrono::Utc>,
) -> openidconnect::core::CoreIdTokenVerifier<'_> {
    c.id_token_verifier()
        .set_allowed_algs(ALLOWED_ALGS)
        // Expired means `exp` is before now less the leeway.
        .set_time_fn(move || now - skew)
        .set_issue_time_verifier_fn(move |iat| if iat > now + skew { Err(format!("{IAT_MARK}{iat}")) } else { Ok(()) })
}

fn refusal_from(e: ClaimsVerificationError) -> OidcRefusal {
    match e {
        ClaimsVerificationError::Expired(m) if m.starts_with(IAT_MARK) => {
            OidcRefusal::IssuedInFuture(m[IAT_MARK.len()..].to_owned())
        }
        ClaimsVerificationError::Expired(m) => OidcRefusal::Expired(m),
        ClaimsVerificationError::InvalidAudience(m) => OidcRefusal::Audience(m),
        ClaimsVerificationError::InvalidIssuer(m) => OidcRefusal::Issuer(m),
        ClaimsVerificationError::InvalidNonce(_) => OidcRefusal::Nonce,
        ClaimsVerificationError::SignatureVerification(SignatureVerificationError::DisallowedAlg(m)) => {
            OidcRefusal::Algorithm(m)
        }
        ClaimsVerificationError::SignatureVerification(SignatureVerificationError::NoSignature) => {
            OidcRefusal::Algorithm("none".into())
        }
        ClaimsVerificationError::SignatureVerification(_) => OidcRefusal::Signature,
        other => OidcRefusal::IdToken(other.to_string()),
    }
}

type Client = CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

/// A connection made ready for many callbacks: the client (with the provider's keys) is built
/// once. Cache it per connection and provider-metadata version.
pub struct PreparedOidc {
    client: Client,
    metadata: CoreProviderMetadata,
    settings: OidcSettings,
}

impl std::fmt::Debug for PreparedOidc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedOidc").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl PreparedOidc {
    pub fn new(metadata: CoreProviderMetadata, settings: &OidcSettings) -> Result<Self, OidcRefusal> {
        Ok(PreparedOidc { client: client(metadata.clone(), settings)?, metadata, settings: settings.clone() })
    }

    /// The issuer this connection trusts.
    pub fn issuer(&self) -> &str {
        &self.settings.issuer
    }

    /// Finishes a sign-in: exchanges `code` (with the PKCE verifier), verifies the ID token
    /// against `nonce`, reads userinfo when a mapped claim is missing, and maps the claims. When
    /// the token is signed with a key these metadata do not have, the provider's keys are read
    /// once more, and the refreshed metadata are returned for the caller to keep. Times are
    /// checked against `now`.
    pub async fn finish(
        &self,
        http: &Outbound,
        code: &str,
        nonce: &str,
        pkce_verifier: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(VerifiedIdentity, Option<CoreProviderMetadata>), OidcRefusal> {
        let token = self
            .client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| OidcRefusal::Configuration(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
            .request_async(http)
            .await
            .map_err(|e| match e {
                // The provider could not be reached at all: not a verdict on the code.
                openidconnect::RequestTokenError::Request(e) => OidcRefusal::Unreachable(chain(&e)),
                e => OidcRefusal::CodeRefused(chain(&e)),
            })?;
        let id_token = token.id_token().ok_or(OidcRefusal::NoIdToken)?;
        let nonce = Nonce::new(nonce.to_owned());
        let verified = { id_token.claims(&verifier(&self.client, self.settings.clock_skew, now), &nonce).map(|_| ()) };
        let mut refreshed = None;
        match verified {
            Ok(()) => {}
            Err(ClaimsVerificationError::SignatureVerification(SignatureVerificationError::NoMatchingKey)) => {
                // The provider may have rotated its keys since they were read: read them once more.
                let keys = CoreJsonWebKeySet::fetch_async(self.metadata.jwks_uri(), http)
                    .await
                    .map_err(|e| OidcRefusal::Unreachable(chain(&e)))?;
                let metadata = self.metadata.clone().set_jwks(keys);
                let c = client(metadata.clone(), &self.settings)?;
                id_token.claims(&verifier(&c, self.settings.clock_skew, now), &nonce).map_err(refusal_from)?;
                refreshed = Some(metadata);
            }
            Err(e) => return Err(refusal_from(e)),
        }
        let mut claims = payload(&id_token.to_string())?;
        // The library leaves the authorized party to the client (OpenID Connect Core 3.1.3.7,
        // step 5): when present it must be this client.
        if let Some(azp) = claims.get("azp")
            && azp.as_str() != Some(self.settings.client_id.as_str())
        {
            return Err(OidcRefusal::Audience(format!("the authorized party (azp) is {azp}, not this client")));
        }
        let subject = claims
            .get("sub")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| OidcRefusal::IdToken("no sub".into()))?;
        let m = &self.settings.mapping;
        let missing = [&m.login, &m.email, &m.name, &m.groups]
            .iter()
            .any(|c| c.as_ref().is_some_and(|name| !claims.contains_key(name)));
        if missing && let Some(endpoint) = self.metadata.userinfo_endpoint() {
            let request = http
                .inner()
                .get(endpoint.url().clone())
                .bearer_auth(token.access_token().secret())
                .header("accept", "application/json")
                .build()
                .map_err(|e| OidcRefusal::Userinfo(chain(&e)))?;
            let (response, bytes) = http.send(request).await.map_err(|e| OidcRefusal::Userinfo(chain(&e)))?;
            if !response.status().is_success() {
                return Err(OidcRefusal::Userinfo(format!("HTTP {}", response.status())));
            }
            let info: serde_json::Map<String, Value> =
                serde_json::from_slice(&bytes).map_err(|e| OidcRefusal::Userinfo(e.to_string()))?;
            // Userinfo about someone else must not be mixed in (OpenID Connect Core 5.3.2).
            if info.get("sub").and_then(Value::as_str) != Some(subject.as_str()) {
                return Err(OidcRefusal::Userinfo("the userinfo subject is not the ID token's".into()));
            }
            for (k, v) in info {
                claims.entry(k).or_insert(v);
            }
        }
        let raw = flatten(&claims);
        Ok((VerifiedIdentity::map(subject, raw, m), refreshed))
    }
}

/// [`PreparedOidc::finish`] for a single callback; refreshed keys are written back to `metadata`.
pub async fn finish(
    metadata: &mut CoreProviderMetadata,
    settings: &OidcSettings,
    http: &Outbound,
    code: &str,
    nonce: &str,
    pkce_verifier: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<VerifiedIdentity, OidcRefusal> {
    let prepared = PreparedOidc::new(metadata.clone(), settings)?;
    let (identity, refreshed) = prepared.finish(http, code, nonce, pkce_verifier, now).await?;
    if let Some(m) = refreshed {
        *metadata = m;
    }
    Ok(identity)
}
