//! OpenID Connect endpoints of the relying party: starting a sign-in (from `/login/sso` and
//! test links) and the callback. The protocol work is `sso::oidc`'s; provider metadata is cached
//! per issuer for an hour (the JWKS is re-read by `sso::oidc` when a key is unknown).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, web};
use directory::DirectoryError;
use directory::connection::{Connection, ConnectionStatus};
use directory::sso_sign_in::{Vouched, new_request_id};
use serde::Deserialize;
use sso::AttributeMapping;
use sso::oidc::{OidcSettings, PreparedOidc, ProviderHttp, openidconnect_metadata};

use super::saml::{BINDING_COOKIE, TestResultPage, binding_value, same_browser, warnings};
use crate::auth::{client_address, operation_id};
use crate::config::Settings;
use crate::console::render_status;
use crate::error::{PageError, blocking};
use crate::observe::current_operation_id;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(callback);
}

/// The callback URL a connection registers at its provider.
pub fn redirect_uri(settings: &Settings, connection_id: &str) -> String {
    settings.url(&format!("/sso/oidc/{connection_id}/callback"))
}

const METADATA_TTL: Duration = Duration::from_secs(3600);

/// Provider metadata (discovery document and keys) per issuer, connections made ready for
/// callbacks, and the one HTTP client that talks to providers (so its connections are reused).
#[derive(Debug, Default)]
pub struct OidcCache {
    /// Shared, not copied: a callback only needs them when its connection is prepared anew.
    metadata: Mutex<HashMap<String, (Instant, Arc<openidconnect_metadata::CoreProviderMetadata>)>>,
    /// Per connection: the connection version and metadata version it was built from.
    prepared: Mutex<HashMap<String, PreparedEntry>>,
    http: OnceLock<ProviderHttp>,
}

/// A prepared connection with the connection version (`updated_at`) and the time its provider's
/// metadata were read.
type PreparedEntry = (chrono::NaiveDateTime, Instant, Arc<PreparedOidc>);

impl OidcCache {
    fn http(&self, settings: &Settings) -> Result<ProviderHttp, String> {
        if let Some(c) = self.http.get() {
            return Ok(c.clone());
        }
        let c = provider_client(settings)?;
        Ok(self.http.get_or_init(|| c).clone())
    }

    fn get(&self, issuer: &str) -> Option<(Instant, Arc<openidconnect_metadata::CoreProviderMetadata>)> {
        let map = self.metadata.lock().unwrap_or_else(|p| p.into_inner());
        map.get(issuer).filter(|(at, _)| at.elapsed() < METADATA_TTL).cloned()
    }

