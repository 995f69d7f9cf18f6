//! OpenID Connect callback rate against a raw verification of the same ID token, in one run:
//! `cargo bench -p sso --bench oidc --features test-idp`.
//!
//! The callback work is `sso::oidc::finish`: the code exchange with a provider answering on
//! loopback, then the ID token checks (RS256 signature by the provider's key, issuer, audience,
//! expiry, nonce) and claim mapping. The raw rate is the same library verifying the same token
//! with no network: the floor any relying party built on it pays. The provider serves one token
//! signed beforehand, on its own worker thread; the per-core rate divides callbacks by the CPU
//! time of the thread doing Portico's side, kernel time for its sockets included.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

// The same provider the tests use; the bench needs only part of it.
#[allow(dead_code)]
#[path = "../tests/oidc/fake_op.rs"]
mod fake_op;

use std::str::FromStr;
use std::time::{Duration, Instant};

use openidconnect::core::{CoreIdToken, CoreIdTokenVerifier};
use openidconnect::{ClientId, IssuerUrl, Nonce};
use serde_json::json;
use sso::AttributeMapping;
use sso::oidc::{self, OidcSettings};

const WINDOW: Duration = Duration::from_secs(5);

/// CPU time this thread has used, user and kernel (the first field of
/// `/proc/thread-self/schedstat`, in nanoseconds). The provider answers on its own worker
/// thread, so this is Portico's share of the work alone.
fn thread_cpu() -> Duration {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap();
    Duration::from_nanos(text.split_whitespace().next().unwrap().parse().unwrap())
}

fn main() {
    actix_web::rt::System::new().block_on(async {
        let op = fake_op::FakeOp::start(fake_op::Key::new("k1")).await;
        let s = OidcSettings {
            issuer: op.issuer.clone(),
            client_id: "portico".into(),
            client_secret: "bench-secret".into(),
            scopes: vec!["openid".into(), "email".into(), "profile".into()],
            redirect_uri: "http://127.0.0.1:9/cb".into(),
            mapping: AttributeMapping {
                login: Some("preferred_username".into()),
                email: Some("email".into()),
                name: Some("name".into()),
                groups: Some("groups".into()),
            },
            clock_skew: chrono::Duration::seconds(120),
        };
        let http = sso::outbound::Outbound::new(sso::outbound::Policy::private()).unwrap();
        let metadata = oidc::discover(&s.issuer, &http).await.unwrap();
        let started = oidc::start(&metadata, &s, "state-1").unwrap();
        let now = chrono::Utc::now().timestamp();
        op.state.lock().unwrap().claims = json!({
            "iss": op.issuer, "aud": "portico", "sub": "ada-0001", "preferred_username": "ada",
            "email": "ada@acme.example", "name": "Ada Lovelace", "iat": now, "exp": now + 3600,
            "nonce": started.nonce, "groups": (0..20).map(|i| format!("Team {i}")).collect::<Vec<_>>(),
        });

        // The token the provider hands out, for the raw verification.
        let body: serde_json::Value = serde_json::from_slice(
            &http
                .inner()
                .post(format!("{}/token", op.issuer))
                .form(&[("grant_type", "authorization_code"), ("code", "code")])
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap(),
        )
        .unwrap();
        let token_text = body["id_token"].as_str().unwrap().to_owned();
        op.state.lock().unwrap().fixed_token = Some(token_text.clone());
        let token = CoreIdToken::from_str(&token_text).unwrap();
        let verifier = CoreIdTokenVerifier::new_public_client(
            ClientId::new("portico".into()),
            IssuerUrl::new(op.issuer.clone()).unwrap(),
            metadata.jwks().clone(),
        );
        let nonce = Nonce::new(started.nonce.clone());
        token.claims(&verifier, &nonce).unwrap();

        let start = Instant::now();
        let mut raw_n = 0u64;
        while start.elapsed() < WINDOW {
            token.claims(&verifier, &nonce).unwrap();
            raw_n += 1;
        }
        let raw = raw_n as f64 / start.elapsed().as_secs_f64();

        // The provider's share: one token request on loopback, with nothing done with the answer.
        let start = Instant::now();
        let mut http_n = 0u64;
        while start.elapsed() < WINDOW {
            let res = http
                .inner()
                .post(format!("{}/token", op.issuer))
                .form(&[("grant_type", "authorization_code"), ("code", "code")])
                .send()
                .await
                .unwrap();
            res.bytes().await.unwrap();
            http_n += 1;
        }
        let round_trips = http_n as f64 / start.elapsed().as_secs_f64();

        let prepared = oidc::PreparedOidc::new(metadata.clone(), &s).unwrap();
        let start = Instant::now();
        let cpu_start = thread_cpu();
        let mut n = 0u64;
        while start.elapsed() < WINDOW {
            let (id, _) = prepared
                .finish(&http, "code", &started.nonce, &started.pkce_verifier, chrono::Utc::now())
                .await
                .unwrap();
            assert_eq!(id.groups.len(), 20);
            n += 1;
        }
        let wall = start.elapsed().as_secs_f64();
        let cpu = (thread_cpu() - cpu_start).as_secs_f64();
        let callbacks = n as f64 / wall;
        let per_core = n as f64 / cpu;
        println!("raw ID token verification (openidconnect, RS256): {raw:>8.0} per second (one core)");
        println!("callbacks per second of Portico's core:           {per_core:>8.0}");
        println!(
            "callbacks per second of wall time:                {callbacks:>8.0} (waiting on the provider included)"
        );
        println!("bare token request on loopback:                   {round_trips:>8.0} per second");
        println!("ratio: {:.1}% of the raw verification rate (goal: at least 50%)", 100.0 * per_core / raw);
        println!(
            "CPU per callback: {:.0} µs (raw verification {:.0} µs); wall time per callback {:.0} µs",
            1e6 / per_core,
            1e6 / raw,
            1e6 / callbacks
        );
        op.stop().await;
    });
}
