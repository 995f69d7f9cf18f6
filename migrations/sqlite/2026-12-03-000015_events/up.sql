-- The event log the host product reads and the webhooks that carry it (docs/events.md).
-- Keep in step with the other backend.

-- Every change a host may care about writes its event in the same transaction as the change.
-- `cursor` orders the log. On PostgreSQL it is drawn from the one row of `event_cursor`, which
-- the writing transaction updates (so locks) as it inserts its events and holds until it
-- commits; on SQLite, where writers take turns, it follows the largest one. Either way cursors
-- are drawn in the order transactions commit, and a cursor becomes visible only after every
-- smaller one did. `resource` ("user:ID") orders the deliveries of one thing. Events
-- outlive their enterprise: no foreign key, and the enterprise's key is kept with the event.
CREATE TABLE event_cursor (
    id INTEGER PRIMARY KEY NOT NULL,
    last INTEGER NOT NULL
);
INSERT INTO event_cursor (id, last) VALUES (1, 0);

CREATE TABLE events (
    cursor INTEGER PRIMARY KEY NOT NULL,
    id TEXT NOT NULL,
    kind TEXT NOT NULL,
    version INTEGER NOT NULL,
    enterprise_id TEXT,
    enterprise_key TEXT,
    resource TEXT NOT NULL,
    operation_id TEXT,
    occurred_at TIMESTAMP NOT NULL,
    data TEXT NOT NULL
);
-- One index besides the cursor, for an enterprise's own readers: each index is a page more to
-- write with every change. Pruning finds its cut by cursor (events are written in time order).
CREATE INDEX events_enterprise ON events (enterprise_id, cursor);

-- Endpoints a host application receives events at (Standard Webhooks). The signing secret is
-- sealed with security.secret_key (Portico must sign with it, so it cannot be hashed); after a
-- rotation the previous secret signs too, until `previous_secret_expires_at`. `event_types` is a
-- JSON array of kinds and `family.*` patterns. `cursor` is the last event this endpoint's
-- deliveries were made for: every event after it is still to be looked at.
CREATE TABLE webhook_endpoints (
    id TEXT PRIMARY KEY NOT NULL,
    application_id TEXT NOT NULL REFERENCES host_applications (id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    description TEXT NOT NULL,
    event_types TEXT NOT NULL,
    enabled BOOLEAN NOT NULL,
    secret_sealed TEXT NOT NULL,
    previous_secret_sealed TEXT,
    previous_secret_expires_at TIMESTAMP,
    cursor INTEGER NOT NULL,
    failing_since TIMESTAMP,
    disabled_reason TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX webhook_endpoints_application ON webhook_endpoints (application_id);

-- One message to send: an event to a webhook endpoint, or a back-channel logout token to an
-- application (endpoint_id NULL, payload holding sub and sid). Claimed by any instance with a
-- lease; a delivery waits while an earlier one for the same endpoint and resource is pending,
-- so each resource's messages arrive in order. Deliveries are pruned by their own age, like
-- events (no foreign key to the event: a delivery outliving its event is answered "gone").
CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY NOT NULL,
    application_id TEXT NOT NULL REFERENCES host_applications (id) ON DELETE CASCADE,
    endpoint_id TEXT REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_cursor INTEGER,
    message_id TEXT NOT NULL,
    resource TEXT NOT NULL,
    payload TEXT,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL,
    lease_until TIMESTAMP,
    leased_by TEXT,
    last_status INTEGER,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    delivered_at TIMESTAMP
);
CREATE UNIQUE INDEX webhook_deliveries_once ON webhook_deliveries (endpoint_id, event_cursor);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at);
CREATE INDEX webhook_deliveries_resource ON webhook_deliveries (endpoint_id, resource, event_cursor);
CREATE INDEX webhook_deliveries_application ON webhook_deliveries (application_id, created_at);
CREATE INDEX webhook_deliveries_created ON webhook_deliveries (created_at);

-- Every attempt at a delivery, for the delivery log: the answer's status, how long it took,
-- the start of its body (at most 1 KiB), or why there was no answer.
CREATE TABLE webhook_attempts (
    id TEXT PRIMARY KEY NOT NULL,
    delivery_id TEXT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    at TIMESTAMP NOT NULL,
    status INTEGER,
    latency_ms INTEGER NOT NULL,
    response_excerpt TEXT,
    error TEXT,
    instance TEXT NOT NULL
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, at);
