//! `/api/v1/enterprises/{key}/connections`: SSO connections, their set-up, test and enabling.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use directory::connection::{Connection, ConnectionChanges, Mapping, NewConnection, Protocol, Provider, TestResult};
use directory::ids::ConnectionId;
use directory::{DirectoryError, FieldErrors};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{resource, utc};
use crate::app::connections::{
    OidcInput, SamlInput, SpUrls, pem, redirect_uri, refresh_input, resolve_oidc, resolve_saml, sp_urls,
};
use crate::auth::ApiCaller;
use crate::error::{ApiError, Problem, blocking};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/enterprises/{key}/connections", "GET, POST")
            .route(web::post().to(create))
            .route(web::get().to(list)),
    )
    .service(
        resource("/enterprises/{key}/connections/{id}", "GET, PATCH, DELETE")
            .route(web::get().to(get_one))
            .route(web::patch().to(update))
            .route(web::delete().to(remove)),
    )
    .service(resource("/enterprises/{key}/connections/{id}/enable", "POST").route(web::post().to(enable)))
    .service(
        resource("/enterprises/{key}/connections/{id}/default-application", "PUT")
            .route(web::put().to(set_default_application)),
    )
    .service(resource("/enterprises/{key}/connections/{id}/disable", "POST").route(web::post().to(disable)))
    .service(resource("/enterprises/{key}/connections/{id}/test", "POST").route(web::post().to(test)))
    .service(resource("/enterprises/{key}/connections/{id}/test-results", "GET").route(web::get().to(test_results)))
    .service(
        resource("/enterprises/{key}/connections/{id}/refresh-metadata", "POST")
            .route(web::post().to(refresh_metadata)),
    );
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ProtocolDto {
    Saml,
    Oidc,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ProviderDto {
    Okta,
    Entra,
    Jumpcloud,
    Google,
    Other,
    Custom,
}

impl From<ProviderDto> for Provider {
    fn from(p: ProviderDto) -> Self {
        match p {
            ProviderDto::Okta => Provider::Okta,
            ProviderDto::Entra => Provider::Entra,
            ProviderDto::Jumpcloud => Provider::JumpCloud,
            ProviderDto::Google => Provider::Google,
            ProviderDto::Other => Provider::Other,
            ProviderDto::Custom => Provider::Custom,
        }
    }
}

/// Attribute names; absent ones take the provider's defaults, empty strings clear them.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MappingDto {
    /// Attribute holding the login; absent means the provider default, null the NameID.
    pub login: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
    pub groups: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateConnection {
    pub protocol: ProtocolDto,
    pub provider: ProviderDto,
    pub saml: Option<SamlInput>,
    pub oidc: Option<OidcInput>,
    /// SAML attribute names (OIDC: claim names, also accepted as `claims_mapping`).
    pub attribute_mapping: Option<MappingDto>,
    /// OIDC claim names: login (default `preferred_username`), email, name, groups.
    pub claims_mapping: Option<MappingDto>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateConnection {
    pub provider: Option<ProviderDto>,
    pub saml: Option<SamlInput>,
    pub oidc: Option<OidcInput>,
    pub attribute_mapping: Option<MappingDto>,
    pub claims_mapping: Option<MappingDto>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CertificateView {
    pub subject: String,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    pub expired: bool,
    /// Expires within 30 days.
    pub expiring_soon: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SamlView {
    /// The SP certificate to upload to the IdP for encrypting assertions (PEM), when on.
    pub encryption_certificate: Option<String>,
    /// The SP certificate the IdP checks signed AuthnRequests with (PEM), when on.
    pub signing_certificate: Option<String>,
    pub require_signed_assertions: bool,
    pub metadata_url: Option<String>,
    pub idp_entity_id: String,
    pub sso_url: String,
    pub certificates: Vec<CertificateView>,
    pub allow_idp_initiated: bool,
    pub sign_requests: bool,
    pub encrypt_assertions: bool,
    /// Encrypted assertions in AES-CBC mode are accepted too (weaker than AES-GCM).
    pub allow_cbc_encryption: bool,
}

/// An OpenID Connect connection's provider side (never its client secret).
#[derive(Debug, Serialize, ToSchema)]
pub struct OidcView {
    pub issuer: String,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub okta_domain: Option<String>,
    pub tenant_id: Option<String>,
    /// True once a client secret is stored (sealed; it is never shown again).
    pub client_secret_set: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectionView {
    pub id: String,
    pub protocol: ProtocolDto,
    pub provider: ProviderDto,
    /// `draft`, `tested`, `enabled` or `disabled`.
    pub status: String,
    /// SAML: the values to paste into the IdP.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sp: Option<SpUrls>,
    /// OpenID Connect: the callback URL to register at the provider.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_uri: Option<String>,
    pub saml: Option<SamlView>,
    pub oidc: Option<OidcView>,
    /// Which attribute (SAML) or claim (OIDC) feeds each field of a user.
    pub attribute_mapping: MappingDto,
    /// The same as `attribute_mapping`, under the name OpenID Connect admins expect.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claims_mapping: Option<MappingDto>,
    pub tested_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The host application (client id) IdP-initiated sign-ins land in; `null`: the console.
    pub default_application: Option<String>,
}

fn provider_dto(p: Provider) -> ProviderDto {
    match p {
        Provider::Okta => ProviderDto::Okta,
        Provider::Entra => ProviderDto::Entra,
        Provider::JumpCloud => ProviderDto::Jumpcloud,
        Provider::Google => ProviderDto::Google,
        Provider::Other => ProviderDto::Other,
        Provider::Custom => ProviderDto::Custom,
    }
}

/// The API's view of a connection; certificate expiry is judged at the directory's `now`.
pub fn view(state: &AppState, c: Connection) -> ConnectionView {
    let settings = &state.settings;
    let now = state.directory.now().and_utc();
    let saml = c.saml.map(|s| SamlView {
        encryption_certificate: s.sp_certificate.as_deref().filter(|_| s.encrypt_assertions).map(pem),
        signing_certificate: s.sp_certificate.as_deref().filter(|_| s.sign_requests).map(pem),
        require_signed_assertions: s.require_signed_assertions,
        certificates: s
            .certificates
            .iter()
            .filter_map(|b64| sso::saml::Certificate::parse(b64.as_bytes()).ok())
            .map(|cert| CertificateView {
                expired: cert.is_expired(now),
                expiring_soon: cert.expiring_soon(now),
                subject: cert.subject,
                not_before: cert.not_before,
                not_after: cert.not_after,
            })
            .collect(),
        metadata_url: s.metadata_url,
        idp_entity_id: s.idp_entity_id,
        sso_url: s.sso_url,
        allow_idp_initiated: s.allow_idp_initiated,
        sign_requests: s.sign_requests,
        encrypt_assertions: s.encrypt_assertions,
        allow_cbc_encryption: s.allow_cbc_encryption,
    });
    let is_saml = c.protocol == Protocol::Saml;
    let oidc = c.oidc.map(|o| OidcView {
        issuer: o.issuer,
        client_id: o.client_id,
        scopes: o.scopes,
        okta_domain: o.okta_domain,
        tenant_id: o.tenant_id,
        client_secret_set: !o.client_secret.is_empty(),
    });
    let mapping_dto = || MappingDto {
        login: c.mapping.login.clone(),
        email: c.mapping.email.clone(),
        name: c.mapping.name.clone(),
        groups: c.mapping.groups.clone(),
    };
    ConnectionView {
        sp: is_saml.then(|| sp_urls(settings, &c.id)),
        redirect_uri: (!is_saml).then(|| redirect_uri(settings, &c.id)),
        claims_mapping: (!is_saml).then(mapping_dto),
        oidc,
        id: c.id.to_string(),
        protocol: match c.protocol {
            Protocol::Saml => ProtocolDto::Saml,
            Protocol::Oidc => ProtocolDto::Oidc,
        },
        provider: provider_dto(c.provider),
        status: c.status.as_str().to_owned(),
        saml,
        attribute_mapping: MappingDto {
            login: c.mapping.login,
            email: c.mapping.email,
            name: c.mapping.name,
            groups: c.mapping.groups,
        },
        tested_at: c.tested_at.map(utc),
        created_at: utc(c.created_at),
        updated_at: utc(c.updated_at),
        default_application: c.default_application,
    }
}

fn mapping(m: Option<MappingDto>) -> Option<Mapping> {
    m.map(|m| Mapping { login: m.login, email: m.email, name: m.name, groups: m.groups })
}

#[utoipa::path(
    post, path = "/api/v1/enterprises/{key}/connections", tag = "connections", request_body = CreateConnection,
    params(("key" = String, Path, description = "Enterprise key")),
    responses(
        (status = 201, description = "Created as a draft; `sp` holds the values to paste into the IdP", body = ConnectionView),
        (status = 400, description = "Invalid settings, unreachable metadata, unreadable certificate", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such enterprise", body = Problem, content_type = "application/problem+json"),
    ),
    security(("admin_api_key" = []))
)]
pub async fn create(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<String>,
    body: web::Json<CreateConnection>,
) -> Result<HttpResponse, ApiError> {
    let key = path.into_inner();
    let body = body.into_inner();
    // Check access before contacting anything on the caller's behalf.
    let (dir, k2, c2) = (state.directory.clone(), key.clone(), caller.clone());
    blocking::<_, ApiError>(move || dir.get_enterprise(&c2.ctx(), &k2)).await?;
    let provider: Provider = body.provider.into();
    let (saml, oidc) = match (body.protocol, body.saml, body.oidc) {
        (ProtocolDto::Saml, Some(input), _) => (Some(resolve_saml(&state, input, None).await?), None),
        (ProtocolDto::Saml, None, _) => {
            return Err(FieldErrors::single("saml", "SAML settings are required").into());
        }
        (ProtocolDto::Oidc, _, Some(input)) => (None, Some(resolve_oidc(&state, provider, input, None).await?)),
        (ProtocolDto::Oidc, _, None) => {
            return Err(FieldErrors::single("oidc", "OpenID Connect settings are required").into());
        }
    };
    let input = NewConnection {
        protocol: match body.protocol {
            ProtocolDto::Saml => Protocol::Saml,
            ProtocolDto::Oidc => Protocol::Oidc,
        },
        provider,
        saml,
        oidc,
        mapping: mapping(body.claims_mapping.or(body.attribute_mapping)),
    };
    let dir = state.directory.clone();
    let created = blocking::<_, ApiError>(move || dir.create_connection(&caller.ctx(), &key, input)).await?;
    Ok(HttpResponse::Created().json(view(&state, created)))
}

#[utoipa::path(
    get, path = "/api/v1/enterprises/{key}/connections", tag = "connections",
    params(("key" = String, Path, description = "Enterprise key")),
    responses((status = 200, description = "The enterprise's connections, newest first", body = Vec<ConnectionView>)),
    security(("admin_api_key" = []))
)]
pub async fn list(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let key = path.into_inner();
    let dir = state.directory.clone();
    let all = blocking::<_, ApiError>(move || dir.list_connections(&caller.ctx(), &key)).await?;
    Ok(HttpResponse::Ok().json(all.into_iter().map(|c| view(&state, c)).collect::<Vec<_>>()))
}

#[utoipa::path(
    get, path = "/api/v1/enterprises/{key}/connections/{id}", tag = "connections",
    params(("key" = String, Path, description = "Enterprise key"), ("id" = String, Path, description = "Connection id")),
    responses(
        (status = 200, description = "The connection", body = ConnectionView),
        (status = 404, description = "No such connection", body = Problem, content_type = "application/problem+json"),
    ),
    security(("admin_api_key" = []))
)]
pub async fn get_one(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<(String, ConnectionId)>,
) -> Result<HttpResponse, ApiError> {
    let (key, id) = path.into_inner();
    let dir = state.directory.clone();
    let c = blocking::<_, ApiError>(move || dir.get_connection(&caller.ctx(), &key, &id)).await?;
    Ok(HttpResponse::Ok().json(view(&state, c)))
}

