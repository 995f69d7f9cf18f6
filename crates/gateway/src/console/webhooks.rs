//! Operator pages for an application's webhook endpoints: each endpoint's state and health, adding
//! one (its signing secret shown once), enabling, disabling, rotating the secret, removing it,
//! and the delivery log with "resend"; plus the application's back-channel logouts.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use directory::webhook::{Attempt, Delivery, NewWebhook, WebhookChanges, WebhookEndpoint};
use serde::Deserialize;

use super::{Chrome, CsrfOnly, Field, FormPage, render, see_other};
use crate::auth::ConsoleSession;
use crate::deliveries::{SECRET_PURPOSE, new_secret};
use crate::error::PageError;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list)
        .service(new_form)
        .service(create)
        .service(toggle)
        .service(rotate)
        .service(remove)
        .service(deliveries)
        .service(attempts)
        .service(resend);
}

fn when(t: chrono::NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

struct EndpointRow {
    e: WebhookEndpoint,
    pending: i64,
    failed_today: i64,
    failing_since: Option<String>,
}

#[derive(Template)]
#[template(path = "webhooks.html")]
struct WebhooksPage {
    chrome: Chrome,
    client_id: String,
    app_name: String,
    backchannel: Option<String>,
    endpoints: Vec<EndpointRow>,
    logouts: Vec<DeliveryRow>,
}

#[get("/console/applications/{client_id}/webhooks")]
async fn list(
    state: web::Data<AppState>,
    session: ConsoleSession,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let client_id = path.into_inner();
    let c = client_id.clone();
    let (app, endpoints, health, logouts) = session
        .read(&state, move |dir, ctx| {
            Ok((
                dir.get_host_application(ctx, &c)?,
                dir.webhooks(ctx, &c)?,
                dir.webhook_health(ctx, &c)?,
                dir.deliveries(ctx, &c, None, None, 10)?,
            ))
        })
        .await?;
    render(&WebhooksPage {
        chrome: Chrome::signed_in(&session, "applications"),
        app_name: app.name,
        backchannel: app.backchannel_logout_uri,
        endpoints: endpoints
            .into_iter()
            .map(|e| {
                let (pending, failed_today) =
                    health.iter().find(|(id, ..)| *id == e.id).map(|(_, p, f)| (*p, *f)).unwrap_or_default();
                EndpointRow { failing_since: e.failing_since.map(when), e, pending, failed_today }
            })
            .collect(),
        logouts: logouts.into_iter().map(DeliveryRow::from).collect(),
        client_id,
    })
}

#[derive(Debug, Default, Deserialize)]
struct EndpointForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    events: String,
    #[serde(default)]
    description: String,
}

fn endpoint_form(session: &ConsoleSession, client_id: &str, f: &EndpointForm) -> FormPage {
    FormPage {
        chrome: Chrome::signed_in(session, "applications"),
        title: "New webhook endpoint".into(),
        intro: "Portico posts each event the application subscribes to here, signed as Standard Webhooks specifies, retries for a day when it fails, and keeps each resource's events in order. The signing secret is on the next page, once.".into(),
        crumbs: vec![
            ("Applications".into(), "/console/applications".into()),
            ("Webhooks".into(), format!("/console/applications/{client_id}/webhooks")),
        ],
        action: format!("/console/applications/{client_id}/webhooks/new"),
        cancel: format!("/console/applications/{client_id}/webhooks"),
        submit: "Add endpoint",
        fields: vec![
            Field::text("url", "URL", &f.url, "https:// (http:// only to localhost). Portico follows no redirect.", true),
            Field::text(
                "events",
                "Events",
                if f.events.is_empty() { "*" } else { &f.events },
                "Kinds separated by spaces: user.deactivated, or user.* for a family, or * for every kind (docs/events.md lists them).",
                true,
            ),
            Field::text("description", "Description", &f.description, "What it is for, for the next admin.", false),
        ],
        error: None,
    }
}

