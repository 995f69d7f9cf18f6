//! Users: the people of an enterprise. A login is unique in its enterprise, compared without
//! regard to case; `origin` says who created the user (an admin, JIT sign-in or SCIM).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::access::Ctx;
use crate::audit::Subject;
use crate::db::DbConnection;
use crate::enterprise::ProvisioningMode;
use crate::error::{DirectoryError, FieldErrors, Result, conflict_on_unique};
use crate::event::{self, Event};
use crate::group::{Membership, MembershipSource};
use crate::ids::{EnterpriseId, UserId};
use crate::page::{Page, PageRequest};
use crate::schema::{org_group_members, org_groups, organizations, sessions, users};
use crate::secret::new_id;
use crate::stored::stored_enum;
use crate::{Directory, validate};

stored_enum! {
    /// Who created a user: an admin (`local`), a sign-in (`jit`) or the IdP over SCIM (`scim`).
    /// It decides who may change the user and whether a sign-in may update them.
    pub enum Origin {
        Local = "local",
        Jit = "jit",
        Scim = "scim",
    }
}

/// A user of an enterprise. The password hash never leaves this crate.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Serialize)]
#[diesel(table_name = users)]
pub struct User {
    pub id: UserId,
    pub enterprise_id: EnterpriseId,
    pub login: String,
    pub email: Option<String>,
    pub name: String,
    pub external_id: Option<String>,
    #[diesel(deserialize_as = String)]
    pub origin: Origin,
    pub active: bool,
    pub last_sign_in_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

diesel::define_sql_function! {
    /// SQL `lower`, on both backends.
    fn lower(x: diesel::sql_types::Nullable<diesel::sql_types::Text>) -> diesel::sql_types::Nullable<diesel::sql_types::Text>;
}

/// What an admin looks for in the user list; empty fields match everyone.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    /// Part of the login, name or e-mail address, without regard to case.
    pub search: Option<String>,
    /// Active or deactivated people only.
    pub active: Option<bool>,
    /// Who created them.
    pub origin: Option<Origin>,
}

/// An org group a user is in, as shown beside the user.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Queryable, Serialize)]
pub struct UserGroup {
    pub organization: String,
    pub group: String,
    #[diesel(deserialize_as = String)]
    pub source: MembershipSource,
}

/// A user with their org groups.
#[derive(Debug, Clone, Serialize)]
pub struct UserWithGroups {
    #[serde(flatten)]
    pub user: User,
    pub groups: Vec<UserGroup>,
}

/// Changes an admin makes to a user; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserChanges {
    pub name: Option<String>,
    /// `Some(None)` clears it.
    pub email: Option<Option<String>>,
    pub active: Option<bool>,
}

/// Why an admin may not change this user, if they may not: SCIM-provisioned users belong to
/// the IdP, and in SCIM mode the others may only be deactivated or reactivated.
fn admin_may_not(user: &User, mode: ProvisioningMode, only_activity: bool) -> Option<String> {
    if user.origin == Origin::Scim {
        return Some(format!(
            "{} is provisioned by the enterprise's identity provider over SCIM: change, deactivate or delete them there",
            user.login
        ));
    }
    if mode == ProvisioningMode::Scim && !only_activity {
        return Some(
            "this enterprise is provisioned by its identity provider (SCIM mode): users not pushed by it can only be deactivated or reactivated"
                .into(),
        );
    }
    None
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
        id: new_id().into(),
        enterprise_id: enterprise_id.into(),
        login: login.clone(),
        email,
        name,
        external_id: None,
        origin: Origin::Local,
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
            users::origin.eq(user.origin.as_str()),
            users::active.eq(true),
            users::created_at.eq(now),
            users::updated_at.eq(now),
        ))
        .execute(conn)
        .map_err(conflict_on_unique("a user with this login already exists in this enterprise"))?;
    Ok(user)
}

/// A user as events show them (`data.user`, docs/events.md).
pub(crate) fn event_data(
    id: &str,
    login: &str,
    email: Option<&str>,
    name: &str,
    active: bool,
    origin: Origin,
    updated_at: NaiveDateTime,
) -> serde_json::Value {
    serde_json::json!({
        "id": id, "login": login, "email": email, "name": name, "active": active, "origin": origin.as_str(),
        "updated_at": updated_at.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
    })
}

impl User {
    /// The event that tells a host of this user's state; `kind` is one of `user.*`.
    pub(crate) fn event(&self, kind: &'static str) -> Event {
        let data = event_data(
            &self.id,
            &self.login,
            self.email.as_deref(),
            &self.name,
            self.active,
            self.origin,
            self.updated_at,
        );
        Event::user(kind, &self.enterprise_id, &self.id, data)
    }
}

