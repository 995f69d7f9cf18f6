//! `/api/v1/applications`: the host product's applications, which sign people in through
//! Portico as their OpenID Provider. Operators only. A confidential application's secret is in
//! the answer to its creation (and to a rotation) and nowhere else.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use directory::host_application::{EnterpriseScope, HostApplication, HostApplicationChanges, NewHostApplication};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{no_store, resource, utc};
use crate::auth::ApiCaller;
use crate::error::{ApiError, Problem, blocking};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/applications", "GET, POST").route(web::post().to(create)).route(web::get().to(list)))
        .service(
            resource("/applications/{client_id}", "GET, PATCH, DELETE")
                .route(web::get().to(get_one))
                .route(web::patch().to(update))
                .route(web::delete().to(remove)),
        )
        .service(resource("/applications/{client_id}/rotate-secret", "POST").route(web::post().to(rotate_secret)));
}

/// `"*"` (every enterprise) or a list of enterprise keys.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(untagged)]
pub enum Enterprises {
    /// `"*"`: every enterprise.
    All(String),
    /// These enterprises, by key.
    Only(Vec<String>),
}

impl Enterprises {
    fn scope(self) -> Result<EnterpriseScope, ApiError> {
        match self {
            Enterprises::All(s) if s == "*" => Ok(EnterpriseScope::All),
            Enterprises::All(s) => Err(ApiError::BadRequest(format!(
                "enterprises must be \"*\" or a list of enterprise keys, not \"{s}\""
            ))),
            Enterprises::Only(keys) => Ok(EnterpriseScope::Only(keys)),
        }
    }
}

impl From<EnterpriseScope> for Enterprises {
    fn from(s: EnterpriseScope) -> Self {
        match s {
            EnterpriseScope::All => Enterprises::All("*".into()),
            EnterpriseScope::Only(keys) => Enterprises::Only(keys),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApplication {
    #[schema(example = "Acme Cloud")]
    pub name: String,
    /// Where Portico may send the browser back with a code; compared exactly.
    #[schema(example = json!(["https://app.example/callback"]))]
    pub redirect_uris: Vec<String>,
    /// Where RP-initiated logout may return to.
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    pub backchannel_logout_uri: Option<String>,
    /// Where IdP-initiated sign-ins start the application's own sign-in (OpenID Connect
    /// third-party initiated login).
    pub initiate_login_uri: Option<String>,
    /// A public application (single-page or native) has no secret and must use PKCE.
    #[serde(default)]
    pub public: bool,
    /// Default `"*"`.
    pub enterprises: Option<Enterprises>,
    /// `RS256` (default) or `ES256`.
    pub id_token_signed_response_alg: Option<String>,
    pub access_token_ttl_secs: Option<i32>,
    pub id_token_ttl_secs: Option<i32>,
    pub refresh_token_ttl_secs: Option<i32>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateApplication {
    pub name: Option<String>,
    pub redirect_uris: Option<Vec<String>>,
    pub post_logout_redirect_uris: Option<Vec<String>>,
    /// `null` removes it.
    #[serde(default, deserialize_with = "super::double_option")]
    pub backchannel_logout_uri: Option<Option<String>>,
    /// `null` removes it.
    #[serde(default, deserialize_with = "super::double_option")]
    pub initiate_login_uri: Option<Option<String>>,
    pub enterprises: Option<Enterprises>,
    pub id_token_signed_response_alg: Option<String>,
    pub access_token_ttl_secs: Option<i32>,
    pub id_token_ttl_secs: Option<i32>,
    pub refresh_token_ttl_secs: Option<i32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApplicationView {
    pub client_id: String,
    pub name: String,
    pub public: bool,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub backchannel_logout_uri: Option<String>,
    pub initiate_login_uri: Option<String>,
    pub enterprises: Enterprises,
    pub id_token_signed_response_alg: String,
    /// `client_secret_basic` (or `client_secret_post`) for confidential applications, `none`
    /// for public ones.
    pub token_endpoint_auth_method: String,
    pub access_token_ttl_secs: i32,
    pub id_token_ttl_secs: i32,
    pub refresh_token_ttl_secs: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub secret_rotated_at: Option<DateTime<Utc>>,
}

impl From<HostApplication> for ApplicationView {
    fn from(a: HostApplication) -> Self {
        ApplicationView {
            token_endpoint_auth_method: if a.public { "none" } else { "client_secret_basic" }.into(),
            client_id: a.client_id,
            name: a.name,
            public: a.public,
            redirect_uris: a.redirect_uris,
            post_logout_redirect_uris: a.post_logout_redirect_uris,
            backchannel_logout_uri: a.backchannel_logout_uri,
            initiate_login_uri: a.initiate_login_uri,
            enterprises: a.enterprises.into(),
            id_token_signed_response_alg: a.id_token_alg.as_str().into(),
            access_token_ttl_secs: a.access_token_ttl_secs,
            id_token_ttl_secs: a.id_token_ttl_secs,
            refresh_token_ttl_secs: a.refresh_token_ttl_secs,
            created_at: utc(a.created_at),
            updated_at: utc(a.updated_at),
            secret_rotated_at: a.secret_rotated_at.map(utc),
        }
    }
}

/// An application just registered: its secret is shown only here.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApplicationView {
    #[serde(flatten)]
    pub application: ApplicationView,
    /// Absent for public applications.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

/// A new secret: the old one no longer works.
#[derive(Debug, Serialize, ToSchema)]
pub struct RotatedSecret {
    pub client_id: String,
    pub client_secret: String,
}

#[utoipa::path(
    post, path = "/api/v1/applications", tag = "applications", request_body = CreateApplication,
    responses(
        (status = 201, description = "Registered; `client_secret` is shown only in this answer", body = CreatedApplicationView),
        (status = 400, description = "Invalid input", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an operator key", body = Problem, content_type = "application/problem+json"),
    ),
    security(("admin_api_key" = []))
)]
pub async fn create(
    state: web::Data<AppState>,
    caller: ApiCaller,
    body: web::Json<CreateApplication>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let input = NewHostApplication {
        name: b.name,
        public: b.public,
        redirect_uris: b.redirect_uris,
        post_logout_redirect_uris: b.post_logout_redirect_uris,
        backchannel_logout_uri: b.backchannel_logout_uri,
        initiate_login_uri: b.initiate_login_uri,
        enterprises: b.enterprises.map(Enterprises::scope).transpose()?.unwrap_or(EnterpriseScope::All),
        id_token_alg: b.id_token_signed_response_alg,
        access_token_ttl_secs: b.access_token_ttl_secs,
        id_token_ttl_secs: b.id_token_ttl_secs,
        refresh_token_ttl_secs: b.refresh_token_ttl_secs,
    };
    let dir = state.directory.clone();
    let created = blocking::<_, ApiError>(move || dir.create_host_application(&caller.ctx(), input)).await?;
    let location = format!("/api/v1/applications/{}", created.application.client_id);
    Ok(no_store(HttpResponse::Created())
        .insert_header((actix_web::http::header::LOCATION, location))
        .json(CreatedApplicationView { application: created.application.into(), client_secret: created.client_secret }))
}

#[utoipa::path(
    get, path = "/api/v1/applications", tag = "applications",
    responses(
        (status = 200, description = "Every application, by name", body = [ApplicationView]),
        (status = 403, description = "Not an operator key", body = Problem, content_type = "application/problem+json"),
    ),
    security(("admin_api_key" = []))
)]
pub async fn list(state: web::Data<AppState>, caller: ApiCaller) -> Result<HttpResponse, ApiError> {
    let dir = state.directory.clone();
    let apps = blocking::<_, ApiError>(move || dir.list_host_applications(&caller.ctx())).await?;
    Ok(HttpResponse::Ok().json(apps.into_iter().map(ApplicationView::from).collect::<Vec<_>>()))
}

#[utoipa::path(
    get, path = "/api/v1/applications/{client_id}", tag = "applications",
    params(("client_id" = String, Path, description = "The application's client id")),
    responses(
        (status = 200, description = "The application", body = ApplicationView),
        (status = 404, description = "No such application", body = Problem, content_type = "application/problem+json"),
    ),
    security(("admin_api_key" = []))
)]
pub async fn get_one(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let dir = state.directory.clone();
    let app = blocking::<_, ApiError>(move || dir.get_host_application(&caller.ctx(), &id)).await?;
    Ok(HttpResponse::Ok().json(ApplicationView::from(app)))
}

