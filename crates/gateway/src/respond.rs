//! Response helpers every HTTP module shares (console pages, sign-in endpoints): rendering a
//! page, redirecting, and the rule for where a redirect after sign-in may lead. The HTTP
//! modules use this one instead of importing each other.

use actix_web::HttpResponse;
use actix_web::http::header::{self, ContentType};
use askama::Template;

use crate::error::PageError;

/// Renders a page with status 200.
pub fn render(page: &impl Template) -> Result<HttpResponse, PageError> {
    render_status(page, actix_web::http::StatusCode::OK)
}

/// Renders a page with `status`; pages are never cached (they show per-person data).
pub fn render_status(page: &impl Template, status: actix_web::http::StatusCode) -> Result<HttpResponse, PageError> {
    Ok(HttpResponse::build(status)
        .content_type(ContentType::html())
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(page.render()?))
}

/// A 303 redirect after a successful form.
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther().insert_header((header::LOCATION, location.to_owned())).finish()
}

/// A 302 redirect to another site (an IdP), never cached.
pub fn redirect(url: &str) -> HttpResponse {
    HttpResponse::Found()
        .insert_header((header::LOCATION, url.to_owned()))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// Only same-site paths are followed after sign-in (no open redirect): an absolute path, not
/// `//host`, and no backslash, whitespace or control character anywhere (browsers drop tabs
/// and newlines from URLs, so `/\t/evil.example` would become `//evil.example`).
pub fn safe_next(next: &str) -> Option<&str> {
    let clean = !next.chars().any(|c| c == '\\' || c.is_whitespace() || c.is_control());
    (clean && next.starts_with('/') && !next.starts_with("//")).then_some(next)
}
