//! SCIM 2.0 as Portico speaks it (RFC 7643 resources, RFC 7644 protocol). It parses what an IdP
//! sends into values, says what is wrong in SCIM's own terms, and applies the result through a
//! storage port ([`store::ScimStore`], driven by [`service`]); it knows neither HTTP nor a
//! database. The gateway serves it over HTTP and implements the port over the directory.

pub mod apply;
pub mod bulk;
pub mod discovery;
pub mod error;
pub mod filter;
pub mod matching;
pub mod patch;
pub mod projection;
pub mod query;
pub mod render;
pub mod resource;
pub mod schemas;
pub mod service;
pub mod store;

pub use error::{ScimError, ScimType};

/// A member of a JSON object by name without regard to case (SCIM attribute names are
/// case-insensitive, RFC 7643 section 2.1); a `null` value counts as absent.
pub(crate) fn field<'a>(
    object: &'a serde_json::Map<String, serde_json::Value>,
    name: &str,
) -> Option<&'a serde_json::Value> {
    object.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v).filter(|v| !v.is_null())
}
