//! The audit trail: who did what to which thing in which enterprise, and how it ended.
//! Written in the same transaction as the change it describes.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::access::Ctx;
use crate::db::DbConnection;
use crate::error::Result;
use crate::page::{Page, PageRequest};
use crate::schema::audit_events;
use crate::secret::new_id;
use crate::{Directory, DirectoryError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
    Denied,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Denied => "denied",
        }
    }
}

/// What an event is about.
#[derive(Debug, Clone, Default)]
pub struct Subject {
    pub enterprise_id: Option<String>,
    pub kind: Option<&'static str>,
    pub id: Option<String>,
    pub name: Option<String>,
    pub details: Option<serde_json::Value>,
    /// The events the change writes for the host product (see [`crate::event`]), written with
    /// its audit event.
    pub events: Vec<crate::event::Event>,
}

impl Subject {
    pub fn none() -> Self {
        Subject::default()
    }

    pub fn new(enterprise_id: Option<&str>, kind: &'static str, id: &str, name: &str) -> Self {
        Subject {
            enterprise_id: enterprise_id.map(str::to_owned),
            kind: Some(kind),
            id: Some(id.to_owned()),
            name: Some(name.to_owned()),
            details: None,
            events: Vec::new(),
        }
    }

    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }

    /// Adds an event the change writes.
    pub fn emits(mut self, event: crate::event::Event) -> Self {
        self.events.push(event);
        self
    }

    /// Adds events the change writes.
    pub fn emits_all(mut self, events: impl IntoIterator<Item = crate::event::Event>) -> Self {
        self.events.extend(events);
        self
    }
}

#[derive(Insertable)]
#[diesel(table_name = audit_events)]
struct NewEvent<'a> {
    id: String,
    at: NaiveDateTime,
    enterprise_id: Option<&'a str>,
    actor_kind: &'a str,
    actor_id: Option<&'a str>,
    actor_name: &'a str,
    action: &'a str,
    target_kind: Option<&'a str>,
    target_id: Option<&'a str>,
    target_name: Option<&'a str>,
    outcome: &'a str,
    reason: Option<&'a str>,
    operation_id: Option<&'a str>,
    details: String,
}

/// The longest reason an event keeps, in characters.
pub const REASON_MAX: usize = 1000;
/// The longest target name an event keeps, in characters.
pub const NAME_MAX: usize = 300;

