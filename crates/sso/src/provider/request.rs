//! The authorization request (OpenID Connect Core §3.1.2.1, RFC 6749 §4.1.1, RFC 7636).
//!
//! Read in two steps, because the answer to a bad request depends on how far it can be
//! trusted: [`client_and_redirect`] finds the client and the redirect URI, and anything wrong
//! there is shown on Portico's own page and never redirected (RFC 6749 §4.1.2.1: otherwise
//! Portico would be an open redirector). Once the redirect URI is known to be registered,
//! [`validate`] checks the rest, and its refusals go back to the client with `error`, `state`
//! and `iss` (RFC 9207, against mix-up).

use serde::{Deserialize, Serialize};

use super::SCOPES;

/// A registered client, as much as the request checks need.
#[derive(Debug, Clone, Copy)]
pub struct Client<'a> {
    pub client_id: &'a str,
    pub public: bool,
    pub redirect_uris: &'a [String],
}

/// How a request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Shown on Portico's page; the browser is not sent anywhere.
    Page(String),
    /// Sent back to the client at its (registered) redirect URI.
    Redirect(RedirectError),
}

/// An error response to the client (RFC 6749 §4.1.2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectError {
    pub redirect_uri: String,
    pub error: &'static str,
    pub description: String,
    pub state: Option<String>,
}

impl RedirectError {
    /// The URL the browser is sent to, with `iss` naming Portico.
    pub fn url(&self, issuer: &str) -> String {
        let mut pairs = vec![("error", self.error), ("error_description", self.description.as_str())];
        if let Some(s) = &self.state {
            pairs.push(("state", s.as_str()));
        }
        pairs.push(("iss", issuer));
        with_query(&self.redirect_uri, &pairs)
    }
}

/// `uri` with `pairs` appended to its query (a registered URI may carry one of its own).
pub fn with_query(uri: &str, pairs: &[(&str, &str)]) -> String {
    match url::Url::parse(uri) {
        Ok(mut u) => {
            {
                let mut q = u.query_pairs_mut();
                for (k, v) in pairs {
                    q.append_pair(k, v);
                }
            }
            u.to_string()
        }
        // Registered URIs are validated URLs; this is not reached.
        Err(_) => uri.to_owned(),
    }
}

/// `prompt` (OpenID Connect Core §3.1.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Prompt {
    /// Sign in again at the IdP, whatever session there is.
    Login,
    /// Answer without any page: `login_required` when there is no session.
    None,
}

/// A request that passed every check: what the client asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationRequest {
    pub client_id: String,
    pub redirect_uri: String,
    /// The scopes Portico grants, `openid` first.
    pub scopes: Vec<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    /// The S256 PKCE challenge.
    pub code_challenge: Option<String>,
    pub prompt: Option<Prompt>,
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
    /// Portico's own parameter: the enterprise whose IdP signs the person in.
    pub enterprise_key: Option<String>,
}

impl AuthorizationRequest {
    pub fn scope(&self) -> String {
        self.scopes.join(" ")
    }

    /// A refusal of this request, sent back to the client.
    pub fn refuse(&self, error: &'static str, description: impl Into<String>) -> RedirectError {
        RedirectError {
            redirect_uri: self.redirect_uri.clone(),
            error,
            description: description.into(),
            state: self.state.clone(),
        }
    }

    /// The URL that hands the client its code.
    pub fn success_url(&self, code: &str, issuer: &str) -> String {
        let mut pairs = vec![("code", code)];
        if let Some(s) = &self.state {
            pairs.push(("state", s.as_str()));
        }
        pairs.push(("iss", issuer));
        with_query(&self.redirect_uri, &pairs)
    }
}

/// The one value of `name`, `Ok(None)` when absent, `Err` when it is there more than once
/// (RFC 6749 §3.1: no parameter may repeat). An empty value counts as absent (§3.1 too).
fn single<'a>(params: &'a [(String, String)], name: &str) -> Result<Option<&'a str>, String> {
    let mut found = params.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let first = found.next();
    if found.next().is_some() {
        return Err(format!("`{name}` is given more than once"));
    }
    Ok(first.filter(|v| !v.is_empty()))
}

/// The client id and redirect URI of a request; refusals here are shown on Portico's page.
pub fn client_and_redirect(params: &[(String, String)]) -> Result<(String, Option<String>), Refusal> {
    let client_id = single(params, "client_id")
        .map_err(Refusal::Page)?
        .ok_or_else(|| Refusal::Page("The request names no application (client_id).".into()))?;
    let redirect_uri = single(params, "redirect_uri").map_err(Refusal::Page)?;
    Ok((client_id.to_owned(), redirect_uri.map(str::to_owned)))
}

/// The redirect URI to answer at: the one named, if it is registered for `client`, character
/// for character (no prefix, no normalisation).
pub fn checked_redirect(client: &Client<'_>, named: Option<&str>) -> Result<String, Refusal> {
    let Some(uri) = named else {
        return Err(Refusal::Page("The request names no redirect URI (redirect_uri).".into()));
    };
    if client.redirect_uris.iter().any(|r| r == uri) {
        Ok(uri.to_owned())
    } else {
        Err(Refusal::Page(
            "The redirect URI of this request is not registered for the application, so Portico will not send you there."
                .into(),
        ))
    }
}

