//! A minimal host application: it signs people in through Portico, its OpenID Provider, with
//! the `openidconnect` crate (a standard OpenID Connect library, nothing Portico-specific) and
//! shows the claims it received. Start it with `examples/host/run`, which registers it first.
//!
//! Environment: `PORTICO_ISSUER` (Portico's public URL), `CLIENT_ID`, `CLIENT_SECRET`, `PORT`
//! (default 4000). The page asks for the enterprise key and sends it as `enterprise_key`.
//!
//! With `WEBHOOK_SECRET` (the `whsec_…` secret of a webhook endpoint pointing at `/events`), it
//! also receives Portico's events, checks each with the `standardwebhooks` crate (any Standard
//! Webhooks library would do), and lists the latest at `/events`.

#![allow(clippy::print_stdout)]

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use actix_web::http::header;
use actix_web::{App, HttpResponse, HttpServer, web};
use anyhow::Context;
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreErrorResponseType, CoreGenderClaim, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm, CoreProviderMetadata, CoreRevocableToken,
    CoreRevocationErrorResponse, CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AdditionalClaims, AuthorizationCode, Client, ClientId, ClientSecret, CsrfToken, EmptyExtraTokenFields,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, IdTokenFields, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, StandardErrorResponse, StandardTokenResponse,
    TokenResponse, UserInfoClaims,
};
use serde::{Deserialize, Serialize};

/// Portico's own claims (`enterprise`, `organizations`, `idp`, `sid`), kept as they come.
#[derive(Debug, Clone, Deserialize, Serialize)]
struct PorticoClaims {
    #[serde(flatten)]
    claims: HashMap<String, serde_json::Value>,
}

impl AdditionalClaims for PorticoClaims {}

type IdTokenFieldsT = IdTokenFields<
    PorticoClaims,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
type TokenResponseT = StandardTokenResponse<IdTokenFieldsT, CoreTokenType>;
type HostClient = Client<
    PorticoClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    TokenResponseT,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// What a sign-in under way must remember until Portico sends the browser back.
struct Pending {
    verifier: PkceCodeVerifier,
    nonce: Nonce,
}

struct Host {
    client: HostClient,
    http: openidconnect::reqwest::Client,
    end_session: Option<String>,
    base: String,
    pending: Mutex<HashMap<String, Pending>>,
    /// Verifies incoming events, when a webhook secret is configured.
    webhook: Option<standardwebhooks::Webhook>,
    /// The latest events received, newest first.
    events: Mutex<VecDeque<serde_json::Value>>,
}

/// How many received events the page keeps.
const EVENTS_KEPT: usize = 50;

/// A webhook delivery from Portico: verified (signature and timestamp), remembered, answered
/// 204; one that does not verify is answered 401, and Portico will try again.
async fn receive_event(host: web::Data<Host>, req: actix_web::HttpRequest, body: web::Bytes) -> HttpResponse {
    let Some(hook) = &host.webhook else {
        return HttpResponse::NotFound().finish();
    };
    let mut headers = http::HeaderMap::new();
    for (name, value) in req.headers() {
        if let (Ok(n), Ok(v)) =
            (http::HeaderName::from_bytes(name.as_str().as_bytes()), http::HeaderValue::from_bytes(value.as_bytes()))
        {
            headers.insert(n, v);
        }
    }
    if let Err(e) = hook.verify(&body, &headers) {
        println!("refused a webhook delivery: {e}");
        return HttpResponse::Unauthorized().finish();
    }
    let Ok(event) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return HttpResponse::BadRequest().finish();
    };
    let mut events = host.events.lock().unwrap_or_else(|p| p.into_inner());
    // At least once: a message that comes again has the same id.
    if !events.iter().any(|e| e["id"] == event["id"]) {
        events.push_front(event);
        events.truncate(EVENTS_KEPT);
    }
    HttpResponse::NoContent().finish()
}

async fn list_events(host: web::Data<Host>) -> HttpResponse {
    if host.webhook.is_none() {
        return page("<p>Set <code>WEBHOOK_SECRET</code> to receive Portico's events here.</p>");
    }
    let events = host.events.lock().unwrap_or_else(|p| p.into_inner());
    let rows: String = events
        .iter()
        .map(|e| {
            format!(
                "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td><pre>{}</pre></td></tr>",
                escape(e["occurred_at"].as_str().unwrap_or_default()),
                escape(e["type"].as_str().unwrap_or_default()),
                escape(e["enterprise"].as_str().unwrap_or_default()),
                escape(&serde_json::to_string_pretty(&e["data"]).unwrap_or_default())
            )
        })
        .collect();
    page(&format!(
        "<p>The latest events Portico sent, newest first ({} received).</p>\
         <table id=\"events\"><thead><tr><th>When</th><th>Type</th><th>Enterprise</th><th>Data</th></tr></thead>\
         <tbody>{rows}</tbody></table>",
        events.len()
    ))
}

fn env(name: &str) -> anyhow::Result<String> {
    std::env::var(name).with_context(|| format!("{name} is not set (examples/host/run sets it)"))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn page(body: &str) -> HttpResponse {
    HttpResponse::Ok().content_type("text/html; charset=utf-8").body(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Example host</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:48rem;margin:2rem auto;padding:0 1rem}}\
         pre{{background:#f4f4f4;padding:1rem;overflow:auto}}</style></head><body><h1>Example host</h1>{body}</body></html>"
    ))
}

