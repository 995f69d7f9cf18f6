//! Signing people in through their enterprise's IdP, whichever protocol: starting a sign-in
//! (or an admin's test), checking what comes back (a SAML response, an OpenID Connect
//! callback), and one function, [`finish`], that ends every sign-in: a test result for an
//! admin, or provisioning, the session, the audit event and the metrics for a person. The
//! HTTP modules parse requests, call these, and render what they return.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use directory::DirectoryError;
use directory::connection::{Connection, ConnectionStatus, Protocol, SamlSettings};
use directory::ids::ConnectionId;
use directory::sso_sign_in::{PendingRequest, Vouched, new_request_id};
use sso::AttributeMapping;
use sso::oidc::{PreparedOidc, openidconnect_metadata::CoreProviderMetadata};
use sso::saml::Certificate;

use super::connections::{oidc_settings, provider_endpoints_allowed, saml_connection};
use crate::error::blocking;
use crate::state::AppState;

// ---- Caches ----

/// Prepared SAML connections, rebuilt when a connection's `updated_at` changes. Derived from
/// the database only (each instance builds its own), so nothing shared lives here.
#[derive(Debug, Default)]
pub struct SamlCache(Mutex<HashMap<ConnectionId, (chrono::NaiveDateTime, Arc<sso::saml::PreparedSaml>)>>);

impl SamlCache {
    /// The prepared form of `c`, built by `build` when missing or stale.
    fn get_or_build(
        &self,
        c: &Connection,
        build: impl FnOnce() -> Result<sso::saml::PreparedSaml, sso::saml::Refusal>,
    ) -> Result<Arc<sso::saml::PreparedSaml>, sso::saml::Refusal> {
        {
            let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((_, p)) = map.get(&c.id).filter(|(version, _)| *version == c.updated_at) {
                return Ok(p.clone());
            }
        }
        let prepared = Arc::new(build()?);
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        // Connections are few; a bound keeps a flood of deleted ones from growing it.
        if map.len() > 10_000 {
            map.clear();
        }
        map.insert(c.id.clone(), (c.updated_at, prepared.clone()));
        Ok(prepared)
    }
}

const METADATA_TTL: Duration = Duration::from_secs(3600);

/// A prepared connection with the connection version (`updated_at`) and the time its provider's
/// metadata were read.
type PreparedEntry = (chrono::NaiveDateTime, Instant, Arc<PreparedOidc>);

/// OpenID provider metadata (discovery document and keys) per issuer, cached for an hour (the
/// keys are re-read by `sso::oidc` when one is unknown), and connections made ready for
/// callbacks.
#[derive(Debug, Default)]
pub struct OidcCache {
    metadata: Mutex<HashMap<String, (Instant, Arc<CoreProviderMetadata>)>>,
    prepared: Mutex<HashMap<ConnectionId, PreparedEntry>>,
}

impl OidcCache {
    fn get(&self, issuer: &str) -> Option<(Instant, Arc<CoreProviderMetadata>)> {
        let map = self.metadata.lock().unwrap_or_else(|p| p.into_inner());
        map.get(issuer).filter(|(at, _)| at.elapsed() < METADATA_TTL).cloned()
    }

    fn put(&self, issuer: &str, metadata: Arc<CoreProviderMetadata>) -> Instant {
        let mut map = self.metadata.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 10_000 {
            map.clear();
        }
        let now = Instant::now();
        map.insert(issuer.to_owned(), (now, metadata));
        now
    }

    fn prepared(&self, c: &Connection, metadata_at: Instant) -> Option<Arc<PreparedOidc>> {
        let map = self.prepared.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&c.id).filter(|(v, at, _)| *v == c.updated_at && *at == metadata_at).map(|(_, _, p)| p.clone())
    }

    fn keep_prepared(&self, c: &Connection, metadata_at: Instant, prepared: Arc<PreparedOidc>) {
        let mut map = self.prepared.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 10_000 {
            map.clear();
        }
        map.insert(c.id.clone(), (c.updated_at, metadata_at, prepared));
    }
}

