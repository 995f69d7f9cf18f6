//! `/api/v1/applications/{client_id}/webhooks`: where a host application receives events, signed
//! following the Standard Webhooks specification, and the log of what was delivered. Operators
//! only. An endpoint's signing secret is in the answer to its creation (and to a rotation) and
//! nowhere else.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use directory::webhook::{Attempt, Delivery, NewWebhook, WebhookChanges, WebhookEndpoint};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{no_store, resource, utc};
use crate::auth::ApiCaller;
use crate::deliveries::{SECRET_PURPOSE, new_secret};
use crate::error::{ApiError, Problem, blocking};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/applications/{client_id}/webhooks", "GET, POST")
            .route(web::post().to(create))
            .route(web::get().to(list)),
    )
    .service(
        resource("/applications/{client_id}/webhooks/{id}", "GET, PATCH, DELETE")
            .route(web::get().to(get_one))
            .route(web::patch().to(update))
            .route(web::delete().to(remove)),
    )
    .service(
        resource("/applications/{client_id}/webhooks/{id}/rotate-secret", "POST").route(web::post().to(rotate_secret)),
    )
    .service(resource("/applications/{client_id}/webhooks/{id}/deliveries", "GET").route(web::get().to(deliveries)))
    .service(
        resource("/applications/{client_id}/deliveries/{delivery_id}", "GET").route(web::get().to(delivery_attempts)),
    )
    .service(
        resource("/applications/{client_id}/deliveries/{delivery_id}/resend", "POST").route(web::post().to(resend)),
    )
    .service(resource("/applications/{client_id}/backchannel-logouts", "GET").route(web::get().to(logouts)));
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    /// HTTPS (plain HTTP to localhost only); Portico's outbound rules apply when it sends.
    #[schema(example = "https://app.example/portico/events")]
    pub url: String,
    /// Event kinds and `family.*` patterns (`*` for all).
    #[schema(example = json!(["user.*", "group.members_added"]))]
    pub events: Vec<String>,
    #[serde(default)]
    pub description: String,
    /// Default true.
    pub enabled: Option<bool>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhook {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub description: Option<String>,
    /// Enabling an endpoint Portico disabled starts it afresh: events written while it was off
    /// are not sent (read them from `GET /api/v1/events`).
    pub enabled: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookView {
    pub id: String,
    pub client_id: String,
    pub url: String,
    pub description: String,
    pub events: Vec<String>,
    pub enabled: bool,
    /// Why Portico disabled it (it failed for days), when it did.
    pub disabled_reason: Option<String>,
    /// Since when every delivery failed, when the last ones did.
    pub failing_since: Option<DateTime<Utc>>,
    /// Until when the previous secret still signs beside the new one.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<WebhookEndpoint> for WebhookView {
    fn from(e: WebhookEndpoint) -> Self {
        WebhookView {
            id: e.id,
            client_id: e.client_id,
            url: e.url,
            description: e.description,
            events: e.events,
            enabled: e.enabled,
            disabled_reason: e.disabled_reason,
            failing_since: e.failing_since.map(utc),
            previous_secret_expires_at: e.previous_secret_expires_at.map(utc),
            created_at: utc(e.created_at),
            updated_at: utc(e.updated_at),
        }
    }
}

/// An endpoint just made, or its secret just rotated: the secret is shown only here.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookWithSecret {
    #[serde(flatten)]
    pub endpoint: WebhookView,
    /// `whsec_…`, as Standard Webhooks libraries take it.
    pub secret: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryView {
    pub id: String,
    pub endpoint_id: Option<String>,
    /// The `webhook-id` header (the event's id), or the logout token's `jti`.
    pub message_id: String,
    /// The event's type, or `backchannel_logout`.
    pub kind: String,
    pub event_cursor: Option<String>,
    /// `pending`, `delivered` or `failed`.
    pub state: String,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

impl From<Delivery> for DeliveryView {
    fn from(d: Delivery) -> Self {
        DeliveryView {
            id: d.id,
            endpoint_id: d.endpoint_id,
            message_id: d.message_id,
            kind: d.kind,
            event_cursor: d.event_cursor,
            state: d.state.as_str().to_owned(),
            attempts: d.attempts,
            next_attempt_at: d.next_attempt_at.map(utc),
            last_status: d.last_status,
            last_error: d.last_error,
            created_at: utc(d.created_at),
            delivered_at: d.delivered_at.map(utc),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryPage {
    pub data: Vec<DeliveryView>,
    /// Pass as `before` for older deliveries; absent on the last page.
    pub next_before: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptView {
    pub at: DateTime<Utc>,
    pub status: Option<i32>,
    pub latency_ms: i32,
    /// The start of the answer's body (at most 1 KiB).
    pub response_excerpt: Option<String>,
    pub error: Option<String>,
    pub instance: String,
}

impl From<Attempt> for AttemptView {
    fn from(a: Attempt) -> Self {
        AttemptView {
            at: utc(a.at),
            status: a.status,
            latency_ms: a.latency_ms,
            response_excerpt: a.response_excerpt,
            error: a.error,
            instance: a.instance,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct DeliveryQuery {
    /// Deliveries older than this delivery id.
    pub before: Option<String>,
    /// At most this many (default 50, at most 500).
    pub limit: Option<i64>,
}

fn sealed_secret(state: &AppState) -> Result<(String, String), ApiError> {
    let secret = new_secret().map_err(ApiError::from)?;
    let sealed = crate::secrets::seal(&state.settings, SECRET_PURPOSE, secret.as_bytes())
        .map_err(|e| ApiError::Directory(directory::DirectoryError::Internal(e.to_string())))?;
    Ok((secret, sealed))
}

#[utoipa::path(
    post, path = "/api/v1/applications/{client_id}/webhooks", tag = "webhooks", request_body = CreateWebhook,
    params(("client_id" = String, Path, description = "The application's client id")),
    responses(
        (status = 201, description = "Made; `secret` is shown only in this answer", body = WebhookWithSecret),
        (status = 400, description = "Invalid input", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such application", body = Problem, content_type = "application/problem+json"),
    ),
    security(("admin_api_key" = []))
)]
pub async fn create(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<String>,
    body: web::Json<CreateWebhook>,
) -> Result<HttpResponse, ApiError> {
    let client_id = path.into_inner();
    let b = body.into_inner();
    crate::deliveries::check_url(&state, &b.url)?;
    let new =
        NewWebhook { url: b.url, description: b.description, events: b.events, enabled: b.enabled.unwrap_or(true) };
    let (secret, sealed) = sealed_secret(&state)?;
    let dir = state.directory.clone();
    let c = client_id.clone();
    let made = blocking::<_, ApiError>(move || dir.create_webhook(&caller.ctx(), &c, &new, &sealed)).await?;
    let location = format!("/api/v1/applications/{client_id}/webhooks/{}", made.id);
    Ok(no_store(HttpResponse::Created())
        .insert_header((actix_web::http::header::LOCATION, location))
        .json(WebhookWithSecret { endpoint: made.into(), secret }))
}

#[utoipa::path(
    get, path = "/api/v1/applications/{client_id}/webhooks", tag = "webhooks",
    params(("client_id" = String, Path, description = "The application's client id")),
    responses(
        (status = 200, description = "The application's endpoints, oldest first", body = [WebhookView]),
        (status = 404, description = "No such application", body = Problem, content_type = "application/problem+json"),
    ),
    security(("admin_api_key" = []))
)]
pub async fn list(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let client_id = path.into_inner();
    let dir = state.directory.clone();
    let all = blocking::<_, ApiError>(move || dir.webhooks(&caller.ctx(), &client_id)).await?;
    Ok(HttpResponse::Ok().json(all.into_iter().map(WebhookView::from).collect::<Vec<_>>()))
}

#[utoipa::path(
    get, path = "/api/v1/applications/{client_id}/webhooks/{id}", tag = "webhooks",
    params(("client_id" = String, Path), ("id" = String, Path, description = "The endpoint's id")),
    responses(
        (status = 200, description = "The endpoint", body = WebhookView),
        (status = 404, description = "No such endpoint", body = Problem, content_type = "application/problem+json"),
    ),
    security(("admin_api_key" = []))
)]
pub async fn get_one(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (client_id, id) = path.into_inner();
    let dir = state.directory.clone();
    let e = blocking::<_, ApiError>(move || dir.webhook(&caller.ctx(), &client_id, &id)).await?;
    Ok(HttpResponse::Ok().json(WebhookView::from(e)))
}

#[utoipa::path(
    patch, path = "/api/v1/applications/{client_id}/webhooks/{id}", tag = "webhooks", request_body = UpdateWebhook,
    params(("client_id" = String, Path), ("id" = String, Path, description = "The endpoint's id")),
    responses(
        (status = 200, description = "Changed", body = WebhookView),
        (status = 400, description = "Invalid input", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such endpoint", body = Problem, content_type = "application/problem+json"),
    ),
    security(("admin_api_key" = []))
)]
pub async fn update(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<(String, String)>,
    body: web::Json<UpdateWebhook>,
) -> Result<HttpResponse, ApiError> {
    let (client_id, id) = path.into_inner();
    let b = body.into_inner();
    if let Some(url) = &b.url {
        crate::deliveries::check_url(&state, url)?;
    }
    let changes = WebhookChanges { url: b.url, description: b.description, events: b.events, enabled: b.enabled };
    let dir = state.directory.clone();
    let e = blocking::<_, ApiError>(move || dir.update_webhook(&caller.ctx(), &client_id, &id, &changes)).await?;
    Ok(HttpResponse::Ok().json(WebhookView::from(e)))
}

#[utoipa::path(
    delete, path = "/api/v1/applications/{client_id}/webhooks/{id}", tag = "webhooks",
    params(("client_id" = String, Path), ("id" = String, Path, description = "The endpoint's id")),
    responses(
        (status = 204, description = "Removed, with its delivery log"),
        (status = 404, description = "No such endpoint", body = Problem, content_type = "application/problem+json"),
    ),
    security(("admin_api_key" = []))
)]
pub async fn remove(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (client_id, id) = path.into_inner();
    let dir = state.directory.clone();
    blocking::<_, ApiError>(move || dir.delete_webhook(&caller.ctx(), &client_id, &id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(
    post, path = "/api/v1/applications/{client_id}/webhooks/{id}/rotate-secret", tag = "webhooks",
    params(("client_id" = String, Path), ("id" = String, Path, description = "The endpoint's id")),
    responses(
        (status = 200, description = "The new secret, shown only now; the previous one signs beside it until `previous_secret_expires_at`", body = WebhookWithSecret),
        (status = 404, description = "No such endpoint", body = Problem, content_type = "application/problem+json"),
    ),
    security(("admin_api_key" = []))
)]
pub async fn rotate_secret(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (client_id, id) = path.into_inner();
    let (secret, sealed) = sealed_secret(&state)?;
    let overlap = state.settings.webhook_secret_overlap;
    let dir = state.directory.clone();
    let e =
        blocking::<_, ApiError>(move || dir.rotate_webhook_secret(&caller.ctx(), &client_id, &id, &sealed, overlap))
            .await?;
    Ok(no_store(HttpResponse::Ok()).json(WebhookWithSecret { endpoint: e.into(), secret }))
}

fn page(list: Vec<Delivery>, limit: i64) -> DeliveryPage {
    let next_before = (list.len() as i64 >= limit).then(|| list.last().map(|d| d.id.clone())).flatten();
    DeliveryPage { data: list.into_iter().map(DeliveryView::from).collect(), next_before }
}

#[utoipa::path(
    get, path = "/api/v1/applications/{client_id}/webhooks/{id}/deliveries", tag = "webhooks",
    params(("client_id" = String, Path), ("id" = String, Path, description = "The endpoint's id"), DeliveryQuery),
    responses(
        (status = 200, description = "The endpoint's deliveries, newest first", body = DeliveryPage),
        (status = 404, description = "No such endpoint", body = Problem, content_type = "application/problem+json"),
    ),
    security(("admin_api_key" = []))
)]
pub async fn deliveries(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<(String, String)>,
    query: web::Query<DeliveryQuery>,
) -> Result<HttpResponse, ApiError> {
    let (client_id, id) = path.into_inner();
    let q = query.into_inner();
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let dir = state.directory.clone();
    let list = blocking::<_, ApiError>(move || {
        dir.deliveries(&caller.ctx(), &client_id, Some(&id), q.before.as_deref(), limit)
    })
    .await?;
    Ok(HttpResponse::Ok().json(page(list, limit)))
}

#[utoipa::path(
    get, path = "/api/v1/applications/{client_id}/backchannel-logouts", tag = "webhooks",
    params(("client_id" = String, Path), DeliveryQuery),
    responses(
        (status = 200, description = "Back-channel logout tokens sent to the application, newest first", body = DeliveryPage),
        (status = 404, description = "No such application", body = Problem, content_type = "application/problem+json"),
    ),
    security(("admin_api_key" = []))
)]
pub async fn logouts(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<String>,
    query: web::Query<DeliveryQuery>,
) -> Result<HttpResponse, ApiError> {
    let client_id = path.into_inner();
    let q = query.into_inner();
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let dir = state.directory.clone();
    let list =
        blocking::<_, ApiError>(move || dir.deliveries(&caller.ctx(), &client_id, None, q.before.as_deref(), limit))
            .await?;
    Ok(HttpResponse::Ok().json(page(list, limit)))
}

