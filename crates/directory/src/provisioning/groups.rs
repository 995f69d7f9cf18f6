//! IdP groups as the IdP pushes them, with their members.
//!
//! Membership changes are set-based: the member ids travel as one JSON array parameter and each
//! change is one `INSERT ... SELECT` or `DELETE ... IN`, whatever the number of members. Adding a
//! member twice or removing an absent one changes nothing.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use serde_json::json;
use std::collections::BTreeSet;

use super::{check_version, scim_enterprise};
use crate::access::Ctx;
use crate::audit::Subject;
use crate::db::DbConnection;
use crate::error::{DirectoryError, FieldErrors, Result, conflict_on_unique};
use crate::event::{self, Event};
use crate::raw::{count, ids_json, returning};
use crate::schema::{idp_group_members, idp_groups, users};
use crate::secret::new_id;
use crate::stored::stored_enum;
use crate::{Directory, validate};

stored_enum! {
    /// Where an IdP group was first seen: in a sign-in's claims (`jit`) or pushed over SCIM
    /// (`scim`). SCIM takes a `jit` group over by name; sign-in never changes a `scim` one.
    pub enum GroupOrigin {
        Jit = "jit",
        Scim = "scim",
    }
}

/// A group as the IdP knows it.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Serialize)]
#[diesel(table_name = idp_groups)]
pub struct IdpGroup {
    pub id: String,
    pub enterprise_id: String,
    pub display_name: String,
    pub external_id: Option<String>,
    #[diesel(deserialize_as = String)]
    pub origin: GroupOrigin,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// A group the IdP creates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewIdpGroup {
    pub display_name: String,
    pub external_id: Option<String>,
    /// User ids.
    pub members: Vec<String>,
}

/// One change to a group's members, by user id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberChange {
    Add(Vec<String>),
    Remove(Vec<String>),
    RemoveAll,
    /// The members become exactly these.
    Replace(Vec<String>),
}

/// Changes to a group, applied in one transaction in this order: names, then each member
/// change in turn.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupChanges {
    pub display_name: Option<String>,
    /// `Some(None)` clears it.
    pub external_id: Option<Option<String>>,
    pub members: Vec<MemberChange>,
}

/// An indexed way to narrow a group list before the full filter is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupKey {
    Id(String),
    /// Compared exactly: group names are case-sensitive.
    DisplayName(String),
    ExternalId(String),
}

const TAKEN: &str = "a group with this displayName already exists";

fn validate_names(display_name: Option<&str>, external_id: Option<&str>) -> Result<()> {
    let mut errors = FieldErrors::default();
    if let Some(name) = display_name {
        validate::name(&mut errors, "displayName", name, validate::GROUP_NAME_MAX);
    }
    if external_id.is_some_and(|e| e.chars().count() > validate::LOGIN_MAX) {
        errors.add("externalId", format!("must be at most {} characters long", validate::LOGIN_MAX));
    }
    errors.into_result()
}

fn find(conn: &mut DbConnection, enterprise_id: &str, id: &str) -> Result<IdpGroup> {
    idp_groups::table
        .filter(idp_groups::enterprise_id.eq(enterprise_id))
        .filter(idp_groups::id.eq(id))
        .select(IdpGroup::as_select())
        .first(conn)
        .optional()?
        .ok_or(DirectoryError::NotFound("group"))
}

/// Refuses ids that are not users the IdP may see, naming a few of them.
fn check_members(conn: &mut DbConnection, enterprise_id: &str, ids: &[String], ids_json: &str) -> Result<()> {
    let mut distinct: Vec<&String> = ids.iter().collect();
    distinct.sort();
    distinct.dedup();
    const FOUND: &str = "SELECT COUNT(*) AS n FROM users WHERE enterprise_id = $1 AND origin <> 'local' \
                         AND id IN (IDS($2))";
    let found = count(conn, FOUND, &[enterprise_id, ids_json])?;
    if found == distinct.len() as i64 {
        return Ok(());
    }
    let known: Vec<String> = users::table
        .filter(users::enterprise_id.eq(enterprise_id))
        .filter(users::origin.ne(crate::user::Origin::Local.as_str()))
        .filter(users::id.eq_any(distinct.iter().take(10_000)))
        .select(users::id)
        .load(conn)?;
    let missing: Vec<&str> = distinct.iter().filter(|id| !known.contains(id)).take(5).map(|id| id.as_str()).collect();
    Err(FieldErrors::single("members", format!("no such user: {}", missing.join(", "))))
}

