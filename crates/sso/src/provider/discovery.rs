//! The discovery document (OpenID Connect Discovery 1.0 §3), served at
//! `{issuer}/.well-known/openid-configuration`. The issuer is `server.public_url` exactly as
//! configured: relying parties compare it character for character with the ID token's `iss`.

use super::SCOPES;

/// Portico's endpoints, relative to the issuer.
pub const AUTHORIZATION_PATH: &str = "/oauth2/authorize";
pub const TOKEN_PATH: &str = "/oauth2/token";
pub const USERINFO_PATH: &str = "/oauth2/userinfo";
pub const JWKS_PATH: &str = "/oauth2/jwks";
pub const REVOCATION_PATH: &str = "/oauth2/revoke";
pub const END_SESSION_PATH: &str = "/oauth2/logout";

/// `issuer` joined with `path`, without doubling or dropping a slash.
pub fn endpoint(issuer: &str, path: &str) -> String {
    format!("{}{path}", issuer.trim_end_matches('/'))
}

/// The discovery document of the provider at `issuer`.
pub fn document(issuer: &str) -> serde_json::Value {
    serde_json::json!({
        "issuer": issuer,
        "authorization_endpoint": endpoint(issuer, AUTHORIZATION_PATH),
        "token_endpoint": endpoint(issuer, TOKEN_PATH),
        "userinfo_endpoint": endpoint(issuer, USERINFO_PATH),
        "jwks_uri": endpoint(issuer, JWKS_PATH),
        "revocation_endpoint": endpoint(issuer, REVOCATION_PATH),
        "end_session_endpoint": endpoint(issuer, END_SESSION_PATH),
        "scopes_supported": SCOPES,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": [
            "sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "sid", "name",
            "preferred_username", "email", "email_verified", "enterprise", "organizations", "idp"
        ],
        "prompt_values_supported": ["none", "login"],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_issuer_is_kept_exactly_and_endpoints_join_it_cleanly() {
        for issuer in ["https://portico.example", "https://portico.example/", "https://h.example/sso"] {
            let d = document(issuer);
            assert_eq!(d["issuer"], issuer);
            let token = d["token_endpoint"].as_str().unwrap_or_default();
            assert!(token.ends_with("/oauth2/token") && !token.contains("//oauth2"), "{token}");
        }
    }
}
