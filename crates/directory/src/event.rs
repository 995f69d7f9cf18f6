//! The event log the host product reads (`GET /api/v1/events`) and webhooks carry: one row per
//! change a host may care about, written in the same transaction as the change (a transactional
//! outbox), so a committed change always has its event and a rolled-back one has none.
//!
//! Events are written last in their transaction, by [`write`]. The cursor that orders the log
//! must never let a reader pass an event that is still to commit: [`write`] draws cursors from
//! the one row of `event_cursor`, whose update locks the row until the transaction ends, so
//! cursors are drawn in the order their transactions commit (PostgreSQL releases the row lock
//! only once the commit is visible; SQLite writers take turns anyway). A reader that saw cursor
//! `c` has therefore seen, or will never see, every cursor below `c`. A transaction that rolls
//! back takes its cursors back with it, so there are no gaps, but readers must not rely on that.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use serde_json::{Value, json};

use crate::Directory;
use crate::access::Ctx;
use crate::db::DbConnection;
use crate::error::{DirectoryError, FieldErrors, Result};
use crate::schema::events;
use crate::secret::new_id;

/// The schema version of every event kind's `data` (docs/events.md); raised for a kind whose
/// data changes incompatibly.
pub const VERSION: i32 = 1;

/// Every kind of event Portico writes, with its family (`user.*`).
pub const KINDS: &[&str] = &[
    USER_CREATED,
    USER_UPDATED,
    USER_DEACTIVATED,
    USER_REACTIVATED,
    USER_DELETED,
    GROUP_CREATED,
    GROUP_UPDATED,
    GROUP_DELETED,
    GROUP_MEMBERS_ADDED,
    GROUP_MEMBERS_REMOVED,
    ORGANIZATION_CREATED,
    ORGANIZATION_UPDATED,
    ORGANIZATION_DELETED,
    ORGANIZATION_MEMBERSHIP_CHANGED,
    CONNECTION_CREATED,
    CONNECTION_UPDATED,
    CONNECTION_ENABLED,
    CONNECTION_DISABLED,
    CONNECTION_DELETED,
    PROVISIONING_MODE_CHANGED,
    SIGN_IN_SUCCEEDED,
    SIGN_IN_FAILED,
    WEBHOOK_ENDPOINT_DISABLED,
];

pub const USER_CREATED: &str = "user.created";
pub const USER_UPDATED: &str = "user.updated";
pub const USER_DEACTIVATED: &str = "user.deactivated";
pub const USER_REACTIVATED: &str = "user.reactivated";
pub const USER_DELETED: &str = "user.deleted";
pub const GROUP_CREATED: &str = "group.created";
pub const GROUP_UPDATED: &str = "group.updated";
pub const GROUP_DELETED: &str = "group.deleted";
pub const GROUP_MEMBERS_ADDED: &str = "group.members_added";
pub const GROUP_MEMBERS_REMOVED: &str = "group.members_removed";
pub const ORGANIZATION_CREATED: &str = "organization.created";
pub const ORGANIZATION_UPDATED: &str = "organization.updated";
pub const ORGANIZATION_DELETED: &str = "organization.deleted";
pub const ORGANIZATION_MEMBERSHIP_CHANGED: &str = "organization.membership_changed";
pub const CONNECTION_CREATED: &str = "connection.created";
pub const CONNECTION_UPDATED: &str = "connection.updated";
pub const CONNECTION_ENABLED: &str = "connection.enabled";
pub const CONNECTION_DISABLED: &str = "connection.disabled";
pub const CONNECTION_DELETED: &str = "connection.deleted";
pub const PROVISIONING_MODE_CHANGED: &str = "provisioning.mode_changed";
pub const SIGN_IN_SUCCEEDED: &str = "sign_in.succeeded";
pub const SIGN_IN_FAILED: &str = "sign_in.failed";
pub const WEBHOOK_ENDPOINT_DISABLED: &str = "webhook_endpoint.disabled";

