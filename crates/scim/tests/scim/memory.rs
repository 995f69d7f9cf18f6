//! An in-memory `ScimStore`: what the service needs of storage and nothing more, kept the way
//! the directory keeps it (versions that move on each change, `userName` unique without regard
//! to case, `displayName` unique exactly, members by user id).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Mutex;

use chrono::NaiveDateTime;
use scim::error::{ScimError, ScimType};
use scim::store::{
    GroupChanges, GroupKey, GroupOfUser, Listed, MemberChange, MemberOfGroup, NewGroup, ScimStore, StoredGroup,
    StoredUser, UserData, UserKey,
};

#[derive(Debug, Default)]
struct State {
    next: u64,
    users: Vec<StoredUser>,
    groups: Vec<StoredGroup>,
    /// (group id, user id)
    members: Vec<(String, String)>,
}

#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<State>,
    /// Writes made so far (a PATCH that changes nothing must make none).
    pub writes: Mutex<usize>,
    /// When set, the next user replacement first sees the user changed by someone else.
    pub interfere_once: Mutex<bool>,
}

fn at(n: u64) -> NaiveDateTime {
    chrono::DateTime::from_timestamp(1_800_000_000 + n as i64, 0).unwrap().naive_utc()
}

fn not_found(what: &str) -> ScimError {
    ScimError::status(404, format!("no such {what}"))
}

fn check(expected: Option<i64>, current: i64, what: &str) -> Result<(), ScimError> {
    match expected {
        Some(v) if v != current => Err(scim::service::version_mismatch(what)),
        _ => Ok(()),
    }
}

impl MemoryStore {
    fn wrote(&self) {
        *self.writes.lock().unwrap() += 1;
    }

    pub fn writes(&self) -> usize {
        *self.writes.lock().unwrap()
    }
}

impl ScimStore for MemoryStore {
    fn create_user(&self, data: &UserData) -> Result<StoredUser, ScimError> {
        let mut s = self.state.lock().unwrap();
        if s.users.iter().any(|u| u.user_name.to_lowercase() == data.user_name.to_lowercase()) {
            return Err(ScimError::new(ScimType::Uniqueness, "a user with this userName already exists"));
        }
        s.next += 1;
        let user = StoredUser {
            id: format!("u{}", s.next),
            user_name: data.user_name.clone(),
            email: data.email.clone(),
            name: data.name.clone(),
            external_id: data.external_id.clone(),
            provisioned: true,
            active: data.active,
            profile: data.profile.clone(),
            version: 1,
            created_at: at(s.next),
            updated_at: at(s.next),
        };
        s.users.push(user.clone());
        self.wrote();
        Ok(user)
    }

    fn user(&self, id: &str) -> Result<StoredUser, ScimError> {
        self.state.lock().unwrap().users.iter().find(|u| u.id == id).cloned().ok_or_else(|| not_found("user"))
    }

    fn users(&self, key: Option<&UserKey>, offset: i64, limit: i64) -> Result<Listed<StoredUser>, ScimError> {
        let s = self.state.lock().unwrap();
        let matching: Vec<StoredUser> = s
            .users
            .iter()
            .filter(|u| match key {
                None => true,
                Some(UserKey::Id(v)) => u.id == *v,
                Some(UserKey::UserName(v)) => u.user_name.to_lowercase() == v.to_lowercase(),
                Some(UserKey::ExternalId(v)) => u.external_id.as_deref() == Some(v.as_str()),
            })
            .cloned()
            .collect();
        let total = matching.len() as i64;
        let items = matching.into_iter().skip(offset.max(0) as usize).take(limit.max(0) as usize).collect();
        Ok(Listed { items, total })
    }

    fn replace_user(&self, id: &str, data: &UserData, expected: Option<i64>) -> Result<StoredUser, ScimError> {
        let mut s = self.state.lock().unwrap();
        if std::mem::take(&mut *self.interfere_once.lock().unwrap())
            && let Some(u) = s.users.iter_mut().find(|u| u.id == id)
        {
            u.version += 1;
        }
        if s.users.iter().any(|u| u.id != id && u.user_name.to_lowercase() == data.user_name.to_lowercase()) {
            return Err(ScimError::new(ScimType::Uniqueness, "a user with this userName already exists"));
        }
        s.next += 1;
        let now = at(s.next);
        let u = s.users.iter_mut().find(|u| u.id == id).ok_or_else(|| not_found("user"))?;
        check(expected, u.version, "user")?;
        u.user_name = data.user_name.clone();
        u.email = data.email.clone();
        u.name = data.name.clone();
        u.external_id = data.external_id.clone();
        u.active = data.active;
        u.profile = data.profile.clone();
        u.version += 1;
        u.updated_at = now;
        let user = u.clone();
        drop(s);
        self.wrote();
        Ok(user)
    }

    fn delete_user(&self, id: &str, expected: Option<i64>) -> Result<(), ScimError> {
        let mut s = self.state.lock().unwrap();
        let u = s.users.iter().find(|u| u.id == id).ok_or_else(|| not_found("user"))?;
        check(expected, u.version, "user")?;
        s.users.retain(|u| u.id != id);
        s.members.retain(|(_, uid)| uid != id);
        drop(s);
        self.wrote();
        Ok(())
    }

    fn user_groups(&self, user_ids: &[&str]) -> Result<Vec<GroupOfUser>, ScimError> {
        let s = self.state.lock().unwrap();
        let mut out: Vec<GroupOfUser> = s
            .members
            .iter()
            .filter(|(_, uid)| user_ids.contains(&uid.as_str()))
            .filter_map(|(gid, uid)| {
                let g = s.groups.iter().find(|g| g.id == *gid)?;
                Some(GroupOfUser { user_id: uid.clone(), group_id: gid.clone(), display_name: g.display_name.clone() })
            })
            .collect();
        out.sort_by(|a, b| a.display_name.cmp(&b.display_name));
        Ok(out)
    }

