//! Org groups and their memberships. Group names are unique per organization and compared
//! case-sensitively, because IdP group names are matched that way. Every membership says where
//! it came from: `sso` (fed by the IdP) or `local` (added by an admin).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::access::Ctx;
use crate::audit::Subject;
use crate::db::DbConnection;
use crate::error::{DirectoryError, FieldErrors, Result, conflict_on_unique};
use crate::organization::Organization;
use crate::page::{Page, PageRequest};
use crate::schema::{org_group_members, org_groups, users};
use crate::secret::new_id;
use crate::stored::stored_enum;
use crate::{Directory, validate};

/// The built-in group every organization has; IdP sync never touches it.
pub const MEMBERS_GROUP: &str = "Members";

stored_enum! {
    /// Where a membership comes from: added by an admin, or derived from the IdP's groups.
    pub enum MembershipSource {
        Local = "local",
        Sso = "sso",
    }
}

/// An org group a user is in, and how: the rows behind a user's groups and permissions.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub(crate) struct Membership {
    pub user_id: String,
    pub org_group_id: String,
    pub organization_key: String,
    pub organization_name: String,
    pub group_name: String,
    #[diesel(deserialize_as = String)]
    pub source: MembershipSource,
}

/// A group inside an organization.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Serialize)]
#[diesel(table_name = org_groups)]
pub struct OrgGroup {
    pub id: String,
    pub enterprise_id: crate::ids::EnterpriseId,
    pub organization_id: crate::ids::OrganizationId,
    pub name: String,
    pub description: String,
    pub builtin: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone)]
pub struct NewGroup {
    pub name: String,
    pub description: Option<String>,
}

/// One member of a group, as listed on the organization page.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Serialize)]
pub struct GroupMember {
    pub user_id: String,
    pub login: String,
    pub name: String,
    pub email: Option<String>,
    #[diesel(deserialize_as = String)]
    pub source: MembershipSource,
}

pub(crate) fn insert_group(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    org: &Organization,
    name: &str,
    description: &str,
    builtin: bool,
) -> Result<OrgGroup> {
    let group = OrgGroup {
        id: new_id(),
        enterprise_id: org.enterprise_id.clone(),
        organization_id: org.id.clone(),
        name: name.to_owned(),
        description: description.to_owned(),
        builtin,
        created_at: now,
        updated_at: now,
    };
    diesel::insert_into(org_groups::table)
        .values((
            org_groups::id.eq(&group.id),
            org_groups::enterprise_id.eq(&group.enterprise_id),
            org_groups::organization_id.eq(&group.organization_id),
            org_groups::name.eq(&group.name),
            org_groups::description.eq(&group.description),
            org_groups::builtin.eq(group.builtin),
            org_groups::created_at.eq(now),
            org_groups::updated_at.eq(now),
        ))
        .execute(conn)
        .map_err(conflict_on_unique("a group with this name already exists in this organization"))?;
    Ok(group)
}

