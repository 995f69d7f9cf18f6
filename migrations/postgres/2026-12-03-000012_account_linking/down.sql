DROP TABLE data_fixes;
ALTER TABLE users DROP COLUMN links_by_admin_only;
DROP INDEX users_external_id;
CREATE INDEX users_external_id ON users (enterprise_id, external_id);
