//! SSO connections: how an enterprise's people sign in (SAML now, OIDC later), with a status an
//! admin can see: `draft` (being set up), `tested` (a test sign-in succeeded), `enabled` (people
//! sign in through it), `disabled`. An enterprise has at most one enabled connection, of either
//! protocol; the schema enforces it with a partial unique index.
//!
//! Protocol settings are kept as JSON so both backends store them alike; this crate checks their
//! shape, the gateway checks their cryptographic content (certificates) with the `sso` crate.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::Directory;
use crate::access::Ctx;
use crate::audit::Subject;
use crate::db::DbConnection;
use crate::enterprise::{self, Enterprise};
use crate::error::{DirectoryError, FieldErrors, Result, conflict_on_unique};
use crate::ids::{ConnectionId, EnterpriseId, EnterpriseKey};
use crate::schema::{enterprises, sso_connections, sso_test_results};
use crate::secret::new_id;
use crate::stored::stored_enum;

stored_enum! {
    /// How a connection talks to its IdP.
    pub enum Protocol {
        Saml = "saml",
        Oidc = "oidc",
    }
}

stored_enum! {
    /// The IdP product, which decides default attribute names and the hints the assistant shows.
    pub enum Provider {
        Okta = "okta",
        Entra = "entra",
        JumpCloud = "jumpcloud",
        Google = "google",
        Other = "other",
        Custom = "custom",
    }
}

impl Provider {
    /// Display name for the console.
    pub fn label(self) -> &'static str {
        match self {
            Provider::Okta => "Okta",
            Provider::Entra => "Microsoft Entra ID",
            Provider::JumpCloud => "JumpCloud",
            Provider::Google => "Google",
            Provider::Other => "Other SAML identity provider",
            Provider::Custom => "Custom OpenID Connect",
        }
    }

    /// The SAML attribute names this IdP sends by default (or that its setup guide tells admins
    /// to configure).
    pub fn default_saml_mapping(self) -> Mapping {
        let m = |login: &str, email: &str, name: &str, groups: &str| Mapping {
            login: Some(login.to_owned()),
            email: Some(email.to_owned()),
            name: Some(name.to_owned()),
            groups: Some(groups.to_owned()),
        };
        match self {
            Provider::Entra => m(
                "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
                "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
                "http://schemas.microsoft.com/identity/claims/displayname",
                "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups",
            ),
            Provider::JumpCloud => m("login", "email", "name", "memberOf"),
            _ => m("login", "email", "name", "groups"),
        }
    }
}

stored_enum! {
    /// Where a connection stands: a draft until a test sign-in succeeds, then tested, and live
    /// only once an admin enables it.
    pub enum ConnectionStatus {
        Draft = "draft",
        Tested = "tested",
        Enabled = "enabled",
        Disabled = "disabled",
    }
}

/// Which IdP attribute feeds each field of a user. `login: None` means the NameID.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mapping {
    pub login: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
    pub groups: Option<String>,
}

/// A SAML connection's IdP side, as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamlSettings {
    /// Where the IdP publishes its metadata ("automatic" set-up), if it was given.
    #[serde(default)]
    pub metadata_url: Option<String>,
    pub idp_entity_id: String,
    pub sso_url: String,
    /// Trusted signing certificates, base64 DER, several during a rotation.
    pub certificates: Vec<String>,
    #[serde(default)]
    pub allow_idp_initiated: bool,
    #[serde(default)]
    pub sign_requests: bool,
    #[serde(default)]
    pub encrypt_assertions: bool,
    /// Refuse assertions that are not signed themselves (a signed response is not enough).
    #[serde(default)]
    pub require_signed_assertions: bool,
    /// Accept assertions encrypted with AES-CBC (padding-oracle class); AES-GCM only otherwise.
    #[serde(default)]
    pub allow_cbc_encryption: bool,
    /// The SP certificate (base64 DER) the IdP encrypts assertions to and checks signed
    /// AuthnRequests with, when either is on.
    #[serde(default)]
    pub sp_certificate: Option<String>,
    /// Its private key, sealed by the gateway with `security.secret_key`: never stored in clear.
    #[serde(default)]
    pub sp_private_key: Option<String>,
}

