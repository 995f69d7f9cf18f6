//! `GET /api/v1/events`: the event log, in cursor order. A reader keeps the `next_cursor` of each
//! answer and passes it back as `after`; no event ever appears behind a cursor already passed
//! (docs/events.md says why), so a reader that pages on from its last cursor sees every event
//! exactly once. Operators read every enterprise's events; an enterprise's admin key reads its
//! own.

use actix_web::{HttpResponse, web};
use directory::event::EventQuery;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::resource;
use crate::auth::ApiCaller;
use crate::error::{ApiError, Problem, blocking};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/events", "GET").route(web::get().to(list)));
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct EventsQuery {
    /// Events after this cursor (from the oldest kept when absent).
    pub after: Option<String>,
    /// At most this many (default 100, at most 1000).
    pub limit: Option<i64>,
    /// Comma-separated kinds and `family.*` patterns.
    pub types: Option<String>,
    /// One enterprise's events, by key.
    pub enterprise: Option<String>,
}

/// One event (docs/events.md describes each kind's `data`).
#[derive(Debug, Serialize, ToSchema)]
pub struct EventView {
    pub id: String,
    pub cursor: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// The version of this kind's `data` schema.
    pub version: i32,
    pub enterprise: Option<String>,
    pub occurred_at: String,
    pub operation_id: Option<String>,
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventPageView {
    pub data: Vec<EventView>,
    /// Pass back as `after`; the same cursor again when nothing newer was there.
    pub next_cursor: String,
}

#[utoipa::path(
    get, path = "/api/v1/events", tag = "events", params(EventsQuery),
    responses(
        (status = 200, description = "Events after the cursor, oldest first", body = EventPageView),
        (status = 400, description = "An unknown kind or cursor", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Neither an operator nor an enterprise's admin", body = Problem, content_type = "application/problem+json"),
    ),
    security(("admin_api_key" = []))
)]
pub async fn list(
    state: web::Data<AppState>,
    caller: ApiCaller,
    query: web::Query<EventsQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let query = EventQuery {
        after: q.after,
        limit: q.limit.unwrap_or(100),
        types: q
            .types
            .map(|t| t.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect())
            .unwrap_or_default(),
        enterprise: q.enterprise,
    };
    let dir = state.directory.clone();
    let page = blocking::<_, ApiError>(move || dir.events(&caller.ctx(), &query)).await?;
    Ok(HttpResponse::Ok().json(EventPageView {
        data: page
            .data
            .into_iter()
            .map(|e| EventView {
                id: e.id,
                cursor: e.cursor,
                kind: e.kind,
                version: e.version,
                enterprise: e.enterprise,
                occurred_at: e.occurred_at,
                operation_id: e.operation_id,
                data: e.data,
            })
            .collect(),
        next_cursor: page.next_cursor,
    }))
}
