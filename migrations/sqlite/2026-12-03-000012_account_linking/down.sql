DROP TABLE data_fixes;
DROP INDEX users_external_id;
CREATE INDEX users_external_id ON users (enterprise_id, external_id);