/// The `user.*` kind for a change from `was_active` to `active`.
pub(crate) fn change_kind(was_active: bool, active: bool) -> &'static str {
    match (was_active, active) {
        (true, false) => event::USER_DEACTIVATED,
        (false, true) => event::USER_REACTIVATED,
        _ => event::USER_UPDATED,
    }
}

impl Directory {
    /// Creates a local user (enterprise admins). In SCIM mode only the IdP creates users.
    pub fn create_local_user(&self, ctx: &Ctx<'_>, enterprise_key: &str, input: NewUser) -> Result<User> {
        self.audited_in(ctx, "user.create", enterprise_key, |conn, now| {
            let enterprise = self.visible_enterprise(conn, ctx, enterprise_key)?;
            ctx.require_enterprise_admin(&enterprise.id)?;
            if enterprise.provisioning_mode == ProvisioningMode::Scim {
                return Err(DirectoryError::Conflict(
                    "this enterprise is provisioned by its identity provider (SCIM mode): users are created there"
                        .into(),
                ));
            }
            let user = insert_local_user(conn, now, &enterprise.id, &input)?;
            let subject = Subject::new(Some(&enterprise.id), "user", &user.id, &user.login)
                .emits(user.event(event::USER_CREATED));
            Ok((user, subject))
        })
    }

    /// Users of an enterprise with their org groups, ordered by login (enterprise admins).
    pub fn list_users(&self, ctx: &Ctx<'_>, enterprise_key: &str, page: &PageRequest) -> Result<Page<UserWithGroups>> {
        self.find_users(ctx, enterprise_key, &UserFilter::default(), page)
    }

