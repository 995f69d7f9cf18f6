//! The provisioning assistant, in the Provisioning section of the "SSO & Provisioning" page: the
//! SCIM endpoint URL and the attribute that identifies users, tokens (generated and shown once,
//! listed by prefix, revoked), instructions per IdP, the switch between JIT and SCIM mode, and
//! the request log that says why a push failed.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use directory::enterprise::{EnterpriseChanges, ProvisioningMode};
use directory::scim_token::ScimTokenInfo;
use directory::{Ctx, Directory, PageRequest};
use serde::Deserialize;

use super::{Chrome, CsrfOnly, render, see_other};
use crate::auth::ConsoleSession;
use crate::error::PageError;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(create_token).service(revoke_token).service(switch_mode).service(requests).service(idp_groups);
}

/// A token as the Provisioning section lists it.
#[derive(Debug)]
pub struct TokenRow {
    pub id: String,
    pub prefix: String,
    pub description: String,
    pub created_by: String,
    pub created: String,
    pub last_used: String,
}

impl From<ScimTokenInfo> for TokenRow {
    fn from(t: ScimTokenInfo) -> Self {
        TokenRow {
            id: t.id,
            prefix: t.prefix,
            description: t.description,
            created_by: t.created_by,
            created: t.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            last_used: t
                .last_used_at
                .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                .unwrap_or_else(|| "never".into()),
        }
    }
}

/// What the Provisioning section shows.
#[derive(Debug)]
pub struct ProvisioningSection {
    pub scim_url: String,
    pub scim_mode: bool,
    pub tokens: Vec<TokenRow>,
}

/// The section's data for enterprise `key` (called by the SSO & Provisioning page).
pub fn section(
    state: &AppState,
    dir: &Directory,
    ctx: &Ctx<'_>,
    key: &str,
    mode: ProvisioningMode,
) -> directory::Result<ProvisioningSection> {
    Ok(ProvisioningSection {
        scim_url: scim_url(state, key),
        scim_mode: mode == ProvisioningMode::Scim,
        tokens: dir.list_scim_tokens(ctx, key)?.into_iter().map(TokenRow::from).collect(),
    })
}

/// The enterprise's SCIM base URL, as the IdP is given it.
pub fn scim_url(state: &AppState, key: &str) -> String {
    format!("{}/api/scim/v2/{key}", state.settings.public_url.as_str().trim_end_matches('/'))
}

#[derive(Debug, Deserialize)]
struct TokenForm {
    csrf_token: String,
    #[serde(default)]
    description: String,
}

#[derive(Template)]
#[template(path = "scim_token.html")]
struct TokenCreatedPage {
    chrome: Chrome,
    key: String,
    enterprise_name: String,
    scim_url: String,
    token: String,
    prefix: String,
}

#[post("/console/e/{key}/provisioning/tokens")]
async fn create_token(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: ConsoleSession,
    path: web::Path<String>,
    form: web::Form<TokenForm>,
) -> Result<HttpResponse, PageError> {
    session.check_csrf(&state, &form.csrf_token)?;
    let key = path.into_inner();
    let k2 = key.clone();
    let description = form.into_inner().description;
    let (enterprise, created) = session
        .call(&state, &req, move |dir, ctx| {
            let enterprise = dir.get_enterprise(ctx, &k2)?;
            let created = dir.create_scim_token(ctx, &k2, description.trim())?;
            Ok((enterprise, created))
        })
        .await?;
    render(&TokenCreatedPage {
        chrome: Chrome::signed_in(&session, "enterprise"),
        scim_url: scim_url(&state, &key),
        key,
        enterprise_name: enterprise.name,
        token: created.token,
        prefix: created.info.prefix,
    })
}

#[post("/console/e/{key}/provisioning/tokens/{id}/revoke")]
async fn revoke_token(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: ConsoleSession,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    session.check_csrf(&state, &form.csrf_token)?;
    let (key, id) = path.into_inner();
    let k2 = key.clone();
    session.call(&state, &req, move |dir, ctx| dir.revoke_scim_token(ctx, &k2, &id)).await?;
    session.flash(&state, "The SCIM token was revoked: the identity provider using it is refused from now on.").await?;
    Ok(see_other(&format!("/console/e/{key}/sso#provisioning")))
}

#[derive(Debug, Deserialize)]
struct ModeForm {
    csrf_token: String,
    mode: String,
}

