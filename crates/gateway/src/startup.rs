//! Building the HTTP server: one place that wires state, middleware and every route group, used
//! by `portico serve` and by the integration tests alike.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::http::header;
use actix_web::middleware::{DefaultHeaders, from_fn};
use actix_web::{App, HttpServer, web};
use directory::Directory;

use crate::config::Settings;
use crate::state::AppState;
use crate::telemetry::Metrics;
use crate::{api, console, health, oauth2, observe, provisioning, signin};

/// Failed SCIM authentications an address may make in a minute before it is turned away.
const SCIM_AUTH_FAILURES_PER_MINUTE: u32 = 30;

/// A bound, not yet running, Portico server.
pub struct Application {
    server: Server,
    port: u16,
    public_url: String,
    jobs: Arc<crate::jobs::JobRunner>,
    deliveries: Arc<crate::deliveries::DeliveryRunner>,
    grace: std::time::Duration,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application").field("port", &self.port).finish_non_exhaustive()
    }
}

/// The headers every answer carries (console, admin API, SCIM, sign-in endpoints): no MIME
/// sniffing, no framing, no referrer outside Portico, a content security policy that allows
/// Portico's own scripts and styles only, and HSTS when `hsts` is given.
pub fn security_headers(hsts: Option<&'static str>) -> DefaultHeaders {
    let headers = DefaultHeaders::new()
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        .add((header::REFERRER_POLICY, "same-origin"))
        .add((
            header::CONTENT_SECURITY_POLICY,
            // No form-action: sign-in forms lead to the enterprise's IdP by redirect.
            "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
        ));
    match hsts {
        Some(value) => headers.add((header::STRICT_TRANSPORT_SECURITY, value)),
        None => headers,
    }
}

/// Resolves at the first SIGTERM (what orchestrators send) or Ctrl-C.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; stopping on Ctrl-C only");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

impl Application {
    /// Binds `settings.bind` (port 0 picks a free port) and prepares the server.
    pub fn build(mut settings: Settings, directory: Directory) -> std::io::Result<Self> {
        let listener = TcpListener::bind(settings.bind)?;
        let port = listener.local_addr()?.port();
        // Listening on port 0 picks a free port; a public URL derived from it follows.
        if settings.public_url.port() == Some(0) {
            let _ = settings.public_url.set_port(Some(port));
        }
        let public_url = settings.public_url.to_string();
        let throttle =
            crate::throttle::Throttle::new(settings.sso_requests_per_minute, std::time::Duration::from_secs(60));
        let refusals =
            crate::throttle::Throttle::new(settings.sso_refusals_per_minute, std::time::Duration::from_secs(60));
        let jobs = crate::jobs::JobRunner::start(directory.clone());
        let policy = if settings.sso_allow_private_metadata {
            sso::outbound::Policy::private()
        } else {
            sso::outbound::Policy::public()
        };
        let outbound = sso::outbound::Outbound::new(policy.with_proxy(settings.sso_outbound_proxy.clone()))
            .map_err(std::io::Error::other)?;
        let grace = settings.shutdown_grace;
        let deliveries = Arc::new(crate::deliveries::DeliveryRunner::default());
        let state = web::Data::new(AppState {
            directory,
            settings: Arc::new(settings),
            metrics: Metrics::new(),
            saml: Default::default(),
            oidc: Default::default(),
            outbound,
            sign_in_throttle: Arc::new(throttle),
            sign_in_refusals: Arc::new(refusals),
            scim_auth_failures: Arc::new(crate::throttle::Throttle::new(
                SCIM_AUTH_FAILURES_PER_MINUTE,
                std::time::Duration::from_secs(60),
            )),
            scim_log: Default::default(),
            provider_keys: Default::default(),
            jobs: jobs.clone(),
            deliveries: deliveries.clone(),
        });
        deliveries.start(state.get_ref().clone());
        // Served over HTTPS, browsers are told to come back over HTTPS only, for a year.
        let hsts = (public_url.starts_with("https://")).then_some("max-age=31536000");
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .wrap(security_headers(hsts))
                .wrap(from_fn(crate::proxy::require_https))
                .wrap(from_fn(observe::observe))
                .configure(health::configure)
                .configure(api::configure)
                .configure(console::configure)
                .configure(signin::configure)
                .configure(provisioning::configure)
                .configure(oauth2::configure)
        })
        .shutdown_timeout(grace.as_secs())
        .disable_signals()
        .listen(listener)?
        .run();
        Ok(Application { server, port, public_url, jobs, deliveries, grace })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// A handle that stops the server (tests stop theirs when they end, so that nothing of a
    /// finished test keeps running in the test process).
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// The URL Portico announces, with the real port when it listens on port 0.
    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    /// Serves until the process is told to stop (SIGTERM, or Ctrl-C): then it stops accepting
    /// connections, gives requests in flight up to `server.shutdown_grace_secs` to finish, and
    /// releases the job it runs after the chunk in hand.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let handle = self.server.handle();
        let (jobs, deliveries, grace) = (self.jobs, self.deliveries, self.grace);
        let stopping = actix_web::rt::spawn(async move {
            stop_signal().await;
            tracing::info!(grace_secs = grace.as_secs(), "stopping: no new connections, finishing requests in flight");
            let server_stopped = handle.stop(true);
            if tokio::time::timeout(grace, jobs.shutdown()).await.is_err() {
                tracing::warn!("the job in hand did not finish its chunk in the grace period");
            }
            if tokio::time::timeout(grace, deliveries.shutdown()).await.is_err() {
                tracing::warn!("deliveries in flight did not finish in the grace period");
            }
            server_stopped.await;
        });
        let served = self.server.await;
        // The server stops only on the signal (its own signal handling is off): let the job
        // runner finish or time out before the runtime goes.
        let _ = stopping.await;
        served
    }
}
