//! This instance's delivery worker: it dispatches new events to the webhook endpoints that
//! subscribe to them, leases due deliveries (any instance may send any delivery, see
//! `directory::webhook`), sends them, and records each attempt. Events are signed following the
//! Standard Webhooks specification; back-channel logouts carry a logout token signed with the
//! OpenID Provider's key (OpenID Connect Back-Channel Logout 1.0). It also prunes events past
//! their retention, once an hour.
//!
//! It wakes when this instance wrote something to send, and every `webhooks.poll_ms` for work
//! written elsewhere. On shutdown it finishes the attempts in flight; deliveries it leased but did
//! not start are sent by another instance when their lease runs out.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use actix_web::web;
use directory::webhook::{AttemptResult, Outgoing, OutgoingBody};
use tokio::sync::{Mutex, Notify};
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::state::AppState;

/// The `purpose` webhook signing secrets are sealed for (see `secrets::seal`).
pub const SECRET_PURPOSE: &str = "webhook-secret";

/// Events dispatched to one endpoint in one pass.
const DISPATCH_BATCH: i64 = 500;

/// How often old events are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// The least time between two passes when woken: changes made in the meantime are dispatched
/// and sent together, in a few transactions instead of a few per change.
const GATHER: Duration = Duration::from_millis(50);

/// Wakes, and stops, the worker.
#[derive(Debug, Default)]
pub struct DeliveryRunner {
    wake: Notify,
    stop: AtomicBool,
    task: Mutex<Option<JoinHandle<()>>>,
}

/// A new signing secret: `whsec_` and 32 random bytes in base64, as Standard Webhooks libraries
/// read it.
pub fn new_secret() -> Result<String, directory::DirectoryError> {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    openssl::rand::rand_bytes(&mut bytes)
        .map_err(|e| directory::DirectoryError::Unavailable(format!("no randomness: {e}")))?;
    Ok(format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode(bytes)))
}

/// Refuses, at once, an endpoint URL this installation's outbound rules would refuse at every
/// delivery (plain HTTP or a private address, unless `sso.allow_private_metadata`).
pub fn check_url(state: &AppState, url: &str) -> Result<(), directory::DirectoryError> {
    // A URL that does not parse is the directory's to describe.
    let Ok(parsed) = url::Url::parse(url.trim()) else { return Ok(()) };
    state
        .outbound
        .policy()
        .check(&parsed)
        .map_err(|e| directory::FieldErrors::single("url", format!("Portico does not send to this URL: {e}")))
}

fn jitter() -> f64 {
    let n = uuid::Uuid::new_v4().as_u128() as u64;
    (n >> 11) as f64 / (1u64 << 53) as f64
}

impl DeliveryRunner {
    /// Starts the worker on the current actix system.
    pub fn start(self: &Arc<Self>, state: AppState) {
        let me = self.clone();
        let task = actix_web::rt::spawn(async move {
            let mut last_prune: Option<Instant> = None;
            while !me.stop.load(Ordering::Acquire) {
                let busy = match me.pass(&state, &mut last_prune).await {
                    Ok(busy) => busy,
                    Err(e) => {
                        tracing::warn!(error = %e, "the delivery worker could not run");
                        false
                    }
                };
                if !busy {
                    let _ = tokio::time::timeout(state.settings.webhook_poll, me.wake.notified()).await;
                    // Woken by a change: let the changes of the next moments gather.
                    tokio::time::sleep(GATHER.min(state.settings.webhook_poll)).await;
                }
            }
        });
        if let Ok(mut slot) = self.task.try_lock() {
            *slot = Some(task);
        }
    }

    /// Tells the worker there is something to send.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Stops the worker after the attempts in flight, and waits until it has.
    pub async fn shutdown(&self) {
        self.stop.store(true, Ordering::Release);
        self.wake.notify_one();
        if let Some(task) = self.task.lock().await.take() {
            let _ = task.await;
        }
    }

    /// One pass: prune when due, dispatch, send what is due. True when there may be more due
    /// at once.
    async fn pass(&self, state: &AppState, last_prune: &mut Option<Instant>) -> Result<bool, String> {
        let dir = state.directory.clone();
        if last_prune.is_none_or(|t| t.elapsed() >= PRUNE_EVERY) {
            *last_prune = Some(Instant::now());
            let before = dir.now() - state.settings.events_retention;
            let d = dir.clone();
            match web::block(move || d.prune_events(before)).await {
                Ok(Ok(n)) if n > 0 => tracing::info!(events = n, "pruned events past their retention"),
                Ok(Err(e)) => tracing::warn!(error = %e, "could not prune events"),
                _ => {}
            }
        }
        let d = dir.clone();
        let dispatched = web::block(move || d.dispatch_events(DISPATCH_BATCH))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        let limit = state.settings.webhook_concurrency as i64;
        // Long enough to send and record an attempt; after it, another instance may send the
        // message again (an instance that died mid-way).
        let lease = chrono::Duration::from_std(state.settings.webhook_timeout * 2)
            .unwrap_or(chrono::Duration::seconds(20))
            + chrono::Duration::seconds(10);
        let d = dir.clone();
        let batch = web::block(move || d.claim_deliveries(limit, lease))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        let full = batch.len() as i64 >= limit;
        let mut sending = Vec::with_capacity(batch.len());
        for out in batch {
            let state = state.clone();
            let span = tracing::info_span!(
                "delivery", id = %out.delivery_id, client = %out.client_id, attempt = out.attempts + 1
            );
            sending.push(actix_web::rt::spawn(
                async move {
                    let result = send(&state, &out).await;
                    let kind = if out.endpoint_id.is_some() { "webhook" } else { "backchannel_logout" };
                    state.metrics.delivery(kind, result.succeeded());
                    if result.succeeded() {
                        tracing::info!(status = ?result.status, latency_ms = result.latency_ms, "delivered");
                    } else {
                        tracing::warn!(status = ?result.status, error = ?result.error, "delivery attempt failed");
                    }
                    (out.delivery_id, result, jitter())
                }
                .instrument(span),
            ));
        }
        let mut results = Vec::with_capacity(sending.len());
        for handle in sending {
            if let Ok(r) = handle.await {
                results.push(r);
            }
        }
        // Every attempt of the pass recorded in one transaction.
        let policy = state.settings.webhook_retry;
        let d = dir.clone();
        let finished = web::block(move || d.finish_deliveries(&results, &policy)).await;
        if let Ok(Err(e)) = finished {
            tracing::error!(error = %e, "could not record delivery attempts");
        }
        Ok(full || dispatched > 0)
    }
}