/// Member ids one `group.members_added` or `group.members_removed` event carries at most: a
/// change to more members writes several events, so no message grows without bound.
pub const MEMBER_IDS_PER_EVENT: usize = 1000;

/// An event to write with the change it describes.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub kind: &'static str,
    /// What the event is about, as `type:id`: deliveries of one resource keep their order.
    pub resource: String,
    pub enterprise_id: Option<String>,
    pub data: Value,
}

impl Event {
    pub fn new(kind: &'static str, enterprise_id: Option<&str>, resource: String, data: Value) -> Self {
        Event { kind, resource, enterprise_id: enterprise_id.map(str::to_owned), data }
    }

    /// An event about user `id`; `user` is its `data.user`.
    pub fn user(kind: &'static str, enterprise_id: &str, id: &str, user: Value) -> Self {
        Event::new(kind, Some(enterprise_id), format!("user:{id}"), json!({ "user": user }))
    }

    /// An event about IdP group `id`.
    pub fn group(kind: &'static str, enterprise_id: &str, id: &str, data: Value) -> Self {
        Event::new(kind, Some(enterprise_id), format!("group:{id}"), data)
    }

    /// An event about organization `id`.
    pub fn organization(kind: &'static str, enterprise_id: &str, id: &str, data: Value) -> Self {
        Event::new(kind, Some(enterprise_id), format!("organization:{id}"), data)
    }

    /// An event about SSO connection `id`.
    pub fn connection(kind: &'static str, enterprise_id: &str, id: &str, data: Value) -> Self {
        Event::new(kind, Some(enterprise_id), format!("connection:{id}"), data)
    }
}

/// `group.members_added` (or `_removed`) events for `user_ids`, in batches of
/// [`MEMBER_IDS_PER_EVENT`].
pub(crate) fn member_events(
    kind: &'static str,
    enterprise_id: &str,
    group_id: &str,
    group_name: &str,
    user_ids: &[String],
) -> Vec<Event> {
    user_ids
        .chunks(MEMBER_IDS_PER_EVENT)
        .map(|chunk| {
            Event::group(
                kind,
                enterprise_id,
                group_id,
                json!({ "group": { "id": group_id, "display_name": group_name }, "user_ids": chunk }),
            )
        })
        .collect()
}

/// `organization.membership_changed` for every organization IdP group `group_id` feeds, one
/// event per organization whatever the number of members: the host re-reads the members it
/// needs. `change` says what happened ("members_added", "mapped", ...).
pub(crate) fn membership_changed(
    conn: &mut DbConnection,
    enterprise_id: &str,
    group_id: &str,
    group_name: &str,
    change: Value,
) -> Result<Vec<Event>> {
    use crate::schema::{org_groups, organizations};
    let fed: Vec<(String, String, String, String)> = org_groups::table
        .inner_join(organizations::table)
        .filter(org_groups::idp_group_id.eq(group_id))
        .select((organizations::id, organizations::key, org_groups::id, org_groups::name))
        .order(organizations::key.asc())
        .load(conn)?;
    Ok(fed
        .into_iter()
        .map(|(org_id, org_key, org_group_id, org_group_name)| {
            organization_membership(
                enterprise_id,
                &org_id,
                &org_key,
                group_id,
                group_name,
                &org_group_id,
                &org_group_name,
                change.clone(),
            )
        })
        .collect())
}

/// One `organization.membership_changed` event.
#[allow(clippy::too_many_arguments)]
pub(crate) fn organization_membership(
    enterprise_id: &str,
    organization_id: &str,
    organization_key: &str,
    group_id: &str,
    group_name: &str,
    org_group_id: &str,
    org_group_name: &str,
    change: Value,
) -> Event {
    Event::organization(
        ORGANIZATION_MEMBERSHIP_CHANGED,
        enterprise_id,
        organization_id,
        json!({
            "organization": { "id": organization_id, "key": organization_key },
            "idp_group": { "id": group_id, "display_name": group_name },
            "org_group": { "id": org_group_id, "name": org_group_name },
            "change": change,
        }),
    )
}

