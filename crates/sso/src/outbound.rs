//! The one policy for Portico's outbound HTTP, where an admin or an identity provider names the
//! URL (IdP metadata, an OpenID provider's discovery document, keys, token and userinfo
//! endpoints, and later webhook deliveries): HTTPS to public addresses only, checked when each
//! connection is made; no redirects followed; time limits; answers read up to a size cap; and no
//! proxy but the one configured. [`Policy`] says what is allowed, [`Outbound`] is the client
//! that applies it (also as the HTTP client of the `openidconnect` crate).
//!
//! An admin must not be able to make Portico probe its own network or its cloud's metadata
//! service, so every address in a special-purpose block of IANA's IPv4 and IPv6 Special-Purpose
//! Address Registries is refused (private, loopback, link-local, shared, documentation,
//! benchmarking, protocol assignments, anycast, AS112, translation and tunnel prefixes,
//! reserved), as are multicast and the deprecated site-local and IPv4-compatible blocks.
//! NAT64 addresses (`64:ff9b::/96`) and IPv4-mapped ones are judged by the IPv4 address they
//! carry, so that IPv6-only deployments behind DNS64 still reach public providers.
//!
//! `HTTP_PROXY`/`HTTPS_PROXY` in the environment are ignored: a proxy would resolve and connect
//! on Portico's behalf, past these checks. An operator who needs one names it in
//! `sso.outbound_proxy`, and answers for what it lets through.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use openidconnect::reqwest;
use url::Url;

/// IPv4 blocks that are not the public internet: (network, prefix length).
const V4_BLOCKED: [([u8; 4], u8); 19] = [
    ([0, 0, 0, 0], 8),          // "this network"
    ([10, 0, 0, 0], 8),         // private
    ([100, 64, 0, 0], 10),      // shared address space (carrier-grade NAT)
    ([127, 0, 0, 0], 8),        // loopback
    ([169, 254, 0, 0], 16),     // link-local, cloud metadata services
    ([172, 16, 0, 0], 12),      // private
    ([192, 0, 0, 0], 24),       // IETF protocol assignments (PCP and TURN anycast, NAT64 discovery)
    ([192, 0, 2, 0], 24),       // documentation (TEST-NET-1)
    ([192, 31, 196, 0], 24),    // AS112
    ([192, 52, 193, 0], 24),    // AMT
    ([192, 88, 99, 0], 24),     // deprecated 6to4 relay anycast
    ([192, 168, 0, 0], 16),     // private
    ([192, 175, 48, 0], 24),    // direct delegation AS112
    ([198, 18, 0, 0], 15),      // benchmarking
    ([198, 51, 100, 0], 24),    // documentation (TEST-NET-2)
    ([203, 0, 113, 0], 24),     // documentation (TEST-NET-3)
    ([224, 0, 0, 0], 4),        // multicast
    ([240, 0, 0, 0], 4),        // reserved
    ([255, 255, 255, 255], 32), // limited broadcast
];

/// IPv6 blocks that are not the public internet: (network, prefix length).
const V6_BLOCKED: [(u128, u8); 25] = [
    (0, 128),                                                // unspecified
    (1, 128),                                                // loopback
    (0, 96),                                                 // IPv4-compatible (deprecated)
    (0xffff << 48, 96),                                      // IPv4-translated (SIIT), ::ffff:0:a.b.c.d
    (0x0064_ff9b_0001 << 80, 48),                            // local-use IPv4/IPv6 translation
    (0x0100 << 112, 64),                                     // discard-only
    ((0x0100 << 112) | (1 << 64), 64),                       // dummy IPv6 prefix
    (0x2001 << 112, 23),                                     // IETF protocol assignments
    (0x2001 << 112, 32),                                     // Teredo
    ((0x2001 << 112) | (0x0001 << 96) | 1, 128),             // PCP anycast
    ((0x2001 << 112) | (0x0001 << 96) | 2, 128),             // TURN anycast
    ((0x2001 << 112) | (0x0001 << 96) | 3, 128),             // DNS-SD SRP anycast
    ((0x2001 << 112) | (0x0002 << 96), 48),                  // benchmarking
    ((0x2001 << 112) | (0x0003 << 96), 32),                  // AMT
    ((0x2001 << 112) | (0x0004 << 96) | (0x0112 << 80), 48), // AS112
    ((0x2001 << 112) | (0x0010 << 96), 28),                  // ORCHID, ORCHIDv2, drone remote ID
    ((0x2001 << 112) | (0x0db8 << 96), 32),                  // documentation
    (0x2002 << 112, 16),                                     // 6to4
    ((0x2620 << 112) | (0x004f << 96) | (0x8000 << 80), 48), // direct delegation AS112
    (0x3fff << 112, 20),                                     // documentation
    (0x5f00 << 112, 16),                                     // segment routing (SRv6) SIDs
    (0xfc00 << 112, 7),                                      // unique local
    (0xfe80 << 112, 10),                                     // link-local
    (0xfec0 << 112, 10),                                     // site-local (deprecated)
    (0xff00 << 112, 8),                                      // multicast
];

