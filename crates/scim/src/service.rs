//! The SCIM operations on an enterprise's users and groups: a request's values in (body, id,
//! query, `If-Match`), a response's values out. The gateway adds HTTP around it; a store
//! stores the result.
//!
//! List filters run in two steps: an indexed look-up narrows the candidates when the filter
//! pins `id`, `userName`, `externalId` or a group's `displayName` with `eq` (what IdPs send),
//! then the whole filter is evaluated on each candidate as rendered, so every filter the grammar
//! allows is answered exactly. A filter without such a pin reads the enterprise's resources in
//! batches.

use serde_json::{Value, json};

use crate::apply::apply;
use crate::error::{ScimError, ScimType};
use crate::filter::{AttrPath, CompValue, CompareOp, Filter, Path};
use crate::matching::matches;
use crate::patch::{OpKind, Operation, parse_patch};
use crate::projection::{exclude, keep_only, wants};
use crate::query::ListQuery;
use crate::render::{etag, group_resource, parse_etag, user_data, user_resource};
use crate::resource::parse_group;
use crate::schemas::{self, LIST_RESPONSE};
use crate::store::{GroupChanges, GroupKey, MemberChange, NewGroup, ScimStore, StoredGroup, StoredUser, UserKey};

/// Resources read at once when a filter has no indexed pin.
const SCAN_BATCH: i64 = 500;

/// The default for the most resources one filter without an indexed pin may be evaluated over
/// (see [`Service::with_filter_limit`]).
pub const MAX_FILTER_SCAN_ROWS: usize = 10_000;

/// Reads resources in batches of at most [`SCAN_BATCH`] (`page` takes the offset and the batch
/// size), renders each batch, and keeps what `keep` returns: how a filter without an indexed pin
/// is answered. Past `max_rows` resources read it stops with `400 tooMany`: such a filter would
/// cost a read of the whole enterprise per request.
fn scan<T>(
    max_rows: usize,
    page: impl Fn(i64, i64) -> Result<Vec<T>, ScimError>,
    render: impl Fn(&[T]) -> Result<Vec<Value>, ScimError>,
    keep: impl Fn(Value) -> Option<Value>,
) -> Result<Vec<Value>, ScimError> {
    let mut matched = Vec::new();
    let mut read = 0usize;
    let limit = i64::try_from(max_rows).unwrap_or(i64::MAX);
    loop {
        // One more than the limit is read, so that reaching it exactly is not taken for more.
        let size = SCAN_BATCH.min(limit.saturating_add(1).saturating_sub(read as i64)).max(1);
        let batch = page(read as i64, size)?;
        let n = batch.len();
        read += n;
        if read > max_rows {
            return Err(ScimError::new(
                ScimType::TooMany,
                format!(
                    "this filter would be evaluated over more than {max_rows} resources; narrow it with `eq` on id, userName or externalId (displayName for groups)"
                ),
            ));
        }
        matched.extend(render(&batch)?.into_iter().filter_map(&keep));
        if (n as i64) < size {
            return Ok(matched);
        }
    }
}

/// A response: status, body, and the headers that go with a resource.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: u16,
    pub body: Option<Value>,
    pub etag: Option<String>,
    pub location: Option<String>,
}

impl Reply {
    fn resource(status: u16, body: Value) -> Reply {
        let etag = body.pointer("/meta/version").and_then(Value::as_str).map(str::to_owned);
        let location = body.pointer("/meta/location").and_then(Value::as_str).map(str::to_owned);
        Reply { status, body: Some(body), etag, location: if status == 201 { location } else { None } }
    }

    fn json(body: Value) -> Reply {
        Reply { status: 200, body: Some(body), etag: None, location: None }
    }

    fn no_content() -> Reply {
        Reply { status: 204, body: None, etag: None, location: None }
    }
}

/// The 412 a stale `If-Match` gets.
pub fn version_mismatch(what: &str) -> ScimError {
    ScimError::status(412, format!("the {what} has changed since the version in If-Match"))
}

