//! Webhook endpoints of host applications, and the deliveries that carry events to them (and
//! back-channel logout tokens to the applications that asked for them).
//!
//! Events reach deliveries in two steps, both safe on any number of instances:
//!
//! 1. **Dispatch** ([`Directory::dispatch_events`]): each enabled endpoint keeps the cursor of
//!    the last event it looked at. Dispatch reads the events after it (the event log guarantees
//!    none can appear behind a cursor once passed, see [`crate::event`]), writes a delivery for
//!    each one the endpoint subscribes to, and moves the cursor, in one transaction. The cursor
//!    moves only from the value read, so two instances never dispatch the same event twice (a
//!    unique index on endpoint and event backs it).
//! 2. **Delivery** ([`Directory::claim_deliveries`], [`Directory::finish_deliveries`]): an
//!    instance leases due deliveries; a delivery is due when its retry time has come and no
//!    earlier delivery to the same endpoint for the same resource is still pending, so each
//!    resource's events arrive in order. A lease that runs out (its instance died) lets another
//!    instance send the delivery again, with the same `webhook-id`: at least once.
//!
//! Failed attempts are retried with exponential backoff and jitter until
//! [`RetryPolicy::give_up_after`]; then the delivery is marked failed. An endpoint that has failed
//! without a single success for [`RetryPolicy::disable_endpoint_after`] is disabled, with a
//! `webhook_endpoint.disabled` event.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use diesel::sql_types::{Text, Timestamp};
use serde::Serialize;

use crate::Directory;
use crate::access::{Actor, Ctx};
use crate::audit::Subject;
use crate::db::{DbConnection, write_tx};
use crate::error::{DirectoryError, FieldErrors, Result};
use crate::event::{self, Event, EventRecord};
use crate::schema::{events, host_applications, webhook_attempts, webhook_deliveries, webhook_endpoints};
use crate::secret::new_id;
use crate::stored::stored_enum;

stored_enum! {
    /// Where a delivery stands.
    pub enum DeliveryState {
        Pending = "pending",
        Delivered = "delivered",
        Failed = "failed",
    }
}

/// The most endpoints one application may have.
pub const MAX_ENDPOINTS: i64 = 20;
/// The longest description kept.
pub const DESCRIPTION_MAX: usize = 300;
/// How much of an answer's body the delivery log keeps, in bytes.
pub const EXCERPT_MAX: usize = 1024;

/// A webhook endpoint as admins see it (its secrets never leave the gateway's seal).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WebhookEndpoint {
    pub id: String,
    pub client_id: String,
    pub url: String,
    pub description: String,
    /// Kinds and `family.*` patterns.
    pub events: Vec<String>,
    pub enabled: bool,
    /// Why Portico disabled it, when it did.
    pub disabled_reason: Option<String>,
    /// Since when every attempt failed (none since the last success).
    pub failing_since: Option<NaiveDateTime>,
    /// Until when the previous secret still signs, after a rotation.
    pub previous_secret_expires_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_endpoints)]