/// The issuer's metadata (cached for an hour) and when they were read.
async fn provider_metadata(state: &AppState, issuer: &str) -> Result<(Instant, Arc<CoreProviderMetadata>), String> {
    if let Some(m) = state.oidc.get(issuer) {
        return Ok(m);
    }
    let url = url::Url::parse(issuer).map_err(|e| format!("`{issuer}` is not a URL: {e}"))?;
    super::connections::issuer_allowed(state, &url)?;
    let m = sso::oidc::discover(issuer, &state.outbound).await.map_err(|e| e.to_string())?;
    provider_endpoints_allowed(state, &m)?;
    let m = Arc::new(m);
    let at = state.oidc.put(issuer, m.clone());
    Ok((at, m))
}

/// The connection made ready for callbacks, rebuilt when the connection or its provider's
/// metadata change.
async fn prepared_oidc(state: &AppState, c: &Connection) -> Result<Arc<PreparedOidc>, Refused> {
    let issuer = &c
        .oidc
        .as_ref()
        .ok_or_else(|| Refused::new("configuration", "this connection has no OpenID Connect settings"))?
        .issuer;
    let (at, meta) = provider_metadata(state, issuer).await.map_err(|e| Refused::new("provider_unreachable", e))?;
    if let Some(p) = state.oidc.prepared(c, at) {
        return Ok(p);
    }
    let settings = oidc_settings(&state.settings, c).map_err(|e| Refused::new("configuration", e))?;
    let p = Arc::new(
        PreparedOidc::new(meta.as_ref().clone(), &settings)
            .map_err(|e| Refused::new("configuration", e.to_string()))?,
    );
    state.oidc.keep_prepared(c, at, p.clone());
    Ok(p)
}

// ---- Starting ----

/// What sealed a sign-in's nonce and PKCE verifier: they wait in the database for the callback,
/// and are no use to anyone who reads the database meanwhile.
const REQUEST_SECRETS_PURPOSE: &str = "oidc sign-in request";

fn seal(state: &AppState, value: &str) -> Result<String, String> {
    crate::secrets::seal(&state.settings, REQUEST_SECRETS_PURPOSE, value.as_bytes()).map_err(|e| e.to_string())
}

fn unseal(state: &AppState, sealed: Option<&str>) -> Result<String, Refused> {
    let plain = crate::secrets::open(&state.settings, REQUEST_SECRETS_PURPOSE, sealed.unwrap_or_default())
        .map_err(|e| Refused::new("state_mismatch", format!("the sign-in's stored secrets are unreadable: {e}")))?;
    String::from_utf8(plain)
        .map_err(|_| Refused::new("state_mismatch", "the sign-in's stored secrets are unreadable: not text"))
}

/// A sign-in under way: where to send the browser, and the request the IdP will answer.
#[derive(Debug, Clone)]
pub struct Started {
    pub url: String,
    pub request_id: String,
}

/// Starts a sign-in (or, with `test`, an admin's test) through `c`: records the request Portico
/// will wait for, and returns the IdP's URL. The error is a sentence for the logs; people see
/// a plain message.
pub async fn start(state: &AppState, c: &Connection, test: bool, next: &str) -> Result<Started, String> {
    match c.protocol {
        Protocol::Oidc => {
            let settings = oidc_settings(&state.settings, c)?;
            let (_, meta) = provider_metadata(state, &settings.issuer).await?;
            let request_id = new_request_id();
            let started = sso::oidc::start(&meta, &settings, &request_id).map_err(|e| e.to_string())?;
            let dir = state.directory.clone();
            let (rid, cid, next, nonce, verifier) = (
                request_id.clone(),
                c.id.clone(),
                next.to_owned(),
                seal(state, &started.nonce)?,
                seal(state, &started.pkce_verifier)?,
            );
            blocking::<_, DirectoryError>(move || dir.begin_oidc_request(&rid, &cid, test, &next, &nonce, &verifier))
                .await
                .map_err(|e| e.to_string())?;
            Ok(Started { url: started.url.to_string(), request_id })
        }
        Protocol::Saml => {
            let saml = saml_connection(&state.settings, c)?;
            let dir = state.directory.clone();
            let (cid, next) = (c.id.clone(), next.to_owned());
            let request_id = blocking::<_, DirectoryError>(move || dir.begin_sso_request(&cid, test, &next))
                .await
                .map_err(|e| e.to_string())?;
            let url = sso::saml::authn_request_url(&saml, &request_id, "", state.directory.now().and_utc())
                .map_err(|e| e.to_string())?;
            Ok(Started { url: url.to_string(), request_id })
        }
    }
}

