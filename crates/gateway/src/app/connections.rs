//! Connections: turning what an admin gives (in the console or the admin API) into stored
//! settings, and stored settings into what the protocol engines take. Presets, the SP key
//! pair, sealed secrets and reading IdP metadata or a provider's discovery document live here,
//! once for every way a connection is set up.

use directory::connection::{Connection, Provider, SamlSettings};
use directory::{DirectoryError, FieldErrors};
use serde::Deserialize;
use sso::AttributeMapping;
use sso::oidc::OidcSettings;
use sso::saml::{Certificate, IdentityProviderSettings, SamlConnection, ServiceProviderSettings};
use utoipa::ToSchema;

use crate::config::Settings;
use crate::state::AppState;

/// The IdP side of a SAML connection: either `metadata_url` ("automatic": Portico reads the
/// entity id, SSO URL and certificates from it) or `sso_url`, `idp_entity_id` and
/// `certificates` ("manual"). Certificates may be PEM, or the bare base64 of DER.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SamlInput {
    pub metadata_url: Option<String>,
    pub sso_url: Option<String>,
    pub idp_entity_id: Option<String>,
    pub certificates: Option<Vec<String>>,
    /// Accept sign-ins the IdP starts on its own (off by default).
    pub allow_idp_initiated: Option<bool>,
    /// Sign AuthnRequests with the connection's SP key (RSA-SHA256).
    pub sign_requests: Option<bool>,
    /// Have the IdP encrypt assertions to the connection's SP key.
    pub encrypt_assertions: Option<bool>,
    /// Refuse assertions that are not signed themselves (a signed response is not enough).
    pub require_signed_assertions: Option<bool>,
    /// Accept encrypted assertions in AES-CBC mode too. Off by default: CBC without a MAC
    /// is open to padding-oracle attacks; turn it on only for an IdP that cannot use AES-GCM.
    pub allow_cbc_encryption: Option<bool>,
}

/// The provider side of an OpenID Connect connection. The issuer comes from `issuer` (custom),
/// `okta_domain` (Okta), `tenant_id` (Microsoft Entra ID), or is Google's.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OidcInput {
    pub issuer: Option<String>,
    pub okta_domain: Option<String>,
    pub tenant_id: Option<String>,
    pub client_id: Option<String>,
    /// Stored sealed and never shown again; leave out on update to keep the current one.
    pub client_secret: Option<String>,
    /// Default: `openid email profile`, plus `groups` for Okta.
    pub scopes: Option<Vec<String>>,
}

/// A base64 DER certificate as PEM, 64 characters a line.
pub fn pem(b64: &str) -> String {
    let lines: Vec<String> = b64.as_bytes().chunks(64).map(|c| String::from_utf8_lossy(c).into_owned()).collect();
    format!("-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n", lines.join("\n"))
}

/// The purpose SP private keys are sealed for.
pub const SP_KEY_PURPOSE: &str = "saml sp private key";

/// The SP key pair of a connection that receives encrypted assertions: the existing one, or a
/// new one (sealed with `security.secret_key`).
async fn sp_key_pair(settings: &Settings, existing: Option<&SamlSettings>) -> Result<(String, String), DirectoryError> {
    if let Some(e) = existing
        && let (Some(cert), Some(key)) = (&e.sp_certificate, &e.sp_private_key)
    {
        return Ok((cert.clone(), key.clone()));
    }
    let generated = actix_web::web::block(|| sso::saml::sp_key::generate("Portico SAML SP"))
        .await
        .map_err(|e| DirectoryError::Internal(e.to_string()))?
        .map_err(|e| DirectoryError::Internal(format!("cannot generate the SP key: {e}")))?;
    let sealed = crate::secrets::seal(settings, SP_KEY_PURPOSE, &generated.private_key_pem)
        .map_err(|e| DirectoryError::Internal(e.to_string()))?;
    use base64::Engine;
    Ok((base64::engine::general_purpose::STANDARD.encode(&generated.certificate_der), sealed))
}

