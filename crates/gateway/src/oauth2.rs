//! The OpenID Provider's endpoints, which host applications and their users' browsers reach:
//! discovery, JWKS, authorization (and its resumption after an SSO sign-in), token, userinfo,
//! revocation and RP-initiated logout. They read requests, call `app::provider`, and write
//! its answers in each protocol's own format: pages and redirects for browsers, OAuth error
//! JSON for the token endpoint, `WWW-Authenticate` for userinfo.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use sso::provider::discovery;

use crate::app::provider::{self, Authorize, Logout, OAuthError};
use crate::auth::{SESSION_COOKIE, binding_cookie, client_address, cookie, csrf_matches, csrf_token, operation_id};
use crate::error::PageError;
use crate::observe::current_operation_id;
use crate::respond::{redirect, render_status};
use crate::state::AppState;

/// Largest form the token, revocation and logout endpoints read.
const MAX_FORM_BYTES: usize = 16 * 1024;

/// The cookie that ties a parked authorization request to the browser that made it, so that
/// nobody can resume someone else's request with their own session.
const AUTHORIZE_COOKIE: &str = "portico_authorize";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/.well-known/openid-configuration").route(web::get().to(discovery_document)))
        .service(web::resource(discovery::JWKS_PATH).route(web::get().to(jwks)))
        .service(
            web::resource(discovery::AUTHORIZATION_PATH)
                .route(web::get().to(authorize_get))
                .route(web::post().to(authorize_post)),
        )
        .service(web::resource("/oauth2/authorize/resume/{id}").route(web::get().to(resume)))
        .service(web::resource("/oauth2/initiate/{client_id}").route(web::get().to(initiate)))
        .service(web::resource(discovery::TOKEN_PATH).route(web::post().to(token)))
        .service(web::resource(discovery::USERINFO_PATH).route(web::get().to(userinfo)).route(web::post().to(userinfo)))
        .service(web::resource(discovery::REVOCATION_PATH).route(web::post().to(revoke)))
        .service(
            web::resource(discovery::END_SESSION_PATH)
                .route(web::get().to(logout_get))
                .route(web::post().to(logout_post)),
        );
}

/// Documents any site may read (no cookies are involved), with a short cache.
fn public_json(body: serde_json::Value) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .json(body)
}

async fn discovery_document(state: web::Data<AppState>) -> HttpResponse {
    public_json(discovery::document(&state.settings.issuer()))
}

/// The keys; when they cannot be read (sealed under another secret key, or the database is
/// away), a JSON error the application's library can report, never a page.
async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    match provider::key_set(&state).await {
        Ok(keys) => public_json(keys.jwks()),
        Err(e) => {
            tracing::error!(error = %e, "the JWKS cannot be served");
            HttpResponse::ServiceUnavailable().insert_header((header::CACHE_CONTROL, "no-store")).json(
                serde_json::json!({"error": "server_error", "error_description": "the signing keys cannot be read"}),
            )
        }
    }
}

// ---- Pages ----

#[derive(Debug)]
struct Ask {
    application: String,
    params: Vec<(String, String)>,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "oauth2.html")]
struct ProviderPage {
    title: String,
    message: String,
    problem: bool,
    ask: Option<Ask>,
    confirm: Option<Confirm>,
    operation_id: Option<String>,
}

/// The sign-out confirmation: the request's parameters, sent again with the CSRF token.
#[derive(Debug)]
struct Confirm {
    params: Vec<(String, String)>,
    csrf: String,
}

fn page(status: StatusCode, title: &str, message: String) -> Result<HttpResponse, PageError> {
    let problem = status != StatusCode::OK;
    render_status(
        &ProviderPage {
            title: title.to_owned(),
            message,
            problem,
            ask: None,
            confirm: None,
            operation_id: problem.then(current_operation_id).flatten(),
        },
        status,
    )
}

// ---- Authorization ----

/// The value of the authorization binding cookie for parked request `id`.
fn authorize_binding(state: &AppState, id: &str) -> String {
    csrf_token(state, &format!("authorize\0{id}"))
}

fn session_token(req: &HttpRequest) -> Option<String> {
    req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned())
}

