//! Fetching an IdP's SAML metadata for the "automatic" set-up. The certificates in it become
//! trusted signing keys, so it is fetched over HTTPS only, from public addresses only (no
//! loopback, private, link-local or metadata-service addresses: an admin must not be able to make
//! Portico probe its own network), without following redirects, bounded in time and size.
//! `sso.allow_private_metadata` lifts the address and HTTPS rules for tests and closed networks.

use std::net::SocketAddr;

use sso::outbound::is_public;
use sso::saml::metadata::MAX_METADATA_BYTES;
use sso::saml::{IdpMetadata, parse_idp_metadata};

/// Fetches and reads `url`; the error is a sentence for the admin. Through `proxy` when one is
/// configured (`sso.outbound_proxy`), never through one named by the environment.
pub async fn fetch_idp_metadata(
    url: &str,
    allow_private: bool,
    proxy: Option<&url::Url>,
) -> Result<IdpMetadata, String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("`{url}` is not a URL: {e}"))?;
    match parsed.scheme() {
        "https" => {}
        "http" if allow_private => {}
        _ => return Err("the metadata URL must start with https://".into()),
    }
    let host = parsed.host_str().ok_or("the metadata URL has no host")?.to_owned();
    let client = match proxy {
        // Through a proxy, the proxy resolves and connects: only an internal address written
        // in the URL itself is refused here (the proxy's policy answers for the rest).
        Some(_) => {
            if !allow_private {
                sso::outbound::check_public_url(&parsed)?;
            }
            sso::outbound::client_builder(proxy)?
        }
        None => {
            let port = parsed.port_or_known_default().unwrap_or(443);
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.trim_matches(['[', ']']), port))
                .await
                .map_err(|e| format!("cannot resolve {host}: {e}"))?
                .collect();
            let Some(addr) = addrs.iter().copied().find(|a| allow_private || is_public(a.ip())) else {
                return Err(format!(
                    "{host} resolves to no public address; Portico fetches metadata from the internet only"
                ));
            };
            // Connect to the address checked above, not to whatever a second resolution would give.
            sso::outbound::client_builder(None)?.resolve(&host, addr)
        }
    }
    .build()
    .map_err(|e| format!("cannot prepare the request: {e}"))?;
    let mut res =
        client.get(parsed).send().await.map_err(|e| format!("Portico could not reach the metadata URL: {e}"))?;
    if res.status().is_redirection() {
        return Err("the metadata URL redirects elsewhere: give the final URL".into());
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_web::test]
    async fn http_and_loopback_metadata_are_refused_by_default() {
        let e = fetch_idp_metadata("http://127.0.0.1:9/metadata", false, None).await.unwrap_err();
        assert!(e.contains("https://"), "{e}");
        let e = fetch_idp_metadata("https://127.0.0.1:9/metadata", false, None).await.unwrap_err();
        assert!(e.contains("no public address"), "{e}");
        let e = fetch_idp_metadata("https://localhost:9/metadata", false, None).await.unwrap_err();
        assert!(e.contains("no public address"), "{e}");
    }

    #[actix_web::test]
    async fn the_provider_resolver_gives_no_internal_address() {
        use reqwest::dns::Resolve;
        let name: reqwest::dns::Name = "localhost".parse().unwrap();
        let e = sso::outbound::PublicOnly.resolve(name).await.err().unwrap();
        assert!(e.to_string().contains("no public address"), "{e}");
        // And a client using it will not connect to a name that resolves to loopback.
        let client =
            reqwest::Client::builder().dns_resolver(std::sync::Arc::new(sso::outbound::PublicOnly)).build().unwrap();
        assert!(client.get("http://localhost:9/").send().await.is_err());
    }
}
