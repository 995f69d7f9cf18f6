//! Who is calling: console sessions (cookie), admin API keys (bearer), and CSRF tokens for
//! console forms.
//!
//! CSRF tokens are an HMAC of the session id (or, before sign-in, of a random `portico_anon`
//! cookie) under `security.secret_key`: nothing to store, and a token is worthless for any
//! other browser.

use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use directory::Actor;
use directory::session::SessionInfo;
use hmac::{KeyInit, Mac};
use secrecy::ExposeSecret;
use subtle::ConstantTimeEq;

use crate::error::{ApiError, PageError, blocking};
use crate::observe::OperationId;
use crate::state::AppState;

pub const SESSION_COOKIE: &str = "portico_session";
pub const ANON_COOKIE: &str = "portico_anon";

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// The CSRF token for forms shown to the holder of `binding`.
pub fn csrf_token(state: &AppState, binding: &str) -> String {
    let Ok(mut mac) = HmacSha256::new_from_slice(state.settings.secret_key.expose_secret().as_bytes()) else {
        return String::new();
    };
    mac.update(b"portico csrf v1\0");
    mac.update(binding.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// True when `presented` is the CSRF token for `binding`.
pub fn csrf_matches(state: &AppState, binding: &str, presented: &str) -> bool {
    let expected = csrf_token(state, binding);
    !binding.is_empty() && !expected.is_empty() && bool::from(expected.as_bytes().ct_eq(presented.as_bytes()))
}

/// A cookie with Portico's defaults: HttpOnly, SameSite=Lax, path `/`, Secure over HTTPS.
pub fn cookie(state: &AppState, name: &'static str, value: String) -> Cookie<'static> {
    Cookie::build(name, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.settings.secure_cookies())
        .finish()
}

/// The CSRF binding of a visitor who is not signed in, and the cookie to set when they had
/// none yet.
pub fn anon_binding(state: &AppState, req: &HttpRequest) -> Result<(String, Option<Cookie<'static>>), PageError> {
    if let Some(c) = req.cookie(ANON_COOKIE)
        && c.value().len() >= 32
    {
        return Ok((c.value().to_owned(), None));
    }
    let value = directory::secret::random_token(32)?;
    Ok((value.clone(), Some(cookie(state, ANON_COOKIE, value))))
}

/// The cookie that ties a sign-in to the browser that started it: without it, an attacker could
/// start a sign-in, have the IdP answer, and post their own response from a victim's browser,
/// which would then be signed in as the attacker. The IdP posts cross-site, so the cookie must
/// be `SameSite=None`, which browsers accept only with `Secure`: the check applies when Portico
/// is served over HTTPS.
pub const BINDING_COOKIE: &str = "portico_sso_request";

pub fn binding_cookie(state: &AppState, request_id: &str) -> actix_web::cookie::Cookie<'static> {
    let secure = state.settings.secure_cookies();
    actix_web::cookie::Cookie::build(BINDING_COOKIE, crate::app::sign_in::binding_value(state, request_id))
        .path("/sso/")
        .http_only(true)
        .secure(secure)
        .same_site(if secure { actix_web::cookie::SameSite::None } else { actix_web::cookie::SameSite::Lax })
        .max_age(actix_web::cookie::time::Duration::minutes(directory::sso_sign_in::REQUEST_TTL_MINUTES))
        .finish()
}

pub use crate::proxy::client_address;

pub fn operation_id(req: &HttpRequest) -> Option<String> {
    req.extensions().get::<OperationId>().map(|o| o.0.clone())
}

/// A signed-in console user. Extracting it from a request without a live session redirects
/// the browser to the sign-in page.
#[derive(Debug, Clone)]
pub struct ConsoleSession {
    pub info: SessionInfo,
    pub token: String,
    pub csrf: String,
    /// The status message an action left for this page (read once, on page loads only).
    pub flash: Option<String>,
}

impl ConsoleSession {
    pub fn actor(&self) -> &Actor {
        &self.info.actor
    }

    /// Runs `f` on the blocking pool with the directory and this session's caller context (its
    /// actor, and the request's operation id for the audit log): the shape of every console
    /// action.
    pub async fn call<T: Send + 'static>(
        &self,
        state: &AppState,
        req: &HttpRequest,
        f: impl FnOnce(&directory::Directory, &directory::Ctx<'_>) -> Result<T, directory::DirectoryError> + Send + 'static,
    ) -> Result<T, PageError> {
        self.run(state, operation_id(req), f).await
    }

    /// As [`ConsoleSession::call`], for the reads behind a page (nothing to audit).
    pub async fn read<T: Send + 'static>(
        &self,
        state: &AppState,
        f: impl FnOnce(&directory::Directory, &directory::Ctx<'_>) -> Result<T, directory::DirectoryError> + Send + 'static,
    ) -> Result<T, PageError> {
        self.run(state, None, f).await
    }

    async fn run<T: Send + 'static>(
        &self,
        state: &AppState,
        op: Option<String>,
        f: impl FnOnce(&directory::Directory, &directory::Ctx<'_>) -> Result<T, directory::DirectoryError> + Send + 'static,
    ) -> Result<T, PageError> {
        let dir = state.directory.clone();
        let actor = self.actor().clone();
        blocking(move || f(&dir, &directory::Ctx::new(&actor, op.as_deref()))).await
    }

    /// Leaves `message` for the next page this session shows (the result of an action, kept
    /// on the server: never text from a URL).
    pub async fn flash(&self, state: &AppState, message: impl Into<String>) -> Result<(), PageError> {
        let (dir, token, message) = (state.directory.clone(), self.token.clone(), message.into());
        blocking(move || dir.set_flash(&token, &message)).await
    }

    /// Refuses a form whose CSRF token is not this session's.
    pub fn check_csrf(&self, state: &AppState, presented: &str) -> Result<(), PageError> {
        if csrf_matches(state, &self.token, presented) { Ok(()) } else { Err(PageError::Csrf) }
    }
}

async fn load_session(req: &HttpRequest) -> Result<Option<ConsoleSession>, PageError> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Err(PageError::Directory(directory::DirectoryError::Internal("application state missing".into())));
    };
    let Some(token) = req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned()) else {
        return Ok(None);
    };
    let directory = state.directory.clone();
    let lookup = token.clone();
    let page_load = req.method() == actix_web::http::Method::GET;
    let found = blocking::<_, PageError>(move || {
        let Some(info) = directory.resolve_session(&lookup)? else {
            return Ok(None);
        };
        // A page shows the message an action left; a form post leaves it for the page after.
        // The session's own read says whether there is one, so most pages pay nothing more.
        let flash = if page_load && info.flash.is_some() { directory.take_flash(&lookup)? } else { None };
        Ok(Some((info, flash)))
    })
    .await?;
    Ok(found.map(|(info, flash)| {
        let csrf = csrf_token(&state, &token);
        ConsoleSession { info, token, csrf, flash }
    }))
}