    fn create_group(&self, new: &NewGroup) -> Result<StoredGroup, ScimError> {
        let mut s = self.state.lock().unwrap();
        if s.groups.iter().any(|g| g.display_name == new.display_name) {
            return Err(ScimError::new(ScimType::Uniqueness, "a group with this displayName already exists"));
        }
        if let Some(unknown) = new.members.iter().find(|m| !s.users.iter().any(|u| u.id == **m)) {
            return Err(ScimError::new(ScimType::InvalidValue, format!("no user {unknown}")));
        }
        s.next += 1;
        let group = StoredGroup {
            id: format!("g{}", s.next),
            display_name: new.display_name.clone(),
            external_id: new.external_id.clone(),
            version: 1,
            created_at: at(s.next),
            updated_at: at(s.next),
        };
        for m in &new.members {
            s.members.push((group.id.clone(), m.clone()));
        }
        s.groups.push(group.clone());
        drop(s);
        self.wrote();
        Ok(group)
    }

    fn group(&self, id: &str) -> Result<StoredGroup, ScimError> {
        self.state.lock().unwrap().groups.iter().find(|g| g.id == id).cloned().ok_or_else(|| not_found("group"))
    }

    fn groups(&self, key: Option<&GroupKey>, offset: i64, limit: i64) -> Result<Listed<StoredGroup>, ScimError> {
        let s = self.state.lock().unwrap();
        let matching: Vec<StoredGroup> = s
            .groups
            .iter()
            .filter(|g| match key {
                None => true,
                Some(GroupKey::Id(v)) => g.id == *v,
                Some(GroupKey::DisplayName(v)) => g.display_name == *v,
                Some(GroupKey::ExternalId(v)) => g.external_id.as_deref() == Some(v.as_str()),
            })
            .cloned()
            .collect();
        let total = matching.len() as i64;
        let items = matching.into_iter().skip(offset.max(0) as usize).take(limit.max(0) as usize).collect();
        Ok(Listed { items, total })
    }

    fn change_group(&self, id: &str, changes: &GroupChanges, expected: Option<i64>) -> Result<StoredGroup, ScimError> {
        let mut s = self.state.lock().unwrap();
        let g = s.groups.iter().find(|g| g.id == id).ok_or_else(|| not_found("group"))?;
        check(expected, g.version, "group")?;
        if let Some(name) = &changes.display_name
            && s.groups.iter().any(|g| g.id != id && g.display_name == *name)
        {
            return Err(ScimError::new(ScimType::Uniqueness, "a group with this displayName already exists"));
        }
        for change in &changes.members {
            let members: Vec<String> = match change {
                MemberChange::Add(ids) | MemberChange::Replace(ids) | MemberChange::Remove(ids) => ids.clone(),
                MemberChange::RemoveAll => Vec::new(),
            };
            if matches!(change, MemberChange::Add(_) | MemberChange::Replace(_))
                && let Some(unknown) = members.iter().find(|m| !s.users.iter().any(|u| u.id == **m))
            {
                return Err(ScimError::new(ScimType::InvalidValue, format!("no user {unknown}")));
            }
            match change {
                MemberChange::Add(ids) => {
                    for m in ids {
                        if !s.members.iter().any(|(gid, uid)| gid == id && uid == m) {
                            s.members.push((id.to_owned(), m.clone()));
                        }
                    }
                }
                MemberChange::Remove(ids) => s.members.retain(|(gid, uid)| gid != id || !ids.contains(uid)),
                MemberChange::RemoveAll => s.members.retain(|(gid, _)| gid != id),
                MemberChange::Replace(ids) => {
                    s.members.retain(|(gid, _)| gid != id);
                    s.members.extend(ids.iter().map(|m| (id.to_owned(), m.clone())));
                }
            }
        }
        s.next += 1;
        let now = at(s.next);
        let g = s.groups.iter_mut().find(|g| g.id == id).ok_or_else(|| not_found("group"))?;
        if let Some(name) = &changes.display_name {
            g.display_name = name.clone();
        }
        if let Some(external) = &changes.external_id {
            g.external_id = external.clone();
        }
        g.version += 1;
        g.updated_at = now;
        let group = g.clone();
        drop(s);
        self.wrote();
        Ok(group)
    }

    fn delete_group(&self, id: &str, expected: Option<i64>) -> Result<(), ScimError> {
        let mut s = self.state.lock().unwrap();
        let g = s.groups.iter().find(|g| g.id == id).ok_or_else(|| not_found("group"))?;
        check(expected, g.version, "group")?;
        s.groups.retain(|g| g.id != id);
        s.members.retain(|(gid, _)| gid != id);
        drop(s);
        self.wrote();
        Ok(())
    }

    fn group_members(&self, group_ids: &[&str]) -> Result<Vec<MemberOfGroup>, ScimError> {
        let s = self.state.lock().unwrap();
        let mut out: Vec<MemberOfGroup> = s
            .members
            .iter()
            .filter(|(gid, _)| group_ids.contains(&gid.as_str()))
            .filter_map(|(gid, uid)| {
                let u = s.users.iter().find(|u| u.id == *uid)?;
                Some(MemberOfGroup { group_id: gid.clone(), user_id: uid.clone(), user_name: u.user_name.clone() })
            })
            .collect();
        out.sort_by(|a, b| a.user_name.cmp(&b.user_name));
        Ok(out)
    }
}
