//! Organization pages: create one, see its groups and members, add groups and members, appoint
//! its admins, delete it.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use directory::PageRequest;
use directory::group::{GroupMember, NewGroup};
use directory::organization::NewOrganization;
use directory::user::NewUser;
use serde::Deserialize;

use super::enterprises::{AppointFormData, AppointedPage, appoint_form_page};
use super::{Chrome, CsrfOnly, Field, FormPage, render, see_other};
use crate::auth::ConsoleSession;
use crate::error::PageError;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(new_form)
        .service(create)
        .service(page)
        .service(group_form)
        .service(create_group)
        .service(member_form)
        .service(add_member)
        .service(remove_member)
        .service(appoint_form)
        .service(appoint)
        .service(set_permissions)
        .service(delete);
}

fn org_form(session: &ConsoleSession, enterprise: &str, key: &str, name: &str) -> FormPage {
    FormPage {
        chrome: Chrome::signed_in(session, "enterprise"),
        title: "New organization".into(),
        intro:
            "People belong to organizations through their groups. Each new organization starts with a Members group."
                .into(),
        crumbs: vec![(enterprise.to_owned(), format!("/console/e/{enterprise}"))],
        action: format!("/console/e/{enterprise}/organizations/new"),
        cancel: format!("/console/e/{enterprise}"),
        submit: "Create organization",
        fields: vec![
            Field::text("name", "Name", name, "e.g. Engineering", true),
            Field::text(
                "key",
                "Key",
                key,
                "Lower-case letters, digits and hyphens, unique in this enterprise. It cannot change later.",
                true,
            ),
        ],
        error: None,
    }
}

#[get("/console/e/{key}/organizations/new")]
async fn new_form(session: ConsoleSession, path: web::Path<String>) -> Result<HttpResponse, PageError> {
    render(&org_form(&session, &path.into_inner(), "", ""))
}

#[derive(Debug, Deserialize)]
struct OrgFormData {
    csrf_token: String,
    key: String,
    name: String,
}

#[post("/console/e/{key}/organizations/new")]
async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: ConsoleSession,
    path: web::Path<String>,
    form: web::Form<OrgFormData>,
) -> Result<HttpResponse, PageError> {
    session.check_csrf(&state, &form.csrf_token)?;
    let enterprise = path.into_inner();
    let form = form.into_inner();
    let (e2, input) =
        (enterprise.clone(), NewOrganization { key: form.key.trim().to_owned(), name: form.name.clone() });
    let outcome = session.call(&state, &req, move |dir, ctx| Ok(dir.create_organization(ctx, &e2, input))).await?;
    match outcome {
        Ok(org) => Ok(see_other(&format!("/console/e/{enterprise}/o/{}", org.key))),
        Err(err) => org_form(&session, &enterprise, &form.key, &form.name).refused(err),
    }
}

struct GroupBlock {
    name: String,
    description: String,
    builtin: bool,
    /// The first [`MEMBERS_SHOWN`] members, of `member_count`.
    members: Vec<GroupMember>,
    member_count: usize,
    /// Every permission, with its label and whether the group grants it.
    permissions: Vec<(&'static str, &'static str, bool)>,
}

#[derive(Template)]
#[template(path = "organization.html")]
struct OrganizationPage {
    chrome: Chrome,
    key: String,
    enterprise_name: String,
    org_key: String,
    org_name: String,
    can_admin_enterprise: bool,
    /// Everyone in one of the organization's groups (org membership follows group membership).
    people: Vec<directory::organization::OrganizationMember>,
    people_next: Option<String>,
    groups: Vec<GroupBlock>,
    groups_next: Option<String>,
}

/// Where the organization page's two lists start.
#[derive(Debug, Deserialize)]
struct OrganizationQuery {
    people_after: Option<String>,
    groups_after: Option<String>,
}

/// Page sizes of the organization page, which "map all" can give thousands of groups.
const PEOPLE_PER_PAGE: u32 = 100;
const GROUPS_PER_PAGE: u32 = 50;
/// Members listed under each group; the count says how many there are in all.
const MEMBERS_SHOWN: usize = 25;

