//! Portico as the host product's OpenID Provider: what the `/oauth2/*` endpoints do, over the
//! protocol rules of `sso::provider` and the storage of `directory::provider`.
//!
//! An authorization request names (or asks for) the enterprise. A browser already signed in to
//! that enterprise gets its code at once; otherwise the request is parked in the database and
//! the enterprise's SSO sign-in starts with `/oauth2/authorize/resume/{id}` as the page to
//! return to. The sign-in ends the usual way (`app::sign_in::finish`: provisioning, session,
//! audit) and the browser comes back to [`resume`], on whichever instance, which issues the code.
//! See `docs/openid-provider.md`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use directory::host_application::{HostApplication, SigningAlg};
use directory::provider::{GrantRefusal, Issued, NewGrant, NewSigningKey, Person, ProviderSession, TokenLifetimes};
use directory::{Actor, Ctx, Directory, DirectoryError};
use sso::provider::claims::{self, EnterpriseClaim, IdTokenInput, IdpClaim, OrganizationClaim};
use sso::provider::keys::{Alg, SigningKey};
use sso::provider::request::{self, AuthorizationRequest, Client, Prompt, Refusal};
use sso::provider::token::{ClientCredentials, CredentialsError, client_credentials, pkce_matches};

use crate::config::Settings;
use crate::error::blocking;
use crate::state::AppState;

// ---- Signing keys ----

/// What sealed the private halves of the signing keys in the database.
const KEY_PURPOSE: &str = "openid provider signing key";
/// How long an instance trusts its copy of the key set (another instance may rotate).
const KEYS_TTL: Duration = Duration::from_secs(30);

fn alg(a: SigningAlg) -> Alg {
    match a {
        SigningAlg::Rs256 => Alg::Rs256,
        SigningAlg::Es256 => Alg::Es256,
    }
}

/// A new key for `a`, its private half sealed with the secret key.
pub fn make_key(settings: &Settings, a: SigningAlg) -> Result<NewSigningKey, DirectoryError> {
    let (key, pem) = SigningKey::generate(alg(a)).map_err(|e| DirectoryError::Internal(e.to_string()))?;
    let sealed = crate::secrets::seal(settings, KEY_PURPOSE, pem.as_bytes())
        .map_err(|e| DirectoryError::Internal(e.to_string()))?;
    Ok(NewSigningKey {
        kid: key.kid().to_owned(),
        private_key_sealed: sealed,
        public_jwk: key.public_jwk().to_string(),
    })
}

/// The published keys, opened, and the one of each algorithm that signs.
#[derive(Debug)]
pub struct KeySet {
    current: HashMap<SigningAlg, Arc<SigningKey>>,
    all: Vec<Arc<SigningKey>>,
}

impl KeySet {
    /// The key that signs `a` tokens now.
    pub fn signing(&self, a: SigningAlg) -> Result<Arc<SigningKey>, DirectoryError> {
        self.current.get(&a).cloned().ok_or_else(|| DirectoryError::Internal(format!("no current {} key", a.as_str())))
    }

    /// The JWKS: next, current and previous keys of every algorithm.
    pub fn jwks(&self) -> serde_json::Value {
        sso::provider::keys::jwks(self.all.iter().map(|k| k.public_jwk()))
    }

    pub fn all(&self) -> impl Iterator<Item = &SigningKey> {
        self.all.iter().map(|k| k.as_ref())
    }
}

