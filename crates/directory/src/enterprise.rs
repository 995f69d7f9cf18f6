//! Enterprises: the tenants. Each has a unique URL-safe key, a name and a provisioning mode.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::access::Ctx;
use crate::audit::Subject;
use crate::db::DbConnection;
use crate::error::{DirectoryError, FieldErrors, Result, conflict_on_unique};
use crate::ids::{EnterpriseId, EnterpriseKey};
use crate::page::{Page, PageRequest};
use crate::schema::enterprises;
use crate::secret::new_id;
use crate::stored::stored_enum;
use crate::{Directory, validate};

stored_enum! {
    /// How an enterprise's people are created: at sign-in (JIT) or pushed ahead by the IdP (SCIM).
    pub enum ProvisioningMode {
        Jit = "jit",
        Scim = "scim",
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = enterprises)]
struct EnterpriseRow {
    id: EnterpriseId,
    key: EnterpriseKey,
    name: String,
    #[diesel(deserialize_as = String)]
    provisioning_mode: ProvisioningMode,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

/// A tenant of Portico.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Enterprise {
    pub id: EnterpriseId,
    pub key: EnterpriseKey,
    pub name: String,
    pub provisioning_mode: ProvisioningMode,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl From<EnterpriseRow> for Enterprise {
    fn from(r: EnterpriseRow) -> Self {
        Enterprise {
            id: r.id,
            key: r.key,
            name: r.name,
            provisioning_mode: r.provisioning_mode,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// Input for a new enterprise.
#[derive(Debug, Clone)]
pub struct NewEnterprise {
    pub key: String,
    pub name: String,
    pub provisioning_mode: Option<ProvisioningMode>,
}

/// Changes to an enterprise; absent fields stay as they are. The key never changes: IdPs hold
/// URLs built from it.
#[derive(Debug, Clone, Default)]
pub struct EnterpriseChanges {
    pub name: Option<String>,
    pub provisioning_mode: Option<ProvisioningMode>,
    /// Switch to SCIM mode although no tested connection is enabled (audited as forced).
    pub force: bool,
}

pub(crate) fn find_by_key(conn: &mut DbConnection, key: &str) -> Result<Option<Enterprise>> {
    Ok(enterprises::table
        .filter(enterprises::key.eq(key))
        .select(EnterpriseRow::as_select())
        .first(conn)
        .optional()?
        .map(Enterprise::from))
}

impl Directory {
    /// The enterprise `key` if `ctx` may see it; `NotFound` otherwise, so other tenants' keys
    /// stay secret.
    pub(crate) fn visible_enterprise(&self, conn: &mut DbConnection, ctx: &Ctx<'_>, key: &str) -> Result<Enterprise> {
        match find_by_key(conn, key)? {
            Some(e) if ctx.actor.can_view_enterprise(&e.id) => Ok(e),
            _ => Err(DirectoryError::NotFound("enterprise")),
        }
    }

    /// Creates an enterprise (operators only).
    pub fn create_enterprise(&self, ctx: &Ctx<'_>, input: NewEnterprise) -> Result<Enterprise> {
        self.audited(ctx, "enterprise.create", |conn, now| {
            ctx.require_platform_admin()?;
            let name = input.name.trim().to_owned();
            let mut errors = FieldErrors::default();
            validate::key(&mut errors, "key", &input.key);
            validate::name(&mut errors, "name", &name, validate::NAME_MAX);
            errors.into_result()?;
            let row = EnterpriseRow {
                id: new_id().into(),
                key: input.key.as_str().into(),
                name,
                provisioning_mode: input.provisioning_mode.unwrap_or(ProvisioningMode::Jit),
                created_at: now,
                updated_at: now,
            };
            diesel::insert_into(enterprises::table)
                .values((
                    enterprises::id.eq(&row.id),
                    enterprises::key.eq(&row.key),
                    enterprises::name.eq(&row.name),
                    enterprises::provisioning_mode.eq(row.provisioning_mode.as_str()),
                    enterprises::created_at.eq(row.created_at),
                    enterprises::updated_at.eq(row.updated_at),
                ))
                .execute(conn)
                .map_err(conflict_on_unique("an enterprise with this key already exists"))?;
            let subject = Subject::new(Some(&row.id), "enterprise", &row.id, &row.key);
            Ok((Enterprise::from(row), subject))
        })
    }

    /// Enterprises the actor may see, ordered by key.
    pub fn list_enterprises(&self, ctx: &Ctx<'_>, page: &PageRequest) -> Result<Page<Enterprise>> {
        let mut conn = self.conn()?;
        let mut query = enterprises::table
            .select(EnterpriseRow::as_select())
            .order(enterprises::key.asc())
            .limit(page.fetch())
            .into_boxed();
        if !ctx.actor.is_platform_admin() {
            match ctx.actor.home_enterprise() {
                Some(eid) if ctx.actor.can_view_enterprise(eid) => {
                    query = query.filter(enterprises::id.eq(eid.to_owned()));
                }
                _ => {
                    return Ok(Page { items: Vec::new(), next: None });
                }
            }
        }
        if let Some(after) = &page.after {
            query = query.filter(enterprises::key.gt(after.clone()));
        }
        let rows: Vec<Enterprise> = query.load(&mut conn)?.into_iter().map(Enterprise::from).collect();
        Ok(Page::from_rows(rows, page, |e| e.key.to_string()))
    }

    /// One enterprise by key.
    /// The id of the enterprise of `key`, for the public endpoints that log what reaches an
    /// enterprise's URL before anyone is authenticated (refused SCIM requests).
    pub fn enterprise_id_of(&self, key: &str) -> Result<Option<crate::ids::EnterpriseId>> {
        let mut conn = self.conn()?;
        Ok(find_by_key(&mut conn, key)?.map(|e| e.id))
    }

    pub fn get_enterprise(&self, ctx: &Ctx<'_>, key: &str) -> Result<Enterprise> {
        let mut conn = self.conn()?;
        self.visible_enterprise(&mut conn, ctx, key)
    }

    /// Renames an enterprise or switches its provisioning mode (enterprise admins).
    pub fn update_enterprise(&self, ctx: &Ctx<'_>, key: &str, changes: EnterpriseChanges) -> Result<Enterprise> {
        self.audited(ctx, "enterprise.update", |conn, now| {
            let current = self.visible_enterprise(conn, ctx, key)?;
            ctx.require_enterprise_admin(&current.id)?;
            let name = changes.name.as_ref().map(|n| n.trim().to_owned());
            let mut errors = FieldErrors::default();
            if let Some(name) = &name {
                validate::name(&mut errors, "name", name, validate::NAME_MAX);
            }
            errors.into_result()?;
            let new_name = name.unwrap_or_else(|| current.name.clone());
            let new_mode = changes.provisioning_mode.unwrap_or(current.provisioning_mode);
            let to_scim = new_mode == ProvisioningMode::Scim && current.provisioning_mode != ProvisioningMode::Scim;
            // SCIM mode provisions nobody at sign-in: without a working SSO connection the
            // people the IdP pushes could not sign in at all, and those JIT created would lose
            // their access the IdP does not confirm. So it waits for an enabled, tested
            // connection, unless the caller says it knows (`force`, audited).
            let mut locked_out = 0;
            if to_scim {
                use crate::schema::{sso_connections, users};
                let working: i64 = sso_connections::table
                    .filter(sso_connections::enterprise_id.eq(&current.id))
                    .filter(sso_connections::status.eq(crate::connection::ConnectionStatus::Enabled.as_str()))
                    .filter(sso_connections::tested_at.is_not_null())
                    .count()
                    .get_result(conn)?;
                locked_out = users::table
                    .filter(users::enterprise_id.eq(&current.id))
                    .filter(users::active.eq(true))
                    .filter(users::origin.eq(crate::user::Origin::Jit.as_str()))
                    .count()
                    .get_result::<i64>(conn)?;
                if working == 0 && !changes.force {
                    return Err(DirectoryError::Conflict(format!(
                        "{} has no enabled, tested SSO connection: in SCIM mode nobody could sign in. Set up and enable single sign-on first{}",
                        current.name,
                        if locked_out > 0 {
                            format!(
                                "; {locked_out} user{} created at sign-in would also wait for the IdP to push them",
                                if locked_out == 1 { "" } else { "s" }
                            )
                        } else {
                            String::new()
                        }
                    )));
                }
            }
            if to_scim {
                // In SCIM mode only groups the IdP pushes feed organizations: the memberships
                // sign-in recorded go (the groups and their links stay, for SCIM to take over
                // by name, and for sign-in to fill again if the enterprise switches back).
                let jit_groups = crate::schema::idp_groups::table
                    .filter(crate::schema::idp_groups::enterprise_id.eq(&current.id))
                    .filter(crate::schema::idp_groups::origin.eq(crate::provisioning::GroupOrigin::Jit.as_str()))
                    .select(crate::schema::idp_groups::id);
                diesel::delete(
                    crate::schema::idp_group_members::table
                        .filter(crate::schema::idp_group_members::group_id.eq_any(jit_groups)),
                )
                .execute(conn)?;
            }
            if new_mode == ProvisioningMode::Jit && current.provisioning_mode != ProvisioningMode::Jit {
                // Back in JIT mode, every org group is linked to the IdP group of its exact name,
                // including those created while the enterprise was in SCIM mode.
                crate::mapping::link_by_name(conn, now, &current.id, crate::mapping::NameLinks::All)?;
            }
            diesel::update(enterprises::table.filter(enterprises::id.eq(&current.id)))
                .set((
                    enterprises::name.eq(&new_name),
                    enterprises::provisioning_mode.eq(new_mode.as_str()),
                    enterprises::updated_at.eq(now),
                ))
                .execute(conn)?;
            let subject = Subject::new(Some(&current.id), "enterprise", &current.id, &current.key).with_details(
                serde_json::json!({
                    "name": {"from": current.name, "to": new_name},
                    "provisioning_mode": {"from": current.provisioning_mode.as_str(), "to": new_mode.as_str()},
                    "forced": to_scim && changes.force,
                    "jit_users": locked_out,
                }),
            );
            let previous_mode = current.provisioning_mode;
            let updated = Enterprise { name: new_name, provisioning_mode: new_mode, updated_at: now, ..current };
            let subject = if previous_mode == new_mode {
                subject
            } else {
                subject.emits(crate::event::Event::new(
                    crate::event::PROVISIONING_MODE_CHANGED,
                    Some(&updated.id),
                    format!("enterprise:{}", updated.id),
                    serde_json::json!({ "mode": new_mode.as_str(), "previous_mode": previous_mode.as_str() }),
                ))
            };
            Ok((updated, subject))
        })
    }

    /// Deletes an enterprise and everything in it (operators only). Its audit events stay.
    pub fn delete_enterprise(&self, ctx: &Ctx<'_>, key: &str) -> Result<()> {
        self.audited(ctx, "enterprise.delete", |conn, _now| {
            let current = self.visible_enterprise(conn, ctx, key)?;
            ctx.require_platform_admin()?;
            diesel::delete(enterprises::table.filter(enterprises::id.eq(&current.id))).execute(conn)?;
            Ok(((), Subject::new(Some(&current.id), "enterprise", &current.id, &current.key)))
        })
    }
}