fn if_match(value: Option<&str>) -> Result<Option<i64>, ScimError> {
    match value {
        None => Ok(None),
        Some(v) => parse_etag(v),
    }
}

/// The SCIM API of one enterprise, as its IdP's token sees it.
#[derive(Clone, Copy)]
pub struct Service<'a> {
    store: &'a dyn ScimStore,
    /// `{public_url}/api/scim/v2/{enterprise_key}`, for `meta.location` and `$ref`s.
    base_url: &'a str,
    /// See [`Service::with_filter_limit`].
    max_filter_rows: usize,
}

impl std::fmt::Debug for Service<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service").field("base_url", &self.base_url).finish_non_exhaustive()
    }
}

/// An indexed pin in a filter: `attr eq "value"` on one of `names`, at the top or inside `and`.
fn pin<'f>(filter: &'f Filter, name: &str) -> Option<&'f str> {
    match filter {
        Filter::Compare(path, CompareOp::Eq, CompValue::String(v)) if path.is(name) && core(path) => Some(v),
        Filter::And(a, b) => pin(a, name).or_else(|| pin(b, name)),
        _ => None,
    }
}

fn core(path: &AttrPath) -> bool {
    path.schema
        .as_deref()
        .is_none_or(|s| s.eq_ignore_ascii_case(schemas::USER) || s.eq_ignore_ascii_case(schemas::GROUP))
}

fn mentions(filter: &Filter, name: &str) -> bool {
    match filter {
        Filter::Compare(p, ..) | Filter::Present(p) | Filter::ValuePath(p, _) => p.name.eq_ignore_ascii_case(name),
        Filter::And(a, b) | Filter::Or(a, b) => mentions(a, name) || mentions(b, name),
        Filter::Not(f) => mentions(f, name),
    }
}

fn list_response(resources: Vec<Value>, total: usize, start_index: u32) -> Value {
    json!({
        "schemas": [LIST_RESPONSE],
        "totalResults": total,
        "itemsPerPage": resources.len(),
        "startIndex": start_index,
        "Resources": resources,
    })
}

fn project(mut resource: Value, q: &ListQuery) -> Value {
    // A member's `display` and `type` are returned on request only (they are Portico's, not
    // what the IdP sent, and an IdP compares members with what it sent).
    let requested = |sub: &str| {
        q.attributes.iter().any(|p| {
            p.is("members")
                || (p.name.eq_ignore_ascii_case("members")
                    && p.sub_attr.as_deref().is_some_and(|s| s.eq_ignore_ascii_case(sub)))
        })
    };
    let (display, kind) = (requested("display"), requested("type"));
    if let Some(members) = resource.get_mut("members").and_then(Value::as_array_mut) {
        for m in members.iter_mut().filter_map(Value::as_object_mut) {
            if !display {
                m.remove("display");
            }
            if !kind {
                m.remove("type");
            }
        }
    }
    if !q.attributes.is_empty() {
        keep_only(&mut resource, &q.attributes);
    }
    if !q.excluded_attributes.is_empty() {
        exclude(&mut resource, &q.excluded_attributes);
    }
    resource
}

/// Member ids in a PATCH or PUT value: `[{"value": "..."}]`, one such object, or bare strings.
fn member_ids(value: Option<&Value>) -> Result<Vec<String>, ScimError> {
    let one = |v: &Value| -> Result<String, ScimError> {
        match v {
            Value::String(s) => Ok(s.clone()),
            Value::Object(o) => o
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("value"))
                .and_then(|(_, v)| v.as_str())
                .map(str::to_owned)
                .ok_or_else(|| ScimError::new(ScimType::InvalidValue, "each member needs a `value`")),
            other => Err(ScimError::new(ScimType::InvalidValue, format!("{other} is not a member"))),
        }
    };
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items.iter().map(one).collect(),
        Some(v) => Ok(vec![one(v)?]),
    }
}