/// Reads the key set, making the first keys when there are none and rotating those the
/// schedule (`provider.key_rotation_days`) says are due. Blocking.
pub fn load_key_set(dir: &Directory, settings: &Settings) -> Result<KeySet, DirectoryError> {
    use directory::provider::KeyState;
    let system = Actor::System;
    let mut stored = dir.signing_keys()?;
    // Writes (and on SQLite the write lock) only when a key is missing or one is due.
    let due_before = settings.provider_key_rotation.map(|period| dir.now() - period);
    let needs_work = |keys: &[directory::provider::StoredSigningKey], a: SigningAlg| {
        let of = |state| keys.iter().find(|k| k.alg == a && k.state == state);
        let due = match (of(KeyState::Current), due_before) {
            (Some(c), Some(due)) => c.activated_at.is_none_or(|at| at < due),
            _ => false,
        };
        of(KeyState::Current).is_none() || of(KeyState::Next).is_none() || due
    };
    let pending: Vec<SigningAlg> = SigningAlg::ALL.into_iter().filter(|a| needs_work(&stored, *a)).collect();
    for &a in &pending {
        dir.ensure_signing_keys(a, &|| make_key(settings, a))?;
        if due_before.is_some() {
            let rotated =
                dir.rotate_signing_keys(&Ctx::new(&system, None), a, due_before, &|| make_key(settings, a))?;
            if rotated == directory::provider::Rotation::Rotated {
                tracing::info!(alg = a.as_str(), "rotated the ID token signing key on schedule");
            }
        }
    }
    if !pending.is_empty() {
        stored = dir.signing_keys()?;
    }
    let mut current = HashMap::new();
    let mut all = Vec::new();
    for stored in stored {
        let pem = crate::secrets::open(settings, KEY_PURPOSE, &stored.private_key_sealed).map_err(|e| {
            DirectoryError::Internal(format!(
                "signing key {} cannot be opened: {e} (security.secret_key changed?)",
                stored.kid
            ))
        })?;
        let key = SigningKey::from_pem(alg(stored.alg), &String::from_utf8_lossy(&pem))
            .map_err(|e| DirectoryError::Internal(format!("signing key {}: {e}", stored.kid)))?;
        let key = Arc::new(key);
        if stored.state == directory::provider::KeyState::Current {
            current.insert(stored.alg, key.clone());
        }
        all.push(key);
    }
    Ok(KeySet { current, all })
}

/// Rotates every algorithm's keys now (`portico keys rotate`). Blocking.
pub fn rotate_keys(
    dir: &Directory,
    settings: &Settings,
) -> Result<Vec<(SigningAlg, directory::provider::Rotation)>, DirectoryError> {
    let system = Actor::System;
    let mut out = Vec::new();
    for a in SigningAlg::ALL {
        dir.ensure_signing_keys(a, &|| make_key(settings, a))?;
        out.push((a, dir.rotate_signing_keys(&Ctx::new(&system, None), a, None, &|| make_key(settings, a))?));
    }
    Ok(out)
}

/// Replaces every key with new ones (`portico keys reset`). Blocking.
pub fn reset_keys(dir: &Directory, settings: &Settings) -> Result<(), DirectoryError> {
    let system = Actor::System;
    dir.delete_signing_keys(&Ctx::new(&system, None))?;
    for a in SigningAlg::ALL {
        dir.ensure_signing_keys(a, &|| make_key(settings, a))?;
    }
    Ok(())
}

/// This instance's copy of the key set, re-read every [`KEYS_TTL`].
#[derive(Debug, Default)]
pub struct ProviderKeys(Mutex<Option<(Instant, Arc<KeySet>)>>);

/// The key set, from the cache while it is fresh.
pub async fn key_set(state: &AppState) -> Result<Arc<KeySet>, DirectoryError> {
    {
        let cached = state.provider_keys.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, set)) = cached.as_ref().filter(|(at, _)| at.elapsed() < KEYS_TTL) {
            return Ok(set.clone());
        }
    }
    let (dir, settings) = (state.directory.clone(), state.settings.clone());
    let set = Arc::new(blocking::<_, DirectoryError>(move || load_key_set(&dir, &settings)).await?);
    *state.provider_keys.0.lock().unwrap_or_else(|p| p.into_inner()) = Some((Instant::now(), set.clone()));
    Ok(set)
}

// ---- Authorization ----

/// The browser's Portico session, as the provider sees it (`token` is its cookie).
async fn session_of(state: &AppState, token: Option<String>) -> Result<Option<ProviderSession>, DirectoryError> {
    let Some(token) = token else {
        return Ok(None);
    };
    let dir = state.directory.clone();
    blocking::<_, DirectoryError>(move || dir.provider_session(&token)).await
}

