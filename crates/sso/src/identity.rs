//! What a successful sign-in yields, whatever the protocol.

use std::collections::BTreeMap;

use serde::Serialize;

/// Which IdP attribute (SAML) or claim (OIDC) feeds each field of an identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttributeMapping {
    /// The user's login in Portico; `None` means the SAML NameID (or the OIDC `sub`).
    pub login: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
    pub groups: Option<String>,
}

/// A person the IdP vouched for, with the attributes mapped and the raw ones kept for the
/// admin's test view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifiedIdentity {
    /// The IdP's stable identifier of the person (SAML NameID, OIDC `sub`).
    pub subject: String,
    pub login: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
    /// IdP group names, exactly as sent (they are matched case-sensitively).
    pub groups: Vec<String>,
    /// Every attribute as received: name to values.
    pub raw: BTreeMap<String, Vec<String>>,
}

impl VerifiedIdentity {
    /// Applies `mapping` to the subject and raw attributes.
    pub fn map(subject: String, raw: BTreeMap<String, Vec<String>>, mapping: &AttributeMapping) -> Self {
        let first = |attr: &Option<String>| {
            attr.as_ref()
                .and_then(|a| raw.get(a))
                .and_then(|values| values.iter().find(|v| !v.trim().is_empty()))
                .map(|v| v.trim().to_owned())
        };
        let login = match &mapping.login {
            None => Some(subject.clone()),
            Some(_) => first(&mapping.login),
        };
        let groups = mapping
            .groups
            .as_ref()
            .and_then(|a| raw.get(a))
            .map(|values| values.iter().filter(|v| !v.is_empty()).cloned().collect())
            .unwrap_or_default();
        VerifiedIdentity { login, email: first(&mapping.email), name: first(&mapping.name), groups, subject, raw }
    }
}