/// Adds one membership; an existing one is left as it is, even when two requests race.
pub(crate) fn insert_membership(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    group_id: &str,
    user_id: &str,
    source: MembershipSource,
) -> Result<()> {
    use diesel::sql_types::{Text, Timestamp};
    // `ON CONFLICT` cannot be written through `MultiConnection`, and raw SQL placeholders differ.
    match conn {
        DbConnection::Postgresql(c) => diesel::sql_query(
            "INSERT INTO org_group_members (group_id, user_id, source, created_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        )
        .bind::<Text, _>(group_id)
        .bind::<Text, _>(user_id)
        .bind::<Text, _>(source.as_str())
        .bind::<Timestamp, _>(now)
        .execute(c)?,
        DbConnection::Sqlite(c) => diesel::sql_query(
            "INSERT INTO org_group_members (group_id, user_id, source, created_at) \
             VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
        )
        .bind::<Text, _>(group_id)
        .bind::<Text, _>(user_id)
        .bind::<Text, _>(source.as_str())
        .bind::<Timestamp, _>(now)
        .execute(c)?,
    };
    Ok(())
}

fn find_group(conn: &mut DbConnection, org: &Organization, name: &str) -> Result<OrgGroup> {
    org_groups::table
        .filter(org_groups::organization_id.eq(&org.id))
        .filter(org_groups::name.eq(name))
        .select(OrgGroup::as_select())
        .first(conn)
        .optional()?
        .ok_or(DirectoryError::NotFound("group"))
}

impl Directory {
    /// Creates a group in an organization (its admins).
    pub fn create_group(
        &self,
        ctx: &Ctx<'_>,
        enterprise_key: &str,
        org_key: &str,
        input: NewGroup,
    ) -> Result<OrgGroup> {
        self.audited_in(ctx, "group.create", enterprise_key, |conn, now| {
            let (enterprise, org) = self.visible_organization(conn, ctx, enterprise_key, org_key)?;
            ctx.require_org_admin(&enterprise.id, &org.id)?;
            let name = input.name.trim().to_owned();
            let description = input.description.unwrap_or_default().trim().to_owned();
            let mut errors = FieldErrors::default();
            validate::name(&mut errors, "name", &name, validate::GROUP_NAME_MAX);
            if description.chars().count() > validate::DESCRIPTION_MAX {
                errors.add("description", format!("must be at most {} characters long", validate::DESCRIPTION_MAX));
            }
            errors.into_result()?;
            let group = insert_group(conn, now, &org, &name, &description, false)?;
            if enterprise.provisioning_mode == crate::enterprise::ProvisioningMode::Jit {
                // In JIT mode org groups are linked by name to the IdP groups sign-in has seen.
                crate::mapping::link_by_name(
                    conn,
                    now,
                    &group.enterprise_id,
                    crate::mapping::NameLinks::OrgGroup(&group.id),
                )?;
            }
            let subject = Subject::new(Some(&enterprise.id), "group", &group.id, &group.name)
                .with_details(serde_json::json!({"organization": org.key}));
            Ok((group, subject))
        })
    }

    /// Groups of an organization, ordered by name.
    pub fn list_groups(
        &self,
        ctx: &Ctx<'_>,
        enterprise_key: &str,
        org_key: &str,
        page: &PageRequest,
    ) -> Result<Page<OrgGroup>> {
        let mut conn = self.conn()?;
        let (_, org) = self.visible_organization(&mut conn, ctx, enterprise_key, org_key)?;
        let mut query = org_groups::table
            .filter(org_groups::organization_id.eq(org.id.clone()))
            .select(OrgGroup::as_select())
            .order(org_groups::name.asc())
            .limit(page.fetch())
            .into_boxed();
        if let Some(after) = &page.after {
            query = query.filter(org_groups::name.gt(after.clone()));
        }
        let rows = query.load(&mut conn)?;
        Ok(Page::from_rows(rows, page, |g| g.name.clone()))
    }

    /// Members of one group, ordered by login.
    pub fn list_group_members(
        &self,
        ctx: &Ctx<'_>,
        enterprise_key: &str,
        org_key: &str,
        group_name: &str,
    ) -> Result<Vec<GroupMember>> {
        Ok(self.first_group_members(ctx, enterprise_key, org_key, group_name, None)?.0)
    }

    /// The first `limit` members of one group by login (all of them without a limit), and how
    /// many it has: a page showing many groups reads only what it shows of each.
    pub fn first_group_members(
        &self,
        ctx: &Ctx<'_>,
        enterprise_key: &str,
        org_key: &str,
        group_name: &str,
        limit: Option<usize>,
    ) -> Result<(Vec<GroupMember>, usize)> {
        use crate::schema::{idp_group_members, org_groups};
        let mut conn = self.conn()?;
        let (_, org) = self.visible_organization(&mut conn, ctx, enterprise_key, org_key)?;
        let group = find_group(&mut conn, &org, group_name)?;
        let limit_rows = limit.map(|n| i64::try_from(n).unwrap_or(i64::MAX));
        let query = org_group_members::table
            .inner_join(users::table)
            .filter(org_group_members::group_id.eq(&group.id))
            .filter(users::enterprise_id.eq(&org.enterprise_id))
            .select((users::id, users::login, users::name, users::email, org_group_members::source))
            .order((users::login_key.asc(), org_group_members::source.asc()))
            .into_boxed();
        let mut members: Vec<GroupMember> = match limit_rows {
            Some(n) => query.limit(n).load(&mut conn)?,
            None => query.load(&mut conn)?,
        };
        // Members through the mapped IdP group (a copied `sso` row from before stands for one).
        for derived in crate::mapping::derived_members_of(&mut conn, &group.id, limit_rows)? {
            if !members.iter().any(|m| m.user_id == derived.user_id && m.source == MembershipSource::Sso) {
                members.push(derived);
            }
        }
        members.sort_by(|a, b| (a.login.to_lowercase(), &a.source).cmp(&(b.login.to_lowercase(), &b.source)));
        let Some(n) = limit else {
            let total = members.len();
            return Ok((members, total));
        };
        members.truncate(n);
        let local: i64 = org_group_members::table
            .inner_join(users::table)
            .filter(org_group_members::group_id.eq(&group.id))
            .filter(users::enterprise_id.eq(&org.enterprise_id))
            .count()
            .get_result(&mut conn)?;
        let fed = idp_group_members::table
            .inner_join(org_groups::table.on(org_groups::idp_group_id.eq(idp_group_members::group_id.nullable())))
            .filter(org_groups::id.eq(&group.id))
            .select(idp_group_members::user_id);
        let copied: i64 = org_group_members::table
            .filter(org_group_members::group_id.eq(&group.id))
            .filter(org_group_members::source.eq(MembershipSource::Sso.as_str()))
            .filter(org_group_members::user_id.eq_any(fed))
            .count()
            .get_result(&mut conn)?;
        let derived = crate::mapping::derived_member_count(&mut conn, &group.id)?;
        let total = usize::try_from(local + derived - copied).unwrap_or(0);
        Ok((members, total))
    }

    /// Adds a user of the enterprise to a group by hand (a `local` membership). Adding someone
    /// already there changes nothing.
    pub fn add_group_member(
        &self,
        ctx: &Ctx<'_>,
        enterprise_key: &str,
        org_key: &str,
        group_name: &str,
        login: &str,
    ) -> Result<()> {
        self.audited_in(ctx, "group.member.add", enterprise_key, |conn, now| {
            let (enterprise, org) = self.visible_organization(conn, ctx, enterprise_key, org_key)?;
            ctx.require_org_admin(&enterprise.id, &org.id)?;
            let group = find_group(conn, &org, group_name)?;
            let user = crate::user::find_by_login(conn, &enterprise.id, login)?
                .ok_or_else(|| FieldErrors::single("login", "no user with this login in the enterprise"))?;
            insert_membership(conn, now, &group.id, &user.id, MembershipSource::Local)?;
            let change = serde_json::json!({ "kind": "member_added", "user_id": user.id });
            let subject = Subject::new(Some(&enterprise.id), "group", &group.id, &group.name)
                .with_details(serde_json::json!({"organization": org.key, "user": user.login}))
                .emits(crate::event::org_group_membership(&org, &group.id, &group.name, change));
            Ok(((), subject))
        })
    }

    /// Removes a `local` membership. `sso` memberships belong to the IdP and stay.
    pub fn remove_group_member(
        &self,
        ctx: &Ctx<'_>,
        enterprise_key: &str,
        org_key: &str,
        group_name: &str,
        login: &str,
    ) -> Result<()> {
        self.audited_in(ctx, "group.member.remove", enterprise_key, |conn, _now| {
            let (enterprise, org) = self.visible_organization(conn, ctx, enterprise_key, org_key)?;
            ctx.require_org_admin(&enterprise.id, &org.id)?;
            let group = find_group(conn, &org, group_name)?;
            let user =
                crate::user::find_by_login(conn, &enterprise.id, login)?.ok_or(DirectoryError::NotFound("user"))?;
            diesel::delete(
                org_group_members::table
                    .filter(org_group_members::group_id.eq(&group.id))
                    .filter(org_group_members::user_id.eq(&user.id))
                    .filter(org_group_members::source.eq(MembershipSource::Local.as_str())),
            )
            .execute(conn)?;
            let change = serde_json::json!({ "kind": "member_removed", "user_id": user.id });
            let subject = Subject::new(Some(&enterprise.id), "group", &group.id, &group.name)
                .with_details(serde_json::json!({"organization": org.key, "user": user.login}))
                .emits(crate::event::org_group_membership(&org, &group.id, &group.name, change));
            Ok(((), subject))
        })
    }
}
