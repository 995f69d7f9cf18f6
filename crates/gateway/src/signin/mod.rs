//! The sign-in endpoints people's browsers reach: `/login/sso` starts a sign-in at the
//! enterprise's IdP; the SAML endpoints (SP metadata, Assertion Consumer Service, test start)
//! and the OpenID Connect callback bring it back. They read requests, call the application
//! layer (`app::sign_in`), and turn what it returns into pages, redirects and cookies.

pub mod oidc;
pub mod saml;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use directory::connection::Connection;

use crate::app::sign_in::{Finished, TestOutcome};
use crate::auth::{BINDING_COOKIE, SESSION_COOKIE, binding_cookie, cookie};
use crate::error::PageError;
use crate::observe::current_operation_id;
use crate::respond::{render_status, safe_next};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    saml::configure(cfg);
    oidc::configure(cfg);
}

/// The binding cookie the browser presents, if any.
fn presented_binding(req: &HttpRequest) -> Option<String> {
    req.cookie(BINDING_COOKIE).map(|c| c.value().to_owned())
}

/// A redirect to the IdP that also gives the browser the cookie binding it to `request_id`.
fn redirect_binding(state: &AppState, url: &str, request_id: &str) -> Result<HttpResponse, PageError> {
    let mut res = crate::respond::redirect(url);
    res.add_cookie(&binding_cookie(state, request_id)).map_err(|e| PageError::BadRequest(e.to_string()))?;
    Ok(res)
}

/// The page an admin's test sign-in ends on.
#[derive(Template)]
#[template(path = "sso_test_result.html")]
struct TestResultPage {
    success: bool,
    reason: Option<String>,
    provider: String,
    mapped: Vec<(String, String)>,
    raw: Vec<(String, String)>,
    warnings: Vec<String>,
    json: String,
    operation_id: Option<String>,
    enterprise_key: String,
    connection_id: String,
}

fn test_page(c: &Connection, outcome: TestOutcome) -> Result<HttpResponse, PageError> {
    let page = TestResultPage {
        success: outcome.success,
        reason: outcome.reason,
        provider: c.provider.label().to_owned(),
        mapped: outcome.mapped,
        raw: outcome.raw,
        warnings: outcome.warnings,
        json: serde_json::to_string_pretty(&outcome.json).unwrap_or_default(),
        operation_id: current_operation_id(),
        enterprise_key: c.enterprise_key.to_string(),
        connection_id: c.id.to_string(),
    };
    render_status(&page, actix_web::http::StatusCode::OK)
}

/// How a finished sign-in, of either protocol, is answered: a test's result page; for a person
/// signed in, the page they asked for (when it is ours) with the session cookie and the spent
/// binding cookie removed; a plain refusal page otherwise.
fn answer(state: &AppState, c: &Connection, finished: Finished) -> Result<HttpResponse, PageError> {
    match finished {
        Finished::Test(outcome) => test_page(c, outcome),
        Finished::Refused => Err(PageError::SignInRefused),
        Finished::SignedIn { session_token, return_to } => {
            let target = safe_next(&return_to).unwrap_or("/").to_owned();
            let mut res = HttpResponse::SeeOther().insert_header((header::LOCATION, target)).finish();
            res.add_cookie(&cookie(state, SESSION_COOKIE, session_token))
                .map_err(|e| PageError::BadRequest(e.to_string()))?;
            let mut spent = binding_cookie(state, "");
            spent.make_removal();
            res.add_cookie(&spent).map_err(|e| PageError::BadRequest(e.to_string()))?;
            Ok(res)
        }
    }
}

/// What `finish` needs from the request itself.
fn user_agent(req: &HttpRequest) -> String {
    req.headers().get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
}
