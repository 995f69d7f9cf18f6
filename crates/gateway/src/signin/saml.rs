//! SAML 2.0 endpoints of the service provider.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use chrono::{DateTime, Utc};
use directory::DirectoryError;
use directory::connection::{Connection, ConnectionStatus};
use directory::sso_sign_in::Vouched;
use serde::Deserialize;
use sso::AttributeMapping;
use sso::saml::{Certificate, IdentityProviderSettings, SamlConnection, ServiceProviderSettings};

use crate::auth::{SESSION_COOKIE, client_address, cookie, operation_id};
use crate::config::Settings;
use crate::console::render_status;
use crate::error::{PageError, blocking};
use crate::observe::current_operation_id;
use crate::state::AppState;

/// The routes. The ACS reads its form itself, after the per-address limits and up to
/// [`Settings::acs_form_limit`] bytes, not the console's small limit.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(start).service(metadata).service(test_start).service(acs);
}

/// The URLs an admin pastes into the IdP for one connection.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct SpUrls {
    /// Portico's entity id for this connection (the Audience of its assertions).
    pub entity_id: String,
    /// Where the IdP posts its responses: the Single Sign-On URL / ACS URL / Reply URL.
    pub acs_url: String,
    /// Portico's SP metadata document for this connection.
    pub metadata_url: String,
}

pub fn sp_urls(settings: &Settings, connection_id: &str) -> SpUrls {
    let metadata_url = settings.url(&format!("/sso/saml/{connection_id}/metadata"));
    SpUrls {
        entity_id: metadata_url.clone(),
        acs_url: settings.url(&format!("/sso/saml/{connection_id}/acs")),
        metadata_url,
    }
}

