//! The admin API under `/api/v1`: JSON in and out, authenticated by admin API keys, errors as
//! RFC 9457 problem+json, described by the OpenAPI document at `/api/v1/openapi.json`.

pub mod applications;
pub mod connections;
pub mod enterprises;
pub mod events;
pub mod groups;
pub mod mappings;
pub mod openapi;
pub mod organizations;
pub mod scim_requests;
pub mod scim_tokens;
pub mod users;
pub mod webhooks;

use actix_web::{HttpRequest, error, web};
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::error::ApiError;

/// Largest JSON body the admin API reads.
pub const MAX_JSON_BYTES: usize = 64 * 1024;

/// Registers every admin API route, with JSON, path and query errors rendered as problems.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/v1")
            .app_data(web::JsonConfig::default().limit(MAX_JSON_BYTES).error_handler(|err, _req: &HttpRequest| {
                let api = match &err {
                    error::JsonPayloadError::ContentType => ApiError::UnsupportedMediaType(
                        "send the body as JSON with `Content-Type: application/json`".into(),
                    ),
                    error::JsonPayloadError::Overflow { limit }
                    | error::JsonPayloadError::OverflowKnownLength { limit, .. } => {
                        ApiError::PayloadTooLarge(format!("the body is larger than {limit} bytes"))
                    }
                    error::JsonPayloadError::Deserialize(e) => ApiError::BadRequest(format!("invalid JSON body: {e}")),
                    other => ApiError::BadRequest(format!("invalid JSON body: {other}")),
                };
                error::InternalError::from_response(err, actix_web::ResponseError::error_response(&api)).into()
            }))
            .app_data(web::QueryConfig::default().error_handler(|err, _| {
                let api = ApiError::BadRequest(format!("invalid query parameters: {err}"));
                error::InternalError::from_response(err, actix_web::ResponseError::error_response(&api)).into()
            }))
            .app_data(web::PathConfig::default().error_handler(|err, _| {
                let api = ApiError::BadRequest(format!("invalid path: {err}"));
                error::InternalError::from_response(err, actix_web::ResponseError::error_response(&api)).into()
            }))
            .service(resource("/openapi.json", "GET").route(web::get().to(openapi::document)))
            .configure(enterprises::configure)
            .configure(organizations::configure)
            .configure(groups::configure)
            .configure(users::configure)
            .configure(connections::configure)
            .configure(scim_tokens::configure)
            .configure(scim_requests::configure)
            .configure(mappings::configure)
            .configure(applications::configure)
            .configure(webhooks::configure)
            .configure(events::configure)
            .default_service(web::to(not_found)),
    );
}

/// Reads a field that may be absent (`None`), `null` (`Some(None)`: clear it) or a value.
pub fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// An answer that carries a secret shown once: no cache keeps it.
pub fn no_store(mut res: actix_web::HttpResponseBuilder) -> actix_web::HttpResponseBuilder {
    res.insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"));
    res
}

/// A resource whose other methods answer 405 with the `Allow` header, as HTTP asks.
pub fn resource(path: &str, allow: &'static str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(move || async move {
        let mut res = actix_web::ResponseError::error_response(&ApiError::MethodNotAllowed(allow));
        if let Ok(value) = actix_web::http::header::HeaderValue::from_str(allow) {
            res.headers_mut().insert(actix_web::http::header::ALLOW, value);
        }
        res
    }))
}

async fn not_found() -> ApiError {
    ApiError::Directory(directory::DirectoryError::NotFound("API route"))
}

impl actix_web::Responder for ApiError {
    type Body = actix_web::body::BoxBody;
    fn respond_to(self, _req: &HttpRequest) -> actix_web::HttpResponse {
        actix_web::ResponseError::error_response(&self)
    }
}

/// `?limit=&after=` on every list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// At most this many items (1 to 200, default 50).
    pub limit: Option<u32>,
    /// The `next` value of the previous page.
    pub after: Option<String>,
}

impl From<PageQuery> for directory::PageRequest {
    fn from(q: PageQuery) -> Self {
        directory::PageRequest { limit: q.limit, after: q.after }
    }
}

pub fn utc(t: NaiveDateTime) -> DateTime<Utc> {
    DateTime::from_naive_utc_and_offset(t, Utc)
}