/// Adds members (set-based); returns the new ones.
fn add_members(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    enterprise_id: &str,
    group_id: &str,
    ids: &[String],
) -> Result<Vec<String>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let json = ids_json(ids)?;
    /// Group `$1`, enterprise `$2`, user ids `$3`, now `$4`.
    const ADD: &str = "INSERT INTO idp_group_members (group_id, user_id, created_at) \
                       SELECT $1, u.id, $4 FROM users u \
                       WHERE u.enterprise_id = $2 AND u.origin <> 'local' AND u.id IN (IDS($3)) \
                       ON CONFLICT DO NOTHING RETURNING user_id AS value";
    let added = returning(conn, ADD, Some(now), &[group_id, enterprise_id, &json])?;
    // Every id was a new member: all were users. Otherwise some were members already, or no
    // users at all: the check tells which, and a stranger rolls the whole change back.
    if added.len() < ids.len() {
        check_members(conn, enterprise_id, ids, &json)?;
    }
    Ok(added)
}

/// Removes members (set-based); returns the ones that were there.
fn remove_members(conn: &mut DbConnection, group_id: &str, ids: &[String]) -> Result<Vec<String>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let json = ids_json(ids)?;
    const REMOVE: &str =
        "DELETE FROM idp_group_members WHERE group_id = $1 AND user_id IN (IDS($2)) RETURNING user_id AS value";
    returning(conn, REMOVE, None, &[group_id, &json])
}

/// Makes the members exactly `ids`; returns (added, removed).
fn replace_members(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    enterprise_id: &str,
    group_id: &str,
    ids: &[String],
) -> Result<(Vec<String>, Vec<String>)> {
    // Strangers in `ids` are refused by `add_members`, which rolls the removals back with them.
    let json = ids_json(ids)?;
    const KEEP_ONLY: &str = "DELETE FROM idp_group_members WHERE group_id = $1 AND user_id NOT IN (IDS($2)) \
                             RETURNING user_id AS value";
    let removed = returning(conn, KEEP_ONLY, None, &[group_id, &json])?;
    let added = add_members(conn, now, enterprise_id, group_id, ids)?;
    Ok((added, removed))
}

fn subject(group: &IdpGroup) -> Subject {
    Subject::new(Some(&group.enterprise_id), "idp_group", &group.id, &group.display_name)
}

impl IdpGroup {
    fn event(&self, kind: &'static str) -> Event {
        Event::group(
            kind,
            &self.enterprise_id,
            &self.id,
            json!({ "group": {
                "id": self.id, "display_name": self.display_name, "external_id": self.external_id,
                "origin": self.origin.as_str(),
            }}),
        )
    }
}

/// The events a change of `group`'s members writes: the ids that joined and left, and one
/// `organization.membership_changed` per organization the group feeds.
fn member_change_events(
    conn: &mut DbConnection,
    group: &IdpGroup,
    added: &[String],
    removed: &[String],
) -> Result<Vec<Event>> {
    let (e, id, name) = (&group.enterprise_id, &group.id, &group.display_name);
    let mut events = event::member_events(event::GROUP_MEMBERS_ADDED, e, id, name, added);
    events.extend(event::member_events(event::GROUP_MEMBERS_REMOVED, e, id, name, removed));
    if !added.is_empty() || !removed.is_empty() {
        let change = json!({ "kind": "members", "members_added": added.len(), "members_removed": removed.len() });
        events.extend(event::membership_changed(conn, e, id, name, change)?);
    }
    Ok(events)
}