#[utoipa::path(
    patch, path = "/api/v1/enterprises/{key}/connections/{id}", tag = "connections", request_body = UpdateConnection,
    params(("key" = String, Path, description = "Enterprise key"), ("id" = String, Path, description = "Connection id")),
    responses(
        (status = 200, description = "Updated; new IdP settings send a tested connection back to draft", body = ConnectionView),
        (status = 400, description = "Invalid settings", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such connection", body = Problem, content_type = "application/problem+json"),
    ),
    security(("admin_api_key" = []))
)]
pub async fn update(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<(String, ConnectionId)>,
    body: web::Json<UpdateConnection>,
) -> Result<HttpResponse, ApiError> {
    let (key, id) = path.into_inner();
    let body = body.into_inner();
    let (dir, k2, i2, c2) = (state.directory.clone(), key.clone(), id.clone(), caller.clone());
    let current = blocking::<_, ApiError>(move || dir.get_connection(&c2.ctx(), &k2, &i2)).await?;
    let saml = match body.saml {
        Some(input) => Some(resolve_saml(&state, input, current.saml.as_ref()).await?),
        None => None,
    };
    let provider = body.provider.map(Into::into).unwrap_or(current.provider);
    let oidc = match body.oidc {
        Some(input) => Some(resolve_oidc(&state, provider, input, current.oidc.as_ref()).await?),
        None => None,
    };
    let changes = ConnectionChanges {
        provider: body.provider.map(Into::into),
        saml,
        oidc,
        mapping: mapping(body.claims_mapping.or(body.attribute_mapping)),
    };
    let dir = state.directory.clone();
    let c = blocking::<_, ApiError>(move || dir.update_connection(&caller.ctx(), &key, &id, changes)).await?;
    Ok(HttpResponse::Ok().json(view(&state, c)))
}

