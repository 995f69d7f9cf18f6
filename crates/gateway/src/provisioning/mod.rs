//! The SCIM 2.0 API at `{public_url}/api/scim/v2/{enterprise_key}`: authentication by SCIM token,
//! the URL forms IdPs use, bodies, and the request log. What each request does is the `scim`
//! crate's business.
//!
//! IdPs are loose with URLs: JumpCloud adds a trailing slash, some setups double slashes, Entra ID
//! appends `?aadOptscim062020`. The path is therefore read segment by segment, empty segments
//! ignored, and unknown query parameters are ignored.

pub mod log;

use std::time::Instant;

use actix_web::http::{Method, StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use directory::provisioning::ScimRequest;
use directory::{Actor, Ctx};
use scim::error::{ScimError, ScimType};
use scim::query::ListQuery;
use scim::service::{Reply, Service};
use serde_json::Value;

use crate::auth::{client_address, operation_id};
use crate::state::AppState;

/// Largest body read from an IdP (a PATCH adding 10,000 members is about 600 KB).
pub const MAX_BODY: usize = 4 * 1024 * 1024;
pub const CONTENT_TYPE: &str = "application/scim+json";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource(["/api/scim/v2", "/api/scim/v2/{rest:.*}"]).to(handle));
}

/// A SCIM error as the response.
fn error_response(e: &ScimError) -> HttpResponse {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut res = HttpResponse::build(status);
    res.content_type(CONTENT_TYPE);
    if e.status == 401 {
        res.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"Portico SCIM\""));
    }
    res.body(e.to_json().to_string())
}

fn reply_response(reply: &Reply) -> HttpResponse {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK);
    let mut res = HttpResponse::build(status);
    if let Some(etag) = &reply.etag {
        res.insert_header((header::ETAG, etag.as_str()));
    }
    if let Some(location) = &reply.location {
        res.insert_header((header::LOCATION, location.as_str()));
    }
    match &reply.body {
        Some(body) => res.content_type(CONTENT_TYPE).body(body.to_string()),
        None => res.finish(),
    }
}

/// The token presented: `Bearer <token>`, or HTTP Basic with the token as the user name (or,
/// for IdPs that fill the other field, as the password).
fn presented_token(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, rest) = value.split_once(' ')?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(rest.to_owned());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = String::from_utf8(STANDARD.decode(rest).ok()?).ok()?;
        let (user, password) = decoded.split_once(':').unwrap_or((&decoded, ""));
        return Some(if user.is_empty() { password } else { user }.to_owned());
    }
    None
}

async fn read_body(payload: web::Payload, limit: usize) -> Result<web::Bytes, ScimError> {
    match payload.to_bytes_limited(limit).await {
        Ok(Ok(body)) => Ok(body),
        Ok(Err(e)) => Err(ScimError::new(ScimType::InvalidSyntax, format!("could not read the body: {e}"))),
        Err(_) => Err(ScimError::status(413, format!("the body is larger than {limit} bytes"))),
    }
}

fn parse_json(req: &HttpRequest, body: &[u8]) -> Result<Value, ScimError> {
    let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !content_type.is_empty() && !content_type.to_ascii_lowercase().contains("json") {
        return Err(ScimError::status(415, format!("send the body as {CONTENT_TYPE}, not {content_type}")));
    }
    if body.is_empty() {
        return Err(ScimError::new(ScimType::InvalidSyntax, "the request has no body"));
    }
    serde_json::from_slice(body)
        .map_err(|e| ScimError::new(ScimType::InvalidSyntax, format!("the body is not valid JSON: {e}")))
}

