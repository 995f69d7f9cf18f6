//! Signing in and out, set-up links, the start page and "my organizations".

use actix_web::cookie::Cookie;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use directory::setup::{SetupForm, SetupLink};
use directory::sign_in::Credentials;
use directory::user::UserGroup;
use directory::{Actor, DirectoryError, FieldErrors};
use serde::Deserialize;

use super::{Chrome, CsrfOnly, render, render_status, see_other};
use crate::auth::{
    ANON_COOKIE, ConsoleSession, MaybeSession, SESSION_COOKIE, anon_binding, client_address, cookie, csrf_matches,
    csrf_token, operation_id,
};
use crate::error::{PageError, blocking};
use crate::respond::safe_next;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(home)
        .service(sign_in_page)
        .service(sign_in)
        .service(sign_out)
        .service(setup_page)
        .service(setup)
        .service(me);
}

/// Where a signed-in person starts.
fn landing(actor: &Actor, enterprise_key: Option<&str>) -> String {
    match actor {
        Actor::Operator { .. } => "/console/enterprises".into(),
        Actor::User { grants, .. } if !grants.is_empty() => match enterprise_key {
            Some(key) => format!("/console/e/{key}"),
            None => "/console/me".into(),
        },
        _ => "/console/me".into(),
    }
}

#[get("/")]
async fn home(session: MaybeSession) -> HttpResponse {
    match session.0 {
        Some(s) => see_other(&landing(&s.info.actor, s.info.enterprise_key.as_deref())),
        None => see_other("/login"),
    }
}

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage {
    chrome: Chrome,
    notice: Option<String>,
    error: Option<String>,
    next: String,
    enterprise: String,
    login: String,
}

#[derive(Debug, Deserialize)]
struct NextQuery {
    next: Option<String>,
}

#[get("/login")]
async fn sign_in_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: MaybeSession,
    query: web::Query<NextQuery>,
) -> Result<HttpResponse, PageError> {
    if let Some(s) = session.0 {
        return Ok(see_other(&landing(&s.info.actor, s.info.enterprise_key.as_deref())));
    }
    let (binding, new_cookie) = anon_binding(&state, &req)?;
    let dir = state.directory.clone();
    let operators = blocking::<_, PageError>(move || dir.operator_count()).await?;
    let page = SignInPage {
        chrome: Chrome::anonymous(csrf_token(&state, &binding)),
        notice: (operators == 0).then(|| {
            "Portico has no operator yet. Open the one-time set-up link that `portico serve` printed when it started.".to_owned()
        }),
        error: None,
        next: query.into_inner().next.unwrap_or_default(),
        enterprise: String::new(),
        login: String::new(),
    };
    let mut res = render(&page)?;
    if let Some(c) = new_cookie {
        res.add_cookie(&c).map_err(|e| PageError::BadRequest(e.to_string()))?;
    }
    Ok(res)
}

#[derive(Debug, Deserialize)]
struct SignInForm {
    csrf_token: String,
    #[serde(default)]
    next: String,
    #[serde(default)]
    enterprise: String,
    login: String,
    password: String,
}

fn anon_csrf_ok(state: &AppState, req: &HttpRequest, presented: &str) -> Result<(), PageError> {
    let binding = req.cookie(ANON_COOKIE).map(|c| c.value().to_owned()).unwrap_or_default();
    if csrf_matches(state, &binding, presented) { Ok(()) } else { Err(PageError::Csrf) }
}