/// What the authorization endpoint answers.
#[derive(Debug)]
pub enum Authorize {
    /// An error shown on Portico's page: the client or its redirect URI cannot be trusted, so
    /// the browser is sent nowhere.
    Page(String),
    /// Back to the application: its redirect URI with a code or an error.
    Redirect(String),
    /// Ask the person for their enterprise; the form sends the same request again with
    /// `enterprise_key` added.
    AskEnterprise { application: String, params: Vec<(String, String)>, error: Option<String> },
    /// The person signs in at their enterprise's IdP first. `parked` is the request's id in
    /// the resume URL, and the cookie that ties it to this browser is made from it.
    SignIn { idp_url: String, sso_request_id: String, parked: String },
}

fn to_page_or_redirect(refusal: Refusal, issuer: &str) -> Authorize {
    match refusal {
        Refusal::Page(message) => Authorize::Page(message),
        Refusal::Redirect(e) => Authorize::Redirect(e.url(issuer)),
    }
}

fn client(app: &HostApplication) -> Client<'_> {
    Client { client_id: &app.client_id, public: app.public, redirect_uris: &app.redirect_uris }
}

/// A parked request, as stored: the validated request and whether the person must sign in
/// afresh (prompt=login, or a max_age the current session is too old for).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Parked {
    request: AuthorizationRequest,
    fresh: bool,
}

/// True when `session` may answer `req` without a new sign-in.
fn session_fits(
    session: &ProviderSession,
    enterprise_key: &str,
    req: &AuthorizationRequest,
    now: NaiveDateTime,
) -> bool {
    session.enterprise_key == enterprise_key
        && req.prompt != Some(Prompt::Login)
        && req.max_age.is_none_or(|max| (now - session.auth_time).num_seconds() <= max)
}

/// Handles an authorization request (`params` as sent, in order; `session_token` is the
/// browser's Portico session cookie).
pub async fn authorize(
    state: &AppState,
    params: Vec<(String, String)>,
    session_token: Option<String>,
) -> Result<Authorize, DirectoryError> {
    let issuer = state.settings.issuer();
    let (client_id, _) = match request::client_and_redirect(&params) {
        Ok(v) => v,
        Err(r) => return Ok(to_page_or_redirect(r, &issuer)),
    };
    let dir = state.directory.clone();
    let id = client_id.clone();
    let Some(app) = blocking::<_, DirectoryError>(move || dir.host_application(&id)).await? else {
        return Ok(Authorize::Page("The application that sent you here is not registered with Portico.".into()));
    };
    let req = match request::validate(&params, &client(&app)) {
        Ok(r) => r,
        Err(r) => return Ok(to_page_or_redirect(r, &issuer)),
    };
    let session = session_of(state, session_token).await?;
    // Without `enterprise_key`, a browser signed in to an enterprise stays with it (an
    // IdP-initiated sign-in arrives this way); otherwise the person is asked.
    let Some(enterprise_key) =
        req.enterprise_key.clone().or_else(|| session.as_ref().map(|s| s.enterprise_key.clone()))
    else {
        if req.prompt == Some(Prompt::None) {
            return Ok(Authorize::Redirect(
                req.refuse("login_required", "the request names no enterprise (enterprise_key)").url(&issuer),
            ));
        }
        return Ok(Authorize::AskEnterprise { application: app.name.clone(), params, error: None });
    };
    // The same answer whether the enterprise does not exist or may not use this application.
    let denied = || {
        Authorize::Redirect(
            req.refuse("access_denied", "people of this enterprise cannot sign in to this application").url(&issuer),
        )
    };
    if !app.allows_enterprise(&enterprise_key) {
        return Ok(denied());
    }
    let now = state.directory.now();
    if let Some(s) = &session
        && session_fits(s, &enterprise_key, &req, now)
    {
        let url = issue_code(state, &app, &req, s).await?;
        return Ok(Authorize::Redirect(url));
    }
    if req.prompt == Some(Prompt::None) {
        return Ok(Authorize::Redirect(req.refuse("login_required", "the person is not signed in").url(&issuer)));
    }
    let dir = state.directory.clone();
    let key = enterprise_key.clone();
    let connection = match blocking::<_, DirectoryError>(move || dir.enabled_connection(&key)).await {
        Ok(c) => c,
        Err(DirectoryError::NotFound(_)) => return Ok(denied()),
        Err(e) => return Err(e),
    };
    let fresh = req.prompt == Some(Prompt::Login) || req.max_age.is_some();
    let parked = serde_json::to_string(&Parked { request: req.clone(), fresh })
        .map_err(|e| DirectoryError::Internal(e.to_string()))?;
    let dir = state.directory.clone();
    let (app_id, enterprise_id) = (app.client_id.clone(), connection.enterprise_id.to_string());
    let parked_id =
        blocking::<_, DirectoryError>(move || dir.park_authorization(&app_id, &enterprise_id, &parked)).await?;
    let resume = format!("/oauth2/authorize/resume/{parked_id}");
    match super::sign_in::start(state, &connection, false, &resume).await {
        Ok(started) => {
            Ok(Authorize::SignIn { idp_url: started.url, sso_request_id: started.request_id, parked: parked_id })
        }
        Err(e) => {
            tracing::warn!(connection = %connection.id, error = %e, "a sign-in for an application cannot start");
            Ok(Authorize::Redirect(
                req.refuse("temporarily_unavailable", "the enterprise's identity provider cannot be reached")
                    .url(&issuer),
            ))
        }
    }
}

