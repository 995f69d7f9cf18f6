//! The "SSO & Provisioning" page and the SAML setup assistant: 1 create the app in the IdP
//! (values to copy, hints per IdP), 2 configure the connection (automatic from a metadata URL,
//! or manual), 3 map attributes, 4 test, then enable. Each step saves on its own, so an admin can
//! stop and come back; the connection's status says where it stands.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use directory::connection::{Connection, ConnectionChanges, Mapping, NewConnection, Protocol, Provider, SamlSettings};
use directory::ids::ConnectionId;
use directory::{DirectoryError, FieldErrors};
use serde::Deserialize;

use super::{Chrome, CsrfOnly, render, render_status, see_other};
use crate::app::connections::{
    OidcInput, SamlInput, SpUrls, pem, redirect_uri, refresh_input, resolve_oidc, resolve_saml, sp_urls,
};
use crate::auth::ConsoleSession;
use crate::error::PageError;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(overview)
        .service(create)
        .service(create_oidc)
        .service(save_oidc)
        .service(assistant)
        .service(save_idp)
        .service(save_mapping)
        .service(start_test)
        .service(refresh)
        .service(enable)
        .service(disable)
        .service(delete);
}

struct ConnectionRow {
    id: String,
    saml: bool,
    provider: &'static str,
    status: &'static str,
    updated: String,
}

#[derive(Template)]
#[template(path = "sso.html")]
struct SsoPage {
    chrome: Chrome,
    key: String,
    enterprise_name: String,
    mode: &'static str,
    connections: Vec<ConnectionRow>,
    provisioning: super::provisioning::ProvisioningSection,
}

#[get("/console/e/{key}/sso")]
async fn overview(
    state: web::Data<AppState>,
    session: ConsoleSession,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let key = path.into_inner();
    let k2 = key.clone();
    let st = state.clone();
    let (enterprise, connections, provisioning) = session
        .read(&state, move |dir, ctx| {
            let enterprise = dir.get_enterprise(ctx, &k2)?;
            let provisioning = super::provisioning::section(&st, dir, ctx, &k2, enterprise.provisioning_mode)?;
            Ok((enterprise, dir.list_connections(ctx, &k2)?, provisioning))
        })
        .await?;
    render(&SsoPage {
        chrome: Chrome::signed_in(&session, "enterprise"),
        key,
        enterprise_name: enterprise.name,
        mode: match enterprise.provisioning_mode {
            directory::enterprise::ProvisioningMode::Jit => "just-in-time at sign-in",
            directory::enterprise::ProvisioningMode::Scim => "SCIM, pushed by the identity provider",
        },
        connections: connections
            .into_iter()
            .map(|c| ConnectionRow {
                saml: c.protocol == Protocol::Saml,
                provider: c.provider.label(),
                status: c.status.as_str(),
                updated: c.updated_at.format("%Y-%m-%d %H:%M").to_string(),
                id: c.id.to_string(),
            })
            .collect(),
        provisioning,
    })
}

#[derive(Debug, Deserialize)]
struct CreateForm {
    csrf_token: String,
    provider: String,
}

#[post("/console/e/{key}/sso/saml")]
async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: ConsoleSession,
    path: web::Path<String>,
    form: web::Form<CreateForm>,
) -> Result<HttpResponse, PageError> {
    session.check_csrf(&state, &form.csrf_token)?;
    let key = path.into_inner();
    let provider = match Provider::parse(&form.provider) {
        Some(p @ (Provider::Okta | Provider::Entra | Provider::JumpCloud | Provider::Other)) => p,
        _ => {
            return Err(PageError::BadRequest("Choose Okta, Microsoft Entra ID, JumpCloud or Other.".into()));
        }
    };
    let k2 = key.clone();
    let c = session
        .call(&state, &req, move |dir, ctx| {
            dir.create_connection(
                ctx,
                &k2,
                NewConnection {
                    protocol: Protocol::Saml,
                    provider,
                    saml: Some(SamlSettings::default()),
                    oidc: None,
                    mapping: None,
                },
            )
        })
        .await?;
    Ok(see_other(&format!("/console/e/{key}/connections/{}", c.id)))
}

