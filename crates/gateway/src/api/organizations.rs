//! `/api/v1/enterprises/{key}/organizations`: the organizations of an enterprise.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use directory::PageRequest;
use directory::organization::{NewOrganization, Organization, OrganizationChanges};
use directory::user::NewUser;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::enterprises::{AppointAdmin, Appointed};
use super::{PageQuery, resource, utc};
use crate::auth::ApiCaller;
use crate::error::{ApiError, Problem, blocking};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/enterprises/{key}/organizations", "GET, POST")
            .route(web::post().to(create))
            .route(web::get().to(list)),
    )
    .service(
        resource("/enterprises/{key}/organizations/{org_key}", "GET, PATCH, DELETE")
            .route(web::get().to(get_one))
            .route(web::patch().to(update))
            .route(web::delete().to(remove)),
    )
    .service(resource("/enterprises/{key}/organizations/{org_key}/admins", "POST").route(web::post().to(appoint_admin)))
    .service(resource("/enterprises/{key}/organizations/{org_key}/members", "GET").route(web::get().to(members)));
}

/// One of an organization's groups that someone is in.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberGroup {
    pub group: String,
    /// `sso` (fed by the IdP) or `local` (added by an admin).
    pub source: String,
}

/// Someone in the organization: in at least one of its groups.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrganizationMemberView {
    pub user_id: String,
    pub login: String,
    pub name: String,
    pub email: Option<String>,
    pub active: bool,
    pub groups: Vec<MemberGroup>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrganizationMemberPage {
    pub items: Vec<OrganizationMemberView>,
    pub next: Option<String>,
}

