//! What every handler shares: the directory, the settings and the metrics.

use std::sync::Arc;

use directory::Directory;

use crate::config::Settings;
use crate::telemetry::Metrics;

#[derive(Debug, Clone)]
pub struct AppState {
    pub directory: Directory,
    pub settings: Arc<Settings>,
    pub metrics: Arc<Metrics>,
    /// SAML connections made ready for verification, per connection id and version. Derived
    /// from the database only (each instance builds its own), so nothing shared lives here.
    pub saml: Arc<crate::app::sign_in::SamlCache>,
    /// OpenID Provider metadata per issuer (derived from the providers, per instance).
    pub oidc: Arc<crate::app::sign_in::OidcCache>,
    /// The client for every outbound request an admin or a provider names (`sso::outbound`).
    pub outbound: sso::outbound::Outbound,
    /// Per-address limit on the public sign-in endpoints.
    pub sign_in_throttle: Arc<crate::throttle::Throttle>,
    /// Refused sign-in posts per client address and connection (see
    /// `Settings::sso_refusals_per_minute`): each refusal is audited, so their number is bounded.
    pub sign_in_refusals: Arc<crate::throttle::Throttle>,
    /// Per-address limit on failed SCIM authentications.
    pub scim_auth_failures: Arc<crate::throttle::Throttle>,
    /// SCIM requests waiting to be written to the request log.
    pub scim_log: Arc<crate::provisioning::log::RequestLog>,
    /// This instance's copy of the OpenID Provider's signing keys (re-read every 30 seconds).
    pub provider_keys: Arc<crate::app::provider::ProviderKeys>,
    /// This instance's background job runner.
    pub jobs: Arc<crate::jobs::JobRunner>,
    /// This instance's webhook and back-channel logout delivery worker.
    pub deliveries: Arc<crate::deliveries::DeliveryRunner>,
}