/// An OpenID Connect connection's provider side, as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcSettings {
    pub issuer: String,
    pub client_id: String,
    /// Sealed by the gateway with `security.secret_key`; never stored or shown in clear.
    pub client_secret: String,
    pub scopes: Vec<String>,
    /// Okta preset: the Okta domain the issuer was derived from.
    #[serde(default)]
    pub okta_domain: Option<String>,
    /// Entra preset: the tenant the issuer was derived from.
    #[serde(default)]
    pub tenant_id: Option<String>,
}

/// An SSO connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Connection {
    pub id: ConnectionId,
    pub enterprise_id: EnterpriseId,
    pub enterprise_key: EnterpriseKey,
    pub protocol: Protocol,
    pub provider: Provider,
    pub status: ConnectionStatus,
    pub saml: Option<SamlSettings>,
    pub oidc: Option<OidcSettings>,
    pub mapping: Mapping,
    pub tested_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// The host application IdP-initiated sign-ins land in (its `initiate_login_uri`).
    pub default_application: Option<String>,
}

impl Connection {
    /// The event that tells a host of this connection's state (never its secrets).
    pub(crate) fn event(&self, kind: &'static str) -> crate::event::Event {
        crate::event::Event::connection(
            kind,
            &self.enterprise_id,
            &self.id,
            serde_json::json!({ "connection": {
                "id": self.id, "protocol": self.protocol.as_str(), "provider": self.provider.as_str(),
                "status": self.status.as_str(),
            }}),
        )
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sso_connections)]
struct Row {
    id: ConnectionId,
    enterprise_id: EnterpriseId,
    #[diesel(deserialize_as = String)]
    protocol: Protocol,
    #[diesel(deserialize_as = String)]
    provider: Provider,
    #[diesel(deserialize_as = String)]
    status: ConnectionStatus,
    settings: String,
    map_login: Option<String>,
    map_email: Option<String>,
    map_name: Option<String>,
    map_groups: Option<String>,
    tested_at: Option<NaiveDateTime>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    default_application_id: Option<String>,
}

impl Row {
    fn into_connection(self, enterprise_key: EnterpriseKey) -> Result<Connection> {
        let protocol = self.protocol;
        let unreadable = |e: serde_json::Error| {
            DirectoryError::Internal(format!("stored settings of connection {} are unreadable: {e}", self.id))
        };
        let (saml, oidc) = match protocol {
            Protocol::Saml => (Some(serde_json::from_str(&self.settings).map_err(unreadable)?), None),
            Protocol::Oidc => (None, Some(serde_json::from_str(&self.settings).map_err(unreadable)?)),
        };
        Ok(Connection {
            provider: self.provider,
            status: self.status,
            mapping: Mapping {
                login: self.map_login,
                email: self.map_email,
                name: self.map_name,
                groups: self.map_groups,
            },
            id: self.id,
            enterprise_id: self.enterprise_id,
            enterprise_key,
            protocol,
            saml,
            oidc,
            tested_at: self.tested_at,
            created_at: self.created_at,
            updated_at: self.updated_at,
            default_application: self.default_application_id,
        })
    }
}

/// Input for a new connection. Mapping fields left out take the provider's defaults.
#[derive(Debug, Clone)]
pub struct NewConnection {
    pub protocol: Protocol,
    pub provider: Provider,
    pub saml: Option<SamlSettings>,
    pub oidc: Option<OidcSettings>,
    pub mapping: Option<Mapping>,
}

/// Changes to a connection; absent fields stay.
#[derive(Debug, Clone, Default)]
pub struct ConnectionChanges {
    pub provider: Option<Provider>,
    pub saml: Option<SamlSettings>,
    pub oidc: Option<OidcSettings>,
    pub mapping: Option<Mapping>,
}

