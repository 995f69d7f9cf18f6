//! Fetching an IdP's SAML metadata for the "automatic" set-up: bounded in time and size, and
//! redirects followed only within the same host.

use std::time::Duration;

use sso::saml::metadata::MAX_METADATA_BYTES;
use sso::saml::{IdpMetadata, parse_idp_metadata};

/// Fetches and reads `url`; the error is a sentence for the admin.
pub async fn fetch_idp_metadata(url: &str) -> Result<IdpMetadata, String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("`{url}` is not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "https" | "http") {
        return Err("the metadata URL must start with https:// or http://".into());
    }
    let host = parsed.host_str().unwrap_or_default().to_owned();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= 3 || attempt.url().host_str() != Some(host.as_str()) {
                attempt.stop()
            } else {
                attempt.follow()
            }
        }))
        .build()
        .map_err(|e| format!("cannot prepare the request: {e}"))?;
    let mut res =
        client.get(parsed).send().await.map_err(|e| format!("Portico could not reach the metadata URL: {e}"))?;
    if !res.status().is_success() {
        return Err(format!("the metadata URL answered HTTP {}", res.status()));
    }
    if res.content_length().is_some_and(|n| n as usize > MAX_METADATA_BYTES) {
        return Err(format!("the metadata is larger than {MAX_METADATA_BYTES} bytes"));
    }
    let mut body = Vec::new();
    while let Some(chunk) = res.chunk().await.map_err(|e| format!("reading the metadata failed: {e}"))? {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_METADATA_BYTES {
            return Err(format!("the metadata is larger than {MAX_METADATA_BYTES} bytes"));
        }
    }
    let text = String::from_utf8(body).map_err(|_| "the metadata is not UTF-8 text".to_owned())?;
    parse_idp_metadata(&text).map_err(|e| e.to_string())
}
