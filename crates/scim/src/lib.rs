//! SCIM 2.0 as Portico speaks it (RFC 7643 resources, RFC 7644 protocol). This crate knows the
//! protocol only: it parses what an IdP sends into values and says what is wrong in SCIM's own
//! terms; the gateway serves it over HTTP and the directory stores the results.

pub mod error;
pub mod filter;
pub mod matching;
pub mod patch;
pub mod query;
pub mod resource;
pub mod schemas;

pub use error::{ScimError, ScimType};

/// A member of a JSON object by name without regard to case (SCIM attribute names are
/// case-insensitive, RFC 7643 section 2.1); a `null` value counts as absent.
pub(crate) fn field<'a>(
    object: &'a serde_json::Map<String, serde_json::Value>,
    name: &str,
) -> Option<&'a serde_json::Value> {
    object.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v).filter(|v| !v.is_null())
}
