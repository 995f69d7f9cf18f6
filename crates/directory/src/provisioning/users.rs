//! Users as the IdP provisions them.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use super::{check_version, scim_enterprise};
use crate::access::Ctx;
use crate::audit::Subject;
use crate::db::DbConnection;
use crate::error::{DirectoryError, FieldErrors, Result, conflict_on_unique};
use crate::event::{self, Event};
use crate::ids::{EnterpriseId, UserId};
use crate::schema::{idp_group_members, idp_groups, sessions, users};
use crate::secret::new_id;
use crate::user::Origin;
use crate::{Directory, validate};

/// Longest profile document kept for one user, in bytes.
pub const PROFILE_MAX: usize = 64 * 1024;

/// A user as the SCIM API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Serialize)]
#[diesel(table_name = users)]
pub struct ProvisionedUser {
    pub id: UserId,
    pub enterprise_id: EnterpriseId,
    pub login: String,
    pub email: Option<String>,
    pub name: String,
    pub scim_external_id: Option<String>,
    #[diesel(deserialize_as = String)]
    pub origin: Origin,
    pub active: bool,
    /// The attributes Portico keeps without modelling them (name parts, every e-mail, the
    /// enterprise extension, ...), as a JSON object.
    pub scim_profile: String,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// What the IdP says about a user, already read from its SCIM form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimUserData {
    pub user_name: String,
    pub external_id: Option<String>,
    pub active: bool,
    /// The address Portico uses (the primary one).
    pub email: Option<String>,
    /// The name Portico shows.
    pub name: String,
    /// See [`ProvisionedUser::scim_profile`].
    pub profile: String,
}

/// An indexed way to narrow a user list before the full filter is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserKey {
    Id(String),
    /// Compared without regard to case, like logins.
    UserName(String),
    ExternalId(String),
}

impl ScimUserData {
    fn validate(&self) -> Result<()> {
        let mut errors = FieldErrors::default();
        validate::login(&mut errors, "userName", &self.user_name);
        if let Some(email) = &self.email {
            validate::email(&mut errors, "emails", email);
        }
        if self.name.chars().count() > validate::NAME_MAX {
            errors.add("displayName", format!("must be at most {} characters long", validate::NAME_MAX));
        }
        if self.external_id.as_ref().is_some_and(|e| e.chars().count() > validate::LOGIN_MAX) {
            errors.add("externalId", format!("must be at most {} characters long", validate::LOGIN_MAX));
        }
        if self.profile.len() > PROFILE_MAX {
            errors.add("attributes", format!("take more than {} KiB", PROFILE_MAX / 1024));
        }
        errors.into_result()
    }
}

/// Users the IdP may see: every user of the enterprise but the local ones, which admins manage.
fn visible(enterprise_id: &str) -> users::BoxedQuery<'static, <DbConnection as diesel::Connection>::Backend> {
    users::table
        .filter(users::enterprise_id.eq(enterprise_id.to_owned()))
        .filter(users::origin.ne(Origin::Local.as_str()))
        .into_boxed()
}

fn find(conn: &mut DbConnection, enterprise_id: &str, id: &str) -> Result<ProvisionedUser> {
    visible(enterprise_id)
        .filter(users::id.eq(id.to_owned()))
        .select(ProvisionedUser::as_select())
        .first(conn)
        .optional()?
        .ok_or(DirectoryError::NotFound("user"))
}

const TAKEN: &str = "a user with this userName already exists";

/// Writes `data` over user `id` and bumps its version; deactivation ends the user's sessions.
fn overwrite(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    current: &ProvisionedUser,
    data: &ScimUserData,
) -> Result<ProvisionedUser> {
    let updated = ProvisionedUser {
        login: data.user_name.clone(),
        email: data.email.clone(),
        name: data.name.clone(),
        scim_external_id: data.external_id.clone(),
        origin: Origin::Scim,
        active: data.active,
        scim_profile: data.profile.clone(),
        version: current.version + 1,
        updated_at: now,
        ..current.clone()
    };
    let changed =
        diesel::update(users::table.filter(users::id.eq(&current.id)).filter(users::version.eq(current.version)))
            .set((
                users::login.eq(&updated.login),
                users::login_key.eq(validate::login_key(&updated.login)),
                users::email.eq(&updated.email),
                users::name.eq(&updated.name),
                users::scim_external_id.eq(&updated.scim_external_id),
                users::origin.eq(updated.origin.as_str()),
                users::active.eq(updated.active),
                users::scim_profile.eq(&updated.scim_profile),
                users::version.eq(updated.version),
                users::updated_at.eq(now),
            ))
            .execute(conn)
            .map_err(conflict_on_unique(TAKEN))?;
    if changed != 1 {
        return Err(DirectoryError::VersionMismatch("user"));
    }
    if !updated.active {
        diesel::delete(sessions::table.filter(sessions::user_id.eq(&current.id))).execute(conn)?;
        // Applications the person signed in to hear of it (back-channel logout).
        crate::webhook::end_grants(conn, now, None, Some(&current.id))?;
    }
    Ok(updated)
}

