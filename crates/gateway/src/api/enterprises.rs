//! `/api/v1/enterprises`: the tenants (operators create and delete them; enterprise keys see
//! their own).

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use directory::PageRequest;
use directory::enterprise::{Enterprise, EnterpriseChanges, NewEnterprise, ProvisioningMode};
use directory::user::NewUser;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{PageQuery, resource, utc};
use crate::auth::ApiCaller;
use crate::error::{ApiError, Problem, blocking};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/enterprises", "GET, POST").route(web::post().to(create)).route(web::get().to(list)))
        .service(
            resource("/enterprises/{key}", "GET, PATCH, DELETE")
                .route(web::get().to(get_one))
                .route(web::patch().to(update))
                .route(web::delete().to(remove)),
        )
        .service(resource("/enterprises/{key}/admins", "POST").route(web::post().to(appoint_admin)));
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Jit,
    Scim,
}

impl From<Mode> for ProvisioningMode {
    fn from(m: Mode) -> Self {
        match m {
            Mode::Jit => ProvisioningMode::Jit,
            Mode::Scim => ProvisioningMode::Scim,
        }
    }
}

impl From<ProvisioningMode> for Mode {
    fn from(m: ProvisioningMode) -> Self {
        match m {
            ProvisioningMode::Jit => Mode::Jit,
            ProvisioningMode::Scim => Mode::Scim,
        }
    }
}

/// A new enterprise.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEnterprise {
    /// URL slug, unique: lower-case letters, digits and hyphens, 2 to 63 characters.
    #[schema(example = "acme")]
    pub key: String,
    #[schema(example = "Acme Corporation")]
    pub name: String,
    /// `jit` (default) or `scim`.
    pub provisioning_mode: Option<Mode>,
}

/// Changes to an enterprise; absent fields stay. The key cannot change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateEnterprise {
    pub name: Option<String>,
    /// `scim` needs an enabled, tested SSO connection (409 otherwise) unless `force` is true.
    pub provisioning_mode: Option<Mode>,
    /// Switch to SCIM mode without a working SSO connection (audited as forced).
    #[serde(default)]
    pub force: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EnterpriseView {
    pub id: String,
    pub key: String,
    pub name: String,
    pub provisioning_mode: Mode,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Enterprise> for EnterpriseView {
    fn from(e: Enterprise) -> Self {
        EnterpriseView {
            id: e.id.to_string(),
            key: e.key.to_string(),
            name: e.name,
            provisioning_mode: e.provisioning_mode.into(),
            created_at: utc(e.created_at),
            updated_at: utc(e.updated_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EnterprisePage {
    pub items: Vec<EnterpriseView>,
    /// Pass as `after` to read the next page; absent on the last page.
    pub next: Option<String>,
}

/// A person to appoint as admin: found by login, or created as a local user.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppointAdmin {
    pub login: String,
    pub email: Option<String>,
    pub name: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Appointed {
    pub login: String,
    /// A one-time link where the admin chooses a password; present when they have none yet.
    pub setup_url: Option<String>,
}

#[utoipa::path(
    post, path = "/api/v1/enterprises", tag = "enterprises", request_body = CreateEnterprise,
    responses(
        (status = 201, description = "Created", body = EnterpriseView),
        (status = 400, description = "Invalid input", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an operator", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Key taken", body = Problem, content_type = "application/problem+json"),
    ),
    security(("admin_api_key" = []))
)]
async fn create(
    state: web::Data<AppState>,
    caller: ApiCaller,
    body: web::Json<CreateEnterprise>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let dir = state.directory.clone();
    let created = blocking::<_, ApiError>(move || {
        dir.create_enterprise(
            &caller.ctx(),
            NewEnterprise { key: body.key, name: body.name, provisioning_mode: body.provisioning_mode.map(Into::into) },
        )
    })
    .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/enterprises/{}", created.key)))
        .json(EnterpriseView::from(created)))
}

#[utoipa::path(
    get, path = "/api/v1/enterprises", tag = "enterprises", params(PageQuery),
    responses((status = 200, description = "Enterprises the key may see, by key", body = EnterprisePage)),
    security(("admin_api_key" = []))
)]
async fn list(
    state: web::Data<AppState>,
    caller: ApiCaller,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page: PageRequest = query.into_inner().into();
    let dir = state.directory.clone();
    let result = blocking::<_, ApiError>(move || dir.list_enterprises(&caller.ctx(), &page)).await?;
    Ok(HttpResponse::Ok()
        .json(EnterprisePage { items: result.items.into_iter().map(Into::into).collect(), next: result.next }))
}