fn is_pkce_value(s: &str) -> bool {
    (43..=128).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// Checks everything after the client and redirect URI.
pub fn validate(params: &[(String, String)], client: &Client<'_>) -> Result<AuthorizationRequest, Refusal> {
    let (client_id, named) = client_and_redirect(params)?;
    if client_id != client.client_id {
        return Err(Refusal::Page("The request names another application.".into()));
    }
    let redirect_uri = checked_redirect(client, named.as_deref())?;
    // `state` is echoed even on the refusals below, if it is single.
    let state = single(params, "state").ok().flatten().map(str::to_owned);
    let refuse = |error: &'static str, description: String| {
        Refusal::Redirect(RedirectError {
            redirect_uri: redirect_uri.clone(),
            error,
            description,
            state: state.clone(),
        })
    };
    let get = |name: &str| single(params, name).map_err(|d| refuse("invalid_request", d));
    single(params, "state").map_err(|d| refuse("invalid_request", d))?;
    if get("request")?.is_some() {
        return Err(refuse("request_not_supported", "request objects are not supported".into()));
    }
    if get("request_uri")?.is_some() {
        return Err(refuse("request_uri_not_supported", "request_uri is not supported".into()));
    }
    match get("response_type")? {
        Some("code") => {}
        None => return Err(refuse("invalid_request", "response_type is missing".into())),
        Some(other) => {
            return Err(refuse(
                "unsupported_response_type",
                format!("response_type `{other}` is not supported; use `code`"),
            ));
        }
    }
    if let Some(mode) = get("response_mode")?
        && mode != "query"
    {
        return Err(refuse("invalid_request", format!("response_mode `{mode}` is not supported; use `query`")));
    }
    let asked: Vec<&str> = get("scope")?.unwrap_or_default().split(' ').filter(|s| !s.is_empty()).collect();
    if !asked.contains(&"openid") {
        return Err(refuse("invalid_scope", "the scope must include `openid`".into()));
    }
    let scopes: Vec<String> = SCOPES.iter().filter(|s| asked.contains(s)).map(|s| (*s).to_owned()).collect();
    let code_challenge = match (get("code_challenge")?, get("code_challenge_method")?) {
        (None, None) if client.public => {
            return Err(refuse("invalid_request", "a public application must use PKCE (code_challenge, S256)".into()));
        }
        (None, None) => None,
        (None, Some(_)) => {
            return Err(refuse("invalid_request", "code_challenge_method without code_challenge".into()));
        }
        (Some(_), None | Some("plain")) => {
            return Err(refuse("invalid_request", "only the S256 code_challenge_method is accepted".into()));
        }
        (Some(c), Some("S256")) if c.len() == 43 && is_pkce_value(c) => Some(c.to_owned()),
        (Some(_), Some("S256")) => {
            return Err(refuse("invalid_request", "code_challenge is not a base64url SHA-256 value".into()));
        }
        (Some(_), Some(m)) => {
            return Err(refuse("invalid_request", format!("code_challenge_method `{m}` is not supported")));
        }
    };
    let prompt = match get("prompt")? {
        None => None,
        Some(p) => {
            let values: Vec<&str> = p.split(' ').filter(|s| !s.is_empty()).collect();
            if values.contains(&"none") && values.len() > 1 {
                return Err(refuse("invalid_request", "prompt=none cannot be combined with other values".into()));
            }
            if values.contains(&"none") {
                Some(Prompt::None)
            } else if values.contains(&"login") {
                Some(Prompt::Login)
            } else {
                // consent, select_account: the host is first-party and the IdP picks the account.
                None
            }
        }
    };
    let max_age = match get("max_age")? {
        None => None,
        Some(v) => match v.parse::<i64>() {
            Ok(n) if n >= 0 => Some(n),
            _ => return Err(refuse("invalid_request", "max_age must be a number of seconds".into())),
        },
    };
    let nonce = get("nonce")?.map(str::to_owned);
    if nonce.as_ref().is_some_and(|n| n.len() > 512) {
        return Err(refuse("invalid_request", "nonce is longer than 512 characters".into()));
    }
    if state.as_ref().is_some_and(|s| s.len() > 2048) {
        return Err(refuse("invalid_request", "state is longer than 2048 characters".into()));
    }
    Ok(AuthorizationRequest {
        client_id,
        redirect_uri: redirect_uri.clone(),
        scopes,
        state: state.clone(),
        nonce,
        code_challenge,
        prompt,
        max_age,
        login_hint: get("login_hint")?.map(|h| h.chars().take(320).collect()),
        enterprise_key: get("enterprise_key")?.map(|k| k.trim().to_owned()),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn state_and_iss_travel_with_the_code() {
        let r = AuthorizationRequest {
            client_id: "c".into(),
            redirect_uri: "https://app.example/cb?tenant=1".into(),
            scopes: vec!["openid".into()],
            state: Some("s p&".into()),
            nonce: None,
            code_challenge: None,
            prompt: None,
            max_age: None,
            login_hint: None,
            enterprise_key: None,
        };
        let url = url::Url::parse(&r.success_url("abc", "https://portico.example")).unwrap();
        let q: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        assert_eq!(
            q,
            vec![
                ("tenant".into(), "1".into()),
                ("code".into(), "abc".into()),
                ("state".into(), "s p&".into()),
                ("iss".into(), "https://portico.example".into())
            ]
        );
    }
}