#[get("/console/applications/{client_id}/webhooks/new")]
async fn new_form(
    state: web::Data<AppState>,
    session: ConsoleSession,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let client_id = path.into_inner();
    let c = client_id.clone();
    session.read(&state, move |dir, ctx| dir.get_host_application(ctx, &c)).await?;
    render(&endpoint_form(&session, &client_id, &EndpointForm::default()))
}

#[derive(Template)]
#[template(path = "webhook_secret.html")]
struct SecretPage {
    chrome: Chrome,
    title: String,
    client_id: String,
    url: String,
    secret: String,
    overlap_until: Option<String>,
}

fn sealed(state: &AppState) -> Result<(String, String), PageError> {
    let secret = new_secret()?;
    let sealed = crate::secrets::seal(&state.settings, SECRET_PURPOSE, secret.as_bytes())
        .map_err(|e| directory::DirectoryError::Internal(e.to_string()))?;
    Ok((secret, sealed))
}

#[post("/console/applications/{client_id}/webhooks/new")]
async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: ConsoleSession,
    path: web::Path<String>,
    form: web::Form<EndpointForm>,
) -> Result<HttpResponse, PageError> {
    session.check_csrf(&state, &form.csrf_token)?;
    let client_id = path.into_inner();
    let f = form.into_inner();
    let new = NewWebhook {
        url: f.url.trim().to_owned(),
        description: f.description.clone(),
        events: f.events.split_whitespace().map(str::to_owned).collect(),
        enabled: true,
    };
    if let Err(err) = crate::deliveries::check_url(&state, &new.url) {
        return endpoint_form(&session, &client_id, &f).refused(err);
    }
    let (secret, sealed) = sealed(&state)?;
    let c = client_id.clone();
    let outcome = session.call(&state, &req, move |dir, ctx| Ok(dir.create_webhook(ctx, &c, &new, &sealed))).await?;
    match outcome {
        Ok(made) => render(&SecretPage {
            chrome: Chrome::signed_in(&session, "applications"),
            title: "Endpoint added".into(),
            client_id,
            url: made.url,
            secret,
            overlap_until: None,
        }),
        Err(err) => endpoint_form(&session, &client_id, &f).refused(err),
    }
}

#[derive(Debug, Deserialize)]
struct ToggleForm {
    #[serde(default)]
    csrf_token: String,
    enabled: String,
}

#[post("/console/applications/{client_id}/webhooks/{id}/enabled")]
async fn toggle(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: ConsoleSession,
    path: web::Path<(String, String)>,
    form: web::Form<ToggleForm>,
) -> Result<HttpResponse, PageError> {
    session.check_csrf(&state, &form.csrf_token)?;
    let (client_id, id) = path.into_inner();
    let enabled = form.enabled == "true";
    let token = session.token.clone();
    let c = client_id.clone();
    session
        .call(&state, &req, move |dir, ctx| {
            let changes = WebhookChanges { enabled: Some(enabled), ..Default::default() };
            let e = dir.update_webhook(ctx, &c, &id, &changes)?;
            let message = if enabled {
                format!("{} is enabled: it receives events written from now on.", e.url)
            } else {
                format!("{} is disabled: nothing is sent to it until it is enabled again.", e.url)
            };
            dir.set_flash(&token, &message)
        })
        .await?;
    Ok(see_other(&format!("/console/applications/{client_id}/webhooks")))
}

#[post("/console/applications/{client_id}/webhooks/{id}/rotate-secret")]
async fn rotate(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: ConsoleSession,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    session.check_csrf(&state, &form.csrf_token)?;
    let (client_id, id) = path.into_inner();
    let (secret, sealed) = sealed(&state)?;
    let overlap = state.settings.webhook_secret_overlap;
    let c = client_id.clone();
    let e =
        session.call(&state, &req, move |dir, ctx| dir.rotate_webhook_secret(ctx, &c, &id, &sealed, overlap)).await?;
    render(&SecretPage {
        chrome: Chrome::signed_in(&session, "applications"),
        title: "New signing secret".into(),
        client_id,
        url: e.url,
        secret,
        overlap_until: e.previous_secret_expires_at.map(when),
    })
}

