//! Role grants: enterprise admin of an enterprise, org admin of an organization. Operators are
//! a separate kind of account (see `operator`), not a grant.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::Directory;
use crate::access::Ctx;
use crate::audit::Subject;
use crate::db::DbConnection;
use crate::error::{DirectoryError, Result, conflict_on_unique};
use crate::schema::{organizations, role_grants, users};
use crate::secret::new_id;
use crate::setup::{self, SETUP_LINK_TTL_HOURS};
use crate::stored::stored_enum;
use crate::user::{NewUser, User, find_by_login, insert_local_user};

stored_enum! {
    /// A role a user holds: over a whole enterprise, or over one organization.
    pub enum Role {
        EnterpriseAdmin = "enterprise_admin",
        OrgAdmin = "org_admin",
    }
}

/// One role a user holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Grant {
    pub role: Role,
    pub enterprise_id: crate::ids::EnterpriseId,
    pub organization_id: Option<crate::ids::OrganizationId>,
}

/// The result of appointing an admin: the user, and a one-time link to set a password when
/// the user has none yet (shown once to whoever appointed them).
#[derive(Debug, Clone)]
pub struct Appointment {
    pub user: User,
    pub setup_token: Option<String>,
}

/// An admin as listed in the console.
#[derive(Debug, Clone, Serialize)]
pub struct AdminListing {
    pub login: String,
    pub name: String,
    pub email: Option<String>,
    pub role: Role,
    pub organization_key: Option<String>,
    pub granted_at: NaiveDateTime,
}

/// login, name, email, role, organization id, granted at.
type AdminRow = (String, String, Option<String>, String, Option<String>, NaiveDateTime);

pub(crate) fn grants_of(conn: &mut DbConnection, user_id: &str) -> Result<Vec<Grant>> {
    let rows: Vec<(String, String, Option<String>)> = role_grants::table
        .filter(role_grants::user_id.eq(user_id))
        .select((role_grants::role, role_grants::enterprise_id, role_grants::organization_id))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(role, enterprise_id, organization_id)| {
            Role::parse(&role).map(|role| Grant {
                role,
                enterprise_id: enterprise_id.into(),
                organization_id: organization_id.map(Into::into),
            })
        })
        .collect())
}

impl Directory {
    fn appoint(
        &self,
        conn: &mut DbConnection,
        now: NaiveDateTime,
        enterprise_id: &str,
        organization_id: Option<&str>,
        role: Role,
        person: &NewUser,
    ) -> Result<Appointment> {
        let user = match find_by_login(conn, enterprise_id, &person.login)? {
            Some(u) => u,
            None => insert_local_user(conn, now, enterprise_id, person)?,
        };
        if !user.active {
            return Err(DirectoryError::Conflict("this user is deactivated".into()));
        }
        let mut same = role_grants::table
            .filter(role_grants::user_id.eq(&user.id))
            .filter(role_grants::role.eq(role.as_str()))
            .into_boxed();
        same = match organization_id {
            Some(o) => same.filter(role_grants::organization_id.eq(o.to_owned())),
            None => same.filter(role_grants::organization_id.is_null()),
        };
        let exists: i64 = same.count().get_result(conn)?;
        if exists > 0 {
            return Err(DirectoryError::Conflict(format!("{} already has this role", user.login)));
        }
        diesel::insert_into(role_grants::table)
            .values((
                role_grants::id.eq(new_id()),
                role_grants::user_id.eq(&user.id),
                role_grants::enterprise_id.eq(enterprise_id),
                role_grants::organization_id.eq(organization_id),
                role_grants::role.eq(role.as_str()),
                role_grants::created_at.eq(now),
            ))
            .execute(conn)
            .map_err(conflict_on_unique("this user already has this role"))?;
        let has_password: Option<Option<String>> =
            users::table.filter(users::id.eq(&user.id)).select(users::password_hash).first(conn).optional()?;
        let setup_token = match has_password.flatten() {
            Some(_) => None,
            None if user.origin == crate::user::Origin::Local => Some(setup::issue_password_link(
                conn,
                now,
                setup::Account::User(&user.id),
                chrono::Duration::hours(SETUP_LINK_TTL_HOURS),
            )?),
            // Users from the IdP sign in through it; they need no password.
            None => None,
        };
        Ok(Appointment { user, setup_token })
    }