/// The member ids a filter like `value eq "a" or value eq "b"` names; `None` for other filters.
fn filtered_ids(filter: &Filter) -> Option<Vec<String>> {
    match filter {
        Filter::Compare(p, CompareOp::Eq, CompValue::String(v)) if p.is("value") => Some(vec![v.clone()]),
        Filter::Or(a, b) => {
            let mut ids = filtered_ids(a)?;
            ids.extend(filtered_ids(b)?);
            Some(ids)
        }
        _ => None,
    }
}

fn text_value(op: &Operation, name: &str) -> Result<String, ScimError> {
    match &op.value {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_owned()),
        _ => Err(ScimError::new(ScimType::InvalidValue, format!("`{name}` must be a non-empty string"))),
    }
}

impl<'a> Service<'a> {
    /// The API over `store`; `base_url` is `{public_url}/api/scim/v2/{enterprise_key}`.
    pub fn new(store: &'a dyn ScimStore, base_url: &'a str) -> Self {
        Service { store, base_url, max_filter_rows: MAX_FILTER_SCAN_ROWS }
    }

    /// Sets how many resources one filter without an indexed pin may be evaluated over.
    pub fn with_filter_limit(mut self, max_rows: usize) -> Self {
        self.max_filter_rows = max_rows;
        self
    }

    // ---- Users ----

    fn render_users(&self, users: &[StoredUser], with_groups: bool) -> Result<Vec<Value>, ScimError> {
        let groups = if with_groups && !users.is_empty() {
            let ids: Vec<&str> = users.iter().map(|u| u.id.as_str()).collect();
            self.store.user_groups(&ids)?
        } else {
            Vec::new()
        };
        Ok(users
            .iter()
            .map(|u| {
                let mine: Vec<(String, String)> = groups
                    .iter()
                    .filter(|g| g.user_id == u.id)
                    .map(|g| (g.group_id.clone(), g.display_name.clone()))
                    .collect();
                user_resource(u, &mine, self.base_url)
            })
            .collect())
    }

    fn render_user(&self, user: &StoredUser) -> Result<Value, ScimError> {
        Ok(self.render_users(std::slice::from_ref(user), true)?.pop().unwrap_or(Value::Null))
    }

    pub fn create_user(&self, body: &Value) -> Result<Reply, ScimError> {
        let (_, data) = user_data(body)?;
        let user = self.store.create_user(&data)?;
        // A new user is in no group; an adopted JIT user may be.
        let resource =
            if user.version == 1 { user_resource(&user, &[], self.base_url) } else { self.render_user(&user)? };
        Ok(Reply::resource(201, resource))
    }

    pub fn get_user(&self, id: &str, q: &ListQuery) -> Result<Reply, ScimError> {
        let user = self.store.user(id)?;
        Ok(Reply::resource(200, project(self.render_user(&user)?, q)))
    }

    pub fn list_users(&self, q: &ListQuery) -> Result<Reply, ScimError> {
        let with_groups = wants("groups", &q.attributes, &q.excluded_attributes);
        let Some(filter) = &q.filter else {
            // No filter: the page is read in SQL.
            let offset = i64::from(q.start_index.saturating_sub(1));
            let listed = self.store.users(None, offset, i64::from(q.count))?;
            let (users, total) = (listed.items, listed.total);
            let resources = self.render_users(&users, with_groups)?.into_iter().map(|r| project(r, q)).collect();
            return Ok(Reply::json(list_response(resources, total as usize, q.start_index)));
        };
        let matched = self.matching_users(Some(filter), with_groups)?;
        Ok(Reply::json(self.page(matched, q)))
    }

    /// Every user `filter` matches, rendered, in creation order.
    fn matching_users(&self, filter: Option<&Filter>, with_groups: bool) -> Result<Vec<Value>, ScimError> {
        let with_groups = with_groups || filter.is_some_and(|f| mentions(f, "groups"));
        let key = filter.and_then(|filter| {
            pin(filter, "id")
                .map(|v| UserKey::Id(v.to_owned()))
                .or_else(|| pin(filter, "userName").map(|v| UserKey::UserName(v.to_owned())))
                .or_else(|| pin(filter, "externalId").map(|v| UserKey::ExternalId(v.to_owned())))
        });
        let user_schema = schemas::user();
        let exact = |p: &AttrPath| schemas::case_exact(&user_schema, p);
        scan(
            self.max_filter_rows,
            |read, size| Ok(self.store.users(key.as_ref(), read, size)?.items),
            |batch| self.render_users(batch, with_groups),
            |r| filter.is_none_or(|f| matches(f, &r, &exact)).then_some(r),
        )
    }