/// Turns what the admin gave into stored settings: fetches metadata for the automatic set-up,
/// reads every certificate, and creates the SP key pair when assertions are to be encrypted.
/// Field errors name the JSON path.
pub async fn resolve_saml(
    state: &AppState,
    input: SamlInput,
    existing: Option<&SamlSettings>,
) -> Result<SamlSettings, DirectoryError> {
    let mut errors = FieldErrors::default();
    let mut settings = SamlSettings {
        metadata_url: input.metadata_url.clone().map(|u| u.trim().to_owned()).filter(|u| !u.is_empty()),
        idp_entity_id: input.idp_entity_id.clone().unwrap_or_default().trim().to_owned(),
        sso_url: input.sso_url.clone().unwrap_or_default().trim().to_owned(),
        certificates: Vec::new(),
        allow_idp_initiated: input.allow_idp_initiated.unwrap_or(false),
        sign_requests: input.sign_requests.unwrap_or(false),
        encrypt_assertions: input.encrypt_assertions.unwrap_or(false),
        require_signed_assertions: input.require_signed_assertions.unwrap_or(false),
        allow_cbc_encryption: input.allow_cbc_encryption.unwrap_or(false),
        sp_certificate: None,
        sp_private_key: None,
    };
    let blank = settings.metadata_url.is_none()
        && settings.sso_url.is_empty()
        && settings.idp_entity_id.is_empty()
        && input.certificates.as_ref().is_none_or(Vec::is_empty);
    if blank {
        // A draft whose SP values the admin is about to paste into the IdP; its IdP side comes
        // later (PATCH). It cannot be tested or enabled until then.
    } else if let Some(url) = &settings.metadata_url {
        match sso::saml::fetch_idp_metadata(&state.outbound, url).await {
            Ok(m) => {
                if settings.idp_entity_id.is_empty() {
                    settings.idp_entity_id = m.entity_id;
                }
                if settings.sso_url.is_empty() {
                    settings.sso_url = m.sso_url;
                }
                settings.certificates = m.certificates.iter().map(|c| c.base64()).collect();
            }
            Err(e) => errors.add("saml.metadata_url", e),
        }
    } else {
        if settings.sso_url.is_empty() {
            errors.add("saml.sso_url", "give the IdP's single sign-on URL, or a metadata_url");
        }
        if settings.idp_entity_id.is_empty() {
            errors.add("saml.idp_entity_id", "give the IdP's entity id (Issuer), or a metadata_url");
        }
    }
    for (i, pem) in input.certificates.unwrap_or_default().iter().enumerate() {
        match sso::saml::Certificate::parse(pem.as_bytes()) {
            Ok(c) => {
                if !settings.certificates.contains(&c.base64()) {
                    settings.certificates.push(c.base64());
                }
            }
            Err(e) => errors.add(&format!("saml.certificates[{i}]"), e.to_string()),
        }
    }
    if !blank && settings.certificates.is_empty() && settings.metadata_url.is_none() {
        errors.add("saml.certificates", "at least one IdP signing certificate is required");
    }
    errors.into_result()?;
    if settings.encrypt_assertions || settings.sign_requests {
        let (cert, key) = sp_key_pair(&state.settings, existing).await?;
        settings.sp_certificate = Some(cert);
        settings.sp_private_key = Some(key);
    }
    Ok(settings)
}

/// The purpose OIDC client secrets are sealed for.
pub const CLIENT_SECRET_PURPOSE: &str = "oidc client secret";