#[get("/console/e/{key}/o/{org}")]
async fn page(
    state: web::Data<AppState>,
    session: ConsoleSession,
    path: web::Path<(String, String)>,
    query: web::Query<OrganizationQuery>,
) -> Result<HttpResponse, PageError> {
    let (key, org_key) = path.into_inner();
    let (k2, o2) = (key.clone(), org_key.clone());
    let query = query.into_inner();
    let people_page = PageRequest { limit: Some(PEOPLE_PER_PAGE), after: query.people_after };
    let groups_page = PageRequest { limit: Some(GROUPS_PER_PAGE), after: query.groups_after };
    let (enterprise, org, people, groups, groups_next) = session
        .read(&state, move |dir, ctx| {
            let e = dir.get_enterprise(ctx, &k2)?;
            let org = dir.get_organization(ctx, &k2, &o2)?;
            let people = dir.list_organization_members(ctx, &k2, &o2, &people_page)?;
            let groups = dir.list_groups(ctx, &k2, &o2, &groups_page)?;
            let mut blocks = Vec::new();
            for g in groups.items {
                let (members, member_count) = dir.first_group_members(ctx, &k2, &o2, &g.name, Some(MEMBERS_SHOWN))?;
                let granted = dir.group_permissions(ctx, &k2, &o2, &g.name)?;
                let permissions = directory::permission::Permission::ALL
                    .into_iter()
                    .map(|p| (p.as_str(), p.label(), granted.contains(&p)))
                    .collect();
                blocks.push(GroupBlock {
                    name: g.name,
                    description: g.description,
                    builtin: g.builtin,
                    members,
                    member_count,
                    permissions,
                });
            }
            Ok((e, org, people, blocks, groups.next))
        })
        .await?;
    render(&OrganizationPage {
        chrome: Chrome::signed_in(&session, "enterprise"),
        can_admin_enterprise: session.actor().can_administer_enterprise(&enterprise.id),
        key,
        enterprise_name: enterprise.name,
        org_key,
        org_name: org.name,
        people: people.items,
        people_next: people.next,
        groups,
        groups_next,
    })
}

fn group_form_page(session: &ConsoleSession, key: &str, org: &str, name: &str, description: &str) -> FormPage {
    FormPage {
        chrome: Chrome::signed_in(session, "enterprise"),
        title: "New group".into(),
        intro: "Group names are case-sensitive. A group named exactly like a group of your identity provider will receive its members at sign-in.".into(),
        crumbs: vec![(org.to_owned(), format!("/console/e/{key}/o/{org}"))],
        action: format!("/console/e/{key}/o/{org}/groups/new"),
        cancel: format!("/console/e/{key}/o/{org}"),
        submit: "Create group",
        fields: vec![
            Field::text("name", "Name", name, "", true),
            Field::text("description", "Description", description, "", false),
        ],
        error: None,
    }
}

#[get("/console/e/{key}/o/{org}/groups/new")]
async fn group_form(session: ConsoleSession, path: web::Path<(String, String)>) -> Result<HttpResponse, PageError> {
    let (key, org) = path.into_inner();
    render(&group_form_page(&session, &key, &org, "", ""))
}

#[derive(Debug, Deserialize)]
struct GroupFormData {
    csrf_token: String,
    name: String,
    #[serde(default)]
    description: String,
}

#[post("/console/e/{key}/o/{org}/groups/new")]
async fn create_group(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: ConsoleSession,
    path: web::Path<(String, String)>,
    form: web::Form<GroupFormData>,
) -> Result<HttpResponse, PageError> {
    session.check_csrf(&state, &form.csrf_token)?;
    let (key, org) = path.into_inner();
    let form = form.into_inner();
    let (k2, o2) = (key.clone(), org.clone());
    let input = NewGroup { name: form.name.clone(), description: Some(form.description.clone()) };
    let outcome = session.call(&state, &req, move |dir, ctx| Ok(dir.create_group(ctx, &k2, &o2, input))).await?;
    match outcome {
        Ok(_) => {
            session.flash(&state, "The group was created.").await?;
            Ok(see_other(&format!("/console/e/{key}/o/{org}")))
        }
        Err(err) => group_form_page(&session, &key, &org, &form.name, &form.description).refused(err),
    }
}

async fn member_form_page(
    state: &AppState,
    session: &ConsoleSession,
    key: &str,
    org: &str,
    login: &str,
    group: &str,
) -> Result<FormPage, PageError> {
    let (k2, o2) = (key.to_owned(), org.to_owned());
    let groups = session.read(state, move |dir, ctx| dir.list_groups(ctx, &k2, &o2, &PageRequest::first(200))).await?;
    let options = groups.items.into_iter().map(|g| (g.name.clone(), g.name)).collect();
    Ok(FormPage {
        chrome: Chrome::signed_in(session, "enterprise"),
        title: "Add a member".into(),
        intro: "Adds a user of this enterprise to a group by hand. Such memberships are kept when the identity provider updates the group.".into(),
        crumbs: vec![(org.to_owned(), format!("/console/e/{key}/o/{org}"))],
        action: format!("/console/e/{key}/o/{org}/members/new"),
        cancel: format!("/console/e/{key}/o/{org}"),
        submit: "Add member",
        fields: vec![
            Field::text("login", "Login", login, "The user's login in this enterprise.", true),
            Field::text("group", "Group", group, "", true).options(options),
        ],
        error: None,
    })
}

#[get("/console/e/{key}/o/{org}/members/new")]
async fn member_form(
    state: web::Data<AppState>,
    session: ConsoleSession,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let (key, org) = path.into_inner();
    render(&member_form_page(&state, &session, &key, &org, "", directory::group::MEMBERS_GROUP).await?)
}

#[derive(Debug, Deserialize)]
struct MemberFormData {
    csrf_token: String,
    login: String,
    group: String,
}