#[utoipa::path(
    patch, path = "/api/v1/applications/{client_id}", tag = "applications", request_body = UpdateApplication,
    params(("client_id" = String, Path, description = "The application's client id")),
    responses(
        (status = 200, description = "Changed", body = ApplicationView),
        (status = 400, description = "Invalid input", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such application", body = Problem, content_type = "application/problem+json"),
    ),
    security(("admin_api_key" = []))
)]
pub async fn update(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<String>,
    body: web::Json<UpdateApplication>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let b = body.into_inner();
    let changes = HostApplicationChanges {
        name: b.name,
        redirect_uris: b.redirect_uris,
        post_logout_redirect_uris: b.post_logout_redirect_uris,
        backchannel_logout_uri: b.backchannel_logout_uri,
        initiate_login_uri: b.initiate_login_uri,
        enterprises: b.enterprises.map(Enterprises::scope).transpose()?,
        id_token_alg: b.id_token_signed_response_alg,
        access_token_ttl_secs: b.access_token_ttl_secs,
        id_token_ttl_secs: b.id_token_ttl_secs,
        refresh_token_ttl_secs: b.refresh_token_ttl_secs,
    };
    let dir = state.directory.clone();
    let app = blocking::<_, ApiError>(move || dir.update_host_application(&caller.ctx(), &id, changes)).await?;
    Ok(HttpResponse::Ok().json(ApplicationView::from(app)))
}

#[utoipa::path(
    delete, path = "/api/v1/applications/{client_id}", tag = "applications",
    params(("client_id" = String, Path, description = "The application's client id")),
    responses(
        (status = 204, description = "Removed, with every token it held"),
        (status = 404, description = "No such application", body = Problem, content_type = "application/problem+json"),
    ),
    security(("admin_api_key" = []))
)]
pub async fn remove(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let dir = state.directory.clone();
    blocking::<_, ApiError>(move || dir.delete_host_application(&caller.ctx(), &id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(
    post, path = "/api/v1/applications/{client_id}/rotate-secret", tag = "applications",
    params(("client_id" = String, Path, description = "The application's client id")),
    responses(
        (status = 200, description = "The new secret, shown only now; the old one stopped working", body = RotatedSecret),
        (status = 404, description = "No such application", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A public application has no secret", body = Problem, content_type = "application/problem+json"),
    ),
    security(("admin_api_key" = []))
)]
pub async fn rotate_secret(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let dir = state.directory.clone();
    let client_id = id.clone();
    let secret = blocking::<_, ApiError>(move || dir.rotate_host_application_secret(&caller.ctx(), &id)).await?;
    Ok(no_store(HttpResponse::Ok()).json(RotatedSecret { client_id, client_secret: secret }))
}
