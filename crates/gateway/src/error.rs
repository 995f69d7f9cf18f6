//! The gateway's two error renderings: RFC 9457 problem+json for the admin API, and an HTML
//! page for the console. Both map domain errors to honest status codes, carry the operation id,
//! and say nothing about internals: the cause of a 500 goes to the log, not to the client.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentType};
use actix_web::{HttpResponse, ResponseError};
use askama::Template;
use directory::{DirectoryError, FieldError};
use serde::Serialize;

use crate::observe::current_operation_id;

/// Runs blocking directory work (database, password hashing) off the async workers.
pub async fn blocking<T, E>(f: impl FnOnce() -> Result<T, DirectoryError> + Send + 'static) -> Result<T, E>
where
    T: Send + 'static,
    E: From<DirectoryError>,
{
    match actix_web::web::block(f).await {
        Ok(result) => result.map_err(E::from),
        Err(_) => Err(E::from(DirectoryError::Unavailable("the worker pool is gone".into()))),
    }
}

/// The status and a stable machine-readable code for a domain error.
fn classify(e: &DirectoryError) -> (StatusCode, &'static str) {
    match e {
        DirectoryError::Validation(_) => (StatusCode::BAD_REQUEST, "validation_failed"),
        DirectoryError::Unprocessable(_) => (StatusCode::UNPROCESSABLE_ENTITY, "unprocessable"),
        DirectoryError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
        DirectoryError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
        DirectoryError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
        DirectoryError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
        DirectoryError::VersionMismatch(_) => (StatusCode::PRECONDITION_FAILED, "version_mismatch"),
        DirectoryError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
        DirectoryError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        DirectoryError::Database(_)
        | DirectoryError::Migration(_)
        | DirectoryError::Password(_)
        | DirectoryError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
    }
}

const INTERNAL_DETAIL: &str = "Portico could not complete this request. Quote the operation id when you report it.";

/// An admin API error, rendered as `application/problem+json`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("a valid admin API key is required: send `Authorization: Bearer <key>`")]
    Unauthorized,
    #[error("this method is not allowed here; allowed: {0}")]
    MethodNotAllowed(&'static str),
}

/// RFC 9457 problem details, with Portico's extension members.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// Always `about:blank`: `code` says which problem it is.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// A stable machine-readable code, e.g. `validation_failed`, `conflict`.
    pub code: String,
    /// The id of this request in Portico's logs.
    pub operation_id: Option<String>,
    /// Field-level errors of a `validation_failed` problem.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<Object>)]
    pub errors: Vec<FieldError>,
}

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::Directory(e) => classify(e),
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::UnsupportedMediaType(_) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
            ApiError::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::MethodNotAllowed(_) => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.parts().0
    }

    fn error_response(&self) -> HttpResponse {
        let (status, code) = self.parts();
        let detail = if status.is_server_error() {
            tracing::error!(error = %self, "admin API request failed");
            INTERNAL_DETAIL.to_owned()
        } else {
            self.to_string()
        };
        let errors = match self {
            ApiError::Directory(DirectoryError::Validation(f) | DirectoryError::Unprocessable(f)) => f.0.clone(),
            _ => Vec::new(),
        };
        let problem = Problem {
            kind: "about:blank".into(),
            title: status.canonical_reason().unwrap_or("Error").into(),
            status: status.as_u16(),
            detail,
            code: code.into(),
            operation_id: current_operation_id(),
            errors,
        };
        let mut res = HttpResponse::build(status);
        res.insert_header((header::CONTENT_TYPE, "application/problem+json"));
        if status == StatusCode::UNAUTHORIZED {
            res.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"portico\""));
        }
        if let ApiError::Directory(DirectoryError::RateLimited { retry_after_secs }) = self {
            res.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
        }
        res.json(problem)
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    message: &'a str,
    operation_id: Option<String>,
    signed_in: bool,
}

/// A console error, rendered as an HTML page (or a redirect to sign-in).
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    #[error("sign-in required")]
    SignInRequired { next: String },
    #[error("This form has expired or did not come from Portico. Go back, reload the page and try again.")]
    Csrf,
    #[error("{0}")]
    BadRequest(String),
    #[error("The page could not be shown.")]
    Render(#[from] askama::Error),
    /// An SSO sign-in was refused; the reason is in the audit log, not on the page.
    #[error("Your sign-in could not be completed. Ask your administrator for help and quote the operation id below.")]
    SignInRefused,
    #[error("Too many sign-in attempts from your address. Wait a minute and try again.")]
    TooManyRequests,
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        match self {
            PageError::Directory(e) => classify(e).0,
            PageError::SignInRequired { .. } => StatusCode::SEE_OTHER,
            PageError::Csrf => StatusCode::FORBIDDEN,
            PageError::BadRequest(_) => StatusCode::BAD_REQUEST,
            PageError::Render(_) => StatusCode::INTERNAL_SERVER_ERROR,
            PageError::SignInRefused => StatusCode::FORBIDDEN,
            PageError::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let PageError::SignInRequired { next } = self {
            let target =
                format!("/login?next={}", url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>());
            return HttpResponse::SeeOther().insert_header((header::LOCATION, target)).finish();
        }
        let status = self.status_code();
        let (title, message) = match self {
            PageError::Directory(DirectoryError::NotFound(what)) => {
                ("Not found", format!("This {what} does not exist, or you may not see it."))
            }
            PageError::Directory(DirectoryError::Forbidden(why)) => {
                ("Not allowed", format!("You may not do this: {why}."))
            }
            PageError::Directory(DirectoryError::RateLimited { .. }) => ("Too many attempts", self.to_string()),
            PageError::Directory(DirectoryError::Unavailable(_)) => (
                "Temporarily unavailable",
                "Portico cannot reach its database right now. Try again in a moment.".into(),
            ),
            _ if status.is_server_error() => {
                tracing::error!(error = %self, "console request failed");
                ("Something went wrong", INTERNAL_DETAIL.into())
            }
            PageError::Csrf => ("Form expired", self.to_string()),
            PageError::SignInRefused => ("Sign-in refused", self.to_string()),
            PageError::TooManyRequests => ("Too many attempts", self.to_string()),
            _ => ("Request refused", self.to_string()),
        };
        let page = ErrorPage { title, message: &message, operation_id: current_operation_id(), signed_in: false };
        let body = page.render().unwrap_or_else(|_| message.clone());
        HttpResponse::build(status).content_type(ContentType::html()).body(body)
    }
}
