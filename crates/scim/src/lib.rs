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