async fn authorize_get(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<Vec<(String, String)>>,
) -> Result<HttpResponse, PageError> {
    authorize(state, req, query.into_inner()).await
}

async fn authorize_post(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, PageError> {
    authorize(state, req, form.into_inner()).await
}

async fn authorize(
    state: web::Data<AppState>,
    req: HttpRequest,
    params: Vec<(String, String)>,
) -> Result<HttpResponse, PageError> {
    if !state.sign_in_throttle.allow(&client_address(&req), std::time::Instant::now()) {
        return Err(PageError::TooManyRequests);
    }
    let answer = provider::authorize(&state, params, session_token(&req)).await?;
    respond(&state, answer)
}

async fn resume(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let id = path.into_inner();
    let presented = req.cookie(AUTHORIZE_COOKIE).map(|c| c.value().to_owned()).unwrap_or_default();
    let same_browser = csrf_matches(&state, &format!("authorize\0{id}"), &presented);
    let answer = provider::resume(&state, id, session_token(&req), same_browser).await?;
    let mut res = respond(&state, answer)?;
    let mut spent = authorize_cookie(&state, String::new());
    spent.make_removal();
    res.add_cookie(&spent).map_err(|e| PageError::BadRequest(e.to_string()))?;
    Ok(res)
}

async fn initiate(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let answer = provider::initiate(&state, path.into_inner(), session_token(&req)).await?;
    respond(&state, answer)
}

fn authorize_cookie(state: &AppState, value: String) -> actix_web::cookie::Cookie<'static> {
    let mut c = cookie(state, AUTHORIZE_COOKIE, value);
    c.set_path("/oauth2/");
    c.set_max_age(actix_web::cookie::time::Duration::minutes(directory::provider::AUTHORIZATION_TTL_MINUTES));
    c
}

fn respond(state: &AppState, answer: Authorize) -> Result<HttpResponse, PageError> {
    match answer {
        Authorize::Page(message) => page(StatusCode::BAD_REQUEST, "This sign-in cannot continue", message),
        Authorize::Redirect(url) => Ok(redirect(&url)),
        Authorize::AskEnterprise { application, params, error } => {
            let params = params.into_iter().filter(|(k, _)| k != "enterprise_key").collect();
            render_status(
                &ProviderPage {
                    title: "Choose your enterprise".into(),
                    message: String::new(),
                    problem: false,
                    ask: Some(Ask { application, params, error }),
                    confirm: None,
                    operation_id: None,
                },
                StatusCode::OK,
            )
        }
        Authorize::SignIn { idp_url, sso_request_id, parked } => {
            let mut res = redirect(&idp_url);
            res.add_cookie(&binding_cookie(state, &sso_request_id))
                .map_err(|e| PageError::BadRequest(e.to_string()))?;
            res.add_cookie(&authorize_cookie(state, authorize_binding(state, &parked)))
                .map_err(|e| PageError::BadRequest(e.to_string()))?;
            Ok(res)
        }
    }
}

// ---- Token, userinfo, revocation ----

/// An OAuth error as JSON (RFC 6749 §5.2), never cached.
fn oauth_error(e: &OAuthError) -> HttpResponse {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut res = HttpResponse::build(status);
    res.insert_header((header::CACHE_CONTROL, "no-store")).insert_header((header::PRAGMA, "no-cache"));
    if status == StatusCode::UNAUTHORIZED {
        res.insert_header((header::WWW_AUTHENTICATE, "Basic realm=\"portico\""));
    }
    res.json(serde_json::json!({"error": e.error, "error_description": e.description}))
}

/// Reads an `application/x-www-form-urlencoded` body as its fields in order.
async fn read_form(req: &HttpRequest, payload: web::Payload) -> Result<Vec<(String, String)>, OAuthError> {
    let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !content_type.to_ascii_lowercase().starts_with("application/x-www-form-urlencoded") {
        return Err(OAuthError {
            status: 400,
            error: "invalid_request",
            description: "send the parameters as application/x-www-form-urlencoded".into(),
        });
    }
    let body = match payload.to_bytes_limited(MAX_FORM_BYTES).await {
        Ok(Ok(b)) => b,
        _ => {
            return Err(OAuthError {
                status: 400,
                error: "invalid_request",
                description: format!("the body is unreadable or larger than {MAX_FORM_BYTES} bytes"),
            });
        }
    };
    Ok(url::form_urlencoded::parse(&body).into_owned().collect())
}