#[utoipa::path(
    get, path = "/api/v1/applications/{client_id}/deliveries/{delivery_id}", tag = "webhooks",
    params(("client_id" = String, Path), ("delivery_id" = String, Path)),
    responses(
        (status = 200, description = "Every attempt at the delivery, newest first", body = [AttemptView]),
        (status = 404, description = "No such delivery", body = Problem, content_type = "application/problem+json"),
    ),
    security(("admin_api_key" = []))
)]
pub async fn delivery_attempts(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (client_id, id) = path.into_inner();
    let dir = state.directory.clone();
    let list = blocking::<_, ApiError>(move || dir.delivery_attempts(&caller.ctx(), &client_id, &id)).await?;
    Ok(HttpResponse::Ok().json(list.into_iter().map(AttemptView::from).collect::<Vec<_>>()))
}

#[utoipa::path(
    post, path = "/api/v1/applications/{client_id}/deliveries/{delivery_id}/resend", tag = "webhooks",
    params(("client_id" = String, Path), ("delivery_id" = String, Path)),
    responses(
        (status = 202, description = "Due again now, with the same `webhook-id`", body = DeliveryView),
        (status = 404, description = "No such delivery", body = Problem, content_type = "application/problem+json"),
    ),
    security(("admin_api_key" = []))
)]
pub async fn resend(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (client_id, id) = path.into_inner();
    let dir = state.directory.clone();
    let d = blocking::<_, ApiError>(move || dir.resend_delivery(&caller.ctx(), &client_id, &id)).await?;
    state.deliveries.wake();
    Ok(HttpResponse::Accepted().json(DeliveryView::from(d)))
}