struct CertRow {
    subject: String,
    not_after: String,
    expired: bool,
    expiring_soon: bool,
}

#[derive(Template)]
#[template(path = "connection.html")]
struct AssistantPage {
    chrome: Chrome,
    key: String,
    enterprise_name: String,
    id: String,
    provider: &'static str,
    provider_key: &'static str,
    status: &'static str,
    sp: SpUrls,
    configured: bool,
    idp_entity_id: String,
    sso_url: String,
    metadata_url: String,
    certificates: Vec<CertRow>,
    manual_tab: bool,
    idp_errors: FieldErrors,
    idp_error: Option<String>,
    mapping: Mapping,
    encrypt_assertions: bool,
    allow_cbc_encryption: bool,
    sign_requests: bool,
    require_signed_assertions: bool,
    encryption_certificate: Option<String>,
    signing_certificate: Option<String>,
    last_test: Option<(bool, String, String)>,
    notice: Option<String>,
}

fn page_for(
    session: &ConsoleSession,
    state: &AppState,
    enterprise_name: String,
    c: Connection,
    tests: Vec<directory::connection::TestResult>,
) -> AssistantPage {
    let now = state.directory.now().and_utc();
    let saml = c.saml.clone().unwrap_or_default();
    let certificates = saml
        .certificates
        .iter()
        .filter_map(|b64| sso::saml::Certificate::parse(b64.as_bytes()).ok())
        .map(|cert| CertRow {
            expired: cert.is_expired(now),
            expiring_soon: cert.expiring_soon(now),
            not_after: cert.not_after.format("%Y-%m-%d").to_string(),
            subject: cert.subject,
        })
        .collect();
    AssistantPage {
        chrome: Chrome::signed_in(session, "enterprise"),
        key: c.enterprise_key.to_string(),
        enterprise_name,
        sp: sp_urls(&state.settings, &c.id),
        id: c.id.to_string(),
        provider: c.provider.label(),
        provider_key: c.provider.as_str(),
        status: c.status.as_str(),
        configured: !saml.is_blank(),
        idp_entity_id: saml.idp_entity_id.clone(),
        sso_url: saml.sso_url.clone(),
        metadata_url: saml.metadata_url.clone().unwrap_or_default(),
        certificates,
        manual_tab: saml.metadata_url.is_none() && !saml.is_blank(),
        idp_errors: FieldErrors::default(),
        idp_error: None,
        mapping: c.mapping.clone(),
        encrypt_assertions: saml.encrypt_assertions,
        allow_cbc_encryption: saml.allow_cbc_encryption,
        sign_requests: saml.sign_requests,
        require_signed_assertions: saml.require_signed_assertions,
        signing_certificate: saml.sp_certificate.as_deref().filter(|_| saml.sign_requests).map(pem),
        encryption_certificate: saml.sp_certificate.as_deref().filter(|_| saml.encrypt_assertions).map(pem),
        last_test: last_test(tests),
        notice: None,
    }
}

/// The newest test of a connection: passed, why not, when.
fn last_test(tests: Vec<directory::connection::TestResult>) -> Option<(bool, String, String)> {
    tests.into_iter().next().map(|t| {
        (t.outcome == "success", t.reason.unwrap_or_default(), t.created_at.format("%Y-%m-%d %H:%M UTC").to_string())
    })
}

/// What an assistant page shows: the enterprise, the connection and its tests, in one trip to
/// the database pool.
async fn fetch(
    state: &AppState,
    session: &ConsoleSession,
    key: &str,
    id: &ConnectionId,
) -> Result<(directory::enterprise::Enterprise, Connection, Vec<directory::connection::TestResult>), PageError> {
    let (k2, i2) = (key.to_owned(), id.clone());
    session
        .read(state, move |dir, ctx| {
            Ok((dir.get_enterprise(ctx, &k2)?, dir.get_connection(ctx, &k2, &i2)?, dir.test_results(ctx, &k2, &i2)?))
        })
        .await
}

