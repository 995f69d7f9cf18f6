//! Organizations: the units of an enterprise that people belong to. Each is created with its
//! built-in `Members` group.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::access::Ctx;
use crate::audit::Subject;
use crate::db::DbConnection;
use crate::enterprise::Enterprise;
use crate::error::{DirectoryError, FieldErrors, Result, conflict_on_unique};
use crate::group::{self, MEMBERS_GROUP};
use crate::page::{Page, PageRequest};
use crate::schema::organizations;
use crate::secret::new_id;
use crate::{Directory, validate};

/// An organization of an enterprise.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Serialize)]
#[diesel(table_name = organizations)]
pub struct Organization {
    pub id: crate::ids::OrganizationId,
    pub enterprise_id: crate::ids::EnterpriseId,
    pub key: String,
    pub name: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl Organization {
    /// The event that tells a host of this organization.
    pub(crate) fn event(&self, kind: &'static str) -> crate::event::Event {
        crate::event::Event::organization(
            kind,
            &self.enterprise_id,
            &self.id,
            serde_json::json!({ "organization": { "id": self.id, "key": self.key, "name": self.name } }),
        )
    }
}

#[derive(Debug, Clone)]
pub struct NewOrganization {
    pub key: String,
    pub name: String,
}

/// Someone in an organization: in at least one of its groups, by hand or through the IdP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrganizationMember {
    pub user_id: String,
    pub login: String,
    pub name: String,
    pub email: Option<String>,
    pub active: bool,
    /// (group name, `local` or `sso`), by group name.
    pub groups: Vec<(String, String)>,
}

/// Changes to an organization. Its key is fixed once created.
#[derive(Debug, Clone, Default)]
pub struct OrganizationChanges {
    pub name: Option<String>,
}

impl Directory {
    /// Organization `org_key` of enterprise `enterprise_key`, if `ctx` may see it: enterprise
    /// admins see all of them, org admins only theirs.
    pub(crate) fn visible_organization(
        &self,
        conn: &mut DbConnection,
        ctx: &Ctx<'_>,
        enterprise_key: &str,
        org_key: &str,
    ) -> Result<(Enterprise, Organization)> {
        let enterprise = self.visible_enterprise(conn, ctx, enterprise_key)?;
        let org = organizations::table
            .filter(organizations::enterprise_id.eq(&enterprise.id))
            .filter(organizations::key.eq(org_key))
            .select(Organization::as_select())
            .first(conn)
            .optional()?;
        match org {
            Some(o) if ctx.actor.can_administer_organization(&enterprise.id, &o.id) => Ok((enterprise, o)),
            _ => Err(DirectoryError::NotFound("organization")),
        }
    }

    /// Creates an organization with its `Members` group (enterprise admins).
    pub fn create_organization(
        &self,
        ctx: &Ctx<'_>,
        enterprise_key: &str,
        input: NewOrganization,
    ) -> Result<Organization> {
        self.audited_in(ctx, "organization.create", enterprise_key, |conn, now| {
            let enterprise = self.visible_enterprise(conn, ctx, enterprise_key)?;
            ctx.require_enterprise_admin(&enterprise.id)?;
            let name = input.name.trim().to_owned();
            let mut errors = FieldErrors::default();
            validate::key(&mut errors, "key", &input.key);
            validate::name(&mut errors, "name", &name, validate::NAME_MAX);
            errors.into_result()?;
            let org = Organization {
                id: new_id().into(),
                enterprise_id: enterprise.id.clone(),
                key: input.key.clone(),
                name,
                created_at: now,
                updated_at: now,
            };
            diesel::insert_into(organizations::table)
                .values((
                    organizations::id.eq(&org.id),
                    organizations::enterprise_id.eq(&org.enterprise_id),
                    organizations::key.eq(&org.key),
                    organizations::name.eq(&org.name),
                    organizations::created_at.eq(now),
                    organizations::updated_at.eq(now),
                ))
                .execute(conn)
                .map_err(conflict_on_unique("an organization with this key already exists in this enterprise"))?;
            let members = group::insert_group(conn, now, &org, MEMBERS_GROUP, "Everyone in the organization", true)?;
            diesel::insert_into(crate::schema::org_group_permissions::table)
                .values((
                    crate::schema::org_group_permissions::group_id.eq(&members.id),
                    crate::schema::org_group_permissions::permission.eq(crate::permission::Permission::Browse.as_str()),
                ))
                .execute(conn)?;
            let subject = Subject::new(Some(&enterprise.id), "organization", &org.id, &org.key)
                .emits(org.event(crate::event::ORGANIZATION_CREATED));
            Ok((org, subject))
        })
    }

    /// Organizations of an enterprise that `ctx` may see, ordered by key.
    pub fn list_organizations(
        &self,
        ctx: &Ctx<'_>,
        enterprise_key: &str,
        page: &PageRequest,
    ) -> Result<Page<Organization>> {
        let mut conn = self.conn()?;
        let enterprise = self.visible_enterprise(&mut conn, ctx, enterprise_key)?;
        let mut query = organizations::table
            .filter(organizations::enterprise_id.eq(enterprise.id.clone()))
            .select(Organization::as_select())
            .order(organizations::key.asc())
            .limit(page.fetch())
            .into_boxed();
        if !ctx.actor.can_administer_enterprise(&enterprise.id) {
            let own: Vec<String> = ctx.actor.administered_organizations().into_iter().map(str::to_owned).collect();
            query = query.filter(organizations::id.eq_any(own));
        }
        if let Some(after) = &page.after {
            query = query.filter(organizations::key.gt(after.clone()));
        }
        let rows = query.load(&mut conn)?;
        Ok(Page::from_rows(rows, page, |o| o.key.clone()))
    }

