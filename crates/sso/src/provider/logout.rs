//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): reading the `id_token_hint`
//! an application sends. Only an ID token Portico signed (with a key it still publishes) and
//! issued is accepted as a hint; it may have expired, since logging out with an old token is
//! what applications do.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

use super::keys::SigningKey;

/// What a valid hint says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hint {
    /// The application the token was issued to.
    pub client_id: String,
    pub sub: String,
    pub sid: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Header {
    alg: String,
    kid: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Aud {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
struct Payload {
    iss: String,
    aud: Aud,
    sub: String,
    sid: Option<String>,
}

/// Reads `hint` if Portico (`issuer`) signed it with one of `keys`; `None` otherwise.
pub fn read_hint<'a>(hint: &str, issuer: &str, keys: impl IntoIterator<Item = &'a SigningKey>) -> Option<Hint> {
    let mut parts = hint.split('.');
    let (h, p, s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let header: Header = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).ok()?).ok()?;
    let kid = header.kid?;
    let key = keys.into_iter().find(|k| k.kid() == kid && k.alg().as_str() == header.alg)?;
    let signature = URL_SAFE_NO_PAD.decode(s).ok()?;
    if !key.verify_bytes(format!("{h}.{p}").as_bytes(), &signature) {
        return None;
    }
    let payload: Payload = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).ok()?).ok()?;
    if payload.iss != issuer {
        return None;
    }
    let client_id = match payload.aud {
        Aud::One(a) => a,
        Aud::Many(mut v) if v.len() == 1 => v.pop()?,
        Aud::Many(_) => return None,
    };
    Some(Hint { client_id, sub: payload.sub, sid: payload.sid })
}

/// The event a back-channel logout token carries (OpenID Connect Back-Channel Logout 1.0 §2.4).
pub const BACKCHANNEL_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// A signed logout token for `client_id` about session `sid` of `sub` (Back-Channel Logout
/// §2.4): `typ` is `logout+jwt` (§2.4, and RFC 8725's explicit typing) and it has no `nonce`, so
/// it can never pass for an ID token. `openidconnect` builds ID tokens only, so the JWS is
/// assembled here, with the same key and signature code.
pub fn logout_token(
    key: &SigningKey,
    issuer: &str,
    client_id: &str,
    sub: &str,
    sid: &str,
    jti: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<String, super::keys::KeyError> {
    let header = serde_json::json!({"alg": key.alg().as_str(), "kid": key.kid(), "typ": "logout+jwt"});
    let claims = serde_json::json!({
        "iss": issuer, "aud": client_id, "sub": sub, "sid": sid, "jti": jti,
        "iat": now.timestamp(), "exp": now.timestamp() + 120,
        "events": { BACKCHANNEL_EVENT: {} },
    });
    let input =
        format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
    let signature = key.sign_bytes(input.as_bytes())?;
    Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::provider::keys::{Alg, SigningKey};

    #[test]
    fn a_logout_token_is_never_read_as_a_hint_of_another_issuer_or_key() {
        for alg in [Alg::Rs256, Alg::Es256] {
            let (key, _) = SigningKey::generate(alg).unwrap();
            let (other, _) = SigningKey::generate(alg).unwrap();
            let t = logout_token(&key, "https://p.example", "app", "u1", "s1", "j1", chrono::Utc::now()).unwrap();
            let hint = read_hint(&t, "https://p.example", [&key]).unwrap();
            assert_eq!(hint, Hint { client_id: "app".into(), sub: "u1".into(), sid: Some("s1".into()) });
            assert!(read_hint(&t, "https://other.example", [&key]).is_none(), "another issuer");
            assert!(read_hint(&t, "https://p.example", [&other]).is_none(), "another key");
            let (head, rest) = t.split_once('.').unwrap();
            let none_alg = format!("{}.{}", URL_SAFE_NO_PAD.encode(r#"{"alg":"none","kid":"x"}"#), rest);
            assert!(read_hint(&none_alg, "https://p.example", [&key]).is_none(), "alg none: {head}");
        }
    }
}