    /// As [`Directory::list_users`], narrowed by `filter`.
    pub fn find_users(
        &self,
        ctx: &Ctx<'_>,
        enterprise_key: &str,
        filter: &UserFilter,
        page: &PageRequest,
    ) -> Result<Page<UserWithGroups>> {
        let mut conn = self.conn()?;
        let enterprise = self.visible_enterprise(&mut conn, ctx, enterprise_key)?;
        ctx.require_enterprise_admin(&enterprise.id)?;
        let mut query = users::table
            .filter(users::enterprise_id.eq(enterprise.id.clone()))
            .select((users::login_key, User::as_select()))
            .order(users::login_key.asc())
            .limit(page.fetch())
            .into_boxed();
        if let Some(text) = filter.search.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            let escaped: String = text
                .to_lowercase()
                .chars()
                .flat_map(|c| if matches!(c, '%' | '_' | '\\') { vec!['\\', c] } else { vec![c] })
                .collect();
            let pattern = format!("%{escaped}%");
            query = query.filter(
                users::login_key
                    .nullable()
                    .like(pattern.clone())
                    .escape('\\')
                    .or(lower(users::name.nullable()).like(pattern.clone()).escape('\\'))
                    .or(lower(users::email).like(pattern).escape('\\')),
            );
        }
        if let Some(active) = filter.active {
            query = query.filter(users::active.eq(active));
        }
        if let Some(origin) = filter.origin {
            query = query.filter(users::origin.eq(origin.as_str()));
        }
        if let Some(after) = &page.after {
            query = query.filter(users::login_key.gt(after.clone()));
        }
        let rows: Vec<(String, User)> = query.load(&mut conn)?;
        let page = Page::from_rows(rows, page, |(key, _)| key.clone());
        let ids: Vec<&str> = page.items.iter().map(|(_, u)| u.id.as_str()).collect();
        let mut memberships: Vec<Membership> = org_group_members::table
            .inner_join(org_groups::table.inner_join(organizations::table))
            .filter(org_group_members::user_id.eq_any(&ids))
            .filter(org_groups::enterprise_id.eq(&enterprise.id))
            .select((
                org_group_members::user_id,
                org_groups::id,
                organizations::key,
                organizations::name,
                org_groups::name,
                org_group_members::source,
            ))
            .order((organizations::key.asc(), org_groups::name.asc()))
            .load(&mut conn)?;
        // Memberships that come from mapped IdP groups.
        for derived in crate::mapping::derived_groups_of(&mut conn, &enterprise.id, &ids)? {
            if !memberships.iter().any(|m| {
                m.user_id == derived.user_id && m.org_group_id == derived.org_group_id && m.source == derived.source
            }) {
                memberships.push(derived);
            }
        }
        memberships.sort_by(|a, b| {
            (&a.organization_key, &a.group_name, a.source).cmp(&(&b.organization_key, &b.group_name, b.source))
        });
        Ok(page.map(|(_, user)| {
            let groups = memberships
                .iter()
                .filter(|m| user.id == m.user_id.as_str())
                .map(|m| UserGroup {
                    organization: m.organization_key.clone(),
                    group: m.group_name.clone(),
                    source: m.source,
                })
                .collect();
            UserWithGroups { user, groups }
        }))
    }

    /// Changes a user's name, e-mail or state (enterprise admins), under the SCIM rules of
    /// [`admin_may_not`]. Deactivation ends the user's sessions at once.
    pub fn update_user(&self, ctx: &Ctx<'_>, enterprise_key: &str, login: &str, changes: UserChanges) -> Result<User> {
        let action = match changes.active {
            Some(false) => "user.deactivate",
            Some(true) if changes.name.is_none() && changes.email.is_none() => "user.reactivate",
            _ => "user.update",
        };
        self.audited_in(ctx, action, enterprise_key, |conn, now| {
            let enterprise = self.visible_enterprise(conn, ctx, enterprise_key)?;
            ctx.require_enterprise_admin(&enterprise.id)?;
            let user = find_by_login(conn, &enterprise.id, login)?.ok_or(DirectoryError::NotFound("user"))?;
            let only_activity = changes.name.is_none() && changes.email.is_none();
            if let Some(why) = admin_may_not(&user, enterprise.provisioning_mode, only_activity) {
                return Err(DirectoryError::Conflict(why));
            }
            let mut errors = FieldErrors::default();
            let name = changes.name.map(|n| n.trim().to_owned()).unwrap_or(user.name.clone());
            if name.chars().count() > validate::NAME_MAX {
                errors.add("name", format!("must be at most {} characters long", validate::NAME_MAX));
            }
            let email = match changes.email {
                Some(e) => validate::optional(e),
                None => user.email.clone(),
            };
            if let Some(e) = &email {
                validate::email(&mut errors, "email", e);
            }
            errors.into_result()?;
            let active = changes.active.unwrap_or(user.active);
            diesel::update(users::table.filter(users::id.eq(&user.id)))
                .set((
                    users::name.eq(&name),
                    users::email.eq(&email),
                    users::active.eq(active),
                    users::version.eq(users::version + 1),
                    users::updated_at.eq(now),
                ))
                .execute(conn)?;
            if !active {
                diesel::delete(sessions::table.filter(sessions::user_id.eq(&user.id))).execute(conn)?;
                crate::webhook::end_grants(conn, now, None, Some(&user.id))?;
            }
            let kind = change_kind(user.active, active);
            let updated = User { name, email, active, updated_at: now, ..user };
            let subject =
                Subject::new(Some(&enterprise.id), "user", &updated.id, &updated.login).emits(updated.event(kind));
            Ok((updated, subject))
        })
    }

    /// Deletes a user (enterprise admins), under the SCIM rules of [`admin_may_not`]; the audit
    /// trail keeps who they were.
    pub fn delete_user(&self, ctx: &Ctx<'_>, enterprise_key: &str, login: &str) -> Result<()> {
        self.audited_in(ctx, "user.delete", enterprise_key, |conn, now| {
            let enterprise = self.visible_enterprise(conn, ctx, enterprise_key)?;
            ctx.require_enterprise_admin(&enterprise.id)?;
            let user = find_by_login(conn, &enterprise.id, login)?.ok_or(DirectoryError::NotFound("user"))?;
            if let Some(why) = admin_may_not(&user, enterprise.provisioning_mode, false) {
                return Err(DirectoryError::Conflict(why));
            }
            crate::webhook::end_grants(conn, now, None, Some(&user.id))?;
            diesel::delete(users::table.filter(users::id.eq(&user.id))).execute(conn)?;
            let subject = Subject::new(Some(&enterprise.id), "user", &user.id, &user.login)
                .with_details(serde_json::json!({"email": user.email, "name": user.name, "origin": user.origin}))
                .emits(user.event(event::USER_DELETED));
            Ok(((), subject))
        })
    }

    /// Links a user to an IdP identity (enterprise admins): from then on a sign-in asserting
    /// `subject` (SAML NameID, OpenID Connect `sub`) is this user, whatever login it carries.
    /// This is the only way an account Portico did not get from the IdP (a local account, an
    /// appointed admin) becomes reachable through single sign-on: a sign-in never links one by
    /// itself. A subject names one user at most (409 when another user has it).
    pub fn link_idp_subject(&self, ctx: &Ctx<'_>, enterprise_key: &str, login: &str, subject: &str) -> Result<User> {
        self.audited_in(ctx, "user.link_idp", enterprise_key, |conn, now| {
            let enterprise = self.visible_enterprise(conn, ctx, enterprise_key)?;
            ctx.require_enterprise_admin(&enterprise.id)?;
            let user = find_by_login(conn, &enterprise.id, login)?.ok_or(DirectoryError::NotFound("user"))?;
            let subject = subject.trim();
            let mut errors = FieldErrors::default();
            if subject.is_empty() {
                errors.add("subject", "give the user's identity at the IdP: its SAML NameID or OpenID Connect sub");
            } else if subject.chars().count() > validate::LOGIN_MAX || subject.chars().any(char::is_control) {
                errors.add(
                    "subject",
                    format!("must be at most {} characters, without control characters", validate::LOGIN_MAX),
                );
            }
            errors.into_result()?;
            let holder: Option<String> = users::table
                .filter(users::enterprise_id.eq(&enterprise.id))
                .filter(users::external_id.eq(subject))
                .filter(users::id.ne(&user.id))
                .select(users::login)
                .first(conn)
                .optional()?;
            if let Some(other) = holder {
                return Err(DirectoryError::Conflict(format!("that IdP identity is already linked to {other}")));
            }
            diesel::update(users::table.filter(users::id.eq(&user.id)))
                .set((users::external_id.eq(subject), users::version.eq(users::version + 1), users::updated_at.eq(now)))
                .execute(conn)
                .map_err(conflict_on_unique("that IdP identity is already linked to another user"))?;
            let previous = user.external_id.clone();
            let linked = User { external_id: Some(subject.to_owned()), updated_at: now, ..user };
            let audit = Subject::new(Some(&enterprise.id), "user", &linked.id, &linked.login)
                .with_details(serde_json::json!({"subject": subject, "previous": previous}))
                .emits(linked.event(event::USER_UPDATED));
            Ok((linked, audit))
        })
    }

    /// Removes a user's link to an IdP identity (enterprise admins): single sign-on no longer
    /// reaches them until an admin links them again (no sign-in will, even for a user the IdP
    /// provisioned); local sign-in is unchanged.
    pub fn unlink_idp_subject(&self, ctx: &Ctx<'_>, enterprise_key: &str, login: &str) -> Result<User> {
        self.audited_in(ctx, "user.unlink_idp", enterprise_key, |conn, now| {
            let enterprise = self.visible_enterprise(conn, ctx, enterprise_key)?;
            ctx.require_enterprise_admin(&enterprise.id)?;
            let user = find_by_login(conn, &enterprise.id, login)?.ok_or(DirectoryError::NotFound("user"))?;
            diesel::update(users::table.filter(users::id.eq(&user.id)))
                .set((
                    users::external_id.eq(None::<String>),
                    users::links_by_admin_only.eq(true),
                    users::version.eq(users::version + 1),
                    users::updated_at.eq(now),
                ))
                .execute(conn)?;
            let previous = user.external_id.clone();
            let unlinked = User { external_id: None, updated_at: now, ..user };
            let audit = Subject::new(Some(&enterprise.id), "user", &unlinked.id, &unlinked.login)
                .with_details(serde_json::json!({"previous": previous}))
                .emits(unlinked.event(event::USER_UPDATED));
            Ok((unlinked, audit))
        })
    }

    /// One user by login (enterprise admins).
    pub fn get_user(&self, ctx: &Ctx<'_>, enterprise_key: &str, login: &str) -> Result<User> {
        let mut conn = self.conn()?;
        let enterprise = self.visible_enterprise(&mut conn, ctx, enterprise_key)?;
        ctx.require_enterprise_admin(&enterprise.id)?;
        find_by_login(&mut conn, &enterprise.id, login)?.ok_or(DirectoryError::NotFound("user"))
    }
}

