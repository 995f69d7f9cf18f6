//! Provisioning by the IdP: the users and IdP groups an enterprise's IdP pushes over SCIM, and
//! the log of its requests. The SCIM protocol itself (JSON, filters, PATCH) lives in the `scim`
//! crate; this module stores what it decided, under the rules of `DESIGN.md`:
//!
//! - users the IdP creates are `scim`-origin; a `jit` user with the same login is adopted (it
//!   becomes `scim`), a `local` user is never touched and its login is taken;
//! - deactivating a user revokes their sessions in the same transaction;
//! - deleting a user removes them, their memberships and sessions; the audit trail keeps who
//!   they were;
//! - group membership changes are one set-based statement per operation, and each change to a
//!   group bumps its version first, which serialises concurrent changes to one group.
//!
//! Every resource carries a version, bumped on each change: the SCIM ETag, checked against
//! `If-Match`.

mod groups;
mod request_log;
mod users;

pub use groups::{GroupChanges, GroupKey, GroupOrigin, IdpGroup, MemberChange, NewIdpGroup};
pub use request_log::{KEEP_PER_ENTERPRISE, ScimRequest};
pub use users::{ProvisionedUser, ScimUserData, UserKey};

use crate::access::{Actor, Ctx};
use crate::error::{DirectoryError, Result};

/// At most this many resources in one list page.
pub const MAX_PAGE: i64 = 1000;

/// The enterprise a SCIM caller provisions; anyone else may not use these operations.
fn scim_enterprise<'a>(ctx: &Ctx<'a>) -> Result<&'a str> {
    match ctx.actor {
        Actor::ScimToken { enterprise_id, .. } => Ok(enterprise_id),
        _ => Err(DirectoryError::Forbidden("only the enterprise's IdP provisions over SCIM".into())),
    }
}

/// Checks an expected version (from `If-Match`) against the stored one.
fn check_version(what: &'static str, expected: Option<i64>, actual: i64) -> Result<()> {
    match expected {
        Some(v) if v != actual => Err(DirectoryError::VersionMismatch(what)),
        _ => Ok(()),
    }
}
