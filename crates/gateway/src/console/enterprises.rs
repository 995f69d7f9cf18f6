//! Operator and enterprise-admin pages: the enterprises list, an enterprise's overview, its
//! users, its audit log, and appointing its admins.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use directory::enterprise::NewEnterprise;
use directory::role::{AdminListing, Role};
use directory::user::NewUser;
use directory::{Actor, PageRequest};
use serde::Deserialize;

use super::{Chrome, Field, FormPage, render, see_other};
use crate::auth::ConsoleSession;
use crate::error::PageError;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list)
        .service(new_form)
        .service(create)
        .service(overview)
        .service(appoint_form)
        .service(appoint)
        .service(users)
        .service(link_user)
        .service(unlink_user)
        .service(audit)
        .service(audit_export)
        .service(recent_events)
        .service(set_user_active);
}

#[derive(Debug, Deserialize)]
pub struct AfterQuery {
    pub after: Option<String>,
}

fn fmt_time(t: chrono::NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

struct EnterpriseRow {
    key: String,
    name: String,
    mode: &'static str,
    created: String,
}

#[derive(Template)]
#[template(path = "enterprises.html")]
struct EnterprisesPage {
    chrome: Chrome,
    enterprises: Vec<EnterpriseRow>,
    next: Option<String>,
}

#[get("/console/enterprises")]
async fn list(
    state: web::Data<AppState>,
    session: ConsoleSession,
    query: web::Query<AfterQuery>,
) -> Result<HttpResponse, PageError> {
    let page = PageRequest { limit: Some(100), after: query.into_inner().after };
    let result = session.read(&state, move |dir, ctx| dir.list_enterprises(ctx, &page)).await?;
    render(&EnterprisesPage {
        chrome: Chrome::signed_in(&session, "enterprises"),
        enterprises: result
            .items
            .into_iter()
            .map(|e| EnterpriseRow {
                key: e.key.to_string(),
                name: e.name,
                mode: match e.provisioning_mode {
                    directory::enterprise::ProvisioningMode::Jit => "just-in-time",
                    directory::enterprise::ProvisioningMode::Scim => "SCIM",
                },
                created: fmt_time(e.created_at),
            })
            .collect(),
        next: result.next,
    })
}

fn enterprise_form(session: &ConsoleSession, key: &str, name: &str) -> FormPage {
    FormPage {
        chrome: Chrome::signed_in(session, "enterprises"),
        title: "New enterprise".into(),
        intro: "An enterprise is one customer: its people sign in through its own identity provider.".into(),
        crumbs: vec![("Enterprises".into(), "/console/enterprises".into())],
        action: "/console/enterprises/new".into(),
        cancel: "/console/enterprises".into(),
        submit: "Create enterprise",
        fields: vec![
            Field::text("name", "Name", name, "How admins and users will see it, e.g. Acme Corporation.", true),
            Field::text(
                "key",
                "Key",
                key,
                "Part of every URL of this enterprise: lower-case letters, digits and hyphens, e.g. acme. It cannot change later.",
                true,
            ),
        ],
        error: None,
    }
}

#[get("/console/enterprises/new")]
async fn new_form(session: ConsoleSession) -> Result<HttpResponse, PageError> {
    if !session.actor().is_platform_admin() {
        return Err(directory::DirectoryError::Forbidden("only operators create enterprises".into()).into());
    }
    render(&enterprise_form(&session, "", ""))
}

#[derive(Debug, Deserialize)]
struct EnterpriseFormData {
    csrf_token: String,
    key: String,
    name: String,
}

#[post("/console/enterprises/new")]
async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: ConsoleSession,
    form: web::Form<EnterpriseFormData>,
) -> Result<HttpResponse, PageError> {
    session.check_csrf(&state, &form.csrf_token)?;
    let form = form.into_inner();
    let input = NewEnterprise { key: form.key.trim().to_owned(), name: form.name.clone(), provisioning_mode: None };
    let outcome = session.call(&state, &req, move |dir, ctx| Ok(dir.create_enterprise(ctx, input))).await?;
    match outcome {
        Ok(e) => Ok(see_other(&format!("/console/e/{}", e.key))),
        Err(err) => enterprise_form(&session, &form.key, &form.name).refused(err),
    }
}