/// The outcome of a test sign-in, as the admin sees it.
#[derive(Debug, Clone, Serialize)]
pub struct TestResult {
    pub id: String,
    pub connection_id: ConnectionId,
    pub outcome: String,
    pub reason: Option<String>,
    /// Raw attributes, mapped identity and warnings, as JSON.
    pub result: serde_json::Value,
    pub created_at: NaiveDateTime,
}

fn valid_url(errors: &mut FieldErrors, field: &str, value: &str) {
    let ok = (value.starts_with("https://") || value.starts_with("http://"))
        && value.len() <= 2000
        && !value.chars().any(|c| c.is_whitespace() || c.is_control());
    if !ok {
        errors.add(field, "must be an http:// or https:// URL");
    }
}

impl SamlSettings {
    /// Nothing about the IdP is known yet: a connection just created in the console's assistant,
    /// whose SP values the admin is pasting into the IdP.
    pub fn is_blank(&self) -> bool {
        self.metadata_url.is_none()
            && self.idp_entity_id.is_empty()
            && self.sso_url.is_empty()
            && self.certificates.is_empty()
    }
}

/// Settings are either blank (a draft being set up) or complete.
fn validate_saml(s: &SamlSettings) -> Result<()> {
    if s.is_blank() {
        return Ok(());
    }
    let mut errors = FieldErrors::default();
    if s.idp_entity_id.trim().is_empty() || s.idp_entity_id.len() > 1024 {
        errors.add("saml.idp_entity_id", "the IdP entity id (Issuer) is required");
    }
    valid_url(&mut errors, "saml.sso_url", &s.sso_url);
    if let Some(url) = &s.metadata_url {
        valid_url(&mut errors, "saml.metadata_url", url);
    }
    if s.certificates.is_empty() {
        errors.add("saml.certificates", "at least one IdP signing certificate is required");
    }
    errors.into_result()
}

impl OidcSettings {
    /// Nothing about the provider is known yet: a connection just created in the console's
    /// assistant, whose callback URL the admin is registering at the provider.
    pub fn is_blank(&self) -> bool {
        self.issuer.is_empty() && self.client_id.is_empty() && self.client_secret.is_empty()
    }
}

/// Settings are either blank (a draft being set up) or complete.
fn validate_oidc(o: &OidcSettings) -> Result<()> {
    if o.is_blank() {
        return Ok(());
    }
    let mut errors = FieldErrors::default();
    valid_url(&mut errors, "oidc.issuer", &o.issuer);
    if o.client_id.trim().is_empty() || o.client_id.len() > 512 {
        errors.add("oidc.client_id", "the client ID is required");
    }
    if o.client_secret.is_empty() {
        errors.add("oidc.client_secret", "the client secret is required");
    }
    if !o.scopes.iter().any(|s| s == "openid") {
        errors.add("oidc.scopes", "the scopes must include openid");
    }
    errors.into_result()
}

/// The claims an OIDC provider sends by default.
fn default_oidc_mapping() -> Mapping {
    Mapping {
        login: Some("preferred_username".into()),
        email: Some("email".into()),
        name: Some("name".into()),
        groups: Some("groups".into()),
    }
}

fn mapping_or_default(protocol: Protocol, provider: Provider, mapping: Option<Mapping>) -> Mapping {
    let defaults = match protocol {
        Protocol::Saml => provider.default_saml_mapping(),
        Protocol::Oidc => default_oidc_mapping(),
    };
    let pick = |given: Option<String>, default: Option<String>| match given {
        Some(v) if v.trim().is_empty() => None,
        Some(v) => Some(v.trim().to_owned()),
        None => default,
    };
    match mapping {
        None => defaults,
        Some(m) => Mapping {
            login: pick(m.login, defaults.login),
            email: pick(m.email, defaults.email),
            name: pick(m.name, defaults.name),
            groups: pick(m.groups, defaults.groups),
        },
    }
}

fn load(conn: &mut DbConnection, enterprise: &Enterprise, id: &str) -> Result<Connection> {
    sso_connections::table
        .filter(sso_connections::id.eq(id))
        .filter(sso_connections::enterprise_id.eq(&enterprise.id))
        .select(Row::as_select())
        .first(conn)
        .optional()?
        .ok_or(DirectoryError::NotFound("connection"))?
        .into_connection(enterprise.key.clone())
}