fn query(req: &HttpRequest) -> Result<ListQuery, ScimError> {
    let pairs: Vec<(String, String)> =
        url::form_urlencoded::parse(req.query_string().as_bytes()).into_owned().collect();
    ListQuery::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

/// A `POST /.search` body (RFC 7644 section 3.4.3) as a list query.
fn search_query(body: &Value) -> Result<ListQuery, ScimError> {
    let object =
        body.as_object().ok_or_else(|| ScimError::new(ScimType::InvalidSyntax, "the body is not an object"))?;
    let mut pairs: Vec<(String, String)> = Vec::new();
    for (k, v) in object {
        let text = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Array(items) => items.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(","),
            _ => continue,
        };
        pairs.push((k.clone(), text));
    }
    ListQuery::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

fn method_not_allowed(allow: &str) -> ScimError {
    ScimError::status(405, format!("this endpoint answers {allow}"))
}

/// Runs the request against the enterprise's SCIM API, off the async workers.
fn dispatch(
    service: &Service<'_>,
    base_url: &str,
    method: &Method,
    segments: &[String],
    req_query: Result<ListQuery, ScimError>,
    body: Option<Result<Value, ScimError>>,
    if_match: Option<&str>,
) -> Result<Reply, ScimError> {
    let mut body = body;
    let mut body =
        || body.take().unwrap_or_else(|| Err(ScimError::new(ScimType::InvalidSyntax, "the request has no body")));
    let parts: Vec<&str> = segments.iter().map(String::as_str).collect();
    let lower: Vec<String> = parts.iter().map(|p| p.to_ascii_lowercase()).collect();
    let lower: Vec<&str> = lower.iter().map(String::as_str).collect();
    let json = |v: Value| Reply { status: 200, body: Some(v), etag: None, location: None };
    match (lower.as_slice(), method) {
        (["serviceproviderconfig"], &Method::GET) => Ok(json(scim::discovery::service_provider_config(
            base_url,
            "https://github.com/portico-sso/portico/blob/main/docs/scim.md",
        ))),
        (["resourcetypes"], &Method::GET) => scim::discovery::resource_types(base_url, None).map(json),
        (["resourcetypes", _], &Method::GET) => scim::discovery::resource_types(base_url, Some(parts[1])).map(json),
        (["schemas"], &Method::GET) => scim::discovery::schemas(base_url, None).map(json),
        (["schemas", _], &Method::GET) => scim::discovery::schemas(base_url, Some(parts[1])).map(json),
        (["serviceproviderconfig" | "resourcetypes" | "schemas", ..], _) => Err(method_not_allowed("GET")),
        ([".search"], &Method::POST) => service.search_all(&search_query(&body()?)?),
        (["bulk"], &Method::POST) => scim::bulk::run(service, &body()?).map(json),
        (["bulk"], _) => Err(method_not_allowed("POST")),
        (["users"], &Method::GET) => service.list_users(&req_query?),
        (["users"], &Method::POST) => service.create_user(&body()?),
        (["users", ".search"], &Method::POST) => service.list_users(&search_query(&body()?)?),
        (["users"], _) => Err(method_not_allowed("GET, POST")),
        (["users", _], &Method::GET) => service.get_user(parts[1], &req_query?),
        (["users", _], &Method::PUT) => service.replace_user(parts[1], &body()?, if_match),
        (["users", _], &Method::PATCH) => service.patch_user(parts[1], &body()?, if_match),
        (["users", _], &Method::DELETE) => service.delete_user(parts[1], if_match),
        (["groups"], &Method::GET) => service.list_groups(&req_query?),
        (["groups"], &Method::POST) => service.create_group(&body()?),
        (["groups", ".search"], &Method::POST) => service.list_groups(&search_query(&body()?)?),
        (["groups"], _) => Err(method_not_allowed("GET, POST")),
        (["groups", _], &Method::GET) => service.get_group(parts[1], &req_query?),
        (["groups", _], &Method::PUT) => service.replace_group(parts[1], &body()?, if_match),
        (["groups", _], &Method::PATCH) => service.patch_group(parts[1], &body()?, if_match),
        (["groups", _], &Method::DELETE) => service.delete_group(parts[1], if_match),
        (["users" | "groups", _], _) => Err(method_not_allowed("GET, PUT, PATCH, DELETE")),
        _ => Err(ScimError::status(404, "no such SCIM endpoint")),
    }
}

/// A 401 for a missing or invalid token, counted against the client's address, and written to
/// the enterprise's request log (when the key names one) so that its admins see an IdP whose
/// token was revoked or mistyped. Nothing of the token or the body is logged.
async fn unauthorized(state: &AppState, req: &HttpRequest, enterprise_key: &str, address: &str) -> HttpResponse {
    state.scim_auth_failures.allow(address, Instant::now());
    tracing::info!(address, "SCIM request with a missing or invalid token");
    let refusal = ScimError::status(401, "the SCIM token is missing, revoked, or not one of this enterprise's tokens");
    let dir = state.directory.clone();
    let key = enterprise_key.to_owned();
    if let Ok(Ok(Some(enterprise_id))) = web::block(move || dir.enterprise_id_of(&key)).await {
        let path = req.uri().path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_default();
        let mut entry = ScimRequest::new(&enterprise_id, state.directory.now(), req.method().as_str(), &path, 401);
        entry.user_agent = req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .chars()
            .take(300)
            .collect();
        entry.detail = Some(refusal.detail.clone());
        state.scim_log.push(&state.directory, entry);
    }
    error_response(&refusal)
}

#[tracing::instrument(name = "scim", skip_all, fields(method = %req.method(), enterprise = tracing::field::Empty, status = tracing::field::Empty))]
async fn handle(req: HttpRequest, payload: web::Payload, state: web::Data<AppState>) -> HttpResponse {
    let started = Instant::now();
    let rest = req.match_info().get("rest").unwrap_or("").to_owned();
    let mut segments: Vec<String> = rest.split('/').filter(|s| !s.is_empty()).map(str::to_owned).collect();
    if segments.is_empty() {
        return error_response(&ScimError::status(
            404,
            "the SCIM URL ends with the enterprise key: /api/scim/v2/{key}",
        ));
    }
    let enterprise_key = segments.remove(0);
    tracing::Span::current().record("enterprise", enterprise_key.as_str());
    let address = client_address(&req);

    // Authentication: failures are limited per address, before any work is done.
    if state.scim_auth_failures.exhausted(&address, Instant::now()) {
        return error_response(&ScimError::status(429, "too many failed authentications from this address"));
    }
    // No token at all: refused before anything is read.
    let Some(token) = presented_token(&req) else {
        return unauthorized(&state, &req, &enterprise_key, &address).await;
    };

    // The token is checked before anything of the body is read: an anonymous client cannot
    // make Portico read and parse megabytes.
    let dir = state.directory.clone();
    let key = enterprise_key.clone();
    let caller = match web::block(move || dir.authenticate_scim_token(&key, &token)).await {
        Ok(Ok(Some(caller))) => caller,
        Ok(Ok(None)) => return unauthorized(&state, &req, &enterprise_key, &address).await,
        Ok(Err(e)) => return error_response(&crate::app::scim::scim_error(e)),
        Err(_) => return error_response(&ScimError::status(503, "Portico is shutting down")),
    };
    // Bulk requests are held to the payload size the ServiceProviderConfig advertises.
    let bulk = segments.first().is_some_and(|s| s.eq_ignore_ascii_case("bulk"));
    let limit = if bulk { scim::bulk::MAX_BULK_PAYLOAD } else { MAX_BODY };
    let body = match *req.method() {
        Method::POST | Method::PUT | Method::PATCH => Some(read_body(payload, limit).await),
        _ => None,
    };
    let (raw_body, parsed) = match body {
        None => (None, None),
        Some(Err(e)) => (None, Some(Err(e))),
        Some(Ok(bytes)) => {
            let parsed = parse_json(&req, &bytes);
            (Some(bytes), Some(parsed))
        }
    };
    let base_url =
        format!("{}/api/scim/v2/{}", state.settings.public_url.as_str().trim_end_matches('/'), enterprise_key);
    let if_match = req.headers().get(header::IF_MATCH).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let method = req.method().clone();
    let req_query = query(&req);
    let op_id = operation_id(&req);
    let directory = state.directory.clone();
    let path_for_log = req.uri().path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_default();
    let base = base_url.clone();
    let filter_limit = state.settings.scim_max_filter_scan_rows;
    let acting = caller.clone();
    let outcome = web::block(move || {
        let actor = Actor::ScimToken {
            id: acting.token_id.clone(),
            prefix: acting.prefix.clone(),
            enterprise_id: acting.enterprise_id.clone(),
        };
        let ctx = Ctx::new(&actor, op_id.as_deref());
        let store = crate::app::scim::DirectoryStore { directory: &directory, ctx };
        let service = Service::new(&store, &base).with_filter_limit(filter_limit);
        dispatch(&service, &base, &method, &segments, req_query, parsed, if_match.as_deref())
    })
    .await
    .unwrap_or_else(|_| Err(ScimError::status(503, "Portico is shutting down")));
    let response = match &outcome {
        Ok(reply) => reply_response(reply),
        Err(e) => error_response(e),
    };
    tracing::Span::current().record("status", response.status().as_u16());
    let mut entry = ScimRequest::new(
        &caller.enterprise_id,
        state.directory.now(),
        req.method().as_str(),
        &path_for_log,
        response.status().as_u16(),
    );
    entry.duration_micros = i64::try_from(started.elapsed().as_micros()).unwrap_or(i64::MAX);
    entry.user_agent =
        req.headers().get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("").chars().take(300).collect();
    entry.token_prefix = Some(caller.prefix.clone());
    entry.request_body = raw_body.as_deref().and_then(log::loggable_body);
    if let Err(e) = &outcome {
        entry.scim_type = e.scim_type.map(|t| t.as_str().to_owned());
        entry.detail = Some(e.detail.clone());
    }
    state.scim_log.push(&state.directory, entry);
    response
}