struct OrgRow {
    key: String,
    name: String,
}

struct AdminRow {
    login: String,
    name: String,
    role: String,
}

#[derive(Template)]
#[template(path = "enterprise.html")]
struct EnterprisePage {
    chrome: Chrome,
    key: String,
    name: String,
    mode: &'static str,
    is_operator: bool,
    can_admin: bool,
    organizations: Vec<OrgRow>,
    admins: Vec<AdminRow>,
}

fn admin_row(a: AdminListing) -> AdminRow {
    AdminRow {
        login: a.login,
        name: a.name,
        role: match (a.role, a.organization_key) {
            (Role::EnterpriseAdmin, _) => "Enterprise admin".into(),
            (Role::OrgAdmin, Some(org)) => format!("Org admin of {org}"),
            (Role::OrgAdmin, None) => "Org admin".into(),
        },
    }
}

#[get("/console/e/{key}")]
async fn overview(
    state: web::Data<AppState>,
    session: ConsoleSession,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let key = path.into_inner();
    let (enterprise, orgs, admins) = session
        .read(&state, move |dir, ctx| {
            let e = dir.get_enterprise(ctx, &key)?;
            let orgs = dir.list_organizations(ctx, &key, &PageRequest::first(200))?;
            let admins = dir.list_admins(ctx, &key)?;
            Ok((e, orgs, admins))
        })
        .await?;
    let can_admin = session.actor().can_administer_enterprise(&enterprise.id);
    render(&EnterprisePage {
        chrome: Chrome::signed_in(
            &session,
            if session.actor().is_platform_admin() { "enterprises" } else { "enterprise" },
        ),
        key: enterprise.key.to_string(),
        name: enterprise.name,
        mode: match enterprise.provisioning_mode {
            directory::enterprise::ProvisioningMode::Jit => "just-in-time",
            directory::enterprise::ProvisioningMode::Scim => "SCIM",
        },
        is_operator: matches!(session.actor(), Actor::Operator { .. }),
        can_admin,
        organizations: orgs.items.into_iter().map(|o| OrgRow { key: o.key, name: o.name }).collect(),
        admins: admins.into_iter().map(admin_row).collect(),
    })
}

/// The form that appoints an admin (of an enterprise or of an organization).
pub fn appoint_form_page(
    session: &ConsoleSession,
    title: String,
    action: String,
    cancel: String,
    values: (&str, &str, &str),
) -> FormPage {
    FormPage {
        chrome: Chrome::signed_in(session, "enterprise"),
        title,
        intro: "Name an existing user by login, or a new person: Portico creates their account and gives you a one-time link for them to choose a password.".into(),
        crumbs: vec![("Back".into(), cancel.clone())],
        action,
        cancel,
        submit: "Appoint",
        fields: vec![
            Field::text("login", "Login", values.0, "", true),
            Field::text("email", "E-mail", values.1, "", false).kind("email"),
            Field::text("name", "Full name", values.2, "", false),
        ],
        error: None,
    }
}

#[derive(Template)]
#[template(path = "appointed.html")]
#[derive(Debug)]
pub struct AppointedPage {
    pub chrome: Chrome,
    pub crumbs: Vec<(String, String)>,
    pub login: String,
    pub role: String,
    pub setup_url: Option<String>,
    pub back: String,
}

#[get("/console/e/{key}/admins/new")]
async fn appoint_form(session: ConsoleSession, path: web::Path<String>) -> Result<HttpResponse, PageError> {
    let key = path.into_inner();
    render(&appoint_form_page(
        &session,
        "Appoint an enterprise admin".into(),
        format!("/console/e/{key}/admins/new"),
        format!("/console/e/{key}"),
        ("", "", ""),
    ))
}

#[derive(Debug, Deserialize)]
pub struct AppointFormData {
    pub csrf_token: String,
    pub login: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub name: String,
}

