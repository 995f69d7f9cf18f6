//! The SAML 2.0 endpoints of the service provider, and `/login/sso`, which starts a sign-in
//! through whichever protocol the enterprise's connection speaks.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use directory::DirectoryError;
use directory::ids::ConnectionId;
use serde::Deserialize;

use super::{answer, presented_binding, redirect_binding, user_agent};
use crate::app::connections::sp_urls;
use crate::app::sign_in::{Attempt, RefusalCount, check_saml_response, finish, saml_test_url, start};
use crate::auth::{client_address, operation_id};
use crate::error::{PageError, blocking};
use crate::respond::{redirect, safe_next};
use crate::state::AppState;

/// The routes. The ACS reads its form itself, after the per-address limits and up to
/// `Settings::acs_form_limit` bytes, not the console's small limit.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(start_sign_in).service(metadata).service(test_start).service(acs);
}

#[derive(Debug, Deserialize)]
struct StartQuery {
    enterprise_key: Option<String>,
    /// Where to land after signing in (a local path).
    next: Option<String>,
}

/// `GET /login/sso?enterprise_key=KEY`: sends the browser to the enterprise's IdP.
#[get("/login/sso")]
async fn start_sign_in(
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
    let next = query.next.filter(|n| safe_next(n).is_some()).unwrap_or_else(|| "/".into());
    let started = start(&state, &connection, false, &next).await.map_err(|e| {
        tracing::warn!(connection = %connection.id, error = %e, "a sign-in cannot start");
        PageError::BadRequest(
            "Single sign-on for this enterprise cannot start right now: its identity provider may be unreachable or misconfigured. Try again later, or ask your administrator.".into(),
        )
    })?;
    redirect_binding(&state, &started.url, &started.request_id)
}

/// `GET /sso/saml/{id}/test/{request}`: the link `POST .../connections/{id}/test` hands out.
#[get("/sso/saml/{id}/test/{request}")]
async fn test_start(
    state: web::Data<AppState>,
    path: web::Path<(ConnectionId, String)>,
) -> Result<HttpResponse, PageError> {
    let (id, request) = path.into_inner();
    let dir = state.directory.clone();
    let (i2, r2) = (id.clone(), request.clone());
    let (connection, pending) =
        blocking::<_, PageError>(move || Ok((dir.connection_by_id(&i2)?, dir.pending_sso_request(&i2, &r2)?))).await?;
    match pending {
        Some(p) if p.test => {
            let url = saml_test_url(&state, &connection, &p.id).map_err(|e| {
                tracing::error!(error = %e, "a SAML connection cannot be used");
                PageError::BadRequest(
                    "Single sign-on for this enterprise is misconfigured. Ask your administrator.".into(),
                )
            })?;
            Ok(redirect(&url))
        }
        _ => Err(PageError::BadRequest("This test link has expired or was already used. Start a new test.".into())),
    }
}

/// `GET /sso/saml/{id}/metadata`: Portico's SP metadata for the connection.
#[get("/sso/saml/{id}/metadata")]
async fn metadata(state: web::Data<AppState>, path: web::Path<ConnectionId>) -> Result<HttpResponse, PageError> {
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

/// `POST /sso/saml/{id}/acs`: the IdP's answer. Checked, then either shown to the admin as a
/// test result or signing the person in.
#[post("/sso/saml/{id}/acs")]
async fn acs(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<ConnectionId>,
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
    let checked = check_saml_response(&state, &id, body).await?;
    let connection = checked.connection.clone();
    let (presented, agent, op) = (presented_binding(&req), user_agent(&req), operation_id(&req));
    let attempt = Attempt {
        presented_binding: presented.as_deref(),
        address: &address,
        user_agent: &agent,
        operation_id: op.as_deref(),
        refusals: &refusals,
    };
    let finished = finish(&state, checked, attempt).await?;
    answer(&state, &connection, finished)
}
