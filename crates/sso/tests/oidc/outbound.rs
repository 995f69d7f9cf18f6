//! The outbound policy (`sso::outbound`), the one way Portico calls URLs that admins and
//! providers name: what it refuses before sending, what it refuses when connecting, and how it
//! reads answers. IdP metadata goes through it here; the OpenID client's use is tested above.

use actix_web::{App, HttpResponse, HttpServer, web};
use sso::outbound::{Outbound, OutboundError, Policy, PublicOnly};

/// A server on loopback answering `path` with `answer`; returns its base URL.
async fn serve(answer: fn() -> HttpResponse) -> (String, actix_web::dev::ServerHandle) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let server = HttpServer::new(move || App::new().default_service(web::to(move || async move { answer() })))
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    (base, handle)
}

fn metadata() -> HttpResponse {
    let idp = sso::testing::TestIdp::new("metadata");
    use base64::Engine;
    HttpResponse::Ok().content_type("application/samlmetadata+xml").body(format!(
        r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{}"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.test/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>"#,
        idp.entity_id,
        base64::engine::general_purpose::STANDARD.encode(&idp.cert_der)
    ))
}

#[actix_web::test]
async fn metadata_is_read_through_the_policy() {
    let (base, handle) = serve(metadata).await;
    let url = format!("{base}/metadata");
    // The default policy: HTTPS and public addresses only, so this loopback server is refused
    // before anything is sent, or when connecting.
    let public = Outbound::new(Policy::public()).unwrap();
    let e = sso::saml::fetch_idp_metadata(&public, &url).await.unwrap_err();
    assert!(e.contains("is not an https:// URL"), "{e}");
    let e = sso::saml::fetch_idp_metadata(&public, &url.replace("http://", "https://")).await.unwrap_err();
    assert!(e.contains("127.0.0.1 is not a public address"), "{e}");
    let e = sso::saml::fetch_idp_metadata(&public, "https://localhost:9/metadata").await.unwrap_err();
    assert!(e.contains("no public address"), "{e}");
    // Tests and closed networks allow it.
    let private = Outbound::new(Policy::private()).unwrap();
    let m = sso::saml::fetch_idp_metadata(&private, &url).await.unwrap();
    assert_eq!(m.sso_url, "https://idp.test/sso");
    assert_eq!(m.certificates.len(), 1);
    handle.stop(false).await;
}

#[actix_web::test]
async fn redirects_errors_and_large_answers_are_not_followed_or_read() {
    let (moved, h1) =
        serve(|| HttpResponse::Found().insert_header(("location", "http://169.254.169.254/")).finish()).await;
    let (failing, h2) = serve(|| HttpResponse::InternalServerError().body("no")).await;
    let (huge, h3) = serve(|| HttpResponse::Ok().body(vec![b'x'; sso::outbound::MAX_RESPONSE_BYTES + 1])).await;
    let private = Outbound::new(Policy::private()).unwrap();
    let get = |u: String| {
        let private = private.clone();
        async move { private.get(&url::Url::parse(&u).unwrap()).await }
    };
    assert!(matches!(get(moved).await, Err(OutboundError::Redirected)));
    assert!(matches!(get(failing).await, Err(OutboundError::Status(500))));
    assert!(matches!(get(huge).await, Err(OutboundError::TooLarge { .. })));
    for h in [h1, h2, h3] {
        h.stop(false).await;
    }
}

#[actix_web::test]
async fn names_that_resolve_inward_are_refused_when_connecting() {
    use reqwest::dns::Resolve;
    let name: reqwest::dns::Name = "localhost".parse().unwrap();
    let e = PublicOnly.resolve(name).await.err().unwrap();
    assert!(e.to_string().contains("no public address"), "{e}");
    // The public policy's client uses that resolver for every connection.
    let public = Outbound::new(Policy::public()).unwrap();
    let e = public.inner().get("https://localhost:9/").send().await.unwrap_err();
    assert!(format!("{e:?}").contains("no public address"), "{e:?}");
}

#[actix_web::test]
async fn a_configured_proxy_carries_the_requests() {
    // The proxy is a plain server that answers every request itself: a request that reached it
    // was sent through it.
    let (proxy, handle) = serve(metadata).await;
    let policy = Policy { proxy: Some(url::Url::parse(&proxy).unwrap()), ..Policy::private() };
    let through = Outbound::new(policy).unwrap();
    let m = sso::saml::fetch_idp_metadata(&through, "http://idp.example.invalid/metadata").await.unwrap();
    assert_eq!(m.sso_url, "https://idp.test/sso", "the proxy answered for a name nobody resolves");
    handle.stop(false).await;
}
