//! The schema URNs Portico serves and reads (RFC 7643 section 8.7, RFC 7644 section 3.5.2).

/// Core User.
pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// Core Group.
pub const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// The enterprise User extension (employee number, department, manager...).
pub const ENTERPRISE_USER: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// A PATCH request.
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// A list response.
pub const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
