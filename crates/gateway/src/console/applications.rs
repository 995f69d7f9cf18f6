//! Operator pages for the host product's applications (Portico is their OpenID Provider):
//! the list, registering one, showing its secret once, rotating the secret, removing it.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use directory::host_application::{EnterpriseScope, HostApplication, NewHostApplication};
use serde::Deserialize;

use super::{Chrome, CsrfOnly, Field, FormPage, render, see_other};
use crate::auth::ConsoleSession;
use crate::error::PageError;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list).service(new_form).service(create).service(rotate).service(remove);
}

fn operators_only(session: &ConsoleSession) -> Result<(), PageError> {
    if session.actor().is_platform_admin() {
        Ok(())
    } else {
        Err(directory::DirectoryError::Forbidden("only operators manage applications".into()).into())
    }
}

struct Row {
    client_id: String,
    name: String,
    kind: &'static str,
    enterprises: String,
    redirect_uris: Vec<String>,
    alg: &'static str,
}

impl From<HostApplication> for Row {
    fn from(a: HostApplication) -> Self {
        Row {
            kind: if a.public { "public" } else { "confidential" },
            enterprises: match a.enterprises {
                EnterpriseScope::All => "every enterprise".into(),
                EnterpriseScope::Only(keys) if keys.is_empty() => "no enterprise".into(),
                EnterpriseScope::Only(keys) => keys.join(", "),
            },
            client_id: a.client_id,
            name: a.name,
            redirect_uris: a.redirect_uris,
            alg: a.id_token_alg.as_str(),
        }
    }
}

#[derive(Template)]
#[template(path = "applications.html")]
struct ApplicationsPage {
    chrome: Chrome,
    applications: Vec<Row>,
    issuer: String,
}

#[get("/console/applications")]
async fn list(state: web::Data<AppState>, session: ConsoleSession) -> Result<HttpResponse, PageError> {
    operators_only(&session)?;
    let apps = session.read(&state, |dir, ctx| dir.list_host_applications(ctx)).await?;

    render(&ApplicationsPage {
        chrome: Chrome::signed_in(&session, "applications"),
        applications: apps.into_iter().map(Row::from).collect(),
        issuer: state.settings.issuer(),
    })
}

#[derive(Debug, Default, Deserialize)]
struct AppForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    redirect_uris: String,
    #[serde(default)]
    post_logout_redirect_uris: String,
    #[serde(default)]
    backchannel_logout_uri: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    enterprises: String,
    #[serde(default)]
    alg: String,
}

fn app_form(session: &ConsoleSession, f: &AppForm) -> FormPage {
    FormPage {
        chrome: Chrome::signed_in(session, "applications"),
        title: "New application".into(),
        intro: "An application of your product that signs people in through Portico with OpenID Connect. Its engineers get the client id and secret on the next page.".into(),
        crumbs: vec![("Applications".into(), "/console/applications".into())],
        action: "/console/applications/new".into(),
        cancel: "/console/applications".into(),
        submit: "Register application",
        fields: vec![
            Field::text("name", "Name", &f.name, "Shown to people when Portico asks for their enterprise.", true),
            Field::text(
                "redirect_uris",
                "Redirect URIs",
                &f.redirect_uris,
                "Where Portico sends people back with a code, separated by spaces. Compared exactly; https:// (http:// only to localhost).",
                true,
            ),
            Field::text(
                "post_logout_redirect_uris",
                "After sign-out, return to",
                &f.post_logout_redirect_uris,
                "Pages the application may send people back to after signing out, separated by spaces.",
                false,
            ),
            Field::text(
                "backchannel_logout_uri",
                "Back-channel logout URI",
                &f.backchannel_logout_uri,
                "Where Portico posts a logout token when a person signs out.",
                false,
            ),
            Field::text("kind", "Type", if f.kind.is_empty() { "confidential" } else { &f.kind }, "A public application (single-page or mobile) has no secret and must use PKCE.", true)
                .options(vec![
                    ("confidential".into(), "Confidential: a server keeps a secret".into()),
                    ("public".into(), "Public: single-page or mobile app, PKCE".into()),
                ]),
            Field::text(
                "enterprises",
                "Enterprises",
                if f.enterprises.is_empty() { "*" } else { &f.enterprises },
                "* for every enterprise, or enterprise keys separated by spaces.",
                true,
            ),
            Field::text("alg", "ID token signature", if f.alg.is_empty() { "RS256" } else { &f.alg }, "RS256 works with every library.", true)
                .options(vec![("RS256".into(), "RS256 (RSA)".into()), ("ES256".into(), "ES256 (P-256)".into())]),
        ],
        error: None,
    }
}