#[utoipa::path(
    delete, path = "/api/v1/enterprises/{key}/connections/{id}", tag = "connections",
    params(("key" = String, Path, description = "Enterprise key"), ("id" = String, Path, description = "Connection id")),
    responses(
        (status = 204, description = "Deleted; if it was enabled, SSO sign-in stops for the enterprise"),
        (status = 404, description = "No such connection", body = Problem, content_type = "application/problem+json"),
    ),
    security(("admin_api_key" = []))
)]
pub async fn remove(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<(String, ConnectionId)>,
) -> Result<HttpResponse, ApiError> {
    let (key, id) = path.into_inner();
    let dir = state.directory.clone();
    blocking::<_, ApiError>(move || dir.delete_connection(&caller.ctx(), &key, &id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(
    post, path = "/api/v1/enterprises/{key}/connections/{id}/enable", tag = "connections",
    params(("key" = String, Path, description = "Enterprise key"), ("id" = String, Path, description = "Connection id")),
    responses(
        (status = 200, description = "Enabled: people of the enterprise sign in through it", body = ConnectionView),
        (status = 404, description = "No such connection", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not tested yet, or another connection is enabled", body = Problem, content_type = "application/problem+json"),
    ),
    security(("admin_api_key" = []))
)]
pub async fn enable(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<(String, ConnectionId)>,
) -> Result<HttpResponse, ApiError> {
    let (key, id) = path.into_inner();
    let dir = state.directory.clone();
    let c = blocking::<_, ApiError>(move || dir.enable_connection(&caller.ctx(), &key, &id)).await?;
    Ok(HttpResponse::Ok().json(view(&state, c)))
}

/// Which host application IdP-initiated sign-ins land in.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DefaultApplication {
    /// A client id, or `null` for the Portico console.
    pub client_id: Option<String>,
}

#[utoipa::path(
    put, path = "/api/v1/enterprises/{key}/connections/{id}/default-application", tag = "connections",
    request_body = DefaultApplication,
    params(("key" = String, Path, description = "Enterprise key"), ("id" = String, Path, description = "Connection id")),
    responses(
        (status = 200, description = "Set: IdP-initiated sign-ins go to the application's initiate_login_uri", body = ConnectionView),
        (status = 400, description = "No application of that id may receive people of this enterprise", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such connection", body = Problem, content_type = "application/problem+json"),
    ),
    security(("admin_api_key" = []))
)]
pub async fn set_default_application(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<(String, ConnectionId)>,
    body: web::Json<DefaultApplication>,
) -> Result<HttpResponse, ApiError> {
    let (key, id) = path.into_inner();
    let client_id = body.into_inner().client_id;
    let dir = state.directory.clone();
    let c =
        blocking::<_, ApiError>(move || dir.set_default_application(&caller.ctx(), &key, &id, client_id.as_deref()))
            .await?;
    Ok(HttpResponse::Ok().json(view(&state, c)))
}

#[utoipa::path(
    post, path = "/api/v1/enterprises/{key}/connections/{id}/disable", tag = "connections",
    params(("key" = String, Path, description = "Enterprise key"), ("id" = String, Path, description = "Connection id")),
    responses(
        (status = 200, description = "Disabled", body = ConnectionView),
        (status = 404, description = "No such connection", body = Problem, content_type = "application/problem+json"),
    ),
    security(("admin_api_key" = []))
)]
pub async fn disable(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<(String, ConnectionId)>,
) -> Result<HttpResponse, ApiError> {
    let (key, id) = path.into_inner();
    let dir = state.directory.clone();
    let c = blocking::<_, ApiError>(move || dir.disable_connection(&caller.ctx(), &key, &id)).await?;
    Ok(HttpResponse::Ok().json(view(&state, c)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TestStart {
    /// Open this in a browser: it starts a test sign-in at the IdP. Valid for 10 minutes, once.
    pub url: String,
}

#[utoipa::path(
    post, path = "/api/v1/enterprises/{key}/connections/{id}/test", tag = "connections",
    params(("key" = String, Path, description = "Enterprise key"), ("id" = String, Path, description = "Connection id")),
    responses(
        (status = 200, description = "Where the admin's browser starts the test sign-in", body = TestStart),
        (status = 404, description = "No such connection", body = Problem, content_type = "application/problem+json"),
    ),
    security(("admin_api_key" = []))
)]
pub async fn test(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<(String, ConnectionId)>,
) -> Result<HttpResponse, ApiError> {
    let (key, id) = path.into_inner();
    let dir = state.directory.clone();
    let i2 = id.clone();
    let c = blocking::<_, ApiError>(move || dir.get_connection(&caller.ctx(), &key, &i2)).await?;
    let url = crate::app::sign_in::start_test(&state, &c).await?;
    Ok(HttpResponse::Ok().json(TestStart { url }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TestResultView {
    pub id: String,
    /// `success` or `failure`.
    pub outcome: String,
    pub reason: Option<String>,
    #[schema(value_type = Object)]
    pub result: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

impl From<TestResult> for TestResultView {
    fn from(t: TestResult) -> Self {
        TestResultView {
            id: t.id,
            outcome: t.outcome,
            reason: t.reason,
            result: t.result,
            created_at: utc(t.created_at),
        }
    }
}

#[utoipa::path(
    get, path = "/api/v1/enterprises/{key}/connections/{id}/test-results", tag = "connections",
    params(("key" = String, Path, description = "Enterprise key"), ("id" = String, Path, description = "Connection id")),
    responses(
        (status = 200, description = "Recent test sign-ins, newest first: raw attributes, mapped identity, warnings", body = Vec<TestResultView>),
        (status = 404, description = "No such connection", body = Problem, content_type = "application/problem+json"),
    ),
    security(("admin_api_key" = []))
)]
pub async fn test_results(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<(String, ConnectionId)>,
) -> Result<HttpResponse, ApiError> {
    let (key, id) = path.into_inner();
    let dir = state.directory.clone();
    let results = blocking::<_, ApiError>(move || dir.test_results(&caller.ctx(), &key, &id)).await?;
    Ok(HttpResponse::Ok().json(results.into_iter().map(TestResultView::from).collect::<Vec<_>>()))
}

#[utoipa::path(
    post, path = "/api/v1/enterprises/{key}/connections/{id}/refresh-metadata", tag = "connections",
    params(("key" = String, Path, description = "Enterprise key"), ("id" = String, Path, description = "Connection id")),
    responses(
        (status = 200, description = "The IdP's metadata was read again (new certificates after a rotation, a new SSO URL)", body = ConnectionView),
        (status = 400, description = "The metadata could not be read", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such connection", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The connection was not set up from a metadata URL", body = Problem, content_type = "application/problem+json"),
    ),
    security(("admin_api_key" = []))
)]
pub async fn refresh_metadata(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<(String, ConnectionId)>,
) -> Result<HttpResponse, ApiError> {
    let (key, id) = path.into_inner();
    let (dir, k2, i2, c2) = (state.directory.clone(), key.clone(), id.clone(), caller.clone());
    let current = blocking::<_, ApiError>(move || dir.get_connection(&c2.ctx(), &k2, &i2)).await?;
    let Some(input) = current.saml.as_ref().and_then(refresh_input) else {
        return Err(DirectoryError::Conflict("this connection was not set up from a metadata URL".into()).into());
    };
    let saml = resolve_saml(&state, input, current.saml.as_ref()).await?;
    let dir = state.directory.clone();
    let changes = ConnectionChanges { saml: Some(saml), ..Default::default() };
    let c = blocking::<_, ApiError>(move || dir.update_connection(&caller.ctx(), &key, &id, changes)).await?;
    Ok(HttpResponse::Ok().json(view(&state, c)))
}