struct EndpointRow {
    id: String,
    application_id: String,
    url: String,
    description: String,
    event_types: String,
    enabled: bool,
    secret_sealed: String,
    previous_secret_sealed: Option<String>,
    previous_secret_expires_at: Option<NaiveDateTime>,
    cursor: i64,
    failing_since: Option<NaiveDateTime>,
    disabled_reason: Option<String>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl EndpointRow {
    fn patterns(&self) -> Vec<String> {
        serde_json::from_str(&self.event_types).unwrap_or_default()
    }

    fn view(&self) -> WebhookEndpoint {
        WebhookEndpoint {
            id: self.id.clone(),
            client_id: self.application_id.clone(),
            url: self.url.clone(),
            description: self.description.clone(),
            events: self.patterns(),
            enabled: self.enabled,
            disabled_reason: self.disabled_reason.clone(),
            failing_since: self.failing_since,
            previous_secret_expires_at: self.previous_secret_expires_at,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// A new endpoint.
#[derive(Debug, Clone, Default)]
pub struct NewWebhook {
    pub url: String,
    pub description: String,
    pub events: Vec<String>,
    pub enabled: bool,
}

/// Changes to an endpoint; `None` keeps a field.
#[derive(Debug, Clone, Default)]
pub struct WebhookChanges {
    pub url: Option<String>,
    pub description: Option<String>,
    pub events: Option<Vec<String>>,
    /// Enabling an endpoint Portico disabled clears the reason and starts afresh.
    pub enabled: Option<bool>,
}

fn validate(url: Option<&str>, description: Option<&str>, events: Option<&[String]>) -> Result<()> {
    let mut errors = FieldErrors::default();
    if let Some(url) = url {
        crate::host_application::check_uri(&mut errors, "url", url);
    }
    if description.is_some_and(|d| d.chars().count() > DESCRIPTION_MAX) {
        errors.add("description", format!("must be at most {DESCRIPTION_MAX} characters long"));
    }
    if let Some(events) = events {
        if events.is_empty() {
            errors.add("events", "subscribe to at least one kind of event (\"*\" for all)");
        }
        if let Err(DirectoryError::Validation(e)) = event::expand("events", events) {
            errors.0.extend(e.0);
        }
    }
    errors.into_result()
}

fn find_endpoint(conn: &mut DbConnection, client_id: &str, id: &str) -> Result<EndpointRow> {
    webhook_endpoints::table
        .filter(webhook_endpoints::application_id.eq(client_id))
        .filter(webhook_endpoints::id.eq(id))
        .select(EndpointRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(DirectoryError::NotFound("webhook endpoint"))
}

fn require_application(conn: &mut DbConnection, client_id: &str) -> Result<()> {
    let found: i64 = host_applications::table.filter(host_applications::id.eq(client_id)).count().get_result(conn)?;
    if found == 0 {
        return Err(DirectoryError::NotFound("application"));
    }
    Ok(())
}

fn subject(e: &EndpointRow) -> Subject {
    Subject::new(None, "webhook_endpoint", &e.id, &e.url)
        .with_details(serde_json::json!({"client_id": e.application_id}))
}

/// The last cursor of the log (0 when empty): a new endpoint starts after it.
fn last_cursor(conn: &mut DbConnection) -> Result<i64> {
    Ok(events::table.select(diesel::dsl::max(events::cursor)).first::<Option<i64>>(conn)?.unwrap_or(0))
}

/// A delivery as the delivery log shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delivery {
    pub id: String,
    pub endpoint_id: Option<String>,
    /// The `webhook-id` it is sent with (the event's id), or the logout token's `jti`.
    pub message_id: String,
    /// The event's type, or `backchannel_logout`.
    pub kind: String,
    pub event_cursor: Option<String>,
    pub state: DeliveryState,
    pub attempts: i32,
    pub next_attempt_at: Option<NaiveDateTime>,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: NaiveDateTime,
    pub delivered_at: Option<NaiveDateTime>,
}

type DeliveryRow = (
    String,
    Option<String>,
    String,
    Option<String>,
    Option<i64>,
    String,
    i32,
    NaiveDateTime,
    Option<i32>,
    Option<String>,
    NaiveDateTime,
    Option<NaiveDateTime>,
);

/// The columns a [`DeliveryRow`] is read from (deliveries left-joined to their events).
#[allow(clippy::type_complexity)]
fn delivery_columns() -> (
    webhook_deliveries::id,
    webhook_deliveries::endpoint_id,
    webhook_deliveries::message_id,
    diesel::dsl::Nullable<events::kind>,
    webhook_deliveries::event_cursor,
    webhook_deliveries::state,
    webhook_deliveries::attempts,
    webhook_deliveries::next_attempt_at,
    webhook_deliveries::last_status,
    webhook_deliveries::last_error,
    webhook_deliveries::created_at,
    webhook_deliveries::delivered_at,
) {
    (
        webhook_deliveries::id,
        webhook_deliveries::endpoint_id,
        webhook_deliveries::message_id,
        events::kind.nullable(),
        webhook_deliveries::event_cursor,
        webhook_deliveries::state,
        webhook_deliveries::attempts,
        webhook_deliveries::next_attempt_at,
        webhook_deliveries::last_status,
        webhook_deliveries::last_error,
        webhook_deliveries::created_at,
        webhook_deliveries::delivered_at,
    )
}

fn delivery(
    (id, endpoint_id, message_id, kind, cursor, state, attempts, next, status, error, created, delivered): DeliveryRow,
) -> Delivery {
    let state = DeliveryState::try_from(state).unwrap_or(DeliveryState::Failed);
    Delivery {
        id,
        endpoint_id,
        message_id,
        kind: kind.unwrap_or_else(|| "backchannel_logout".to_owned()),
        event_cursor: cursor.map(|c| c.to_string()),
        next_attempt_at: (state == DeliveryState::Pending).then_some(next),
        state,
        attempts,
        last_status: status,
        last_error: error,
        created_at: created,
        delivered_at: delivered,
    }
}

/// One attempt at a delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Queryable, Selectable)]
#[diesel(table_name = webhook_attempts)]
pub struct Attempt {
    pub id: String,
    pub at: NaiveDateTime,
    pub status: Option<i32>,
    pub latency_ms: i32,
    pub response_excerpt: Option<String>,
    pub error: Option<String>,
    pub instance: String,
}

/// How failed deliveries are retried.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// The wait after the first failure; it doubles after each one.
    pub base: Duration,
    /// The longest wait between two attempts.
    pub max_interval: Duration,
    /// A delivery still failing this long after it was made is marked failed.
    pub give_up_after: Duration,
    /// An endpoint failing this long without a success is disabled.
    pub disable_endpoint_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            base: Duration::seconds(5),
            max_interval: Duration::hours(1),
            give_up_after: Duration::hours(24),
            disable_endpoint_after: Duration::days(5),
        }
    }
}

impl RetryPolicy {
    /// The wait after failed attempt number `attempts` (1 for the first), with `jitter` in
    /// [0, 1) spreading it over ±20 % so that endpoints coming back are not hit all at once.
    pub fn backoff(&self, attempts: i32, jitter: f64) -> Duration {
        let exp = attempts.clamp(1, 30) - 1;
        let base_ms = self.base.num_milliseconds().max(1) as f64;
        let ms = (base_ms * 2f64.powi(exp)).min(self.max_interval.num_milliseconds() as f64);
        let spread = 0.8 + 0.4 * jitter.clamp(0.0, 1.0);
        Duration::milliseconds((ms * spread) as i64)
    }
}

/// A message an instance leased, with all it needs to send it.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub delivery_id: String,
    pub client_id: String,
    pub endpoint_id: Option<String>,
    /// The endpoint's URL, or the application's back-channel logout URI (`None` when it was
    /// removed since).
    pub url: Option<String>,
    pub message_id: String,
    /// Sealed secrets that sign it: the current one, then the previous one while it overlaps.
    pub secrets_sealed: Vec<String>,
    pub body: OutgoingBody,
    pub attempts: i32,
    pub resource: String,
}

