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