/// One `organization.membership_changed` event for a change an admin made by hand to an org
/// group (no IdP group involved).
pub(crate) fn org_group_membership(
    org: &crate::organization::Organization,
    org_group_id: &str,
    org_group_name: &str,
    change: Value,
) -> Event {
    Event::organization(
        ORGANIZATION_MEMBERSHIP_CHANGED,
        &org.enterprise_id,
        &org.id,
        json!({
            "organization": { "id": org.id, "key": org.key },
            "idp_group": null,
            "org_group": { "id": org_group_id, "name": org_group_name },
            "change": change,
        }),
    )
}

/// One `organization.membership_changed` event for a change of the organization's mappings
/// (which IdP groups feed it).
pub(crate) fn org_group_membership_of(org: &crate::organization::Organization, change: Value) -> Event {
    Event::organization(
        ORGANIZATION_MEMBERSHIP_CHANGED,
        &org.enterprise_id,
        &org.id,
        json!({
            "organization": { "id": org.id, "key": org.key },
            "idp_group": null,
            "org_group": null,
            "change": change,
        }),
    )
}

#[derive(Insertable)]
#[diesel(table_name = events)]
struct NewRow<'a> {
    cursor: i64,
    id: String,
    kind: &'a str,
    version: i32,
    enterprise_id: Option<&'a str>,
    enterprise_key: Option<String>,
    resource: &'a str,
    operation_id: Option<&'a str>,
    occurred_at: NaiveDateTime,
    data: String,
}

/// Enterprise keys by id. A key never changes and an id is never reused, so what was read
/// once stays true; the map is emptied when it grows large.
static ENTERPRISE_KEYS: std::sync::LazyLock<std::sync::Mutex<std::collections::HashMap<String, String>>> =
    std::sync::LazyLock::new(Default::default);

pub(crate) fn enterprise_key(conn: &mut DbConnection, id: &str) -> Result<Option<String>> {
    if let Some(key) = ENTERPRISE_KEYS.lock().unwrap_or_else(|p| p.into_inner()).get(id) {
        return Ok(Some(key.clone()));
    }
    let key: Option<String> = crate::schema::enterprises::table
        .filter(crate::schema::enterprises::id.eq(id))
        .select(crate::schema::enterprises::key)
        .first(conn)
        .optional()?;
    if let Some(key) = &key {
        let mut keys = ENTERPRISE_KEYS.lock().unwrap_or_else(|p| p.into_inner());
        if keys.len() >= 10_000 {
            keys.clear();
        }
        keys.insert(id.to_owned(), key.clone());
    }
    Ok(key)
}

