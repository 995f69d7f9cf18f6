//! Typed helpers: spawn Portico, call its API with a key, drive its console like a browser.

use std::sync::Arc;

use directory::testing::TestDatabase;
use directory::{Actor, Backend, Ctx, Directory, SystemClock};
use gateway::config::Settings;
use gateway::startup::Application;
use reqwest::{Client, Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};

/// A running Portico with its own database.
pub struct TestApp {
    pub base: String,
    pub directory: Directory,
    pub operator_key: String,
    pub client: Client,
    /// Stops the server; `both_backends!` does at the end of each test.
    pub server: actix_web::dev::ServerHandle,
    _db: TestDatabase,
    _data: tempfile::TempDir,
}

impl TestApp {
    /// Starts Portico on `backend`; `None` when PostgreSQL is skipped on this machine.
    pub async fn spawn(backend: Backend) -> Option<TestApp> {
        Self::spawn_with(backend, &[]).await
    }

    /// As [`TestApp::spawn`], with more `PORTICO__…` settings.
    pub async fn spawn_with(backend: Backend, extra: &[(&str, &str)]) -> Option<TestApp> {
        Self::spawn_with_clock(backend, extra, Arc::new(SystemClock)).await
    }

    /// As [`TestApp::spawn_with`], with the domain's clock given (tests that move time).
    pub async fn spawn_with_clock(
        backend: Backend,
        extra: &[(&str, &str)],
        clock: Arc<dyn directory::Clock>,
    ) -> Option<TestApp> {
        let db = TestDatabase::new(backend)?;
        let data = tempfile::tempdir().unwrap();
        let env = vec![
            ("PORTICO__SERVER__BIND".to_owned(), "127.0.0.1:0".to_owned()),
            ("PORTICO__DATABASE__URL".to_owned(), db.url.clone()),
            ("PORTICO__DATABASE__POOL_SIZE".to_owned(), "4".to_owned()),
            ("PORTICO__DATA__DIR".to_owned(), data.path().display().to_string()),
            ("PORTICO__LOG__LEVEL".to_owned(), "warn".to_owned()),
            // The test IdPs publish their metadata on loopback over HTTP.
            ("PORTICO__SSO__ALLOW_PRIVATE_METADATA".to_owned(), "true".to_owned()),
        ];
        let mut env = env;
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let settings = Settings::load_from(None, env).unwrap();
        let directory =
            Directory::connect(&settings.database_url, 4, clock).unwrap().with_job_settings(settings.job_settings());
        directory.migrate().unwrap();
        let app = Application::build(settings, directory.clone()).unwrap();
        let base = format!("http://127.0.0.1:{}", app.port());
        let server = app.handle();
        actix_web::rt::spawn(app.run_until_stopped());
        let operator_key = directory.create_api_key(&Ctx::new(&Actor::System, None), None, "tests").unwrap().token;
        // Idle connections go before the server's keep-alive (5 s) ends them, so that a test
        // that pauses does not reuse a connection the server is closing.
        let client = Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .pool_idle_timeout(std::time::Duration::from_secs(2))
            .build()
            .unwrap();
        Some(TestApp { base, directory, operator_key, client, server, _db: db, _data: data })
    }

    /// The database's URL, for a second pool on it (as another instance would have).
    pub fn directory_url(&self) -> String {
        self._db.url.clone()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// An admin API request authenticated with `key`.
    pub fn api(&self, method: Method, path: &str, key: &str) -> RequestBuilder {
        self.client.request(method, self.url(path)).bearer_auth(key)
    }

    /// An enterprise created through the API with the operator key.
    pub async fn create_enterprise(&self, key: &str) -> Value {
        let res = self
            .api(Method::POST, "/api/v1/enterprises", &self.operator_key)
            .json(&json!({"key": key, "name": format!("{key} corporation")}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
        res.json().await.unwrap()
    }

    pub async fn create_organization(&self, enterprise: &str, key: &str) -> Value {
        let res = self
            .api(Method::POST, &format!("/api/v1/enterprises/{enterprise}/organizations"), &self.operator_key)
            .json(&json!({"key": key, "name": format!("{key} team")}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
        res.json().await.unwrap()
    }

    /// A SAML connection (manual settings, a fresh test IdP) created with the operator key.
    pub async fn create_saml_connection(&self, enterprise: &str) -> Value {
        let idp = sso::testing::TestIdp::new("idp");
        let res = self
            .api(Method::POST, &format!("/api/v1/enterprises/{enterprise}/connections"), &self.operator_key)
            .json(&json!({"protocol": "saml", "provider": "other", "saml": {
                "sso_url": "https://idp.test/sso", "idp_entity_id": idp.entity_id, "certificates": [idp.cert_pem()]
            }}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
        res.json().await.unwrap()
    }

    /// An admin API key for one enterprise.
    pub fn enterprise_key(&self, enterprise: &str) -> String {
        self.directory.create_api_key(&Ctx::new(&Actor::System, None), Some(enterprise), "tests").unwrap().token
    }
}

/// A problem+json body, checked for the fields every problem has.
pub async fn problem(res: Response, status: StatusCode) -> Value {
    assert_eq!(res.status(), status);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], status.as_u16());
    assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()), "{body}");
    assert!(body["operation_id"].as_str().is_some(), "{body}");
    body
}

/// The CSRF token of the first form in an HTML page.
pub fn csrf_of(html: &str) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker).expect("a form with a CSRF token") + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

/// Runs an async test once per backend; `in MODULE with [(KEY, VALUE), …]; tests` runs them
/// with more `PORTICO__…` settings, in a module of that name.
#[macro_export]
macro_rules! both_backends {
    (in $module:ident with [$(($key:expr, $value:expr)),* $(,)?]; $($name:ident),* $(,)?) => {
        mod $module {
            const SETTINGS: &[(&str, &str)] = &[$(($key, $value)),*];
            mod sqlite {
                $( #[actix_web::test] async fn $name() {
                    let app = $crate::helpers::TestApp::spawn_with(directory::Backend::Sqlite, super::SETTINGS).await.unwrap();
                    let server = app.server.clone();
                    super::super::$name(app).await;
                    server.stop(false).await;
                } )*
            }
            mod postgres {
                $( #[actix_web::test] async fn $name() {
                    if let Some(app) = $crate::helpers::TestApp::spawn_with(directory::Backend::Postgres, super::SETTINGS).await {
                        let server = app.server.clone();
                        super::super::$name(app).await;
                        server.stop(false).await;
                    }
                } )*
            }
        }
    };
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[actix_web::test] async fn $name() {
                let app = $crate::helpers::TestApp::spawn(directory::Backend::Sqlite).await.unwrap();
                let server = app.server.clone();
                super::$name(app).await;
                server.stop(false).await;
            } )*
        }
        mod postgres {
            $( #[actix_web::test] async fn $name() {
                if let Some(app) = $crate::helpers::TestApp::spawn(directory::Backend::Postgres).await {
                    let server = app.server.clone();
                    super::$name(app).await;
                    server.stop(false).await;
                }
            } )*
        }
    };
}

