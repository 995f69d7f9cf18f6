//! SCIM's storage port (`scim::store::ScimStore`) over the directory: one enterprise's users
//! and groups as its IdP's token may see them, and directory errors in SCIM's terms.

use directory::provisioning::{self as dp, IdpGroup, ProvisionedUser, ScimUserData};
use directory::{Ctx, Directory, DirectoryError};
use scim::error::{ScimError, ScimType};
use scim::store::{
    GroupChanges, GroupKey, GroupOfUser, Listed, MemberChange, MemberOfGroup, NewGroup, ScimStore, StoredGroup,
    StoredUser, UserData, UserKey,
};

/// The directory as SCIM's store, for the caller in `ctx` (a SCIM token of one enterprise).
#[derive(Debug, Clone, Copy)]
pub struct DirectoryStore<'a> {
    pub directory: &'a Directory,
    pub ctx: Ctx<'a>,
}

/// A domain error in SCIM's terms.
pub fn scim_error(e: DirectoryError) -> ScimError {
    match e {
        DirectoryError::Validation(errors) | DirectoryError::Unprocessable(errors) => {
            ScimError::new(ScimType::InvalidValue, errors.to_string())
        }
        DirectoryError::NotFound(what) => ScimError::status(404, format!("no such {what}")),
        DirectoryError::Conflict(m) => ScimError::new(ScimType::Uniqueness, m),
        DirectoryError::VersionMismatch(what) => scim::service::version_mismatch(what),
        DirectoryError::Forbidden(m) => ScimError::status(403, m),
        DirectoryError::Unauthorized(m) => ScimError::status(401, m),
        DirectoryError::RateLimited { retry_after_secs } => {
            ScimError::status(429, format!("too many requests; try again in {retry_after_secs} seconds"))
        }
        DirectoryError::Unavailable(_) => ScimError::status(503, "the directory is unavailable; try again shortly"),
        other => {
            tracing::error!(error = %other, "SCIM request failed");
            ScimError::status(500, "Portico could not complete this request")
        }
    }
}

fn user(u: ProvisionedUser) -> StoredUser {
    StoredUser {
        provisioned: u.origin == directory::user::Origin::Scim,
        id: u.id.to_string(),
        user_name: u.login,
        email: u.email,
        name: u.name,
        external_id: u.scim_external_id,
        active: u.active,
        profile: u.scim_profile,
        version: u.version,
        created_at: u.created_at,
        updated_at: u.updated_at,
    }
}

fn group(g: IdpGroup) -> StoredGroup {
    StoredGroup {
        id: g.id,
        display_name: g.display_name,
        external_id: g.external_id,
        version: g.version,
        created_at: g.created_at,
        updated_at: g.updated_at,
    }
}

fn user_data(d: &UserData) -> ScimUserData {
    ScimUserData {
        user_name: d.user_name.clone(),
        external_id: d.external_id.clone(),
        active: d.active,
        email: d.email.clone(),
        name: d.name.clone(),
        profile: d.profile.clone(),
    }
}

fn user_key(k: &UserKey) -> dp::UserKey {
    match k {
        UserKey::Id(v) => dp::UserKey::Id(v.clone()),
        UserKey::UserName(v) => dp::UserKey::UserName(v.clone()),
        UserKey::ExternalId(v) => dp::UserKey::ExternalId(v.clone()),
    }
}

fn group_key(k: &GroupKey) -> dp::GroupKey {
    match k {
        GroupKey::Id(v) => dp::GroupKey::Id(v.clone()),
        GroupKey::DisplayName(v) => dp::GroupKey::DisplayName(v.clone()),
        GroupKey::ExternalId(v) => dp::GroupKey::ExternalId(v.clone()),
    }
}

