DROP TABLE scim_requests;
DROP TABLE idp_group_members;
DROP TABLE idp_groups;
DROP INDEX users_scim_external_id;
ALTER TABLE users DROP COLUMN version;
ALTER TABLE users DROP COLUMN scim_profile;
ALTER TABLE users DROP COLUMN scim_external_id;
