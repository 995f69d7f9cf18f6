//! The OpenID Connect callback of the relying party. Starting a sign-in is `/login/sso`'s
//! (in `saml.rs`, for both protocols); the protocol work is `sso::oidc`'s, driven by the
//! application layer.

use actix_web::{HttpRequest, HttpResponse, get, web};

use super::{answer, presented_binding, user_agent};
use crate::app::sign_in::{Attempt, Callback, RefusalCount, check_oidc_callback, finish};
use crate::auth::{client_address, operation_id};
use crate::error::PageError;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(callback);
}

/// `GET /sso/oidc/{id}/callback`: the provider sends the browser back here.
#[get("/sso/oidc/{id}/callback")]
async fn callback(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<directory::ids::ConnectionId>,
    query: web::Query<Callback>,
) -> Result<HttpResponse, PageError> {
    let address = client_address(&req);
    if !state.sign_in_throttle.allow(&address, std::time::Instant::now()) {
        return Err(PageError::TooManyRequests);
    }
    let id = path.into_inner();
    let refusals = RefusalCount::new(&state, &address, &id);
    if refusals.exhausted() {
        state.metrics.sign_in("oidc", "too_many_refusals");
        return Err(PageError::TooManyRequests);
    }
    let presented = presented_binding(&req);
    let checked = check_oidc_callback(&state, &id, query.into_inner(), presented.as_deref()).await?;
    let connection = checked.connection.clone();
    let (agent, op) = (user_agent(&req), operation_id(&req));
    let attempt = Attempt {
        presented_binding: presented.as_deref(),
        address: &address,
        user_agent: &agent,
        operation_id: op.as_deref(),
        refusals: &refusals,
    };
    let finished = finish(&state, checked, attempt).await?;
    answer(&state, &connection, finished)
}