impl Directory {
    /// The org groups of the signed-in user themself (empty for anyone else).
    pub fn own_groups(&self, ctx: &Ctx<'_>) -> Result<Vec<UserGroup>> {
        let crate::Actor::User { id, enterprise_id, .. } = ctx.actor else {
            return Ok(Vec::new());
        };
        let mut conn = self.conn()?;
        let mut groups: Vec<UserGroup> = org_group_members::table
            .inner_join(org_groups::table.inner_join(organizations::table))
            .filter(org_group_members::user_id.eq(id))
            .filter(org_groups::enterprise_id.eq(enterprise_id))
            .select((organizations::name, org_groups::name, org_group_members::source))
            .order((organizations::name.asc(), org_groups::name.asc()))
            .load(&mut conn)?;
        for derived in crate::mapping::derived_groups_of(&mut conn, enterprise_id, &[id.as_str()])? {
            let (organization, group) = (derived.organization_name, derived.group_name);
            if !groups.iter().any(|g| g.organization == organization && g.group == group && g.source == derived.source)
            {
                groups.push(UserGroup { organization, group, source: derived.source });
            }
        }
        groups.sort_by(|a, b| (&a.organization, &a.group, &a.source).cmp(&(&b.organization, &b.group, &b.source)));
        Ok(groups)
    }
}
