//! The group mapping page: which IdP groups feed which organizations. Organizations on the left;
//! for the selected one, its IdP groups (searched and paged on the server, so it stays fast with
//! thousands) with a checkbox each; Save applies the page's choices (at once, or as a background
//! job when they are more than one chunk), and "Map all" runs as a background job; a job's
//! progress page refreshes itself until the mapping is complete.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use directory::PageRequest;
use directory::mapping::{MappingApplied, MappingChange, MappingOutcome};
use serde::Deserialize;

use super::{Chrome, CsrfOnly, render, see_other};
use crate::auth::ConsoleSession;
use crate::error::PageError;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(page).service(save).service(map_all).service(job_progress);
}

#[derive(Debug, Deserialize)]
struct PageQuery {
    org: Option<String>,
    q: Option<String>,
    after: Option<String>,
    /// Where the organizations panel's page starts (the `next` of the page before).
    orgs_after: Option<String>,
}

struct OrgRow {
    key: String,
    name: String,
    selected: bool,
}

struct GroupRow {
    id: String,
    name: String,
    members: i64,
    mapped: bool,
    elsewhere: usize,
}

#[derive(Template)]
#[template(path = "group_mappings.html")]
struct MappingPage {
    chrome: Chrome,
    key: String,
    enterprise_name: String,
    can_map_all: bool,
    organizations: Vec<OrgRow>,
    /// The next page of the organizations panel.
    orgs_next: Option<String>,
    org: Option<String>,
    org_name: String,
    q: String,
    groups: Vec<GroupRow>,
    next: Option<String>,
}

