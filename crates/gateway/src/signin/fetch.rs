//! Fetching an IdP's SAML metadata for the "automatic" set-up. The certificates in it become
//! trusted signing keys, so it is fetched over HTTPS only, from public addresses only (no
//! loopback, private, link-local or metadata-service addresses: an admin must not be able to make
//! Portico probe its own network), without following redirects, bounded in time and size.
//! `sso.allow_private_metadata` lifts the address and HTTPS rules for tests and closed networks.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use sso::saml::metadata::MAX_METADATA_BYTES;
use sso::saml::{IdpMetadata, parse_idp_metadata};

fn public_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || o[0] == 0
        || (o[0] == 100 && (64..128).contains(&o[1]))
        || (o[0] == 198 && (o[1] == 18 || o[1] == 19))
        || o[0] >= 240)
}

/// True for addresses on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => public_v4(v4),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            let embedded = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
            // Addresses that carry an IPv4 address are judged by it: IPv4-mapped and -compatible
            // (also `::1` and `::`, which carry 0.0.0.x), NAT64 (64:ff9b::/96) and 6to4 (2002::/16).
            if let Some(v4) = v6.to_ipv4() {
                return public_v4(v4);
            }
            if s[0] == 0x64 && s[1] == 0xff9b {
                return public_v4(embedded(s[6], s[7]));
            }
            if s[0] == 0x2002 {
                return public_v4(embedded(s[1], s[2]));
            }
            !(v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                // Teredo tunnels and the documentation range.
                || (s[0] == 0x2001 && (s[1] == 0 || s[1] == 0xdb8)))
        }
    }
}

/// A resolver that gives out public addresses only, for the client that talks to OpenID
/// providers: every call (discovery, keys, token, userinfo) connects to an address checked at
/// the moment of connecting, so neither a provider's metadata nor a DNS answer that changes
/// between check and use can point Portico at its own network.
#[derive(Debug, Default)]
pub struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.filter(|a| is_public(a.ip())).collect();
            if addrs.is_empty() {
                return Err(format!("{host} resolves to no public address").into());
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The rule for a URL Portico will call that an admin (or an admin's provider) chose: HTTPS,
/// and no internal address written literally (host names are checked by [`PublicOnly`]).
pub fn check_public_url(url: &url::Url) -> Result<(), String> {
    if url.scheme() != "https" {
        return Err(format!("{url} is not an https:// URL"));
    }
    let ip = match url.host() {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip),
        Some(url::Host::Domain(_)) => return Ok(()),
        None => return Err(format!("{url} has no host")),
    };
    if is_public(ip) { Ok(()) } else { Err(format!("{ip} is not a public address")) }
}

/// Fetches and reads `url`; the error is a sentence for the admin.
pub async fn fetch_idp_metadata(url: &str, allow_private: bool) -> Result<IdpMetadata, String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("`{url}` is not a URL: {e}"))?;
    match parsed.scheme() {
        "https" => {}
        "http" if allow_private => {}
        _ => return Err("the metadata URL must start with https://".into()),
    }
    let host = parsed.host_str().ok_or("the metadata URL has no host")?.to_owned();
    let port = parsed.port_or_known_default().unwrap_or(443);
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.trim_matches(['[', ']']), port))
        .await
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .collect();
    let Some(addr) = addrs.iter().copied().find(|a| allow_private || is_public(a.ip())) else {
        return Err(format!("{host} resolves to no public address; Portico fetches metadata from the internet only"));
    };
    // Connect to the address checked above, not to whatever a second resolution would give.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none())
        .resolve(&host, addr)
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

    #[test]
    fn internal_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:10.0.0.1",
            "::10.0.0.1",
            "64:ff9b::a00:1",
            "2002:a00:1::1",
            "2001:db8::1",
            "2001:0:4136:e378::1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "140.82.112.3", "2606:4700::1111", "64:ff9b::808:808", "2002:808:808::1"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn provider_urls_must_be_https_and_not_internal() {
        for bad in [
            "http://login.example.com/token",
            "https://10.0.0.1/token",
            "https://[::1]/keys",
            "https://169.254.169.254/",
        ] {
            assert!(check_public_url(&url::Url::parse(bad).unwrap()).is_err(), "{bad}");
        }
        for good in ["https://login.example.com/token", "https://140.82.112.3/keys"] {
            assert!(check_public_url(&url::Url::parse(good).unwrap()).is_ok(), "{good}");
        }
    }

    #[actix_web::test]
    async fn the_provider_resolver_gives_no_internal_address() {
        use reqwest::dns::Resolve;
        let name: reqwest::dns::Name = "localhost".parse().unwrap();
        let e = PublicOnly.resolve(name).await.err().unwrap();
        assert!(e.to_string().contains("no public address"), "{e}");
        // And a client using it will not connect to a name that resolves to loopback.
        let client = reqwest::Client::builder().dns_resolver(std::sync::Arc::new(PublicOnly)).build().unwrap();
        assert!(client.get("http://localhost:9/").send().await.is_err());
    }

    #[actix_web::test]
    async fn http_and_loopback_metadata_are_refused_by_default() {
        let e = fetch_idp_metadata("http://127.0.0.1:9/metadata", false).await.unwrap_err();
        assert!(e.contains("https://"), "{e}");
        let e = fetch_idp_metadata("https://127.0.0.1:9/metadata", false).await.unwrap_err();
        assert!(e.contains("no public address"), "{e}");
        let e = fetch_idp_metadata("https://localhost:9/metadata", false).await.unwrap_err();
        assert!(e.contains("no public address"), "{e}");
    }
}
