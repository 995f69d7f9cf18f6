-- Tokens an enterprise's IdP presents to the SCIM API. Like admin API keys: shown once, kept as
-- a prefix (to find and name them) and a SHA-256 hash; revoked tokens stay for the audit trail.
CREATE TABLE scim_tokens (
    id TEXT PRIMARY KEY NOT NULL,
    enterprise_id TEXT NOT NULL REFERENCES enterprises (id) ON DELETE CASCADE,
    prefix TEXT NOT NULL UNIQUE,
    secret_hash TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP,
    revoked_at TIMESTAMP
);

CREATE INDEX scim_tokens_by_enterprise ON scim_tokens (enterprise_id);