/// What a message carries.
#[derive(Debug, Clone)]
pub enum OutgoingBody {
    Event(EventRecord),
    /// A back-channel logout for `sub`'s session `sid`.
    Logout {
        sub: String,
        sid: String,
    },
    /// The event was pruned before it could be sent.
    Gone,
}

/// How an attempt ended.
#[derive(Debug, Clone)]
pub struct AttemptResult {
    pub status: Option<u16>,
    pub latency_ms: i32,
    pub response_excerpt: Option<String>,
    pub error: Option<String>,
    /// Retrying cannot help (the event is gone, the application has no URI any more): the
    /// delivery fails at once.
    pub give_up: bool,
}

impl AttemptResult {
    pub fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

#[derive(QueryableByName)]
struct Leased {
    #[diesel(sql_type = Text)]
    id: String,
}

/// Queues back-channel logout tokens for every application that holds a grant of `sessions`
/// (by `sid`) or of `user` and registered a back-channel logout URI, and revokes those grants:
/// call in the transaction that ends the sessions. Answers (client id, user id) of each holder.
pub(crate) fn end_grants(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    sid: Option<&str>,
    user_id: Option<&str>,
) -> Result<Vec<(String, String)>> {
    use crate::schema::op_grants;
    let mut q = op_grants::table
        .filter(op_grants::revoked_at.is_null())
        .select((op_grants::application_id, op_grants::user_id, op_grants::sid))
        .distinct()
        .into_boxed();
    if let Some(sid) = sid {
        q = q.filter(op_grants::sid.eq(sid.to_owned()));
    }
    if let Some(user) = user_id {
        q = q.filter(op_grants::user_id.eq(user.to_owned()));
    }
    if sid.is_none() && user_id.is_none() {
        return Ok(Vec::new());
    }
    let holders: Vec<(String, String, String)> = q.load(conn)?;
    if holders.is_empty() {
        return Ok(Vec::new());
    }
    let mut revoke = diesel::update(op_grants::table).filter(op_grants::revoked_at.is_null()).into_boxed();
    if let Some(sid) = sid {
        revoke = revoke.filter(op_grants::sid.eq(sid.to_owned()));
    }
    if let Some(user) = user_id {
        revoke = revoke.filter(op_grants::user_id.eq(user.to_owned()));
    }
    revoke.set(op_grants::revoked_at.eq(now)).execute(conn)?;
    let apps: Vec<String> = holders.iter().map(|h| h.0.clone()).collect();
    let listening: Vec<String> = host_applications::table
        .filter(host_applications::id.eq_any(&apps))
        .filter(host_applications::backchannel_logout_uri.is_not_null())
        .select(host_applications::id)
        .load(conn)?;
    for (app, user, sid) in holders.iter().filter(|h| listening.contains(&h.0)) {
        let id = new_id();
        diesel::insert_into(webhook_deliveries::table)
            .values((
                webhook_deliveries::id.eq(&id),
                webhook_deliveries::application_id.eq(app),
                webhook_deliveries::message_id.eq(new_id()),
                webhook_deliveries::resource.eq(format!("session:{sid}")),
                webhook_deliveries::payload.eq(serde_json::json!({"sub": user, "sid": sid}).to_string()),
                webhook_deliveries::state.eq(DeliveryState::Pending.as_str()),
                webhook_deliveries::attempts.eq(0),
                webhook_deliveries::next_attempt_at.eq(now),
                webhook_deliveries::created_at.eq(now),
                webhook_deliveries::updated_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(holders.into_iter().map(|(a, u, _)| (a, u)).collect())
}

impl Directory {
    /// Adds a webhook endpoint to application `client_id` (operators). `secret_sealed` is its
    /// signing secret as the gateway sealed it. It receives events written from now on.
    pub fn create_webhook(
        &self,
        ctx: &Ctx<'_>,
        client_id: &str,
        new: &NewWebhook,
        secret_sealed: &str,
    ) -> Result<WebhookEndpoint> {
        ctx.require_platform_admin()?;
        validate(Some(&new.url), Some(&new.description), Some(&new.events))?;
        self.audited(ctx, "webhook.create", |conn, now| {
            require_application(conn, client_id)?;
            let existing: i64 = webhook_endpoints::table
                .filter(webhook_endpoints::application_id.eq(client_id))
                .count()
                .get_result(conn)?;
            if existing >= MAX_ENDPOINTS {
                return Err(DirectoryError::Conflict(format!(
                    "an application may have at most {MAX_ENDPOINTS} webhook endpoints"
                )));
            }
            let row = EndpointRow {
                id: new_id(),
                application_id: client_id.to_owned(),
                url: new.url.clone(),
                description: new.description.trim().to_owned(),
                event_types: serde_json::to_string(&new.events).map_err(|e| DirectoryError::Internal(e.to_string()))?,
                enabled: new.enabled,
                secret_sealed: secret_sealed.to_owned(),
                previous_secret_sealed: None,
                previous_secret_expires_at: None,
                cursor: last_cursor(conn)?,
                failing_since: None,
                disabled_reason: None,
                created_at: now,
                updated_at: now,
            };
            diesel::insert_into(webhook_endpoints::table)
                .values((
                    webhook_endpoints::id.eq(&row.id),
                    webhook_endpoints::application_id.eq(&row.application_id),
                    webhook_endpoints::url.eq(&row.url),
                    webhook_endpoints::description.eq(&row.description),
                    webhook_endpoints::event_types.eq(&row.event_types),
                    webhook_endpoints::enabled.eq(row.enabled),
                    webhook_endpoints::secret_sealed.eq(&row.secret_sealed),
                    webhook_endpoints::cursor.eq(row.cursor),
                    webhook_endpoints::created_at.eq(now),
                    webhook_endpoints::updated_at.eq(now),
                ))
                .execute(conn)?;
            let subject = subject(&row);
            Ok((row.view(), subject))
        })
    }

    /// The endpoints of application `client_id` (operators).
    pub fn webhooks(&self, ctx: &Ctx<'_>, client_id: &str) -> Result<Vec<WebhookEndpoint>> {
        ctx.require_platform_admin()?;
        let mut conn = self.conn()?;
        require_application(&mut conn, client_id)?;
        let rows: Vec<EndpointRow> = webhook_endpoints::table
            .filter(webhook_endpoints::application_id.eq(client_id))
            .select(EndpointRow::as_select())
            .order(webhook_endpoints::created_at.asc())
            .load(&mut conn)?;
        Ok(rows.iter().map(EndpointRow::view).collect())
    }

    /// One endpoint (operators).
    pub fn webhook(&self, ctx: &Ctx<'_>, client_id: &str, id: &str) -> Result<WebhookEndpoint> {
        ctx.require_platform_admin()?;
        let mut conn = self.conn()?;
        Ok(find_endpoint(&mut conn, client_id, id)?.view())
    }

    /// Changes an endpoint (operators). A new subscription applies to events written from now
    /// on; events already dispatched keep their deliveries.
    pub fn update_webhook(
        &self,
        ctx: &Ctx<'_>,
        client_id: &str,
        id: &str,
        changes: &WebhookChanges,
    ) -> Result<WebhookEndpoint> {
        ctx.require_platform_admin()?;
        validate(changes.url.as_deref(), changes.description.as_deref(), changes.events.as_deref())?;
        self.audited(ctx, "webhook.update", |conn, now| {
            let mut row = find_endpoint(conn, client_id, id)?;
            if let Some(url) = &changes.url {
                row.url = url.clone();
            }
            if let Some(d) = &changes.description {
                row.description = d.trim().to_owned();
            }
            if let Some(events) = &changes.events {
                row.event_types = serde_json::to_string(events).map_err(|e| DirectoryError::Internal(e.to_string()))?;
            }
            let enabling = changes.enabled == Some(true) && !row.enabled;
            if let Some(enabled) = changes.enabled {
                row.enabled = enabled;
            }
            if enabling {
                // A fresh start: what happened while it was off is not sent.
                row.cursor = last_cursor(conn)?;
                row.failing_since = None;
                row.disabled_reason = None;
            }
            row.updated_at = now;
            diesel::update(webhook_endpoints::table.filter(webhook_endpoints::id.eq(&row.id)))
                .set((
                    webhook_endpoints::url.eq(&row.url),
                    webhook_endpoints::description.eq(&row.description),
                    webhook_endpoints::event_types.eq(&row.event_types),
                    webhook_endpoints::enabled.eq(row.enabled),
                    webhook_endpoints::cursor.eq(row.cursor),
                    webhook_endpoints::failing_since.eq(row.failing_since),
                    webhook_endpoints::disabled_reason.eq(&row.disabled_reason),
                    webhook_endpoints::updated_at.eq(now),
                ))
                .execute(conn)?;
            let subject = subject(&row);
            Ok((row.view(), subject))
        })
    }

    /// Deletes an endpoint and its delivery log (operators).
    pub fn delete_webhook(&self, ctx: &Ctx<'_>, client_id: &str, id: &str) -> Result<()> {
        ctx.require_platform_admin()?;
        self.audited(ctx, "webhook.delete", |conn, _now| {
            let row = find_endpoint(conn, client_id, id)?;
            diesel::delete(webhook_endpoints::table.filter(webhook_endpoints::id.eq(&row.id))).execute(conn)?;
            Ok(((), subject(&row)))
        })
    }

    /// Gives an endpoint a new signing secret (operators); the previous one keeps signing
    /// beside it until `overlap` has passed, so a receiver can switch without losing messages.
    pub fn rotate_webhook_secret(
        &self,
        ctx: &Ctx<'_>,
        client_id: &str,
        id: &str,
        new_sealed: &str,
        overlap: Duration,
    ) -> Result<WebhookEndpoint> {
        ctx.require_platform_admin()?;
        self.audited(ctx, "webhook.rotate_secret", |conn, now| {
            let mut row = find_endpoint(conn, client_id, id)?;
            let until = now + overlap;
            diesel::update(webhook_endpoints::table.filter(webhook_endpoints::id.eq(&row.id)))
                .set((
                    webhook_endpoints::previous_secret_sealed.eq(&row.secret_sealed),
                    webhook_endpoints::previous_secret_expires_at.eq(until),
                    webhook_endpoints::secret_sealed.eq(new_sealed),
                    webhook_endpoints::updated_at.eq(now),
                ))
                .execute(conn)?;
            row.previous_secret_expires_at = Some(until);
            row.updated_at = now;
            let subject =
                subject(&row).with_details(serde_json::json!({"client_id": client_id, "overlap_until": until}));
            Ok((row.view(), subject))
        })
    }

    /// The newest deliveries of an endpoint, or of the application's back-channel logouts when
    /// `endpoint` is `None` (operators); `before` pages on by delivery id.
    pub fn deliveries(
        &self,
        ctx: &Ctx<'_>,
        client_id: &str,
        endpoint: Option<&str>,
        before: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Delivery>> {
        ctx.require_platform_admin()?;
        let mut conn = self.conn()?;
        require_application(&mut conn, client_id)?;
        let mut q = webhook_deliveries::table
            .left_join(events::table)
            .filter(webhook_deliveries::application_id.eq(client_id))
            .select(delivery_columns())
            .order(webhook_deliveries::id.desc())
            .limit(limit.clamp(1, 500))
            .into_boxed();
        match endpoint {
            Some(e) => {
                find_endpoint(&mut conn, client_id, e)?;
                q = q.filter(webhook_deliveries::endpoint_id.eq(e.to_owned()));
            }
            None => q = q.filter(webhook_deliveries::endpoint_id.is_null()),
        }
        if let Some(before) = before {
            q = q.filter(webhook_deliveries::id.lt(before.to_owned()));
        }
        let rows: Vec<DeliveryRow> = q.load(&mut conn)?;
        Ok(rows.into_iter().map(delivery).collect())
    }

    /// The attempts at one delivery of application `client_id`, newest first (operators).
    pub fn delivery_attempts(&self, ctx: &Ctx<'_>, client_id: &str, delivery_id: &str) -> Result<Vec<Attempt>> {
        ctx.require_platform_admin()?;
        let mut conn = self.conn()?;
        let owner: Option<String> = webhook_deliveries::table
            .filter(webhook_deliveries::id.eq(delivery_id))
            .select(webhook_deliveries::application_id)
            .first(&mut conn)
            .optional()?;
        if owner.as_deref() != Some(client_id) {
            return Err(DirectoryError::NotFound("delivery"));
        }
        Ok(webhook_attempts::table
            .filter(webhook_attempts::delivery_id.eq(delivery_id))
            .select(Attempt::as_select())
            .order(webhook_attempts::at.desc())
            .limit(100)
            .load(&mut conn)?)
    }

    /// Sends a delivery again (operators): it becomes pending and due now, keeping its
    /// `webhook-id` and its history.
    pub fn resend_delivery(&self, ctx: &Ctx<'_>, client_id: &str, delivery_id: &str) -> Result<Delivery> {
        ctx.require_platform_admin()?;
        self.audited(ctx, "webhook.resend", |conn, now| {
            let changed = diesel::update(
                webhook_deliveries::table
                    .filter(webhook_deliveries::id.eq(delivery_id))
                    .filter(webhook_deliveries::application_id.eq(client_id)),
            )
            .set((
                webhook_deliveries::state.eq(DeliveryState::Pending.as_str()),
                webhook_deliveries::next_attempt_at.eq(now),
                webhook_deliveries::lease_until.eq(None::<NaiveDateTime>),
                webhook_deliveries::leased_by.eq(None::<String>),
                webhook_deliveries::updated_at.eq(now),
            ))
            .execute(conn)?;
            if changed != 1 {
                return Err(DirectoryError::NotFound("delivery"));
            }
            let row: DeliveryRow = webhook_deliveries::table
                .left_join(events::table)
                .filter(webhook_deliveries::id.eq(delivery_id))
                .select(delivery_columns())
                .first(conn)?;
            let subject = Subject::new(None, "webhook_delivery", delivery_id, &row.2)
                .with_details(serde_json::json!({"client_id": client_id}));
            Ok((delivery(row), subject))
        })
    }

    /// Writes deliveries for the events after each enabled endpoint's cursor, at most `batch`
    /// events per endpoint; answers how many deliveries it wrote.
    pub fn dispatch_events(&self, batch: i64) -> Result<usize> {
        let mut conn = self.conn()?;
        let endpoints: Vec<(String, i64)> = webhook_endpoints::table
            .filter(webhook_endpoints::enabled.eq(true))
            .select((webhook_endpoints::id, webhook_endpoints::cursor))
            .load(&mut conn)?;
        let last = last_cursor(&mut conn)?;
        drop(conn);
        let mut written = 0;
        for (id, cursor) in endpoints {
            if cursor >= last {
                continue;
            }
            written += self.dispatch_endpoint(&id, cursor, batch)?;
        }
        Ok(written)
    }

    fn dispatch_endpoint(&self, endpoint_id: &str, from: i64, batch: i64) -> Result<usize> {
        use crate::schema::host_application_enterprises as hae;
        self.write(|conn, now| {
            let row: EndpointRow = webhook_endpoints::table
                .filter(webhook_endpoints::id.eq(endpoint_id))
                .select(EndpointRow::as_select())
                .first(conn)?;
            if row.cursor != from || !row.enabled {
                return Ok(0); // another instance moved it on
            }
            let rows: Vec<(i64, String, String, Option<String>, String)> = events::table
                .filter(events::cursor.gt(from))
                .order(events::cursor.asc())
                .limit(batch)
                .select((events::cursor, events::id, events::kind, events::enterprise_id, events::resource))
                .load(conn)?;
            let Some(last) = rows.last().map(|r| r.0) else { return Ok(0) };
            // Claim the range first: a second dispatcher's compare-and-set fails here.
            let moved = diesel::update(
                webhook_endpoints::table
                    .filter(webhook_endpoints::id.eq(endpoint_id))
                    .filter(webhook_endpoints::cursor.eq(from)),
            )
            .set(webhook_endpoints::cursor.eq(last))
            .execute(conn)?;
            if moved != 1 {
                return Ok(0);
            }
            let all: bool = host_applications::table
                .filter(host_applications::id.eq(&row.application_id))
                .select(host_applications::all_enterprises)
                .first(conn)?;
            let allowed: Vec<String> = if all {
                Vec::new()
            } else {
                hae::table.filter(hae::application_id.eq(&row.application_id)).select(hae::enterprise_id).load(conn)?
            };
            let patterns = row.patterns();
            let mut written = 0;
            for (cursor, id, kind, enterprise, resource) in &rows {
                if !event::matches(&patterns, kind) {
                    continue;
                }
                // An application serving some enterprises hears of theirs only.
                if !all && !enterprise.as_ref().is_some_and(|e| allowed.contains(e)) {
                    continue;
                }
                diesel::insert_into(webhook_deliveries::table)
                    .values((
                        webhook_deliveries::id.eq(new_id()),
                        webhook_deliveries::application_id.eq(&row.application_id),
                        webhook_deliveries::endpoint_id.eq(endpoint_id),
                        webhook_deliveries::event_cursor.eq(cursor),
                        webhook_deliveries::message_id.eq(id),
                        webhook_deliveries::resource.eq(resource),
                        webhook_deliveries::state.eq(DeliveryState::Pending.as_str()),
                        webhook_deliveries::attempts.eq(0),
                        webhook_deliveries::next_attempt_at.eq(now),
                        webhook_deliveries::created_at.eq(now),
                        webhook_deliveries::updated_at.eq(now),
                    ))
                    .execute(conn)?;
                written += 1;
            }
            Ok(written)
        })
    }

    /// Leases up to `limit` due deliveries to this instance for `lease`; answers them ready to
    /// send.
    pub fn claim_deliveries(&self, limit: i64, lease: Duration) -> Result<Vec<Outgoing>> {
        let now = self.now();
        let until = now + lease;
        let me = self.jobs.instance.clone();
        let mut conn = self.conn()?;
        // Most passes find nothing due: a read says so without taking the write lock.
        let due: bool = diesel::select(diesel::dsl::exists(
            webhook_deliveries::table
                .filter(webhook_deliveries::state.eq(DeliveryState::Pending.as_str()))
                .filter(webhook_deliveries::next_attempt_at.le(now)),
        ))
        .get_result(&mut conn)?;
        if !due {
            return Ok(Vec::new());
        }
        // Due, not leased (or its lease ran out), and first in line for its endpoint and
        // resource: nothing earlier for the same resource is still pending.
        let picked = "SELECT d.id FROM webhook_deliveries d \
                      WHERE d.state = 'pending' AND d.next_attempt_at <= $1 \
                        AND (d.lease_until IS NULL OR d.lease_until < $1) \
                        AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e \
                            WHERE e.endpoint_id = d.endpoint_id AND e.resource = d.resource \
                              AND e.state = 'pending' AND e.event_cursor < d.event_cursor) \
                      ORDER BY d.next_attempt_at, d.event_cursor LIMIT $4";
        let leased: Vec<Leased> = write_tx(&mut conn, |c| {
            Ok(match c {
                DbConnection::Postgresql(pg) => diesel::sql_query(format!(
                    "UPDATE webhook_deliveries SET lease_until = $2, leased_by = $3 \
                     WHERE id IN ({picked} FOR UPDATE SKIP LOCKED) RETURNING id"
                ))
                .bind::<Timestamp, _>(now)
                .bind::<Timestamp, _>(until)
                .bind::<Text, _>(&me)
                .bind::<diesel::sql_types::BigInt, _>(limit)
                .load(pg)?,
                DbConnection::Sqlite(lite) => diesel::sql_query(
                    format!(
                        "UPDATE webhook_deliveries SET lease_until = $2, leased_by = $3 WHERE id IN ({picked}) RETURNING id"
                    )
                    .replace('$', "?"),
                )
                .bind::<Timestamp, _>(now)
                .bind::<Timestamp, _>(until)
                .bind::<Text, _>(&me)
                .bind::<diesel::sql_types::BigInt, _>(limit)
                .load(lite)?,
            })
        })?;
        if leased.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<&str> = leased.iter().map(|l| l.id.as_str()).collect();
        type Row = (String, String, Option<String>, Option<i64>, String, Option<String>, i32, String);
        let rows: Vec<Row> = webhook_deliveries::table
            .filter(webhook_deliveries::id.eq_any(&ids))
            .select((
                webhook_deliveries::id,
                webhook_deliveries::application_id,
                webhook_deliveries::endpoint_id,
                webhook_deliveries::event_cursor,
                webhook_deliveries::message_id,
                webhook_deliveries::payload,
                webhook_deliveries::attempts,
                webhook_deliveries::resource,
            ))
            .load(&mut conn)?;
        let mut out = Vec::with_capacity(rows.len());
        for (id, client_id, endpoint_id, cursor, message_id, payload, attempts, resource) in rows {
            let (url, secrets, body) = match (&endpoint_id, cursor) {
                (Some(e), Some(cursor)) => {
                    let ep: Option<EndpointRow> = webhook_endpoints::table
                        .filter(webhook_endpoints::id.eq(e))
                        .select(EndpointRow::as_select())
                        .first(&mut conn)
                        .optional()?;
                    let Some(ep) = ep else { continue };
                    let mut secrets = vec![ep.secret_sealed.clone()];
                    if let (Some(prev), Some(until)) = (&ep.previous_secret_sealed, ep.previous_secret_expires_at)
                        && until > now
                    {
                        secrets.push(prev.clone());
                    }
                    let body = match event::event_at(&mut conn, cursor)? {
                        Some(e) => OutgoingBody::Event(e),
                        None => OutgoingBody::Gone,
                    };
                    (Some(ep.url), secrets, body)
                }
                _ => {
                    let uri: Option<Option<String>> = host_applications::table
                        .filter(host_applications::id.eq(&client_id))
                        .select(host_applications::backchannel_logout_uri)
                        .first(&mut conn)
                        .optional()?;
                    let p: serde_json::Value =
                        serde_json::from_str(payload.as_deref().unwrap_or("{}")).unwrap_or_default();
                    let body = OutgoingBody::Logout {
                        sub: p["sub"].as_str().unwrap_or_default().to_owned(),
                        sid: p["sid"].as_str().unwrap_or_default().to_owned(),
                    };
                    (uri.flatten(), Vec::new(), body)
                }
            };
            out.push(Outgoing {
                delivery_id: id,
                client_id,
                endpoint_id,
                url,
                message_id,
                secrets_sealed: secrets,
                body,
                attempts,
                resource,
            });
        }
        Ok(out)
    }

    /// Records attempts at deliveries this instance leased, in one transaction, and moves each
    /// delivery on: delivered, due again after a backoff, or failed for good. Each result comes
    /// with its `jitter`, in [0, 1).
    pub fn finish_deliveries(&self, results: &[(String, AttemptResult, f64)], policy: &RetryPolicy) -> Result<()> {
        if results.is_empty() {
            return Ok(());
        }
        let me = self.jobs.instance.clone();
        let system = Actor::System;
        let ctx = Ctx::new(&system, None);
        self.write(|conn, now| {
            for (id, result, jitter) in results {
                finish_one(conn, now, &ctx, &me, id, result, policy, *jitter)?;
            }
            Ok(())
        })
    }

    /// How many deliveries are pending in all (for metrics and tests).
    pub fn pending_deliveries(&self) -> Result<i64> {
        let mut conn = self.conn()?;
        Ok(webhook_deliveries::table
            .filter(webhook_deliveries::state.eq(DeliveryState::Pending.as_str()))
            .count()
            .get_result(&mut conn)?)
    }

    /// Per endpoint of application `client_id`: deliveries pending, and failed for good in the
    /// last day (the console's health column).
    pub fn webhook_health(&self, ctx: &Ctx<'_>, client_id: &str) -> Result<Vec<(String, i64, i64)>> {
        ctx.require_platform_admin()?;
        let mut conn = self.conn()?;
        let since = self.now() - Duration::days(1);
        let endpoints: Vec<String> = webhook_endpoints::table
            .filter(webhook_endpoints::application_id.eq(client_id))
            .select(webhook_endpoints::id)
            .load(&mut conn)?;
        let mut out = Vec::new();
        for e in endpoints {
            let pending: i64 = webhook_deliveries::table
                .filter(webhook_deliveries::endpoint_id.eq(&e))
                .filter(webhook_deliveries::state.eq(DeliveryState::Pending.as_str()))
                .count()
                .get_result(&mut conn)?;
            let failed: i64 = webhook_deliveries::table
                .filter(webhook_deliveries::endpoint_id.eq(&e))
                .filter(webhook_deliveries::state.eq(DeliveryState::Failed.as_str()))
                .filter(webhook_deliveries::updated_at.gt(since))
                .count()
                .get_result(&mut conn)?;
            out.push((e, pending, failed));
        }
        Ok(out)
    }
}

/// Records one attempt and moves its delivery on (see [`Directory::finish_deliveries`]).
#[allow(clippy::too_many_arguments)]
fn finish_one(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    ctx: &Ctx<'_>,
    me: &str,
    delivery_id: &str,
    result: &AttemptResult,
    policy: &RetryPolicy,
    jitter: f64,
) -> Result<()> {
    diesel::insert_into(webhook_attempts::table)
        .values((
            webhook_attempts::id.eq(new_id()),
            webhook_attempts::delivery_id.eq(delivery_id),
            webhook_attempts::at.eq(now),
            webhook_attempts::status.eq(result.status.map(i32::from)),
            webhook_attempts::latency_ms.eq(result.latency_ms),
            webhook_attempts::response_excerpt.eq(&result.response_excerpt),
            webhook_attempts::error.eq(&result.error),
            webhook_attempts::instance.eq(me),
        ))
        .execute(conn)?;
    let found: Option<(i32, NaiveDateTime, Option<String>, String)> = webhook_deliveries::table
        .filter(webhook_deliveries::id.eq(delivery_id))
        .filter(webhook_deliveries::state.eq(DeliveryState::Pending.as_str()))
        .filter(webhook_deliveries::leased_by.eq(me))
        .select((
            webhook_deliveries::attempts,
            webhook_deliveries::created_at,
            webhook_deliveries::endpoint_id,
            webhook_deliveries::application_id,
        ))
        .first(conn)
        .optional()?;
    // Not ours any more (the lease ran out and another instance took it): the attempt
    // is on record, the other instance decides what comes next.
    let Some((attempts, created_at, endpoint_id, client_id)) = found else { return Ok(()) };
    let attempts = attempts + 1;
    let last_error = result.error.clone().or_else(|| result.status.map(|s| format!("answered {s}")));
    let base = diesel::update(webhook_deliveries::table.filter(webhook_deliveries::id.eq(delivery_id)));
    if result.succeeded() {
        base.set((
            webhook_deliveries::state.eq(DeliveryState::Delivered.as_str()),
            webhook_deliveries::attempts.eq(attempts),
            webhook_deliveries::last_status.eq(result.status.map(i32::from)),
            webhook_deliveries::last_error.eq(None::<String>),
            webhook_deliveries::lease_until.eq(None::<NaiveDateTime>),
            webhook_deliveries::leased_by.eq(None::<String>),
            webhook_deliveries::delivered_at.eq(now),
            webhook_deliveries::updated_at.eq(now),
        ))
        .execute(conn)?;
        if let Some(e) = &endpoint_id {
            diesel::update(webhook_endpoints::table.filter(webhook_endpoints::id.eq(e)))
                .filter(webhook_endpoints::failing_since.is_not_null())
                .set(webhook_endpoints::failing_since.eq(None::<NaiveDateTime>))
                .execute(conn)?;
        }
        return Ok(());
    }
    let give_up = result.give_up || now - created_at >= policy.give_up_after;
    let state = if give_up { DeliveryState::Failed } else { DeliveryState::Pending };
    base.set((
        webhook_deliveries::state.eq(state.as_str()),
        webhook_deliveries::attempts.eq(attempts),
        webhook_deliveries::next_attempt_at.eq(now + policy.backoff(attempts, jitter)),
        webhook_deliveries::last_status.eq(result.status.map(i32::from)),
        webhook_deliveries::last_error.eq(last_error),
        webhook_deliveries::lease_until.eq(None::<NaiveDateTime>),
        webhook_deliveries::leased_by.eq(None::<String>),
        webhook_deliveries::updated_at.eq(now),
    ))
    .execute(conn)?;
    let Some(e) = endpoint_id else { return Ok(()) };
    diesel::update(webhook_endpoints::table.filter(webhook_endpoints::id.eq(&e)))
        .filter(webhook_endpoints::failing_since.is_null())
        .set(webhook_endpoints::failing_since.eq(now))
        .execute(conn)?;
    let since: Option<NaiveDateTime> = webhook_endpoints::table
        .filter(webhook_endpoints::id.eq(&e))
        .filter(webhook_endpoints::enabled.eq(true))
        .select(webhook_endpoints::failing_since)
        .first(conn)
        .optional()?
        .flatten();
    if let Some(since) = since
        && now - since >= policy.disable_endpoint_after
    {
        let reason = format!(
            "every delivery failed for {} days (last: {})",
            policy.disable_endpoint_after.num_days(),
            result.error.clone().or_else(|| result.status.map(|s| format!("answered {s}"))).unwrap_or_default()
        );
        diesel::update(webhook_endpoints::table.filter(webhook_endpoints::id.eq(&e)))
            .set((
                webhook_endpoints::enabled.eq(false),
                webhook_endpoints::disabled_reason.eq(&reason),
                webhook_endpoints::updated_at.eq(now),
            ))
            .execute(conn)?;
        let disabled = Event::new(
            event::WEBHOOK_ENDPOINT_DISABLED,
            None,
            format!("webhook_endpoint:{e}"),
            serde_json::json!({ "endpoint": { "id": e, "client_id": client_id }, "reason": reason, "failing_since": since.and_utc().to_rfc3339() }),
        );
        let subject =
            Subject::new(None, "webhook_endpoint", &e, &client_id).with_details(serde_json::json!({"reason": reason}));
        crate::audit::record(conn, now, ctx, "webhook.disable", &subject, crate::audit::Outcome::Success, None)?;
        event::write(conn, now, ctx, &[disabled])?;
        tracing::warn!(endpoint = %e, client = %client_id, "webhook endpoint disabled after failing for days");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_ceiling_and_spreads() {
        let p = RetryPolicy::default();
        assert_eq!(p.backoff(1, 0.5), Duration::seconds(5));
        assert_eq!(p.backoff(2, 0.5), Duration::seconds(10));
        assert_eq!(p.backoff(4, 0.5), Duration::seconds(40));
        assert_eq!(p.backoff(30, 0.5), Duration::hours(1));
        assert_eq!(p.backoff(1, 0.0), Duration::seconds(4));
        assert_eq!(p.backoff(1, 0.999_999), Duration::milliseconds(5999));
        // At least 24 hours of retries before a delivery is given up.
        let mut waited = Duration::zero();
        let mut n = 0;
        while waited < p.give_up_after {
            n += 1;
            waited += p.backoff(n, 0.0);
        }
        assert!(n > 20, "{n} attempts in a day");
    }
}