    /// `POST /.search` at the root: users, then groups, that match.
    pub fn search_all(&self, q: &ListQuery) -> Result<Reply, ScimError> {
        let with_groups = wants("groups", &q.attributes, &q.excluded_attributes);
        let with_members = wants("members", &q.attributes, &q.excluded_attributes);
        let Some(filter) = &q.filter else {
            // No filter: users then groups, the page read in SQL like the lists'.
            let offset = i64::from(q.start_index.saturating_sub(1));
            let count = i64::from(q.count);
            let users = self.store.users(None, offset, count)?;
            let (users, user_total) = (users.items, users.total);
            let group_offset = (offset - user_total).max(0);
            let group_count = count - users.len() as i64;
            let groups = self.store.groups(None, group_offset, group_count.max(0))?;
            let (groups, group_total) = (groups.items, groups.total);
            let groups = if group_count > 0 { groups } else { Vec::new() };
            let mut resources: Vec<Value> = self.render_users(&users, with_groups)?;
            resources.extend(self.render_groups(&groups, with_members)?);
            let resources = resources.into_iter().map(|r| project(r, q)).collect();
            return Ok(Reply::json(list_response(resources, (user_total + group_total) as usize, q.start_index)));
        };
        let mut matched = self.matching_users(Some(filter), with_groups)?;
        matched.extend(self.matching_groups(Some(filter), with_members)?);
        Ok(Reply::json(self.page(matched, q)))
    }

    fn page(&self, matched: Vec<Value>, q: &ListQuery) -> Value {
        let total = matched.len();
        let resources = matched
            .into_iter()
            .skip(q.start_index.saturating_sub(1) as usize)
            .take(q.count as usize)
            .map(|r| project(r, q))
            .collect();
        list_response(resources, total, q.start_index)
    }

    pub fn replace_user(&self, id: &str, body: &Value, if_match_header: Option<&str>) -> Result<Reply, ScimError> {
        let expected = if_match(if_match_header)?;
        let (_, data) = user_data(body)?;
        let user = self.store.replace_user(id, &data, expected)?;
        Ok(Reply::resource(200, self.render_user(&user)?))
    }

    /// PATCH on a user: the stored user, patched, is written back as a PUT would be. Without
    /// `If-Match`, a concurrent change makes it start over from the new version.
    pub fn patch_user(&self, id: &str, body: &Value, if_match_header: Option<&str>) -> Result<Reply, ScimError> {
        let expected = if_match(if_match_header)?;
        let ops = parse_patch(body)?;
        for _attempt in 0..5 {
            let current = self.store.user(id)?;
            if expected.is_some_and(|v| v != current.version) {
                return Err(version_mismatch("user"));
            }
            let mut resource = user_resource(&current, &[], self.base_url);
            apply(&mut resource, &ops)?;
            if resource.get("id").and_then(Value::as_str) != Some(current.id.as_str()) {
                return Err(ScimError::new(ScimType::Mutability, "`id` is read-only"));
            }
            let (_, data) = user_data(&resource)?;
            let unchanged = data.user_name == current.user_name
                && data.external_id == current.external_id
                && data.active == current.active
                && data.email == current.email
                && data.name == current.name
                && data.profile == current.profile;
            if unchanged {
                return Ok(Reply::resource(200, self.render_user(&current)?));
            }
            match self.store.replace_user(id, &data, Some(current.version)) {
                Ok(user) => return Ok(Reply::resource(200, self.render_user(&user)?)),
                Err(e) if e.status == 412 && expected.is_none() => continue,
                Err(e) => return Err(e),
            }
        }
        Err(ScimError::status(409, "the user kept changing while this PATCH was applied; send it again"))
    }

