//! Group mappings: which IdP groups feed which organizations (DESIGN.md, SCIM rules 3 and 4).
//!
//! A mapping (IdP group G, organization O) is held by one org group of O named like G, in its
//! `idp_group_id` column: the group is created for the mapping when O has none of that name,
//! reused when it has (its earlier `sso` members are dropped, its `local` members kept). The org
//! group's `sso` members are then G's members, derived at query time through that column and
//! never copied: a SCIM change to G costs the same whether G feeds one organization or two
//! hundred, and unmapping or deleting G takes its members away at once. An org group is fed by
//! one IdP group at most, so two IdP groups are never merged into one org group; the built-in
//! `Members` group is never fed.

mod statements;

use std::collections::BTreeSet;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::Directory;
use crate::access::Ctx;
use crate::audit::{self, Outcome, Subject};
use crate::db::DbConnection;
use crate::error::{DirectoryError, FieldErrors, Result};
use crate::group::{MEMBERS_GROUP, Membership, MembershipSource};
use crate::schema::{idp_group_members, idp_groups, org_groups, organizations, users};

/// What a change of mappings did, for the admin.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct MappingOutcome {
    /// IdP groups newly mapped.
    pub added: Vec<String>,
    /// IdP groups no longer mapped.
    pub removed: Vec<String>,
    /// IdP groups that could not be mapped, with the reason.
    pub skipped: Vec<(String, String)>,
}

/// Changes to one organization's mappings: IdP group ids to map and to unmap.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct MappingChange {
    pub add: Vec<String>,
    pub remove: Vec<String>,
}

impl MappingChange {
    /// How many IdP groups it touches.
    pub fn len(&self) -> usize {
        self.add.len() + self.remove.len()
    }

    /// Whether it changes nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Each id once; an id both added and removed is added.
    fn without_overlap(self) -> Self {
        let add: BTreeSet<String> = self.add.into_iter().collect();
        let remove: BTreeSet<String> = self.remove.into_iter().filter(|r| !add.contains(r)).collect();
        MappingChange { add: add.into_iter().collect(), remove: remove.into_iter().collect() }
    }
}

/// How a change of mappings was applied: at once when it fits in one chunk, or queued as a job
/// (see [`crate::job::SET_MAPPINGS`]) when it is larger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MappingApplied {
    Now(MappingOutcome),
    Queued(crate::job::Job),
}

/// What a queued change of one organization's mappings keeps in its job.
#[derive(Debug, Serialize, serde::Deserialize)]
struct SetMappingsPayload {
    organization: String,
    per_chunk: usize,
    change: MappingChange,
    outcome: MappingOutcome,
}

impl SetMappingsPayload {
    fn to_json(&self) -> Result<String> {
        serde_json::to_string(self).map_err(|e| DirectoryError::Internal(e.to_string()))
    }
}

/// The skipped groups a mapping job keeps for its progress page, at most.
const MAX_SKIPPED_KEPT: usize = 100;

/// Ids checked in one query (well inside both backends' limits on bound parameters).
const CHECK_IDS_PER_QUERY: usize = 5_000;

/// The organization a job is about, when it is about one (a queued change of one
/// organization's mappings): its admins may follow it.
pub(crate) fn job_organization(job: &crate::job::Job) -> Option<String> {
    (job.kind == crate::job::SET_MAPPINGS)
        .then(|| serde_json::from_str::<SetMappingsPayload>(&job.payload).ok().map(|p| p.organization))
        .flatten()
}

/// What a queued change of mappings did so far (added, removed, skipped), for the progress
/// page; `None` for other jobs.
pub fn job_outcome(job: &crate::job::Job) -> Option<MappingOutcome> {
    (job.kind == crate::job::SET_MAPPINGS)
        .then(|| serde_json::from_str::<SetMappingsPayload>(&job.payload).ok().map(|p| p.outcome))
        .flatten()
}

