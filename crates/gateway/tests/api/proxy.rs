//! Behind a reverse proxy: forwarded headers count only from `server.trusted_proxies`.

use directory::Backend;
use reqwest::StatusCode;

use crate::helpers::TestApp;

/// Fails SCIM authentication from `forwarded_for` until the per-address limit answers 429;
/// returns how many failures it took.
async fn failures_until_limited(app: &TestApp, forwarded_for: &str) -> usize {
    let url = app.url("/api/scim/v2/acme/Users");
    for n in 1..=60 {
        let res = app
            .client
            .get(&url)
            .bearer_auth("pscim_000000000000_nope")
            .header("x-forwarded-for", forwarded_for)
            .send()
            .await
            .unwrap();
        if res.status() == StatusCode::TOO_MANY_REQUESTS {
            return n;
        }
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    panic!("never limited");
}

/// The test client reaches Portico from 127.0.0.1: as a trusted proxy, the addresses it
/// forwards are limited one by one; untrusted, its forwarded addresses are all just 127.0.0.1.
#[actix_web::test]
async fn limits_follow_forwarded_addresses_only_from_trusted_proxies() {
    let app =
        TestApp::spawn_with(Backend::Sqlite, &[("PORTICO__SERVER__TRUSTED_PROXIES", "127.0.0.1/32")]).await.unwrap();
    app.create_enterprise("acme").await;
    let first = failures_until_limited(&app, "203.0.113.7").await;
    assert!(first > 10, "the limit is per client, reached after {first}");
    let other = failures_until_limited(&app, "203.0.113.8").await;
    assert_eq!(other, first, "another client behind the same proxy has a limit of its own");

    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    app.create_enterprise("acme").await;
    let first = failures_until_limited(&app, "203.0.113.7").await;
    let other = failures_until_limited(&app, "203.0.113.8").await;
    assert_eq!(other, 1, "not trusted: the header is ignored and the peer is limited ({first} before)");
}

/// With an HTTPS public URL, a trusted proxy's `X-Forwarded-Proto: http` sends pages to HTTPS
/// and refuses other requests; the same header from anyone else changes nothing.
#[actix_web::test]
async fn plain_http_through_a_trusted_proxy_is_sent_to_https() {
    let extra =
        [("PORTICO__SERVER__TRUSTED_PROXIES", "127.0.0.1"), ("PORTICO__SERVER__PUBLIC_URL", "https://sso.example.com")];
    let app = TestApp::spawn_with(Backend::Sqlite, &extra).await.unwrap();
    let res =
        app.client.get(app.url("/login?next=%2Fconsole")).header("x-forwarded-proto", "http").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(res.headers()["location"], "https://sso.example.com/login?next=%2Fconsole");
    // A client's own claim in front of what the proxy appended counts for nothing.
    let res = app.client.get(app.url("/login")).header("x-forwarded-proto", "https, http").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::PERMANENT_REDIRECT);
    let res = app.client.post(app.url("/login")).header("x-forwarded-proto", "http").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = app.client.get(app.url("/healthz")).header("x-forwarded-proto", "https").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    let untrusted = TestApp::spawn_with(Backend::Sqlite, &extra[1..]).await.unwrap();
    let res = untrusted.client.get(untrusted.url("/healthz")).header("x-forwarded-proto", "http").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}
