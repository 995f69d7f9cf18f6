-- SCIM provisioning: what the IdP pushes about users, the IdP groups it pushes with their members,
-- and a short log of its requests for the admin. Keep in step with the other backend.

-- The SCIM view of a user: the IdP's own identifier for them, and the profile attributes Portico
-- does not model as columns (name parts, all emails, enterprise extension), as a JSON document.
-- users.external_id stays the sign-in subject (SAML NameID, OIDC sub).
ALTER TABLE users ADD COLUMN scim_external_id TEXT;
ALTER TABLE users ADD COLUMN scim_profile TEXT NOT NULL DEFAULT '{}';
-- Bumped on every change: the SCIM ETag (meta.version) and the If-Match check.
ALTER TABLE users ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
CREATE INDEX users_scim_external_id ON users (enterprise_id, scim_external_id);

-- Groups as the IdP knows them (SCIM Group resources). Display names are case-sensitive and
-- unique in an enterprise, since organizations are fed by name.
CREATE TABLE idp_groups (
    id TEXT PRIMARY KEY NOT NULL,
    enterprise_id TEXT NOT NULL REFERENCES enterprises (id) ON DELETE CASCADE,
    display_name TEXT NOT NULL CHECK (length(display_name) BETWEEN 1 AND 255),
    external_id TEXT,
    origin TEXT NOT NULL CHECK (origin IN ('scim', 'jit')),
    version INTEGER NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (enterprise_id, display_name)
);
CREATE INDEX idp_groups_external_id ON idp_groups (enterprise_id, external_id);

CREATE TABLE idp_group_members (
    group_id TEXT NOT NULL REFERENCES idp_groups (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX idp_group_members_user ON idp_group_members (user_id);

-- The last requests an IdP made to an enterprise's SCIM API, so an admin can see why a push
-- failed. Bodies are stored redacted and truncated; older rows are pruned.
CREATE TABLE scim_requests (
    id TEXT PRIMARY KEY NOT NULL,
    enterprise_id TEXT NOT NULL REFERENCES enterprises (id) ON DELETE CASCADE,
    at TIMESTAMP NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    status INTEGER NOT NULL,
    duration_micros INTEGER NOT NULL,
    scim_type TEXT,
    detail TEXT,
    user_agent TEXT NOT NULL DEFAULT '',
    token_prefix TEXT,
    request_body TEXT
);
CREATE INDEX scim_requests_recent ON scim_requests (enterprise_id, at);