/// The IdP's URL for a SAML test request already recorded (the link an admin opens).
pub fn saml_test_url(state: &AppState, c: &Connection, request_id: &str) -> Result<String, String> {
    let saml = saml_connection(&state.settings, c)?;
    let url = sso::saml::authn_request_url(&saml, request_id, "", state.directory.now().and_utc())
        .map_err(|e| e.to_string())?;
    Ok(url.to_string())
}

/// Starts an admin's test of `c` and returns the link their browser opens: for OpenID Connect
/// the provider's authorization URL; for SAML a link to Portico that sends the browser on to the
/// IdP (valid ten minutes, once).
pub async fn start_test(state: &AppState, c: &Connection) -> Result<String, DirectoryError> {
    if c.protocol == Protocol::Oidc {
        return start(state, c, true, "/")
            .await
            .map(|s| s.url)
            .map_err(|e| DirectoryError::Conflict(format!("the test cannot start: {e}")));
    }
    if c.saml.as_ref().is_none_or(SamlSettings::is_blank) {
        return Err(DirectoryError::Conflict("configure the IdP side of the connection before testing it".into()));
    }
    let dir = state.directory.clone();
    let cid = c.id.clone();
    let request = blocking::<_, DirectoryError>(move || dir.begin_sso_request(&cid, true, "/")).await?;
    Ok(state.settings.url(&format!("/sso/saml/{}/test/{request}", c.id)))
}

/// The value of the cookie that ties a sign-in to the browser that started it.
pub fn binding_value(state: &AppState, request_id: &str) -> String {
    crate::auth::csrf_token(state, &format!("sso request\0{request_id}"))
}

/// True when the browser presenting `presented` is the one that started sign-in `request_id`
/// (always true over plain HTTP, where the cookie cannot travel cross-site).
pub fn same_browser(state: &AppState, presented: Option<&str>, request_id: &str) -> bool {
    browser_matches(state.settings.secure_cookies(), presented, &binding_value(state, request_id))
}

fn browser_matches(secure: bool, presented: Option<&str>, expected: &str) -> bool {
    if !secure {
        return true;
    }
    presented.is_some_and(|p| bool::from(subtle::ConstantTimeEq::ct_eq(p.as_bytes(), expected.as_bytes())))
}

// ---- Checking what comes back ----

/// Refused sign-in posts of one client address to one connection, counted against
/// `sso.refusals_per_minute` (both protocols): each refusal is audited, so their number is
/// bounded.
#[derive(Debug)]
pub struct RefusalCount<'a> {
    throttle: &'a crate::throttle::Throttle,
    key: String,
}

impl<'a> RefusalCount<'a> {
    pub fn new(state: &'a AppState, address: &str, connection_id: &str) -> Self {
        let address = directory::sign_in::address_key(address);
        RefusalCount { throttle: &state.sign_in_refusals, key: format!("{address} {connection_id}") }
    }

    /// True when this address has had its refusals for the minute at this connection.
    pub fn exhausted(&self) -> bool {
        self.throttle.exhausted(&self.key, Instant::now())
    }

    fn count(&self) {
        self.throttle.allow(&self.key, Instant::now());
    }
}

/// A refusal: a stable code for the audit trail and metrics, and the reason an admin reads.
#[derive(Debug, Clone)]
pub struct Refused {
    pub code: &'static str,
    pub reason: String,
}

