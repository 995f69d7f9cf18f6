//! The token endpoint's checks (RFC 6749 §2.3 and §5.2, RFC 7636 §4.6): who the client is, and
//! whether the PKCE verifier answers the challenge.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use openssl::hash::MessageDigest;

/// How a client presented itself at the token endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientCredentials {
    /// `client_secret_basic`: HTTP Basic with the form-encoded id and secret.
    Basic { client_id: String, secret: String },
    /// `client_secret_post`: `client_id` and `client_secret` in the form.
    Post { client_id: String, secret: String },
    /// A public client: `client_id` alone (PKCE then stands in for a secret).
    None { client_id: String },
}

impl ClientCredentials {
    pub fn client_id(&self) -> &str {
        match self {
            ClientCredentials::Basic { client_id, .. }
            | ClientCredentials::Post { client_id, .. }
            | ClientCredentials::None { client_id } => client_id,
        }
    }

    pub fn secret(&self) -> Option<&str> {
        match self {
            ClientCredentials::Basic { secret, .. } | ClientCredentials::Post { secret, .. } => Some(secret),
            ClientCredentials::None { .. } => None,
        }
    }
}

/// Why the client could not be told apart (`invalid_client`, or `invalid_request` for a
/// malformed request).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialsError {
    #[error("{0}")]
    InvalidRequest(String),
    #[error("{0}")]
    InvalidClient(String),
}

/// The form-decoding RFC 6749 §2.3.1 asks of the id and secret inside Basic credentials.
fn form_decode(s: &str) -> Option<String> {
    if s.contains('&') {
        return None;
    }
    url::form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.into_owned())
}

/// Reads the client's credentials from the `Authorization` header value (if any) and the form
/// fields `client_id` and `client_secret`. More than one method at once is refused (RFC 6749
/// §2.3: a client MUST NOT use more than one), and so is a Basic id that differs from the form's.
pub fn client_credentials(
    authorization: Option<&str>,
    form_client_id: Option<&str>,
    form_secret: Option<&str>,
) -> Result<ClientCredentials, CredentialsError> {
    let basic = match authorization {
        None => None,
        Some(h) => {
            let (scheme, rest) = h.split_once(' ').unwrap_or((h, ""));
            if !scheme.eq_ignore_ascii_case("basic") {
                return Err(CredentialsError::InvalidClient(format!(
                    "the {scheme} scheme does not authenticate clients"
                )));
            }
            let decoded =
                STANDARD.decode(rest.trim()).ok().and_then(|b| String::from_utf8(b).ok()).ok_or_else(|| {
                    CredentialsError::InvalidClient("the Basic credentials are not base64 text".into())
                })?;
            let (id, secret) = decoded
                .split_once(':')
                .ok_or_else(|| CredentialsError::InvalidClient("the Basic credentials have no `:`".into()))?;
            let (id, secret) = (
                form_decode(id).ok_or_else(|| CredentialsError::InvalidClient("bad client id encoding".into()))?,
                form_decode(secret).ok_or_else(|| CredentialsError::InvalidClient("bad secret encoding".into()))?,
            );
            Some((id, secret))
        }
    };
    match (basic, form_client_id.filter(|s| !s.is_empty()), form_secret.filter(|s| !s.is_empty())) {
        (Some(_), _, Some(_)) => Err(CredentialsError::InvalidRequest(
            "the client authenticated twice (Basic and client_secret); use one method".into(),
        )),
        (Some((id, _)), Some(form_id), None) if form_id != id => {
            Err(CredentialsError::InvalidRequest("client_id differs from the Basic credentials".into()))
        }
        (Some((client_id, secret)), _, None) => Ok(ClientCredentials::Basic { client_id, secret }),
        (None, Some(id), Some(secret)) => {
            Ok(ClientCredentials::Post { client_id: id.to_owned(), secret: secret.to_owned() })
        }
        (None, Some(id), None) => Ok(ClientCredentials::None { client_id: id.to_owned() }),
        (None, None, _) => Err(CredentialsError::InvalidClient("the request names no client".into())),
    }
}

/// True when `verifier` is a well-formed PKCE verifier whose S256 transform is `challenge`.
pub fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    if !well_formed {
        return false;
    }
    let Ok(digest) = openssl::hash::hash(MessageDigest::sha256(), verifier.as_bytes()) else {
        return false;
    };
    let computed = URL_SAFE_NO_PAD.encode(digest);
    // memcmp::eq compares in constant time, and only slices of one length.
    computed.len() == challenge.len() && openssl::memcmp::eq(computed.as_bytes(), challenge.as_bytes())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn rfc_7636_appendix_b_example() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert!(pkce_matches(verifier, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"));
        assert!(!pkce_matches(verifier, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cN"));
        assert!(!pkce_matches("short", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"));
        assert!(!pkce_matches(verifier, verifier), "plain is not S256");
    }

    #[test]
    fn one_authentication_method_at_a_time() {
        let basic = format!("Basic {}", STANDARD.encode("app%3A1:s%2Bcret"));
        assert_eq!(
            client_credentials(Some(&basic), None, None).unwrap(),
            ClientCredentials::Basic { client_id: "app:1".into(), secret: "s+cret".into() }
        );
        assert!(matches!(client_credentials(Some(&basic), None, Some("s")), Err(CredentialsError::InvalidRequest(_))));
        assert!(matches!(
            client_credentials(Some(&basic), Some("other"), None),
            Err(CredentialsError::InvalidRequest(_))
        ));
        assert!(matches!(client_credentials(Some("Bearer x"), None, None), Err(CredentialsError::InvalidClient(_))));
        assert_eq!(
            client_credentials(None, Some("a"), Some("b")).unwrap(),
            ClientCredentials::Post { client_id: "a".into(), secret: "b".into() }
        );
        assert_eq!(
            client_credentials(None, Some("a"), None).unwrap(),
            ClientCredentials::None { client_id: "a".into() }
        );
        assert!(client_credentials(None, None, Some("b")).is_err());
    }
}