    pub fn delete_user(&self, id: &str, if_match_header: Option<&str>) -> Result<Reply, ScimError> {
        let expected = if_match(if_match_header)?;
        self.store.delete_user(id, expected)?;
        Ok(Reply::no_content())
    }

    // ---- Groups ----

    fn render_groups(&self, groups: &[StoredGroup], with_members: bool) -> Result<Vec<Value>, ScimError> {
        let members = if with_members && !groups.is_empty() {
            let ids: Vec<&str> = groups.iter().map(|g| g.id.as_str()).collect();
            Some(self.store.group_members(&ids)?)
        } else {
            None
        };
        Ok(groups
            .iter()
            .map(|g| {
                let mine: Option<Vec<(String, String)>> = members.as_ref().map(|all| {
                    all.iter()
                        .filter(|m| m.group_id == g.id)
                        .map(|m| (m.user_id.clone(), m.user_name.clone()))
                        .collect()
                });
                group_resource(g, mine.as_deref(), self.base_url)
            })
            .collect())
    }

    fn render_group(&self, group: &StoredGroup, with_members: bool) -> Result<Value, ScimError> {
        Ok(self.render_groups(std::slice::from_ref(group), with_members)?.pop().unwrap_or(Value::Null))
    }

    pub fn create_group(&self, body: &Value) -> Result<Reply, ScimError> {
        let input = parse_group(body)?;
        let new = NewGroup { display_name: input.display_name, external_id: input.external_id, members: input.members };
        let group = self.store.create_group(&new)?;
        Ok(Reply::resource(201, project(self.render_group(&group, true)?, &ListQuery::default())))
    }

    pub fn get_group(&self, id: &str, q: &ListQuery) -> Result<Reply, ScimError> {
        let group = self.store.group(id)?;
        let with_members = wants("members", &q.attributes, &q.excluded_attributes);
        Ok(Reply::resource(200, project(self.render_group(&group, with_members)?, q)))
    }

    pub fn list_groups(&self, q: &ListQuery) -> Result<Reply, ScimError> {
        let with_members = wants("members", &q.attributes, &q.excluded_attributes);
        let Some(filter) = &q.filter else {
            let offset = i64::from(q.start_index.saturating_sub(1));
            let listed = self.store.groups(None, offset, i64::from(q.count))?;
            let (groups, total) = (listed.items, listed.total);
            let resources = self.render_groups(&groups, with_members)?.into_iter().map(|r| project(r, q)).collect();
            return Ok(Reply::json(list_response(resources, total as usize, q.start_index)));
        };
        let matched = self.matching_groups(Some(filter), with_members)?;
        Ok(Reply::json(self.page(matched, q)))
    }

    /// Every group `filter` matches, rendered (with members when `with_members`).
    fn matching_groups(&self, filter: Option<&Filter>, with_members: bool) -> Result<Vec<Value>, ScimError> {
        let key = filter.and_then(|filter| {
            pin(filter, "id")
                .map(|v| GroupKey::Id(v.to_owned()))
                .or_else(|| pin(filter, "displayName").map(|v| GroupKey::DisplayName(v.to_owned())))
                .or_else(|| pin(filter, "externalId").map(|v| GroupKey::ExternalId(v.to_owned())))
        });
        let group_schema = schemas::group();
        let exact = |p: &AttrPath| schemas::case_exact(&group_schema, p);
        // Members are loaded to evaluate a filter on them, and dropped when not wanted.
        let load_members = with_members || filter.is_some_and(|f| mentions(f, "members"));
        scan(
            self.max_filter_rows,
            |read, size| Ok(self.store.groups(key.as_ref(), read, size)?.items),
            |batch| self.render_groups(batch, load_members),
            |mut r| {
                if !filter.is_none_or(|f| matches(f, &r, &exact)) {
                    return None;
                }
                if !with_members && let Some(o) = r.as_object_mut() {
                    o.remove("members");
                }
                Some(r)
            },
        )
    }