/// Writes `list`. Call last in the transaction of the change they describe: on PostgreSQL,
/// drawing the cursors locks the counter row until the transaction ends, so nothing slow should
/// follow. One event (the usual case) is one statement on either backend.
pub(crate) fn write(conn: &mut DbConnection, now: NaiveDateTime, ctx: &Ctx<'_>, list: &[Event]) -> Result<()> {
    use crate::schema::event_cursor;
    use diesel::sql_types::{Integer, Nullable, Text, Timestamp};
    if list.is_empty() {
        return Ok(());
    }
    let mut keys: Vec<(String, Option<String>)> = Vec::new();
    for id in list.iter().filter_map(|e| e.enterprise_id.as_deref()) {
        if !keys.iter().any(|(i, _)| i == id) {
            keys.push((id.to_owned(), enterprise_key(conn, id)?));
        }
    }
    let key_of = |e: &Event| {
        e.enterprise_id.as_deref().and_then(|id| keys.iter().find(|(i, _)| i == id)).and_then(|(_, k)| k.clone())
    };
    let count = list.len() as i64;
    let first = match conn {
        // Writers take turns: the next cursor follows the largest (pruning always keeps it).
        DbConnection::Sqlite(_) => {
            let max: Option<i64> = events::table.select(diesel::dsl::max(events::cursor)).first(conn)?;
            max.unwrap_or(0) + 1
        }
        // The counter row is drawn from and the event inserted in one round trip.
        DbConnection::Postgresql(pg) if count == 1 => {
            let e = &list[0];
            diesel::sql_query(
                "WITH c AS (UPDATE event_cursor SET last = last + 1 WHERE id = 1 RETURNING last) \
                 INSERT INTO events (cursor, id, kind, version, enterprise_id, enterprise_key, resource, operation_id, \
                 occurred_at, data) SELECT last, $1, $2, $3, $4, $5, $6, $7, $8, $9 FROM c",
            )
            .bind::<Text, _>(new_id())
            .bind::<Text, _>(e.kind)
            .bind::<Integer, _>(VERSION)
            .bind::<Nullable<Text>, _>(e.enterprise_id.as_deref())
            .bind::<Nullable<Text>, _>(key_of(e))
            .bind::<Text, _>(&e.resource)
            .bind::<Nullable<Text>, _>(ctx.operation_id)
            .bind::<Timestamp, _>(now)
            .bind::<Text, _>(e.data.to_string())
            .execute(pg)?;
            return Ok(());
        }
        DbConnection::Postgresql(_) => {
            let last: i64 = diesel::update(event_cursor::table.filter(event_cursor::id.eq(1)))
                .set(event_cursor::last.eq(event_cursor::last + count))
                .returning(event_cursor::last)
                .get_result(conn)?;
            last - count + 1
        }
    };
    let rows: Vec<NewRow<'_>> = list
        .iter()
        .enumerate()
        .map(|(n, e)| NewRow {
            cursor: first + n as i64,
            id: new_id(),
            kind: e.kind,
            version: VERSION,
            enterprise_id: e.enterprise_id.as_deref(),
            enterprise_key: key_of(e),
            resource: &e.resource,
            operation_id: ctx.operation_id,
            occurred_at: now,
            data: e.data.to_string(),
        })
        .collect();
    match (conn, rows.len()) {
        (conn, 1) => {
            diesel::insert_into(events::table).values(&rows[0]).execute(conn)?;
        }
        (DbConnection::Postgresql(pg), _) => {
            diesel::insert_into(events::table).values(&rows).execute(pg)?;
        }
        (DbConnection::Sqlite(lite), _) => {
            diesel::insert_into(events::table).values(&rows).execute(lite)?;
        }
    }
    Ok(())
}

/// An event as the events API and webhooks show it.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct EventRecord {
    pub id: String,
    /// The position in the log, as a string (a client passes it back as `after`).
    pub cursor: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub version: i32,
    /// The enterprise's key, when the event belongs to one.
    pub enterprise: Option<String>,
    pub occurred_at: String,
    /// The operation that caused it (the `X-Request-Id` of the request, for one).
    pub operation_id: Option<String>,
    pub data: Value,
}

type Row = (i64, String, String, i32, Option<String>, Option<String>, NaiveDateTime, String);

fn columns() -> (
    events::cursor,
    events::id,
    events::kind,
    events::version,
    events::enterprise_key,
    events::operation_id,
    events::occurred_at,
    events::data,
) {
    (
        events::cursor,
        events::id,
        events::kind,
        events::version,
        events::enterprise_key,
        events::operation_id,
        events::occurred_at,
        events::data,
    )
}

fn record((cursor, id, kind, version, enterprise, operation_id, occurred_at, data): Row) -> EventRecord {
    EventRecord {
        id,
        cursor: cursor.to_string(),
        kind,
        version,
        enterprise,
        occurred_at: occurred_at.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        operation_id,
        data: serde_json::from_str(&data).unwrap_or(Value::Null),
    }
}