#[utoipa::path(
    get, path = "/api/v1/enterprises/{key}", tag = "enterprises",
    params(("key" = String, Path, description = "Enterprise key")),
    responses(
        (status = 200, description = "The enterprise", body = EnterpriseView),
        (status = 404, description = "No such enterprise, or not visible to this key", body = Problem, content_type = "application/problem+json"),
    ),
    security(("admin_api_key" = []))
)]
async fn get_one(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let key = path.into_inner();
    let dir = state.directory.clone();
    let e = blocking::<_, ApiError>(move || dir.get_enterprise(&caller.ctx(), &key)).await?;
    Ok(HttpResponse::Ok().json(EnterpriseView::from(e)))
}

#[utoipa::path(
    patch, path = "/api/v1/enterprises/{key}", tag = "enterprises", request_body = UpdateEnterprise,
    params(("key" = String, Path, description = "Enterprise key")),
    responses(
        (status = 200, description = "Updated", body = EnterpriseView),
        (status = 400, description = "Invalid input", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such enterprise", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "SCIM mode without an enabled, tested SSO connection (send `force: true` to switch anyway)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("admin_api_key" = []))
)]
async fn update(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<String>,
    body: web::Json<UpdateEnterprise>,
) -> Result<HttpResponse, ApiError> {
    let key = path.into_inner();
    let body = body.into_inner();
    let dir = state.directory.clone();
    let e = blocking::<_, ApiError>(move || {
        dir.update_enterprise(
            &caller.ctx(),
            &key,
            EnterpriseChanges {
                name: body.name,
                provisioning_mode: body.provisioning_mode.map(Into::into),
                force: body.force,
            },
        )
    })
    .await?;
    Ok(HttpResponse::Ok().json(EnterpriseView::from(e)))
}

#[utoipa::path(
    delete, path = "/api/v1/enterprises/{key}", tag = "enterprises",
    params(("key" = String, Path, description = "Enterprise key")),
    responses(
        (status = 204, description = "Deleted with everything in it"),
        (status = 403, description = "Not an operator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such enterprise", body = Problem, content_type = "application/problem+json"),
    ),
    security(("admin_api_key" = []))
)]
async fn remove(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let key = path.into_inner();
    let dir = state.directory.clone();
    blocking::<_, ApiError>(move || dir.delete_enterprise(&caller.ctx(), &key)).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(
    post, path = "/api/v1/enterprises/{key}/admins", tag = "enterprises", request_body = AppointAdmin,
    params(("key" = String, Path, description = "Enterprise key")),
    responses(
        (status = 201, description = "Appointed", body = Appointed),
        (status = 400, description = "Invalid input", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such enterprise", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already an admin", body = Problem, content_type = "application/problem+json"),
    ),
    security(("admin_api_key" = []))
)]
async fn appoint_admin(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<String>,
    body: web::Json<AppointAdmin>,
) -> Result<HttpResponse, ApiError> {
    let key = path.into_inner();
    let body = body.into_inner();
    let dir = state.directory.clone();
    let a = blocking::<_, ApiError>(move || {
        dir.appoint_enterprise_admin(
            &caller.ctx(),
            &key,
            NewUser { login: body.login, email: body.email, name: body.name },
        )
    })
    .await?;
    Ok(HttpResponse::Created().json(Appointed {
        login: a.user.login,
        setup_url: a.setup_token.map(|t| state.settings.url(&format!("/setup/{t}"))),
    }))
}