fn v4_in(ip: Ipv4Addr, (net, len): ([u8; 4], u8)) -> bool {
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - u32::from(len)) };
    u32::from(ip) & mask == u32::from(Ipv4Addr::from(net)) & mask
}

fn v6_in(ip: Ipv6Addr, (net, len): (u128, u8)) -> bool {
    let mask = if len == 0 { 0 } else { u128::MAX << (128 - u32::from(len)) };
    u128::from(ip) & mask == net & mask
}

fn public_v4(ip: Ipv4Addr) -> bool {
    !V4_BLOCKED.iter().any(|block| v4_in(ip, *block))
}

/// True for addresses on the public internet (see the module comment).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return public_v4(v4);
            }
            if v6_in(v6, (0x0064_ff9b << 96, 96)) {
                let [.., a, b, c, d] = v6.octets();
                return public_v4(Ipv4Addr::new(a, b, c, d));
            }
            !V6_BLOCKED.iter().any(|block| v6_in(v6, *block))
        }
    }
}

/// The rule for a URL Portico will call that an admin or a provider chose: HTTPS, and no
/// internal address written literally (host names are checked when connecting, by
/// [`PublicOnly`]).
pub fn check_public_url(url: &Url) -> Result<(), String> {
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

/// A resolver that gives out public addresses only: every connection goes to an address
/// checked at the moment of connecting, so neither a provider's metadata nor a DNS answer that
/// changes between a check and its use can point Portico at its own network.
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

/// The largest answer read by default (discovery documents, keys, tokens, userinfo, IdP
/// metadata are a few kilobytes; large group lists stay well inside).
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// What outbound requests may do.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Plain `http://` and private addresses allowed: tests and closed networks only
    /// (`sso.allow_private_metadata`).
    pub allow_private: bool,
    /// The proxy requests go through (`sso.outbound_proxy`); the environment's are ignored.
    /// Through a proxy, host names are resolved by the proxy, which answers for where they lead.
    pub proxy: Option<Url>,
    /// The largest answer read.
    pub max_bytes: usize,
    pub timeout: Duration,
    pub connect_timeout: Duration,
}

impl Policy {
    /// HTTPS to public addresses, directly, answers up to [`MAX_RESPONSE_BYTES`], 10 seconds.
    pub fn public() -> Policy {
        Policy {
            allow_private: false,
            proxy: None,
            max_bytes: MAX_RESPONSE_BYTES,
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
        }
    }

    /// As [`Policy::public`], with plain HTTP and private addresses allowed (tests, closed
    /// networks).
    pub fn private() -> Policy {
        Policy { allow_private: true, ..Policy::public() }
    }

    pub fn with_proxy(mut self, proxy: Option<Url>) -> Policy {
        self.proxy = proxy;
        self
    }

    /// Checks a URL before anything is sent to it.
    pub fn check(&self, url: &Url) -> Result<(), OutboundError> {
        if self.allow_private {
            return match url.scheme() {
                "http" | "https" => Ok(()),
                other => Err(OutboundError::Refused(format!("{url}: `{other}` is not HTTP"))),
            };
        }
        check_public_url(url).map_err(OutboundError::Refused)
    }
}

/// Why an outbound request gave no usable answer; the message is a sentence for an admin.
#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    #[error("{0}")]
    Refused(String),
    #[error("the answer is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("the URL redirects elsewhere (Portico follows no redirect): give the final URL")]
    Redirected,
    #[error("the server answered HTTP {0}")]
    Status(u16),
    #[error("{}", chain(.0))]
    Request(#[from] reqwest::Error),
    #[error(transparent)]
    Http(#[from] openidconnect::http::Error),
}

/// An error and its sources, as one sentence (reqwest hides the interesting part, such as
/// "resolves to no public address", in a source).
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// The client that applies a [`Policy`]. Cheap to clone: clones share one connection pool.
#[derive(Clone)]
pub struct Outbound {
    client: reqwest::Client,
    policy: std::sync::Arc<Policy>,
}

impl std::fmt::Debug for Outbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbound").field("policy", &self.policy).finish_non_exhaustive()
    }
}

