-- Portico foundation schema (PostgreSQL). Keep in step with ../../sqlite/ (same names, same meaning).
-- Ids are UUID v7 strings; timestamps are UTC without zone, microsecond precision.

CREATE TABLE enterprises (
    id TEXT PRIMARY KEY NOT NULL,
    key TEXT NOT NULL UNIQUE CHECK (length(key) BETWEEN 2 AND 63),
    name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    provisioning_mode TEXT NOT NULL DEFAULT 'jit' CHECK (provisioning_mode IN ('jit', 'scim')),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE organizations (
    id TEXT PRIMARY KEY NOT NULL,
    enterprise_id TEXT NOT NULL REFERENCES enterprises (id) ON DELETE CASCADE,
    key TEXT NOT NULL CHECK (length(key) BETWEEN 2 AND 63),
    name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (enterprise_id, key)
);

CREATE TABLE users (
    id TEXT PRIMARY KEY NOT NULL,
    enterprise_id TEXT NOT NULL REFERENCES enterprises (id) ON DELETE CASCADE,
    login TEXT NOT NULL CHECK (length(login) BETWEEN 1 AND 255),
    login_key TEXT NOT NULL,
    email TEXT CHECK (email IS NULL OR length(email) <= 320),
    name TEXT NOT NULL DEFAULT '' CHECK (length(name) <= 200),
    external_id TEXT,
    origin TEXT NOT NULL CHECK (origin IN ('local', 'jit', 'scim')),
    active BOOLEAN NOT NULL DEFAULT TRUE,
    password_hash TEXT,
    last_sign_in_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (enterprise_id, login_key)
);
CREATE INDEX users_external_id ON users (enterprise_id, external_id);

CREATE TABLE org_groups (
    id TEXT PRIMARY KEY NOT NULL,
    enterprise_id TEXT NOT NULL REFERENCES enterprises (id) ON DELETE CASCADE,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 255),
    description TEXT NOT NULL DEFAULT '',
    builtin BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (organization_id, name)
);
CREATE INDEX org_groups_enterprise ON org_groups (enterprise_id);

CREATE TABLE org_group_members (
    group_id TEXT NOT NULL REFERENCES org_groups (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    source TEXT NOT NULL CHECK (source IN ('sso', 'local')),
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (group_id, user_id, source)
);
CREATE INDEX org_group_members_user ON org_group_members (user_id);

CREATE TABLE operators (
    id TEXT PRIMARY KEY NOT NULL,
    login TEXT NOT NULL CHECK (length(login) BETWEEN 1 AND 255),
    login_key TEXT NOT NULL UNIQUE,
    email TEXT,
    name TEXT NOT NULL DEFAULT '',
    password_hash TEXT,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    last_sign_in_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE role_grants (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    enterprise_id TEXT NOT NULL REFERENCES enterprises (id) ON DELETE CASCADE,
    organization_id TEXT REFERENCES organizations (id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('enterprise_admin', 'org_admin')),
    created_at TIMESTAMP NOT NULL,
    CHECK ((role = 'enterprise_admin' AND organization_id IS NULL)
        OR (role = 'org_admin' AND organization_id IS NOT NULL))
);
CREATE UNIQUE INDEX role_grants_unique ON role_grants (user_id, role, COALESCE(organization_id, ''));
CREATE INDEX role_grants_enterprise ON role_grants (enterprise_id);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY NOT NULL,
    enterprise_id TEXT REFERENCES enterprises (id) ON DELETE CASCADE,
    prefix TEXT NOT NULL UNIQUE,
    secret_hash TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP,
    revoked_at TIMESTAMP
);

CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY NOT NULL,
    operator_id TEXT REFERENCES operators (id) ON DELETE CASCADE,
    user_id TEXT REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    address TEXT NOT NULL DEFAULT '',
    user_agent TEXT NOT NULL DEFAULT '',
    CHECK ((operator_id IS NULL) <> (user_id IS NULL))
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_operator ON sessions (operator_id);

CREATE TABLE setup_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    purpose TEXT NOT NULL CHECK (purpose IN ('first_operator', 'set_password')),
    operator_id TEXT REFERENCES operators (id) ON DELETE CASCADE,
    user_id TEXT REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);

CREATE TABLE sign_in_failures (
    id TEXT PRIMARY KEY NOT NULL,
    account_key TEXT NOT NULL,
    address TEXT NOT NULL,
    at TIMESTAMP NOT NULL
);
CREATE INDEX sign_in_failures_account ON sign_in_failures (account_key, at);
CREATE INDEX sign_in_failures_address ON sign_in_failures (address, at);

-- Audit events outlive what they describe: no foreign keys.
CREATE TABLE audit_events (
    id TEXT PRIMARY KEY NOT NULL,
    at TIMESTAMP NOT NULL,
    enterprise_id TEXT,
    actor_kind TEXT NOT NULL,
    actor_id TEXT,
    actor_name TEXT NOT NULL,
    action TEXT NOT NULL,
    target_kind TEXT,
    target_id TEXT,
    target_name TEXT,
    outcome TEXT NOT NULL CHECK (outcome IN ('success', 'failure', 'denied')),
    reason TEXT,
    operation_id TEXT,
    details TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_enterprise ON audit_events (enterprise_id, at);
CREATE INDEX audit_events_at ON audit_events (at);
