//! Permissions: what an org group's members may do in its organization, from a fixed set, and a
//! user's effective access (organizations, org groups, permissions) in one answer, so that the
//! host product can authorize with one call.
//!
//! A user is in an organization when they are in any of its org groups, by hand (`local`) or
//! through an IdP group (`sso`, derived; see `mapping`). Their permissions in it are the union
//! of their groups' permissions and those of the organization's built-in `Members` group, which
//! stands for everyone in the organization (the IdP never feeds it; being in the organization
//! is what puts one in it).

use std::collections::{BTreeMap, BTreeSet};

use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::access::Ctx;
use crate::audit::Subject;
use crate::error::{FieldErrors, Result};
use crate::group::Membership;
use crate::schema::{org_group_members, org_group_permissions, org_groups, organizations};
use crate::{Directory, DirectoryError};

/// A permission an org group grants in its organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// Administer the organization (its groups, members and settings in the host product).
    Administer,
    /// Create projects in the organization.
    CreateProjects,
    /// See the organization and its projects.
    Browse,
}

impl Permission {
    pub const ALL: [Permission; 3] = [Permission::Administer, Permission::CreateProjects, Permission::Browse];

    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Administer => "administer",
            Permission::CreateProjects => "create_projects",
            Permission::Browse => "browse",
        }
    }

    pub fn parse(s: &str) -> Option<Permission> {
        Permission::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// How the console names it.
    pub fn label(self) -> &'static str {
        match self {
            Permission::Administer => "Administer the organization",
            Permission::CreateProjects => "Create projects",
            Permission::Browse => "Browse",
        }
    }
}

/// A user's access in one organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrganizationAccess {
    pub key: String,
    pub name: String,
    /// The user's org groups in this organization (by key), each with where the membership
    /// comes from.
    pub groups: Vec<crate::user::UserGroup>,
    pub permissions: Vec<Permission>,
}

fn parse_all(names: &[String]) -> Result<Vec<Permission>> {
    let mut out = Vec::new();
    for n in names {
        match Permission::parse(n) {
            Some(p) if !out.contains(&p) => out.push(p),
            Some(_) => {}
            None => {
                return Err(FieldErrors::single(
                    "permissions",
                    format!("`{n}` is not a permission (administer, create_projects, browse)"),
                ));
            }
        }
    }
    out.sort();
    Ok(out)
}

impl Directory {
    /// The permissions of one org group (its organization's admins).
    pub fn group_permissions(
        &self,
        ctx: &Ctx<'_>,
        enterprise_key: &str,
        org_key: &str,
        group_name: &str,
    ) -> Result<Vec<Permission>> {
        let mut conn = self.conn()?;
        let (_, org) = self.visible_organization(&mut conn, ctx, enterprise_key, org_key)?;
        let group_id: String = org_groups::table
            .filter(org_groups::organization_id.eq(&org.id))
            .filter(org_groups::name.eq(group_name))
            .select(org_groups::id)
            .first(&mut conn)
            .optional()?
            .ok_or(DirectoryError::NotFound("group"))?;
        let names: Vec<String> = org_group_permissions::table
            .filter(org_group_permissions::group_id.eq(&group_id))
            .select(org_group_permissions::permission)
            .load(&mut conn)?;
        let mut perms: Vec<Permission> = names.iter().filter_map(|n| Permission::parse(n)).collect();
        perms.sort();
        Ok(perms)
    }

    /// Sets exactly the permissions of one org group (its organization's admins).
    pub fn set_group_permissions(
        &self,
        ctx: &Ctx<'_>,
        enterprise_key: &str,
        org_key: &str,
        group_name: &str,
        permissions: &[String],
    ) -> Result<Vec<Permission>> {
        let wanted = parse_all(permissions)?;
        self.audited_in(ctx, "group.permissions.set", enterprise_key, |conn, _now| {
            let (enterprise, org) = self.visible_organization(conn, ctx, enterprise_key, org_key)?;
            ctx.require_org_admin(&enterprise.id, &org.id)?;
            let group_id: String = org_groups::table
                .filter(org_groups::organization_id.eq(&org.id))
                .filter(org_groups::name.eq(group_name))
                .select(org_groups::id)
                .first(conn)
                .optional()?
                .ok_or(DirectoryError::NotFound("group"))?;
            diesel::delete(org_group_permissions::table.filter(org_group_permissions::group_id.eq(&group_id)))
                .execute(conn)?;
            for p in &wanted {
                diesel::insert_into(org_group_permissions::table)
                    .values((org_group_permissions::group_id.eq(&group_id), org_group_permissions::permission.eq(p.as_str())))
                    .execute(conn)?;
            }
            let subject = Subject::new(Some(&enterprise.id), "group", &group_id, group_name).with_details(
                serde_json::json!({"organization": org.key, "permissions": wanted.iter().map(|p| p.as_str()).collect::<Vec<_>>()}),
            );
            Ok((wanted.clone(), subject))
        })
    }