/// An IdP-initiated sign-in lands in the connection's default application: the browser goes to
/// the application's `initiate_login_uri` with `iss` (OpenID Connect Core §4, third-party
/// initiated login), and the application starts an ordinary authorization request, which the
/// fresh session answers at once.
pub async fn initiate(
    state: &AppState,
    client_id: String,
    session_token: Option<String>,
) -> Result<Authorize, DirectoryError> {
    let dir = state.directory.clone();
    let Some(app) = blocking::<_, DirectoryError>(move || dir.host_application(&client_id)).await? else {
        return Ok(Authorize::Page("The application this sign-in leads to is no longer registered.".into()));
    };
    let session = session_of(state, session_token).await?;
    if !session.is_some_and(|s| app.allows_enterprise(&s.enterprise_key)) {
        return Ok(Authorize::Page(format!("You are not signed in to an enterprise that may use {}.", app.name)));
    }
    let Some(uri) = &app.initiate_login_uri else {
        return Ok(Authorize::Page(format!(
            "You are signed in, but {} has no sign-in start page (initiate_login_uri) registered. Open the application itself.",
            app.name
        )));
    };
    Ok(Authorize::Redirect(request::with_query(uri, &[("iss", &state.settings.issuer())])))
}

/// Comes back from the enterprise's IdP: the parked request `parked_id` gets its code, if the
/// browser that parked it (`same_browser`) now has a session of the right enterprise.
pub async fn resume(
    state: &AppState,
    parked_id: String,
    session_token: Option<String>,
    same_browser: bool,
) -> Result<Authorize, DirectoryError> {
    let expired = || {
        Authorize::Page(
            "This sign-in has expired or was already completed. Go back to the application and sign in again.".into(),
        )
    };
    if !same_browser {
        return Ok(Authorize::Page(
            "This sign-in was started in another browser. Go back to the application and sign in again.".into(),
        ));
    }
    let dir = state.directory.clone();
    let Some(parked) = blocking::<_, DirectoryError>(move || dir.take_authorization(&parked_id)).await? else {
        return Ok(expired());
    };
    let Parked { request: req, fresh } = serde_json::from_str(&parked.request)
        .map_err(|e| DirectoryError::Internal(format!("a parked request: {e}")))?;
    let dir = state.directory.clone();
    let app_id = parked.application_id.clone();
    let Some(app) = blocking::<_, DirectoryError>(move || dir.host_application(&app_id)).await? else {
        return Ok(expired());
    };
    let issuer = state.settings.issuer();
    let session = session_of(state, session_token).await?;
    let Some(session) = session.filter(|s| s.enterprise_id == parked.enterprise_id) else {
        return Ok(Authorize::Redirect(req.refuse("access_denied", "the sign-in did not complete").url(&issuer)));
    };
    let now = state.directory.now();
    let fresh_enough = !fresh || session.auth_time >= parked.created_at;
    let young_enough = req.max_age.is_none_or(|max| (now - session.auth_time).num_seconds() <= max);
    if !fresh_enough || !young_enough || !app.allows_enterprise(&session.enterprise_key) {
        return Ok(Authorize::Redirect(req.refuse("access_denied", "the sign-in did not complete").url(&issuer)));
    }
    Ok(Authorize::Redirect(issue_code(state, &app, &req, &session).await?))
}