    fn put(&self, issuer: &str, metadata: Arc<openidconnect_metadata::CoreProviderMetadata>) -> Instant {
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

/// What sealed a sign-in's nonce and PKCE verifier: they wait in the database for the callback,
/// and are no use to anyone who reads the database meanwhile.
const REQUEST_SECRETS_PURPOSE: &str = "oidc sign-in request";

fn seal(state: &AppState, value: &str) -> Result<String, String> {
    crate::secrets::seal(&state.settings, REQUEST_SECRETS_PURPOSE, value.as_bytes()).map_err(|e| e.to_string())
}

fn unseal(state: &AppState, sealed: Option<&str>) -> Result<String, (&'static str, String)> {
    let refused = |why: String| ("state_mismatch", format!("the sign-in's stored secrets are unreadable: {why}"));
    let plain = crate::secrets::open(&state.settings, REQUEST_SECRETS_PURPOSE, sealed.unwrap_or_default())
        .map_err(|e| refused(e.to_string()))?;
    String::from_utf8(plain).map_err(|_| refused("not text".into()))
}

/// The client for provider calls (`sso::outbound`): unless `sso.allow_private_metadata`, it
/// connects to public addresses only, checked when it connects, and never through a proxy the
/// environment names. With `sso.outbound_proxy` it goes through that proxy, which resolves and
/// connects on its behalf: literal internal addresses are still refused here.
fn provider_client(settings: &Settings) -> Result<ProviderHttp, String> {
    let proxy = settings.sso_outbound_proxy.as_ref();
    let builder = sso::outbound::client_builder(proxy)?;
    if settings.sso_allow_private_metadata {
        return Ok(ProviderHttp::new(builder.build().map_err(|e| e.to_string())?, None));
    }
    let builder = if proxy.is_some() { builder } else { builder.dns_resolver(Arc::new(sso::outbound::PublicOnly)) };
    let client = builder.build().map_err(|e| e.to_string())?;
    // Host names are checked by the resolver when connecting; this refuses plain HTTP and
    // internal addresses written literally, before anything is sent.
    Ok(ProviderHttp::new(client, Some(Arc::new(sso::outbound::check_public_url))))
}

/// Refuses issuers Portico must not contact (plain HTTP, internal addresses) unless
/// `sso.allow_private_metadata`, then reads the discovery document.
pub async fn check_issuer(settings: &Settings, issuer: &str) -> Result<(), String> {
    guard(settings, issuer)?;
    let http = provider_client(settings)?;
    let m = sso::oidc::discover(issuer, &http).await.map_err(|e| e.to_string())?;
    check_endpoints(settings, &m)
}

/// The provider's endpoints obey the issuer's rule: HTTPS, and no internal address.
fn check_endpoints(settings: &Settings, m: &openidconnect_metadata::CoreProviderMetadata) -> Result<(), String> {
    if settings.sso_allow_private_metadata {
        return Ok(());
    }
    for (name, url) in sso::oidc::endpoints(m) {
        sso::outbound::check_public_url(url).map_err(|e| format!("the provider's {name}: {e}"))?;
    }
    Ok(())
}

/// The issuer's URL obeys the rule for every URL Portico calls at a provider (HTTPS, no internal
/// address written literally), unless `sso.allow_private_metadata`. Host names are checked when
/// the provider client connects (`PublicOnly`), not here: a check before the connection could be
/// answered differently by DNS than the connection itself.
fn guard(settings: &Settings, issuer: &str) -> Result<(), String> {
    let url = url::Url::parse(issuer).map_err(|e| format!("`{issuer}` is not a URL: {e}"))?;
    if settings.sso_allow_private_metadata {
        return Ok(());
    }
    sso::outbound::check_public_url(&url).map_err(|e| format!("the issuer must be a public https:// URL: {e}"))
}

fn oidc_settings(settings: &Settings, c: &Connection) -> Result<OidcSettings, String> {
    let o = c.oidc.as_ref().ok_or("this connection has no OpenID Connect settings")?;
    let secret = crate::secrets::open(settings, crate::api::connections::CLIENT_SECRET_PURPOSE, &o.client_secret)
        .map_err(|e| e.to_string())?;
    Ok(OidcSettings {
        issuer: o.issuer.clone(),
        client_id: o.client_id.clone(),
        client_secret: String::from_utf8(secret).map_err(|_| "the client secret is unreadable".to_owned())?,
        scopes: o.scopes.clone(),
        redirect_uri: redirect_uri(settings, &c.id),
        mapping: AttributeMapping {
            login: c.mapping.login.clone(),
            email: c.mapping.email.clone(),
            name: c.mapping.name.clone(),
            groups: c.mapping.groups.clone(),
        },
        clock_skew: settings.sso_clock_skew,
    })
}

/// The issuer's metadata (cached for an hour) and when they were read.
async fn metadata(
    state: &AppState,
    issuer: &str,
) -> Result<(Instant, Arc<openidconnect_metadata::CoreProviderMetadata>), String> {
    if let Some(m) = state.oidc.get(issuer) {
        return Ok(m);
    }
    guard(&state.settings, issuer)?;
    let http = state.oidc.http(&state.settings)?;
    let m = sso::oidc::discover(issuer, &http).await.map_err(|e| e.to_string())?;
    check_endpoints(&state.settings, &m)?;
    let m = Arc::new(m);
    let at = state.oidc.put(issuer, m.clone());
    Ok((at, m))
}

/// The connection made ready for callbacks, rebuilt when the connection or its provider's
/// metadata change.
async fn prepared(state: &AppState, c: &Connection) -> Result<Arc<PreparedOidc>, (&'static str, String)> {
    let issuer =
        &c.oidc.as_ref().ok_or(("configuration", "this connection has no OpenID Connect settings".into()))?.issuer;
    let (at, meta) = metadata(state, issuer).await.map_err(|e| ("provider_unreachable", e))?;
    if let Some(p) = state.oidc.prepared(c, at) {
        return Ok(p);
    }
    let settings = oidc_settings(&state.settings, c).map_err(|e| ("configuration", e))?;
    let p =
        Arc::new(PreparedOidc::new(meta.as_ref().clone(), &settings).map_err(|e| ("configuration", e.to_string()))?);
    state.oidc.keep_prepared(c, at, p.clone());
    Ok(p)
}

/// Starts a sign-in (or a test): records state, nonce and PKCE verifier, and returns the
/// provider's authorization URL and the request id.
pub async fn begin_url(state: &AppState, c: &Connection, test: bool, next: &str) -> Result<(String, String), String> {
    let settings = oidc_settings(&state.settings, c)?;
    let (_, meta) = metadata(state, &settings.issuer).await?;
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
    Ok((started.url.to_string(), request_id))
}

#[derive(Debug, Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `GET /sso/oidc/{id}/callback`: the provider sends the browser back here.
#[get("/sso/oidc/{id}/callback")]
async fn callback(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<CallbackQuery>,
) -> Result<HttpResponse, PageError> {
    let address = client_address(&req);
    if !state.sign_in_throttle.allow(&address, Instant::now()) {
        return Err(PageError::TooManyRequests);
    }
    let id = path.into_inner();
    let refusals = super::saml::RefusalCount::new(&state, &address, &id);
    if refusals.exhausted() {
        state.metrics.sign_in("oidc", "too_many_refusals");
        return Err(PageError::TooManyRequests);
    }
    let q = query.into_inner();
    let op = operation_id(&req);
    let dir = state.directory.clone();
    let (i2, s2) = (id.clone(), q.state.clone());
    let (connection, pending) = blocking::<_, PageError>(move || dir.acs_context(&i2, s2.as_deref())).await?;
    let refuse = |code: &'static str, text: String| (code, text);
    let outcome: Result<sso::VerifiedIdentity, (&'static str, String)> = async {
        if let Some(error) = &q.error {
            return Err(refuse(
                "provider_error",
                format!(
                    "the provider answered {error}{}",
                    q.error_description.as_deref().map(|d| format!(": {d}")).unwrap_or_default()
                ),
            ));
        }
        let Some(state_param) = &q.state else {
            return Err(refuse("missing_state", "the callback carries no state".into()));
        };
        let Some(p) = &pending else {
            return Err(refuse(
                "state_mismatch",
                format!("no sign-in of this connection is waiting for state {state_param}"),
            ));
        };
        let code = q.code.as_deref().ok_or_else(|| refuse("missing_code", "the callback carries no code".into()))?;
        if !p.test {
            let presented = req.cookie(BINDING_COOKIE).map(|c| c.value().to_owned());
            if !same_browser(state.settings.secure_cookies(), presented.as_deref(), &binding_value(&state, &p.id)) {
                return Err(refuse(
                    "other_browser",
                    "the callback reached a browser that did not start this sign-in".into(),
                ));
            }
        }
        let prepared = prepared(&state, &connection).await?;
        let http = state.oidc.http(&state.settings).map_err(|e| refuse("configuration", e))?;
        let (identity, refreshed) = prepared
            .finish(&http, code, &unseal(&state, p.nonce.as_deref())?, &unseal(&state, p.pkce_verifier.as_deref())?)
            .await
            .map_err(|r| (r.code(), r.to_string()))?;
        if let Some(meta) = refreshed {
            // The provider rotated its keys: keep the new ones for the next callbacks.
            state.oidc.put(prepared.issuer(), Arc::new(meta));
        }
        Ok(identity)
    }
    .await;
    let test = pending.as_ref().is_some_and(|p| p.test);
    let identity = match outcome {
        Ok(identity) => identity,
        Err((code, text)) => {
            // A refused callback spends nothing: the pending request stays for the genuine one.
            refusals.count();
            state.metrics.sign_in("oidc", code);
            tracing::warn!(connection = %connection.id, reason = code, "OpenID Connect sign-in refused");
            let dir = state.directory.clone();
            let (cid, t2, op2) = (connection.id.clone(), text.clone(), op.clone());
            let json = serde_json::json!({
                "refusal": code,
                "reason": directory::audit::bounded(&text, directory::audit::REASON_MAX),
            });
            blocking::<_, PageError>(move || {
                if test {
                    dir.record_test_result(&cid, false, Some(&format!("{t2} [{code}]")), &json, op2.as_deref())
                        .map(|_| ())
                } else {
                    dir.record_sso_failure(&cid, None, code, &t2, op2.as_deref())
                }
            })
            .await?;
            if test {
                return test_page(&connection, false, Some(format!("{text} [{code}]")), None);
            }
            return Err(PageError::SignInRefused);
        }
    };
    let Some(pending) = pending else { return Err(PageError::SignInRefused) };
    let vouched = Vouched {
        connection_id: connection.id.clone(),
        request_id: Some(pending.id.clone()),
        // The state is single-use; it also serves as this sign-in's replay key.
        assertion_id: format!("oidc:{}", pending.id),
        replay_until: (chrono::Utc::now() + chrono::Duration::minutes(directory::sso_sign_in::REQUEST_TTL_MINUTES))
            .naive_utc(),
        subject: identity.subject.clone(),
        login: identity.login.clone(),
        login_attribute: connection.mapping.login.clone().unwrap_or_else(|| "sub".into()),
        email: identity.email.clone(),
        name: identity.name.clone(),
        groups: identity.groups.clone(),
    };
    if pending.test {
        let dir = state.directory.clone();
        let v2 = vouched.clone();
        let spent = blocking::<_, PageError>(move || dir.consume_test_assertion(&v2)).await?;
        let mapping = AttributeMapping {
            login: connection.mapping.login.clone(),
            email: connection.mapping.email.clone(),
            name: connection.mapping.name.clone(),
            groups: connection.mapping.groups.clone(),
        };
        let warns = warnings(&identity, &mapping, &[], chrono::Utc::now());
        let json = serde_json::json!({"identity": identity, "warnings": warns});
        let (success, reason) = match spent {
            Ok(()) => (true, None),
            Err(r) => (false, Some(r.to_string())),
        };
        let dir = state.directory.clone();
        let (cid, r2, j2, op2) = (connection.id.clone(), reason.clone(), json.clone(), op.clone());
        blocking::<_, PageError>(move || dir.record_test_result(&cid, success, r2.as_deref(), &j2, op2.as_deref()))
            .await?;
        return test_page(&connection, success, reason, Some((identity, warns)));
    }
    if connection.status != ConnectionStatus::Enabled {
        return Err(PageError::SignInRefused);
    }
    let dir = state.directory.clone();
    let address = client_address(&req);
    let agent = req.headers().get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let outcome =
        blocking::<_, PageError>(move || dir.complete_sso_sign_in(&vouched, &address, &agent, op.as_deref())).await?;
    match outcome {
        Ok(signed_in) => {
            state.metrics.sign_in("oidc", "success");
            super::saml::signed_in_response(&state, &pending.return_to, signed_in.session_token)
        }
        Err(refusal) => {
            refusals.count();
            state.metrics.sign_in("oidc", refusal.code());
            Err(PageError::SignInRefused)
        }
    }
}

fn test_page(
    c: &Connection,
    success: bool,
    reason: Option<String>,
    identity: Option<(sso::VerifiedIdentity, Vec<String>)>,
) -> Result<HttpResponse, PageError> {
    let (mapped, raw, warnings, json) = match &identity {
        Some((id, warns)) => (
            vec![
                ("Subject (sub)".to_owned(), id.subject.clone()),
                ("Login".to_owned(), id.login.clone().unwrap_or_default()),
                ("E-mail".to_owned(), id.email.clone().unwrap_or_default()),
                ("Name".to_owned(), id.name.clone().unwrap_or_default()),
                ("Groups".to_owned(), id.groups.join(", ")),
            ],
            id.raw.iter().map(|(k, v)| (k.clone(), v.join(", "))).collect(),
            warns.clone(),
            serde_json::to_string_pretty(&serde_json::json!({"identity": id, "warnings": warns})).unwrap_or_default(),
        ),
        None => (vec![], vec![], vec![], serde_json::json!({"reason": reason}).to_string()),
    };
    let page = TestResultPage {
        success,
        reason,
        provider: c.provider.label().to_owned(),
        mapped,
        raw,
        warnings,
        json,
        operation_id: current_operation_id(),
        enterprise_key: c.enterprise_key.clone(),
        connection_id: c.id.clone(),
    };
    render_status(&page, actix_web::http::StatusCode::OK)
}
