//! The HTTP client for calls to an OpenID provider. A provider's answers are read into memory, so
//! they are capped in size; its discovery document names the URLs Portico calls next, so each
//! URL passes the caller's policy (HTTPS, public addresses) before it is called; and redirects
//! are never followed.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use openidconnect::reqwest;
use openidconnect::url::Url;
use openidconnect::{AsyncHttpClient, HttpRequest, HttpResponse};

/// The largest answer read from a provider (discovery document, keys, token, userinfo). Real
/// ones are a few kilobytes; a large group list in userinfo stays well inside.
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// A check on every URL before it is called; the error is a sentence for the admin.
pub type UrlPolicy = Arc<dyn Fn(&Url) -> Result<(), String> + Send + Sync>;

/// Why a call to the provider did not produce an answer.
#[derive(Debug, thiserror::Error)]
pub enum ProviderHttpError {
    #[error("{0}")]
    Refused(String),
    #[error("the provider's answer is larger than {MAX_RESPONSE_BYTES} bytes")]
    TooLarge,
    #[error(transparent)]
    Request(#[from] reqwest::Error),
    #[error(transparent)]
    Http(#[from] openidconnect::http::Error),
}

/// Time-limited, never following redirects, bodies capped, URLs checked. Cheap to clone: clones
/// share one connection pool.
#[derive(Clone)]
pub struct ProviderHttp {
    client: reqwest::Client,
    policy: Option<UrlPolicy>,
}

impl fmt::Debug for ProviderHttp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderHttp").field("policy", &self.policy.is_some()).finish_non_exhaustive()
    }
}

/// The settings every provider client has (see [`crate::outbound::client_builder`]): time
/// limits, no redirects, no proxy from the environment. A caller may add its own, such as a
/// resolver that gives out public addresses only.
pub fn client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
}

impl ProviderHttp {
    /// Wraps `client` (built from [`client_builder`]); `policy`, when given, checks each URL.
    pub fn new(client: reqwest::Client, policy: Option<UrlPolicy>) -> ProviderHttp {
        ProviderHttp { client, policy }
    }

    /// The underlying client, for callers that need plain requests (benchmarks, tests).
    pub fn inner(&self) -> &reqwest::Client {
        &self.client
    }

    fn check(&self, url: &Url) -> Result<(), ProviderHttpError> {
        match &self.policy {
            Some(policy) => policy(url).map_err(ProviderHttpError::Refused),
            None => Ok(()),
        }
    }

    /// Sends `request` and reads the answer, at most [`MAX_RESPONSE_BYTES`] of it.
    pub async fn send(&self, request: reqwest::Request) -> Result<(reqwest::Response, Vec<u8>), ProviderHttpError> {
        self.check(request.url())?;
        let mut response = self.client.execute(request).await?;
        if response.content_length().is_some_and(|n| n > MAX_RESPONSE_BYTES as u64) {
            return Err(ProviderHttpError::TooLarge);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(ProviderHttpError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok((response, body))
    }
}

impl<'c> AsyncHttpClient<'c> for ProviderHttp {
    type Error = ProviderHttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, Self::Error>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let request = reqwest::Request::try_from(request)?;
            let (response, body) = self.send(request).await?;
            let mut builder = openidconnect::http::Response::builder().status(response.status());
            for (name, value) in response.headers() {
                builder = builder.header(name, value);
            }
            Ok(builder.body(body)?)
        })
    }
}