#[post("/console/e/{key}/admins/new")]
async fn appoint(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: ConsoleSession,
    path: web::Path<String>,
    form: web::Form<AppointFormData>,
) -> Result<HttpResponse, PageError> {
    session.check_csrf(&state, &form.csrf_token)?;
    let key = path.into_inner();
    let form = form.into_inner();
    let (k2, person) = (
        key.clone(),
        NewUser { login: form.login.clone(), email: Some(form.email.clone()), name: Some(form.name.clone()) },
    );
    let outcome =
        session.call(&state, &req, move |dir, ctx| Ok(dir.appoint_enterprise_admin(ctx, &k2, person))).await?;
    match outcome {
        Ok(a) => render(&AppointedPage {
            chrome: Chrome::signed_in(&session, "enterprise"),
            crumbs: vec![("Back".into(), format!("/console/e/{key}"))],
            login: a.user.login,
            role: "an enterprise admin".into(),
            setup_url: a.setup_token.map(|t| state.settings.url(&format!("/setup/{t}"))),
            back: format!("/console/e/{key}"),
        }),
        Err(err) => appoint_form_page(
            &session,
            "Appoint an enterprise admin".into(),
            format!("/console/e/{key}/admins/new"),
            format!("/console/e/{key}"),
            (&form.login, &form.email, &form.name),
        )
        .refused(err),
    }
}

struct UserRow {
    login: String,
    name: String,
    email: String,
    origin: String,
    active: bool,
    groups: Vec<String>,
    /// The IdP identity the user is linked to, when single sign-on reaches them.
    subject: Option<String>,
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    chrome: Chrome,
    key: String,
    enterprise_name: String,
    users: Vec<UserRow>,
    next: Option<String>,
    /// The outcome of the action just taken: true for success.
    message: Option<(bool, String)>,
    q: UsersQuery,
    /// The filters as a query string, for the pager (empty when none).
    filters: String,
}

/// The users page's search and filters, as its form sends them.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct UsersQuery {
    pub after: Option<String>,
    #[serde(default)]
    pub q: String,
    /// `active`, `deactivated` or empty.
    #[serde(default)]
    pub state: String,
    /// `local`, `jit`, `scim` or empty.
    #[serde(default)]
    pub origin: String,
}

impl UsersQuery {
    fn filter(&self) -> directory::user::UserFilter {
        directory::user::UserFilter {
            search: Some(self.q.trim().to_owned()).filter(|q| !q.is_empty()),
            active: match self.state.as_str() {
                "active" => Some(true),
                "deactivated" => Some(false),
                _ => None,
            },
            origin: directory::user::Origin::try_from(self.origin.clone()).ok(),
        }
    }

    fn query_string(&self) -> String {
        let mut out = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in [("q", self.q.trim()), ("state", self.state.as_str()), ("origin", self.origin.as_str())] {
            if !v.is_empty() {
                out.append_pair(k, v);
            }
        }
        out.finish()
    }
}

async fn users_page(
    state: &AppState,
    session: &ConsoleSession,
    key: String,
    q: UsersQuery,
    message: Option<(bool, String)>,
) -> Result<HttpResponse, PageError> {
    let page = PageRequest { limit: Some(100), after: q.after.clone() };
    let k2 = key.clone();
    let filter = q.filter();
    let (enterprise, result) = session
        .read(state, move |dir, ctx| Ok((dir.get_enterprise(ctx, &k2)?, dir.find_users(ctx, &k2, &filter, &page)?)))
        .await?;
    let filters = q.query_string();
    render(&UsersPage {
        chrome: Chrome::signed_in(session, "enterprise"),
        key,
        enterprise_name: enterprise.name,
        users: result
            .items
            .into_iter()
            .map(|u| UserRow {
                login: u.user.login,
                name: u.user.name,
                email: u.user.email.unwrap_or_default(),
                origin: u.user.origin.to_string(),
                active: u.user.active,
                groups: u.groups.into_iter().map(|g| format!("{}/{}", g.organization, g.group)).collect(),
                subject: u.user.external_id,
            })
            .collect(),
        next: result.next,
        message,
        q,
        filters,
    })
}

