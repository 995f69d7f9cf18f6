//! `/api/v1/enterprises/{key}/scim-requests`: the last requests the enterprise's IdP made to its
//! SCIM API, newest first, so an admin (or a script) can see why a push failed. Bodies are
//! redacted of secrets before they are stored.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use directory::provisioning::ScimRequest;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{resource, utc};
use crate::auth::ApiCaller;
use crate::error::{ApiError, Problem, blocking};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/enterprises/{key}/scim-requests", "GET").route(web::get().to(list)));
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct LogQuery {
    /// How many (1 to 500, default 100).
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ScimRequestView {
    pub at: DateTime<Utc>,
    pub method: String,
    /// Path and query as the IdP sent them.
    pub path: String,
    pub status: i32,
    pub duration_ms: f64,
    /// The SCIM error type of a refused request.
    pub scim_type: Option<String>,
    /// Why the request was refused.
    pub detail: Option<String>,
    pub user_agent: String,
    /// The prefix of the token it used.
    pub token_prefix: Option<String>,
    /// The body, redacted of secrets and cut to 4 KiB.
    pub request_body: Option<String>,
}

impl From<ScimRequest> for ScimRequestView {
    fn from(r: ScimRequest) -> Self {
        ScimRequestView {
            at: utc(r.at),
            method: r.method,
            path: r.path,
            status: r.status,
            duration_ms: r.duration_micros as f64 / 1000.0,
            scim_type: r.scim_type,
            detail: r.detail,
            user_agent: r.user_agent,
            token_prefix: r.token_prefix,
            request_body: r.request_body,
        }
    }
}

#[utoipa::path(
    get, path = "/api/v1/enterprises/{key}/scim-requests", tag = "scim-tokens",
    params(("key" = String, Path, description = "Enterprise key"), LogQuery),
    responses(
        (status = 200, description = "The newest SCIM requests first", body = Vec<ScimRequestView>),
        (status = 404, description = "No such enterprise", body = Problem, content_type = "application/problem+json"),
    ),
    security(("admin_api_key" = []))
)]
async fn list(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<String>,
    query: web::Query<LogQuery>,
) -> Result<HttpResponse, ApiError> {
    let key = path.into_inner();
    let limit = query.limit.unwrap_or(100);
    let dir = state.directory.clone();
    let pending = state.scim_log.clone();
    let rows = blocking::<_, ApiError>(move || {
        // What this instance has not written yet belongs in the answer too.
        pending.flush(&dir);
        dir.scim_request_log(&caller.ctx(), &key, limit)
    })
    .await?;
    Ok(HttpResponse::Ok().json(rows.into_iter().map(ScimRequestView::from).collect::<Vec<_>>()))
}
