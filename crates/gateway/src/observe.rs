//! The middleware every request passes through: gives it an operation id (span field,
//! `X-Operation-Id` response header, error pages), logs one line when it ends, and counts it in
//! the metrics by route pattern (never by raw path, which may carry a secret link token).

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, web};
use tracing::Instrument;

use crate::state::AppState;
use crate::telemetry::RequestLabels;

pub const OPERATION_ID_HEADER: &str = "x-operation-id";

tokio::task_local! {
    static OPERATION_ID: String;
}

/// The operation id of the request being handled, for error bodies and audit events.
pub fn current_operation_id() -> Option<String> {
    OPERATION_ID.try_with(Clone::clone).ok()
}

/// The operation id of a request, from its extensions.
#[derive(Debug, Clone)]
pub struct OperationId(pub String);

fn new_operation_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let op_id = new_operation_id();
    req.extensions_mut().insert(OperationId(op_id.clone()));
    let metrics = req.app_data::<web::Data<AppState>>().map(|s| s.metrics.clone());
    // A request that may have changed something may have written events or logout tokens: the
    // delivery worker looks at once instead of at its next poll.
    let deliveries = (!matches!(req.method().as_str(), "GET" | "HEAD" | "OPTIONS"))
        .then(|| req.app_data::<web::Data<AppState>>().map(|s| s.deliveries.clone()))
        .flatten();
    // Clients choose the method: anything non-standard is counted as OTHER, so made-up
    // methods cannot grow the metrics without bound.
    let method = match req.method().as_str() {
        m @ ("GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS") => m.to_owned(),
        _ => "OTHER".to_owned(),
    };
    let span = tracing::info_span!(
        "request",
        op = %op_id,
        method = %method,
        route = tracing::field::Empty,
        status = tracing::field::Empty,
    );
    let started = Instant::now();
    // Handlers' errors arrive here already rendered as responses, inside the scope, so their
    // bodies can carry the operation id.
    let result = OPERATION_ID.scope(op_id.clone(), next.call(req)).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    let (status, route) = match &result {
        Ok(res) => (res.status().as_u16(), res.request().match_pattern().unwrap_or_else(|| "(unmatched)".to_owned())),
        Err(e) => (e.as_response_error().status_code().as_u16(), "(failed)".to_owned()),
    };
    span.record("route", route.as_str());
    span.record("status", status);
    span.in_scope(|| {
        if status >= 500 {
            tracing::error!(millis = elapsed.as_millis() as u64, "request failed");
        } else {
            tracing::info!(millis = elapsed.as_millis() as u64, "request finished");
        }
    });
    if let Some(deliveries) = deliveries {
        deliveries.wake();
    }
    if let Some(metrics) = metrics {
        metrics.observe(RequestLabels { method, route, status }, elapsed.as_secs_f64());
    }
    let mut res = result?;
    if let Ok(value) = HeaderValue::from_str(&op_id) {
        res.headers_mut().insert(HeaderName::from_static(OPERATION_ID_HEADER), value);
    }
    Ok(res)
}