/// One event by cursor, on a connection the caller holds (deliveries read theirs while leasing).
pub(crate) fn event_at(conn: &mut DbConnection, cursor: i64) -> Result<Option<EventRecord>> {
    let row: Option<Row> = events::table.filter(events::cursor.eq(cursor)).select(columns()).first(conn).optional()?;
    Ok(row.map(record))
}

/// Whether `kind` is one of `patterns` (kinds, `family.*`, or `*`).
pub fn matches(patterns: &[String], kind: &str) -> bool {
    patterns.iter().any(|p| {
        p == "*"
            || p == kind
            || p.strip_suffix(".*").is_some_and(|family| kind.split_once('.').is_some_and(|(f, _)| f == family))
    })
}

/// Checks `patterns` name kinds Portico writes; answers the kinds they cover.
pub fn expand(field: &str, patterns: &[String]) -> Result<Vec<&'static str>> {
    let mut errors = FieldErrors::default();
    for p in patterns {
        if !KINDS.iter().any(|k| matches(std::slice::from_ref(p), k)) {
            errors.add(field, format!("no events are of type {p:?}: see docs/events.md for the kinds"));
        }
    }
    errors.into_result()?;
    Ok(KINDS.iter().copied().filter(|k| matches(patterns, k)).collect())
}

/// What a reader of the log asks for.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    /// Events after this cursor (from the start when `None`).
    pub after: Option<String>,
    pub limit: i64,
    /// Kinds and `family.*` patterns; every kind when empty.
    pub types: Vec<String>,
    /// One enterprise's events only.
    pub enterprise: Option<String>,
}

/// The most events one read answers.
pub const MAX_LIMIT: i64 = 1000;

/// A page of the log.
#[derive(Debug, Clone, Serialize)]
pub struct EventPage {
    pub data: Vec<EventRecord>,
    /// The cursor to read on from: the last event's, or the one asked for when none came.
    pub next_cursor: String,
}

/// Reads `cursor` as a client sent it.
pub fn parse_cursor(cursor: Option<&str>) -> Result<i64> {
    match cursor.map(str::trim).filter(|c| !c.is_empty()) {
        None => Ok(0),
        Some(c) => c
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| FieldErrors::single("after", "must be a cursor this API answered")),
    }
}

impl Directory {
    /// Events after `query.after`, in cursor order: all of them for operators, the actor's own
    /// enterprise's for an enterprise's admins.
    pub fn events(&self, ctx: &Ctx<'_>, query: &EventQuery) -> Result<EventPage> {
        let after = parse_cursor(query.after.as_deref())?;
        let kinds = if query.types.is_empty() { Vec::new() } else { expand("types", &query.types)? };
        let limit = query.limit.clamp(1, MAX_LIMIT);
        let mut conn = self.conn()?;
        let mut q = events::table
            .filter(events::cursor.gt(after))
            .select(columns())
            .order(events::cursor.asc())
            .limit(limit)
            .into_boxed();
        if !kinds.is_empty() {
            q = q.filter(events::kind.eq_any(kinds));
        }
        let scope = match &query.enterprise {
            Some(key) => Some(self.visible_enterprise(&mut conn, ctx, key)?.id.to_string()),
            None => None,
        };
        let own = match ctx.actor.home_enterprise() {
            _ if ctx.actor.is_platform_admin() => None,
            Some(home) => Some(home.to_owned()),
            None => return Err(DirectoryError::Forbidden("only operators and enterprise admins read events".into())),
        };
        if let Some(own) = &own {
            ctx.require_enterprise_admin(own)?;
        }
        if let Some(id) = scope.or(own) {
            q = q.filter(events::enterprise_id.eq(id));
        }
        let rows: Vec<Row> = q.load(&mut conn)?;
        let data: Vec<EventRecord> = rows.into_iter().map(record).collect();
        let next_cursor = data.last().map(|e| e.cursor.clone()).unwrap_or_else(|| after.to_string());
        Ok(EventPage { data, next_cursor })
    }

