DROP TABLE org_group_permissions;
