//! `/api/v1/enterprises/{key}/users`: the people of an enterprise and their org groups.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use directory::PageRequest;
use directory::user::{NewUser, User, UserChanges, UserWithGroups};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{PageQuery, resource, utc};
use crate::auth::ApiCaller;
use crate::error::{ApiError, Problem, blocking};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/enterprises/{key}/users", "GET, POST").route(web::get().to(list)).route(web::post().to(create)),
    )
    .service(
        resource("/enterprises/{key}/users/{login}", "GET, PATCH, DELETE")
            .route(web::get().to(get))
            .route(web::patch().to(update))
            .route(web::delete().to(delete)),
    )
    .service(resource("/enterprises/{key}/users/{login}/access", "GET").route(web::get().to(access)))
    .service(
        resource("/enterprises/{key}/users/{login}/idp-subject", "PUT, DELETE")
            .route(web::put().to(link))
            .route(web::delete().to(unlink)),
    );
}

/// The IdP identity to link a user to.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkIdpSubject {
    /// The user's identity at the IdP: the SAML NameID or the OpenID Connect `sub` (a test
    /// sign-in shows it).
    pub subject: String,
}

#[utoipa::path(
    put, path = "/api/v1/enterprises/{key}/users/{login}/idp-subject", tag = "users", request_body = LinkIdpSubject,
    params(("key" = String, Path, description = "Enterprise key"), ("login" = String, Path, description = "Login")),
    responses(
        (status = 200, description = "Linked: a sign-in asserting this subject is this user, whatever login it carries. A sign-in never links an account Portico did not get from the IdP (a local account, an appointed admin) by itself; this is how it is done.", body = UserView),
        (status = 400, description = "Invalid subject", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such enterprise or user", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Another user is linked to this subject", body = Problem, content_type = "application/problem+json"),
    ),
    security(("admin_api_key" = []))
)]
async fn link(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<(String, String)>,
    body: web::Json<LinkIdpSubject>,
) -> Result<HttpResponse, ApiError> {
    let (key, login) = path.into_inner();
    let subject = body.into_inner().subject;
    let dir = state.directory.clone();
    let user = blocking::<_, ApiError>(move || dir.link_idp_subject(&caller.ctx(), &key, &login, &subject)).await?;
    Ok(HttpResponse::Ok().json(UserView::new(user, Vec::new())))
}

#[utoipa::path(
    delete, path = "/api/v1/enterprises/{key}/users/{login}/idp-subject", tag = "users",
    params(("key" = String, Path, description = "Enterprise key"), ("login" = String, Path, description = "Login")),
    responses(
        (status = 200, description = "Unlinked: single sign-on no longer reaches the user until they are linked again", body = UserView),
        (status = 404, description = "No such enterprise or user", body = Problem, content_type = "application/problem+json"),
    ),
    security(("admin_api_key" = []))
)]
async fn unlink(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (key, login) = path.into_inner();
    let dir = state.directory.clone();
    let user = blocking::<_, ApiError>(move || dir.unlink_idp_subject(&caller.ctx(), &key, &login)).await?;
    Ok(HttpResponse::Ok().json(UserView::new(user, Vec::new())))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    /// Unique in the enterprise, compared without regard to case.
    pub login: String,
    pub email: Option<String>,
    pub name: Option<String>,
}

/// Changes to a user; absent fields stay as they are. Users provisioned over SCIM cannot be
/// changed here (409); in SCIM mode the others can only be deactivated or reactivated.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    pub name: Option<String>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "super::double_option")]
    pub email: Option<Option<String>>,
    /// `false` deactivates the user and ends their sessions at once.
    pub active: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserGroupView {
    pub organization: String,
    pub group: String,
    /// `sso` (from the IdP) or `local` (added by an admin).
    pub source: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: String,
    pub login: String,
    pub email: Option<String>,
    pub name: String,
    /// The IdP identity (SAML NameID, OpenID Connect `sub`) the user is linked to; `null` when
    /// single sign-on does not reach them (see `PUT …/idp-subject`).
    pub external_id: Option<String>,
    /// `local`, `jit` or `scim`.
    pub origin: String,
    pub active: bool,
    pub last_sign_in_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub groups: Vec<UserGroupView>,
}

impl UserView {
    fn new(u: User, groups: Vec<UserGroupView>) -> Self {
        UserView {
            id: u.id.to_string(),
            login: u.login,
            email: u.email,
            name: u.name,
            external_id: u.external_id,
            origin: u.origin.to_string(),
            active: u.active,
            last_sign_in_at: u.last_sign_in_at.map(utc),
            created_at: utc(u.created_at),
            groups,
        }
    }
}