/// Inserts `user` unless its login is taken in its enterprise; true when inserted. (`ON
/// CONFLICT` cannot be written through `MultiConnection`, and raw SQL placeholders differ.)
fn insert_if_new(conn: &mut DbConnection, user: &ProvisionedUser) -> Result<bool> {
    use diesel::sql_types::{BigInt, Bool, Nullable, Text, Timestamp};
    const COLUMNS: &str = "INSERT INTO users (id, enterprise_id, login, login_key, email, name, scim_external_id, \
                           origin, active, scim_profile, version, created_at, updated_at)";
    const CONFLICT: &str = "ON CONFLICT (enterprise_id, login_key) DO NOTHING";
    let login_key = validate::login_key(&user.login);
    macro_rules! run {
        ($c:expr, $values:expr) => {
            diesel::sql_query(format!("{COLUMNS} {} {CONFLICT}", $values))
                .bind::<Text, _>(&user.id)
                .bind::<Text, _>(&user.enterprise_id)
                .bind::<Text, _>(&user.login)
                .bind::<Text, _>(&login_key)
                .bind::<Nullable<Text>, _>(&user.email)
                .bind::<Text, _>(&user.name)
                .bind::<Nullable<Text>, _>(&user.scim_external_id)
                .bind::<Text, _>(user.origin.as_str())
                .bind::<Bool, _>(user.active)
                .bind::<Text, _>(&user.scim_profile)
                .bind::<BigInt, _>(user.version)
                .bind::<Timestamp, _>(user.created_at)
                .bind::<Timestamp, _>(user.updated_at)
                .execute($c)?
        };
    }
    let inserted = match conn {
        DbConnection::Postgresql(c) => {
            run!(c, "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)")
        }
        DbConnection::Sqlite(c) => run!(c, "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
    };
    Ok(inserted == 1)
}

fn subject(user: &ProvisionedUser) -> Subject {
    Subject::new(Some(&user.enterprise_id), "user", &user.id, &user.login)
}

impl ProvisionedUser {
    /// The event that tells a host of this user's state; `kind` is one of `user.*`.
    pub(crate) fn event(&self, kind: &'static str) -> Event {
        let data = crate::user::event_data(
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

impl Directory {
    /// Creates a user the IdP pushes. A JIT user with the same login is adopted instead: it
    /// keeps its id, memberships and sessions and becomes `scim`-origin.
    pub fn scim_create_user(&self, ctx: &Ctx<'_>, data: &ScimUserData) -> Result<ProvisionedUser> {
        data.validate()?;
        self.audited(ctx, "scim.user.create", |conn, now| {
            let enterprise_id = scim_enterprise(ctx)?;
            let new = ProvisionedUser {
                id: new_id().into(),
                enterprise_id: enterprise_id.into(),
                login: data.user_name.clone(),
                email: data.email.clone(),
                name: data.name.clone(),
                scim_external_id: data.external_id.clone(),
                origin: Origin::Scim,
                active: data.active,
                scim_profile: data.profile.clone(),
                version: 1,
                created_at: now,
                updated_at: now,
            };
            // Insert first: a new login (the usual case) costs one statement; only when the
            // login exists is the existing user read, to adopt it or to refuse.
            if insert_if_new(conn, &new)? {
                let subject = subject(&new).emits(new.event(event::USER_CREATED));
                return Ok((new, subject));
            }
            let existing: ProvisionedUser = users::table
                .filter(users::enterprise_id.eq(enterprise_id))
                .filter(users::login_key.eq(validate::login_key(&data.user_name)))
                .select(ProvisionedUser::as_select())
                .first(conn)?;
            match existing {
                u if u.origin == Origin::Jit => {
                    let adopted = overwrite(conn, now, &u, data)?;
                    let kind = crate::user::change_kind(u.active, adopted.active);
                    Ok((adopted.clone(), subject(&adopted).emits(adopted.event(kind))))
                }
                u if u.origin == Origin::Local => Err(DirectoryError::Conflict(format!(
                    "{} is a local Portico account, managed by the enterprise's admins; the IdP cannot take it over",
                    u.login
                ))),
                _ => Err(DirectoryError::Conflict(TAKEN.into())),
            }
        })
    }

    /// One user the IdP may see.
    pub fn scim_user(&self, ctx: &Ctx<'_>, id: &str) -> Result<ProvisionedUser> {
        let enterprise_id = scim_enterprise(ctx)?;
        let mut conn = self.conn()?;
        find(&mut conn, enterprise_id, id)
    }

    /// A page of the users the IdP may see, in creation order, narrowed by `key`; with the
    /// number of all that match `key`.
    pub fn scim_users(
        &self,
        ctx: &Ctx<'_>,
        key: Option<&UserKey>,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<ProvisionedUser>, i64)> {
        let enterprise_id = scim_enterprise(ctx)?;
        let narrowed = || {
            let q = visible(enterprise_id);
            match key {
                None => q,
                Some(UserKey::Id(id)) => q.filter(users::id.eq(id.clone())),
                Some(UserKey::UserName(name)) => q.filter(users::login_key.eq(validate::login_key(name))),
                Some(UserKey::ExternalId(e)) => q.filter(users::scim_external_id.eq(e.clone())),
            }
        };
        let mut conn = self.conn()?;
        let rows = narrowed()
            .select(ProvisionedUser::as_select())
            .order(users::id.asc())
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

    /// Replaces what the IdP said about a user. `expected_version` is the `If-Match` version.
    pub fn scim_replace_user(
        &self,
        ctx: &Ctx<'_>,
        id: &str,
        data: &ScimUserData,
        expected_version: Option<i64>,
    ) -> Result<ProvisionedUser> {
        data.validate()?;
        let action = if data.active { "scim.user.update" } else { "scim.user.deactivate" };
        self.audited(ctx, action, |conn, now| {
            let enterprise_id = scim_enterprise(ctx)?;
            let current = find(conn, enterprise_id, id)?;
            check_version("user", expected_version, current.version)?;
            let user = overwrite(conn, now, &current, data)?;
            // IdPs send the whole user again on a schedule: only a change is news to the host.
            let changed =
                (&user.login, &user.email, &user.name, &user.scim_external_id, user.active, &user.scim_profile)
                    != (
                        &current.login,
                        &current.email,
                        &current.name,
                        &current.scim_external_id,
                        current.active,
                        &current.scim_profile,
                    );
            let mut subject = subject(&user);
            if changed || current.origin != user.origin {
                subject = subject.emits(user.event(crate::user::change_kind(current.active, user.active)));
            }
            if current.login != user.login {
                subject = subject.with_details(serde_json::json!({ "previous_login": current.login }));
            }
            Ok((user, subject))
        })
    }

    /// Deletes a user: their memberships, sessions and grants go with them; the audit trail
    /// keeps their login and profile.
    pub fn scim_delete_user(&self, ctx: &Ctx<'_>, id: &str, expected_version: Option<i64>) -> Result<()> {
        self.audited(ctx, "scim.user.delete", |conn, now| {
            let enterprise_id = scim_enterprise(ctx)?;
            let current = find(conn, enterprise_id, id)?;
            check_version("user", expected_version, current.version)?;
            crate::webhook::end_grants(conn, now, None, Some(&current.id))?;
            // Groups the user leaves change too: their ETags must move.
            let groups = idp_group_members::table.filter(idp_group_members::user_id.eq(&current.id));
            diesel::update(idp_groups::table.filter(idp_groups::id.eq_any(groups.select(idp_group_members::group_id))))
                .set(idp_groups::version.eq(idp_groups::version + 1))
                .execute(conn)?;
            diesel::delete(users::table.filter(users::id.eq(&current.id))).execute(conn)?;
            let subject = subject(&current)
                .with_details(serde_json::json!({
                    "email": current.email, "name": current.name, "external_id": current.scim_external_id,
                }))
                .emits(current.event(event::USER_DELETED));
            Ok(((), subject))
        })
    }

    /// The IdP groups of each of `user_ids`: (user id, group id, group display name).
    pub fn scim_user_groups(&self, ctx: &Ctx<'_>, user_ids: &[&str]) -> Result<Vec<(String, String, String)>> {
        let enterprise_id = scim_enterprise(ctx)?;
        let mut conn = self.conn()?;
        Ok(idp_group_members::table
            .inner_join(idp_groups::table)
            .filter(idp_groups::enterprise_id.eq(enterprise_id))
            .filter(idp_group_members::user_id.eq_any(user_ids))
            .select((idp_group_members::user_id, idp_groups::id, idp_groups::display_name))
            .order(idp_groups::display_name.asc())
            .load(&mut conn)?)
    }
}