impl Outbound {
    /// A client for `policy`: its time limits, no redirects, its proxy or none, and (unless
    /// private addresses are allowed, or a proxy resolves names) a resolver that gives out
    /// public addresses only.
    pub fn new(policy: Policy) -> Result<Outbound, OutboundError> {
        let builder = reqwest::Client::builder()
            .timeout(policy.timeout)
            .connect_timeout(policy.connect_timeout)
            .redirect(reqwest::redirect::Policy::none());
        let builder = match &policy.proxy {
            None => builder.no_proxy(),
            Some(url) => builder.proxy(
                reqwest::Proxy::all(url.as_str())
                    .map_err(|e| OutboundError::Refused(format!("the outbound proxy: {e}")))?,
            ),
        };
        let builder = if policy.allow_private || policy.proxy.is_some() {
            builder
        } else {
            builder.dns_resolver(std::sync::Arc::new(PublicOnly))
        };
        Ok(Outbound { client: builder.build()?, policy: std::sync::Arc::new(policy) })
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The underlying client, for callers that need plain requests (benchmarks, tests).
    pub fn inner(&self) -> &reqwest::Client {
        &self.client
    }

    /// Sends `request` once its URL passed the policy, and reads the answer, at most
    /// `max_bytes` of it.
    pub async fn send(&self, request: reqwest::Request) -> Result<(reqwest::Response, Vec<u8>), OutboundError> {
        self.policy.check(request.url())?;
        let limit = self.policy.max_bytes;
        let mut response = self.client.execute(request).await?;
        if response.content_length().is_some_and(|n| n > limit as u64) {
            return Err(OutboundError::TooLarge { limit });
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            if body.len() + chunk.len() > limit {
                return Err(OutboundError::TooLarge { limit });
            }
            body.extend_from_slice(&chunk);
        }
        Ok((response, body))
    }

    /// `GET url`, a successful answer's body only: a redirect or another status is an error.
    pub async fn get(&self, url: &Url) -> Result<Vec<u8>, OutboundError> {
        let request = self.client.get(url.clone()).build()?;
        let (response, body) = self.send(request).await?;
        let status = response.status();
        if status.is_redirection() {
            return Err(OutboundError::Redirected);
        }
        if !status.is_success() {
            return Err(OutboundError::Status(status.as_u16()));
        }
        Ok(body)
    }
}

impl<'c> openidconnect::AsyncHttpClient<'c> for Outbound {
    type Error = OutboundError;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<openidconnect::HttpResponse, Self::Error>> + Send + 'c>,
    >;

    fn call(&'c self, request: openidconnect::HttpRequest) -> Self::Future {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn public(ip: &str) -> bool {
        is_public(ip.parse().unwrap_or_else(|e| panic!("{ip}: {e}")))
    }

    #[test]
    fn every_special_purpose_block_is_refused() {
        for ip in [
            "0.1.2.3",
            "10.1.2.3",
            "100.64.0.1",
            "100.127.255.254",
            "127.0.0.1",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.1",
            "192.0.0.9",
            "192.0.0.10",
            "192.0.0.170",
            "192.0.2.1",
            "192.31.196.1",
            "192.52.193.1",
            "192.88.99.1",
            "192.168.1.1",
            "192.175.48.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.255",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::10.0.0.1",
            "::8.8.8.8",
            "::ffff:10.0.0.1",
            "::ffff:0:8.8.8.8",
            "64:ff9b::a00:1",
            "64:ff9b:1::8.8.8.8",
            "100::1",
            "100:0:0:1::1",
            "2001::1",
            "2001:0:4136:e378::1",
            "2001:1::1",
            "2001:1::2",
            "2001:1::3",
            "2001:2::1",
            "2001:3::1",
            "2001:4:112::1",
            "2001:10::1",
            "2001:20::1",
            "2001:30::1",
            "2001:db8::1",
            "2002:808:808::1",
            "2620:4f:8000::1",
            "3fff::1",
            "5f00::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "feff::1",
            "ff02::1",
        ] {
            assert!(!public(ip), "{ip} must not count as public");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "140.82.112.3",
            "100.63.255.255",
            "100.128.0.1",
            "172.32.0.1",
            "192.0.1.1",
            "198.20.0.1",
            "2606:4700::1111",
            "2a00:1450::1",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2001:200::1",
            "2620:4f:8001::1",
        ] {
            assert!(public(ip), "{ip} is public");
        }
    }

    #[test]
    fn the_public_policy_refuses_plain_http_and_literal_internal_addresses() {
        let public = Policy::public();
        for bad in ["http://login.example.com/", "https://10.0.0.1/", "https://[fd00::1]/", "ftp://example.com/"] {
            assert!(public.check(&Url::parse(bad).unwrap()).is_err(), "{bad}");
        }
        assert!(public.check(&Url::parse("https://login.example.com/").unwrap()).is_ok());
        let private = Policy::private();
        assert!(private.check(&Url::parse("http://127.0.0.1:9/").unwrap()).is_ok());
        assert!(private.check(&Url::parse("file:///etc/passwd").unwrap()).is_err(), "HTTP only, even then");
    }

    #[test]
    fn provider_urls_must_be_https_and_not_internal() {
        for bad in [
            "http://login.example.com/token",
            "https://10.0.0.1/token",
            "https://[::1]/keys",
            "https://169.254.169.254/",
        ] {
            assert!(check_public_url(&Url::parse(bad).unwrap()).is_err(), "{bad}");
        }
        for good in ["https://login.example.com/token", "https://140.82.112.3/keys"] {
            assert!(check_public_url(&Url::parse(good).unwrap()).is_ok(), "{good}");
        }
    }
}