/// Sends one message and says how it went (never an error: every outcome is an attempt).
async fn send(state: &AppState, out: &Outgoing) -> AttemptResult {
    let started = Instant::now();
    let failed = |error: String, give_up: bool| AttemptResult {
        status: None,
        latency_ms: started.elapsed().as_millis().min(i32::MAX as u128) as i32,
        response_excerpt: None,
        error: Some(error),
        give_up,
    };
    let Some(url) = out.url.as_deref() else {
        return failed("the application has no back-channel logout URI any more".into(), true);
    };
    let url = match url::Url::parse(url) {
        Ok(u) => u,
        Err(e) => return failed(format!("the URL cannot be read: {e}"), true),
    };
    if let Err(e) = state.outbound.policy().check(&url) {
        return failed(e.to_string(), false);
    }
    let now = state.directory.now().and_utc();
    let request = match &out.body {
        OutgoingBody::Gone => return failed("the event was pruned before it could be delivered".into(), true),
        OutgoingBody::Event(event) => {
            let body = match serde_json::to_vec(event) {
                Ok(b) => b,
                Err(e) => return failed(format!("cannot write the event: {e}"), true),
            };
            let mut signatures = Vec::new();
            for sealed in &out.secrets_sealed {
                let signed = crate::secrets::open(&state.settings, SECRET_PURPOSE, sealed)
                    .map_err(|e| e.to_string())
                    .and_then(|secret| String::from_utf8(secret).map_err(|e| e.to_string()))
                    .and_then(|secret| standardwebhooks::Webhook::new(&secret).map_err(|e| e.to_string()))
                    .and_then(|hook| hook.sign(&out.message_id, now.timestamp(), &body).map_err(|e| e.to_string()));
                match signed {
                    Ok(s) => signatures.push(s),
                    Err(e) => return failed(format!("cannot sign: {e}"), false),
                }
            }
            state
                .outbound
                .inner()
                .post(url)
                .timeout(state.settings.webhook_timeout)
                .header("content-type", "application/json")
                .header("user-agent", "Portico-Webhooks/1")
                .header("webhook-id", &out.message_id)
                .header("webhook-timestamp", now.timestamp().to_string())
                .header("webhook-signature", signatures.join(" "))
                .body(body)
        }
        OutgoingBody::Logout { sub, sid } => {
            let token = async {
                let dir = state.directory.clone();
                let id = out.client_id.clone();
                let app = web::block(move || dir.host_application(&id))
                    .await
                    .map_err(|e| e.to_string())?
                    .map_err(|e| e.to_string())?
                    .ok_or_else(|| "the application is gone".to_owned())?;
                let key = crate::app::provider::key_set(state)
                    .await
                    .and_then(|k| k.signing(app.id_token_alg))
                    .map_err(|e| e.to_string())?;
                sso::provider::logout::logout_token(
                    &key,
                    &state.settings.issuer(),
                    &out.client_id,
                    sub,
                    sid,
                    &out.message_id,
                    now,
                )
                .map_err(|e| e.to_string())
            }
            .await;
            let token = match token {
                Ok(t) => t,
                Err(e) => return failed(format!("cannot make the logout token: {e}"), false),
            };
            let form =
                format!("logout_token={}", url::form_urlencoded::byte_serialize(token.as_bytes()).collect::<String>());
            state
                .outbound
                .inner()
                .post(url)
                .timeout(state.settings.webhook_timeout)
                .header("content-type", "application/x-www-form-urlencoded")
                .header("user-agent", "Portico-Webhooks/1")
                .body(form)
        }
    };
    let response = match request.send().await {
        Ok(r) => r,
        Err(e) => {
            let why = if e.is_timeout() {
                "no answer in time".to_owned()
            } else if e.is_connect() {
                "could not connect".to_owned()
            } else {
                e.to_string()
            };
            return failed(why, false);
        }
    };
    let status = response.status().as_u16();
    // The start of the answer, for the delivery log; the rest is not read.
    let mut excerpt = Vec::new();
    let mut response = response;
    while excerpt.len() < directory::webhook::EXCERPT_MAX {
        match response.chunk().await {
            Ok(Some(chunk)) => excerpt.extend_from_slice(&chunk),
            _ => break,
        }
    }
    excerpt.truncate(directory::webhook::EXCERPT_MAX);
    let excerpt = String::from_utf8_lossy(&excerpt).into_owned();
    AttemptResult {
        status: Some(status),
        latency_ms: started.elapsed().as_millis().min(i32::MAX as u128) as i32,
        response_excerpt: (!excerpt.is_empty()).then_some(excerpt),
        error: None,
        give_up: false,
    }
}
