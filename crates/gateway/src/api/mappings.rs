//! IdP groups and their mappings onto organizations:
//! `GET /api/v1/enterprises/{key}/idp-groups` lists the groups the IdP pushed with the
//! organizations they feed; `GET`/`PUT .../organizations/{org_key}/group-mappings` read and set
//! which IdP groups feed one organization (at once, or as a job when the change is larger than
//! one chunk).

use actix_web::{HttpResponse, web};
use directory::PageRequest;
use directory::mapping::{MappedIdpGroup, MappingApplied, MappingOutcome};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::resource;
use crate::auth::ApiCaller;
use crate::error::{ApiError, Problem, blocking};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/enterprises/{key}/idp-groups", "GET").route(web::get().to(list)))
        .service(
            resource("/enterprises/{key}/organizations/{org_key}/group-mappings", "GET, PUT")
                .route(web::get().to(get_mappings))
                .route(web::put().to(put_mappings)),
        )
        .service(resource("/enterprises/{key}/group-mappings/map-all", "POST").route(web::post().to(map_all)))
        .service(resource("/jobs/{id}", "GET").route(web::get().to(get_job)));
}

/// A job queued to run in the background.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobQueued {
    pub job: String,
}

/// A background job's progress.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobView {
    pub id: String,
    pub kind: String,
    /// `queued`, `running`, `done` or `failed`.
    pub state: String,
    pub done: i64,
    pub total: i64,
    pub error: Option<String>,
    pub created_by: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    /// The Portico instance that runs it, or ran it last (host and process).
    pub instance: Option<String>,
}

#[utoipa::path(
    post, path = "/api/v1/enterprises/{key}/group-mappings/map-all", tag = "group-mappings",
    params(("key" = String, Path, description = "Enterprise key")),
    responses(
        (status = 202, description = "Every IdP group will feed every organization; follow the job", body = JobQueued),
        (status = 404, description = "No such enterprise", body = Problem, content_type = "application/problem+json"),
    ),
    security(("admin_api_key" = []))
)]
async fn map_all(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let key = path.into_inner();
    let dir = state.directory.clone();
    let job = blocking::<_, ApiError>(move || dir.start_map_all(&caller.ctx(), &key)).await?;
    state.jobs.wake();
    Ok(job_accepted(job))
}

/// 202 with the job to follow, at the address of its progress.
fn job_accepted(job: directory::job::Job) -> HttpResponse {
    HttpResponse::Accepted()
        .insert_header((actix_web::http::header::LOCATION, format!("/api/v1/jobs/{}", job.id)))
        .json(JobQueued { job: job.id.to_string() })
}