impl Refused {
    pub fn new(code: &'static str, reason: impl Into<String>) -> Refused {
        Refused { code, reason: reason.into() }
    }
}

/// What an IdP vouched for, from either protocol, once its protocol's checks passed.
#[derive(Debug, Clone)]
pub struct Vouch {
    pub identity: sso::VerifiedIdentity,
    /// The request it answers (`None`: IdP-initiated).
    pub request_id: Option<String>,
    /// The key a second use is caught by (the assertion id; the state for OpenID Connect).
    pub replay_key: String,
    pub replay_until: DateTime<Utc>,
    /// The IdP's signing certificates, for a test's expiry warnings.
    pub certificates: Vec<Certificate>,
}

/// The protocol's verdict on what came back.
pub type Verdict = Result<Vouch, Refused>;

/// Everything the ACS needs about one posted response: the connection, the request it claims to
/// answer, and the protocol's verdict.
#[derive(Debug)]
pub struct Checked {
    pub connection: Connection,
    pub pending: Option<PendingRequest>,
    pub verdict: Verdict,
}

/// Checks a posted `SAMLResponse` for connection `connection_id`.
pub async fn check_saml_response(
    state: &AppState,
    connection_id: &ConnectionId,
    body: String,
) -> Result<Checked, DirectoryError> {
    let dir = state.directory.clone();
    let claimed = sso::saml::in_response_to(&body, state.settings.sso_max_saml_response_bytes);
    let id = connection_id.clone();
    let (connection, pending) = blocking::<_, DirectoryError>(move || dir.acs_context(&id, claimed.as_deref())).await?;
    // The prepared connection (certificates parsed, SP key opened) is built only when the cache
    // has none for this version of the connection.
    let settings = state.settings.clone();
    let c2 = connection.clone();
    let prepared = state.saml.get_or_build(&connection, move || {
        saml_connection(&settings, &c2)
            .map_err(|e| {
                tracing::error!(connection = %c2.id, error = %e, "a SAML connection cannot be used");
                sso::saml::Refusal::Other(format!("the connection cannot be used: {e}"))
            })?
            .prepare()
    });
    let expected: Vec<String> = pending.iter().map(|p| p.id.clone()).collect();
    let now = state.directory.now().and_utc();
    // Signature checks are CPU work: off the async worker, like the database calls.
    let verdict = actix_web::web::block(move || {
        let ids: Vec<&str> = expected.iter().map(String::as_str).collect();
        prepared.and_then(|p| p.verify(&body, &ids, now).map(|v| (v, p.connection().idp.certificates.clone())))
    })
    .await
    .map_err(|e| DirectoryError::Internal(e.to_string()))?;
    let verdict = verdict
        .map(|(v, certificates)| Vouch {
            identity: v.identity,
            request_id: v.in_response_to,
            replay_key: v.assertion_id,
            replay_until: v.replay_until,
            certificates,
        })
        .map_err(|r| Refused::new(r.code(), r.to_string()));
    Ok(Checked { connection, pending, verdict })
}