    /// Makes a user (created as a local user if unknown) an admin of the enterprise.
    pub fn appoint_enterprise_admin(
        &self,
        ctx: &Ctx<'_>,
        enterprise_key: &str,
        person: NewUser,
    ) -> Result<Appointment> {
        self.audited_in(ctx, "role.enterprise_admin.grant", enterprise_key, |conn, now| {
            let enterprise = self.visible_enterprise(conn, ctx, enterprise_key)?;
            ctx.require_enterprise_admin(&enterprise.id)?;
            let appointment = self.appoint(conn, now, &enterprise.id, None, Role::EnterpriseAdmin, &person)?;
            let subject = Subject::new(Some(&enterprise.id), "user", &appointment.user.id, &appointment.user.login)
                .with_details(serde_json::json!({"role": "enterprise_admin"}));
            Ok((appointment, subject))
        })
    }

    /// Makes a user (created as a local user if unknown) an admin of one organization.
    pub fn appoint_org_admin(
        &self,
        ctx: &Ctx<'_>,
        enterprise_key: &str,
        org_key: &str,
        person: NewUser,
    ) -> Result<Appointment> {
        self.audited_in(ctx, "role.org_admin.grant", enterprise_key, |conn, now| {
            let (enterprise, org) = self.visible_organization(conn, ctx, enterprise_key, org_key)?;
            ctx.require_enterprise_admin(&enterprise.id)?;
            let appointment = self.appoint(conn, now, &enterprise.id, Some(&org.id), Role::OrgAdmin, &person)?;
            let subject = Subject::new(Some(&enterprise.id), "user", &appointment.user.id, &appointment.user.login)
                .with_details(serde_json::json!({"role": "org_admin", "organization": org.key}));
            Ok((appointment, subject))
        })
    }

    /// Enterprise admins and org admins of an enterprise (enterprise admins see all; org admins
    /// see the admins of their organizations).
    pub fn list_admins(&self, ctx: &Ctx<'_>, enterprise_key: &str) -> Result<Vec<AdminListing>> {
        let mut conn = self.conn()?;
        let enterprise = self.visible_enterprise(&mut conn, ctx, enterprise_key)?;
        let rows: Vec<AdminRow> = role_grants::table
            .inner_join(users::table)
            .left_join(organizations::table.on(role_grants::organization_id.eq(organizations::id.nullable())))
            .filter(role_grants::enterprise_id.eq(&enterprise.id))
            .select((
                users::login,
                users::name,
                users::email,
                role_grants::role,
                organizations::id.nullable(),
                role_grants::created_at,
            ))
            .order((role_grants::role.asc(), users::login_key.asc()))
            .load(&mut conn)?;
        let org_keys: Vec<(String, String)> = organizations::table
            .filter(organizations::enterprise_id.eq(&enterprise.id))
            .select((organizations::id, organizations::key))
            .load(&mut conn)?;
        Ok(rows
            .into_iter()
            .filter(|(.., org_id, _)| match org_id {
                None => true,
                Some(o) => ctx.actor.can_administer_organization(&enterprise.id, o),
            })
            .filter_map(|(login, name, email, role, org_id, granted_at)| {
                let organization_key =
                    org_id.and_then(|id| org_keys.iter().find(|(oid, _)| *oid == id).map(|(_, k)| k.clone()));
                Role::parse(&role).map(|role| AdminListing { login, name, email, role, organization_key, granted_at })
            })
            .collect())
    }
}