/// Records a grant for `session` and returns the redirect that hands the code over.
async fn issue_code(
    state: &AppState,
    app: &HostApplication,
    req: &AuthorizationRequest,
    session: &ProviderSession,
) -> Result<String, DirectoryError> {
    let dir = state.directory.clone();
    let (app_id, session2, req2) = (app.client_id.clone(), session.clone(), req.clone());
    let code = blocking::<_, DirectoryError>(move || {
        dir.issue_authorization_code(&NewGrant {
            application_id: &app_id,
            session: &session2,
            scope: &req2.scope(),
            nonce: req2.nonce.as_deref(),
            redirect_uri: &req2.redirect_uri,
            code_challenge: req2.code_challenge.as_deref(),
        })
    })
    .await?;
    state.metrics.provider("authorization", "success");
    Ok(req.success_url(&code, &state.settings.issuer()))
}

// ---- Token endpoint ----

/// An OAuth error answer (RFC 6749 §5.2): the status, the code, a sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub status: u16,
    pub error: &'static str,
    pub description: String,
}

impl OAuthError {
    fn new(status: u16, error: &'static str, description: impl Into<String>) -> Self {
        OAuthError { status, error, description: description.into() }
    }

    fn internal(e: DirectoryError) -> Self {
        tracing::error!(error = %e, "the token endpoint failed");
        OAuthError::new(500, "server_error", "Portico could not answer; try again")
    }
}

impl From<DirectoryError> for OAuthError {
    fn from(e: DirectoryError) -> Self {
        OAuthError::internal(e)
    }
}

/// The one value of a form field; a repeated one is refused (RFC 6749 §3.2).
fn field<'a>(form: &'a [(String, String)], name: &str) -> Result<Option<&'a str>, OAuthError> {
    let mut it = form.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let first = it.next();
    if it.next().is_some() {
        return Err(OAuthError::new(400, "invalid_request", format!("`{name}` is given more than once")));
    }
    Ok(first.filter(|v| !v.is_empty()))
}

/// The credentials a token or revocation request carries (parsed only).
fn credentials(authorization: Option<&str>, form: &[(String, String)]) -> Result<ClientCredentials, OAuthError> {
    client_credentials(authorization, field(form, "client_id")?, field(form, "client_secret")?).map_err(|e| match e {
        CredentialsError::InvalidRequest(d) => OAuthError::new(400, "invalid_request", d),
        CredentialsError::InvalidClient(d) => OAuthError::new(401, "invalid_client", d),
    })
}

/// The application `creds` authenticate, as it must: a confidential one with its secret (Basic
/// or in the form), a public one by its id alone. Blocking.
fn authenticated(dir: &Directory, creds: &ClientCredentials) -> Result<Option<HostApplication>, DirectoryError> {
    match creds {
        ClientCredentials::Basic { client_id, secret } | ClientCredentials::Post { client_id, secret } => {
            dir.authenticate_host_application(client_id, secret)
        }
        // A confidential application must prove itself; leaving the secret out is no way round.
        ClientCredentials::None { client_id } => Ok(dir.host_application(client_id)?.filter(|a| a.public)),
    }
}

fn invalid_client(state: &AppState, creds: &ClientCredentials) -> OAuthError {
    state.metrics.provider("token", "invalid_client");
    OAuthError::new(401, "invalid_client", format!("client `{}` could not be authenticated", creds.client_id()))
}