    pub fn replace_group(&self, id: &str, body: &Value, if_match_header: Option<&str>) -> Result<Reply, ScimError> {
        let expected = if_match(if_match_header)?;
        let input = parse_group(body)?;
        let changes = GroupChanges {
            display_name: Some(input.display_name),
            external_id: Some(input.external_id),
            members: vec![MemberChange::Replace(input.members)],
        };
        let group = self.store.change_group(id, &changes, expected)?;
        Ok(Reply::resource(200, project(self.render_group(&group, true)?, &ListQuery::default())))
    }

    /// PATCH on a group: names are set, and each member operation becomes one set-based change.
    /// Answers 204, as Okta and Entra ID expect; a large group is not sent back.
    pub fn patch_group(&self, id: &str, body: &Value, if_match_header: Option<&str>) -> Result<Reply, ScimError> {
        let expected = if_match(if_match_header)?;
        let ops = parse_patch(body)?;
        let mut changes = GroupChanges::default();
        for op in &ops {
            self.group_change(id, op, &mut changes)?;
        }
        let group = self.store.change_group(id, &changes, expected)?;
        Ok(Reply { status: 204, body: None, etag: Some(etag(group.version)), location: None })
    }

    fn group_change(&self, id: &str, op: &Operation, changes: &mut GroupChanges) -> Result<(), ScimError> {
        let not_an_attribute = |p: &AttrPath| {
            ScimError::new(
                ScimType::InvalidPath,
                format!("`{p}` is not an attribute of a group (displayName, externalId, members)"),
            )
        };
        match &op.path {
            Path::Attr(p) if !core(p) => Err(not_an_attribute(p)),
            Path::Attr(p) if p.is("displayName") => match op.op {
                OpKind::Remove => Err(ScimError::new(ScimType::Mutability, "`displayName` is required")),
                _ => {
                    changes.display_name = Some(text_value(op, "displayName")?);
                    Ok(())
                }
            },
            Path::Attr(p) if p.is("externalId") => {
                changes.external_id = Some(match op.op {
                    OpKind::Remove => None,
                    _ => Some(text_value(op, "externalId")?),
                });
                Ok(())
            }
            Path::Attr(p) if p.is("id") => match &op.value {
                // JumpCloud repeats the id in a pathless replace.
                Some(Value::String(v)) if v == id => Ok(()),
                _ => Err(ScimError::new(ScimType::Mutability, "`id` is read-only")),
            },
            Path::Attr(p) if p.is("members") => {
                let ids = member_ids(op.value.as_ref())?;
                changes.members.push(match (op.op, op.value.is_some()) {
                    (OpKind::Add, _) => MemberChange::Add(ids),
                    (OpKind::Replace, _) => MemberChange::Replace(ids),
                    (OpKind::Remove, true) => MemberChange::Remove(ids),
                    (OpKind::Remove, false) => MemberChange::RemoveAll,
                });
                Ok(())
            }
            Path::Values { attr, filter, sub_attr: None } if attr.is("members") && core(attr) => {
                if op.op != OpKind::Remove {
                    return Err(ScimError::new(
                        ScimType::InvalidPath,
                        "members are added or replaced with the path `members`, not a filter",
                    ));
                }
                let ids = match filtered_ids(filter) {
                    Some(ids) => ids,
                    None => {
                        // Any other filter: try it on each member.
                        let members = self.store.group_members(&[id])?;
                        let exact = |p: &AttrPath| p.is("value");
                        members
                            .into_iter()
                            .filter(|m| {
                                let member = json!({"value": m.user_id, "display": m.user_name, "type": "User"});
                                matches(filter, &member, &exact)
                            })
                            .map(|m| m.user_id)
                            .collect()
                    }
                };
                changes.members.push(MemberChange::Remove(ids));
                Ok(())
            }
            Path::Attr(p) => Err(not_an_attribute(p)),
            Path::Values { attr, .. } => Err(not_an_attribute(attr)),
        }
    }

    pub fn delete_group(&self, id: &str, if_match_header: Option<&str>) -> Result<Reply, ScimError> {
        let expected = if_match(if_match_header)?;
        self.store.delete_group(id, expected)?;
        Ok(Reply::no_content())
    }
}
