//! The OpenID Connect relying party against a real OpenID Provider (panva's oidc-provider, from
//! npm, run on loopback by the test): discovery, PKCE, state and nonce, code exchange, ID token
//! and userinfo; and the refusals such a provider can produce.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use sso::AttributeMapping;
use sso::oidc::{self, OidcRefusal, OidcSettings};

mod outbound;

const REDIRECT: &str = "http://127.0.0.1:9/oidc/callback";

/// The OpenID Provider as a child process, stopped by process id when dropped.
struct Op {
    child: Child,
    issuer: String,
}

impl Drop for Op {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_op(groups_in: &str) -> Op {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../interop");
    assert!(dir.join("node_modules/oidc-provider").is_dir(), "run ./dev test: it installs the test OpenID Provider");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let issuer = format!("http://127.0.0.1:{port}");
    let mut child = Command::new("node")
        .arg(dir.join("oidc-op.mjs"))
        .current_dir(&dir)
        .env("PORT", port.to_string())
        .env("ISSUER", &issuer)
        .env("CLIENT_ID", "portico")
        .env("CLIENT_SECRET", "a-client-secret-for-tests")
        .env("REDIRECT_URI", REDIRECT)
        .env("GROUPS_IN", groups_in)
        .env(
            "ACCOUNT",
            r#"{"sub":"ada-0001","preferred_username":"ada","email":"ada@acme.test","name":"Ada Lovelace","groups":["Developers","Admins"]}"#,
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("node runs the test OpenID Provider");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let op = Op { child, issuer };
    assert_eq!(rx.recv_timeout(Duration::from_secs(30)).unwrap(), "ready");
    op
}

fn settings(op: &Op) -> OidcSettings {
    OidcSettings {
        issuer: op.issuer.clone(),
        client_id: "portico".into(),
        client_secret: "a-client-secret-for-tests".into(),
        scopes: vec!["openid".into(), "email".into(), "profile".into(), "groups".into()],
        redirect_uri: REDIRECT.into(),
        mapping: AttributeMapping {
            login: Some("preferred_username".into()),
            email: Some("email".into()),
            name: Some("name".into()),
            groups: Some("groups".into()),
        },
        clock_skew: chrono::Duration::seconds(120),
    }
}

/// Plays the browser: follows the provider's redirects until it sends us back to the redirect
/// URI, and returns the `code` and `state` it carries.
async fn authorize(url: &url::Url) -> (String, String) {
    let browser =
        reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let mut next = url.to_string();
    for _ in 0..10 {
        let res = browser.get(&next).send().await.unwrap();
        let location =
            res.headers().get("location").unwrap_or_else(|| panic!("no redirect from {next}: {}", res.status()));
        let location = location.to_str().unwrap().to_owned();
        let absolute = url.join(&location).unwrap();
        if absolute.as_str().starts_with(REDIRECT) {
            let pairs: std::collections::HashMap<String, String> = absolute.query_pairs().into_owned().collect();
            return (pairs["code"].clone(), pairs["state"].clone());
        }
        next = absolute.to_string();
    }
    panic!("the provider never sent the browser back");
}

/// True when the npm OpenID Provider is installed (`./dev test` installs it). Otherwise the
/// test is skipped and says so past the harness's capture, unless `PORTICO_TEST_REQUIRE_ALL=1`
/// (set by CI), which makes it fail.
fn provider_installed() -> bool {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../interop/node_modules/oidc-provider");
    let node =
        std::env::var_os("PATH").is_some_and(|paths| std::env::split_paths(&paths).any(|p| p.join("node").is_file()));
    if node && dir.is_dir() {
        return true;
    }
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("a test");
    if std::env::var("PORTICO_TEST_REQUIRE_ALL").is_ok_and(|v| v == "1") {
        panic!("{test} needs node and the npm OpenID Provider (PORTICO_TEST_REQUIRE_ALL=1): run ./dev test");
    }
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "skipped {test}: it needs node and the npm OpenID Provider, which ./dev test installs"
    );
    false
}

type SignedIn = (Op, OidcSettings, openidconnect::core::CoreProviderMetadata, String, oidc::Started);

/// A sign-in at the real provider up to the callback; `None` when the provider is not installed.
async fn sign_in(groups_in: &str) -> Option<SignedIn> {
    if !provider_installed() {
        return None;
    }
    let op = start_op(groups_in);
    let s = settings(&op);
    let http = sso::outbound::Outbound::new(sso::outbound::Policy::private()).unwrap();
    let metadata = oidc::discover(&s.issuer, &http).await.unwrap();
    let started = oidc::start(&metadata, &s, "state-0001").unwrap();
    assert!(started.url.as_str().contains("code_challenge_method=S256"), "{}", started.url);
    let (code, state) = authorize(&started.url).await;
    assert_eq!(state, "state-0001");
    Some((op, s, metadata, code, started))
}

#[actix_web::test]
async fn a_sign_in_yields_the_mapped_identity_from_the_id_token() {
    let Some((_op, s, mut metadata, code, started)) = sign_in("id_token").await else { return };
    let http = sso::outbound::Outbound::new(sso::outbound::Policy::private()).unwrap();
    let id = oidc::finish(&mut metadata, &s, &http, &code, &started.nonce, &started.pkce_verifier, chrono::Utc::now())
        .await
        .unwrap();
    assert_eq!(id.subject, "ada-0001");
    assert_eq!(id.login.as_deref(), Some("ada"));
    assert_eq!(id.email.as_deref(), Some("ada@acme.test"));
    assert_eq!(id.name.as_deref(), Some("Ada Lovelace"));
    assert_eq!(id.groups, vec!["Developers", "Admins"]);
    // The same code again: the provider refuses it.
    let again =
        oidc::finish(&mut metadata, &s, &http, &code, &started.nonce, &started.pkce_verifier, chrono::Utc::now()).await;
    assert_eq!(again.unwrap_err().code(), "code_refused");
}

#[actix_web::test]
async fn claims_missing_from_the_id_token_come_from_userinfo() {
    let Some((_op, s, mut metadata, code, started)) = sign_in("userinfo").await else { return };
    let http = sso::outbound::Outbound::new(sso::outbound::Policy::private()).unwrap();
    let id = oidc::finish(&mut metadata, &s, &http, &code, &started.nonce, &started.pkce_verifier, chrono::Utc::now())
        .await
        .unwrap();
    assert_eq!(id.groups, vec!["Developers", "Admins"]);
    assert_eq!(id.email.as_deref(), Some("ada@acme.test"));
}

#[actix_web::test]
async fn a_nonce_from_another_sign_in_is_refused() {
    let Some((_op, s, mut metadata, code, started)) = sign_in("id_token").await else { return };
    let http = sso::outbound::Outbound::new(sso::outbound::Policy::private()).unwrap();
    let r =
        oidc::finish(&mut metadata, &s, &http, &code, "some-other-nonce", &started.pkce_verifier, chrono::Utc::now())
            .await;
    assert_eq!(r.unwrap_err(), OidcRefusal::Nonce);
}

#[actix_web::test]
async fn the_wrong_pkce_verifier_is_refused_by_the_provider() {
    let Some((_op, s, mut metadata, code, started)) = sign_in("id_token").await else { return };
    let http = sso::outbound::Outbound::new(sso::outbound::Policy::private()).unwrap();
    let wrong = "x".repeat(started.pkce_verifier.len());
    let r = oidc::finish(&mut metadata, &s, &http, &code, &started.nonce, &wrong, chrono::Utc::now()).await;
    assert_eq!(r.unwrap_err().code(), "code_refused");
}

#[actix_web::test]
async fn an_unreachable_provider_is_named() {
    let http = sso::outbound::Outbound::new(sso::outbound::Policy::private()).unwrap();
    let r = oidc::discover("http://127.0.0.1:1/issuer", &http).await;
    assert_eq!(r.unwrap_err().code(), "provider_unreachable");
}

#[actix_web::test]
async fn secrets_do_not_show_in_debug_output() {
    let op = Op { child: Command::new("true").spawn().unwrap(), issuer: "http://127.0.0.1:1".into() };
    let text = format!("{:?}", settings(&op));
    assert!(!text.contains("a-client-secret-for-tests"), "{text}");
}

mod fake_op;

mod tokens {
    //! What a hostile or broken provider might send in its ID token.
    use super::*;
    use fake_op::{FakeOp, Key, Signing};
    use serde_json::json;

