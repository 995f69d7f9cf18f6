//! Configuration: built-in defaults, then an optional TOML file, then `PORTICO__SECTION__KEY`
//! environment variables. Read and validated once at start into a typed [`Settings`], which is
//! passed to whatever needs it (there is no global). Unknown keys and bad values stop start-up
//! with a message that names the key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Load(#[from] config::ConfigError),
    #[error("configuration key `{key}`: {message}")]
    Invalid { key: &'static str, message: String },
    #[error("configuration file {path}: {message}")]
    File { path: String, message: String },
    #[error("secret key file {path}: {source}")]
    SecretFile { path: String, source: std::io::Error },
    #[error("{var}: {message}")]
    FromFile { var: String, message: String },
}

fn invalid(key: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { key, message: message.into() }
}

/// A duration setting given in whole seconds, within `range`.
fn seconds(
    key: &'static str,
    value: i64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<std::time::Duration, ConfigError> {
    u64::try_from(value)
        .ok()
        .filter(|s| range.contains(s))
        .map(std::time::Duration::from_secs)
        .ok_or_else(|| invalid(key, format!("must be between {} and {} seconds", range.start(), range.end())))
}

/// The raw shape of the configuration, as the file and the environment give it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    server: RawServer,
    database: RawDatabase,
    #[serde(default)]
    security: RawSecurity,
    log: RawLog,
    data: RawData,
    sso: RawSso,
    scim: RawScim,
    jobs: RawJobs,
    provider: RawProvider,
    events: RawEvents,
    webhooks: RawWebhooks,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEvents {
    retention_days: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWebhooks {
    retry_base_secs: f64,
    retry_max_interval_secs: i64,
    retry_for_hours: f64,
    disable_after_days: f64,
    secret_overlap_hours: i64,
    timeout_secs: i64,
    poll_ms: i64,
    concurrency: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProvider {
    key_rotation_days: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScim {
    max_filter_scan_rows: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawJobs {
    takeover_after_secs: i64,
    map_all_links_per_chunk: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSso {
    clock_skew_secs: i64,
    allow_private_metadata: bool,
    requests_per_minute: i64,
    max_saml_response_bytes: i64,
    refusals_per_minute: i64,
    #[serde(default)]
    outbound_proxy: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    bind: String,
    public_url: Option<String>,
    #[serde(default)]
    trusted_proxies: Option<OneOrMany>,
    shutdown_grace_secs: i64,
}

/// A list in the file, or a comma-separated string (as environment variables give it).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => s.split(',').map(str::to_owned).collect(),
            OneOrMany::Many(v) => v,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDatabase {
    url: Option<String>,
    pool_size: i64,
    wait_secs: i64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSecurity {
    secret_key: Option<SecretString>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLog {
    format: String,
    level: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawData {
    dir: PathBuf,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines, for a terminal.
    Pretty,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Validated configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Address and port to listen on.
    pub bind: SocketAddr,
    /// The URL people and IdPs reach Portico at; every URL shown to admins is built from it.
    pub public_url: Url,
    /// `sqlite://…` or `postgres://…`.
    pub database_url: String,
    pub pool_size: u32,
    /// How long start-up waits for an unreachable PostgreSQL (it may be starting beside us).
    pub database_wait: std::time::Duration,
    /// Signs CSRF tokens (and later encrypts stored client secrets).
    pub secret_key: SecretString,
    pub log_format: LogFormat,
    pub log_level: String,
    /// Where the SQLite database and the generated secret key live.
    pub data_dir: PathBuf,
    /// Tolerated difference between an IdP's clock and Portico's when checking assertion times.
    pub sso_clock_skew: chrono::Duration,
    /// Fetch IdP metadata over plain HTTP and from private addresses (tests, closed networks).
    pub sso_allow_private_metadata: bool,
    /// Sign-in starts and ACS posts allowed per client address and minute, per instance.
    pub sso_requests_per_minute: u32,
    /// The largest `SAMLResponse` the ACS takes (base64 text), independent of the console's
    /// form limit: responses of users with many groups are large.
    pub sso_max_saml_response_bytes: usize,
    /// Refused sign-in posts (ACS, OIDC callback) one client address may make to one
    /// connection in a minute, per instance; each is audited. Beyond it, posts are turned
    /// away unread and unaudited until the minute is over.
    pub sso_refusals_per_minute: u32,
    /// The proxy outbound HTTP goes through (IdP metadata, OpenID providers). Without it,
    /// Portico connects directly and ignores `HTTP_PROXY`/`HTTPS_PROXY`, which would bypass its
    /// address checks.
    pub sso_outbound_proxy: Option<Url>,
    /// The most users or groups one SCIM filter without an indexed pin (`eq` on id, userName,
    /// externalId, displayName) may be evaluated over; past it the request gets `400 tooMany`.
    pub scim_max_filter_scan_rows: usize,
    /// A running job whose instance has given no sign of life for this long is taken over.
    pub job_takeover_after: std::time::Duration,
    /// Links one chunk of "map all" writes at most: smaller chunks hold SQLite's write lock
    /// for less time, larger ones finish sooner.
    pub map_all_links_per_chunk: i64,
    /// How long a stopping instance gives requests in flight (and its job's chunk) to finish.
    pub shutdown_grace: std::time::Duration,
    /// Reverse proxies and load balancers whose `X-Forwarded-For` and `X-Forwarded-Proto`
    /// are believed (see `proxy`); none by default.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Whether `server.public_url` was written with a trailing slash: the OpenID Provider's
    /// issuer is the URL exactly as configured, and relying parties compare it exactly.
    pub public_url_trailing_slash: bool,
    /// How long an ID token signing key signs before the next one takes over (`None`: only
    /// `portico keys rotate` rotates).
    pub provider_key_rotation: Option<chrono::Duration>,
    /// How long events are kept for the events API and for deliveries still to make.
    pub events_retention: chrono::Duration,
    /// How deliveries that fail are retried, and when an endpoint that keeps failing is
    /// disabled.
    pub webhook_retry: directory::webhook::RetryPolicy,
    /// How long the previous signing secret of an endpoint keeps signing after a rotation.
    pub webhook_secret_overlap: chrono::Duration,
    /// How long one delivery attempt may take.
    pub webhook_timeout: std::time::Duration,
    /// How often an instance looks for events to dispatch and deliveries that are due.
    pub webhook_poll: std::time::Duration,
    /// Deliveries one instance sends at once.
    pub webhook_concurrency: usize,
}

impl Settings {
    /// Loads configuration from defaults, `file` (if any) and the process environment.
    pub fn load(file: Option<&Path>) -> Result<Settings, ConfigError> {
        Self::load_from(file, std::env::vars())
    }

    /// As [`Settings::load`], with the environment given explicitly (tests use this).
    pub fn load_from(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Settings, ConfigError> {
        let mut builder = config::Config::builder()
            .set_default("server.bind", "127.0.0.1:8080")?
            .set_default("server.shutdown_grace_secs", 20)?
            .set_default("database.pool_size", 8)?
            .set_default("database.wait_secs", 60)?
            .set_default("log.format", "pretty")?
            .set_default("log.level", "info")?
            .set_default("data.dir", "data")?
            .set_default("sso.clock_skew_secs", 120)?
            .set_default("sso.allow_private_metadata", false)?
            .set_default("sso.requests_per_minute", 600)?
            .set_default("sso.max_saml_response_bytes", sso::saml::response::MAX_RESPONSE_BYTES as i64)?
            .set_default("sso.refusals_per_minute", 30)?
            .set_default("scim.max_filter_scan_rows", scim::service::MAX_FILTER_SCAN_ROWS as i64)?
            .set_default("jobs.takeover_after_secs", 30)?
            .set_default("jobs.map_all_links_per_chunk", 10_000)?
            .set_default("provider.key_rotation_days", 90)?
            .set_default("events.retention_days", 30)?
            .set_default("webhooks.retry_base_secs", 5.0)?
            .set_default("webhooks.retry_max_interval_secs", 3600)?
            .set_default("webhooks.retry_for_hours", 24.0)?
            .set_default("webhooks.disable_after_days", 5.0)?
            .set_default("webhooks.secret_overlap_hours", 24)?
            .set_default("webhooks.timeout_secs", 10)?
            .set_default("webhooks.poll_ms", 1000)?
            .set_default("webhooks.concurrency", 16)?;
        if let Some(path) = file {
            if !path.is_file() {
                return Err(ConfigError::File { path: path.display().to_string(), message: "not found".into() });
            }
            builder = builder.add_source(config::File::from(path).format(config::FileFormat::Toml));
        }
        let env = read_file_variables(env)?;
        builder = builder.add_source(
            config::Environment::with_prefix("PORTICO").prefix_separator("__").separator("__").source(Some(env)),
        );
        let raw: Raw = builder.build()?.try_deserialize()?;
        Self::validate(raw)
    }

    fn validate(raw: Raw) -> Result<Settings, ConfigError> {
        let bind: SocketAddr = raw.server.bind.parse().map_err(|_| {
            invalid("server.bind", format!("`{}` is not an address and port such as 127.0.0.1:8080", raw.server.bind))
        })?;
        let public_url_text = raw.server.public_url.unwrap_or_else(|| {
            let host = if bind.ip().is_unspecified() { "127.0.0.1".to_owned() } else { bind.ip().to_string() };
            let host = if bind.is_ipv6() && !bind.ip().is_unspecified() { format!("[{host}]") } else { host };
            format!("http://{host}:{}", bind.port())
        });
        let public_url = Url::parse(&public_url_text)
            .map_err(|e| invalid("server.public_url", format!("`{public_url_text}` is not a URL: {e}")))?;
        if !matches!(public_url.scheme(), "http" | "https") || public_url.host().is_none() {
            return Err(invalid("server.public_url", "must be an http:// or https:// URL with a host"));
        }
        if public_url.query().is_some() || public_url.fragment().is_some() {
            return Err(invalid("server.public_url", "must not have a query or fragment"));
        }
        let database_url = match raw.database.url {
            Some(url) => url,
            None => format!("sqlite://{}", raw.data.dir.join("portico.db").display()),
        };
        directory::DatabaseUrl::parse(&database_url).map_err(|m| invalid("database.url", m))?;
        let pool_size = u32::try_from(raw.database.pool_size)
            .ok()
            .filter(|n| (1..=256).contains(n))
            .ok_or_else(|| invalid("database.pool_size", "must be between 1 and 256"))?;
        let log_format = match raw.log.format.as_str() {
            "pretty" => LogFormat::Pretty,
            "json" => LogFormat::Json,
            other => {
                return Err(invalid("log.format", format!("`{other}` is not one of: pretty, json")));
            }
        };
        tracing_subscriber::EnvFilter::try_new(&raw.log.level)
            .map_err(|e| invalid("log.level", format!("`{}`: {e}", raw.log.level)))?;
        let secret_key = match raw.security.secret_key {
            Some(key) => {
                if key.expose_secret().len() < 32 {
                    return Err(invalid("security.secret_key", "must be at least 32 characters long"));
                }
                key
            }
            None => load_or_create_secret(&raw.data.dir)?,
        };
        if !(0..=600).contains(&raw.sso.clock_skew_secs) {
            return Err(invalid("sso.clock_skew_secs", "must be between 0 and 600 seconds"));
        }
        let trusted_proxies =
            crate::proxy::parse_trusted(&raw.server.trusted_proxies.map(OneOrMany::into_vec).unwrap_or_default())
                .map_err(|m| invalid("server.trusted_proxies", m))?;
        let database_wait = seconds("database.wait_secs", raw.database.wait_secs, 0..=3600)?;
        let shutdown_grace = seconds("server.shutdown_grace_secs", raw.server.shutdown_grace_secs, 1..=600)?;
        let job_takeover_after = seconds("jobs.takeover_after_secs", raw.jobs.takeover_after_secs, 5..=3600)?;
        let sso_max_saml_response_bytes = usize::try_from(raw.sso.max_saml_response_bytes)
            .ok()
            .filter(|n| (16 * 1024..=16 * 1024 * 1024).contains(n))
            .ok_or_else(|| invalid("sso.max_saml_response_bytes", "must be between 16384 and 16777216"))?;
        let sso_refusals_per_minute = u32::try_from(raw.sso.refusals_per_minute)
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| invalid("sso.refusals_per_minute", "must be at least 1"))?;
        let sso_outbound_proxy = match raw.sso.outbound_proxy.map(|p| p.trim().to_owned()).filter(|p| !p.is_empty()) {
            None => None,
            Some(text) => {
                let url = Url::parse(&text)
                    .map_err(|e| invalid("sso.outbound_proxy", format!("`{text}` is not a URL: {e}")))?;
                if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
                    return Err(invalid("sso.outbound_proxy", "must be an http:// or https:// URL with a host"));
                }
                Some(url)
            }
        };
        let scim_max_filter_scan_rows = usize::try_from(raw.scim.max_filter_scan_rows)
            .ok()
            .filter(|n| (1..=10_000_000).contains(n))
            .ok_or_else(|| invalid("scim.max_filter_scan_rows", "must be between 1 and 10000000"))?;
        let provider_key_rotation = match raw.provider.key_rotation_days {
            0 => None,
            d @ 1..=3650 => Some(chrono::Duration::days(d)),
            _ => return Err(invalid("provider.key_rotation_days", "must be between 0 (never) and 3650 days")),
        };
        let w = &raw.webhooks;
        if !(1..=3650).contains(&raw.events.retention_days) {
            return Err(invalid("events.retention_days", "must be between 1 and 3650 days"));
        }
        if !(0.01..=3600.0).contains(&w.retry_base_secs) {
            return Err(invalid("webhooks.retry_base_secs", "must be between 0.01 and 3600 seconds"));
        }
        if !(1..=86_400).contains(&w.retry_max_interval_secs) {
            return Err(invalid("webhooks.retry_max_interval_secs", "must be between 1 and 86400 seconds"));
        }
        if !(0.001..=720.0).contains(&w.retry_for_hours) {
            return Err(invalid("webhooks.retry_for_hours", "must be between 0.001 and 720 hours"));
        }
        if !(0.001..=365.0).contains(&w.disable_after_days) {
            return Err(invalid("webhooks.disable_after_days", "must be between 0.001 and 365 days"));
        }
        if !(0..=720).contains(&w.secret_overlap_hours) {
            return Err(invalid("webhooks.secret_overlap_hours", "must be between 0 and 720 hours"));
        }
        if !(1..=100_000).contains(&w.poll_ms) {
            return Err(invalid("webhooks.poll_ms", "must be between 1 and 100000 milliseconds"));
        }
        if !(1..=256).contains(&w.concurrency) {
            return Err(invalid("webhooks.concurrency", "must be between 1 and 256"));
        }
        let webhook_timeout = seconds("webhooks.timeout_secs", w.timeout_secs, 1..=120)?;
        let webhook_retry = directory::webhook::RetryPolicy {
            base: chrono::Duration::milliseconds((w.retry_base_secs * 1000.0) as i64),
            max_interval: chrono::Duration::seconds(w.retry_max_interval_secs),
            give_up_after: chrono::Duration::milliseconds((w.retry_for_hours * 3_600_000.0) as i64),
            disable_endpoint_after: chrono::Duration::milliseconds((w.disable_after_days * 86_400_000.0) as i64),
        };
        if !(1..=1_000_000).contains(&raw.jobs.map_all_links_per_chunk) {
            return Err(invalid("jobs.map_all_links_per_chunk", "must be between 1 and 1000000"));
        }
        Ok(Settings {
            events_retention: chrono::Duration::days(raw.events.retention_days),
            webhook_retry,
            webhook_secret_overlap: chrono::Duration::hours(raw.webhooks.secret_overlap_hours),
            webhook_timeout,
            webhook_poll: std::time::Duration::from_millis(raw.webhooks.poll_ms as u64),
            webhook_concurrency: raw.webhooks.concurrency as usize,
            public_url_trailing_slash: public_url_text.trim().ends_with('/'),
            provider_key_rotation,
            job_takeover_after,
            map_all_links_per_chunk: raw.jobs.map_all_links_per_chunk,
            shutdown_grace,
            database_wait,
            trusted_proxies,
            sso_clock_skew: chrono::Duration::seconds(raw.sso.clock_skew_secs),
            sso_allow_private_metadata: raw.sso.allow_private_metadata,
            sso_max_saml_response_bytes,
            sso_refusals_per_minute,
            sso_outbound_proxy,
            scim_max_filter_scan_rows,
            sso_requests_per_minute: u32::try_from(raw.sso.requests_per_minute)
                .ok()
                .filter(|n| *n >= 10)
                .ok_or_else(|| invalid("sso.requests_per_minute", "must be at least 10"))?,
            bind,
            public_url,
            database_url,
            pool_size,
            secret_key,
            log_format,
            log_level: raw.log.level,
            data_dir: raw.data.dir,
        })
    }

    /// How this instance runs background jobs.
    pub fn job_settings(&self) -> directory::job::JobSettings {
        directory::job::JobSettings {
            takeover_after: chrono::Duration::from_std(self.job_takeover_after)
                .unwrap_or(chrono::Duration::seconds(30)),
            map_all_links_per_chunk: self.map_all_links_per_chunk,
            ..Default::default()
        }
    }

    /// `public_url` joined with an absolute path, e.g. `/login`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.public_url.as_str().trim_end_matches('/'), path)
    }

    /// The OpenID Provider's issuer: `server.public_url` as configured, character for
    /// character (with the real port when it listens on port 0).
    pub fn issuer(&self) -> String {
        let url = self.public_url.as_str();
        if self.public_url_trailing_slash { url.to_owned() } else { url.trim_end_matches('/').to_owned() }
    }

    /// The largest ACS form body: the `SAMLResponse` limit with room for percent-encoding (a
    /// form encodes `+`, `/` and `=` as three characters each) and a `RelayState`.
    pub fn acs_form_limit(&self) -> usize {
        self.sso_max_saml_response_bytes * 3 + 16 * 1024
    }

    /// Cookies are `Secure` when Portico is reached over HTTPS.
    pub fn secure_cookies(&self) -> bool {
        self.public_url.scheme() == "https"
    }
}

/// Reads `secret.key` from the data folder, creating it (mode 0600) on first start.
/// The `PORTICO__…` variables, where `PORTICO__X__Y_FILE=/path` stands for `PORTICO__X__Y` with
/// the file's contents (without the final line break), so that orchestrators' secret files work
/// for the secret key, the database URL or any other setting. Giving both is refused, as is a
/// file that cannot be read; neither error shows the value.
fn read_file_variables(
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<config::Map<String, String>, ConfigError> {
    let mut vars = config::Map::new();
    let mut files = Vec::new();
    for (key, value) in env.into_iter().filter(|(k, _)| k.starts_with("PORTICO__")) {
        match key.strip_suffix("_FILE") {
            Some(base) => files.push((key.clone(), base.to_owned(), value)),
            None => {
                vars.insert(key, value);
            }
        }
    }
    for (var, base, path) in files {
        if vars.contains_key(&base) {
            return Err(ConfigError::FromFile { var, message: format!("{base} is set too; give one of the two") });
        }
        let text = std::fs::read_to_string(&path)
            .map_err(|e| ConfigError::FromFile { var: var.clone(), message: format!("cannot read {path}: {e}") })?;
        vars.insert(
            base,
            text.strip_suffix('\n').map_or(text.as_str(), |t| t.strip_suffix('\r').unwrap_or(t)).to_owned(),
        );
    }
    Ok(vars)
}

fn load_or_create_secret(dir: &Path) -> Result<SecretString, ConfigError> {
    let path = dir.join("secret.key");
    let err = |source| ConfigError::SecretFile { path: path.display().to_string(), source };
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let key = text.trim().to_owned();
            if key.len() < 32 {
                return Err(invalid(
                    "security.secret_key",
                    format!("{} holds fewer than 32 characters", path.display()),
                ));
            }
            Ok(SecretString::from(key))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).map_err(err)?;
            let key = directory::secret::random_token(32).map_err(|e| err(std::io::Error::other(e)))?;
            write_private(&path, &key).map_err(err)?;
            Ok(SecretString::from(key))
        }
        Err(e) => Err(err(e)),
    }
}

#[cfg(unix)]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(contents.as_bytes())?;
    file.write_all(b"\n")
}

#[cfg(not(unix))]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    std::fs::write(path, contents)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn env(pairs: &[(&str, &str)], dir: &Path) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        v.push(("PORTICO__DATA__DIR".into(), dir.display().to_string()));
        v
    }

    #[test]
    fn defaults_give_sqlite_in_the_data_folder_and_a_private_secret() {
        let dir = tempfile::tempdir().unwrap();
        let s = Settings::load_from(None, env(&[], dir.path())).unwrap();
        assert_eq!(s.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(s.public_url.as_str(), "http://127.0.0.1:8080/");
        assert!(s.database_url.starts_with("sqlite://") && s.database_url.ends_with("portico.db"));
        let key_file = dir.path().join("secret.key");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777, 0o600);
        }
        // The second start reads the same key.
        let again = Settings::load_from(None, env(&[], dir.path())).unwrap();
        assert_eq!(again.secret_key.expose_secret(), s.secret_key.expose_secret());
    }

    #[test]
    fn environment_overrides_file_overrides_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("portico.toml");
        std::fs::write(&file, "[server]\nbind = \"127.0.0.1:9000\"\npublic_url = \"https://sso.example.com\"\n[database]\npool_size = 3\n").unwrap();
        let s = Settings::load_from(Some(&file), env(&[("PORTICO__DATABASE__POOL_SIZE", "5")], dir.path())).unwrap();
        assert_eq!(s.bind.port(), 9000);
        assert_eq!(s.pool_size, 5);
        assert!(s.secure_cookies());
        assert_eq!(s.url("/login"), "https://sso.example.com/login");
    }

    #[test]
    fn settings_come_from_files_named_by_file_variables() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("key");
        std::fs::write(&key, "k".repeat(40) + "\n").unwrap();
        let url = dir.path().join("url");
        std::fs::write(&url, format!("sqlite://{}/from-file.db", dir.path().display())).unwrap();
        let vars = [
            ("PORTICO__SECURITY__SECRET_KEY_FILE", key.to_str().unwrap()),
            ("PORTICO__DATABASE__URL_FILE", url.to_str().unwrap()),
        ];
        let s = Settings::load_from(None, env(&vars, dir.path())).unwrap();
        assert_eq!(s.secret_key.expose_secret(), "k".repeat(40), "the final line break is not part of it");
        assert!(s.database_url.ends_with("/from-file.db"));

        let missing = dir.path().join("nope");
        let vars = [("PORTICO__SECURITY__SECRET_KEY_FILE", missing.to_str().unwrap())];
        let err = Settings::load_from(None, env(&vars, dir.path())).unwrap_err().to_string();
        assert!(err.contains("PORTICO__SECURITY__SECRET_KEY_FILE") && err.contains("nope"), "{err}");
        let both =
            [("PORTICO__SECURITY__SECRET_KEY_FILE", key.to_str().unwrap()), ("PORTICO__SECURITY__SECRET_KEY", "x")];
        let err = Settings::load_from(None, env(&both, dir.path())).unwrap_err().to_string();
        assert!(err.contains("give one of the two") && !err.contains("kkkk"), "{err}");
    }

    #[test]
    fn trusted_proxies_come_as_a_list_or_a_comma_separated_string() {
        let dir = tempfile::tempdir().unwrap();
        let vars = [("PORTICO__SERVER__TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1")];
        let s = Settings::load_from(None, env(&vars, dir.path())).unwrap();
        assert_eq!(s.trusted_proxies.len(), 2);
        let file = dir.path().join("portico.toml");
        std::fs::write(&file, "[server]\nbind = \"127.0.0.1:9000\"\ntrusted_proxies = [\"fd00::/8\"]\n").unwrap();
        assert_eq!(Settings::load_from(Some(&file), env(&[], dir.path())).unwrap().trusted_proxies.len(), 1);
        let none = Settings::load_from(None, env(&[], dir.path())).unwrap();
        assert!(none.trusted_proxies.is_empty(), "nobody is trusted by default");
    }

    #[test]
    fn unknown_keys_and_bad_values_name_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let cases: &[(&str, &str, &str)] = &[
            ("PORTICO__SERVER__BINDD", "x", "bindd"),
            ("PORTICO__NOPE__X", "1", "nope"),
            ("PORTICO__SERVER__BIND", "not-an-address", "server.bind"),
            ("PORTICO__SERVER__PUBLIC_URL", "ftp://x", "server.public_url"),
            ("PORTICO__DATABASE__POOL_SIZE", "0", "database.pool_size"),
            ("PORTICO__DATABASE__URL", "mysql://x", "database.url"),
            ("PORTICO__DATABASE__WAIT_SECS", "-1", "database.wait_secs"),
            ("PORTICO__JOBS__TAKEOVER_AFTER_SECS", "1", "jobs.takeover_after_secs"),
            ("PORTICO__JOBS__MAP_ALL_LINKS_PER_CHUNK", "0", "jobs.map_all_links_per_chunk"),
            ("PORTICO__LOG__FORMAT", "xml", "log.format"),
            ("PORTICO__SECURITY__SECRET_KEY", "short", "security.secret_key"),
            ("PORTICO__SERVER__TRUSTED_PROXIES", "10.0.0.0/8,proxy", "server.trusted_proxies"),
        ];
        for (key, value, named) in cases {
            let err = Settings::load_from(None, env(&[(key, value)], dir.path())).unwrap_err().to_string();
            assert!(err.contains(named), "{key}={value}: `{err}` should name {named}");
        }
        let file = dir.path().join("bad.toml");
        std::fs::write(&file, "[server]\nport = 1\n").unwrap();
        let err = Settings::load_from(Some(&file), env(&[], dir.path())).unwrap_err().to_string();
        assert!(err.contains("port"), "{err}");
    }
}