async fn load(
    state: &AppState,
    session: &ConsoleSession,
    key: &str,
    id: &ConnectionId,
) -> Result<AssistantPage, PageError> {
    let (enterprise, c, tests) = fetch(state, session, key, id).await?;
    Ok(page_for(session, state, enterprise.name, c, tests))
}

#[get("/console/e/{key}/connections/{id}")]
async fn assistant(
    state: web::Data<AppState>,
    session: ConsoleSession,
    path: web::Path<(String, ConnectionId)>,
) -> Result<HttpResponse, PageError> {
    let (key, id) = path.into_inner();
    let (enterprise, c, tests) = fetch(&state, &session, &key, &id).await?;
    if c.protocol == Protocol::Oidc {
        return render(&oidc_page_for(&state, &session, enterprise.name, c, tests, FieldErrors::default(), None));
    }
    render(&page_for(&session, &state, enterprise.name, c, tests))
}

#[derive(Debug, Deserialize)]
struct IdpForm {
    csrf_token: String,
    /// `automatic` or `manual`.
    mode: String,
    #[serde(default)]
    metadata_url: String,
    #[serde(default)]
    sso_url: String,
    #[serde(default)]
    idp_entity_id: String,
    #[serde(default)]
    certificate: String,
    /// Checkboxes: present ("on") when ticked.
    #[serde(default)]
    encrypt_assertions: Option<String>,
    #[serde(default)]
    sign_requests: Option<String>,
    #[serde(default)]
    require_signed_assertions: Option<String>,
    #[serde(default)]
    allow_cbc_encryption: Option<String>,
    /// Keep the certificates already trusted and add the new one (a rotation).
    #[serde(default)]
    keep_certificates: Option<String>,
}