#[post("/console/applications/{client_id}/webhooks/{id}/delete")]
async fn remove(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: ConsoleSession,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    session.check_csrf(&state, &form.csrf_token)?;
    let (client_id, id) = path.into_inner();
    let token = session.token.clone();
    let c = client_id.clone();
    session
        .call(&state, &req, move |dir, ctx| {
            let e = dir.webhook(ctx, &c, &id)?;
            dir.delete_webhook(ctx, &c, &id)?;
            dir.set_flash(&token, &format!("The endpoint {} was removed, with its delivery log.", e.url))
        })
        .await?;
    Ok(see_other(&format!("/console/applications/{client_id}/webhooks")))
}

struct DeliveryRow {
    d: Delivery,
    created: String,
    next: Option<String>,
}

impl From<Delivery> for DeliveryRow {
    fn from(d: Delivery) -> Self {
        DeliveryRow { created: when(d.created_at), next: d.next_attempt_at.map(when), d }
    }
}

#[derive(Template)]
#[template(path = "webhook_deliveries.html")]
struct DeliveriesPage {
    chrome: Chrome,
    client_id: String,
    endpoint: WebhookEndpoint,
    deliveries: Vec<DeliveryRow>,
    next: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct Before {
    before: Option<String>,
}

#[get("/console/applications/{client_id}/webhooks/{id}")]
async fn deliveries(
    state: web::Data<AppState>,
    session: ConsoleSession,
    path: web::Path<(String, String)>,
    query: web::Query<Before>,
) -> Result<HttpResponse, PageError> {
    let (client_id, id) = path.into_inner();
    let before = query.into_inner().before;
    let c = client_id.clone();
    let (endpoint, found) = session
        .read(&state, move |dir, ctx| {
            Ok((dir.webhook(ctx, &c, &id)?, dir.deliveries(ctx, &c, Some(&id), before.as_deref(), 50)?))
        })
        .await?;
    let next = (found.len() >= 50).then(|| found.last().map(|d| d.id.clone())).flatten();
    render(&DeliveriesPage {
        chrome: Chrome::signed_in(&session, "applications"),
        client_id,
        endpoint,
        deliveries: found.into_iter().map(DeliveryRow::from).collect(),
        next,
    })
}

struct AttemptRow {
    a: Attempt,
    at: String,
}

#[derive(Template)]
#[template(path = "webhook_attempts.html")]
struct AttemptsPage {
    chrome: Chrome,
    client_id: String,
    delivery_id: String,
    attempts: Vec<AttemptRow>,
}

#[get("/console/applications/{client_id}/deliveries/{delivery_id}")]
async fn attempts(
    state: web::Data<AppState>,
    session: ConsoleSession,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let (client_id, delivery_id) = path.into_inner();
    let (c, d) = (client_id.clone(), delivery_id.clone());
    let found = session.read(&state, move |dir, ctx| dir.delivery_attempts(ctx, &c, &d)).await?;
    render(&AttemptsPage {
        chrome: Chrome::signed_in(&session, "applications"),
        client_id,
        delivery_id,
        attempts: found.into_iter().map(|a| AttemptRow { at: when(a.at), a }).collect(),
    })
}

#[post("/console/applications/{client_id}/deliveries/{delivery_id}/resend")]
async fn resend(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: ConsoleSession,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    session.check_csrf(&state, &form.csrf_token)?;
    let (client_id, delivery_id) = path.into_inner();
    let token = session.token.clone();
    let c = client_id.clone();
    let d = session
        .call(&state, &req, move |dir, ctx| {
            let d = dir.resend_delivery(ctx, &c, &delivery_id)?;
            dir.set_flash(&token, "The message is queued again and goes out in a moment, with the same webhook-id.")?;
            Ok(d)
        })
        .await?;
    state.deliveries.wake();
    Ok(see_other(&match d.endpoint_id {
        Some(e) => format!("/console/applications/{client_id}/webhooks/{e}"),
        None => format!("/console/applications/{client_id}/webhooks"),
    }))
}