/// Characters shown escaped: control characters, the line and paragraph separators, and the
/// marks that reorder text (an event must read as what it is, on one line).
fn escaped(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{061c}')
        || ('\u{202a}'..='\u{202e}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

/// Text that may come from whoever sent a request (a refused response's Issuer or Destination,
/// a NameID, a provider's error description) as the audit trail keeps it: control characters,
/// line separators and bidirectional marks escaped (a line break becomes `\n`, so one event is
/// one line wherever it is shown, and reads in the order it was written), at most
/// `max` characters (escapes included), with an ellipsis when cut.
pub fn bounded(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max * 4));
    let mut count = 0;
    for c in text.chars() {
        let width = if escaped(c) { c.escape_default().count() } else { 1 };
        if count + width > max {
            out.push('…');
            break;
        }
        count += width;
        if escaped(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Appends one event. Call inside the transaction of the change it records. The reason and
/// the target's name are stored [`bounded`].
pub(crate) fn record(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    ctx: &Ctx<'_>,
    action: &str,
    subject: &Subject,
    outcome: Outcome,
    reason: Option<&str>,
) -> Result<()> {
    let actor_name = ctx.actor.display_name();
    let reason = reason.map(|r| bounded(r, REASON_MAX));
    let target_name = subject.name.as_deref().map(|n| bounded(n, NAME_MAX));
    let enterprise_id = subject.enterprise_id.as_deref().or_else(|| ctx.actor.home_enterprise());
    diesel::insert_into(audit_events::table)
        .values(NewEvent {
            id: new_id(),
            at: now,
            enterprise_id,
            actor_kind: ctx.actor.kind(),
            actor_id: ctx.actor.id(),
            actor_name: &actor_name,
            action,
            target_kind: subject.kind,
            target_id: subject.id.as_deref(),
            target_name: target_name.as_deref(),
            outcome: outcome.as_str(),
            reason: reason.as_deref(),
            operation_id: ctx.operation_id,
            details: subject.details.as_ref().map(|d| d.to_string()).unwrap_or_else(|| "{}".into()),
        })
        .execute(conn)?;
    Ok(())
}

/// Appends a change's audit event and, when `events` says so, the events its subject carries
/// (see [`crate::event::write`]). On PostgreSQL a change with one event (the usual case) writes
/// both in one statement: one round trip fewer on every audited change.
pub(crate) fn record_with_events(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    ctx: &Ctx<'_>,
    action: &str,
    subject: &Subject,
    events: bool,
) -> Result<()> {
    use diesel::sql_types::{Integer, Nullable, Text, Timestamp};
    let one = match (&*conn, events, subject.events.as_slice()) {
        (DbConnection::Postgresql(_), true, [one]) => one,
        _ => {
            record(conn, now, ctx, action, subject, Outcome::Success, None)?;
            if events {
                crate::event::write(conn, now, ctx, &subject.events)?;
            }
            return Ok(());
        }
    };
    let key = match one.enterprise_id.as_deref() {
        Some(id) => crate::event::enterprise_key(conn, id)?,
        None => None,
    };
    let actor_name = ctx.actor.display_name();
    let target_name = subject.name.as_deref().map(|n| bounded(n, NAME_MAX));
    let enterprise_id = subject.enterprise_id.as_deref().or_else(|| ctx.actor.home_enterprise());
    let DbConnection::Postgresql(pg) = conn else {
        return Err(DirectoryError::Internal("one statement for audit and event is for PostgreSQL".into()));
    };
    diesel::sql_query(
        "WITH a AS (INSERT INTO audit_events (id, at, enterprise_id, actor_kind, actor_id, actor_name, action, \
         target_kind, target_id, target_name, outcome, reason, operation_id, details) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'success', NULL, $11, $12)), \
         c AS (UPDATE event_cursor SET last = last + 1 WHERE id = 1 RETURNING last) \
         INSERT INTO events (cursor, id, kind, version, enterprise_id, enterprise_key, resource, operation_id, \
         occurred_at, data) SELECT last, $13, $14, $15, $16, $17, $18, $11, $2, $19 FROM c",
    )
    .bind::<Text, _>(new_id())
    .bind::<Timestamp, _>(now)
    .bind::<Nullable<Text>, _>(enterprise_id)
    .bind::<Text, _>(ctx.actor.kind())
    .bind::<Nullable<Text>, _>(ctx.actor.id())
    .bind::<Text, _>(&actor_name)
    .bind::<Text, _>(action)
    .bind::<Nullable<Text>, _>(subject.kind)
    .bind::<Nullable<Text>, _>(subject.id.as_deref())
    .bind::<Nullable<Text>, _>(target_name.as_deref())
    .bind::<Nullable<Text>, _>(ctx.operation_id)
    .bind::<Text, _>(subject.details.as_ref().map(|d| d.to_string()).unwrap_or_else(|| "{}".into()))
    .bind::<Text, _>(new_id())
    .bind::<Text, _>(one.kind)
    .bind::<Integer, _>(crate::event::VERSION)
    .bind::<Nullable<Text>, _>(one.enterprise_id.as_deref())
    .bind::<Nullable<Text>, _>(key)
    .bind::<Text, _>(&one.resource)
    .bind::<Text, _>(one.data.to_string())
    .execute(pg)?;
    Ok(())
}

/// One audit event as shown to admins.
#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = audit_events)]
pub struct AuditEvent {
    pub id: String,
    pub at: NaiveDateTime,
    pub enterprise_id: Option<String>,
    pub actor_kind: String,
    pub actor_id: Option<String>,
    pub actor_name: String,
    pub action: String,
    pub target_kind: Option<String>,
    pub target_id: Option<String>,
    pub target_name: Option<String>,
    pub outcome: String,
    pub reason: Option<String>,
    pub operation_id: Option<String>,
    pub details: String,
}

/// What an admin looks for in the audit log; empty fields match everything.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// The operation id a person quoted from an error page (exact).
    pub operation_id: Option<String>,
    /// An action (`sign_in`) or a family of them (`connection.` matches every connection action).
    pub action: Option<String>,
    /// `success`, `failure` or `denied`.
    pub outcome: Option<String>,
    /// Who acted, as the log names them (exact: a login, `API key 0a1b…`).
    pub actor: Option<String>,
    /// The thing acted on, by name or id (exact).
    pub subject: Option<String>,
    /// Events at or after this time.
    pub since: Option<NaiveDateTime>,
    /// Events before this time.
    pub until: Option<NaiveDateTime>,
}

impl Directory {
    /// Events of one enterprise, newest first (enterprise admins), or of the whole platform
    /// when `enterprise_key` is `None` (operators).
    pub fn list_audit_events(
        &self,
        ctx: &Ctx<'_>,
        enterprise_key: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<AuditEvent>> {
        self.search_audit_events(ctx, enterprise_key, &AuditFilter::default(), page)
    }

    /// As [`Directory::list_audit_events`], only the events `filter` matches.
    pub fn search_audit_events(
        &self,
        ctx: &Ctx<'_>,
        enterprise_key: Option<&str>,
        filter: &AuditFilter,
        page: &PageRequest,
    ) -> Result<Page<AuditEvent>> {
        let mut conn = self.conn()?;
        let mut query = audit_events::table
            .select(AuditEvent::as_select())
            .order(audit_events::id.desc())
            .limit(page.fetch())
            .into_boxed();
        match enterprise_key {
            Some(key) => {
                let enterprise = self.visible_enterprise(&mut conn, ctx, key)?;
                ctx.require_enterprise_admin(&enterprise.id)?;
                query = query.filter(audit_events::enterprise_id.eq(enterprise.id));
            }
            None if ctx.actor.is_platform_admin() => {}
            None => {
                return Err(DirectoryError::Forbidden("only operators see every event".into()));
            }
        }
        if let Some(after) = &page.after {
            query = query.filter(audit_events::id.lt(after.clone()));
        }
        let text = |v: &Option<String>| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
        if let Some(op) = text(&filter.operation_id) {
            query = query.filter(audit_events::operation_id.eq(op));
        }
        if let Some(action) = text(&filter.action) {
            query = match action.strip_suffix('.') {
                // A family: the prefix, matched exactly up to its dot (no wildcard from input).
                Some(family) => query.filter(audit_events::action.eq(family.to_owned()).or(
                    audit_events::action.ge(format!("{family}.")).and(audit_events::action.lt(format!("{family}/"))),
                )),
                None => query.filter(audit_events::action.eq(action)),
            };
        }
        if let Some(outcome) = text(&filter.outcome) {
            query = query.filter(audit_events::outcome.eq(outcome));
        }
        if let Some(actor) = text(&filter.actor) {
            query = query.filter(audit_events::actor_name.eq(actor));
        }
        if let Some(subject) = text(&filter.subject) {
            query = query.filter(audit_events::target_name.eq(subject.clone()).or(audit_events::target_id.eq(subject)));
        }
        if let Some(since) = filter.since {
            query = query.filter(audit_events::at.ge(since));
        }
        if let Some(until) = filter.until {
            query = query.filter(audit_events::at.lt(until));
        }
        let rows = query.load(&mut conn)?;
        Ok(Page::from_rows(rows, page, |e| e.id.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::bounded;

    #[test]
    fn sender_chosen_text_is_escaped_and_cut() {
        assert_eq!(bounded("plain text", 100), "plain text");
        assert_eq!(bounded("line one\nline two\u{1b}[31m", 100), "line one\\nline two\\u{1b}[31m");
        assert_eq!(bounded(&"é".repeat(50), 10), format!("{}…", "é".repeat(10)));
        assert_eq!(bounded("", 10), "");
        assert_eq!(bounded("a\u{2028}b\u{202e}c", 100), "a\\u{2028}b\\u{202e}c");
    }
}
