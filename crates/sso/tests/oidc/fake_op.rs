//! A provider under the test's control, for what a well-behaved provider never sends: tokens
//! signed with unknown keys, `alg: none`, HS256 keyed with the public key, wrong issuer or
//! audience, expired tokens. Discovery, JWKS and token endpoint on loopback; RS256 signatures
//! made with OpenSSL.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use actix_web::{App, HttpResponse, HttpServer, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use serde_json::{Value, json};

/// An RSA signing key with its `kid`.
#[derive(Clone)]
pub struct Key {
    pub kid: String,
    pub pkey: PKey<Private>,
}

impl Key {
    pub fn new(kid: &str) -> Key {
        Key { kid: kid.into(), pkey: PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap() }
    }

    fn jwk(&self) -> Value {
        let rsa = self.pkey.rsa().unwrap();
        json!({"kty": "RSA", "kid": self.kid, "use": "sig", "alg": "RS256",
            "n": URL_SAFE_NO_PAD.encode(rsa.n().to_vec()), "e": URL_SAFE_NO_PAD.encode(rsa.e().to_vec())})
    }
}

/// How the next ID token is made.
#[derive(Clone)]
pub enum Signing {
    Rs256(Key),
    None,
    /// HS256 with the provider's public key (PEM) as the secret: the classic confusion attack.
    Hs256WithPublicKey(Key),
}

pub struct State {
    pub issuer: String,
    pub jwks: Vec<Key>,
    pub claims: Value,
    pub signing: Signing,
    /// Serve this token instead of signing a new one each time (benchmarks measure the relying
    /// party, not the provider's signing).
    pub fixed_token: Option<String>,
    /// Tokens signed beforehand, served for the code they are filed under.
    pub by_code: HashMap<String, String>,
    /// Bytes of filler added to the token response (for size limits).
    pub padding: usize,
    /// Requests served so far.
    pub requests: usize,
}

pub struct FakeOp {
    pub issuer: String,
    pub state: Arc<Mutex<State>>,
    handle: actix_web::dev::ServerHandle,
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

/// An ID token with the state's claims, made the state's way.
pub fn id_token(state: &State) -> String {
    match &state.signing {
        Signing::Rs256(key) => {
            let input =
                format!("{}.{}", b64(&json!({"alg": "RS256", "kid": key.kid, "typ": "JWT"})), b64(&state.claims));
            let mut signer = openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), &key.pkey).unwrap();
            signer.update(input.as_bytes()).unwrap();
            format!("{input}.{}", URL_SAFE_NO_PAD.encode(signer.sign_to_vec().unwrap()))
        }
        Signing::None => format!("{}.{}.", b64(&json!({"alg": "none", "typ": "JWT"})), b64(&state.claims)),
        Signing::Hs256WithPublicKey(key) => {
            let input =
                format!("{}.{}", b64(&json!({"alg": "HS256", "kid": key.kid, "typ": "JWT"})), b64(&state.claims));
            let secret = key.pkey.public_key_to_pem().unwrap();
            let hmac = PKey::hmac(&secret).unwrap();
            let mut signer = openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), &hmac).unwrap();
            signer.update(input.as_bytes()).unwrap();
            format!("{input}.{}", URL_SAFE_NO_PAD.encode(signer.sign_to_vec().unwrap()))
        }
    }
}

impl FakeOp {
    pub async fn start(key: Key) -> FakeOp {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let issuer = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let state = Arc::new(Mutex::new(State {
            issuer: issuer.clone(),
            jwks: vec![key.clone()],
            claims: json!({}),
            signing: Signing::Rs256(key),
            fixed_token: None,
            by_code: HashMap::new(),
            padding: 0,
            requests: 0,
        }));
        let s2 = state.clone();
        let server = HttpServer::new(move || {
            let s = s2.clone();
            App::new()
                .app_data(web::Data::new(s))
                .route("/.well-known/openid-configuration", web::get().to(|s: web::Data<Arc<Mutex<State>>>| async move {
                    let issuer = {
                        let mut state = s.lock().unwrap();
                        state.requests += 1;
                        state.issuer.clone()
                    };
                    HttpResponse::Ok().json(json!({
                        "issuer": issuer,
                        "authorization_endpoint": format!("{issuer}/auth"),
                        "token_endpoint": format!("{issuer}/token"),
                        "jwks_uri": format!("{issuer}/jwks"),
                        "response_types_supported": ["code"],
                        "subject_types_supported": ["public"],
                        "id_token_signing_alg_values_supported": ["RS256"],
                    }))
                }))
                .route("/jwks", web::get().to(|s: web::Data<Arc<Mutex<State>>>| async move {
                    let mut state = s.lock().unwrap();
                    state.requests += 1;
                    let keys: Vec<Value> = state.jwks.iter().map(Key::jwk).collect();
                    HttpResponse::Ok().json(json!({"keys": keys}))
                }))
                // The form is read so that the connection can be kept alive, as a real
                // provider's is.
                .route("/token", web::post().to(|s: web::Data<Arc<Mutex<State>>>, form: web::Form<HashMap<String, String>>| async move {
                    let mut state = s.lock().unwrap();
                    state.requests += 1;
                    let filed = form.get("code").and_then(|c| state.by_code.get(c)).cloned();
                    let token = filed.or_else(|| state.fixed_token.clone()).unwrap_or_else(|| id_token(&state));
                    HttpResponse::Ok().json(json!({"access_token": "at-1", "token_type": "Bearer", "expires_in": 300, "id_token": token, "padding": "x".repeat(state.padding)}))
                }))
        })
        .workers(1)
        // Longer than a benchmark window, so an idle keep-alive connection is not closed under
        // a request in flight.
        .keep_alive(std::time::Duration::from_secs(120))
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        FakeOp { issuer, state, handle }
    }

    pub async fn stop(self) {
        self.handle.stop(false).await;
    }
}