/// Opens a session for `subject` and answers with the cookie and a redirect.
async fn start_session(
    state: &AppState,
    req: &HttpRequest,
    subject: directory::session::SessionSubject,
    next: Option<&str>,
) -> Result<HttpResponse, PageError> {
    let dir = state.directory.clone();
    let address = client_address(req);
    let agent = req
        .headers()
        .get(actix_web::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let token = blocking::<_, PageError>(move || dir.create_session(&subject, &address, &agent)).await?;
    let dir = state.directory.clone();
    let lookup = token.clone();
    let info = blocking::<_, PageError>(move || dir.resolve_session(&lookup)).await?;
    let target = match (next.and_then(safe_next), &info) {
        (Some(n), _) => n.to_owned(),
        (None, Some(i)) => landing(&i.actor, i.enterprise_key.as_deref()),
        (None, None) => "/".into(),
    };
    let mut res = see_other(&target);
    let mut gone = cookie(state, ANON_COOKIE, String::new());
    gone.make_removal();
    res.add_cookie(&cookie(state, SESSION_COOKIE, token)).map_err(|e| PageError::BadRequest(e.to_string()))?;
    res.add_cookie(&gone).map_err(|e| PageError::BadRequest(e.to_string()))?;
    Ok(res)
}

#[post("/login")]
async fn sign_in(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<SignInForm>,
) -> Result<HttpResponse, PageError> {
    let form = form.into_inner();
    anon_csrf_ok(&state, &req, &form.csrf_token)?;
    let enterprise = form.enterprise.trim().to_owned();
    let login = form.login.trim().to_owned();
    let address = client_address(&req);
    let op = operation_id(&req);
    let dir = state.directory.clone();
    let (e2, l2, password) = (enterprise.clone(), login.clone(), form.password);
    let outcome = blocking::<_, PageError>(move || {
        let creds = Credentials {
            enterprise_key: (!e2.is_empty()).then_some(e2.as_str()),
            login: &l2,
            password: &password,
            address: &address,
        };
        Ok(dir.sign_in(&creds, op.as_deref()))
    })
    .await?;
    match outcome {
        Ok(subject) => start_session(&state, &req, subject, Some(&form.next)).await,
        Err(e @ (DirectoryError::Unauthorized(_) | DirectoryError::RateLimited { .. })) => {
            let status = if matches!(e, DirectoryError::RateLimited { .. }) {
                StatusCode::TOO_MANY_REQUESTS
            } else {
                StatusCode::UNAUTHORIZED
            };
            let retry_after = match e {
                DirectoryError::RateLimited { retry_after_secs } => Some(retry_after_secs),
                _ => None,
            };
            let message = match e {
                DirectoryError::RateLimited { .. } => e.to_string(),
                _ => "Wrong enterprise, login or password.".to_owned(),
            };
            let binding = req.cookie(ANON_COOKIE).map(|c| c.value().to_owned()).unwrap_or_default();
            let page = SignInPage {
                chrome: Chrome::anonymous(csrf_token(&state, &binding)),
                notice: None,
                error: Some(message),
                next: form.next,
                enterprise,
                login,
            };
            let mut res = render_status(&page, status)?;
            if let Some(secs) = retry_after
                && let Ok(v) = actix_web::http::header::HeaderValue::from_str(&secs.to_string())
            {
                res.headers_mut().insert(actix_web::http::header::RETRY_AFTER, v);
            }
            Ok(res)
        }
        Err(other) => Err(other.into()),
    }
}

#[post("/logout")]
async fn sign_out(
    state: web::Data<AppState>,
    session: ConsoleSession,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    session.check_csrf(&state, &form.csrf_token)?;
    let dir = state.directory.clone();
    let token = session.token.clone();
    blocking::<_, PageError>(move || dir.end_session(&token)).await?;
    let mut res = see_other("/login");
    let mut gone = Cookie::build(SESSION_COOKIE, "").path("/").finish();
    gone.make_removal();
    res.add_cookie(&gone).map_err(|e| PageError::BadRequest(e.to_string()))?;
    Ok(res)
}

#[derive(Template)]
#[template(path = "setup.html")]
struct SetupPage {
    chrome: Chrome,
    first_operator: bool,
    login: String,
    name: String,
    email: String,
    enterprise_key: Option<String>,
    expires_at: String,
    error: Option<String>,
    errors: FieldErrors,
}

impl SetupPage {
    fn new(chrome: Chrome, link: &SetupLink) -> Self {
        let (first_operator, login, enterprise_key, expires_at) = match link {
            SetupLink::FirstOperator { expires_at } => (true, String::new(), None, *expires_at),
            SetupLink::SetPassword { login, enterprise_key, expires_at } => {
                (false, login.clone(), enterprise_key.clone(), *expires_at)
            }
        };
        SetupPage {
            chrome,
            first_operator,
            login,
            name: String::new(),
            email: String::new(),
            enterprise_key,
            expires_at: expires_at.format("%Y-%m-%d %H:%M").to_string(),
            error: None,
            errors: FieldErrors::default(),
        }
    }
}

#[get("/setup/{token}")]
async fn setup_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let token = path.into_inner();
    let dir = state.directory.clone();
    let link = blocking::<_, PageError>(move || dir.inspect_setup_link(&token)).await?;
    let (binding, new_cookie) = anon_binding(&state, &req)?;
    let mut res = render(&SetupPage::new(Chrome::anonymous(csrf_token(&state, &binding)), &link))?;
    if let Some(c) = new_cookie {
        res.add_cookie(&c).map_err(|e| PageError::BadRequest(e.to_string()))?;
    }
    Ok(res)
}