/// Applies `change` to organization `org_id` of enterprise `enterprise_id` in the caller's
/// transaction: one statement unmaps, [`map_pairs`] maps; ids of groups gone meanwhile are
/// passed over.
fn apply_change(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    enterprise_id: &str,
    org_id: &str,
    change: &MappingChange,
) -> Result<MappingOutcome> {
    use crate::raw::ids_json;
    let mut outcome = MappingOutcome::default();
    if change.is_empty() {
        return Ok(outcome);
    }
    let mapped_among = |conn: &mut DbConnection, ids: &[String]| -> Result<BTreeSet<String>> {
        Ok(org_groups::table
            .filter(org_groups::organization_id.eq(org_id))
            .filter(org_groups::idp_group_id.eq_any(ids))
            .select(org_groups::idp_group_id.assume_not_null())
            .load::<String>(conn)?
            .into_iter()
            .collect())
    };
    let everything: Vec<String> = change.add.iter().chain(&change.remove).cloned().collect();
    let names: Vec<(String, String)> = idp_groups::table
        .filter(idp_groups::enterprise_id.eq(enterprise_id))
        .filter(idp_groups::id.eq_any(&everything))
        .select((idp_groups::id, idp_groups::display_name))
        .order(idp_groups::display_name.asc())
        .load(conn)?;
    let before = mapped_among(conn, &everything)?;
    if !change.remove.is_empty() {
        let ids = ids_json(&change.remove)?;
        crate::raw::execute(conn, statements::UNMAP_FROM_ORGANIZATION, Some(now), &[org_id, &ids])?;
    }
    if !change.add.is_empty() {
        let ids = ids_json(&change.add)?;
        map_pairs(conn, now, &statements::MAP_ONTO_ORGANIZATION, enterprise_id, &[&ids, org_id])?;
    }
    let after = mapped_among(conn, &change.add)?;
    let (mut mapped, mut unmapped) = (Vec::new(), Vec::new());
    for (id, name) in names {
        if change.remove.contains(&id) {
            if before.contains(&id) {
                outcome.removed.push(name);
                unmapped.push(id);
            }
        } else if before.contains(&id) {
            // Mapped already: nothing to say.
        } else if after.contains(&id) {
            outcome.added.push(name);
            mapped.push(id);
        } else if name == MEMBERS_GROUP {
            outcome.skipped.push((name, format!("the built-in {MEMBERS_GROUP} group is never fed by the IdP")));
        } else {
            let reason = format!("the organization's group {name} is already fed by another IdP group");
            outcome.skipped.push((name, reason));
        }
    }
    if !mapped.is_empty() || !unmapped.is_empty() {
        let org: crate::organization::Organization = organizations::table
            .filter(organizations::id.eq(org_id))
            .select(crate::organization::Organization::as_select())
            .first(conn)?;
        let change = serde_json::json!({ "kind": "mappings", "mapped": mapped, "unmapped": unmapped });
        let event = crate::event::org_group_membership_of(&org, change);
        crate::event::write(conn, now, &Ctx::new(&crate::Actor::System, None), &[event])?;
    }
    Ok(outcome)
}

/// An IdP group with the organizations it feeds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MappedIdpGroup {
    pub id: String,
    pub display_name: String,
    pub external_id: Option<String>,
    pub origin: crate::provisioning::GroupOrigin,
    pub members: i64,
    /// Keys of the organizations it is mapped to.
    pub organizations: Vec<String>,
}

/// The `sso` memberships `user_ids` have through mapped IdP groups.
pub(crate) fn derived_groups_of(
    conn: &mut DbConnection,
    enterprise_id: &str,
    user_ids: &[&str],
) -> Result<Vec<Membership>> {
    let query = idp_group_members::table
        .inner_join(org_groups::table.on(org_groups::idp_group_id.eq(idp_group_members::group_id.nullable())))
        .inner_join(organizations::table.on(organizations::id.eq(org_groups::organization_id)))
        .filter(org_groups::enterprise_id.eq(enterprise_id))
        .select((
            idp_group_members::user_id,
            org_groups::id,
            organizations::key,
            organizations::name,
            org_groups::name,
            MembershipSource::Sso.as_str().into_sql::<diesel::sql_types::Text>(),
        ))
        .order((organizations::key.asc(), org_groups::name.asc()))
        .into_boxed();
    // One person (a claims read, a person's own page) is compared with `=`: a statement SQLite
    // keeps prepared. An `IN` list of values is prepared anew each time.
    let query = match user_ids {
        [user_id] => query.filter(idp_group_members::user_id.eq(*user_id)),
        many => query.filter(idp_group_members::user_id.eq_any(many)),
    };
    Ok(query.load(conn)?)
}