/// Turns what the admin gave into stored OIDC settings: derives the issuer from the preset,
/// checks that the provider's discovery document can be read (and says clearly if not), seals
/// the client secret.
pub async fn resolve_oidc(
    state: &AppState,
    provider: Provider,
    input: OidcInput,
    existing: Option<&directory::connection::OidcSettings>,
) -> Result<directory::connection::OidcSettings, DirectoryError> {
    let mut errors = FieldErrors::default();
    let trimmed = |v: &Option<String>| v.as_ref().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    let okta_domain = trimmed(&input.okta_domain).or_else(|| existing.and_then(|e| e.okta_domain.clone()));
    let tenant_id = trimmed(&input.tenant_id).or_else(|| existing.and_then(|e| e.tenant_id.clone()));
    let issuer = match (provider, trimmed(&input.issuer)) {
        (_, Some(issuer)) => Some(issuer),
        (Provider::Okta, None) => okta_domain.as_ref().map(|d| {
            let host = d.trim_start_matches("https://").trim_start_matches("http://").trim_end_matches('/');
            format!("https://{host}")
        }),
        (Provider::Entra, None) => tenant_id.as_ref().map(|t| format!("https://login.microsoftonline.com/{t}/v2.0")),
        (Provider::Google, None) => Some("https://accounts.google.com".to_owned()),
        _ => existing.map(|e| e.issuer.clone()),
    };
    let Some(issuer) = issuer else {
        let field = match provider {
            Provider::Okta => "oidc.okta_domain",
            Provider::Entra => "oidc.tenant_id",
            _ => "oidc.issuer",
        };
        return Err(FieldErrors::single(field, "the provider's issuer is required"));
    };
    let client_id = trimmed(&input.client_id).or_else(|| existing.map(|e| e.client_id.clone())).unwrap_or_default();
    if client_id.is_empty() {
        errors.add("oidc.client_id", "the client ID is required");
    }
    // A stored secret belongs to the provider it was issued by: a change of issuer or client
    // id must bring its own, or whoever changed the issuer would receive the old one at "their"
    // token endpoint. Checked before anything is sent anywhere.
    if let Some(e) = existing
        && trimmed(&input.client_secret).is_none()
        && !e.client_secret.is_empty()
        && (e.issuer != issuer || e.client_id != client_id)
    {
        let what = if e.issuer != issuer { "issuer" } else { "client ID" };
        let mut errors = FieldErrors::default();
        errors.add(
            "oidc.client_secret",
            format!(
                "a new {what} needs the client secret issued with it, in the same request: the stored secret is never sent to another provider or client"
            ),
        );
        return Err(DirectoryError::Unprocessable(errors));
    }
    let client_secret = match (trimmed(&input.client_secret), existing) {
        (Some(secret), _) => crate::secrets::seal(&state.settings, CLIENT_SECRET_PURPOSE, secret.as_bytes())
            .map_err(|e| DirectoryError::Internal(e.to_string()))?,
        (None, Some(e)) => e.client_secret.clone(),
        (None, None) => {
            errors.add("oidc.client_secret", "the client secret is required");
            String::new()
        }
    };
    let scopes = input.scopes.clone().or_else(|| existing.map(|e| e.scopes.clone())).unwrap_or_else(|| {
        let mut s = vec!["openid".to_owned(), "email".to_owned(), "profile".to_owned()];
        if provider == Provider::Okta {
            s.push("groups".to_owned());
        }
        s
    });
    // The issuer's discovery document is read now, so a wrong domain or tenant shows at once.
    match check_issuer(state, &issuer).await {
        Ok(()) => {}
        Err(e) => errors.add(
            match provider {
                Provider::Okta if input.issuer.is_none() => "oidc.okta_domain",
                Provider::Entra if input.issuer.is_none() => "oidc.tenant_id",
                _ => "oidc.issuer",
            },
            format!("Portico could not read the provider's discovery document: {e}"),
        ),
    }
    errors.into_result()?;
    Ok(directory::connection::OidcSettings { issuer, client_id, client_secret, scopes, okta_domain, tenant_id })
}

/// Settings that re-read the IdP's metadata URL, keeping every option and the SP key pair.
pub fn refresh_input(current: &SamlSettings) -> Option<SamlInput> {
    current.metadata_url.as_ref().map(|url| SamlInput {
        metadata_url: Some(url.clone()),
        allow_idp_initiated: Some(current.allow_idp_initiated),
        sign_requests: Some(current.sign_requests),
        encrypt_assertions: Some(current.encrypt_assertions),
        require_signed_assertions: Some(current.require_signed_assertions),
        allow_cbc_encryption: Some(current.allow_cbc_encryption),
        ..SamlInput::default()
    })
}

/// The URLs an admin pastes into the IdP for one connection.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct SpUrls {
    /// Portico's entity id for this connection (the Audience of its assertions).
    pub entity_id: String,
    /// Where the IdP posts its responses: the Single Sign-On URL / ACS URL / Reply URL.
    pub acs_url: String,
    /// Portico's SP metadata document for this connection.
    pub metadata_url: String,
}

pub fn sp_urls(settings: &Settings, connection_id: &str) -> SpUrls {
    let metadata_url = settings.url(&format!("/sso/saml/{connection_id}/metadata"));
    SpUrls {
        entity_id: metadata_url.clone(),
        acs_url: settings.url(&format!("/sso/saml/{connection_id}/acs")),
        metadata_url,
    }
}