    struct Setup {
        op: FakeOp,
        s: OidcSettings,
        metadata: openidconnect::core::CoreProviderMetadata,
        nonce: String,
        verifier: String,
    }

    async fn setup(key: Key) -> Setup {
        let op = FakeOp::start(key).await;
        let s = OidcSettings {
            issuer: op.issuer.clone(),
            client_id: "portico".into(),
            client_secret: "a-client-secret-for-tests".into(),
            scopes: vec!["openid".into()],
            redirect_uri: REDIRECT.into(),
            mapping: AttributeMapping {
                login: Some("preferred_username".into()),
                email: None,
                name: None,
                groups: None,
            },
            clock_skew: chrono::Duration::seconds(120),
        };
        let http = sso::outbound::Outbound::new(sso::outbound::Policy::private()).unwrap();
        let metadata = oidc::discover(&s.issuer, &http).await.unwrap();
        let started = oidc::start(&metadata, &s, "state-1").unwrap();
        let now = chrono::Utc::now().timestamp();
        op.state.lock().unwrap().claims = json!({
            "iss": op.issuer, "aud": "portico", "sub": "ada-0001", "preferred_username": "ada",
            "iat": now, "exp": now + 300, "nonce": started.nonce,
        });
        Setup { op, s, metadata, nonce: started.nonce, verifier: started.pkce_verifier }
    }