impl Directory {
    /// Creates a group the IdP pushes, with its first members.
    pub fn scim_create_group(&self, ctx: &Ctx<'_>, new: &NewIdpGroup) -> Result<IdpGroup> {
        validate_names(Some(&new.display_name), new.external_id.as_deref())?;
        self.audited(ctx, "scim.group.create", |conn, now| {
            let enterprise_id = scim_enterprise(ctx)?;
            // A group first seen at JIT sign-in is taken over: it keeps its id and the links to
            // the org groups named like it; the IdP's members replace the ones sign-in recorded.
            let seen: Option<IdpGroup> = idp_groups::table
                .filter(idp_groups::enterprise_id.eq(enterprise_id))
                .filter(idp_groups::display_name.eq(&new.display_name))
                .filter(idp_groups::origin.eq(GroupOrigin::Jit.as_str()))
                .select(IdpGroup::as_select())
                .first(conn)
                .optional()?;
            if let Some(jit) = seen {
                diesel::update(idp_groups::table.filter(idp_groups::id.eq(&jit.id)))
                    .set((
                        idp_groups::origin.eq(GroupOrigin::Scim.as_str()),
                        idp_groups::external_id.eq(&new.external_id),
                        idp_groups::version.eq(idp_groups::version + 1),
                        idp_groups::updated_at.eq(now),
                    ))
                    .execute(conn)?;
                let (added, removed) = replace_members(conn, now, enterprise_id, &jit.id, &new.members)?;
                let group = IdpGroup {
                    origin: GroupOrigin::Scim,
                    external_id: new.external_id.clone(),
                    version: jit.version + 1,
                    updated_at: now,
                    ..jit
                };
                let events = member_change_events(conn, &group, &added, &removed)?;
                let subject = subject(&group)
                    .with_details(json!({
                        "adopted": true, "members_added": added.len(), "members_removed": removed.len(),
                    }))
                    .emits(group.event(event::GROUP_UPDATED))
                    .emits_all(events);
                return Ok((group, subject));
            }
            let group = IdpGroup {
                id: new_id(),
                enterprise_id: enterprise_id.to_owned(),
                display_name: new.display_name.clone(),
                external_id: new.external_id.clone(),
                origin: GroupOrigin::Scim,
                version: 1,
                created_at: now,
                updated_at: now,
            };
            diesel::insert_into(idp_groups::table)
                .values((
                    idp_groups::id.eq(&group.id),
                    idp_groups::enterprise_id.eq(&group.enterprise_id),
                    idp_groups::display_name.eq(&group.display_name),
                    idp_groups::external_id.eq(&group.external_id),
                    idp_groups::origin.eq(group.origin.as_str()),
                    idp_groups::version.eq(1),
                    idp_groups::created_at.eq(now),
                    idp_groups::updated_at.eq(now),
                ))
                .execute(conn)
                .map_err(conflict_on_unique(TAKEN))?;
            let added = add_members(conn, now, enterprise_id, &group.id, &new.members)?;
            let events = member_change_events(conn, &group, &added, &[])?;
            let subject = subject(&group)
                .with_details(json!({ "members": added.len() }))
                .emits(group.event(event::GROUP_CREATED))
                .emits_all(events);
            Ok((group, subject))
        })
    }

    /// One group.
    pub fn scim_group(&self, ctx: &Ctx<'_>, id: &str) -> Result<IdpGroup> {
        let enterprise_id = scim_enterprise(ctx)?;
        let mut conn = self.conn()?;
        find(&mut conn, enterprise_id, id)
    }

    /// A page of groups in creation order, narrowed by `key`; with the number of all that match
    /// `key`.
    pub fn scim_groups(
        &self,
        ctx: &Ctx<'_>,
        key: Option<&GroupKey>,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<IdpGroup>, i64)> {
        let enterprise_id = scim_enterprise(ctx)?;
        let narrowed = || {
            let q = idp_groups::table.filter(idp_groups::enterprise_id.eq(enterprise_id.to_owned())).into_boxed();
            match key {
                None => q,
                Some(GroupKey::Id(id)) => q.filter(idp_groups::id.eq(id.clone())),
                Some(GroupKey::DisplayName(name)) => q.filter(idp_groups::display_name.eq(name.clone())),
                Some(GroupKey::ExternalId(e)) => q.filter(idp_groups::external_id.eq(e.clone())),
            }
        };
        let mut conn = self.conn()?;
        let rows = narrowed()
            .select(IdpGroup::as_select())
            .order(idp_groups::id.asc())
            .offset(offset.max(0))
            .limit(limit.clamp(0, super::MAX_PAGE))
            .load(&mut conn)?;
        let total = if offset == 0 && (rows.len() as i64) < limit {
            rows.len() as i64
        } else {
            narrowed().count().get_result(&mut conn)?
        };
        Ok((rows, total))
    }

    /// The members of each of `group_ids`: (group id, user id, login), by login.
    pub fn scim_group_members(&self, ctx: &Ctx<'_>, group_ids: &[&str]) -> Result<Vec<(String, String, String)>> {
        let enterprise_id = scim_enterprise(ctx)?;
        let mut conn = self.conn()?;
        Ok(idp_group_members::table
            .inner_join(idp_groups::table)
            .inner_join(users::table)
            .filter(idp_groups::enterprise_id.eq(enterprise_id))
            .filter(idp_group_members::group_id.eq_any(group_ids))
            .select((idp_group_members::group_id, users::id, users::login))
            .order(users::login_key.asc())
            .load(&mut conn)?)
    }

