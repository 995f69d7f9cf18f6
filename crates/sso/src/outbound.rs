//! Where Portico may connect when an admin or an identity provider names the URL (IdP metadata,
//! an OpenID provider's discovery document, keys, token and userinfo endpoints): public
//! addresses only, checked when the connection is made, and no proxy from the environment.
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

/// A resolver that gives out public addresses only: every connection (discovery, keys, token,
/// userinfo, metadata) goes to an address checked at the moment of connecting, so neither a
/// provider's metadata nor a DNS answer that changes between a check and its use can point
/// Portico at its own network.
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

/// Time limits, no redirects (no SSRF through a redirect), and no proxy but `proxy`: the
/// environment's proxy variables are ignored. Callers add [`PublicOnly`] unless private
/// addresses are allowed (tests, closed networks).
pub fn client_builder(proxy: Option<&Url>) -> Result<reqwest::ClientBuilder, String> {
    let builder = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none());
    Ok(match proxy {
        None => builder.no_proxy(),
        Some(url) => builder.proxy(reqwest::Proxy::all(url.as_str()).map_err(|e| format!("the outbound proxy: {e}"))?),
    })
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