/// An OpenID Connect callback's query.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct Callback {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// Checks an OpenID Connect callback for connection `connection_id`: the state names a sign-in
/// of this connection, started in this browser (`presented` is its binding cookie), and the
/// code is exchanged for an ID token that passes every check.
pub async fn check_oidc_callback(
    state: &AppState,
    connection_id: &ConnectionId,
    q: Callback,
    presented: Option<&str>,
) -> Result<Checked, DirectoryError> {
    let dir = state.directory.clone();
    let (id, s2) = (connection_id.clone(), q.state.clone());
    let (connection, pending) = blocking::<_, DirectoryError>(move || dir.acs_context(&id, s2.as_deref())).await?;
    let verdict: Verdict = async {
        if let Some(error) = &q.error {
            return Err(Refused::new(
                "provider_error",
                format!(
                    "the provider answered {error}{}",
                    q.error_description.as_deref().map(|d| format!(": {d}")).unwrap_or_default()
                ),
            ));
        }
        let Some(state_param) = &q.state else {
            return Err(Refused::new("missing_state", "the callback carries no state"));
        };
        let Some(p) = &pending else {
            return Err(Refused::new(
                "state_mismatch",
                format!("no sign-in of this connection is waiting for state {state_param}"),
            ));
        };
        let code = q.code.as_deref().ok_or_else(|| Refused::new("missing_code", "the callback carries no code"))?;
        // Checked before the provider is contacted: a code is spent by its exchange.
        if !p.test && !same_browser(state, presented, &p.id) {
            return Err(Refused::new(
                "other_browser",
                "the callback reached a browser that did not start this sign-in",
            ));
        }
        let prepared = prepared_oidc(state, &connection).await?;
        let (identity, refreshed) = prepared
            .finish(
                &state.outbound,
                code,
                &unseal(state, p.nonce.as_deref())?,
                &unseal(state, p.pkce_verifier.as_deref())?,
                state.directory.now().and_utc(),
            )
            .await
            .map_err(|r| Refused::new(r.code(), r.to_string()))?;
        if let Some(meta) = refreshed {
            // The provider rotated its keys: keep the new ones for the next callbacks.
            state.oidc.put(prepared.issuer(), Arc::new(meta));
        }
        Ok(Vouch {
            identity,
            request_id: Some(p.id.clone()),
            // The state is single-use; it also serves as this sign-in's replay key.
            replay_key: format!("oidc:{}", p.id),
            replay_until: state.directory.now().and_utc()
                + chrono::Duration::minutes(directory::sso_sign_in::REQUEST_TTL_MINUTES),
            certificates: Vec::new(),
        })
    }
    .await;
    Ok(Checked { connection, pending, verdict })
}

// ---- Finishing ----

/// Where a sign-in came from, besides what the IdP said.
#[derive(Debug)]
pub struct Attempt<'a> {
    /// The client's binding cookie, if it sent one.
    pub presented_binding: Option<&'a str>,
    pub address: &'a str,
    pub user_agent: &'a str,
    pub operation_id: Option<&'a str>,
    pub refusals: &'a RefusalCount<'a>,
}

/// What an admin's test sign-in shows.
#[derive(Debug, Clone)]
pub struct TestOutcome {
    pub success: bool,
    pub reason: Option<String>,
    /// The identity as Portico maps it: (field, value).
    pub mapped: Vec<(String, String)>,
    /// Every attribute or claim the IdP sent: (name, values).
    pub raw: Vec<(String, String)>,
    pub warnings: Vec<String>,
    /// What was recorded as the test result.
    pub json: serde_json::Value,
}

/// How a sign-in ended.
#[derive(Debug)]
pub enum Finished {
    /// An admin's test: nobody was provisioned, no session opened.
    Test(TestOutcome),
    /// Signed in: the session, and the local page the person asked for.
    SignedIn { session_token: String, return_to: String },
    /// Refused; the reason is in the audit log.
    Refused,
}

fn label(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Saml => "saml",
        Protocol::Oidc => "oidc",
    }
}