impl FromRequest for ConsoleSession {
    type Error = PageError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            match load_session(&req).await? {
                Some(s) => Ok(s),
                None => {
                    let next = if req.method() == actix_web::http::Method::GET {
                        req.uri().path_and_query().map(|p| p.to_string()).unwrap_or_else(|| "/".into())
                    } else {
                        "/".into()
                    };
                    Err(PageError::SignInRequired { next })
                }
            }
        })
    }
}

/// A console session if there is one; never redirects.
#[derive(Debug, Clone)]
pub struct MaybeSession(pub Option<ConsoleSession>);

impl FromRequest for MaybeSession {
    type Error = PageError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { Ok(MaybeSession(load_session(&req).await?)) })
    }
}

/// The caller of the admin API, authenticated by `Authorization: Bearer <admin API key>`.
#[derive(Debug, Clone)]
pub struct ApiCaller {
    pub actor: Actor,
    pub operation_id: Option<String>,
}

impl ApiCaller {
    /// The domain context of this call.
    pub fn ctx(&self) -> directory::Ctx<'_> {
        directory::Ctx::new(&self.actor, self.operation_id.as_deref())
    }
}

impl FromRequest for ApiCaller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = req.app_data::<web::Data<AppState>>().cloned().ok_or(ApiError::Unauthorized)?;
            let header = req
                .headers()
                .get(actix_web::http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            let token = match header.split_once(' ') {
                Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim().to_owned(),
                _ => return Err(ApiError::Unauthorized),
            };
            let directory = state.directory.clone();
            let actor = blocking::<_, ApiError>(move || directory.authenticate_api_key(&token)).await?;
            match actor {
                Some(actor) => Ok(ApiCaller { actor, operation_id: operation_id(&req) }),
                None => Err(ApiError::Unauthorized),
            }
        })
    }
}