/// What some tests need beyond the build packages; `./dev test` installs all of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    /// Debian's chromium and chromium-driver.
    Chromium,
    /// Node.js and the npm SAML IdP (samlp) in `interop/node_modules`.
    SamlIdp,
    /// Node.js and the npm OpenID Provider (oidc-provider) in `interop/node_modules`.
    OpenIdProvider,
    /// Node.js and the OpenID-certified relying party (openid-client) in `interop/node_modules`.
    RelyingParty,
    /// The SCIM compliance checker (scim2-tester) in `interop/scim/.venv`.
    ScimTester,
    /// kubernetes-validate and check-jsonschema in `deploy/.venv`.
    DeployValidators,
    /// The Standard Webhooks verifier (standardwebhooks) in `interop/webhooks/.venv`.
    WebhookVerifier,
    /// Node.js and panva's jose in `interop/node_modules`.
    Jose,
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| std::env::split_paths(&paths).any(|p| p.join(program).is_file()))
}

impl Tool {
    fn present(self) -> bool {
        let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
        match self {
            Tool::Chromium => {
                std::path::Path::new("/usr/bin/chromium").exists()
                    && std::path::Path::new("/usr/bin/chromedriver").exists()
            }
            Tool::SamlIdp => on_path("node") && root.join("interop/node_modules/samlp").is_dir(),
            Tool::OpenIdProvider => on_path("node") && root.join("interop/node_modules/oidc-provider").is_dir(),
            Tool::RelyingParty => on_path("node") && root.join("interop/node_modules/openid-client").is_dir(),
            Tool::ScimTester => root.join("interop/scim/.venv/.installed").is_file(),
            Tool::DeployValidators => root.join("deploy/.venv/.installed").is_file(),
            Tool::WebhookVerifier => root.join("interop/webhooks/.venv/.installed").is_file(),
            Tool::Jose => on_path("node") && root.join("interop/node_modules/jose").is_dir(),
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Tool::Chromium => "Chromium and chromedriver (Debian packages chromium, chromium-driver)",
            Tool::SamlIdp => "the npm SAML IdP (node, and npm ci in interop/)",
            Tool::OpenIdProvider => "the npm OpenID Provider (node, and npm ci in interop/)",
            Tool::RelyingParty => "the npm relying party openid-client (node, and npm ci in interop/)",
            Tool::ScimTester => "the SCIM compliance checker (interop/scim/.venv)",
            Tool::DeployValidators => "the deployment validators (deploy/.venv)",
            Tool::WebhookVerifier => "the Standard Webhooks verifier (interop/webhooks/.venv)",
            Tool::Jose => "panva's jose (node, and npm ci in interop/)",
        }
    }
}

/// True when `tool` is installed. When it is not, the test calling this is skipped, and says
/// so on the terminal (past the test harness's capture); with `PORTICO_TEST_REQUIRE_ALL=1`
/// (set by CI) a missing tool fails the test instead. `./dev test` installs every tool.
pub fn available(tool: Tool) -> bool {
    if tool.present() {
        return true;
    }
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("a test");
    if std::env::var("PORTICO_TEST_REQUIRE_ALL").is_ok_and(|v| v == "1") {
        panic!("{test} needs {} (PORTICO_TEST_REQUIRE_ALL=1): run ./dev test, which installs it", tool.describe());
    }
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "skipped {test}: it needs {}, which ./dev test installs", tool.describe());
    false
}