#[get("/console/e/{key}/group-mappings")]
async fn page(
    state: web::Data<AppState>,
    session: ConsoleSession,
    path: web::Path<String>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, PageError> {
    let key = path.into_inner();
    let query = query.into_inner();
    let k2 = key.clone();
    let q = query.q.clone().unwrap_or_default();
    let selected = query.org.clone();
    let after = query.after.clone();
    let orgs_after = query.orgs_after.clone();
    let (enterprise, orgs, chosen, groups) = session
        .read(&state, move |dir, ctx| {
            let enterprise = dir.get_enterprise(ctx, &k2)?;
            let orgs = dir.list_organizations(ctx, &k2, &PageRequest { limit: Some(200), after: orgs_after })?;
            // The selected organization may be on another page of the panel.
            let chosen = match selected {
                Some(org) => Some(dir.get_organization(ctx, &k2, &org)?),
                None => orgs.items.first().cloned(),
            };
            let groups = dir.list_mapped_idp_groups(ctx, &k2, Some(&q), &PageRequest { limit: Some(50), after })?;
            Ok((enterprise, orgs, chosen, groups))
        })
        .await?;
    let org = chosen.as_ref().map(|o| o.key.clone());
    let can_map_all = session.actor().can_administer_enterprise(&enterprise.id);
    let org_name = chosen.map(|o| o.name).unwrap_or_default();
    render(&MappingPage {
        chrome: Chrome::signed_in(&session, "enterprise"),
        enterprise_name: enterprise.name,
        can_map_all,
        orgs_next: orgs.next,
        organizations: orgs
            .items
            .into_iter()
            .map(|o| OrgRow { selected: org.as_deref() == Some(o.key.as_str()), key: o.key, name: o.name })
            .collect(),
        groups: groups
            .items
            .into_iter()
            .map(|g| {
                let mapped = org.as_ref().is_some_and(|o| g.organizations.contains(o));
                GroupRow {
                    // Org admins see their organizations only, not where else a group feeds.
                    elsewhere: if can_map_all { g.organizations.len() - usize::from(mapped) } else { 0 },
                    mapped,
                    id: g.id,
                    name: g.display_name,
                    members: g.members,
                }
            })
            .collect(),
        next: groups.next,
        org,
        org_name,
        q: query.q.unwrap_or_default(),
        key,
    })
}

#[derive(Debug, Deserialize)]
struct SaveForm {
    csrf_token: String,
    org: String,
    /// The ids of the groups this page showed, and of those ticked.
    #[serde(default)]
    shown: Vec<String>,
    #[serde(default)]
    mapped: Vec<String>,
}

#[post("/console/e/{key}/group-mappings")]
async fn save(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: ConsoleSession,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    // Repeated fields (`shown=a&shown=b`) are read by hand: the form extractor keeps one.
    let mut form = SaveForm { csrf_token: String::new(), org: String::new(), shown: Vec::new(), mapped: Vec::new() };
    for (k, v) in url::form_urlencoded::parse(&body) {
        match k.as_ref() {
            "csrf_token" => form.csrf_token = v.into_owned(),
            "org" => form.org = v.into_owned(),
            "shown" => form.shown.push(v.into_owned()),
            "mapped" => form.mapped.push(v.into_owned()),
            _ => {}
        }
    }
    session.check_csrf(&state, &form.csrf_token)?;
    let key = path.into_inner();
    let k2 = key.clone();
    let org = form.org.clone();
    let change = MappingChange {
        add: form.mapped.iter().filter(|id| form.shown.contains(id)).cloned().collect(),
        remove: form.shown.iter().filter(|id| !form.mapped.contains(id)).cloned().collect(),
    };
    // Only the groups this page showed change: those on other pages keep their mapping.
    let applied = session.call(&state, &req, move |dir, ctx| dir.change_group_mappings(ctx, &k2, &org, change)).await?;
    let outcome = match applied {
        MappingApplied::Now(outcome) => outcome,
        MappingApplied::Queued(job) => {
            state.jobs.wake();
            return Ok(see_other(&format!("/console/e/{key}/jobs/{}", job.id)));
        }
    };
    let summary = summarize(&outcome);
    session.flash(&state, summary).await?;
    let location = format!(
        "/console/e/{key}/group-mappings?org={}",
        url::form_urlencoded::byte_serialize(form.org.as_bytes()).collect::<String>(),
    );
    Ok(see_other(&location))
}

/// What a change of mappings did, in a sentence or two for the admin.
fn summarize(outcome: &MappingOutcome) -> String {
    let mut summary = format!("Mapping complete: {} added, {} removed.", outcome.added.len(), outcome.removed.len());
    for (name, reason) in &outcome.skipped {
        summary.push_str(&format!(" {name} was not mapped: {reason}."));
    }
    summary
}

#[post("/console/e/{key}/group-mappings/map-all")]
async fn map_all(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: ConsoleSession,
    path: web::Path<String>,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    session.check_csrf(&state, &form.csrf_token)?;
    let key = path.into_inner();
    let k2 = key.clone();
    let queued = session.call(&state, &req, move |dir, ctx| dir.start_map_all(ctx, &k2)).await?;
    state.jobs.wake();
    Ok(see_other(&format!("/console/e/{key}/jobs/{}", queued.id)))
}

#[derive(Template)]
#[template(path = "job.html")]
struct JobPage {
    chrome: Chrome,
    key: String,
    enterprise_name: String,
    state: String,
    done: i64,
    total: i64,
    error: Option<String>,
    /// "Map all", or the change of one organization's mappings.
    map_all: bool,
    /// For a change of one organization's mappings, once done: what it did.
    summary: Option<String>,
}

#[get("/console/e/{key}/jobs/{id}")]
async fn job_progress(
    state: web::Data<AppState>,
    session: ConsoleSession,
    path: web::Path<(String, directory::ids::JobId)>,
) -> Result<HttpResponse, PageError> {
    let (key, id) = path.into_inner();
    let k2 = key.clone();
    let (enterprise, job) =
        session.read(&state, move |dir, ctx| Ok((dir.get_enterprise(ctx, &k2)?, dir.get_job(ctx, &id)?))).await?;
    if job.enterprise_id.as_deref() != Some(enterprise.id.as_str()) {
        return Err(PageError::Directory(directory::DirectoryError::NotFound("job")));
    }
    let summary = directory::mapping::job_outcome(&job).map(|o| summarize(&o));
    render(&JobPage {
        chrome: Chrome::signed_in(&session, "enterprise"),
        key,
        enterprise_name: enterprise.name,
        summary,
        state: job.state.to_string(),
        done: job.done,
        total: job.total,
        map_all: job.kind == directory::job::MAP_ALL,
        error: job.error,
    })
}
