-- A mapping (IdP group G, organization O) now lives on the org group of O that G feeds, instead
-- of a row of its own: a fresh "map all" writes one row per link (the org group it creates)
-- rather than two, and an org group is fed by one IdP group at most, so two IdP groups are
-- never merged into one org group behind the admin's back. The org group's `sso` members are
-- still G's members, read through this column at query time and never copied.
-- Keep in step with the other backend.
ALTER TABLE org_groups ADD COLUMN idp_group_id TEXT REFERENCES idp_groups (id) ON DELETE SET NULL;
-- True when the org group was created for its mapping: it then follows renames of G.
ALTER TABLE org_groups ADD COLUMN created_by_mapping BOOLEAN NOT NULL DEFAULT FALSE;

-- A group that several IdP groups fed keeps the one of its own name, else the earliest mapped.
UPDATE org_groups
SET idp_group_id = (
        SELECT m.idp_group_id FROM group_mappings m JOIN idp_groups g ON g.id = m.idp_group_id
        WHERE m.org_group_id = org_groups.id AND g.display_name = org_groups.name),
    created_by_mapping = (
        SELECT m.created_group FROM group_mappings m JOIN idp_groups g ON g.id = m.idp_group_id
        WHERE m.org_group_id = org_groups.id AND g.display_name = org_groups.name)
WHERE EXISTS (
    SELECT 1 FROM group_mappings m JOIN idp_groups g ON g.id = m.idp_group_id
    WHERE m.org_group_id = org_groups.id AND g.display_name = org_groups.name);
UPDATE org_groups
SET idp_group_id = (
        SELECT m.idp_group_id FROM group_mappings m WHERE m.org_group_id = org_groups.id
        ORDER BY m.created_at, m.idp_group_id LIMIT 1),
    created_by_mapping = (
        SELECT m.created_group FROM group_mappings m WHERE m.org_group_id = org_groups.id
        ORDER BY m.created_at, m.idp_group_id LIMIT 1)
WHERE idp_group_id IS NULL AND id IN (SELECT org_group_id FROM group_mappings);

-- One org group per (IdP group, organization); unfed groups (NULL) are not constrained.
CREATE UNIQUE INDEX org_groups_idp_group ON org_groups (idp_group_id, organization_id);
-- Copies of `sso` memberships from before they were derived: few or none, found without a scan.
CREATE INDEX org_group_members_sso ON org_group_members (group_id) WHERE source = 'sso';

-- Org groups are found by id, by organization or by the IdP group feeding them; an index on the
-- enterprise alone led SQLite's planner to walk every group of the enterprise for one user's.
DROP INDEX org_groups_enterprise;

DROP TABLE group_mappings;
