//! Logging and metrics. Log lines go to stdout as text or JSON; each request runs in a span
//! carrying its operation id, so every line it causes can be found from the id a user reports.

use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

use crate::config::{LogFormat, Settings};

/// Installs the global tracing subscriber (once per process; later calls are ignored).
pub fn init_logging(settings: &Settings) {
    let filter = EnvFilter::try_new(&settings.log_level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_span_events(FmtSpan::NONE);
    let _ = match settings.log_format {
        LogFormat::Json => builder.json().with_current_span(true).with_span_list(false).try_init(),
        LogFormat::Pretty => builder.compact().try_init(),
    };
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: String,
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SignInLabels {
    /// `saml` (later `oidc`).
    pub protocol: String,
    /// `success`, or the refusal code (`signature_invalid`, `replay`, ...).
    pub outcome: String,
}

/// Prometheus metrics of one process.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: Family<RequestLabels, Histogram, fn() -> Histogram>,
    sign_ins: Family<SignInLabels, Counter>,
    provider: Family<ProviderLabels, Counter>,
    deliveries: Family<DeliveryLabels, Counter>,
}

/// Labels of the delivery counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
pub struct DeliveryLabels {
    /// `webhook` or `backchannel_logout`.
    pub kind: String,
    /// `delivered`, or `failed` (an attempt that will be retried, or not).
    pub outcome: String,
}

/// Labels of the OpenID Provider's counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
pub struct ProviderLabels {
    /// `authorization` or `token`.
    pub endpoint: String,
    /// `success`, or the OAuth error code.
    pub outcome: String,
}

impl Metrics {
    pub fn new() -> Arc<Self> {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let durations = Family::<RequestLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            (|| Histogram::new(exponential_buckets(0.001, 2.0, 15))) as fn() -> Histogram,
        );
        registry.register("portico_http_requests", "HTTP requests answered, by route and status", requests.clone());
        registry.register(
            "portico_http_request_duration_seconds",
            "Time to answer HTTP requests, by route and status",
            durations.clone(),
        );
        let sign_ins = Family::<SignInLabels, Counter>::default();
        registry.register(
            "portico_sso_sign_ins",
            "Single sign-on attempts that reached the ACS, by protocol and outcome (success or refusal code)",
            sign_ins.clone(),
        );
        let provider = Family::<ProviderLabels, Counter>::default();
        registry.register(
            "portico_provider_answers",
            "Answers of the OpenID Provider to host applications, by endpoint and outcome",
            provider.clone(),
        );
        let deliveries = Family::<DeliveryLabels, Counter>::default();
        registry.register(
            "portico_delivery_attempts",
            "Attempts at sending webhooks and back-channel logout tokens, by kind and outcome",
            deliveries.clone(),
        );
        Arc::new(Metrics { registry, requests, durations, sign_ins, provider, deliveries })
    }

    /// Counts one SSO sign-in attempt. Outcomes are Portico's fixed codes, so the label set
    /// stays small.
    pub fn sign_in(&self, protocol: &str, outcome: &str) {
        self.sign_ins.get_or_create(&SignInLabels { protocol: protocol.to_owned(), outcome: outcome.to_owned() }).inc();
    }

    /// Counts one answer of the OpenID Provider (codes issued, token exchanges and refusals).
    pub fn provider(&self, endpoint: &str, outcome: &str) {
        self.provider
            .get_or_create(&ProviderLabels { endpoint: endpoint.to_owned(), outcome: outcome.to_owned() })
            .inc();
    }

    /// Counts one delivery attempt.
    pub fn delivery(&self, kind: &str, delivered: bool) {
        let outcome = if delivered { "delivered" } else { "failed" };
        self.deliveries.get_or_create(&DeliveryLabels { kind: kind.to_owned(), outcome: outcome.to_owned() }).inc();
    }

    pub fn observe(&self, labels: RequestLabels, seconds: f64) {
        self.requests.get_or_create(&labels).inc();
        self.durations.get_or_create(&labels).observe(seconds);
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            tracing::error!("metrics encoding failed");
        }
        out
    }
}