/// Ends a sign-in of either protocol, real or test, the one way: a test records its result and
/// shows the admin the mapped identity and warnings; a real sign-in is refused (audited,
/// counted, the pending request left for the genuine answer) or checked for the browser that
/// started it, provisioned, given its session and audited, with the metrics counted.
pub async fn finish(state: &AppState, checked: Checked, attempt: Attempt<'_>) -> Result<Finished, DirectoryError> {
    let Checked { connection, pending, verdict } = checked;
    let protocol = label(connection.protocol);
    let test = pending.as_ref().is_some_and(|p| p.test);
    if test {
        if verdict.is_err() {
            attempt.refusals.count();
        }
        return test_outcome(state, &connection, verdict, attempt.operation_id).await.map(Finished::Test);
    }
    let connection_id = &connection.id;
    let refuse = |subject: Option<String>, refused: Refused| async move {
        attempt.refusals.count();
        state.metrics.sign_in(protocol, refused.code);
        tracing::warn!(connection = %connection_id, reason = refused.code, "sign-in refused");
        let dir = state.directory.clone();
        let (cid, op) = (connection_id.clone(), attempt.operation_id.map(str::to_owned));
        blocking::<_, DirectoryError>(move || {
            dir.record_sso_failure(&cid, subject.as_deref(), refused.code, &refused.reason, op.as_deref())
        })
        .await
        .map(|()| Finished::Refused)
    };
    // A refused response spends nothing: the pending request stays for the genuine answer
    // (otherwise anyone who learnt a request id could cancel that sign-in).
    let vouch = match verdict {
        Ok(v) => v,
        Err(refused) => return refuse(None, refused).await,
    };
    if connection.status != ConnectionStatus::Enabled {
        return Ok(Finished::Refused);
    }
    // Only the browser that started a sign-in may spend its request.
    if let Some(request_id) = &vouch.request_id
        && !same_browser(state, attempt.presented_binding, request_id)
    {
        let refused =
            Refused::new("other_browser", "the response was posted from a browser that did not start this sign-in");
        return refuse(Some(vouch.identity.subject.clone()), refused).await;
    }
    let return_to = match (&pending, &connection.default_application) {
        (Some(p), _) => p.return_to.clone(),
        // IdP-initiated: on to the host application the connection names, if any.
        (None, Some(client_id)) => format!("/oauth2/initiate/{client_id}"),
        (None, None) => "/".into(),
    };
    let vouched = vouched(&connection, &vouch);
    let dir = state.directory.clone();
    let (address, agent, op) =
        (attempt.address.to_owned(), attempt.user_agent.to_owned(), attempt.operation_id.map(str::to_owned));
    let outcome =
        blocking::<_, DirectoryError>(move || dir.complete_sso_sign_in(&vouched, &address, &agent, op.as_deref()))
            .await?;
    match outcome {
        Ok(signed_in) => {
            state.metrics.sign_in(protocol, "success");
            Ok(Finished::SignedIn { session_token: signed_in.session_token, return_to })
        }
        Err(refusal) => {
            // Audited by the directory, which also spent the request and the assertion.
            attempt.refusals.count();
            state.metrics.sign_in(protocol, refusal.code());
            tracing::warn!(connection = %connection.id, reason = refusal.code(), "sign-in refused");
            Ok(Finished::Refused)
        }
    }
}

/// What the directory is told the IdP vouched for.
fn vouched(c: &Connection, v: &Vouch) -> Vouched {
    let default_login = match c.protocol {
        Protocol::Saml => "NameID",
        Protocol::Oidc => "sub",
    };
    Vouched {
        connection_id: c.id.clone(),
        request_id: v.request_id.clone(),
        assertion_id: v.replay_key.clone(),
        replay_until: v.replay_until.naive_utc(),
        subject: v.identity.subject.clone(),
        login: v.identity.login.clone(),
        login_attribute: c.mapping.login.clone().unwrap_or_else(|| default_login.into()),
        email: v.identity.email.clone(),
        name: v.identity.name.clone(),
        groups: v.identity.groups.clone(),
        email_verified: email_verified(c, &v.identity),
    }
}

/// True only when the IdP's own assertion says the e-mail address Portico took is verified:
/// an OpenID Connect provider's `email_verified: true` beside the `email` claim that was
/// mapped. SAML has no standard statement of it, so a SAML sign-in never claims it.
fn email_verified(c: &Connection, identity: &sso::VerifiedIdentity) -> bool {
    let mapped_from_email_claim = c.mapping.email.as_deref().is_none_or(|m| m == "email");
    c.protocol == Protocol::Oidc
        && identity.email.is_some()
        && mapped_from_email_claim
        && identity.raw.get("email_verified").is_some_and(|v| v.iter().any(|x| x == "true"))
}