fn authorization_header(req: &HttpRequest) -> Option<String> {
    req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

async fn token(state: web::Data<AppState>, req: HttpRequest, payload: web::Payload) -> HttpResponse {
    let auth = authorization_header(&req);
    let answer = match read_form(&req, payload).await {
        Ok(form) => provider::token(&state, auth.as_deref(), form).await,
        Err(e) => Err(e),
    };
    match answer {
        Ok(body) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::PRAGMA, "no-cache"))
            .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
            .json(body),
        Err(e) => oauth_error(&e),
    }
}

async fn revoke(state: web::Data<AppState>, req: HttpRequest, payload: web::Payload) -> HttpResponse {
    let auth = authorization_header(&req);
    let answer = match read_form(&req, payload).await {
        Ok(form) => provider::revoke(&state, auth.as_deref(), form).await,
        Err(e) => Err(e),
    };
    match answer {
        Ok(()) => HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).finish(),
        Err(e) => oauth_error(&e),
    }
}

/// A userinfo refusal (RFC 6750 §3).
fn bearer_error(status: StatusCode, error: &str, description: &str) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((
            header::WWW_AUTHENTICATE,
            format!("Bearer realm=\"portico\", error=\"{error}\", error_description=\"{description}\""),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({"error": error, "error_description": description}))
}

async fn userinfo(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let token = authorization_header(&req).and_then(|h| {
        let (scheme, rest) = h.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim().to_owned()).filter(|t| !t.is_empty())
    });
    let Some(token) = token else {
        return HttpResponse::Unauthorized()
            .insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"portico\""))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish();
    };
    match provider::userinfo(&state, token).await {
        Ok(Some(claims)) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
            .json(claims),
        Ok(None) => {
            bearer_error(StatusCode::UNAUTHORIZED, "invalid_token", "the access token is unknown, expired or revoked")
        }
        Err(e) => {
            tracing::error!(error = %e, "userinfo failed");
            bearer_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "Portico could not answer; try again")
        }
    }
}

// ---- Logout ----

async fn logout_get(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<Vec<(String, String)>>,
) -> Result<HttpResponse, PageError> {
    logout(state, req, query.into_inner()).await
}

async fn logout_post(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, PageError> {
    logout(state, req, form.into_inner()).await
}

async fn logout(
    state: web::Data<AppState>,
    req: HttpRequest,
    params: Vec<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let session = session_token(&req);
    // A confirmation is a POST carrying the CSRF token of this browser's session.
    let confirmed = req.method() == actix_web::http::Method::POST
        && session
            .as_deref()
            .is_some_and(|t| params.iter().any(|(k, v)| k == "csrf_token" && csrf_matches(&state, t, v)));
    let csrf = session.as_deref().map(|t| csrf_token(&state, t)).unwrap_or_default();
    let answer = provider::logout(&state, params, session, confirmed, operation_id(&req)).await?;
    let mut res = match answer {
        Logout::Page(message) => return page(StatusCode::BAD_REQUEST, "This sign-out cannot continue", message),
        Logout::Confirm(params) => {
            return render_status(
                &ProviderPage {
                    title: "Sign out?".into(),
                    message: String::new(),
                    problem: false,
                    ask: None,
                    confirm: Some(Confirm { params, csrf }),
                    operation_id: None,
                },
                StatusCode::OK,
            );
        }
        Logout::Redirect(url) => redirect(&url),
        Logout::Done => {
            page(StatusCode::OK, "Signed out", "You are signed out of Portico. You can close this window.".into())?
        }
    };
    let mut gone = cookie(&state, SESSION_COOKIE, String::new());
    gone.make_removal();
    res.add_cookie(&gone).map_err(|e| PageError::BadRequest(e.to_string()))?;
    Ok(res)
}