    /// Applies `changes` to a group in one transaction. The version is bumped first, so
    /// concurrent changes to one group queue behind each other instead of losing updates.
    pub fn scim_change_group(
        &self,
        ctx: &Ctx<'_>,
        id: &str,
        changes: &GroupChanges,
        expected_version: Option<i64>,
    ) -> Result<IdpGroup> {
        validate_names(changes.display_name.as_deref(), changes.external_id.as_ref().and_then(Option::as_deref))?;
        self.audited(ctx, "scim.group.update", |conn, now| {
            let enterprise_id = scim_enterprise(ctx)?;
            let bumped = diesel::update(
                idp_groups::table.filter(idp_groups::enterprise_id.eq(enterprise_id)).filter(idp_groups::id.eq(id)),
            )
            .set((
                // A group sign-in recorded becomes the IdP's as soon as SCIM changes it.
                idp_groups::origin.eq(GroupOrigin::Scim.as_str()),
                idp_groups::version.eq(idp_groups::version + 1),
                idp_groups::updated_at.eq(now),
            ))
            .execute(conn)?;
            if bumped != 1 {
                return Err(DirectoryError::NotFound("group"));
            }
            let mut group = find(conn, enterprise_id, id)?;
            check_version("group", expected_version.map(|v| v + 1), group.version)?;
            let previous_name = group.display_name.clone();
            if let Some(name) = &changes.display_name {
                group.display_name = name.clone();
            }
            if let Some(external_id) = &changes.external_id {
                group.external_id = external_id.clone();
            }
            if changes.display_name.is_some() || changes.external_id.is_some() {
                diesel::update(idp_groups::table.filter(idp_groups::id.eq(id)))
                    .set((
                        idp_groups::display_name.eq(&group.display_name),
                        idp_groups::external_id.eq(&group.external_id),
                    ))
                    .execute(conn)
                    .map_err(conflict_on_unique(TAKEN))?;
            }
            // Who joined and who left over the whole request: a member removed and added back
            // again is neither.
            let (mut added, mut removed): (BTreeSet<String>, BTreeSet<String>) = Default::default();
            for change in &changes.members {
                let (a, r) = match change {
                    MemberChange::Add(ids) => (add_members(conn, now, enterprise_id, id, ids)?, Vec::new()),
                    MemberChange::Remove(ids) => (Vec::new(), remove_members(conn, id, ids)?),
                    MemberChange::RemoveAll => {
                        const ALL: &str =
                            "DELETE FROM idp_group_members WHERE group_id = $1 RETURNING user_id AS value";
                        (Vec::new(), returning(conn, ALL, None, &[id])?)
                    }
                    MemberChange::Replace(ids) => {
                        let (a, r) = replace_members(conn, now, enterprise_id, id, ids)?;
                        (a, r)
                    }
                };
                for u in r {
                    if !added.remove(&u) {
                        removed.insert(u);
                    }
                }
                for u in a {
                    if !removed.remove(&u) {
                        added.insert(u);
                    }
                }
            }
            let (added, removed): (Vec<String>, Vec<String>) =
                (added.into_iter().collect(), removed.into_iter().collect());
            let mut details = json!({ "members_added": added.len(), "members_removed": removed.len() });
            if previous_name != group.display_name {
                // Org groups created for this group's mappings follow the new name.
                let clashes = crate::mapping::follow_rename(conn, now, id, &group.display_name)?;
                self.audit_rename_clashes(conn, now, ctx, enterprise_id, &group.display_name, &clashes)?;
                details["previous_name"] = previous_name.into();
                if !clashes.is_empty() {
                    details["rename_clashes"] = clashes.into();
                }
            }
            let mut events = Vec::new();
            if changes.display_name.is_some() || changes.external_id.is_some() {
                events.push(group.event(event::GROUP_UPDATED));
            }
            events.extend(member_change_events(conn, &group, &added, &removed)?);
            let subject = subject(&group).with_details(details).emits_all(events);
            Ok((group, subject))
        })
    }

    /// Deletes a group and its memberships.
    pub fn scim_delete_group(&self, ctx: &Ctx<'_>, id: &str, expected_version: Option<i64>) -> Result<()> {
        self.audited(ctx, "scim.group.delete", |conn, _now| {
            let enterprise_id = scim_enterprise(ctx)?;
            let group = find(conn, enterprise_id, id)?;
            check_version("group", expected_version, group.version)?;
            // The organizations it fed lose its members: read them before the links go.
            let change = json!({ "kind": "group_deleted" });
            let fed = event::membership_changed(conn, enterprise_id, id, &group.display_name, change)?;
            diesel::delete(idp_groups::table.filter(idp_groups::id.eq(id))).execute(conn)?;
            Ok(((), subject(&group).emits(group.event(event::GROUP_DELETED)).emits_all(fed)))
        })
    }
}
