//! The one error type of the domain layer. The gateway maps each variant to an honest status
//! code (400, 403, 404, 409, 429, 500) and never shows `Database`/`Pool` details to end users.

use std::fmt;

/// One invalid input field, named as the API and the console name it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// Every field that failed validation, so a form can show all of them at once.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct FieldErrors(pub Vec<FieldError>);

impl FieldErrors {
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.push(FieldError { field: field.to_owned(), message: message.into() });
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The message for `field`, if it failed.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.iter().find(|e| e.field == field).map(|e| e.message.as_str())
    }

    /// `Ok(())` when nothing failed, so validators can end with `errors.into_result()?`.
    pub fn into_result(self) -> Result<(), DirectoryError> {
        if self.0.is_empty() { Ok(()) } else { Err(DirectoryError::Validation(self)) }
    }

    /// A single-field failure.
    pub fn single(field: &str, message: impl Into<String>) -> DirectoryError {
        let mut errors = FieldErrors::default();
        errors.add(field, message);
        DirectoryError::Validation(errors)
    }
}

impl fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|e| format!("{}: {}", e.field, e.message)).collect();
        f.write_str(&parts.join("; "))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error("invalid input: {0}")]
    Validation(FieldErrors),
    /// Well-formed input that cannot be applied as it stands, such as a new OpenID Connect
    /// issuer without the client secret that goes with it (HTTP 422).
    #[error("{0}")]
    Unprocessable(FieldErrors),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    #[error("not allowed: {0}")]
    Forbidden(String),
    #[error("{0}")]
    Unauthorized(&'static str),
    /// The caller named the version it expected (an `If-Match` ETag) and the stored one differs.
    #[error("the {0} was changed since it was read")]
    VersionMismatch(&'static str),
    #[error("too many failed attempts; try again in {retry_after_secs} seconds")]
    RateLimited { retry_after_secs: u64 },
    #[error("database unreachable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Database(#[from] diesel::result::Error),
    #[error("migrations failed: {0}")]
    Migration(String),
    #[error("password hashing failed: {0}")]
    Password(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<crate::stored::UnknownValue> for DirectoryError {
    fn from(e: crate::stored::UnknownValue) -> Self {
        DirectoryError::Internal(e.to_string())
    }
}

impl From<diesel::r2d2::PoolError> for DirectoryError {
    fn from(e: diesel::r2d2::PoolError) -> Self {
        DirectoryError::Unavailable(e.to_string())
    }
}

/// Turns a unique-constraint violation into a `Conflict` with a message the admin understands;
/// any other database error passes through.
pub(crate) fn conflict_on_unique(message: &str) -> impl FnOnce(diesel::result::Error) -> DirectoryError + '_ {
    move |e| match e {
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _) => {
            DirectoryError::Conflict(message.to_owned())
        }
        other => DirectoryError::Database(other),
    }
}

pub type Result<T, E = DirectoryError> = std::result::Result<T, E>;