#[get("/console/e/{key}/users")]
async fn users(
    state: web::Data<AppState>,
    session: ConsoleSession,
    path: web::Path<String>,
    query: web::Query<UsersQuery>,
) -> Result<HttpResponse, PageError> {
    users_page(&state, &session, path.into_inner(), query.into_inner(), None).await
}

#[derive(Debug, Deserialize)]
struct ActiveForm {
    csrf_token: String,
    login: String,
    active: String,
}

/// Deactivates a person (their sessions end, applications are told) or reactivates them.
#[post("/console/e/{key}/users/active")]
async fn set_user_active(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: ConsoleSession,
    path: web::Path<String>,
    form: web::Form<ActiveForm>,
) -> Result<HttpResponse, PageError> {
    session.check_csrf(&state, &form.csrf_token)?;
    let key = path.into_inner();
    let form = form.into_inner();
    let active = form.active == "true";
    let (k, login) = (key.clone(), form.login.clone());
    let changes = directory::user::UserChanges { name: None, email: None, active: Some(active) };
    let outcome = session.call(&state, &req, move |dir, ctx| Ok(dir.update_user(ctx, &k, &login, changes))).await?;
    let message = match outcome {
        Ok(u) if active => (true, format!("{} is active again and may sign in.", u.login)),
        Ok(u) => (
            true,
            format!(
                "{} is deactivated: their sessions ended, and applications holding their tokens were told.",
                u.login
            ),
        ),
        Err(e) => (false, e.to_string()),
    };
    users_page(&state, &session, key, UsersQuery::default(), Some(message)).await
}

#[derive(Debug, Deserialize)]
struct LinkForm {
    csrf_token: String,
    login: String,
    #[serde(default)]
    subject: String,
}

/// Links a user to an IdP identity: the only way an account Portico did not get from the IdP
/// becomes reachable through single sign-on.
#[post("/console/e/{key}/users/link")]
async fn link_user(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: ConsoleSession,
    path: web::Path<String>,
    form: web::Form<LinkForm>,
) -> Result<HttpResponse, PageError> {
    session.check_csrf(&state, &form.csrf_token)?;
    let key = path.into_inner();
    let form = form.into_inner();
    let (k2, login, subject) = (key.clone(), form.login.clone(), form.subject.clone());
    let outcome =
        session.call(&state, &req, move |dir, ctx| Ok(dir.link_idp_subject(ctx, &k2, &login, &subject))).await?;
    let message = match outcome {
        Ok(u) => (
            true,
            format!(
                "{} is linked to the IdP identity {}: signing in through the IdP as that identity opens their account.",
                u.login,
                u.external_id.unwrap_or_default()
            ),
        ),
        Err(e) => (false, format!("{} was not linked: {}", form.login, refusal_text(&e))),
    };
    users_page(&state, &session, key, UsersQuery::default(), Some(message)).await
}

#[derive(Debug, Deserialize)]
struct UnlinkForm {
    csrf_token: String,
    login: String,
}

#[post("/console/e/{key}/users/unlink")]
async fn unlink_user(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: ConsoleSession,
    path: web::Path<String>,
    form: web::Form<UnlinkForm>,
) -> Result<HttpResponse, PageError> {
    session.check_csrf(&state, &form.csrf_token)?;
    let key = path.into_inner();
    let login = form.into_inner().login;
    let (k2, l2) = (key.clone(), login.clone());
    let outcome = session.call(&state, &req, move |dir, ctx| Ok(dir.unlink_idp_subject(ctx, &k2, &l2))).await?;
    let message = match outcome {
        Ok(u) => (
            true,
            format!("{} is no longer linked: single sign-on does not reach them until they are linked again.", u.login),
        ),
        Err(e) => (false, format!("{login} was not unlinked: {}", refusal_text(&e))),
    };
    users_page(&state, &session, key, UsersQuery::default(), Some(message)).await
}