/// What the token request asks for, read before the client is known; a malformed request is
/// answered only once the client has authenticated.
enum TokenGrant {
    Code { code: String, redirect_uri: String, verifier: Option<String> },
    Refresh { token: String },
    Malformed(OAuthError),
}

fn token_grant(form: &[(String, String)]) -> TokenGrant {
    let read = || -> Result<TokenGrant, OAuthError> {
        let required = |name: &str| {
            field(form, name)?
                .map(str::to_owned)
                .ok_or_else(|| OAuthError::new(400, "invalid_request", format!("{name} is missing")))
        };
        match field(form, "grant_type")? {
            Some("authorization_code") => Ok(TokenGrant::Code {
                code: required("code")?,
                redirect_uri: required("redirect_uri")?,
                verifier: field(form, "code_verifier")?.map(str::to_owned),
            }),
            Some("refresh_token") => Ok(TokenGrant::Refresh { token: required("refresh_token")? }),
            Some(other) => {
                Err(OAuthError::new(400, "unsupported_grant_type", format!("grant_type `{other}` is not supported")))
            }
            None => Err(OAuthError::new(400, "invalid_request", "grant_type is missing")),
        }
    };
    read().unwrap_or_else(TokenGrant::Malformed)
}

/// How a token request ended inside its one trip to the database.
enum Exchanged {
    Tokens(serde_json::Value),
    NoClient,
    Malformed(OAuthError),
    Refused(String, GrantRefusal),
}

fn person_claims(p: Person, email_verified: bool) -> claims::Person {
    claims::Person {
        sub: p.user_id,
        login: p.login,
        name: p.name,
        email: p.email,
        email_verified,
        enterprise: EnterpriseClaim { key: p.enterprise_key, name: p.enterprise_name },
        organizations: p
            .organizations
            .into_iter()
            .map(|o| OrganizationClaim {
                key: o.key,
                name: o.name,
                groups: {
                    let mut g: Vec<String> = o.groups.into_iter().map(|g| g.group).collect();
                    g.dedup();
                    g
                },
                permissions: o.permissions.iter().map(|p| p.as_str().to_owned()).collect(),
            })
            .collect(),
        idp: p.idp.map(|(connection, protocol)| IdpClaim { connection, protocol }),
    }
}

/// The token endpoint: exchanges a code or a refresh token for tokens (RFC 6749 §4.1.3, §6;
/// OpenID Connect Core §3.1.3). `form` is the body's fields in order.
pub async fn token(
    state: &AppState,
    authorization: Option<&str>,
    form: Vec<(String, String)>,
) -> Result<serde_json::Value, OAuthError> {
    let creds = credentials(authorization, &form)?;
    let grant = token_grant(&form);
    let keys = key_set(state).await?;
    let dir = state.directory.clone();
    let issuer = state.settings.issuer();
    let c2 = creds.clone();
    // One trip to the blocking pool: the client, the grant, the person, the signature.
    let outcome = blocking::<_, DirectoryError>(move || {
        let Some(app) = authenticated(&dir, &c2)? else {
            return Ok(Exchanged::NoClient);
        };
        let life = TokenLifetimes {
            access_secs: i64::from(app.access_token_ttl_secs),
            refresh_secs: i64::from(app.refresh_token_ttl_secs),
        };
        let id_ttl = chrono::Duration::seconds(i64::from(app.id_token_ttl_secs));
        let key = keys.signing(app.id_token_alg)?;
        let client_id = app.client_id.as_str();
        let answered = match grant {
            TokenGrant::Malformed(e) => return Ok(Exchanged::Malformed(e)),
            TokenGrant::Code { code, redirect_uri, verifier } => {
                let check = |g: &directory::provider::Grant| -> Result<(), GrantRefusal> {
                    if g.redirect_uri != redirect_uri {
                        return Err(GrantRefusal::RedirectMismatch);
                    }
                    match (&g.code_challenge, &verifier) {
                        (Some(c), Some(v)) if pkce_matches(v, c) => Ok(()),
                        (None, None) => Ok(()),
                        // A verifier without a challenge is a downgrade attempt too.
                        _ => Err(GrantRefusal::PkceMismatch),
                    }
                };
                let issued = dir.redeem_authorization_code(&code, client_id, &check, life)?;
                finish_tokens(&dir, issued, &issuer, client_id, id_ttl, &key, true)?
            }
            TokenGrant::Refresh { token } => {
                let issued = dir.refresh_tokens(&token, client_id, life)?;
                finish_tokens(&dir, issued, &issuer, client_id, id_ttl, &key, false)?
            }
        };
        Ok(match answered {
            Ok(body) => Exchanged::Tokens(body),
            Err(refusal) => Exchanged::Refused(app.client_id.clone(), refusal),
        })
    })
    .await?;
    match outcome {
        Exchanged::Tokens(body) => {
            state.metrics.provider("token", "success");
            Ok(body)
        }
        Exchanged::NoClient => Err(invalid_client(state, &creds)),
        Exchanged::Malformed(e) => Err(e),
        Exchanged::Refused(client, refusal) => {
            state.metrics.provider("token", "invalid_grant");
            tracing::warn!(client = %client, reason = %refusal, "the token endpoint refused a grant");
            Err(OAuthError::new(400, "invalid_grant", refusal.to_string()))
        }
    }
}

