//! Who is acting, and what they may do. One policy for the console and the admin API:
//!
//! - operators (and operator API keys, and the local CLI) administer the whole platform;
//! - an enterprise admin (or an enterprise API key) administers one enterprise;
//! - an org admin administers the organizations they were appointed to.
//!
//! Anything an actor may not see is reported as not found, so enterprise B's keys and names do
//! not leak to enterprise A.

use crate::error::{DirectoryError, Result};
use crate::ids::{EnterpriseId, UserId};
use crate::role::{Grant, Role};

/// The principal behind a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A platform operator signed in to the console.
    Operator { id: String, login: String },
    /// An enterprise user signed in to the console, with their role grants.
    User { id: UserId, enterprise_id: EnterpriseId, login: String, grants: Vec<Grant> },
    /// An admin API key: operator-wide when `enterprise_id` is `None`.
    ApiKey { id: String, prefix: String, enterprise_id: Option<EnterpriseId> },
    /// An enterprise's IdP, calling the SCIM API with one of the enterprise's SCIM tokens. It
    /// provisions users and groups of that enterprise and administers nothing.
    ScimToken { id: String, prefix: String, enterprise_id: EnterpriseId },
    /// The `portico` command line on the server itself.
    System,
    /// Someone not (yet) identified, e.g. a sign-in attempt for an unknown login.
    Anonymous,
}

impl Actor {
    pub fn kind(&self) -> &'static str {
        match self {
            Actor::Operator { .. } => "operator",
            Actor::User { .. } => "user",
            Actor::ApiKey { .. } => "api_key",
            Actor::ScimToken { .. } => "scim_token",
            Actor::System => "system",
            Actor::Anonymous => "anonymous",
        }
    }

    pub fn id(&self) -> Option<&str> {
        match self {
            Actor::User { id, .. } => Some(id),
            Actor::Operator { id, .. } | Actor::ApiKey { id, .. } | Actor::ScimToken { id, .. } => Some(id),
            Actor::System | Actor::Anonymous => None,
        }
    }

    /// How the audit log names the actor.
    pub fn display_name(&self) -> String {
        match self {
            Actor::Operator { login, .. } | Actor::User { login, .. } => login.clone(),
            Actor::ApiKey { prefix, .. } => format!("API key {prefix}"),
            Actor::ScimToken { prefix, .. } => format!("SCIM token {prefix}"),
            Actor::System => "portico command line".to_owned(),
            Actor::Anonymous => "anonymous".to_owned(),
        }
    }

    /// Operators, operator API keys and the command line.
    pub fn is_platform_admin(&self) -> bool {
        matches!(self, Actor::Operator { .. } | Actor::System | Actor::ApiKey { enterprise_id: None, .. })
    }

    /// May change anything in enterprise `enterprise_id`.
    pub fn can_administer_enterprise(&self, enterprise_id: &str) -> bool {
        if self.is_platform_admin() {
            return true;
        }
        match self {
            Actor::ApiKey { enterprise_id: Some(e), .. } => e == enterprise_id,
            Actor::User { enterprise_id: e, grants, .. } => {
                e == enterprise_id && grants.iter().any(|g| g.role == Role::EnterpriseAdmin)
            }
            _ => false,
        }
    }

    /// May see enterprise `enterprise_id` at all (its admins, and its org admins).
    pub fn can_view_enterprise(&self, enterprise_id: &str) -> bool {
        if self.can_administer_enterprise(enterprise_id) {
            return true;
        }
        matches!(self, Actor::User { enterprise_id: e, grants, .. } if e == enterprise_id && !grants.is_empty())
    }

    /// May administer organization `organization_id` of enterprise `enterprise_id`.
    pub fn can_administer_organization(&self, enterprise_id: &str, organization_id: &str) -> bool {
        if self.can_administer_enterprise(enterprise_id) {
            return true;
        }
        matches!(self, Actor::User { enterprise_id: e, grants, .. }
            if e == enterprise_id && grants.iter().any(|g| g.role == Role::OrgAdmin
                && g.organization_id.as_deref() == Some(organization_id)))
    }

    /// The organizations this actor administers through org-admin grants only.
    pub fn administered_organizations(&self) -> Vec<&str> {
        match self {
            Actor::User { grants, .. } => grants
                .iter()
                .filter(|g| g.role == Role::OrgAdmin)
                .filter_map(|g| g.organization_id.as_deref())
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The enterprise an enterprise-bound actor belongs to.
    pub fn home_enterprise(&self) -> Option<&str> {
        match self {
            Actor::User { enterprise_id, .. } | Actor::ScimToken { enterprise_id, .. } => Some(enterprise_id),
            Actor::ApiKey { enterprise_id, .. } => enterprise_id.as_deref(),
            _ => None,
        }
    }
}

/// The context of one operation: who acts, and the request's operation id for the audit trail.
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    pub actor: &'a Actor,
    pub operation_id: Option<&'a str>,
}

impl<'a> Ctx<'a> {
    pub fn new(actor: &'a Actor, operation_id: Option<&'a str>) -> Self {
        Ctx { actor, operation_id }
    }

    pub(crate) fn require_platform_admin(&self) -> Result<()> {
        if self.actor.is_platform_admin() {
            Ok(())
        } else {
            Err(DirectoryError::Forbidden("only operators may do this".into()))
        }
    }

    pub(crate) fn require_enterprise_admin(&self, enterprise_id: &str) -> Result<()> {
        if self.actor.can_administer_enterprise(enterprise_id) {
            Ok(())
        } else {
            Err(DirectoryError::Forbidden("only enterprise admins may do this".into()))
        }
    }

    pub(crate) fn require_org_admin(&self, enterprise_id: &str, organization_id: &str) -> Result<()> {
        if self.actor.can_administer_organization(enterprise_id, organization_id) {
            Ok(())
        } else {
            Err(DirectoryError::Forbidden("only admins of this organization may do this".into()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(grants: Vec<Grant>) -> Actor {
        Actor::User { id: "u".into(), enterprise_id: "e1".into(), login: "ada".into(), grants }
    }

    #[test]
    fn enterprise_key_sees_only_its_enterprise() {
        let key = Actor::ApiKey { id: "k".into(), prefix: "p".into(), enterprise_id: Some("e1".into()) };
        assert!(key.can_administer_enterprise("e1"));
        assert!(!key.can_administer_enterprise("e2"));
        assert!(!key.can_view_enterprise("e2"));
        assert!(!key.is_platform_admin());
    }

    #[test]
    fn org_admin_administers_only_their_organizations() {
        let a =
            user(vec![Grant { role: Role::OrgAdmin, enterprise_id: "e1".into(), organization_id: Some("o1".into()) }]);
        assert!(a.can_view_enterprise("e1"));
        assert!(!a.can_administer_enterprise("e1"));
        assert!(a.can_administer_organization("e1", "o1"));
        assert!(!a.can_administer_organization("e1", "o2"));
        assert!(!a.can_view_enterprise("e2"));
    }

    #[test]
    fn user_without_grants_sees_nothing() {
        let a = user(vec![]);
        assert!(!a.can_view_enterprise("e1"));
        assert!(!a.can_administer_organization("e1", "o1"));
    }
}