fn set_status(conn: &mut DbConnection, id: &str, status: ConnectionStatus, now: NaiveDateTime) -> Result<()> {
    diesel::update(sso_connections::table.filter(sso_connections::id.eq(id)))
        .set((sso_connections::status.eq(status.as_str()), sso_connections::updated_at.eq(now)))
        .execute(conn)
        .map_err(conflict_on_unique("another connection of this enterprise is enabled: disable it first"))?;
    Ok(())
}

impl Directory {
    /// Creates a connection in `draft` (enterprise admins).
    pub fn create_connection(&self, ctx: &Ctx<'_>, enterprise_key: &str, input: NewConnection) -> Result<Connection> {
        self.audited_in(ctx, "connection.create", enterprise_key, |conn, now| {
            let enterprise = self.visible_enterprise(conn, ctx, enterprise_key)?;
            ctx.require_enterprise_admin(&enterprise.id)?;
            let settings = match (input.protocol, &input.saml) {
                (Protocol::Saml, Some(s)) => {
                    validate_saml(s)?;
                    serde_json::to_string(s).map_err(|e| DirectoryError::Internal(e.to_string()))?
                }
                (Protocol::Saml, None) => {
                    return Err(FieldErrors::single("saml", "SAML settings are required"));
                }
                (Protocol::Oidc, _) => {
                    let o = input
                        .oidc
                        .as_ref()
                        .ok_or_else(|| FieldErrors::single("oidc", "OpenID Connect settings are required"))?;
                    validate_oidc(o)?;
                    serde_json::to_string(o).map_err(|e| DirectoryError::Internal(e.to_string()))?
                }
            };
            let mapping = mapping_or_default(input.protocol, input.provider, input.mapping);
            let id = new_id();
            diesel::insert_into(sso_connections::table)
                .values((
                    sso_connections::id.eq(&id),
                    sso_connections::enterprise_id.eq(&enterprise.id),
                    sso_connections::protocol.eq(input.protocol.as_str()),
                    sso_connections::provider.eq(input.provider.as_str()),
                    sso_connections::status.eq(ConnectionStatus::Draft.as_str()),
                    sso_connections::settings.eq(&settings),
                    sso_connections::map_login.eq(&mapping.login),
                    sso_connections::map_email.eq(&mapping.email),
                    sso_connections::map_name.eq(&mapping.name),
                    sso_connections::map_groups.eq(&mapping.groups),
                    sso_connections::created_at.eq(now),
                    sso_connections::updated_at.eq(now),
                ))
                .execute(conn)?;
            let created = load(conn, &enterprise, &id)?;
            let subject = Subject::new(Some(&enterprise.id), "connection", &id, input.provider.label())
                .emits(created.event(crate::event::CONNECTION_CREATED));
            Ok((created, subject))
        })
    }

    /// The connections of an enterprise, newest first (enterprise admins).
    pub fn list_connections(&self, ctx: &Ctx<'_>, enterprise_key: &str) -> Result<Vec<Connection>> {
        let mut conn = self.conn()?;
        let enterprise = self.visible_enterprise(&mut conn, ctx, enterprise_key)?;
        ctx.require_enterprise_admin(&enterprise.id)?;
        sso_connections::table
            .filter(sso_connections::enterprise_id.eq(&enterprise.id))
            .select(Row::as_select())
            .order(sso_connections::id.desc())
            .load(&mut conn)?
            .into_iter()
            .map(|r| r.into_connection(enterprise.key.clone()))
            .collect()
    }

    pub fn get_connection(&self, ctx: &Ctx<'_>, enterprise_key: &str, id: &ConnectionId) -> Result<Connection> {
        let mut conn = self.conn()?;
        let enterprise = self.visible_enterprise(&mut conn, ctx, enterprise_key)?;
        ctx.require_enterprise_admin(&enterprise.id)?;
        load(&mut conn, &enterprise, id)
    }

