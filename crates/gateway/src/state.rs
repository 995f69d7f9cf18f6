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
    pub saml: Arc<SamlCache>,
    /// OpenID Provider metadata per issuer (derived from the providers, per instance).
    pub oidc: Arc<crate::signin::oidc::OidcCache>,
    /// Per-address limit on the public sign-in endpoints.
    pub sign_in_throttle: Arc<crate::throttle::Throttle>,
    /// Refused sign-in posts per client address and connection (see
    /// `Settings::sso_refusals_per_minute`): each refusal is audited, so their number is bounded.
    pub sign_in_refusals: Arc<crate::throttle::Throttle>,
    /// Per-address limit on failed SCIM authentications.
    pub scim_auth_failures: Arc<crate::throttle::Throttle>,
    /// SCIM requests waiting to be written to the request log.
    pub scim_log: Arc<crate::provisioning::log::RequestLog>,
    /// This instance's background job runner.
    pub jobs: Arc<crate::jobs::JobRunner>,
}

/// Prepared SAML connections, rebuilt when a connection's `updated_at` changes.
#[derive(Debug, Default)]
pub struct SamlCache(
    std::sync::Mutex<std::collections::HashMap<String, (chrono::NaiveDateTime, Arc<sso::saml::PreparedSaml>)>>,
);

impl SamlCache {
    /// The prepared form of `c` when the cache holds it for this version of the connection.
    pub fn get(&self, c: &directory::connection::Connection) -> Option<Arc<sso::saml::PreparedSaml>> {
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&c.id).filter(|(version, _)| *version == c.updated_at).map(|(_, p)| p.clone())
    }

    /// The prepared form of `c`, built by `build` when missing or stale.
    pub fn get_or_build(
        &self,
        c: &directory::connection::Connection,
        build: impl FnOnce() -> Result<sso::saml::PreparedSaml, sso::saml::Refusal>,
    ) -> Result<Arc<sso::saml::PreparedSaml>, sso::saml::Refusal> {
        if let Some(p) = self.get(c) {
            return Ok(p);
        }
        let prepared = Arc::new(build()?);
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        // Connections are few; a bound keeps a flood of deleted ones from growing it.
        if map.len() > 10_000 {
            map.clear();
        }
        map.insert(c.id.clone(), (c.updated_at, prepared.clone()));
        Ok(prepared)
    }
}