    async fn finish(x: &mut Setup) -> Result<sso::VerifiedIdentity, OidcRefusal> {
        let http = sso::outbound::Outbound::new(sso::outbound::Policy::private()).unwrap();
        oidc::finish(&mut x.metadata, &x.s, &http, "code-1", &x.nonce, &x.verifier, chrono::Utc::now()).await
    }

    #[actix_web::test]
    async fn the_clock_passed_in_decides_what_has_expired() {
        let mut x = setup(Key::new("k1")).await;
        let http = sso::outbound::Outbound::new(sso::outbound::Policy::private()).unwrap();
        let later = chrono::Utc::now() + chrono::Duration::hours(1);
        let r = oidc::finish(&mut x.metadata, &x.s, &http, "code-1", &x.nonce, &x.verifier, later).await;
        assert_eq!(r.unwrap_err().code(), "expired");
        let earlier = chrono::Utc::now() - chrono::Duration::hours(1);
        let r = oidc::finish(&mut x.metadata, &x.s, &http, "code-1", &x.nonce, &x.verifier, earlier).await;
        assert_eq!(r.unwrap_err().code(), "issued_in_future");
        x.op.stop().await;
    }

    #[actix_web::test]
    async fn a_well_made_token_is_accepted() {
        let mut x = setup(Key::new("k1")).await;
        assert_eq!(finish(&mut x).await.unwrap().login.as_deref(), Some("ada"));
        x.op.stop().await;
    }

    #[actix_web::test]
    async fn a_rotated_key_is_fetched_once() {
        let mut x = setup(Key::new("k1")).await;
        // The provider rotates to k2 after Portico cached its keys: one re-read finds it, and the
        // refreshed keys are handed back to be kept.
        let k2 = Key::new("k2");
        {
            let mut st = x.op.state.lock().unwrap();
            st.jwks.push(k2.clone());
            st.signing = Signing::Rs256(k2);
        }
        assert!(finish(&mut x).await.is_ok());
        assert!(x.metadata.jwks().keys().len() == 2, "the new key is kept");
        x.op.stop().await;
    }

    #[actix_web::test]
    async fn a_token_signed_with_an_unknown_key_is_refused() {
        let mut x = setup(Key::new("k1")).await;
        // A key the provider does not publish at all, even after a re-read.
        x.op.state.lock().unwrap().signing = Signing::Rs256(Key::new("stranger"));
        assert_eq!(finish(&mut x).await.unwrap_err(), OidcRefusal::Signature);
        x.op.stop().await;
    }