#[utoipa::path(
    get, path = "/api/v1/enterprises/{key}/organizations/{org_key}/members", tag = "organizations",
    params(("key" = String, Path, description = "Enterprise key"), ("org_key" = String, Path, description = "Organization key"), PageQuery),
    responses(
        (status = 200, description = "Everyone in one of the organization's groups, by login, with those groups", body = OrganizationMemberPage),
        (status = 404, description = "No such organization", body = Problem, content_type = "application/problem+json"),
    ),
    security(("admin_api_key" = []))
)]
async fn members(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<(String, String)>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let (key, org_key) = path.into_inner();
    let page: PageRequest = query.into_inner().into();
    let dir = state.directory.clone();
    let result =
        blocking::<_, ApiError>(move || dir.list_organization_members(&caller.ctx(), &key, &org_key, &page)).await?;
    let items = result
        .items
        .into_iter()
        .map(|m| OrganizationMemberView {
            user_id: m.user_id,
            login: m.login,
            name: m.name,
            email: m.email,
            active: m.active,
            groups: m.groups.into_iter().map(|(group, source)| MemberGroup { group, source }).collect(),
        })
        .collect();
    Ok(HttpResponse::Ok().json(OrganizationMemberPage { items, next: result.next }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrganization {
    /// URL slug, unique in the enterprise.
    #[schema(example = "engineering")]
    pub key: String,
    #[schema(example = "Engineering")]
    pub name: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrganization {
    pub name: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrganizationView {
    pub id: String,
    pub key: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Organization> for OrganizationView {
    fn from(o: Organization) -> Self {
        OrganizationView {
            id: o.id.to_string(),
            key: o.key,
            name: o.name,
            created_at: utc(o.created_at),
            updated_at: utc(o.updated_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrganizationPage {
    pub items: Vec<OrganizationView>,
    pub next: Option<String>,
}

#[utoipa::path(
    post, path = "/api/v1/enterprises/{key}/organizations", tag = "organizations", request_body = CreateOrganization,
    params(("key" = String, Path, description = "Enterprise key")),
    responses(
        (status = 201, description = "Created, with its built-in Members group", body = OrganizationView),
        (status = 400, description = "Invalid input", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such enterprise", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Key taken in this enterprise", body = Problem, content_type = "application/problem+json"),
    ),
    security(("admin_api_key" = []))
)]
async fn create(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<String>,
    body: web::Json<CreateOrganization>,
) -> Result<HttpResponse, ApiError> {
    let key = path.into_inner();
    let body = body.into_inner();
    let dir = state.directory.clone();
    let org = blocking::<_, ApiError>(move || {
        dir.create_organization(&caller.ctx(), &key, NewOrganization { key: body.key, name: body.name })
    })
    .await?;
    Ok(HttpResponse::Created().json(OrganizationView::from(org)))
}

#[utoipa::path(
    get, path = "/api/v1/enterprises/{key}/organizations", tag = "organizations",
    params(("key" = String, Path, description = "Enterprise key"), PageQuery),
    responses(
        (status = 200, description = "Organizations, by key", body = OrganizationPage),
        (status = 404, description = "No such enterprise", body = Problem, content_type = "application/problem+json"),
    ),
    security(("admin_api_key" = []))
)]
async fn list(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<String>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let key = path.into_inner();
    let page: PageRequest = query.into_inner().into();
    let dir = state.directory.clone();
    let result = blocking::<_, ApiError>(move || dir.list_organizations(&caller.ctx(), &key, &page)).await?;
    Ok(HttpResponse::Ok()
        .json(OrganizationPage { items: result.items.into_iter().map(Into::into).collect(), next: result.next }))
}

#[utoipa::path(
    get, path = "/api/v1/enterprises/{key}/organizations/{org_key}", tag = "organizations",
    params(("key" = String, Path, description = "Enterprise key"), ("org_key" = String, Path, description = "Organization key")),
    responses(
        (status = 200, description = "The organization", body = OrganizationView),
        (status = 404, description = "No such organization", body = Problem, content_type = "application/problem+json"),
    ),
    security(("admin_api_key" = []))
)]
async fn get_one(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (key, org_key) = path.into_inner();
    let dir = state.directory.clone();
    let org = blocking::<_, ApiError>(move || dir.get_organization(&caller.ctx(), &key, &org_key)).await?;
    Ok(HttpResponse::Ok().json(OrganizationView::from(org)))
}

#[utoipa::path(
    patch, path = "/api/v1/enterprises/{key}/organizations/{org_key}", tag = "organizations", request_body = UpdateOrganization,
    params(("key" = String, Path, description = "Enterprise key"), ("org_key" = String, Path, description = "Organization key")),
    responses(
        (status = 200, description = "Updated", body = OrganizationView),
        (status = 400, description = "Invalid input", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organization", body = Problem, content_type = "application/problem+json"),
    ),
    security(("admin_api_key" = []))
)]
async fn update(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<(String, String)>,
    body: web::Json<UpdateOrganization>,
) -> Result<HttpResponse, ApiError> {
    let (key, org_key) = path.into_inner();
    let body = body.into_inner();
    let dir = state.directory.clone();
    let org = blocking::<_, ApiError>(move || {
        dir.update_organization(&caller.ctx(), &key, &org_key, OrganizationChanges { name: body.name })
    })
    .await?;
    Ok(HttpResponse::Ok().json(OrganizationView::from(org)))
}

#[utoipa::path(
    delete, path = "/api/v1/enterprises/{key}/organizations/{org_key}", tag = "organizations",
    params(("key" = String, Path, description = "Enterprise key"), ("org_key" = String, Path, description = "Organization key")),
    responses(
        (status = 204, description = "Deleted with its groups and memberships"),
        (status = 403, description = "Not an enterprise admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organization", body = Problem, content_type = "application/problem+json"),
    ),
    security(("admin_api_key" = []))
)]
async fn remove(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (key, org_key) = path.into_inner();
    let dir = state.directory.clone();
    blocking::<_, ApiError>(move || dir.delete_organization(&caller.ctx(), &key, &org_key)).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(
    post, path = "/api/v1/enterprises/{key}/organizations/{org_key}/admins", tag = "organizations", request_body = AppointAdmin,
    params(("key" = String, Path, description = "Enterprise key"), ("org_key" = String, Path, description = "Organization key")),
    responses(
        (status = 201, description = "Appointed", body = Appointed),
        (status = 400, description = "Invalid input", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organization", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already an admin here", body = Problem, content_type = "application/problem+json"),
    ),
    security(("admin_api_key" = []))
)]
async fn appoint_admin(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<(String, String)>,
    body: web::Json<AppointAdmin>,
) -> Result<HttpResponse, ApiError> {
    let (key, org_key) = path.into_inner();
    let body = body.into_inner();
    let dir = state.directory.clone();
    let a = blocking::<_, ApiError>(move || {
        dir.appoint_org_admin(
            &caller.ctx(),
            &key,
            &org_key,
            NewUser { login: body.login, email: body.email, name: body.name },
        )
    })
    .await?;
    Ok(HttpResponse::Created().json(Appointed {
        login: a.user.login,
        setup_url: a.setup_token.map(|t| state.settings.url(&format!("/setup/{t}"))),
    }))
}
