-- Portico as an OpenID Provider for the host product (docs/openid-provider.md).
-- Keep in step with the other backend.

-- A session remembers how its person signed in, for the claims the host product receives:
-- `sid` names the session publicly (the session's own id is a secret kept only as a hash),
-- `connection_id` is the SSO connection that vouched for them (none for a password sign-in),
-- and `email_verified` is true only when the IdP's assertion said so.
ALTER TABLE sessions ADD COLUMN sid TEXT;
ALTER TABLE sessions ADD COLUMN connection_id TEXT;
ALTER TABLE sessions ADD COLUMN email_verified BOOLEAN NOT NULL DEFAULT FALSE;
CREATE UNIQUE INDEX sessions_sid ON sessions (sid);

-- Host applications: the OpenID Connect clients the host product registers. The client id is
-- the row's id; a confidential client's secret is kept as a SHA-256 hash (it is random, 256
-- bits), a public client has none. URIs are JSON arrays, matched exactly.
CREATE TABLE host_applications (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    public BOOLEAN NOT NULL,
    secret_hash TEXT,
    redirect_uris TEXT NOT NULL,
    post_logout_redirect_uris TEXT NOT NULL,
    backchannel_logout_uri TEXT,
    initiate_login_uri TEXT,
    all_enterprises BOOLEAN NOT NULL,
    id_token_alg TEXT NOT NULL,
    access_token_ttl_secs INTEGER NOT NULL,
    id_token_ttl_secs INTEGER NOT NULL,
    refresh_token_ttl_secs INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    secret_rotated_at TIMESTAMP
);

-- The enterprises an application may sign people in from, when not all.
CREATE TABLE host_application_enterprises (
    application_id TEXT NOT NULL REFERENCES host_applications (id) ON DELETE CASCADE,
    enterprise_id TEXT NOT NULL REFERENCES enterprises (id) ON DELETE CASCADE,
    PRIMARY KEY (application_id, enterprise_id)
);
CREATE INDEX host_application_enterprises_enterprise ON host_application_enterprises (enterprise_id);

-- A connection may name the application IdP-initiated sign-ins land in.
ALTER TABLE sso_connections ADD COLUMN default_application_id TEXT REFERENCES host_applications (id) ON DELETE SET NULL;

-- ID token signing keys, per algorithm: `next` is published before it signs, `current` signs,
-- `previous` is still published for tokens it signed. The private key is sealed with
-- security.secret_key; every instance reads the same rows.
CREATE TABLE op_signing_keys (
    kid TEXT PRIMARY KEY NOT NULL,
    alg TEXT NOT NULL,
    state TEXT NOT NULL,
    private_key_sealed TEXT NOT NULL,
    public_jwk TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    activated_at TIMESTAMP
);
CREATE UNIQUE INDEX op_signing_keys_current ON op_signing_keys (alg, state);

-- Authorization requests waiting for their person to sign in at the enterprise's IdP. The
-- validated request is kept as JSON; the row goes when the sign-in resumes or expires.
CREATE TABLE op_authorizations (
    id TEXT PRIMARY KEY NOT NULL,
    application_id TEXT NOT NULL REFERENCES host_applications (id) ON DELETE CASCADE,
    enterprise_id TEXT NOT NULL REFERENCES enterprises (id) ON DELETE CASCADE,
    request TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);

-- What a person granted an application in one sign-in: the authorization code (hashed,
-- single-use, short-lived) and what it was bound to, then the tokens issued from it. Revoking
-- the grant (a replayed code, a replayed refresh token) revokes every token issued from it.
CREATE TABLE op_grants (
    id TEXT PRIMARY KEY NOT NULL,
    application_id TEXT NOT NULL REFERENCES host_applications (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    enterprise_id TEXT NOT NULL REFERENCES enterprises (id) ON DELETE CASCADE,
    sid TEXT NOT NULL,
    connection_id TEXT,
    email_verified BOOLEAN NOT NULL,
    scope TEXT NOT NULL,
    nonce TEXT,
    auth_time TIMESTAMP NOT NULL,
    redirect_uri TEXT NOT NULL,
    code_hash TEXT NOT NULL UNIQUE,
    code_challenge TEXT,
    code_expires_at TIMESTAMP NOT NULL,
    code_used_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP
);
CREATE INDEX op_grants_sid ON op_grants (sid);
CREATE INDEX op_grants_user ON op_grants (user_id);
CREATE INDEX op_grants_application ON op_grants (application_id);

-- Access and refresh tokens, opaque to the application and kept as hashes. A refresh token is
-- used once (`used_at`); presenting it again revokes its grant.
CREATE TABLE op_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    grant_id TEXT NOT NULL REFERENCES op_grants (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP,
    revoked_at TIMESTAMP
);
CREATE INDEX op_tokens_grant ON op_tokens (grant_id);