/// Which same-named pairs [`link_by_name`] links.
pub(crate) enum NameLinks<'a> {
    /// Every IdP group of the enterprise (switching back to JIT mode).
    All,
    /// These IdP groups (first seen at a sign-in).
    IdpGroups(&'a [String]),
    /// This org group (just created in JIT mode).
    OrgGroup(&'a str),
}

/// JIT mode's rule: an org group is fed by the IdP group of exactly its name (case-sensitive;
/// never a built-in group). Links the org groups of `scope` that are unfed, or fed by an IdP
/// group of another name; links by exact name stay.
pub(crate) fn link_by_name(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    enterprise_id: &str,
    scope: NameLinks<'_>,
) -> Result<()> {
    use crate::raw::{execute, ids_json};
    match scope {
        NameLinks::All => execute(conn, statements::LINK_EVERY_GROUP_BY_NAME, Some(now), &[enterprise_id])?,
        NameLinks::IdpGroups(ids) => {
            execute(conn, statements::LINK_IDP_GROUPS_BY_NAME, Some(now), &[enterprise_id, &ids_json(ids)?])?
        }
        NameLinks::OrgGroup(id) => execute(conn, statements::LINK_ORG_GROUP_BY_NAME, Some(now), &[enterprise_id, id])?,
    };
    Ok(())
}

/// The derived (`sso`) members of one org group, by login (the first `limit` of them).
pub(crate) fn derived_members_of(
    conn: &mut DbConnection,
    org_group_id: &str,
    limit: Option<i64>,
) -> Result<Vec<crate::group::GroupMember>> {
    let query = org_groups::table
        .inner_join(idp_group_members::table.on(idp_group_members::group_id.nullable().eq(org_groups::idp_group_id)))
        .inner_join(users::table.on(users::id.eq(idp_group_members::user_id)))
        .filter(org_groups::id.eq(org_group_id))
        .select((
            users::id,
            users::login,
            users::name,
            users::email,
            MembershipSource::Sso.as_str().into_sql::<diesel::sql_types::Text>(),
        ))
        .order(users::login_key.asc())
        .into_boxed();
    Ok(match limit {
        Some(n) => query.limit(n).load(conn)?,
        None => query.load(conn)?,
    })
}

/// How many members an org group has through its IdP group.
pub(crate) fn derived_member_count(conn: &mut DbConnection, org_group_id: &str) -> Result<i64> {
    Ok(org_groups::table
        .inner_join(idp_group_members::table.on(idp_group_members::group_id.nullable().eq(org_groups::idp_group_id)))
        .filter(org_groups::id.eq(org_group_id))
        .count()
        .get_result(conn)?)
}

/// After IdP group `idp_group_id` was renamed to `new_name`: renames the org groups created for
/// its mappings, except where the organization already has a group of the new name. Returns the
/// keys of the organizations where the rename clashed.
pub(crate) fn follow_rename(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    idp_group_id: &str,
    new_name: &str,
) -> Result<Vec<String>> {
    let fed: Vec<(String, String, String)> = org_groups::table
        .inner_join(organizations::table)
        .filter(org_groups::idp_group_id.eq(idp_group_id))
        .filter(org_groups::created_by_mapping.eq(true))
        .select((org_groups::id, org_groups::organization_id, organizations::key))
        .load(conn)?;
    let mut clashes = Vec::new();
    for (org_group_id, organization_id, org_key) in fed {
        let taken: i64 = org_groups::table
            .filter(org_groups::organization_id.eq(&organization_id))
            .filter(org_groups::name.eq(new_name))
            .filter(org_groups::id.ne(&org_group_id))
            .count()
            .get_result(conn)?;
        if taken > 0 || new_name == MEMBERS_GROUP {
            clashes.push(org_key);
            continue;
        }
        diesel::update(org_groups::table.filter(org_groups::id.eq(&org_group_id)))
            .set((org_groups::name.eq(new_name), org_groups::updated_at.eq(now)))
            .execute(conn)?;
    }
    Ok(clashes)
}

/// Org groups a map-all chunk creates at most: small enough that sign-ins and SCIM requests
/// wait little for the write lock, large enough for the writes to share pages.
pub const MAP_ALL_LINKS_PER_CHUNK: i64 = 10_000;

/// Runs the three statements of a mapping (see [`statements::MapPairs`]): `params` are the
/// parameters after the enterprise id, and a new token then `now` follow them.
fn map_pairs(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    statements: &statements::MapPairs,
    enterprise_id: &str,
    params: &[&str],
) -> Result<()> {
    let with_enterprise: Vec<&str> = std::iter::once(enterprise_id).chain(params.iter().copied()).collect();
    crate::raw::execute(conn, statements.drop_sso_copies, None, &with_enterprise)?;
    crate::raw::execute(conn, statements.reuse, Some(now), &with_enterprise)?;
    let id = crate::secret::new_id();
    let token = &id[id.len() - 12..];
    let with_token: Vec<&str> = with_enterprise.iter().copied().chain(std::iter::once(token)).collect();
    crate::raw::execute(conn, statements.create, Some(now), &with_token)?;
    Ok(())
}

impl Directory {
    /// Queues "map all": every IdP group of the enterprise to every organization (enterprise
    /// admins). Runs as a job in chunks of IdP groups, each onto every organization; existing
    /// mappings stay, so applying it again only adds what is missing. Groups pushed while it
    /// runs may be left for the next run.
    pub fn start_map_all(&self, ctx: &Ctx<'_>, enterprise_key: &str) -> Result<crate::job::Job> {
        self.start_map_all_in_chunks(ctx, enterprise_key, None)
    }

    /// As [`Directory::start_map_all`], with `groups_per_chunk` IdP groups in each chunk
    /// (default: about [`crate::job::JobSettings::map_all_links_per_chunk`] links per chunk).
    pub fn start_map_all_in_chunks(
        &self,
        ctx: &Ctx<'_>,
        enterprise_key: &str,
        groups_per_chunk: Option<i64>,
    ) -> Result<crate::job::Job> {
        self.audited_in(ctx, "group_mapping.map_all", enterprise_key, |conn, now| {
            let enterprise = self.visible_enterprise(conn, ctx, enterprise_key)?;
            ctx.require_enterprise_admin(&enterprise.id)?;
            let orgs: i64 = organizations::table
                .filter(organizations::enterprise_id.eq(&enterprise.id))
                .count()
                .get_result(conn)?;
            let groups: i64 =
                idp_groups::table.filter(idp_groups::enterprise_id.eq(&enterprise.id)).count().get_result(conn)?;
            let batch = groups_per_chunk.unwrap_or(self.jobs.map_all_links_per_chunk / orgs.max(1)).max(1);
            let total = if orgs == 0 { 0 } else { (groups + batch - 1) / batch };
            let job = crate::job::enqueue(conn, now, ctx, crate::job::MAP_ALL, &enterprise.id, total)?;
            diesel::update(crate::schema::jobs::table.filter(crate::schema::jobs::id.eq(&job.id)))
                .set(crate::schema::jobs::payload.eq(serde_json::json!({ "groups_per_chunk": batch }).to_string()))
                .execute(conn)?;
            let subject = Subject::new(Some(&enterprise.id), "job", &job.id, crate::job::MAP_ALL)
                .with_details(serde_json::json!({"organizations": orgs, "idp_groups": groups, "chunks": total}));
            Ok((job, subject))
        })
    }

    /// One chunk of "map all": the next batch of IdP groups onto every organization. Batches are
    /// cut by IdP group id after the last one done (kept in the job's payload, moved in the same
    /// transaction as the chunk's writes), so groups deleted, renamed or pushed while the job
    /// runs never shift the batches: every group there at the start is mapped once, and so is
    /// every group pushed before the job reaches its place. The job ends when a batch comes back
    /// short, whatever `total` was estimated at the start.
    pub(crate) fn map_all_chunk(&self, job: &crate::job::Job) -> Result<bool> {
        let enterprise_id = job
            .enterprise_id
            .clone()
            .ok_or_else(|| DirectoryError::Internal("a map-all job without enterprise".into()))?;
        let mut payload = serde_json::from_str::<serde_json::Value>(&job.payload)
            .map_err(|_| DirectoryError::Internal("a map-all job with an unreadable payload".into()))?;
        let batch = payload["groups_per_chunk"]
            .as_i64()
            .filter(|b| *b > 0)
            .ok_or_else(|| DirectoryError::Internal("a map-all job without its chunk size".into()))?;
        let after = payload["after"].as_str().unwrap_or("").to_owned();
        self.write(|conn, now| {
            let ids: Vec<String> = idp_groups::table
                .filter(idp_groups::enterprise_id.eq(&enterprise_id))
                .filter(idp_groups::id.gt(&after))
                .select(idp_groups::id)
                .order(idp_groups::id.asc())
                .limit(batch)
                .load(conn)?;
            if !ids.is_empty() {
                let json = crate::raw::ids_json(&ids)?;
                map_pairs(conn, now, &statements::MAP_ONTO_EVERY_ORGANIZATION, &enterprise_id, &[&json])?;
                // One event per organization for the whole batch: the host re-reads what it needs.
                let orgs: Vec<crate::organization::Organization> = organizations::table
                    .filter(organizations::enterprise_id.eq(&enterprise_id))
                    .select(crate::organization::Organization::as_select())
                    .load(conn)?;
                let change = serde_json::json!({ "kind": "map_all", "idp_groups": ids });
                let events: Vec<_> =
                    orgs.iter().map(|o| crate::event::org_group_membership_of(o, change.clone())).collect();
                if self.events_on() {
                    crate::event::write(conn, now, &Ctx::new(&crate::Actor::System, None), &events)?;
                }
            }
            let mut exhausted = (ids.len() as i64) < batch;
            if let Some(last) = ids.last() {
                let more: i64 = idp_groups::table
                    .filter(idp_groups::enterprise_id.eq(&enterprise_id))
                    .filter(idp_groups::id.gt(last))
                    .select(idp_groups::id)
                    .limit(1)
                    .count()
                    .get_result(conn)?;
                exhausted |= more == 0;
                payload["after"] = serde_json::Value::String(last.clone());
            }
            crate::job::advance(conn, now, job, Some(&payload.to_string()), exhausted)
        })
    }

    /// Makes `idp_group_ids` exactly the IdP groups that feed organization `org_key` (its org
    /// admins and the enterprise's admins). Org groups created for removed mappings stay: they
    /// may carry permissions; only the members the mapping brought go. What changes is worked
    /// out in the same transaction as the change, so a concurrent change is never undone.
    pub fn set_group_mappings(
        &self,
        ctx: &Ctx<'_>,
        enterprise_key: &str,
        org_key: &str,
        idp_group_ids: &[String],
    ) -> Result<MappingApplied> {
        self.change_mappings(ctx, enterprise_key, org_key, |conn, org_id| {
            let wanted: BTreeSet<String> = idp_group_ids.iter().cloned().collect();
            let current: BTreeSet<String> = org_groups::table
                .filter(org_groups::organization_id.eq(org_id))
                .filter(org_groups::idp_group_id.is_not_null())
                .select(org_groups::idp_group_id.assume_not_null())
                .load::<String>(conn)?
                .into_iter()
                .collect();
            Ok(MappingChange {
                add: wanted.difference(&current).cloned().collect(),
                remove: current.difference(&wanted).cloned().collect(),
            })
        })
    }

    /// Maps `change.add` onto organization `org_key` and unmaps `change.remove` from it,
    /// leaving its other mappings as they are: what a page of the console that shows some of
    /// the IdP groups saves.
    pub fn change_group_mappings(
        &self,
        ctx: &Ctx<'_>,
        enterprise_key: &str,
        org_key: &str,
        change: MappingChange,
    ) -> Result<MappingApplied> {
        self.change_mappings(ctx, enterprise_key, org_key, |_, _| Ok(change))
    }

    /// The common part of [`Directory::set_group_mappings`] and
    /// [`Directory::change_group_mappings`]: checks the caller and the ids, then applies the
    /// change at once when it fits in one chunk, or queues it as a job that applies it chunk by
    /// chunk.
    fn change_mappings(
        &self,
        ctx: &Ctx<'_>,
        enterprise_key: &str,
        org_key: &str,
        change: impl FnOnce(&mut DbConnection, &str) -> Result<MappingChange>,
    ) -> Result<MappingApplied> {
        self.audited_in(ctx, "group_mapping.set", enterprise_key, |conn, now| {
            let (enterprise, org) = self.visible_organization(conn, ctx, enterprise_key, org_key)?;
            ctx.require_org_admin(&enterprise.id, &org.id)?;
            let change = change(conn, &org.id)?.without_overlap();
            let asked: Vec<&String> = change.add.iter().chain(&change.remove).collect();
            let known: BTreeSet<String> = asked
                .chunks(CHECK_IDS_PER_QUERY)
                .map(|ids| {
                    idp_groups::table
                        .filter(idp_groups::enterprise_id.eq(&enterprise.id))
                        .filter(idp_groups::id.eq_any(ids))
                        .select(idp_groups::id)
                        .load::<String>(conn)
                })
                .collect::<std::result::Result<Vec<_>, _>>()?
                .into_iter()
                .flatten()
                .collect();
            let unknown: Vec<&str> =
                asked.iter().filter(|id| !known.contains(**id)).take(5).map(|s| s.as_str()).collect();
            if !unknown.is_empty() {
                return Err(FieldErrors::single("idp_groups", format!("no such IdP group: {}", unknown.join(", "))));
            }
            let subject = Subject::new(Some(&enterprise.id), "organization", &org.id, &org.key);
            let per_chunk = self.jobs.map_all_links_per_chunk.max(1) as usize;
            if change.len() <= per_chunk {
                let outcome = apply_change(conn, now, &enterprise.id, &org.id, &change)?;
                let details = serde_json::to_value(&outcome).unwrap_or_default();
                return Ok((MappingApplied::Now(outcome), subject.with_details(details)));
            }
            let total = change.len().div_ceil(per_chunk) as i64;
            let job = crate::job::enqueue(conn, now, ctx, crate::job::SET_MAPPINGS, &enterprise.id, total)?;
            let payload = SetMappingsPayload {
                organization: org.id.to_string(),
                per_chunk,
                change,
                outcome: MappingOutcome::default(),
            };
            diesel::update(crate::schema::jobs::table.filter(crate::schema::jobs::id.eq(&job.id)))
                .set(crate::schema::jobs::payload.eq(payload.to_json()?))
                .execute(conn)?;
            let details = serde_json::json!({
                "job": job.id, "adding": payload.change.add.len(), "removing": payload.change.remove.len(),
            });
            Ok((MappingApplied::Queued(job), subject.with_details(details)))
        })
    }

    /// One chunk of a queued change of one organization's mappings: removals first, then
    /// additions, `per_chunk` IdP groups at a time. The lists are fixed when the job is queued,
    /// so the chunks never shift; each is idempotent. What the chunks did adds up in the
    /// payload, for the progress page.
    pub(crate) fn set_mappings_chunk(&self, job: &crate::job::Job) -> Result<bool> {
        let enterprise_id = job
            .enterprise_id
            .clone()
            .ok_or_else(|| DirectoryError::Internal("a mapping job without enterprise".into()))?;
        let mut payload: SetMappingsPayload = serde_json::from_str(&job.payload)
            .map_err(|_| DirectoryError::Internal("a mapping job with an unreadable payload".into()))?;
        let per_chunk = payload.per_chunk.max(1);
        let start = (job.done.max(0) as usize).saturating_mul(per_chunk);
        let end = start.saturating_add(per_chunk).min(payload.change.len());
        let removes = payload.change.remove.len();
        let part = MappingChange {
            remove: payload.change.remove.get(start.min(removes)..end.min(removes)).unwrap_or_default().to_vec(),
            add: payload
                .change
                .add
                .get(start.saturating_sub(removes)..end.saturating_sub(removes))
                .unwrap_or_default()
                .to_vec(),
        };
        self.write(|conn, now| {
            let outcome = apply_change(conn, now, &enterprise_id, &payload.organization, &part)?;
            payload.outcome.added.extend(outcome.added);
            payload.outcome.removed.extend(outcome.removed);
            payload.outcome.skipped.extend(outcome.skipped);
            payload.outcome.skipped.truncate(MAX_SKIPPED_KEPT);
            crate::job::advance(conn, now, job, Some(&payload.to_json()?), end >= payload.change.len())
        })
    }

    /// The ids of the IdP groups that feed organization `org_key` (its admins).
    pub fn group_mappings_of(&self, ctx: &Ctx<'_>, enterprise_key: &str, org_key: &str) -> Result<Vec<String>> {
        let mut conn = self.conn()?;
        let (enterprise, org) = self.visible_organization(&mut conn, ctx, enterprise_key, org_key)?;
        ctx.require_org_admin(&enterprise.id, &org.id)?;
        Ok(org_groups::table
            .filter(org_groups::organization_id.eq(&org.id))
            .filter(org_groups::idp_group_id.is_not_null())
            .select(org_groups::idp_group_id.assume_not_null())
            .order(org_groups::idp_group_id.asc())
            .load(&mut conn)?)
    }

    /// IdP groups of an enterprise by name, with their member counts and the organizations
    /// they feed; `filter` keeps names containing it (without regard to case).
    pub fn list_mapped_idp_groups(
        &self,
        ctx: &Ctx<'_>,
        enterprise_key: &str,
        filter: Option<&str>,
        page: &crate::PageRequest,
    ) -> Result<crate::Page<MappedIdpGroup>> {
        let mut conn = self.conn()?;
        let enterprise = self.visible_enterprise(&mut conn, ctx, enterprise_key)?;
        if !ctx.actor.can_administer_enterprise(&enterprise.id) && ctx.actor.administered_organizations().is_empty() {
            return Err(DirectoryError::Forbidden("only admins may see the IdP groups".into()));
        }
        let mut query = idp_groups::table
            .filter(idp_groups::enterprise_id.eq(enterprise.id.clone()))
            .select(crate::provisioning::IdpGroup::as_select())
            .order(idp_groups::display_name.asc())
            .limit(page.fetch())
            .into_boxed();
        if let Some(text) = filter.map(str::trim).filter(|t| !t.is_empty()) {
            let escaped = text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
            query = query.filter(
                diesel::dsl::sql::<diesel::sql_types::Bool>("lower(display_name) LIKE ")
                    .bind::<diesel::sql_types::Text, _>(format!("%{}%", escaped.to_lowercase()))
                    .sql(" ESCAPE '\\'"),
            );
        }
        if let Some(after) = &page.after {
            query = query.filter(idp_groups::display_name.gt(after.clone()));
        }
        let rows = query.load(&mut conn)?;
        let page = crate::Page::from_rows(rows, page, |g| g.display_name.clone());
        let ids: Vec<&str> = page.items.iter().map(|g| g.id.as_str()).collect();
        let counts: Vec<(String, i64)> = idp_group_members::table
            .filter(idp_group_members::group_id.eq_any(&ids))
            .group_by(idp_group_members::group_id)
            .select((idp_group_members::group_id, diesel::dsl::count_star()))
            .load(&mut conn)?;
        let mapped: Vec<(String, String)> = org_groups::table
            .inner_join(organizations::table)
            .filter(org_groups::idp_group_id.eq_any(&ids))
            .select((org_groups::idp_group_id.assume_not_null(), organizations::key))
            .order(organizations::key.asc())
            .load(&mut conn)?;
        Ok(page.map(|g| MappedIdpGroup {
            members: counts.iter().find(|(id, _)| *id == g.id).map_or(0, |(_, n)| *n),
            organizations: mapped.iter().filter(|(id, _)| *id == g.id).map(|(_, k)| k.clone()).collect(),
            id: g.id,
            display_name: g.display_name,
            external_id: g.external_id,
            origin: g.origin,
        }))
    }

    /// Audits renames of org groups that could not follow their IdP group.
    pub(crate) fn audit_rename_clashes(
        &self,
        conn: &mut DbConnection,
        now: NaiveDateTime,
        ctx: &Ctx<'_>,
        enterprise_id: &str,
        group_name: &str,
        clashes: &[String],
    ) -> Result<()> {
        if clashes.is_empty() {
            return Ok(());
        }
        let subject = Subject {
            enterprise_id: Some(enterprise_id.to_owned()),
            kind: Some("idp_group"),
            id: None,
            name: Some(group_name.to_owned()),
            details: Some(serde_json::json!({"organizations": clashes})),
            events: Vec::new(),
        };
        audit::record(
            conn,
            now,
            ctx,
            "group_mapping.rename",
            &subject,
            Outcome::Failure,
            Some("these organizations already have a group of the new name; their mapped group keeps its old name"),
        )
    }
}
