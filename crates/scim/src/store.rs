//! The storage SCIM needs, as a port: [`ScimStore`] is what [`crate::service::Service`] drives,
//! and these types are what it stores and reads back. Portico implements it over its directory
//! (in the gateway); the tests implement it in memory. Errors are already SCIM errors: a store
//! says "no such user" as a 404, "the userName is taken" as a 409 `uniqueness`, "the version in
//! If-Match is stale" as a 412.

use chrono::NaiveDateTime;

use crate::error::ScimError;

/// A user as the store keeps it: the attributes Portico works with as fields, every other
/// attribute the IdP sent in `profile`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredUser {
    pub id: String,
    pub user_name: String,
    /// The address Portico uses (the primary one).
    pub email: Option<String>,
    /// The name Portico shows.
    pub name: String,
    /// The IdP's `externalId`.
    pub external_id: Option<String>,
    /// Provisioned by the IdP over SCIM; `false` for a user SCIM may see but did not create (a
    /// user of just-in-time sign-in), whose `active` is always shown.
    pub provisioned: bool,
    pub active: bool,
    /// Every other attribute the IdP sent, as a JSON object.
    pub profile: String,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// What the IdP says about a user, read from its SCIM form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserData {
    pub user_name: String,
    pub external_id: Option<String>,
    pub active: bool,
    /// The address Portico uses (the primary one).
    pub email: Option<String>,
    /// The name Portico shows.
    pub name: String,
    /// See [`StoredUser::profile`].
    pub profile: String,
}

/// A group as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredGroup {
    pub id: String,
    pub display_name: String,
    pub external_id: Option<String>,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// A group the IdP creates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewGroup {
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

/// An indexed way to narrow a user list before the whole filter is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserKey {
    Id(String),
    /// Compared as logins are (see the directory's login rules).
    UserName(String),
    ExternalId(String),
}

/// An indexed way to narrow a group list before the whole filter is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupKey {
    Id(String),
    /// Compared exactly: group names are case-sensitive.
    DisplayName(String),
    ExternalId(String),
}

/// A group a user is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupOfUser {
    pub user_id: String,
    pub group_id: String,
    pub display_name: String,
}

/// A member of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberOfGroup {
    pub group_id: String,
    pub user_id: String,
    pub user_name: String,
}

/// A page of what a list read, and how many match in all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed<T> {
    pub items: Vec<T>,
    pub total: i64,
}

/// The storage of one enterprise's SCIM resources, as its IdP's token may see them. Every
/// change is atomic; `expected_version` (from `If-Match`) makes a change fail with 412 when the
/// resource moved on.
pub trait ScimStore {
    /// Creates a user (a user of the same `userName` that SCIM may adopt is adopted instead).
    fn create_user(&self, data: &UserData) -> Result<StoredUser, ScimError>;
    fn user(&self, id: &str) -> Result<StoredUser, ScimError>;
    /// A page of the users `key` narrows to (all when `None`), in creation order.
    fn users(&self, key: Option<&UserKey>, offset: i64, limit: i64) -> Result<Listed<StoredUser>, ScimError>;
    fn replace_user(&self, id: &str, data: &UserData, expected_version: Option<i64>) -> Result<StoredUser, ScimError>;
    fn delete_user(&self, id: &str, expected_version: Option<i64>) -> Result<(), ScimError>;
    /// The groups of these users, by group name.
    fn user_groups(&self, user_ids: &[&str]) -> Result<Vec<GroupOfUser>, ScimError>;

    /// Creates a group with its members.
    fn create_group(&self, new: &NewGroup) -> Result<StoredGroup, ScimError>;
    fn group(&self, id: &str) -> Result<StoredGroup, ScimError>;
    /// A page of the groups `key` narrows to (all when `None`), in creation order.
    fn groups(&self, key: Option<&GroupKey>, offset: i64, limit: i64) -> Result<Listed<StoredGroup>, ScimError>;
    fn change_group(
        &self,
        id: &str,
        changes: &GroupChanges,
        expected_version: Option<i64>,
    ) -> Result<StoredGroup, ScimError>;
    fn delete_group(&self, id: &str, expected_version: Option<i64>) -> Result<(), ScimError>;
    /// The members of these groups, by login.
    fn group_members(&self, group_ids: &[&str]) -> Result<Vec<MemberOfGroup>, ScimError>;
}