    /// Changes a connection. New IdP settings on a `tested` connection send it back to `draft`:
    /// what was tested is no longer what would be enabled.
    pub fn update_connection(
        &self,
        ctx: &Ctx<'_>,
        enterprise_key: &str,
        id: &ConnectionId,
        changes: ConnectionChanges,
    ) -> Result<Connection> {
        self.audited_in(ctx, "connection.update", enterprise_key, |conn, now| {
            let enterprise = self.visible_enterprise(conn, ctx, enterprise_key)?;
            ctx.require_enterprise_admin(&enterprise.id)?;
            let current = load(conn, &enterprise, id)?;
            let provider = changes.provider.unwrap_or(current.provider);
            let saml = match changes.saml {
                Some(s) => {
                    validate_saml(&s)?;
                    Some(s)
                }
                None => current.saml.clone(),
            };
            let oidc = match changes.oidc {
                Some(o) => {
                    validate_oidc(&o)?;
                    Some(o)
                }
                None => current.oidc.clone(),
            };
            let mapping = match changes.mapping {
                Some(m) => mapping_or_default(current.protocol, provider, Some(m)),
                None => current.mapping.clone(),
            };
            let idp_changed = saml != current.saml || oidc != current.oidc;
            let status = match current.status {
                ConnectionStatus::Tested if idp_changed => ConnectionStatus::Draft,
                s => s,
            };
            let settings = match (&saml, &oidc) {
                (Some(s), _) => serde_json::to_string(s).map_err(|e| DirectoryError::Internal(e.to_string()))?,
                (None, Some(o)) => serde_json::to_string(o).map_err(|e| DirectoryError::Internal(e.to_string()))?,
                (None, None) => "{}".to_owned(),
            };
            diesel::update(sso_connections::table.filter(sso_connections::id.eq(&current.id)))
                .set((
                    sso_connections::provider.eq(provider.as_str()),
                    sso_connections::settings.eq(&settings),
                    sso_connections::status.eq(status.as_str()),
                    sso_connections::map_login.eq(&mapping.login),
                    sso_connections::map_email.eq(&mapping.email),
                    sso_connections::map_name.eq(&mapping.name),
                    sso_connections::map_groups.eq(&mapping.groups),
                    sso_connections::updated_at.eq(now),
                ))
                .execute(conn)?;
            let updated = load(conn, &enterprise, id)?;
            let subject = Subject::new(Some(&enterprise.id), "connection", id, provider.label())
                .emits(updated.event(crate::event::CONNECTION_UPDATED));
            Ok((updated, subject))
        })
    }

    /// Deletes a connection. If it was enabled, nobody of the enterprise can sign in through SSO
    /// any more until another one is enabled.
    pub fn delete_connection(&self, ctx: &Ctx<'_>, enterprise_key: &str, id: &ConnectionId) -> Result<()> {
        self.audited_in(ctx, "connection.delete", enterprise_key, |conn, _now| {
            let enterprise = self.visible_enterprise(conn, ctx, enterprise_key)?;
            ctx.require_enterprise_admin(&enterprise.id)?;
            let current = load(conn, &enterprise, id)?;
            diesel::delete(sso_connections::table.filter(sso_connections::id.eq(&current.id))).execute(conn)?;
            let subject = Subject::new(Some(&enterprise.id), "connection", id, current.provider.label())
                .with_details(serde_json::json!({"was": current.status.as_str()}))
                .emits(current.event(crate::event::CONNECTION_DELETED));
            Ok(((), subject))
        })
    }

    /// Enables a tested connection; people of the enterprise sign in through it from now on.
    pub fn enable_connection(&self, ctx: &Ctx<'_>, enterprise_key: &str, id: &ConnectionId) -> Result<Connection> {
        self.audited_in(ctx, "connection.enable", enterprise_key, |conn, now| {
            let enterprise = self.visible_enterprise(conn, ctx, enterprise_key)?;
            ctx.require_enterprise_admin(&enterprise.id)?;
            let current = load(conn, &enterprise, id)?;
            if current.tested_at.is_none() || current.status == ConnectionStatus::Draft {
                return Err(DirectoryError::Conflict("test the connection successfully before enabling it".into()));
            }
            set_status(conn, id, ConnectionStatus::Enabled, now)?;
            let enabled = load(conn, &enterprise, id)?;
            let subject = Subject::new(Some(&enterprise.id), "connection", id, current.provider.label())
                .emits(enabled.event(crate::event::CONNECTION_ENABLED));
            Ok((enabled, subject))
        })
    }