fn changes(c: &GroupChanges) -> dp::GroupChanges {
    dp::GroupChanges {
        display_name: c.display_name.clone(),
        external_id: c.external_id.clone(),
        members: c
            .members
            .iter()
            .map(|m| match m {
                MemberChange::Add(ids) => dp::MemberChange::Add(ids.clone()),
                MemberChange::Remove(ids) => dp::MemberChange::Remove(ids.clone()),
                MemberChange::RemoveAll => dp::MemberChange::RemoveAll,
                MemberChange::Replace(ids) => dp::MemberChange::Replace(ids.clone()),
            })
            .collect(),
    }
}

impl ScimStore for DirectoryStore<'_> {
    fn create_user(&self, data: &UserData) -> Result<StoredUser, ScimError> {
        self.directory.scim_create_user(&self.ctx, &user_data(data)).map(user).map_err(scim_error)
    }

    fn user(&self, id: &str) -> Result<StoredUser, ScimError> {
        self.directory.scim_user(&self.ctx, id).map(user).map_err(scim_error)
    }

    fn users(&self, key: Option<&UserKey>, offset: i64, limit: i64) -> Result<Listed<StoredUser>, ScimError> {
        let key = key.map(user_key);
        let (items, total) = self.directory.scim_users(&self.ctx, key.as_ref(), offset, limit).map_err(scim_error)?;
        Ok(Listed { items: items.into_iter().map(user).collect(), total })
    }

    fn replace_user(&self, id: &str, data: &UserData, expected_version: Option<i64>) -> Result<StoredUser, ScimError> {
        self.directory
            .scim_replace_user(&self.ctx, id, &user_data(data), expected_version)
            .map(user)
            .map_err(scim_error)
    }

    fn delete_user(&self, id: &str, expected_version: Option<i64>) -> Result<(), ScimError> {
        self.directory.scim_delete_user(&self.ctx, id, expected_version).map_err(scim_error)
    }

    fn user_groups(&self, user_ids: &[&str]) -> Result<Vec<GroupOfUser>, ScimError> {
        let rows = self.directory.scim_user_groups(&self.ctx, user_ids).map_err(scim_error)?;
        Ok(rows
            .into_iter()
            .map(|(user_id, group_id, display_name)| GroupOfUser { user_id, group_id, display_name })
            .collect())
    }

    fn create_group(&self, new: &NewGroup) -> Result<StoredGroup, ScimError> {
        let new = dp::NewIdpGroup {
            display_name: new.display_name.clone(),
            external_id: new.external_id.clone(),
            members: new.members.clone(),
        };
        self.directory.scim_create_group(&self.ctx, &new).map(group).map_err(scim_error)
    }

    fn group(&self, id: &str) -> Result<StoredGroup, ScimError> {
        self.directory.scim_group(&self.ctx, id).map(group).map_err(scim_error)
    }

    fn groups(&self, key: Option<&GroupKey>, offset: i64, limit: i64) -> Result<Listed<StoredGroup>, ScimError> {
        let key = key.map(group_key);
        let (items, total) = self.directory.scim_groups(&self.ctx, key.as_ref(), offset, limit).map_err(scim_error)?;
        Ok(Listed { items: items.into_iter().map(group).collect(), total })
    }

    fn change_group(
        &self,
        id: &str,
        changes_: &GroupChanges,
        expected_version: Option<i64>,
    ) -> Result<StoredGroup, ScimError> {
        self.directory
            .scim_change_group(&self.ctx, id, &changes(changes_), expected_version)
            .map(group)
            .map_err(scim_error)
    }

    fn delete_group(&self, id: &str, expected_version: Option<i64>) -> Result<(), ScimError> {
        self.directory.scim_delete_group(&self.ctx, id, expected_version).map_err(scim_error)
    }

    fn group_members(&self, group_ids: &[&str]) -> Result<Vec<MemberOfGroup>, ScimError> {
        let rows = self.directory.scim_group_members(&self.ctx, group_ids).map_err(scim_error)?;
        Ok(rows
            .into_iter()
            .map(|(group_id, user_id, user_name)| MemberOfGroup { group_id, user_id, user_name })
            .collect())
    }
}