/// The token response for tokens just issued: the access token, the refresh token and an ID
/// token signed with `key` (the nonce only in the first, OpenID Connect Core §12.2).
fn finish_tokens(
    dir: &Directory,
    issued: Result<Issued, GrantRefusal>,
    issuer: &str,
    client_id: &str,
    id_ttl: chrono::Duration,
    key: &SigningKey,
    first: bool,
) -> Result<Result<serde_json::Value, GrantRefusal>, DirectoryError> {
    let issued = match issued {
        Ok(i) => i,
        Err(r) => return Ok(Err(r)),
    };
    let Some(person) = dir.grant_person(&issued.grant)? else {
        return Ok(Err(GrantRefusal::Inactive));
    };
    let scopes: Vec<String> = issued.grant.scope.split(' ').map(str::to_owned).collect();
    let person = person_claims(person, issued.grant.email_verified);
    let now = dir.now().and_utc();
    let id_token = claims::id_token(
        &person,
        &IdTokenInput {
            issuer,
            client_id,
            scopes: &scopes,
            nonce: if first { issued.grant.nonce.as_deref() } else { None },
            sid: &issued.grant.sid,
            auth_time: issued.grant.auth_time.and_utc(),
            now,
            lifetime: id_ttl,
            access_token: &issued.access_token,
        },
        key,
    )
    .map_err(|e| DirectoryError::Internal(e.to_string()))?;
    let expires_in = (issued.access_expires_at - dir.now()).num_seconds().max(0);
    let mut body = serde_json::json!({
        "access_token": issued.access_token,
        "token_type": "Bearer",
        "expires_in": expires_in,
        "id_token": id_token,
        "scope": issued.grant.scope,
    });
    if let Some(r) = issued.refresh_token {
        body["refresh_token"] = serde_json::Value::String(r);
    }
    Ok(Ok(body))
}

// ---- Userinfo, revocation, logout ----

/// The userinfo answer for a bearer access token, from the directory as it is now; `None`
/// when the token is not (or no longer) valid.
pub async fn userinfo(state: &AppState, access_token: String) -> Result<Option<serde_json::Value>, DirectoryError> {
    let dir = state.directory.clone();
    blocking::<_, DirectoryError>(move || {
        let Some(grant) = dir.access_token_grant(&access_token)? else {
            return Ok(None);
        };
        let Some(person) = dir.grant_person(&grant)? else {
            return Ok(None);
        };
        let scopes: Vec<String> = grant.scope.split(' ').map(str::to_owned).collect();
        Ok(Some(claims::userinfo(&person_claims(person, grant.email_verified), &scopes)))
    })
    .await
}

