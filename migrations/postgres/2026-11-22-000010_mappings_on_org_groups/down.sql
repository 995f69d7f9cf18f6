CREATE TABLE group_mappings (
    idp_group_id TEXT NOT NULL REFERENCES idp_groups (id) ON DELETE CASCADE,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    org_group_id TEXT NOT NULL REFERENCES org_groups (id) ON DELETE CASCADE,
    enterprise_id TEXT NOT NULL REFERENCES enterprises (id) ON DELETE CASCADE,
    created_group BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (idp_group_id, organization_id)
);
CREATE INDEX group_mappings_org_group ON group_mappings (org_group_id);
CREATE INDEX group_mappings_organization ON group_mappings (organization_id);
CREATE INDEX group_mappings_enterprise ON group_mappings (enterprise_id);
INSERT INTO group_mappings (idp_group_id, organization_id, org_group_id, enterprise_id, created_group, created_at)
SELECT idp_group_id, organization_id, id, enterprise_id, created_by_mapping, updated_at
FROM org_groups WHERE idp_group_id IS NOT NULL;
CREATE INDEX org_groups_enterprise ON org_groups (enterprise_id);
DROP INDEX org_group_members_sso;
DROP INDEX org_groups_idp_group;
ALTER TABLE org_groups DROP COLUMN created_by_mapping;
ALTER TABLE org_groups DROP COLUMN idp_group_id;