#[post("/console/e/{key}/provisioning/mode")]
async fn switch_mode(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: ConsoleSession,
    path: web::Path<String>,
    form: web::Form<ModeForm>,
) -> Result<HttpResponse, PageError> {
    session.check_csrf(&state, &form.csrf_token)?;
    let key = path.into_inner();
    let mode = ProvisioningMode::parse(&form.mode)
        .ok_or_else(|| PageError::BadRequest("choose just-in-time (jit) or SCIM (scim) provisioning".into()))?;
    let k2 = key.clone();
    session
        .call(&state, &req, move |dir, ctx| {
            dir.update_enterprise(
                ctx,
                &k2,
                EnterpriseChanges { name: None, provisioning_mode: Some(mode), force: false },
            )
        })
        .await?;
    session
        .flash(
            &state,
            match mode {
                ProvisioningMode::Scim => "SCIM provisioning is on: the identity provider creates and updates people.",
                ProvisioningMode::Jit => "Just-in-time provisioning is on: people are created when they first sign in.",
            },
        )
        .await?;
    Ok(see_other(&format!("/console/e/{key}/sso#provisioning")))
}

struct RequestRow {
    at: String,
    method: String,
    path: String,
    status: i32,
    duration: String,
    problem: String,
    user_agent: String,
    body: String,
}

#[derive(Template)]
#[template(path = "scim_requests.html")]
struct RequestsPage {
    chrome: Chrome,
    key: String,
    enterprise_name: String,
    rows: Vec<RequestRow>,
}

#[get("/console/e/{key}/provisioning/requests")]
async fn requests(
    state: web::Data<AppState>,
    session: ConsoleSession,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let key = path.into_inner();
    let pending = state.scim_log.clone();
    let k2 = key.clone();
    let (enterprise, log) = session
        .read(&state, move |dir, ctx| {
            pending.flush(dir);
            Ok((dir.get_enterprise(ctx, &k2)?, dir.scim_request_log(ctx, &k2, 200)?))
        })
        .await?;
    render(&RequestsPage {
        chrome: Chrome::signed_in(&session, "enterprise"),
        key,
        enterprise_name: enterprise.name,
        rows: log
            .into_iter()
            .map(|r| RequestRow {
                at: r.at.format("%Y-%m-%d %H:%M:%S").to_string(),
                method: r.method,
                // Filters arrive percent-encoded; the admin reads them decoded.
                path: url::form_urlencoded::parse(r.path.as_bytes())
                    .map(|(k, v)| if v.is_empty() { k.into_owned() } else { format!("{k}={v}") })
                    .collect::<Vec<_>>()
                    .join("&"),
                status: r.status,
                duration: format!("{:.1} ms", r.duration_micros as f64 / 1000.0),
                problem: match (r.scim_type, r.detail) {
                    (Some(t), Some(d)) => format!("{t}: {d}"),
                    (None, Some(d)) => d,
                    _ => String::new(),
                },
                user_agent: r.user_agent,
                body: r.request_body.unwrap_or_default(),
            })
            .collect(),
    })
}

struct IdpGroupRow {
    name: String,
    origin: String,
    external_id: String,
    members: i64,
    organizations: usize,
}

#[derive(Template)]
#[template(path = "idp_groups.html")]
struct IdpGroupsPage {
    chrome: Chrome,
    key: String,
    enterprise_name: String,
    groups: Vec<IdpGroupRow>,
}

#[get("/console/e/{key}/idp-groups")]
async fn idp_groups(
    state: web::Data<AppState>,
    session: ConsoleSession,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let key = path.into_inner();
    let k2 = key.clone();
    let (enterprise, groups) = session
        .read(&state, move |dir, ctx| {
            Ok((
                dir.get_enterprise(ctx, &k2)?,
                dir.list_mapped_idp_groups(ctx, &k2, None, &PageRequest::first(200))?.items,
            ))
        })
        .await?;
    render(&IdpGroupsPage {
        chrome: Chrome::signed_in(&session, "enterprise"),
        key,
        enterprise_name: enterprise.name,
        groups: groups
            .into_iter()
            .map(|g| IdpGroupRow {
                name: g.display_name,
                origin: g.origin.to_string(),
                external_id: g.external_id.unwrap_or_default(),
                members: g.members,
                organizations: g.organizations.len(),
            })
            .collect(),
    })
}