/// Revokes a token an authenticated application presents (RFC 7009).
pub async fn revoke(
    state: &AppState,
    authorization: Option<&str>,
    form: Vec<(String, String)>,
) -> Result<(), OAuthError> {
    let creds = credentials(authorization, &form)?;
    let token = field(&form, "token")?.map(str::to_owned);
    let dir = state.directory.clone();
    let c2 = creds.clone();
    let revoked = blocking::<_, DirectoryError>(move || {
        let Some(app) = authenticated(&dir, &c2)? else {
            return Ok(None);
        };
        if let Some(token) = &token {
            dir.revoke_provider_token(token, &app.client_id)?;
        }
        Ok(Some(token.is_some()))
    })
    .await?;
    match revoked {
        None => Err(invalid_client(state, &creds)),
        Some(false) => Err(OAuthError::new(400, "invalid_request", "token is missing")),
        Some(true) => Ok(()),
    }
}

/// What RP-initiated logout answers.
#[derive(Debug)]
pub enum Logout {
    /// Refused on Portico's page (a hint or URI that cannot be trusted).
    Page(String),
    /// Signed out; back to the application's registered post-logout URI.
    Redirect(String),
    /// Signed out, with nowhere to go back to.
    Done,
    /// No ID token vouches for the request: the person confirms on Portico's page first, so
    /// that a link on any site cannot sign them out (RP-Initiated Logout §2).
    Confirm(Vec<(String, String)>),
}

/// Ends the browser's session (and every grant made in it) for RP-initiated logout.
pub async fn logout(
    state: &AppState,
    params: Vec<(String, String)>,
    session_token: Option<String>,
    confirmed: bool,
    operation_id: Option<String>,
) -> Result<Logout, DirectoryError> {
    let get = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).filter(|v| !v.is_empty());
    let issuer = state.settings.issuer();
    let hint = match get("id_token_hint") {
        None => None,
        Some(h) => {
            let keys = key_set(state).await?;
            match sso::provider::logout::read_hint(&h, &issuer, keys.all()) {
                Some(hint) => Some(hint),
                None => {
                    return Ok(Logout::Page("The sign-out request carries an ID token Portico did not issue.".into()));
                }
            }
        }
    };
    let client_id = match (get("client_id"), &hint) {
        (Some(c), Some(h)) if c != h.client_id => {
            return Ok(Logout::Page("The sign-out request's ID token was issued to another application.".into()));
        }
        (Some(c), _) => Some(c),
        (None, Some(h)) => Some(h.client_id.clone()),
        (None, None) => None,
    };
    let redirect = match (get("post_logout_redirect_uri"), &client_id) {
        (None, _) => None,
        (Some(_), None) => {
            return Ok(Logout::Page("The sign-out request names a page to return to but no application.".into()));
        }
        (Some(uri), Some(c)) => {
            let dir = state.directory.clone();
            let c = c.clone();
            let app = blocking::<_, DirectoryError>(move || dir.host_application(&c)).await?;
            if !app.is_some_and(|a| a.post_logout_redirect_uris.contains(&uri)) {
                return Ok(Logout::Page(
                    "The page to return to after signing out is not registered for the application.".into(),
                ));
            }
            Some(uri)
        }
    };
    let current = session_of(state, session_token).await?;
    if hint.is_none() && current.is_some() && !confirmed {
        return Ok(Logout::Confirm(params.into_iter().filter(|(k, _)| k != "csrf_token").collect()));
    }
    // The browser's own session ends; a hint names the session when the browser has none.
    let sid = current.map(|s| s.sid).or_else(|| hint.as_ref().and_then(|h| h.sid.clone()));
    if let Some(sid) = sid {
        let dir = state.directory.clone();
        let s2 = sid.clone();
        let holders =
            blocking::<_, DirectoryError>(move || dir.end_provider_session(&s2, operation_id.as_deref())).await?;
        tracing::info!(applications = holders.len(), "signed out at an application's request");
        // Applications with a back-channel logout URI were queued a logout token with the
        // sign-out; the delivery worker sends it now (and retries it if need be).
        state.deliveries.wake();
    }
    Ok(match redirect {
        Some(uri) => {
            let state_param = get("state");
            let pairs: Vec<(&str, &str)> = state_param.iter().map(|s| ("state", s.as_str())).collect();
            Logout::Redirect(request::with_query(&uri, &pairs))
        }
        None => Logout::Done,
    })
}