#[post("/console/e/{key}/o/{org}/members/new")]
async fn add_member(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: ConsoleSession,
    path: web::Path<(String, String)>,
    form: web::Form<MemberFormData>,
) -> Result<HttpResponse, PageError> {
    session.check_csrf(&state, &form.csrf_token)?;
    let (key, org) = path.into_inner();
    let form = form.into_inner();
    let (k2, o2, g2, l2) = (key.clone(), org.clone(), form.group.clone(), form.login.trim().to_owned());
    let outcome = session.call(&state, &req, move |dir, ctx| Ok(dir.add_group_member(ctx, &k2, &o2, &g2, &l2))).await?;
    match outcome {
        Ok(_) => {
            session.flash(&state, "The member was added.").await?;
            Ok(see_other(&format!("/console/e/{key}/o/{org}")))
        }
        Err(err) => member_form_page(&state, &session, &key, &org, &form.login, &form.group).await?.refused(err),
    }
}

#[derive(Debug, Deserialize)]
struct RemoveMemberData {
    csrf_token: String,
    login: String,
    group: String,
}

#[post("/console/e/{key}/o/{org}/members/remove")]
async fn remove_member(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: ConsoleSession,
    path: web::Path<(String, String)>,
    form: web::Form<RemoveMemberData>,
) -> Result<HttpResponse, PageError> {
    session.check_csrf(&state, &form.csrf_token)?;
    let (key, org) = path.into_inner();
    let form = form.into_inner();
    let (k2, o2) = (key.clone(), org.clone());
    session
        .call(&state, &req, move |dir, ctx| dir.remove_group_member(ctx, &k2, &o2, &form.group, &form.login))
        .await?;
    session.flash(&state, "The member was removed from the group.").await?;
    Ok(see_other(&format!("/console/e/{key}/o/{org}")))
}

#[get("/console/e/{key}/o/{org}/admins/new")]
async fn appoint_form(session: ConsoleSession, path: web::Path<(String, String)>) -> Result<HttpResponse, PageError> {
    let (key, org) = path.into_inner();
    render(&appoint_form_page(
        &session,
        format!("Appoint an admin of {org}"),
        format!("/console/e/{key}/o/{org}/admins/new"),
        format!("/console/e/{key}/o/{org}"),
        ("", "", ""),
    ))
}

#[post("/console/e/{key}/o/{org}/admins/new")]
async fn appoint(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: ConsoleSession,
    path: web::Path<(String, String)>,
    form: web::Form<AppointFormData>,
) -> Result<HttpResponse, PageError> {
    session.check_csrf(&state, &form.csrf_token)?;
    let (key, org) = path.into_inner();
    let form = form.into_inner();
    let (k2, o2) = (key.clone(), org.clone());
    let person = NewUser { login: form.login.clone(), email: Some(form.email.clone()), name: Some(form.name.clone()) };
    let outcome = session.call(&state, &req, move |dir, ctx| Ok(dir.appoint_org_admin(ctx, &k2, &o2, person))).await?;
    let back = format!("/console/e/{key}/o/{org}");
    match outcome {
        Ok(a) => render(&AppointedPage {
            chrome: Chrome::signed_in(&session, "enterprise"),
            crumbs: vec![(org.clone(), back.clone())],
            login: a.user.login,
            role: format!("an admin of {org}"),
            setup_url: a.setup_token.map(|t| state.settings.url(&format!("/setup/{t}"))),
            back,
        }),
        Err(err) => appoint_form_page(
            &session,
            format!("Appoint an admin of {org}"),
            format!("/console/e/{key}/o/{org}/admins/new"),
            back,
            (&form.login, &form.email, &form.name),
        )
        .refused(err),
    }
}

#[post("/console/e/{key}/o/{org}/permissions")]
async fn set_permissions(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: ConsoleSession,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    // `permission` repeats, one per ticked box: read by hand.
    let (mut csrf, mut group, mut permissions) = (String::new(), String::new(), Vec::new());
    for (k, v) in url::form_urlencoded::parse(&body) {
        match k.as_ref() {
            "csrf_token" => csrf = v.into_owned(),
            "group" => group = v.into_owned(),
            "permission" => permissions.push(v.into_owned()),
            _ => {}
        }
    }
    session.check_csrf(&state, &csrf)?;
    let (key, org) = path.into_inner();
    let (k2, o2) = (key.clone(), org.clone());
    session.call(&state, &req, move |dir, ctx| dir.set_group_permissions(ctx, &k2, &o2, &group, &permissions)).await?;
    session.flash(&state, "The permissions were saved.").await?;
    Ok(see_other(&format!("/console/e/{key}/o/{org}")))
}

#[post("/console/e/{key}/o/{org}/delete")]
async fn delete(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: ConsoleSession,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    session.check_csrf(&state, &form.csrf_token)?;
    let (key, org) = path.into_inner();
    let k2 = key.clone();
    session.call(&state, &req, move |dir, ctx| dir.delete_organization(ctx, &k2, &org)).await?;
    session.flash(&state, "The organization was deleted.").await?;
    Ok(see_other(&format!("/console/e/{key}")))
}