/// The protocol engine's view of a stored connection.
pub fn saml_connection(settings: &Settings, c: &Connection) -> Result<SamlConnection, String> {
    let s = c.saml.as_ref().ok_or("this connection has no SAML settings")?;
    let certificates = s
        .certificates
        .iter()
        .map(|b64| Certificate::parse(b64.as_bytes()).map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    let urls = sp_urls(settings, &c.id);
    let sp_key = match (s.encrypt_assertions || s.sign_requests, &s.sp_private_key) {
        (true, Some(sealed)) => {
            let pem = crate::secrets::open(settings, crate::api::connections::SP_KEY_PURPOSE, sealed)
                .map_err(|e| e.to_string())?;
            Some(sso::saml::sp_key::load(&pem).map_err(|e| format!("the SP key is unreadable: {e}"))?)
        }
        (true, None) => {
            return Err("the connection needs an SP key pair and has none; save its settings again".into());
        }
        (false, _) => None,
    };
    let decryption_key = sp_key.clone().filter(|_| s.encrypt_assertions);
    let signing_key = sp_key.filter(|_| s.sign_requests);
    Ok(SamlConnection {
        sp: ServiceProviderSettings { entity_id: urls.entity_id, acs_url: urls.acs_url },
        idp: IdentityProviderSettings { entity_id: s.idp_entity_id.clone(), sso_url: s.sso_url.clone(), certificates },
        mapping: AttributeMapping {
            login: c.mapping.login.clone(),
            email: c.mapping.email.clone(),
            name: c.mapping.name.clone(),
            groups: c.mapping.groups.clone(),
        },
        allow_idp_initiated: s.allow_idp_initiated,
        clock_skew: settings.sso_clock_skew,
        decryption_key,
        signing_key,
        require_signed_assertion: s.require_signed_assertions,
        max_response_bytes: settings.sso_max_saml_response_bytes,
        allow_cbc: s.allow_cbc_encryption,
    })
}

pub(crate) fn redirect(url: &str) -> HttpResponse {
    HttpResponse::Found()
        .insert_header((header::LOCATION, url.to_owned()))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

#[derive(Debug, Deserialize)]
struct StartQuery {
    enterprise_key: Option<String>,
    /// Where to land after signing in (a local path).
    next: Option<String>,
}

/// `GET /login/sso?enterprise_key=KEY`: sends the browser to the enterprise's IdP.
#[get("/login/sso")]
async fn start(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<StartQuery>,
) -> Result<HttpResponse, PageError> {
    if !state.sign_in_throttle.allow(&client_address(&req), std::time::Instant::now()) {
        return Err(PageError::TooManyRequests);
    }
    let query = query.into_inner();
    let key = query.enterprise_key.unwrap_or_default().trim().to_owned();
    if key.is_empty() {
        return Err(PageError::BadRequest(
            "Enter your enterprise key to sign in with your company's identity provider.".into(),
        ));
    }
    let dir = state.directory.clone();
    let connection = blocking::<_, PageError>(move || dir.enabled_connection(&key)).await.map_err(|e| match e {
        PageError::Directory(DirectoryError::NotFound(_)) => PageError::BadRequest(
            "Single sign-on is not available for this enterprise key. Check the key, or ask your administrator.".into(),
        ),
        other => other,
    })?;
    let next = query.next.filter(|n| crate::console::session::safe_next(n).is_some()).unwrap_or_else(|| "/".into());
    if connection.protocol == directory::connection::Protocol::Oidc {
        let (url, request_id) = super::oidc::begin_url(&state, &connection, false, &next).await.map_err(|e| {
            tracing::warn!(connection = %connection.id, error = %e, "an OpenID Connect sign-in cannot start");
            PageError::BadRequest("Your company's identity provider cannot be reached right now. Try again later, or ask your administrator.".into())
        })?;
        let mut res = redirect(&url);
        res.add_cookie(&binding_cookie(&state, &request_id)).map_err(|e| PageError::BadRequest(e.to_string()))?;
        return Ok(res);
    }
    begin(&state, &connection, false, &next).await
}

/// Records a request and redirects to the IdP with it.
async fn begin(state: &AppState, connection: &Connection, test: bool, next: &str) -> Result<HttpResponse, PageError> {
    let saml = saml_connection(&state.settings, connection).map_err(|e| {
        tracing::error!(error = %e, "a SAML connection cannot be used");
        PageError::BadRequest("Single sign-on for this enterprise is misconfigured. Ask your administrator.".into())
    })?;
    let dir = state.directory.clone();
    let (cid, next) = (connection.id.clone(), next.to_owned());
    let request_id = blocking::<_, PageError>(move || dir.begin_sso_request(&cid, test, &next)).await?;
    let mut res = redirect_with(&saml, &request_id)?;
    if !test {
        res.add_cookie(&binding_cookie(state, &request_id)).map_err(|e| PageError::BadRequest(e.to_string()))?;
    }
    Ok(res)
}

/// The cookie that ties a sign-in to the browser that started it: without it, an attacker could
/// start a sign-in, have the IdP answer, and post their own response from a victim's browser,
/// which would then be signed in as the attacker. The IdP posts cross-site, so the cookie must
/// be `SameSite=None`, which browsers accept only with `Secure`: the check applies when Portico
/// is served over HTTPS.
pub(crate) const BINDING_COOKIE: &str = "portico_sso_request";

/// A completed sign-in, either protocol: to the page the person asked for (when it is ours),
/// with the session cookie, and the spent browser-binding cookie removed.
pub(crate) fn signed_in_response(
    state: &AppState,
    return_to: &str,
    session_token: String,
) -> Result<HttpResponse, PageError> {
    let target = crate::console::session::safe_next(return_to).unwrap_or("/").to_owned();
    let mut res = HttpResponse::SeeOther().insert_header((header::LOCATION, target)).finish();
    res.add_cookie(&cookie(state, SESSION_COOKIE, session_token)).map_err(|e| PageError::BadRequest(e.to_string()))?;
    let mut spent = binding_cookie(state, "");
    spent.make_removal();
    res.add_cookie(&spent).map_err(|e| PageError::BadRequest(e.to_string()))?;
    Ok(res)
}

pub(crate) fn binding_value(state: &AppState, request_id: &str) -> String {
    crate::auth::csrf_token(state, &format!("sso request\0{request_id}"))
}

pub(crate) fn binding_cookie(state: &AppState, request_id: &str) -> actix_web::cookie::Cookie<'static> {
    let secure = state.settings.secure_cookies();
    actix_web::cookie::Cookie::build(BINDING_COOKIE, binding_value(state, request_id))
        .path("/sso/")
        .http_only(true)
        .secure(secure)
        .same_site(if secure { actix_web::cookie::SameSite::None } else { actix_web::cookie::SameSite::Lax })
        .max_age(actix_web::cookie::time::Duration::minutes(directory::sso_sign_in::REQUEST_TTL_MINUTES))
        .finish()
}

/// True when the browser posting a response for `request_id` is the one that started it (always
/// true over plain HTTP, where the cookie cannot travel cross-site).
pub fn same_browser(secure: bool, presented: Option<&str>, expected: &str) -> bool {
    if !secure {
        return true;
    }
    presented.is_some_and(|p| bool::from(subtle::ConstantTimeEq::ct_eq(p.as_bytes(), expected.as_bytes())))
}

fn redirect_with(saml: &SamlConnection, request_id: &str) -> Result<HttpResponse, PageError> {
    let url = sso::saml::authn_request_url(saml, request_id, "", Utc::now())
        .map_err(|e| PageError::BadRequest(format!("The sign-in could not start: {e}")))?;
    Ok(redirect(url.as_str()))
}

/// `GET /sso/saml/{id}/test/{request}`: the link `POST .../connections/{id}/test` hands out.
#[get("/sso/saml/{id}/test/{request}")]
async fn test_start(state: web::Data<AppState>, path: web::Path<(String, String)>) -> Result<HttpResponse, PageError> {
    let (id, request) = path.into_inner();
    let dir = state.directory.clone();
    let (i2, r2) = (id.clone(), request.clone());
    let (connection, pending) =
        blocking::<_, PageError>(move || Ok((dir.connection_by_id(&i2)?, dir.pending_sso_request(&i2, &r2)?))).await?;
    match pending {
        Some(p) if p.test => {
            let saml = saml_connection(&state.settings, &connection).map_err(|e| {
                tracing::error!(error = %e, "a SAML connection cannot be used");
                PageError::BadRequest(
                    "Single sign-on for this enterprise is misconfigured. Ask your administrator.".into(),
                )
            })?;
            redirect_with(&saml, &p.id)
        }
        _ => Err(PageError::BadRequest("This test link has expired or was already used. Start a new test.".into())),
    }
}

/// `GET /sso/saml/{id}/metadata`: Portico's SP metadata for the connection.
#[get("/sso/saml/{id}/metadata")]
async fn metadata(state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, PageError> {
    let id = path.into_inner();
    let dir = state.directory.clone();
    let i2 = id.clone();
    let c = blocking::<_, PageError>(move || dir.connection_by_id(&i2)).await?;
    let saml = c.saml.unwrap_or_default();
    let cert = saml.sp_certificate.as_deref();
    let urls = sp_urls(&state.settings, &id);
    let metadata = sso::saml::SpMetadata {
        entity_id: &urls.entity_id,
        acs_url: &urls.acs_url,
        encryption_certificate: cert.filter(|_| saml.encrypt_assertions),
        signing_certificate: cert.filter(|_| saml.sign_requests),
        want_assertions_signed: saml.require_signed_assertions,
    };
    Ok(HttpResponse::Ok().content_type("application/samlmetadata+xml").body(sso::saml::sp_metadata(&metadata)))
}

/// The `SAMLResponse` of an HTTP-POST binding form, read up to `limit` bytes; the error is a
/// page for whoever posted something else.
async fn read_acs_form(req: &HttpRequest, payload: web::Payload, limit: usize) -> Result<String, PageError> {
    let unreadable = |why: String| PageError::BadRequest(format!("The sign-in response could not be read: {why}"));
    let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !content_type.to_ascii_lowercase().starts_with("application/x-www-form-urlencoded") {
        return Err(unreadable("it is not a form (application/x-www-form-urlencoded)".into()));
    }
    let body = match payload.to_bytes_limited(limit).await {
        Ok(Ok(body)) => body,
        Ok(Err(e)) => return Err(unreadable(e.to_string())),
        Err(_) => return Err(unreadable(format!("it is larger than {limit} bytes"))),
    };
    url::form_urlencoded::parse(&body)
        .find(|(name, _)| name == "SAMLResponse")
        .map(|(_, value)| value.into_owned())
        .ok_or_else(|| unreadable("it carries no SAMLResponse".into()))
}

#[derive(Template)]
#[template(path = "sso_test_result.html")]
pub(crate) struct TestResultPage {
    pub success: bool,
    pub reason: Option<String>,
    pub provider: String,
    pub mapped: Vec<(String, String)>,
    pub raw: Vec<(String, String)>,
    pub warnings: Vec<String>,
    pub json: String,
    pub operation_id: Option<String>,
    pub enterprise_key: String,
    pub connection_id: String,
}

/// Warnings an admin should act on before enabling a connection.
pub(crate) fn warnings(
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

/// `POST /sso/saml/{id}/acs`: the IdP's answer. Verifies it, then either shows the admin a
/// test result or signs the person in.
#[post("/sso/saml/{id}/acs")]
async fn acs(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, PageError> {
    let address = client_address(&req);
    if !state.sign_in_throttle.allow(&address, std::time::Instant::now()) {
        return Err(PageError::TooManyRequests);
    }
    let id = path.into_inner();
    // Refusals are audited one by one: past the limit for this address and connection, posts
    // are turned away unread until the minute is over.
    let refusals = RefusalCount::new(&state, &address, &id);
    if refusals.exhausted() {
        state.metrics.sign_in("saml", "too_many_refusals");
        return Err(PageError::TooManyRequests);
    }
    let body = read_acs_form(&req, payload, state.settings.acs_form_limit()).await?;
    let dir = state.directory.clone();
    let i2 = id.clone();
    let claimed = sso::saml::in_response_to(&body, state.settings.sso_max_saml_response_bytes);
    let (connection, pending) = blocking::<_, PageError>(move || dir.acs_context(&i2, claimed.as_deref())).await?;
    // The prepared connection (certificates parsed, SP key opened) is built only when the cache
    // has none for this version of the connection.
    let prepared = match state.saml.get(&connection) {
        Some(p) => Ok(p),
        None => {
            let saml = saml_connection(&state.settings, &connection).map_err(|e| {
                tracing::error!(connection = %connection.id, error = %e, "a SAML connection cannot be used");
                PageError::SignInRefused
            })?;
            state.saml.get_or_build(&connection, || saml.prepare())
        }
    };
    let kept = prepared.clone();
    let expected: Vec<String> = pending.iter().map(|p| p.id.clone()).collect();
    let now = Utc::now();
    // Signature checks are CPU work: off the async worker, like the database calls.
    let verdict = actix_web::web::block(move || {
        let ids: Vec<&str> = expected.iter().map(String::as_str).collect();
        prepared.and_then(|p| p.verify(&body, &ids, now))
    })
    .await
    .map_err(|e| PageError::Directory(DirectoryError::Internal(e.to_string())))?;
    let test = pending.as_ref().is_some_and(|p| p.test);
    let op = operation_id(&req);

    if test {
        if verdict.is_err() {
            refusals.count();
        }
        let saml = kept.as_ref().ok().map(|p| p.connection());
        return test_outcome(&state, &connection, saml, verdict, now, op).await;
    }
    // A refused response spends nothing: the pending request stays for the genuine answer
    // (otherwise anyone who learnt a request id could cancel that sign-in).
    let verified = match verdict {
        Ok(v) => v,
        Err(refusal) => {
            refusals.count();
            state.metrics.sign_in("saml", refusal.code());
            tracing::warn!(connection = %connection.id, reason = refusal.code(), "SAML response refused");
            let dir = state.directory.clone();
            let cid = connection.id.clone();
            let (code, text) = (refusal.code(), refusal.to_string());
            blocking::<_, PageError>(move || dir.record_sso_failure(&cid, None, code, &text, op.as_deref())).await?;
            return Err(PageError::SignInRefused);
        }
    };
    if connection.status != ConnectionStatus::Enabled {
        return Err(PageError::SignInRefused);
    }
    // Only the browser that started a sign-in may spend its request.
    if let Some(request_id) = &verified.in_response_to {
        let presented = req.cookie(BINDING_COOKIE).map(|c| c.value().to_owned());
        if !same_browser(state.settings.secure_cookies(), presented.as_deref(), &binding_value(&state, request_id)) {
            refusals.count();
            let dir = state.directory.clone();
            let (cid, subject) = (connection.id.clone(), verified.identity.subject.clone());
            let op = operation_id(&req);
            blocking::<_, PageError>(move || {
                dir.record_sso_failure(
                    &cid,
                    Some(&subject),
                    "other_browser",
                    "the response was posted from a browser that did not start this sign-in",
                    op.as_deref(),
                )
            })
            .await?;
            state.metrics.sign_in("saml", "other_browser");
            return Err(PageError::SignInRefused);
        }
    }
    let return_to = pending.as_ref().map(|p| p.return_to.clone()).unwrap_or_else(|| "/".into());
    let vouched = Vouched {
        connection_id: connection.id.clone(),
        request_id: verified.in_response_to.clone(),
        assertion_id: verified.assertion_id.clone(),
        replay_until: verified.replay_until.naive_utc(),
        subject: verified.identity.subject.clone(),
        login: verified.identity.login.clone(),
        login_attribute: connection.mapping.login.clone().unwrap_or_else(|| "NameID".into()),
        email: verified.identity.email.clone(),
        name: verified.identity.name.clone(),
        groups: verified.identity.groups.clone(),
    };
    let dir = state.directory.clone();
    let address = client_address(&req);
    let agent = req.headers().get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let outcome =
        blocking::<_, PageError>(move || dir.complete_sso_sign_in(&vouched, &address, &agent, op.as_deref())).await?;
    match outcome {
        Ok(signed_in) => {
            state.metrics.sign_in("saml", "success");
            signed_in_response(&state, &return_to, signed_in.session_token)
        }
        Err(refusal) => {
            refusals.count();
            state.metrics.sign_in("saml", refusal.code());
            tracing::warn!(connection = %connection.id, reason = refusal.code(), "SSO sign-in refused");
            Err(PageError::SignInRefused)
        }
    }
}

/// Refused sign-in posts of one client address to one connection, counted against
/// `sso.refusals_per_minute` (both protocols).
pub(crate) struct RefusalCount<'a> {
    throttle: &'a crate::throttle::Throttle,
    key: String,
}

impl<'a> RefusalCount<'a> {
    pub(crate) fn new(state: &'a AppState, address: &str, connection_id: &str) -> Self {
        let address = directory::sign_in::address_key(address);
        RefusalCount { throttle: &state.sign_in_refusals, key: format!("{address} {connection_id}") }
    }

    /// True when this address has had its refusals for the minute at this connection.
    pub(crate) fn exhausted(&self) -> bool {
        self.throttle.exhausted(&self.key, std::time::Instant::now())
    }

    /// Counts one more refusal.
    pub(crate) fn count(&self) {
        self.throttle.allow(&self.key, std::time::Instant::now());
    }
}

async fn test_outcome(
    state: &AppState,
    connection: &Connection,
    // Present whenever the verdict is a verified assertion.
    saml: Option<&SamlConnection>,
    verdict: Result<sso::saml::VerifiedAssertion, sso::saml::Refusal>,
    now: DateTime<Utc>,
    op: Option<String>,
) -> Result<HttpResponse, PageError> {
    let (success, reason, json, mapped, raw, warns) = match verdict {
        Ok(v) => {
            let vouched = Vouched {
                connection_id: connection.id.clone(),
                request_id: v.in_response_to.clone(),
                assertion_id: v.assertion_id.clone(),
                replay_until: v.replay_until.naive_utc(),
                subject: v.identity.subject.clone(),
                login: v.identity.login.clone(),
                login_attribute: String::new(),
                email: v.identity.email.clone(),
                name: v.identity.name.clone(),
                groups: v.identity.groups.clone(),
            };
            let dir = state.directory.clone();
            let spent = blocking::<_, PageError>(move || dir.consume_test_assertion(&vouched)).await?;
            let warns = saml.map(|c| warnings(&v.identity, &c.mapping, &c.idp.certificates, now)).unwrap_or_default();
            let mapped = vec![
                ("Subject (NameID)".to_owned(), v.identity.subject.clone()),
                ("Login".to_owned(), v.identity.login.clone().unwrap_or_default()),
                ("E-mail".to_owned(), v.identity.email.clone().unwrap_or_default()),
                ("Name".to_owned(), v.identity.name.clone().unwrap_or_default()),
                ("Groups".to_owned(), v.identity.groups.join(", ")),
            ];
            let raw: Vec<(String, String)> =
                v.identity.raw.iter().map(|(k, vals)| (k.clone(), vals.join(", "))).collect();
            let json = serde_json::json!({"identity": v.identity, "warnings": warns});
            match spent {
                Ok(()) => (true, None, json, mapped, raw, warns),
                Err(r) => (false, Some(r.to_string()), json, mapped, raw, warns),
            }
        }
        Err(r) => (
            false,
            Some(format!("{r} [{}]", r.code())),
            // The reason may quote the sender (a StatusMessage): kept bounded like the audit's.
            serde_json::json!({
                "refusal": r.code(),
                "reason": directory::audit::bounded(&r.to_string(), directory::audit::REASON_MAX),
            }),
            vec![],
            vec![],
            vec![],
        ),
    };
    let dir = state.directory.clone();
    let (cid, reason2, json2, op2) = (connection.id.clone(), reason.clone(), json.clone(), op.clone());
    blocking::<_, PageError>(move || dir.record_test_result(&cid, success, reason2.as_deref(), &json2, op2.as_deref()))
        .await?;
    let page = TestResultPage {
        success,
        reason,
        provider: connection.provider.label().to_owned(),
        mapped,
        raw,
        warnings: warns,
        json: serde_json::to_string_pretty(&json).unwrap_or_default(),
        operation_id: current_operation_id(),
        enterprise_key: connection.enterprise_key.clone(),
        connection_id: connection.id.clone(),
    };
    render_status(&page, actix_web::http::StatusCode::OK)
}

#[cfg(test)]
mod tests {
    use super::same_browser;

    #[test]
    fn over_https_the_starting_browser_must_post_the_response() {
        assert!(same_browser(true, Some("abc"), "abc"));
        assert!(!same_browser(true, Some("abd"), "abc"));
        assert!(!same_browser(true, None, "abc"));
        assert!(same_browser(false, None, "abc"), "plain HTTP cannot carry the cookie cross-site");
    }
}