#[derive(Debug, Deserialize)]
struct SetupFormData {
    csrf_token: String,
    login: Option<String>,
    name: Option<String>,
    email: Option<String>,
    password: String,
}

#[post("/setup/{token}")]
async fn setup(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<SetupFormData>,
) -> Result<HttpResponse, PageError> {
    let token = path.into_inner();
    let form = form.into_inner();
    anon_csrf_ok(&state, &req, &form.csrf_token)?;
    let dir = state.directory.clone();
    let op = operation_id(&req);
    let (t2, f2) = (
        token.clone(),
        SetupForm {
            login: form.login.clone(),
            name: form.name.clone(),
            email: form.email.clone(),
            password: form.password,
        },
    );
    let outcome = blocking::<_, PageError>(move || Ok(dir.redeem_setup_link(&t2, f2, op.as_deref()))).await?;
    match outcome {
        Ok(subject) => start_session(&state, &req, subject, None).await,
        Err(e @ (DirectoryError::Validation(_) | DirectoryError::Conflict(_))) => {
            let dir = state.directory.clone();
            let link = blocking::<_, PageError>(move || dir.inspect_setup_link(&token)).await?;
            let binding = req.cookie(ANON_COOKIE).map(|c| c.value().to_owned()).unwrap_or_default();
            let mut page = SetupPage::new(Chrome::anonymous(csrf_token(&state, &binding)), &link);
            if page.first_operator {
                page.login = form.login.unwrap_or_default();
            }
            page.name = form.name.unwrap_or_default();
            page.email = form.email.unwrap_or_default();
            let status = match e {
                DirectoryError::Validation(f) => {
                    page.errors = f;
                    StatusCode::BAD_REQUEST
                }
                other => {
                    page.error = Some(other.to_string());
                    StatusCode::CONFLICT
                }
            };
            render_status(&page, status)
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(Template)]
#[template(path = "me.html")]
struct MePage {
    chrome: Chrome,
    is_operator: bool,
    groups: Vec<UserGroup>,
}

#[get("/console/me")]
async fn me(state: web::Data<AppState>, session: ConsoleSession) -> Result<HttpResponse, PageError> {
    let groups = session.read(&state, move |dir, ctx| dir.own_groups(ctx)).await?;
    render(&MePage {
        chrome: Chrome::signed_in(&session, "me"),
        is_operator: matches!(session.actor(), Actor::Operator { .. }),
        groups,
    })
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_local_paths_are_followed() {
        assert_eq!(safe_next("/console/e/acme"), Some("/console/e/acme"));
        assert_eq!(safe_next("//evil.example"), None);
        assert_eq!(safe_next("/\\evil.example"), None);
        assert_eq!(safe_next("/\t/evil.example"), None);
        assert_eq!(safe_next("/\n/evil.example"), None);
        assert_eq!(safe_next("/console/a b"), None);
        assert_eq!(safe_next("https://evil.example"), None);
        assert_eq!(safe_next(""), None);
    }
}