    /// An enterprise's events, newest first, before cursor `before` (its admins; the console's
    /// recent-events view).
    pub fn recent_events(
        &self,
        ctx: &Ctx<'_>,
        enterprise_key: &str,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<EventRecord>> {
        let mut conn = self.conn()?;
        let enterprise = self.visible_enterprise(&mut conn, ctx, enterprise_key)?;
        ctx.require_enterprise_admin(&enterprise.id)?;
        let mut q = events::table
            .filter(events::enterprise_id.eq(enterprise.id.to_string()))
            .select(columns())
            .order(events::cursor.desc())
            .limit(limit.clamp(1, MAX_LIMIT))
            .into_boxed();
        if let Some(before) = before {
            q = q.filter(events::cursor.lt(before));
        }
        let rows: Vec<Row> = q.load(&mut conn)?;
        Ok(rows.into_iter().map(record).collect())
    }

    /// Deletes events that occurred before `before`, and deliveries made before it; answers how
    /// many events. The newest event always stays (SQLite's next cursor follows it). Events are
    /// written in time order, so the cut is found by a binary search over cursors, and removed
    /// in batches, each its own short transaction.
    pub fn prune_events(&self, before: NaiveDateTime) -> Result<usize> {
        use crate::schema::webhook_deliveries;
        let mut conn = self.conn()?;
        let bounds: (Option<i64>, Option<i64>) = events::table
            .select((diesel::dsl::min(events::cursor), diesel::dsl::max(events::cursor)))
            .first(&mut conn)?;
        let (Some(mut lo), Some(max)) = bounds else { return Ok(0) };
        // The largest cursor whose event occurred before the cut (lo - 1 when none did).
        let mut hi = max - 1;
        lo -= 1;
        while lo < hi {
            let mid = lo + (hi - lo + 1) / 2;
            let at: Option<(i64, NaiveDateTime)> = events::table
                .filter(events::cursor.ge(mid))
                .select((events::cursor, events::occurred_at))
                .order(events::cursor.asc())
                .first(&mut conn)
                .optional()?;
            match at {
                Some((_, t)) if t < before => lo = mid,
                _ => hi = mid - 1,
            }
        }
        drop(conn);
        let cut = lo;
        self.write(|conn, _| {
            Ok(diesel::delete(webhook_deliveries::table.filter(webhook_deliveries::created_at.lt(before)))
                .execute(conn)?)
        })?;
        let mut pruned = 0;
        loop {
            let n = self.write(|conn, _| {
                let batch: Vec<i64> = events::table
                    .filter(events::cursor.le(cut))
                    .select(events::cursor)
                    .order(events::cursor.asc())
                    .limit(5000)
                    .load(conn)?;
                Ok(diesel::delete(events::table.filter(events::cursor.eq_any(&batch))).execute(conn)?)
            })?;
            pruned += n;
            if n == 0 {
                return Ok(pruned);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_kinds_and_families() {
        let p = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert!(matches(&p(&["user.*"]), "user.created"));
        assert!(!matches(&p(&["user.*"]), "group.created"));
        assert!(!matches(&p(&["user"]), "user.created"));
        assert!(matches(&p(&["group.members_added"]), "group.members_added"));
        assert!(!matches(&p(&["group.members_added"]), "group.members_removed"));
        assert!(matches(&p(&["*"]), "sign_in.failed"));
        assert_eq!(expand("events", &p(&["sign_in.*"])).unwrap(), vec![SIGN_IN_SUCCEEDED, SIGN_IN_FAILED]);
        assert!(expand("events", &p(&["users.*"])).is_err());
        assert!(expand("events", &p(&["user.create"])).is_err());
    }

    #[test]
    fn cursors_are_what_the_api_answered() {
        assert_eq!(parse_cursor(None).unwrap(), 0);
        assert_eq!(parse_cursor(Some("")).unwrap(), 0);
        assert_eq!(parse_cursor(Some("42")).unwrap(), 42);
        assert!(parse_cursor(Some("-1")).is_err());
        assert!(parse_cursor(Some("abc")).is_err());
    }
}