/// A test: the assertion (or state) is spent so that it cannot be replayed, nobody is
/// provisioned, and the result is recorded for the assistant and the API.
async fn test_outcome(
    state: &AppState,
    c: &Connection,
    verdict: Verdict,
    operation_id: Option<&str>,
) -> Result<TestOutcome, DirectoryError> {
    let outcome = match verdict {
        Ok(v) => {
            let dir = state.directory.clone();
            let vouched = vouched(c, &v);
            let spent = blocking::<_, DirectoryError>(move || dir.consume_test_assertion(&vouched)).await?;
            let mapping = AttributeMapping {
                login: c.mapping.login.clone(),
                email: c.mapping.email.clone(),
                name: c.mapping.name.clone(),
                groups: c.mapping.groups.clone(),
            };
            let warns = warnings(&v.identity, &mapping, &v.certificates, state.directory.now().and_utc());
            let subject_label = match c.protocol {
                Protocol::Saml => "Subject (NameID)",
                Protocol::Oidc => "Subject (sub)",
            };
            let id = &v.identity;
            TestOutcome {
                success: spent.is_ok(),
                reason: spent.err().map(|r| r.to_string()),
                mapped: vec![
                    (subject_label.to_owned(), id.subject.clone()),
                    ("Login".to_owned(), id.login.clone().unwrap_or_default()),
                    ("E-mail".to_owned(), id.email.clone().unwrap_or_default()),
                    ("Name".to_owned(), id.name.clone().unwrap_or_default()),
                    ("Groups".to_owned(), id.groups.join(", ")),
                ],
                raw: id.raw.iter().map(|(k, vals)| (k.clone(), vals.join(", "))).collect(),
                json: serde_json::json!({"identity": id, "warnings": warns}),
                warnings: warns,
            }
        }
        Err(r) => TestOutcome {
            success: false,
            reason: Some(format!("{} [{}]", r.reason, r.code)),
            mapped: Vec::new(),
            raw: Vec::new(),
            warnings: Vec::new(),
            // The reason may quote the sender (a StatusMessage): kept bounded like the audit's.
            json: serde_json::json!({
                "refusal": r.code,
                "reason": directory::audit::bounded(&r.reason, directory::audit::REASON_MAX),
            }),
        },
    };
    let dir = state.directory.clone();
    let (cid, reason, json, op) =
        (c.id.clone(), outcome.reason.clone(), outcome.json.clone(), operation_id.map(str::to_owned));
    let success = outcome.success;
    blocking::<_, DirectoryError>(move || {
        dir.record_test_result(&cid, success, reason.as_deref(), &json, op.as_deref()).map(|_| ())
    })
    .await?;
    Ok(outcome)
}

/// Warnings an admin should act on before enabling a connection.
pub fn warnings(
    identity: &sso::VerifiedIdentity,
    mapping: &AttributeMapping,
    certs: &[Certificate],
    now: DateTime<Utc>,
) -> Vec<String> {
    let mut w = Vec::new();
    for (field, attr) in
        [("login", &mapping.login), ("email", &mapping.email), ("name", &mapping.name), ("groups", &mapping.groups)]
    {
        if let Some(a) = attr
            && !identity.raw.contains_key(a)
        {
            w.push(format!("The IdP sent no attribute named `{a}`, which is mapped to {field}."));
        }
    }
    if identity.email.is_none() {
        w.push("No e-mail address came through: users will be created without one.".into());
    }
    if identity.groups.is_empty() {
        w.push("No groups came through: group memberships will not be synchronised.".into());
    }
    for c in certs {
        if c.expiring_soon(now) {
            w.push(format!("The IdP certificate `{}` expires on {}.", c.subject, c.not_after.format("%Y-%m-%d")));
        }
    }
    w
}

#[cfg(test)]
mod tests {
    use super::browser_matches;

    #[test]
    fn over_https_the_starting_browser_must_post_the_response() {
        assert!(browser_matches(true, Some("abc"), "abc"));
        assert!(!browser_matches(true, Some("abd"), "abc"));
        assert!(!browser_matches(true, None, "abc"));
        assert!(browser_matches(false, None, "abc"), "plain HTTP cannot carry the cookie cross-site");
    }
}
