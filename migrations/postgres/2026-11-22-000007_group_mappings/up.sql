-- Which IdP groups feed which organizations. A mapping (IdP group G, organization O) feeds one
-- org group of O, named like G: that group's `sso` members are G's members, read through this
-- row at query time and never copied, so a change to G costs the same whatever the number of
-- organizations it feeds. Keep in step with the other backend.
CREATE TABLE group_mappings (
    idp_group_id TEXT NOT NULL REFERENCES idp_groups (id) ON DELETE CASCADE,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    org_group_id TEXT NOT NULL REFERENCES org_groups (id) ON DELETE CASCADE,
    enterprise_id TEXT NOT NULL REFERENCES enterprises (id) ON DELETE CASCADE,
    -- True when the org group was created for this mapping: it then follows renames of G.
    created_group BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (idp_group_id, organization_id)
);
CREATE INDEX group_mappings_org_group ON group_mappings (org_group_id);
CREATE INDEX group_mappings_organization ON group_mappings (organization_id);
CREATE INDEX group_mappings_enterprise ON group_mappings (enterprise_id);