#[utoipa::path(
    get, path = "/api/v1/jobs/{id}", tag = "group-mappings",
    params(("id" = String, Path, description = "Job id")),
    responses(
        (status = 200, description = "The job's state and progress", body = JobView),
        (status = 404, description = "No such job", body = Problem, content_type = "application/problem+json"),
    ),
    security(("admin_api_key" = []))
)]
async fn get_job(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<directory::ids::JobId>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let dir = state.directory.clone();
    let job = blocking::<_, ApiError>(move || dir.get_job(&caller.ctx(), &id)).await?;
    Ok(HttpResponse::Ok().json(JobView {
        id: job.id.to_string(),
        kind: job.kind,
        state: job.state.to_string(),
        done: job.done,
        total: job.total,
        error: job.error,
        created_by: job.created_by,
        created_at: super::utc(job.created_at),
        updated_at: super::utc(job.updated_at),
        instance: job.claimed_by,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct IdpGroupQuery {
    /// Keeps the groups whose name contains this text (without regard to case).
    pub filter: Option<String>,
    /// At most this many items (1 to 200, default 50).
    pub limit: Option<u32>,
    /// The `next` value of the previous page.
    pub after: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IdpGroupView {
    pub id: String,
    pub name: String,
    pub external_id: Option<String>,
    /// `scim` (pushed by the IdP) or `jit` (seen at sign-in).
    pub origin: String,
    pub members: i64,
    /// Keys of the organizations this group feeds.
    pub organizations: Vec<String>,
}

impl From<MappedIdpGroup> for IdpGroupView {
    fn from(g: MappedIdpGroup) -> Self {
        IdpGroupView {
            id: g.id,
            name: g.display_name,
            external_id: g.external_id,
            origin: g.origin.to_string(),
            members: g.members,
            organizations: g.organizations,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IdpGroupPage {
    pub items: Vec<IdpGroupView>,
    pub next: Option<String>,
}

#[utoipa::path(
    get, path = "/api/v1/enterprises/{key}/idp-groups", tag = "group-mappings",
    params(("key" = String, Path, description = "Enterprise key"), IdpGroupQuery),
    responses(
        (status = 200, description = "IdP groups by name, with the organizations they feed", body = IdpGroupPage),
        (status = 404, description = "No such enterprise", body = Problem, content_type = "application/problem+json"),
    ),
    security(("admin_api_key" = []))
)]
async fn list(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<String>,
    query: web::Query<IdpGroupQuery>,
) -> Result<HttpResponse, ApiError> {
    let key = path.into_inner();
    let q = query.into_inner();
    let page = PageRequest { limit: q.limit, after: q.after };
    let dir = state.directory.clone();
    let result =
        blocking::<_, ApiError>(move || dir.list_mapped_idp_groups(&caller.ctx(), &key, q.filter.as_deref(), &page))
            .await?;
    Ok(HttpResponse::Ok()
        .json(IdpGroupPage { items: result.items.into_iter().map(Into::into).collect(), next: result.next }))
}

/// The IdP groups that feed an organization.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupMappings {
    /// IdP group ids.
    pub idp_groups: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MappingResult {
    /// Names of the IdP groups newly mapped.
    pub added: Vec<String>,
    /// Names of the IdP groups no longer mapped.
    pub removed: Vec<String>,
    /// IdP groups that could not be mapped, with the reason.
    pub skipped: Vec<SkippedMapping>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SkippedMapping {
    pub name: String,
    pub reason: String,
}

impl From<MappingOutcome> for MappingResult {
    fn from(o: MappingOutcome) -> Self {
        MappingResult {
            added: o.added,
            removed: o.removed,
            skipped: o.skipped.into_iter().map(|(name, reason)| SkippedMapping { name, reason }).collect(),
        }
    }
}

#[utoipa::path(
    get, path = "/api/v1/enterprises/{key}/organizations/{org_key}/group-mappings", tag = "group-mappings",
    params(("key" = String, Path, description = "Enterprise key"), ("org_key" = String, Path, description = "Organization key")),
    responses(
        (status = 200, description = "The IdP groups that feed the organization", body = GroupMappings),
        (status = 404, description = "No such enterprise or organization", body = Problem, content_type = "application/problem+json"),
    ),
    security(("admin_api_key" = []))
)]
async fn get_mappings(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (key, org_key) = path.into_inner();
    let dir = state.directory.clone();
    let ids = blocking::<_, ApiError>(move || dir.group_mappings_of(&caller.ctx(), &key, &org_key)).await?;
    Ok(HttpResponse::Ok().json(GroupMappings { idp_groups: ids }))
}

#[utoipa::path(
    put, path = "/api/v1/enterprises/{key}/organizations/{org_key}/group-mappings", tag = "group-mappings",
    request_body = GroupMappings,
    params(("key" = String, Path, description = "Enterprise key"), ("org_key" = String, Path, description = "Organization key")),
    responses(
        (status = 200, description = "Applied at once", body = MappingResult),
        (status = 202, description = "Larger than one chunk: applied by a background job; follow the job", body = JobQueued),
        (status = 400, description = "An unknown IdP group", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such enterprise or organization", body = Problem, content_type = "application/problem+json"),
    ),
    security(("admin_api_key" = []))
)]
async fn put_mappings(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<(String, String)>,
    body: web::Json<GroupMappings>,
) -> Result<HttpResponse, ApiError> {
    let (key, org_key) = path.into_inner();
    let ids = body.into_inner().idp_groups;
    let dir = state.directory.clone();
    let applied = blocking::<_, ApiError>(move || dir.set_group_mappings(&caller.ctx(), &key, &org_key, &ids)).await?;
    Ok(match applied {
        MappingApplied::Now(outcome) => HttpResponse::Ok().json(MappingResult::from(outcome)),
        MappingApplied::Queued(job) => {
            state.jobs.wake();
            job_accepted(job)
        }
    })
}