#[post("/console/e/{key}/connections/{id}/idp")]
async fn save_idp(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: ConsoleSession,
    path: web::Path<(String, ConnectionId)>,
    form: web::Form<IdpForm>,
) -> Result<HttpResponse, PageError> {
    session.check_csrf(&state, &form.csrf_token)?;
    let (key, id) = path.into_inner();
    let form = form.into_inner();
    let manual = form.mode == "manual";
    let encrypt = Some(form.encrypt_assertions.is_some());
    let sign = Some(form.sign_requests.is_some());
    let require = Some(form.require_signed_assertions.is_some());
    let cbc = Some(form.allow_cbc_encryption.is_some());
    let input = if manual {
        SamlInput {
            sso_url: Some(form.sso_url.clone()),
            idp_entity_id: Some(form.idp_entity_id.clone()),
            certificates: Some(if form.certificate.trim().is_empty() {
                vec![]
            } else {
                vec![form.certificate.clone()]
            }),
            encrypt_assertions: encrypt,
            sign_requests: sign,
            require_signed_assertions: require,
            allow_cbc_encryption: cbc,
            ..SamlInput::default()
        }
    } else {
        SamlInput {
            metadata_url: Some(form.metadata_url.clone()),
            encrypt_assertions: encrypt,
            sign_requests: sign,
            require_signed_assertions: require,
            allow_cbc_encryption: cbc,
            ..SamlInput::default()
        }
    };
    let (k3, i3) = (key.clone(), id.clone());
    let current = session.read(&state, move |dir, ctx| dir.get_connection(ctx, &k3, &i3)).await?;
    let mut input = input;
    // The console has no switch for IdP-initiated sign-in (the API has): keep what is set.
    input.allow_idp_initiated = current.saml.as_ref().map(|s| s.allow_idp_initiated);
    if manual
        && form.keep_certificates.is_some()
        && let Some(existing) = &current.saml
    {
        let mut certs: Vec<String> = existing.certificates.clone();
        certs.extend(input.certificates.take().unwrap_or_default());
        input.certificates = Some(certs);
    }
    let resolved = resolve_saml(&state, input, current.saml.as_ref()).await;
    let outcome = match resolved {
        Ok(saml) => {
            let (k2, i2) = (key.clone(), id.clone());
            session
                .call(&state, &req, move |dir, ctx| {
                    Ok(dir.update_connection(
                        ctx,
                        &k2,
                        &i2,
                        ConnectionChanges { saml: Some(saml), ..Default::default() },
                    ))
                })
                .await?
        }
        Err(e) => Err(e),
    };
    match outcome {
        Ok(_) => Ok(see_other(&format!("/console/e/{key}/connections/{id}#step-3"))),
        Err(DirectoryError::Validation(errors)) => {
            let mut page = load(&state, &session, &key, &id).await?;
            page.manual_tab = manual;
            page.metadata_url = form.metadata_url;
            page.sso_url = form.sso_url;
            page.idp_entity_id = form.idp_entity_id;
            page.idp_errors = errors;
            render_status(&page, actix_web::http::StatusCode::BAD_REQUEST)
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(Debug, Deserialize)]
struct MappingForm {
    csrf_token: String,
    #[serde(default)]
    login: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    groups: String,
}

#[post("/console/e/{key}/connections/{id}/mapping")]
async fn save_mapping(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: ConsoleSession,
    path: web::Path<(String, ConnectionId)>,
    form: web::Form<MappingForm>,
) -> Result<HttpResponse, PageError> {
    session.check_csrf(&state, &form.csrf_token)?;
    let (key, id) = path.into_inner();
    let form = form.into_inner();
    let mapping =
        Mapping { login: Some(form.login), email: Some(form.email), name: Some(form.name), groups: Some(form.groups) };
    let (k2, i2) = (key.clone(), id.clone());
    session
        .call(&state, &req, move |dir, ctx| {
            dir.update_connection(ctx, &k2, &i2, ConnectionChanges { mapping: Some(mapping), ..Default::default() })
        })
        .await?;
    Ok(see_other(&format!("/console/e/{key}/connections/{id}#step-4")))
}

#[post("/console/e/{key}/connections/{id}/test")]
async fn start_test(
    state: web::Data<AppState>,
    session: ConsoleSession,
    path: web::Path<(String, ConnectionId)>,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    session.check_csrf(&state, &form.csrf_token)?;
    let (key, id) = path.into_inner();
    let (k2, i2) = (key.clone(), id.clone());
    let c = session.read(&state, move |dir, ctx| dir.get_connection(ctx, &k2, &i2)).await?;
    match crate::app::sign_in::start_test(&state, &c).await {
        Ok(url) => Ok(see_other(&url)),
        Err(DirectoryError::Conflict(m)) if c.protocol == Protocol::Oidc => {
            let page = oidc_page(&state, &session, &key, &id, FieldErrors::default(), Some(capitalised(&m))).await?;
            render_status(&page, actix_web::http::StatusCode::CONFLICT)
        }
        Err(DirectoryError::Conflict(m)) => {
            let mut page = load(&state, &session, &key, &id).await?;
            page.notice = Some(capitalised(&m));
            render_status(&page, actix_web::http::StatusCode::CONFLICT)
        }
        Err(e) => Err(e.into()),
    }
}

/// A refusal's sentence as a notice on a page.
fn capitalised(m: &str) -> String {
    let mut chars = m.chars();
    chars.next().map(|c| c.to_uppercase().collect::<String>() + chars.as_str()).unwrap_or_default()
}

async fn change_status(
    state: &AppState,
    req: &HttpRequest,
    session: &ConsoleSession,
    key: &str,
    id: &ConnectionId,
    turn_on: bool,
) -> Result<HttpResponse, PageError> {
    let (k2, i2) = (key.to_owned(), id.clone());
    let outcome = session
        .call(state, req, move |dir, ctx| {
            Ok(if turn_on { dir.enable_connection(ctx, &k2, &i2) } else { dir.disable_connection(ctx, &k2, &i2) })
        })
        .await?;
    match outcome {
        Ok(c) => {
            let provider = c.provider.label();
            session
                .flash(
                    state,
                    if turn_on {
                        format!("The {provider} connection is enabled: people of this enterprise sign in through it.")
                    } else {
                        format!("The {provider} connection is disabled: nobody signs in through it until it is enabled again.")
                    },
                )
                .await?;
            Ok(see_other(&format!("/console/e/{key}/connections/{id}#step-4")))
        }
        Err(DirectoryError::Conflict(m)) => {
            let mut page = load(state, session, key, id).await?;
            page.notice = Some(m);
            render_status(&page, actix_web::http::StatusCode::CONFLICT)
        }
        Err(e) => Err(e.into()),
    }
}

#[post("/console/e/{key}/connections/{id}/enable")]
async fn enable(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: ConsoleSession,
    path: web::Path<(String, ConnectionId)>,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    session.check_csrf(&state, &form.csrf_token)?;
    let (key, id) = path.into_inner();
    change_status(&state, &req, &session, &key, &id, true).await
}

#[post("/console/e/{key}/connections/{id}/disable")]
async fn disable(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: ConsoleSession,
    path: web::Path<(String, ConnectionId)>,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    session.check_csrf(&state, &form.csrf_token)?;
    let (key, id) = path.into_inner();
    change_status(&state, &req, &session, &key, &id, false).await
}

#[post("/console/e/{key}/connections/{id}/delete")]
async fn delete(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: ConsoleSession,
    path: web::Path<(String, ConnectionId)>,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    session.check_csrf(&state, &form.csrf_token)?;
    let (key, id) = path.into_inner();
    let k2 = key.clone();
    session.call(&state, &req, move |dir, ctx| dir.delete_connection(ctx, &k2, &id)).await?;
    session.flash(&state, "The connection was deleted.").await?;
    Ok(see_other(&format!("/console/e/{key}/sso")))
}

#[post("/console/e/{key}/connections/{id}/refresh")]
async fn refresh(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: ConsoleSession,
    path: web::Path<(String, ConnectionId)>,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    session.check_csrf(&state, &form.csrf_token)?;
    let (key, id) = path.into_inner();
    let (k2, i2) = (key.clone(), id.clone());
    let current = session.read(&state, move |dir, ctx| dir.get_connection(ctx, &k2, &i2)).await?;
    let Some(input) = current.saml.as_ref().and_then(refresh_input) else {
        return Err(PageError::BadRequest("This connection was not set up from a metadata URL.".into()));
    };
    match resolve_saml(&state, input, current.saml.as_ref()).await {
        Ok(saml) => {
            let (k2, i2) = (key.clone(), id.clone());
            session
                .call(&state, &req, move |dir, ctx| {
                    dir.update_connection(ctx, &k2, &i2, ConnectionChanges { saml: Some(saml), ..Default::default() })
                })
                .await?;
            Ok(see_other(&format!("/console/e/{key}/connections/{id}#step-2")))
        }
        Err(DirectoryError::Validation(errors)) => {
            let mut page = load(&state, &session, &key, &id).await?;
            page.idp_errors = errors;
            render_status(&page, actix_web::http::StatusCode::BAD_REQUEST)
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(Template)]
#[template(path = "connection_oidc.html")]
struct OidcPage {
    chrome: Chrome,
    key: String,
    enterprise_name: String,
    id: String,
    provider: &'static str,
    provider_key: &'static str,
    status: &'static str,
    redirect_uri: String,
    configured: bool,
    issuer: String,
    okta_domain: String,
    tenant_id: String,
    client_id: String,
    scopes: String,
    errors: FieldErrors,
    mapping: Mapping,
    last_test: Option<(bool, String, String)>,
    notice: Option<String>,
}

async fn oidc_page(
    state: &AppState,
    session: &ConsoleSession,
    key: &str,
    id: &ConnectionId,
    errors: FieldErrors,
    notice: Option<String>,
) -> Result<OidcPage, PageError> {
    let (enterprise, c, tests) = fetch(state, session, key, id).await?;
    Ok(oidc_page_for(state, session, enterprise.name, c, tests, errors, notice))
}

fn oidc_page_for(
    state: &AppState,
    session: &ConsoleSession,
    enterprise_name: String,
    c: Connection,
    tests: Vec<directory::connection::TestResult>,
    errors: FieldErrors,
    notice: Option<String>,
) -> OidcPage {
    let o = c.oidc.clone().unwrap_or_default();
    OidcPage {
        chrome: Chrome::signed_in(session, "enterprise"),
        key: c.enterprise_key.to_string(),
        enterprise_name,
        redirect_uri: redirect_uri(&state.settings, &c.id),
        id: c.id.to_string(),
        provider: c.provider.label(),
        provider_key: c.provider.as_str(),
        status: c.status.as_str(),
        configured: !o.is_blank(),
        issuer: o.issuer.clone(),
        okta_domain: o.okta_domain.clone().unwrap_or_default(),
        tenant_id: o.tenant_id.clone().unwrap_or_default(),
        client_id: o.client_id.clone(),
        scopes: if o.scopes.is_empty() { "openid email profile".into() } else { o.scopes.join(" ") },
        errors,
        mapping: c.mapping.clone(),
        last_test: last_test(tests),
        notice,
    }
}

#[post("/console/e/{key}/sso/oidc")]
async fn create_oidc(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: ConsoleSession,
    path: web::Path<String>,
    form: web::Form<CreateForm>,
) -> Result<HttpResponse, PageError> {
    session.check_csrf(&state, &form.csrf_token)?;
    let key = path.into_inner();
    let provider = match Provider::parse(&form.provider) {
        Some(p @ (Provider::Okta | Provider::Entra | Provider::Google | Provider::Custom)) => p,
        _ => return Err(PageError::BadRequest("Choose Okta, Microsoft Entra ID, Google or another provider.".into())),
    };
    let k2 = key.clone();
    let c = session
        .call(&state, &req, move |dir, ctx| {
            dir.create_connection(
                ctx,
                &k2,
                NewConnection {
                    protocol: Protocol::Oidc,
                    provider,
                    saml: None,
                    oidc: Some(directory::connection::OidcSettings::default()),
                    mapping: None,
                },
            )
        })
        .await?;
    Ok(see_other(&format!("/console/e/{key}/connections/{}", c.id)))
}

#[derive(Debug, Deserialize)]
struct OidcForm {
    csrf_token: String,
    #[serde(default)]
    issuer: String,
    #[serde(default)]
    okta_domain: String,
    #[serde(default)]
    tenant_id: String,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    client_secret: String,
    #[serde(default)]
    scopes: String,
}

#[post("/console/e/{key}/connections/{id}/oidc")]
async fn save_oidc(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: ConsoleSession,
    path: web::Path<(String, ConnectionId)>,
    form: web::Form<OidcForm>,
) -> Result<HttpResponse, PageError> {
    session.check_csrf(&state, &form.csrf_token)?;
    let (key, id) = path.into_inner();
    let form = form.into_inner();
    let (k2, i2) = (key.clone(), id.clone());
    let current = session.read(&state, move |dir, ctx| dir.get_connection(ctx, &k2, &i2)).await?;
    let opt = |v: &str| Some(v.trim().to_owned()).filter(|v| !v.is_empty());
    let input = OidcInput {
        issuer: opt(&form.issuer),
        okta_domain: opt(&form.okta_domain),
        tenant_id: opt(&form.tenant_id),
        client_id: opt(&form.client_id),
        client_secret: opt(&form.client_secret),
        scopes: opt(&form.scopes).map(|s| s.split_whitespace().map(str::to_owned).collect()),
    };
    let existing = current.oidc.as_ref().filter(|o| !o.is_blank());
    match resolve_oidc(&state, current.provider, input, existing).await {
        Ok(oidc) => {
            let (k2, i2) = (key.clone(), id.clone());
            session
                .call(&state, &req, move |dir, ctx| {
                    dir.update_connection(ctx, &k2, &i2, ConnectionChanges { oidc: Some(oidc), ..Default::default() })
                })
                .await?;
            Ok(see_other(&format!("/console/e/{key}/connections/{id}#step-3")))
        }
        Err(DirectoryError::Validation(errors) | DirectoryError::Unprocessable(errors)) => {
            let mut page = oidc_page(&state, &session, &key, &id, errors, None).await?;
            page.issuer = form.issuer;
            page.okta_domain = form.okta_domain;
            page.tenant_id = form.tenant_id;
            page.client_id = form.client_id;
            page.scopes = form.scopes;
            render_status(&page, actix_web::http::StatusCode::BAD_REQUEST)
        }
        Err(other) => Err(other.into()),
    }
}
