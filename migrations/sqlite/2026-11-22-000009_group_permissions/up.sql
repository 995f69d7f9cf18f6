-- What an org group's members may do in its organization, from a fixed set Portico defines;
-- the host product reads a user's effective permissions in one call. Keep in step with the
-- other backend.
CREATE TABLE org_group_permissions (
    group_id TEXT NOT NULL REFERENCES org_groups (id) ON DELETE CASCADE,
    permission TEXT NOT NULL CHECK (permission IN ('administer', 'create_projects', 'browse')),
    PRIMARY KEY (group_id, permission)
);
-- Everyone in an organization may browse it.
INSERT INTO org_group_permissions (group_id, permission) SELECT id, 'browse' FROM org_groups WHERE builtin;