    /// Names the host application that IdP-initiated sign-ins through this connection land in
    /// (`None`: the Portico console, as before). The application must accept people of this
    /// enterprise; an unknown one is refused the same way, so nothing is learnt of others.
    pub fn set_default_application(
        &self,
        ctx: &Ctx<'_>,
        enterprise_key: &str,
        id: &ConnectionId,
        client_id: Option<&str>,
    ) -> Result<Connection> {
        self.audited_in(ctx, "connection.default_application", enterprise_key, |conn, now| {
            let enterprise = self.visible_enterprise(conn, ctx, enterprise_key)?;
            ctx.require_enterprise_admin(&enterprise.id)?;
            let current = load(conn, &enterprise, id)?;
            if let Some(client_id) = client_id {
                let allowed = crate::host_application::allows(conn, client_id, &enterprise.id)?;
                if !allowed {
                    return Err(crate::error::FieldErrors::single(
                        "client_id",
                        "no application of that id may receive people of this enterprise",
                    ));
                }
            }
            diesel::update(sso_connections::table.filter(sso_connections::id.eq(&current.id)))
                .set((sso_connections::default_application_id.eq(client_id), sso_connections::updated_at.eq(now)))
                .execute(conn)?;
            let subject = Subject::new(Some(&enterprise.id), "connection", id, current.provider.label())
                .with_details(serde_json::json!({"default_application": client_id}));
            Ok((load(conn, &enterprise, id)?, subject))
        })
    }

    /// Disables a connection: SSO sign-in through it stops at once.
    pub fn disable_connection(&self, ctx: &Ctx<'_>, enterprise_key: &str, id: &ConnectionId) -> Result<Connection> {
        self.audited_in(ctx, "connection.disable", enterprise_key, |conn, now| {
            let enterprise = self.visible_enterprise(conn, ctx, enterprise_key)?;
            ctx.require_enterprise_admin(&enterprise.id)?;
            let current = load(conn, &enterprise, id)?;
            set_status(conn, id, ConnectionStatus::Disabled, now)?;
            let disabled = load(conn, &enterprise, id)?;
            let subject = Subject::new(Some(&enterprise.id), "connection", id, current.provider.label())
                .emits(disabled.event(crate::event::CONNECTION_DISABLED));
            Ok((disabled, subject))
        })
    }

    /// A connection by id, for the public SSO endpoints (metadata, ACS), which have no actor.
    pub fn connection_by_id(&self, id: &ConnectionId) -> Result<Connection> {
        let mut conn = self.conn()?;
        by_id(&mut conn, id)
    }

    /// The enabled connection of an enterprise, for `/login/sso`.
    pub fn enabled_connection(&self, enterprise_key: &str) -> Result<Connection> {
        let mut conn = self.conn()?;
        let enterprise =
            enterprise::find_by_key(&mut conn, enterprise_key)?.ok_or(DirectoryError::NotFound("enterprise"))?;
        sso_connections::table
            .filter(sso_connections::enterprise_id.eq(&enterprise.id))
            .filter(sso_connections::status.eq(ConnectionStatus::Enabled.as_str()))
            .select(Row::as_select())
            .first(&mut conn)
            .optional()?
            .ok_or(DirectoryError::NotFound("enabled SSO connection"))?
            .into_connection(enterprise.key)
    }