/// The protocol engine's view of a stored connection.
pub fn saml_connection(settings: &Settings, c: &Connection) -> Result<SamlConnection, String> {
    let s = c.saml.as_ref().ok_or("this connection has no SAML settings")?;
    let certificates = s
        .certificates
        .iter()
        .map(|b64| Certificate::parse(b64.as_bytes()).map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    let urls = sp_urls(settings, &c.id);
    let sp_key = match (s.encrypt_assertions || s.sign_requests, &s.sp_private_key) {
        (true, Some(sealed)) => {
            let pem = crate::secrets::open(settings, SP_KEY_PURPOSE, sealed).map_err(|e| e.to_string())?;
            Some(sso::saml::sp_key::load(&pem).map_err(|e| format!("the SP key is unreadable: {e}"))?)
        }
        (true, None) => {
            return Err("the connection needs an SP key pair and has none; save its settings again".into());
        }
        (false, _) => None,
    };
    let decryption_key = sp_key.clone().filter(|_| s.encrypt_assertions);
    let signing_key = sp_key.filter(|_| s.sign_requests);
    Ok(SamlConnection {
        sp: ServiceProviderSettings { entity_id: urls.entity_id, acs_url: urls.acs_url },
        idp: IdentityProviderSettings { entity_id: s.idp_entity_id.clone(), sso_url: s.sso_url.clone(), certificates },
        mapping: AttributeMapping {
            login: c.mapping.login.clone(),
            email: c.mapping.email.clone(),
            name: c.mapping.name.clone(),
            groups: c.mapping.groups.clone(),
        },
        allow_idp_initiated: s.allow_idp_initiated,
        clock_skew: settings.sso_clock_skew,
        decryption_key,
        signing_key,
        require_signed_assertion: s.require_signed_assertions,
        max_response_bytes: settings.sso_max_saml_response_bytes,
        allow_cbc: s.allow_cbc_encryption,
    })
}

/// The callback URL a connection registers at its provider.
pub fn redirect_uri(settings: &Settings, connection_id: &str) -> String {
    settings.url(&format!("/sso/oidc/{connection_id}/callback"))
}

/// The OpenID client's view of a stored connection, its client secret unsealed.
pub fn oidc_settings(settings: &Settings, c: &Connection) -> Result<OidcSettings, String> {
    let o = c.oidc.as_ref().ok_or("this connection has no OpenID Connect settings")?;
    let secret = crate::secrets::open(settings, CLIENT_SECRET_PURPOSE, &o.client_secret).map_err(|e| e.to_string())?;
    Ok(OidcSettings {
        issuer: o.issuer.clone(),
        client_id: o.client_id.clone(),
        client_secret: String::from_utf8(secret).map_err(|_| "the client secret is unreadable".to_owned())?,
        scopes: o.scopes.clone(),
        redirect_uri: redirect_uri(settings, &c.id),
        mapping: AttributeMapping {
            login: c.mapping.login.clone(),
            email: c.mapping.email.clone(),
            name: c.mapping.name.clone(),
            groups: c.mapping.groups.clone(),
        },
        clock_skew: settings.sso_clock_skew,
    })
}

/// Refuses issuers Portico must not contact (the outbound policy: plain HTTP, internal
/// addresses) before anything is sent, then reads the discovery document and checks that every
/// endpoint it names obeys the same rule.
pub async fn check_issuer(state: &AppState, issuer: &str) -> Result<(), String> {
    let url = url::Url::parse(issuer).map_err(|e| format!("`{issuer}` is not a URL: {e}"))?;
    issuer_allowed(state, &url)?;
    let m = sso::oidc::discover(issuer, &state.outbound).await.map_err(|e| e.to_string())?;
    provider_endpoints_allowed(state, &m)
}

/// The issuer obeys the outbound policy (HTTPS, no internal address written literally; host
/// names are checked when the client connects, not here, since DNS could answer a check
/// differently from the connection).
pub fn issuer_allowed(state: &AppState, url: &url::Url) -> Result<(), String> {
    state.outbound.policy().check(url).map_err(|e| format!("the issuer must be a public https:// URL: {e}"))
}

/// Every URL a provider's discovery document names obeys the outbound policy.
pub fn provider_endpoints_allowed(
    state: &AppState,
    m: &sso::oidc::openidconnect_metadata::CoreProviderMetadata,
) -> Result<(), String> {
    for (name, url) in sso::oidc::endpoints(m) {
        state.outbound.policy().check(url).map_err(|e| format!("the provider's {name}: {e}"))?;
    }
    Ok(())
}