/// A refusal as a sentence for the page: field errors joined, other errors as they are.
fn refusal_text(e: &directory::DirectoryError) -> String {
    match e {
        directory::DirectoryError::Validation(errors) => {
            errors.0.iter().map(|f| f.message.clone()).collect::<Vec<_>>().join("; ")
        }
        other => other.to_string(),
    }
}

struct EventRow {
    at: String,
    actor: String,
    action: String,
    target: String,
    outcome: String,
    reason: Option<String>,
    operation_id: String,
}

/// The audit log's filters, as the form sends them (every field optional).
#[derive(Debug, Default, Deserialize)]
struct AuditQuery {
    after: Option<String>,
    #[serde(default)]
    op: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    actor: String,
    #[serde(default)]
    subject: String,
    /// A day, `YYYY-MM-DD` (UTC): events from its start.
    #[serde(default)]
    since: String,
    /// A day, `YYYY-MM-DD` (UTC): events up to its end.
    #[serde(default)]
    until: String,
}

impl AuditQuery {
    fn filter(&self) -> Result<directory::audit::AuditFilter, PageError> {
        let day = |field: &str, v: &str| -> Result<Option<chrono::NaiveDate>, PageError> {
            let v = v.trim();
            if v.is_empty() {
                return Ok(None);
            }
            chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d")
                .map(Some)
                .map_err(|_| PageError::BadRequest(format!("{field}: give a day as YYYY-MM-DD, not `{v}`")))
        };
        let some = |v: &str| Some(v.trim().to_owned()).filter(|v| !v.is_empty());
        Ok(directory::audit::AuditFilter {
            operation_id: some(&self.op),
            action: some(&self.action),
            outcome: some(&self.outcome),
            actor: some(&self.actor),
            subject: some(&self.subject),
            since: day("From", &self.since)?.and_then(|d| d.and_hms_opt(0, 0, 0)),
            until: day("Until", &self.until)?.and_then(|d| d.succ_opt()).and_then(|d| d.and_hms_opt(0, 0, 0)),
        })
    }

    /// The filters as a query string, for the pager and the export link.
    fn query_string(&self) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("op", &self.op),
            ("action", &self.action),
            ("outcome", &self.outcome),
            ("actor", &self.actor),
            ("subject", &self.subject),
            ("since", &self.since),
            ("until", &self.until),
        ] {
            if !v.trim().is_empty() {
                q.append_pair(k, v.trim());
            }
        }
        q.finish()
    }
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    chrome: Chrome,
    key: String,
    enterprise_name: String,
    events: Vec<EventRow>,
    next: Option<String>,
    q: AuditQuery,
    filters: String,
    filtered: bool,
}