    /// The people in an organization, by login (its admins). Org membership follows group
    /// membership: anyone in one of its groups is in it, whether added by an admin or fed by
    /// a mapped IdP group; there is no membership of the organization apart from its groups.
    pub fn list_organization_members(
        &self,
        ctx: &Ctx<'_>,
        enterprise_key: &str,
        org_key: &str,
        page: &PageRequest,
    ) -> Result<Page<OrganizationMember>> {
        use crate::schema::{idp_group_members, org_group_members, org_groups, users};
        let mut conn = self.conn()?;
        let (enterprise, org) = self.visible_organization(&mut conn, ctx, enterprise_key, org_key)?;
        let in_groups = org_group_members::table
            .inner_join(org_groups::table)
            .filter(org_groups::organization_id.eq(org.id.clone()))
            .select(org_group_members::user_id);
        let fed = org_groups::table
            .inner_join(
                idp_group_members::table.on(idp_group_members::group_id.nullable().eq(org_groups::idp_group_id)),
            )
            .filter(org_groups::organization_id.eq(org.id.clone()))
            .select(idp_group_members::user_id);
        let mut query = users::table
            .filter(users::enterprise_id.eq(enterprise.id.clone()))
            .filter(users::id.eq_any(in_groups).or(users::id.eq_any(fed)))
            .select((users::login_key, users::id, users::login, users::name, users::email, users::active))
            .order(users::login_key.asc())
            .limit(page.fetch())
            .into_boxed();
        if let Some(after) = &page.after {
            query = query.filter(users::login_key.gt(after.clone()));
        }
        type Row = (String, String, String, String, Option<String>, bool);
        let rows: Vec<Row> = query.load(&mut conn)?;
        let page = Page::from_rows(rows, page, |r| r.0.clone());
        let ids: Vec<&str> = page.items.iter().map(|r| r.1.as_str()).collect();
        // (user id, group name, source)
        let mut groups: Vec<(String, String, String)> = org_group_members::table
            .inner_join(org_groups::table)
            .filter(org_groups::organization_id.eq(&org.id))
            .filter(org_group_members::user_id.eq_any(&ids))
            .select((org_group_members::user_id, org_groups::name, org_group_members::source))
            .load(&mut conn)?;
        let derived: Vec<(String, String)> = org_groups::table
            .inner_join(
                idp_group_members::table.on(idp_group_members::group_id.nullable().eq(org_groups::idp_group_id)),
            )
            .filter(org_groups::organization_id.eq(&org.id))
            .filter(idp_group_members::user_id.eq_any(&ids))
            .select((idp_group_members::user_id, org_groups::name))
            .load(&mut conn)?;
        for (user_id, group) in derived {
            if !groups.iter().any(|(u, g, s)| *u == user_id && *g == group && s == "sso") {
                groups.push((user_id, group, "sso".to_owned()));
            }
        }
        groups.sort();
        Ok(page.map(|(_, user_id, login, name, email, active)| OrganizationMember {
            groups: groups
                .iter()
                .filter(|(u, ..)| *u == user_id)
                .map(|(_, group, source)| (group.clone(), source.clone()))
                .collect(),
            user_id,
            login,
            name,
            email,
            active,
        }))
    }

    pub fn get_organization(&self, ctx: &Ctx<'_>, enterprise_key: &str, org_key: &str) -> Result<Organization> {
        let mut conn = self.conn()?;
        Ok(self.visible_organization(&mut conn, ctx, enterprise_key, org_key)?.1)
    }

    /// Renames an organization (its admins).
    pub fn update_organization(
        &self,
        ctx: &Ctx<'_>,
        enterprise_key: &str,
        org_key: &str,
        changes: OrganizationChanges,
    ) -> Result<Organization> {
        self.audited_in(ctx, "organization.update", enterprise_key, |conn, now| {
            let (enterprise, org) = self.visible_organization(conn, ctx, enterprise_key, org_key)?;
            ctx.require_org_admin(&enterprise.id, &org.id)?;
            let mut errors = FieldErrors::default();
            let name = changes.name.as_ref().map(|n| n.trim().to_owned());
            if let Some(name) = &name {
                validate::name(&mut errors, "name", name, validate::NAME_MAX);
            }
            errors.into_result()?;
            let new_name = name.unwrap_or_else(|| org.name.clone());
            diesel::update(organizations::table.filter(organizations::id.eq(&org.id)))
                .set((organizations::name.eq(&new_name), organizations::updated_at.eq(now)))
                .execute(conn)?;
            let subject = Subject::new(Some(&enterprise.id), "organization", &org.id, &org.key)
                .with_details(serde_json::json!({"name": {"from": org.name, "to": new_name}}));
            let updated = Organization { name: new_name, updated_at: now, ..org };
            let subject = subject.emits(updated.event(crate::event::ORGANIZATION_UPDATED));
            Ok((updated, subject))
        })
    }

    /// Deletes an organization with its groups and memberships (enterprise admins).
    pub fn delete_organization(&self, ctx: &Ctx<'_>, enterprise_key: &str, org_key: &str) -> Result<()> {
        self.audited_in(ctx, "organization.delete", enterprise_key, |conn, _now| {
            let (enterprise, org) = self.visible_organization(conn, ctx, enterprise_key, org_key)?;
            ctx.require_enterprise_admin(&enterprise.id)?;
            diesel::delete(organizations::table.filter(organizations::id.eq(&org.id))).execute(conn)?;
            let subject = Subject::new(Some(&enterprise.id), "organization", &org.id, &org.key)
                .emits(org.event(crate::event::ORGANIZATION_DELETED));
            Ok(((), subject))
        })
    }
}