#[get("/console/applications/new")]
async fn new_form(session: ConsoleSession) -> Result<HttpResponse, PageError> {
    operators_only(&session)?;
    render(&app_form(&session, &AppForm::default()))
}

/// The page that shows a secret, once.
#[derive(Template)]
#[template(path = "application_secret.html")]
struct SecretPage {
    chrome: Chrome,
    title: String,
    name: String,
    client_id: String,
    client_secret: Option<String>,
    issuer: String,
    discovery: String,
}

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_owned).collect()
}

fn secret_page(
    state: &AppState,
    session: &ConsoleSession,
    title: &str,
    app: &HostApplication,
    secret: Option<String>,
) -> Result<HttpResponse, PageError> {
    let issuer = state.settings.issuer();
    render(&SecretPage {
        chrome: Chrome::signed_in(session, "applications"),
        title: title.to_owned(),
        name: app.name.clone(),
        client_id: app.client_id.clone(),
        client_secret: secret,
        discovery: format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/')),
        issuer,
    })
}

#[post("/console/applications/new")]
async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: ConsoleSession,
    form: web::Form<AppForm>,
) -> Result<HttpResponse, PageError> {
    session.check_csrf(&state, &form.csrf_token)?;
    operators_only(&session)?;
    let f = form.into_inner();
    let enterprises = match f.enterprises.trim() {
        "*" | "" => EnterpriseScope::All,
        keys => EnterpriseScope::Only(words(keys)),
    };
    let optional = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let input = NewHostApplication {
        name: f.name.clone(),
        public: f.kind == "public",
        redirect_uris: words(&f.redirect_uris),
        post_logout_redirect_uris: words(&f.post_logout_redirect_uris),
        backchannel_logout_uri: optional(&f.backchannel_logout_uri),
        initiate_login_uri: None,
        enterprises,
        id_token_alg: optional(&f.alg),
        access_token_ttl_secs: None,
        id_token_ttl_secs: None,
        refresh_token_ttl_secs: None,
    };
    let outcome = session.call(&state, &req, move |dir, ctx| Ok(dir.create_host_application(ctx, input))).await?;
    match outcome {
        Ok(created) => {
            secret_page(&state, &session, "Application registered", &created.application, created.client_secret)
        }
        Err(err) => app_form(&session, &f).refused(err),
    }
}

#[post("/console/applications/{client_id}/rotate-secret")]
async fn rotate(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: ConsoleSession,
    path: web::Path<String>,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    session.check_csrf(&state, &form.csrf_token)?;
    let id = path.into_inner();
    let (app, secret) = session
        .call(&state, &req, move |dir, ctx| {
            let secret = dir.rotate_host_application_secret(ctx, &id)?;
            Ok((dir.get_host_application(ctx, &id)?, secret))
        })
        .await?;
    secret_page(&state, &session, "New client secret", &app, Some(secret))
}

#[post("/console/applications/{client_id}/delete")]
async fn remove(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: ConsoleSession,
    path: web::Path<String>,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    session.check_csrf(&state, &form.csrf_token)?;
    let id = path.into_inner();
    let token = session.token.clone();
    session
        .call(&state, &req, move |dir, ctx| {
            let app = dir.get_host_application(ctx, &id)?;
            dir.delete_host_application(ctx, &id)?;
            dir.set_flash(&token, &format!("{} was deleted, and every token it held with it.", app.name))
        })
        .await?;
    Ok(see_other("/console/applications"))
}