    /// A user's organizations, org groups and effective permissions (the enterprise's admins).
    pub fn user_access(&self, ctx: &Ctx<'_>, enterprise_key: &str, login: &str) -> Result<Vec<OrganizationAccess>> {
        let mut conn = self.conn()?;
        let enterprise = self.visible_enterprise(&mut conn, ctx, enterprise_key)?;
        ctx.require_enterprise_admin(&enterprise.id)?;
        let user_id: String = crate::schema::users::table
            .filter(crate::schema::users::enterprise_id.eq(&enterprise.id))
            .filter(crate::schema::users::login_key.eq(crate::validate::login_key(login)))
            .select(crate::schema::users::id)
            .first(&mut conn)
            .optional()?
            .ok_or(DirectoryError::NotFound("user"))?;
        access_of(&mut conn, &enterprise.id, &user_id)
    }
}

/// A user's organizations, org groups and effective permissions, read inside the caller's
/// connection: the one computation behind the admin API's access answer and the claims the
/// host product receives.
pub(crate) fn access_of(
    conn: &mut crate::db::DbConnection,
    enterprise_id: &str,
    user_id: &str,
) -> Result<Vec<OrganizationAccess>> {
    let mut rows: Vec<Membership> = org_group_members::table
        .inner_join(org_groups::table.inner_join(organizations::table))
        .filter(org_group_members::user_id.eq(user_id))
        .filter(org_groups::enterprise_id.eq(enterprise_id))
        .select((
            org_group_members::user_id,
            org_groups::id,
            organizations::key,
            organizations::name,
            org_groups::name,
            org_group_members::source,
        ))
        .load(conn)?;
    rows.extend(crate::mapping::derived_groups_of(conn, enterprise_id, &[user_id])?);
    let group_ids: Vec<&str> = rows.iter().map(|r| r.org_group_id.as_str()).collect();
    let grants: Vec<(String, String)> = org_group_permissions::table
        .filter(org_group_permissions::group_id.eq_any(&group_ids))
        .select((org_group_permissions::group_id, org_group_permissions::permission))
        .load(conn)?;
    // Members' permissions hold for everyone in the organization.
    let org_keys: BTreeSet<&str> = rows.iter().map(|r| r.organization_key.as_str()).collect();
    let everyone: Vec<(String, String)> = org_group_permissions::table
        .inner_join(org_groups::table.inner_join(organizations::table))
        .filter(organizations::enterprise_id.eq(enterprise_id))
        .filter(organizations::key.eq_any(&org_keys))
        .filter(org_groups::builtin.eq(true))
        .select((organizations::key, org_group_permissions::permission))
        .load(conn)?;
    let mut by_org: BTreeMap<String, OrganizationAccess> = BTreeMap::new();
    for m in &rows {
        let entry = by_org.entry(m.organization_key.clone()).or_insert_with(|| OrganizationAccess {
            key: m.organization_key.clone(),
            name: m.organization_name.clone(),
            groups: Vec::new(),
            permissions: Vec::new(),
        });
        if !entry.groups.iter().any(|g| g.group == m.group_name && g.source == m.source) {
            entry.groups.push(crate::user::UserGroup {
                organization: m.organization_key.clone(),
                group: m.group_name.clone(),
                source: m.source,
            });
        }
        let granted = grants.iter().filter(|(g, _)| *g == m.org_group_id);
        let to_everyone = everyone.iter().filter(|(o, _)| *o == m.organization_key);
        for (_, p) in granted.chain(to_everyone) {
            if let Some(p) = Permission::parse(p).filter(|p| !entry.permissions.contains(p)) {
                entry.permissions.push(p);
            }
        }
    }
    Ok(by_org
        .into_values()
        .map(|mut o| {
            o.groups.sort();
            o.permissions.sort();
            o
        })
        .collect())
}
