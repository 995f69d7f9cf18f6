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
}