async fn home() -> HttpResponse {
    page(
        "<p>This application signs you in through Portico. <a href=\"/events\">Events it received</a></p>\
         <form action=\"/login\" method=\"get\"><label>Enterprise key <input name=\"enterprise_key\" required></label> \
         <button>Sign in</button></form>",
    )
}

#[derive(Deserialize)]
struct LoginQuery {
    enterprise_key: String,
}

async fn login(host: web::Data<Host>, q: web::Query<LoginQuery>) -> HttpResponse {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = host
        .client
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("organizations".into()))
        .add_extra_param("enterprise_key", q.enterprise_key.trim())
        .set_pkce_challenge(challenge)
        .url();
    host.pending.lock().unwrap_or_else(|p| p.into_inner()).insert(state.secret().clone(), Pending { verifier, nonce });
    HttpResponse::Found().insert_header((header::LOCATION, url.to_string())).finish()
}

#[derive(Deserialize)]
struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

async fn callback(host: web::Data<Host>, q: web::Query<Callback>) -> HttpResponse {
    if let Some(e) = &q.error {
        return page(&format!(
            "<p>Portico refused: <strong>{}</strong> {}</p><p><a href=\"/\">Try again</a></p>",
            escape(e),
            escape(q.error_description.as_deref().unwrap_or_default())
        ));
    }
    let pending = q.state.as_ref().and_then(|s| host.pending.lock().unwrap_or_else(|p| p.into_inner()).remove(s));
    let (Some(code), Some(pending)) = (q.code.clone(), pending) else {
        return page("<p>This sign-in was not started here. <a href=\"/\">Start again</a></p>");
    };
    match finish(&host, code, pending).await {
        Ok((id_claims, userinfo, id_token)) => {
            let logout = host
                .end_session
                .as_ref()
                .and_then(|e| {
                    let mut u = url::Url::parse(e).ok()?;
                    u.query_pairs_mut()
                        .append_pair("id_token_hint", &id_token)
                        .append_pair("post_logout_redirect_uri", &format!("{}/", host.base));
                    Some(format!("<p><a href=\"{}\">Sign out</a></p>", escape(u.as_str())))
                })
                .unwrap_or_default();
            page(&format!(
                "<p>Signed in. The ID token, checked by the library, says:</p><pre id=\"claims\">{}</pre>\
                 <p>Userinfo says:</p><pre id=\"userinfo\">{}</pre>{logout}",
                escape(&id_claims),
                escape(&userinfo)
            ))
        }
        Err(e) => {
            page(&format!("<p>The sign-in failed: {}</p><p><a href=\"/\">Try again</a></p>", escape(&format!("{e:#}"))))
        }
    }
}

/// Exchanges the code, verifies the ID token (signature, issuer, audience, expiry, nonce), and
/// reads userinfo.
async fn finish(host: &Host, code: String, pending: Pending) -> anyhow::Result<(String, String, String)> {
    let tokens = host
        .client
        .exchange_code(AuthorizationCode::new(code))?
        .set_pkce_verifier(pending.verifier)
        .request_async(&host.http)
        .await
        .context("the token endpoint refused the code")?;
    let id_token = tokens.id_token().context("no ID token")?;
    let claims =
        id_token.claims(&host.client.id_token_verifier(), &pending.nonce).context("the ID token is invalid")?;
    let userinfo: UserInfoClaims<PorticoClaims, CoreGenderClaim> = host
        .client
        .user_info(tokens.access_token().clone(), Some(claims.subject().clone()))?
        .request_async(&host.http)
        .await
        .context("userinfo failed")?;
    Ok((serde_json::to_string_pretty(claims)?, serde_json::to_string_pretty(&userinfo)?, id_token.to_string()))
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let issuer = env("PORTICO_ISSUER")?;
    let port: u16 = std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(4000);
    let base = format!("http://127.0.0.1:{port}");
    let http = openidconnect::reqwest::ClientBuilder::new()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()?;
    let metadata = CoreProviderMetadata::discover_async(IssuerUrl::new(issuer.clone())?, &http)
        .await
        .with_context(|| format!("cannot read Portico's discovery document at {issuer}"))?;
    // The end-session endpoint is not in the core metadata type; read it from the document.
    let document: serde_json::Value = serde_json::from_slice(
        &http
            .get(format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/')))
            .send()
            .await?
            .bytes()
            .await?,
    )?;
    let end_session = document["end_session_endpoint"].as_str().map(str::to_owned);
    let client: HostClient = Client::from_provider_metadata(
        metadata,
        ClientId::new(env("CLIENT_ID")?),
        Some(ClientSecret::new(env("CLIENT_SECRET")?)),
    )
    .set_redirect_uri(RedirectUrl::new(format!("{base}/callback"))?);
    let webhook = match std::env::var("WEBHOOK_SECRET").ok().filter(|s| !s.is_empty()) {
        Some(secret) => Some(standardwebhooks::Webhook::new(&secret).context("WEBHOOK_SECRET is not a whsec_ secret")?),
        None => None,
    };
    let host = web::Data::new(Host {
        client,
        http,
        end_session,
        base: base.clone(),
        pending: Mutex::default(),
        webhook,
        events: Mutex::default(),
    });
    println!("The example host is at {base}/ (Portico: {issuer})");
    HttpServer::new(move || {
        App::new()
            .app_data(host.clone())
            .route("/", web::get().to(home))
            .route("/login", web::get().to(login))
            .route("/callback", web::get().to(callback))
            .route("/events", web::post().to(receive_event))
            .route("/events", web::get().to(list_events))
    })
    .bind(("127.0.0.1", port))?
    .run()
    .await?;
    Ok(())
}
