//! `/api/v1/enterprises/{key}/scim-tokens`: the tokens an enterprise's IdP uses to push users
//! and groups over SCIM. A token is shown once, at creation; lists show prefixes only.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use directory::scim_token::ScimTokenInfo;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{resource, utc};
use crate::auth::ApiCaller;
use crate::error::{ApiError, Problem, blocking};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/enterprises/{key}/scim-tokens", "GET, POST")
            .route(web::post().to(create))
            .route(web::get().to(list)),
    )
    .service(resource("/enterprises/{key}/scim-tokens/{id}", "DELETE").route(web::delete().to(revoke)));
}

/// The body is optional: `POST` with none creates a token without a description.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateScimToken {
    /// What the token is for, shown in the list (for instance the IdP's name).
    #[schema(example = "Okta")]
    pub description: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ScimTokenView {
    pub id: String,
    /// The token's first characters after `pscim_`, to tell tokens apart.
    pub prefix: String,
    pub description: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<ScimTokenInfo> for ScimTokenView {
    fn from(t: ScimTokenInfo) -> Self {
        ScimTokenView {
            id: t.id,
            prefix: t.prefix,
            description: t.description,
            created_by: t.created_by,
            created_at: utc(t.created_at),
            last_used_at: t.last_used_at.map(utc),
        }
    }
}

/// A token just created, with its secret: the only time Portico shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedScimTokenView {
    #[serde(flatten)]
    pub info: ScimTokenView,
    /// The token to give the IdP. Shown only now; Portico keeps a hash.
    pub token: String,
}

#[utoipa::path(
    post, path = "/api/v1/enterprises/{key}/scim-tokens", tag = "scim-tokens", request_body(content = Option<CreateScimToken>),
    params(("key" = String, Path, description = "Enterprise key")),
    responses(
        (status = 201, description = "Created; `token` is shown only in this answer", body = CreatedScimTokenView),
        (status = 400, description = "Invalid input", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such enterprise", body = Problem, content_type = "application/problem+json"),
    ),
    security(("admin_api_key" = []))
)]
pub async fn create(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let key = path.into_inner();
    if body.len() > super::MAX_JSON_BYTES {
        return Err(ApiError::PayloadTooLarge(format!("the body is larger than {} bytes", super::MAX_JSON_BYTES)));
    }
    let input: CreateScimToken = if body.iter().all(u8::is_ascii_whitespace) {
        CreateScimToken::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {e}")))?
    };
    let dir = state.directory.clone();
    let created = blocking::<_, ApiError>(move || {
        dir.create_scim_token(&caller.ctx(), &key, input.description.as_deref().unwrap_or_default())
    })
    .await?;
    Ok(HttpResponse::Created()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(CreatedScimTokenView { info: created.info.into(), token: created.token }))
}

#[utoipa::path(
    get, path = "/api/v1/enterprises/{key}/scim-tokens", tag = "scim-tokens",
    params(("key" = String, Path, description = "Enterprise key")),
    responses(
        (status = 200, description = "Valid tokens, newest first, without their secrets", body = [ScimTokenView]),
        (status = 404, description = "No such enterprise", body = Problem, content_type = "application/problem+json"),
    ),
    security(("admin_api_key" = []))
)]
pub async fn list(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let key = path.into_inner();
    let dir = state.directory.clone();
    let tokens = blocking::<_, ApiError>(move || dir.list_scim_tokens(&caller.ctx(), &key)).await?;
    Ok(HttpResponse::Ok().json(tokens.into_iter().map(ScimTokenView::from).collect::<Vec<_>>()))
}

#[utoipa::path(
    delete, path = "/api/v1/enterprises/{key}/scim-tokens/{id}", tag = "scim-tokens",
    params(("key" = String, Path, description = "Enterprise key"), ("id" = String, Path, description = "Token id")),
    responses(
        (status = 204, description = "Revoked: the IdP using it is refused from its next request"),
        (status = 404, description = "No such token", body = Problem, content_type = "application/problem+json"),
    ),
    security(("admin_api_key" = []))
)]
pub async fn revoke(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (key, id) = path.into_inner();
    let dir = state.directory.clone();
    blocking::<_, ApiError>(move || dir.revoke_scim_token(&caller.ctx(), &key, &id)).await?;
    Ok(HttpResponse::NoContent().finish())
}
