//! Probes, metrics and the console's static files.

use actix_web::http::header;
use actix_web::{HttpResponse, get, web};
use serde_json::json;

use crate::error::blocking;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(healthz).service(readyz).service(metrics).service(css).service(js);
}

/// The process is up and answering.
#[get("/healthz")]
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// The database answers and has every migration this binary expects.
#[get("/readyz")]
async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let dir = state.directory.clone();
    match blocking::<_, directory::DirectoryError>(move || dir.is_ready()).await {
        Ok(true) => HttpResponse::Ok().json(json!({"status": "ready"})),
        Ok(false) => HttpResponse::ServiceUnavailable().json(json!({"status": "migrations pending"})),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            HttpResponse::ServiceUnavailable().json(json!({"status": "database unreachable"}))
        }
    }
}

/// Prometheus text exposition.
#[get("/metrics")]
async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(state.metrics.render())
}

const CSS: &str = include_str!("../../../web/static/portico.css");
const JS: &str = include_str!("../../../web/static/portico.js");

#[get("/static/portico.css")]
async fn css() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .body(CSS)
}

#[get("/static/portico.js")]
async fn js() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .body(JS)
}