    /// Stores the outcome of a test sign-in; a success marks the connection `tested` (an
    /// enabled one stays enabled).
    pub fn record_test_result(
        &self,
        connection_id: &ConnectionId,
        success: bool,
        reason: Option<&str>,
        result: &serde_json::Value,
        operation_id: Option<&str>,
    ) -> Result<TestResult> {
        self.write(|conn, now| {
            let (enterprise_id, status): (String, ConnectionStatus) = sso_connections::table
                .filter(sso_connections::id.eq(connection_id))
                .select((sso_connections::enterprise_id, sso_connections::status))
                .first::<(String, String)>(conn)
                .optional()?
                .ok_or(DirectoryError::NotFound("connection"))
                .and_then(|(e, s)| Ok((e, ConnectionStatus::try_from(s)?)))?;
            let id = new_id();
            let outcome = if success { "success" } else { "failure" };
            // The reason may quote what a test response said: kept bounded like audit reasons.
            let reason = reason.map(|r| crate::audit::bounded(r, crate::audit::REASON_MAX));
            let reason = reason.as_deref();
            diesel::insert_into(sso_test_results::table)
                .values((
                    sso_test_results::id.eq(&id),
                    sso_test_results::connection_id.eq(connection_id),
                    sso_test_results::outcome.eq(outcome),
                    sso_test_results::reason.eq(reason),
                    sso_test_results::result.eq(result.to_string()),
                    sso_test_results::created_at.eq(now),
                ))
                .execute(conn)?;
            if success {
                let new_status = match status {
                    ConnectionStatus::Enabled => ConnectionStatus::Enabled,
                    _ => ConnectionStatus::Tested,
                };
                diesel::update(sso_connections::table.filter(sso_connections::id.eq(connection_id)))
                    .set((
                        sso_connections::status.eq(new_status.as_str()),
                        sso_connections::tested_at.eq(now),
                        sso_connections::updated_at.eq(now),
                    ))
                    .execute(conn)?;
            }
            let actor = crate::Actor::Anonymous;
            let ctx = Ctx::new(&actor, operation_id);
            let subject = Subject::new(Some(&enterprise_id), "connection", connection_id, "test sign-in");
            let outcome = if success { crate::audit::Outcome::Success } else { crate::audit::Outcome::Failure };
            crate::audit::record(conn, now, &ctx, "connection.test", &subject, outcome, reason)?;
            Ok(TestResult {
                id,
                connection_id: connection_id.clone(),
                outcome: if success { "success" } else { "failure" }.to_owned(),
                reason: reason.map(str::to_owned),
                result: result.clone(),
                created_at: now,
            })
        })
    }

    /// The latest test results of a connection, newest first (enterprise admins).
    pub fn test_results(
        &self,
        ctx: &Ctx<'_>,
        enterprise_key: &str,
        connection_id: &ConnectionId,
    ) -> Result<Vec<TestResult>> {
        let mut conn = self.conn()?;
        let enterprise = self.visible_enterprise(&mut conn, ctx, enterprise_key)?;
        ctx.require_enterprise_admin(&enterprise.id)?;
        load(&mut conn, &enterprise, connection_id)?;
        test_results_of(&mut conn, connection_id, 20)
    }
}

pub(crate) fn by_id(conn: &mut DbConnection, id: &ConnectionId) -> Result<Connection> {
    let row: Option<(Row, EnterpriseKey)> = sso_connections::table
        .inner_join(enterprises::table)
        .filter(sso_connections::id.eq(id))
        .select((Row::as_select(), enterprises::key))
        .first(conn)
        .optional()?;
    let (row, key) = row.ok_or(DirectoryError::NotFound("connection"))?;
    row.into_connection(key)
}

fn test_results_of(conn: &mut DbConnection, connection_id: &str, limit: i64) -> Result<Vec<TestResult>> {
    let rows: Vec<(String, String, Option<String>, String, NaiveDateTime)> = sso_test_results::table
        .filter(sso_test_results::connection_id.eq(connection_id))
        .select((
            sso_test_results::id,
            sso_test_results::outcome,
            sso_test_results::reason,
            sso_test_results::result,
            sso_test_results::created_at,
        ))
        .order(sso_test_results::id.desc())
        .limit(limit)
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, outcome, reason, result, created_at)| TestResult {
            id,
            connection_id: connection_id.into(),
            outcome,
            reason,
            result: serde_json::from_str(&result).unwrap_or(serde_json::Value::Null),
            created_at,
        })
        .collect())
}
