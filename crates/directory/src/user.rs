//! Users: the people of an enterprise. A login is unique in its enterprise, compared without
//! regard to case; `origin` says who created the user (an admin, JIT sign-in or SCIM).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::access::Ctx;
use crate::audit::Subject;
use crate::db::DbConnection;
use crate::error::{FieldErrors, Result, conflict_on_unique};
use crate::page::{Page, PageRequest};
use crate::schema::{org_group_members, org_groups, organizations, users};
use crate::secret::new_id;
use crate::{Directory, validate};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    Local,
    Jit,
    Scim,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Local => "local",
            Origin::Jit => "jit",
            Origin::Scim => "scim",
        }
    }
}

/// A user of an enterprise. The password hash never leaves this crate.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Serialize)]
#[diesel(table_name = users)]
pub struct User {
    pub id: String,
    pub enterprise_id: String,
    pub login: String,
    pub email: Option<String>,
    pub name: String,
    pub external_id: Option<String>,
    pub origin: String,
    pub active: bool,
    pub last_sign_in_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// An org group a user is in, as shown beside the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserGroup {
    pub organization: String,
    pub group: String,
    pub source: String,
}

/// A user with their org groups.
#[derive(Debug, Clone, Serialize)]
pub struct UserWithGroups {
    #[serde(flatten)]
    pub user: User,
    pub groups: Vec<UserGroup>,
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub login: String,
    pub email: Option<String>,
    pub name: Option<String>,
}

pub(crate) fn find_by_login(conn: &mut DbConnection, enterprise_id: &str, login: &str) -> Result<Option<User>> {
    Ok(users::table
        .filter(users::enterprise_id.eq(enterprise_id))
        .filter(users::login_key.eq(validate::login_key(login)))
        .select(User::as_select())
        .first(conn)
        .optional()?)
}

/// Validates and inserts a `local` user.
pub(crate) fn insert_local_user(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    enterprise_id: &str,
    input: &NewUser,
) -> Result<User> {
    let login = input.login.trim().to_owned();
    let email = validate::optional(input.email.clone());
    let name = validate::optional(input.name.clone()).unwrap_or_default();
    let mut errors = FieldErrors::default();
    validate::login(&mut errors, "login", &login);
    if let Some(email) = &email {
        validate::email(&mut errors, "email", email);
    }
    if name.chars().count() > validate::NAME_MAX {
        errors.add("name", format!("must be at most {} characters long", validate::NAME_MAX));
    }
    errors.into_result()?;
    let user = User {
        id: new_id(),
        enterprise_id: enterprise_id.to_owned(),
        login: login.clone(),
        email,
        name,
        external_id: None,
        origin: Origin::Local.as_str().to_owned(),
        active: true,
        last_sign_in_at: None,
        created_at: now,
        updated_at: now,
    };
    diesel::insert_into(users::table)
        .values((
            users::id.eq(&user.id),
            users::enterprise_id.eq(&user.enterprise_id),
            users::login.eq(&user.login),
            users::login_key.eq(validate::login_key(&user.login)),
            users::email.eq(&user.email),
            users::name.eq(&user.name),
            users::origin.eq(&user.origin),
            users::active.eq(true),
            users::created_at.eq(now),
            users::updated_at.eq(now),
        ))
        .execute(conn)
        .map_err(conflict_on_unique("a user with this login already exists in this enterprise"))?;
    Ok(user)
}

impl Directory {
    /// Creates a local user (enterprise admins).
    pub fn create_local_user(&self, ctx: &Ctx<'_>, enterprise_key: &str, input: NewUser) -> Result<User> {
        self.audited(ctx, "user.create", |conn, now| {
            let enterprise = self.visible_enterprise(conn, ctx, enterprise_key)?;
            ctx.require_enterprise_admin(&enterprise.id)?;
            let user = insert_local_user(conn, now, &enterprise.id, &input)?;
            let subject = Subject::new(Some(&enterprise.id), "user", &user.id, &user.login);
            Ok((user, subject))
        })
    }

    /// Users of an enterprise with their org groups, ordered by login (enterprise admins).
    pub fn list_users(&self, ctx: &Ctx<'_>, enterprise_key: &str, page: &PageRequest) -> Result<Page<UserWithGroups>> {
        let mut conn = self.conn()?;
        let enterprise = self.visible_enterprise(&mut conn, ctx, enterprise_key)?;
        ctx.require_enterprise_admin(&enterprise.id)?;
        let mut query = users::table
            .filter(users::enterprise_id.eq(enterprise.id.clone()))
            .select((users::login_key, User::as_select()))
            .order(users::login_key.asc())
            .limit(page.fetch())
            .into_boxed();
        if let Some(after) = &page.after {
            query = query.filter(users::login_key.gt(after.clone()));
        }
        let rows: Vec<(String, User)> = query.load(&mut conn)?;
        let page = Page::from_rows(rows, page, |(key, _)| key.clone());
        let ids: Vec<&str> = page.items.iter().map(|(_, u)| u.id.as_str()).collect();
        let memberships: Vec<(String, String, String, String)> = org_group_members::table
            .inner_join(org_groups::table.inner_join(organizations::table))
            .filter(org_group_members::user_id.eq_any(&ids))
            .filter(org_groups::enterprise_id.eq(&enterprise.id))
            .select((org_group_members::user_id, organizations::key, org_groups::name, org_group_members::source))
            .order((organizations::key.asc(), org_groups::name.asc()))
            .load(&mut conn)?;
        Ok(page.map(|(_, user)| {
            let groups = memberships
                .iter()
                .filter(|(uid, ..)| *uid == user.id)
                .map(|(_, org, group, source)| UserGroup {
                    organization: org.clone(),
                    group: group.clone(),
                    source: source.clone(),
                })
                .collect();
            UserWithGroups { user, groups }
        }))
    }

    /// One user by login (enterprise admins).
    pub fn get_user(&self, ctx: &Ctx<'_>, enterprise_key: &str, login: &str) -> Result<User> {
        let mut conn = self.conn()?;
        let enterprise = self.visible_enterprise(&mut conn, ctx, enterprise_key)?;
        ctx.require_enterprise_admin(&enterprise.id)?;
        find_by_login(&mut conn, &enterprise.id, login)?.ok_or(crate::DirectoryError::NotFound("user"))
    }
}

impl Directory {
    /// The org groups of the signed-in user themself (empty for anyone else).
    pub fn own_groups(&self, ctx: &Ctx<'_>) -> Result<Vec<UserGroup>> {
        let crate::Actor::User { id, enterprise_id, .. } = ctx.actor else {
            return Ok(Vec::new());
        };
        let mut conn = self.conn()?;
        let rows: Vec<(String, String, String)> = org_group_members::table
            .inner_join(org_groups::table.inner_join(organizations::table))
            .filter(org_group_members::user_id.eq(id))
            .filter(org_groups::enterprise_id.eq(enterprise_id))
            .select((organizations::name, org_groups::name, org_group_members::source))
            .order((organizations::name.asc(), org_groups::name.asc()))
            .load(&mut conn)?;
        Ok(rows.into_iter().map(|(organization, group, source)| UserGroup { organization, group, source }).collect())
    }
}
