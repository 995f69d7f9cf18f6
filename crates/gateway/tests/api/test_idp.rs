//! A SAML identity provider on loopback for browser tests: it publishes metadata, and answers
//! every AuthnRequest by signing in its one user and posting a signed response back to the ACS
//! the request names (an auto-submitting form, as real IdPs do).

use std::io::Read;
use std::sync::Arc;

use actix_web::{App, HttpResponse, HttpServer, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sso::testing::{ResponseSpec, TestIdp};

pub struct IdpServer {
    pub base: String,
    handle: actix_web::dev::ServerHandle,
}

impl IdpServer {
    pub async fn start(login: &'static str, groups: &'static [&'static str]) -> IdpServer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let idp = Arc::new(TestIdp { entity_id: format!("{base}/metadata"), ..TestIdp::new("test-idp") });
        let (i2, b2) = (idp.clone(), base.clone());
        let server = HttpServer::new(move || {
            let (idp, base) = (i2.clone(), b2.clone());
            App::new()
                .route(
                    "/metadata",
                    web::get().to({
                        let (idp, base) = (idp.clone(), base.clone());
                        move || {
                            let xml = metadata(&idp, &base);
                            async move { HttpResponse::Ok().content_type("application/samlmetadata+xml").body(xml) }
                        }
                    }),
                )
                .route(
                    "/sso",
                    web::get().to(move |q: web::Query<std::collections::HashMap<String, String>>| {
                        let idp = idp.clone();
                        async move { answer(&idp, &q, login, groups) }
                    }),
                )
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        IdpServer { base, handle }
    }

    pub async fn stop(self) {
        self.handle.stop(false).await;
    }
}

fn metadata(idp: &TestIdp, base: &str) -> String {
    format!(
        r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{entity}"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{base}/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>"#,
        entity = idp.entity_id,
        cert = STANDARD.encode(&idp.cert_der),
    )
}

fn attr(xml: &str, name: &str) -> String {
    let marker = format!(" {name}=\"");
    let start = xml.find(&marker).map(|i| i + marker.len()).unwrap_or(0);
    xml[start..].split('"').next().unwrap_or_default().to_owned()
}

fn answer(idp: &TestIdp, q: &std::collections::HashMap<String, String>, login: &str, groups: &[&str]) -> HttpResponse {
    let deflated = STANDARD.decode(q.get("SAMLRequest").cloned().unwrap_or_default()).unwrap_or_default();
    let mut xml = String::new();
    let _ = flate2::read::DeflateDecoder::new(&deflated[..]).read_to_string(&mut xml);
    let acs = attr(&xml, "AssertionConsumerServiceURL");
    let request_id = attr(&xml, "ID");
    let issuer_start = xml.find("Issuer").and_then(|i| xml[i..].find('>').map(|j| i + j + 1)).unwrap_or(0);
    let audience = xml[issuer_start..].split('<').next().unwrap_or_default().to_owned();
    let mut spec = ResponseSpec::answering(idp, chrono::Utc::now(), &acs, &audience, Some(&request_id));
    spec.attributes = vec![
        ("login".into(), vec![login.into()]),
        ("email".into(), vec![format!("{login}@acme.test")]),
        ("name".into(), vec!["Ada Lovelace".into()]),
        ("groups".into(), groups.iter().map(|g| g.to_string()).collect()),
    ];
    let body = idp.response(&spec);
    HttpResponse::Ok().content_type("text/html").body(format!(
        r#"<!doctype html><html><body onload="document.forms[0].submit()"><form method="post" action="{acs}"><input type="hidden" name="SAMLResponse" value="{body}"><input type="hidden" name="RelayState" value="{relay}"><noscript><button>Continue</button></noscript></form></body></html>"#,
        relay = q.get("RelayState").cloned().unwrap_or_default(),
    ))
}
