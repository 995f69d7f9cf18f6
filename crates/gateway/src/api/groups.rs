//! `/api/v1/enterprises/{key}/organizations/{org_key}/groups`: an organization's groups.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use directory::PageRequest;
use directory::group::{NewGroup, OrgGroup};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{PageQuery, resource, utc};
use crate::auth::ApiCaller;
use crate::error::{ApiError, Problem, blocking};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/enterprises/{key}/organizations/{org_key}/groups", "GET, POST")
            .route(web::post().to(create))
            .route(web::get().to(list)),
    )
    .service(
        resource("/enterprises/{key}/organizations/{org_key}/groups/{name}/members", "GET")
            .route(web::get().to(members)),
    )
    .service(
        resource("/enterprises/{key}/organizations/{org_key}/groups/{name}/permissions", "GET, PUT")
            .route(web::get().to(get_permissions))
            .route(web::put().to(put_permissions)),
    );
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateGroup {
    /// Unique in the organization, case-sensitive (IdP group names are matched exactly).
    #[schema(example = "Developers")]
    pub name: String,
    pub description: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GroupView {
    pub id: String,
    pub name: String,
    pub description: String,
    /// True for the built-in `Members` group.
    pub builtin: bool,
    pub created_at: DateTime<Utc>,
}

impl From<OrgGroup> for GroupView {
    fn from(g: OrgGroup) -> Self {
        GroupView {
            id: g.id,
            name: g.name,
            description: g.description,
            builtin: g.builtin,
            created_at: utc(g.created_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GroupPage {
    pub items: Vec<GroupView>,
    pub next: Option<String>,
}

#[utoipa::path(
    post, path = "/api/v1/enterprises/{key}/organizations/{org_key}/groups", tag = "groups", request_body = CreateGroup,
    params(("key" = String, Path, description = "Enterprise key"), ("org_key" = String, Path, description = "Organization key")),
    responses(
        (status = 201, description = "Created", body = GroupView),
        (status = 400, description = "Invalid input", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organization", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Name taken in this organization", body = Problem, content_type = "application/problem+json"),
    ),
    security(("admin_api_key" = []))
)]
async fn create(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<(String, String)>,
    body: web::Json<CreateGroup>,
) -> Result<HttpResponse, ApiError> {
    let (key, org_key) = path.into_inner();
    let body = body.into_inner();
    let dir = state.directory.clone();
    let group = blocking::<_, ApiError>(move || {
        dir.create_group(&caller.ctx(), &key, &org_key, NewGroup { name: body.name, description: body.description })
    })
    .await?;
    Ok(HttpResponse::Created().json(GroupView::from(group)))
}

#[utoipa::path(
    get, path = "/api/v1/enterprises/{key}/organizations/{org_key}/groups", tag = "groups",
    params(("key" = String, Path, description = "Enterprise key"), ("org_key" = String, Path, description = "Organization key"), PageQuery),
    responses(
        (status = 200, description = "Groups, by name", body = GroupPage),
        (status = 404, description = "No such organization", body = Problem, content_type = "application/problem+json"),
    ),
    security(("admin_api_key" = []))
)]
async fn list(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<(String, String)>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let (key, org_key) = path.into_inner();
    let page: PageRequest = query.into_inner().into();
    let dir = state.directory.clone();
    let result = blocking::<_, ApiError>(move || dir.list_groups(&caller.ctx(), &key, &org_key, &page)).await?;
    Ok(HttpResponse::Ok()
        .json(GroupPage { items: result.items.into_iter().map(Into::into).collect(), next: result.next }))
}

/// A member of an org group.
#[derive(Debug, Serialize, ToSchema)]
pub struct GroupMemberView {
    pub user_id: String,
    pub login: String,
    pub name: String,
    pub email: Option<String>,
    /// `sso` (through a mapped IdP group, or by name at JIT sign-in) or `local` (added by an admin).
    pub source: String,
}

#[utoipa::path(
    get, path = "/api/v1/enterprises/{key}/organizations/{org_key}/groups/{name}/members", tag = "groups",
    params(
        ("key" = String, Path, description = "Enterprise key"),
        ("org_key" = String, Path, description = "Organization key"),
        ("name" = String, Path, description = "Group name"),
    ),
    responses(
        (status = 200, description = "Members by login, each with where the membership comes from", body = Vec<GroupMemberView>),
        (status = 404, description = "No such enterprise, organization or group", body = Problem, content_type = "application/problem+json"),
    ),
    security(("admin_api_key" = []))
)]
async fn members(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (key, org_key, name) = path.into_inner();
    let dir = state.directory.clone();
    let rows = blocking::<_, ApiError>(move || dir.list_group_members(&caller.ctx(), &key, &org_key, &name)).await?;
    Ok(HttpResponse::Ok().json(
        rows.into_iter()
            .map(|m| GroupMemberView {
                user_id: m.user_id,
                login: m.login,
                name: m.name,
                email: m.email,
                source: m.source.to_string(),
            })
            .collect::<Vec<_>>(),
    ))
}

/// An org group's permissions in its organization.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupPermissions {
    /// Any of `administer`, `create_projects`, `browse`.
    pub permissions: Vec<String>,
}

fn permission_names(perms: Vec<directory::permission::Permission>) -> GroupPermissions {
    GroupPermissions { permissions: perms.into_iter().map(|p| p.as_str().to_owned()).collect() }
}

#[utoipa::path(
    get, path = "/api/v1/enterprises/{key}/organizations/{org_key}/groups/{name}/permissions", tag = "groups",
    params(
        ("key" = String, Path, description = "Enterprise key"),
        ("org_key" = String, Path, description = "Organization key"),
        ("name" = String, Path, description = "Group name"),
    ),
    responses(
        (status = 200, description = "What the group's members may do in the organization", body = GroupPermissions),
        (status = 404, description = "No such enterprise, organization or group", body = Problem, content_type = "application/problem+json"),
    ),
    security(("admin_api_key" = []))
)]
async fn get_permissions(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (key, org_key, name) = path.into_inner();
    let dir = state.directory.clone();
    let perms = blocking::<_, ApiError>(move || dir.group_permissions(&caller.ctx(), &key, &org_key, &name)).await?;
    Ok(HttpResponse::Ok().json(permission_names(perms)))
}

#[utoipa::path(
    put, path = "/api/v1/enterprises/{key}/organizations/{org_key}/groups/{name}/permissions", tag = "groups",
    request_body = GroupPermissions,
    params(
        ("key" = String, Path, description = "Enterprise key"),
        ("org_key" = String, Path, description = "Organization key"),
        ("name" = String, Path, description = "Group name"),
    ),
    responses(
        (status = 200, description = "The group's permissions, as set", body = GroupPermissions),
        (status = 400, description = "An unknown permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such enterprise, organization or group", body = Problem, content_type = "application/problem+json"),
    ),
    security(("admin_api_key" = []))
)]
async fn put_permissions(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<(String, String, String)>,
    body: web::Json<GroupPermissions>,
) -> Result<HttpResponse, ApiError> {
    let (key, org_key, name) = path.into_inner();
    let wanted = body.into_inner().permissions;
    let dir = state.directory.clone();
    let perms =
        blocking::<_, ApiError>(move || dir.set_group_permissions(&caller.ctx(), &key, &org_key, &name, &wanted))
            .await?;
    Ok(HttpResponse::Ok().json(permission_names(perms)))
}