#[get("/console/e/{key}/audit")]
async fn audit(
    state: web::Data<AppState>,
    session: ConsoleSession,
    path: web::Path<String>,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, PageError> {
    let key = path.into_inner();
    let q = query.into_inner();
    let filter = q.filter()?;
    let page = PageRequest { limit: Some(100), after: q.after.clone() };
    let k2 = key.clone();
    let (enterprise, result) = session
        .read(&state, move |dir, ctx| {
            Ok((dir.get_enterprise(ctx, &k2)?, dir.search_audit_events(ctx, Some(&k2), &filter, &page)?))
        })
        .await?;
    let filters = q.query_string();
    render(&AuditPage {
        chrome: Chrome::signed_in(&session, "enterprise"),
        key,
        enterprise_name: enterprise.name,
        events: result
            .items
            .into_iter()
            .map(|e| EventRow {
                at: e.at.format("%Y-%m-%d %H:%M:%S").to_string(),
                actor: e.actor_name,
                action: e.action,
                target: e.target_name.unwrap_or_default(),
                outcome: e.outcome,
                reason: e.reason,
                operation_id: e.operation_id.unwrap_or_default(),
            })
            .collect(),
        next: result.next,
        filtered: !filters.is_empty(),
        filters,
        q,
    })
}

/// The events the filters match, as JSON lines (one event per line, newest first, at most
/// 50,000), for the admin's own tools.
#[get("/console/e/{key}/audit.jsonl")]
async fn audit_export(
    state: web::Data<AppState>,
    session: ConsoleSession,
    path: web::Path<String>,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, PageError> {
    let key = path.into_inner();
    let q = query.into_inner();
    let filter = q.filter()?;
    let k2 = key.clone();
    let lines = session
        .read(&state, move |dir, ctx| {
            let mut out = String::new();
            let mut after = None;
            for _ in 0..250 {
                let page =
                    dir.search_audit_events(ctx, Some(&k2), &filter, &PageRequest { limit: Some(200), after })?;
                for e in &page.items {
                    let details: serde_json::Value = serde_json::from_str(&e.details).unwrap_or_default();
                    let line = serde_json::json!({
                        "id": e.id, "at": e.at.and_utc().to_rfc3339(), "actor_kind": e.actor_kind,
                        "actor": e.actor_name, "action": e.action, "target_kind": e.target_kind,
                        "target_id": e.target_id, "target": e.target_name, "outcome": e.outcome,
                        "reason": e.reason, "operation_id": e.operation_id, "details": details,
                    });
                    out.push_str(&line.to_string());
                    out.push('\n');
                }
                match page.next {
                    Some(n) => after = Some(n),
                    None => break,
                }
            }
            Ok(out)
        })
        .await?;
    Ok(HttpResponse::Ok()
        .content_type("application/x-ndjson; charset=utf-8")
        .insert_header((
            actix_web::http::header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"audit-{key}.jsonl\""),
        ))
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .body(lines))
}

struct RecentEvent {
    at: String,
    kind: String,
    cursor: String,
    summary: String,
    operation_id: String,
}

/// A few words on what an event is about, for the recent-events list.
fn summary(data: &serde_json::Value) -> String {
    let pick = |v: &serde_json::Value, keys: &[&str]| {
        keys.iter().find_map(|k| v[*k].as_str().map(str::to_owned)).unwrap_or_default()
    };
    for (field, keys) in [
        ("user", &["login", "id"][..]),
        ("group", &["display_name", "id"][..]),
        ("organization", &["key", "id"][..]),
        ("connection", &["provider", "id"][..]),
    ] {
        if data[field].is_object() {
            let mut s = pick(&data[field], keys);
            if let Some(ids) = data["user_ids"].as_array() {
                s.push_str(&format!(" ({} people)", ids.len()));
            }
            if let Some(kind) = data["change"]["kind"].as_str() {
                s.push_str(&format!(": {kind}"));
            }
            return s;
        }
    }
    if let Some(mode) = data["mode"].as_str() {
        return format!("now {mode}");
    }
    String::new()
}

#[derive(Template)]
#[template(path = "events.html")]
struct EventsPage {
    chrome: Chrome,
    key: String,
    enterprise_name: String,
    events: Vec<RecentEvent>,
    older: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct EventsQuery {
    before: Option<i64>,
}

/// What the host product heard of lately: the enterprise's events, newest first.
#[get("/console/e/{key}/events")]
async fn recent_events(
    state: web::Data<AppState>,
    session: ConsoleSession,
    path: web::Path<String>,
    query: web::Query<EventsQuery>,
) -> Result<HttpResponse, PageError> {
    let key = path.into_inner();
    let before = query.into_inner().before;
    let k2 = key.clone();
    let (enterprise, found) = session
        .read(&state, move |dir, ctx| Ok((dir.get_enterprise(ctx, &k2)?, dir.recent_events(ctx, &k2, before, 100)?)))
        .await?;
    let older = (found.len() >= 100).then(|| found.last().map(|e| e.cursor.clone())).flatten();
    render(&EventsPage {
        chrome: Chrome::signed_in(&session, "enterprise"),
        key,
        enterprise_name: enterprise.name,
        events: found
            .into_iter()
            .map(|e| RecentEvent {
                at: e.occurred_at.get(..19).unwrap_or_default().replace('T', " "),
                summary: summary(&e.data),
                kind: e.kind,
                cursor: e.cursor,
                operation_id: e.operation_id.unwrap_or_default(),
            })
            .collect(),
        older,
    })
}