impl From<UserWithGroups> for UserView {
    fn from(u: UserWithGroups) -> Self {
        let groups = u
            .groups
            .into_iter()
            .map(|g| UserGroupView { organization: g.organization, group: g.group, source: g.source.to_string() })
            .collect();
        UserView::new(u.user, groups)
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserPage {
    pub items: Vec<UserView>,
    pub next: Option<String>,
}

#[utoipa::path(
    get, path = "/api/v1/enterprises/{key}/users", tag = "users",
    params(("key" = String, Path, description = "Enterprise key"), PageQuery),
    responses(
        (status = 200, description = "Users by login, each with their org groups", body = UserPage),
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
    let result = blocking::<_, ApiError>(move || dir.list_users(&caller.ctx(), &key, &page)).await?;
    Ok(HttpResponse::Ok()
        .json(UserPage { items: result.items.into_iter().map(Into::into).collect(), next: result.next }))
}

#[utoipa::path(
    post, path = "/api/v1/enterprises/{key}/users", tag = "users", request_body = CreateUser,
    params(("key" = String, Path, description = "Enterprise key")),
    responses(
        (status = 201, description = "Created as a local user", body = UserView),
        (status = 400, description = "Invalid input", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such enterprise", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Login taken", body = Problem, content_type = "application/problem+json"),
    ),
    security(("admin_api_key" = []))
)]
async fn create(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<String>,
    body: web::Json<CreateUser>,
) -> Result<HttpResponse, ApiError> {
    let key = path.into_inner();
    let body = body.into_inner();
    let dir = state.directory.clone();
    let user = blocking::<_, ApiError>(move || {
        dir.create_local_user(&caller.ctx(), &key, NewUser { login: body.login, email: body.email, name: body.name })
    })
    .await?;
    Ok(HttpResponse::Created().json(UserView::new(user, Vec::new())))
}

#[utoipa::path(
    get, path = "/api/v1/enterprises/{key}/users/{login}", tag = "users",
    params(("key" = String, Path, description = "Enterprise key"), ("login" = String, Path, description = "Login")),
    responses(
        (status = 200, description = "The user", body = UserView),
        (status = 404, description = "No such enterprise or user", body = Problem, content_type = "application/problem+json"),
    ),
    security(("admin_api_key" = []))
)]
async fn get(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (key, login) = path.into_inner();
    let dir = state.directory.clone();
    let user = blocking::<_, ApiError>(move || dir.get_user(&caller.ctx(), &key, &login)).await?;
    Ok(HttpResponse::Ok().json(UserView::new(user, Vec::new())))
}

#[utoipa::path(
    patch, path = "/api/v1/enterprises/{key}/users/{login}", tag = "users", request_body = UpdateUser,
    params(("key" = String, Path, description = "Enterprise key"), ("login" = String, Path, description = "Login")),
    responses(
        (status = 200, description = "Changed", body = UserView),
        (status = 400, description = "Invalid input", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such enterprise or user", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The user belongs to the IdP (SCIM)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("admin_api_key" = []))
)]
async fn update(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<(String, String)>,
    body: web::Json<UpdateUser>,
) -> Result<HttpResponse, ApiError> {
    let (key, login) = path.into_inner();
    let body = body.into_inner();
    let dir = state.directory.clone();
    let changes = UserChanges { name: body.name, email: body.email, active: body.active };
    let user = blocking::<_, ApiError>(move || dir.update_user(&caller.ctx(), &key, &login, changes)).await?;
    Ok(HttpResponse::Ok().json(UserView::new(user, Vec::new())))
}

#[utoipa::path(
    delete, path = "/api/v1/enterprises/{key}/users/{login}", tag = "users",
    params(("key" = String, Path, description = "Enterprise key"), ("login" = String, Path, description = "Login")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such enterprise or user", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The user belongs to the IdP (SCIM), or the enterprise is in SCIM mode", body = Problem, content_type = "application/problem+json"),
    ),
    security(("admin_api_key" = []))
)]
async fn delete(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (key, login) = path.into_inner();
    let dir = state.directory.clone();
    blocking::<_, ApiError>(move || dir.delete_user(&caller.ctx(), &key, &login)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A user's access in one organization.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrganizationAccessView {
    pub key: String,
    pub name: String,
    pub groups: Vec<UserGroupView>,
    /// The union of the groups' permissions: `administer`, `create_projects`, `browse`.
    pub permissions: Vec<String>,
}

/// Everything the host product needs to authorize a user, in one answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserAccessView {
    pub login: String,
    pub active: bool,
    pub organizations: Vec<OrganizationAccessView>,
}

#[utoipa::path(
    get, path = "/api/v1/enterprises/{key}/users/{login}/access", tag = "users",
    params(("key" = String, Path, description = "Enterprise key"), ("login" = String, Path, description = "Login")),
    responses(
        (status = 200, description = "The user's organizations, org groups and effective permissions", body = UserAccessView),
        (status = 404, description = "No such enterprise or user", body = Problem, content_type = "application/problem+json"),
    ),
    security(("admin_api_key" = []))
)]
async fn access(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (key, login) = path.into_inner();
    let dir = state.directory.clone();
    let (user, orgs) = blocking::<_, ApiError>(move || {
        let ctx = caller.ctx();
        let user = dir.get_user(&ctx, &key, &login)?;
        // A deactivated user has no access, whatever their groups say.
        let orgs = if user.active { dir.user_access(&ctx, &key, &login)? } else { Vec::new() };
        Ok((user, orgs))
    })
    .await?;
    Ok(HttpResponse::Ok().json(UserAccessView {
        login: user.login,
        active: user.active,
        organizations: orgs
            .into_iter()
            .map(|o| OrganizationAccessView {
                groups: o
                    .groups
                    .into_iter()
                    .map(|g| UserGroupView {
                        organization: g.organization,
                        group: g.group,
                        source: g.source.to_string(),
                    })
                    .collect(),
                key: o.key,
                name: o.name,
                permissions: o.permissions.into_iter().map(|p| p.as_str().to_owned()).collect(),
            })
            .collect(),
    }))
}
