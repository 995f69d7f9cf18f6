-- SSO connections (SAML now, OIDC later), pending sign-in requests, the assertion replay cache
-- and test results. Keep in step with the sqlite folder.

CREATE TABLE sso_connections (
    id TEXT PRIMARY KEY NOT NULL,
    enterprise_id TEXT NOT NULL REFERENCES enterprises (id) ON DELETE CASCADE,
    protocol TEXT NOT NULL CHECK (protocol IN ('saml', 'oidc')),
    provider TEXT NOT NULL CHECK (provider IN ('okta', 'entra', 'jumpcloud', 'google', 'other', 'custom')),
    status TEXT NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'tested', 'enabled', 'disabled')),
    -- Protocol settings as JSON (IdP URLs, certificates, flags); secrets never live here in clear.
    settings TEXT NOT NULL DEFAULT '{}',
    map_login TEXT,
    map_email TEXT,
    map_name TEXT,
    map_groups TEXT,
    tested_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX sso_connections_enterprise ON sso_connections (enterprise_id);
-- At most one enabled connection per enterprise, of either protocol.
CREATE UNIQUE INDEX sso_connections_one_enabled ON sso_connections (enterprise_id) WHERE status = 'enabled';

-- Sign-ins Portico started and waits for: the AuthnRequest id (or OIDC state), shared by every
-- instance, used once.
CREATE TABLE sso_requests (
    id TEXT PRIMARY KEY NOT NULL,
    connection_id TEXT NOT NULL REFERENCES sso_connections (id) ON DELETE CASCADE,
    mode TEXT NOT NULL CHECK (mode IN ('sign_in', 'test')),
    return_to TEXT NOT NULL DEFAULT '/',
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX sso_requests_expiry ON sso_requests (expires_at);

-- Assertion ids already consumed, until they would have expired anyway.
CREATE TABLE sso_seen_assertions (
    connection_id TEXT NOT NULL REFERENCES sso_connections (id) ON DELETE CASCADE,
    assertion_id TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    PRIMARY KEY (connection_id, assertion_id)
);
CREATE INDEX sso_seen_assertions_expiry ON sso_seen_assertions (expires_at);

-- What the admin sees after "Test connection".
CREATE TABLE sso_test_results (
    id TEXT PRIMARY KEY NOT NULL,
    connection_id TEXT NOT NULL REFERENCES sso_connections (id) ON DELETE CASCADE,
    outcome TEXT NOT NULL CHECK (outcome IN ('success', 'failure')),
    reason TEXT,
    result TEXT NOT NULL DEFAULT '{}',
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX sso_test_results_connection ON sso_test_results (connection_id, created_at);
