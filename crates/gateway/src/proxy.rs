//! Requests that reach Portico through a reverse proxy or load balancer. Only proxies the
//! operator names in `server.trusted_proxies` are believed: from them, `X-Forwarded-For` gives
//! the client's address (for the per-address limits and the logs) and `X-Forwarded-Proto` the
//! scheme the client used. From anyone else both headers are ignored, so a client cannot pick
//! its own address to dodge a limit. URLs are never built from request headers: they come from
//! `server.public_url`.

use std::net::IpAddr;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse, web};
use ipnet::IpNet;

use crate::state::AppState;

/// Parses `server.trusted_proxies` entries: addresses (`10.0.0.7`) or networks (`10.0.0.0/8`).
pub fn parse_trusted(entries: &[String]) -> Result<Vec<IpNet>, String> {
    entries
        .iter()
        .map(|e| e.trim())
        .filter(|e| !e.is_empty())
        .map(|e| {
            e.parse::<IpNet>()
                .or_else(|_| e.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("`{e}` is neither an address nor a network such as 10.0.0.0/8"))
        })
        .collect()
}

fn trusted(ip: IpAddr, proxies: &[IpNet]) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    proxies.iter().any(|net| net.contains(&ip))
}

/// The client's address: the peer's, unless the peer is a trusted proxy; then the nearest
/// address in `X-Forwarded-For` (read from the right) that is not a trusted proxy itself. A
/// malformed entry stops the walk at the last address that could be believed.
pub fn client_ip(peer: IpAddr, forwarded_for: &[&str], proxies: &[IpNet]) -> IpAddr {
    let mut client = peer;
    if !trusted(peer, proxies) {
        return client;
    }
    for entry in forwarded_for.iter().rev().flat_map(|h| h.rsplit(',')) {
        match forwarded_ip(entry.trim()) {
            Some(ip) => {
                client = ip;
                if !trusted(ip, proxies) {
                    break;
                }
            }
            None => break,
        }
    }
    client
}

/// One `X-Forwarded-For` entry: an address, or one with its port as some load balancers write
/// it (`203.0.113.9:51234`, `[2001:db8::1]:51234`).
fn forwarded_ip(entry: &str) -> Option<IpAddr> {
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| entry.strip_prefix('[').and_then(|e| e.strip_suffix(']')).and_then(|e| e.parse().ok()))
}

/// The scheme the client used, when a trusted proxy says so (`X-Forwarded-Proto`): the last
/// entry, which the nearest proxy wrote, since a proxy that appends keeps what the client sent
/// in front of it.
pub fn forwarded_proto(req: &HttpRequest, proxies: &[IpNet]) -> Option<String> {
    let peer = req.peer_addr()?.ip();
    if !trusted(peer, proxies) {
        return None;
    }
    let value = req.headers().get_all("x-forwarded-proto").last()?.to_str().ok()?;
    value.rsplit(',').next().map(|s| s.trim().to_ascii_lowercase())
}

/// The client address of a request, as [`client_ip`] reads it with the configured proxies.
pub fn client_address(req: &HttpRequest) -> String {
    let Some(peer) = req.peer_addr().map(|a| a.ip()) else {
        return String::new();
    };
    let proxies = req.app_data::<web::Data<AppState>>().map(|s| s.settings.trusted_proxies.as_slice()).unwrap_or(&[]);
    let headers: Vec<&str> =
        req.headers().get_all("x-forwarded-for").filter_map(|v| v.to_str().ok()).collect::<Vec<_>>();
    client_ip(peer, &headers, proxies).to_string()
}

/// When Portico's public URL is HTTPS and a trusted proxy says the client came over plain HTTP,
/// a page is sent to its HTTPS address (GET and HEAD) and anything else is refused, so that no
/// session cookie or form travels unencrypted past the proxy.
pub async fn require_https(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let redirect = req.app_data::<web::Data<AppState>>().and_then(|state| {
        let settings = &state.settings;
        if settings.public_url.scheme() != "https" {
            return None;
        }
        let proto = forwarded_proto(req.request(), &settings.trusted_proxies)?;
        (proto == "http").then(|| {
            let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
            settings.url(path)
        })
    });
    match redirect {
        None => Ok(next.call(req).await?.map_into_boxed_body()),
        Some(location) => {
            let response = if matches!(*req.method(), Method::GET | Method::HEAD) {
                HttpResponse::PermanentRedirect().insert_header((header::LOCATION, location)).finish()
            } else {
                HttpResponse::BadRequest()
                    .content_type("text/plain; charset=utf-8")
                    .body(format!("Portico is served over HTTPS only: {location}"))
            };
            Ok(req.into_response(response))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_addresses_are_believed_only_from_trusted_proxies() {
        let proxies = parse_trusted(&["10.0.0.0/8".into(), "192.0.2.1".into()]).unwrap();
        // Straight from a client: its own header is ignored.
        assert_eq!(client_ip(ip("203.0.113.9"), &["198.51.100.1"], &proxies), ip("203.0.113.9"));
        // Through the load balancer: the client it saw.
        assert_eq!(client_ip(ip("10.1.2.3"), &["203.0.113.9"], &proxies), ip("203.0.113.9"));
        // A client's forged entry before the real one stays ignored.
        assert_eq!(client_ip(ip("10.1.2.3"), &["1.1.1.1, 203.0.113.9"], &proxies), ip("203.0.113.9"));
        // Two trusted hops, also over two header lines.
        assert_eq!(client_ip(ip("10.1.2.3"), &["203.0.113.9", "192.0.2.1"], &proxies), ip("203.0.113.9"));
        // Entries with ports, as some load balancers write them.
        assert_eq!(client_ip(ip("10.1.2.3"), &["203.0.113.9:51234"], &proxies), ip("203.0.113.9"));
        assert_eq!(client_ip(ip("10.1.2.3"), &["[2001:db8::1]:443"], &proxies), ip("2001:db8::1"));
        // Garbage stops the walk at the last believable address.
        assert_eq!(client_ip(ip("10.1.2.3"), &["203.0.113.9, nonsense"], &proxies), ip("10.1.2.3"));
        // IPv4 peers seen as IPv6-mapped addresses are matched too.
        assert_eq!(client_ip(ip("::ffff:10.1.2.3"), &["203.0.113.9"], &proxies), ip("203.0.113.9"));
        // Without trusted proxies nothing is believed.
        assert_eq!(client_ip(ip("10.1.2.3"), &["203.0.113.9"], &[]), ip("10.1.2.3"));
    }

    #[test]
    fn trusted_proxy_entries_are_checked() {
        assert!(parse_trusted(&["fd00::/8".into(), " 127.0.0.1 ".into()]).is_ok());
        let err = parse_trusted(&["10.0.0.0/33".into()]).unwrap_err();
        assert!(err.contains("10.0.0.0/33"), "{err}");
        assert!(parse_trusted(&["proxy.internal".into()]).is_err());
    }
}