    #[actix_web::test]
    async fn an_oversized_answer_is_not_read() {
        let mut x = setup(Key::new("k1")).await;
        x.op.state.lock().unwrap().padding = oidc::MAX_RESPONSE_BYTES + 1;
        let refusal = finish(&mut x).await.unwrap_err();
        assert!(refusal.to_string().contains("larger than"), "{refusal}");
        x.op.stop().await;
    }

    #[actix_web::test]
    async fn a_url_the_policy_refuses_is_never_called() {
        let x = setup(Key::new("k1")).await;
        let before = x.op.state.lock().unwrap().requests;
        // The provider runs on loopback over plain HTTP, which the public policy refuses.
        let http = sso::outbound::Outbound::new(sso::outbound::Policy::public()).unwrap();
        let refusal = oidc::discover(&x.s.issuer, &http).await.unwrap_err();
        assert_eq!(refusal.code(), "provider_unreachable");
        assert!(refusal.to_string().contains("is not an https:// URL"), "{refusal}");
        assert_eq!(x.op.state.lock().unwrap().requests, before, "nothing was sent");
        x.op.stop().await;
    }

    #[actix_web::test]
    async fn alg_none_is_refused() {
        let mut x = setup(Key::new("k1")).await;
        x.op.state.lock().unwrap().signing = Signing::None;
        assert_eq!(finish(&mut x).await.unwrap_err().code(), "algorithm_refused");
        x.op.stop().await;
    }

    #[actix_web::test]
    async fn hs256_keyed_with_the_public_key_is_refused() {
        let k1 = Key::new("k1");
        let mut x = setup(k1.clone()).await;
        x.op.state.lock().unwrap().signing = Signing::Hs256WithPublicKey(k1);
        assert_eq!(finish(&mut x).await.unwrap_err().code(), "algorithm_refused");
        x.op.stop().await;
    }

    /// Finishes a sign-in whose ID token has `claim` set to `value`; returns the refusal code.
    async fn refused_with(claim: &str, value: serde_json::Value) -> &'static str {
        let mut x = setup(Key::new("k1")).await;
        x.op.state.lock().unwrap().claims[claim] = value;
        let code = finish(&mut x).await.map(|_| "accepted").unwrap_or_else(|r| r.code());
        x.op.stop().await;
        code
    }

    #[actix_web::test]
    async fn a_token_from_another_issuer_is_refused() {
        assert_eq!(refused_with("iss", json!("https://impostor.test")).await, "issuer_mismatch");
    }

    #[actix_web::test]
    async fn a_token_for_another_client_is_refused() {
        assert_eq!(refused_with("aud", json!("someone-else")).await, "audience_mismatch");
    }

    #[actix_web::test]
    async fn a_token_also_for_another_client_is_refused() {
        assert_eq!(refused_with("aud", json!(["portico", "someone-else"])).await, "audience_mismatch");
    }

    #[actix_web::test]
    async fn a_token_authorized_for_another_party_is_refused() {
        assert_eq!(refused_with("azp", json!("someone-else")).await, "audience_mismatch");
        assert_eq!(refused_with("azp", json!("portico")).await, "accepted");
    }

    #[actix_web::test]
    async fn an_expired_token_is_refused() {
        assert_eq!(refused_with("exp", json!(chrono::Utc::now().timestamp() - 3600)).await, "expired");
    }

    #[actix_web::test]
    async fn a_token_issued_in_the_future_is_refused() {
        // The settings allow 120 seconds of clock difference.
        let later = chrono::Utc::now().timestamp() + 600;
        assert_eq!(refused_with("iat", json!(later)).await, "issued_in_future");
        // Within the leeway for drifting clocks: accepted.
        assert_eq!(refused_with("iat", json!(chrono::Utc::now().timestamp() + 60)).await, "accepted");
    }

    #[actix_web::test]
    async fn a_token_just_expired_by_a_drifting_clock_is_accepted() {
        assert_eq!(refused_with("exp", json!(chrono::Utc::now().timestamp() - 30)).await, "accepted");
        assert_eq!(refused_with("exp", json!(chrono::Utc::now().timestamp() - 600)).await, "expired");
    }
}
