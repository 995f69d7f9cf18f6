-- Account linking: an IdP subject names one user of an enterprise at most, so that a sign-in
-- by subject can never find two accounts. Should two users carry the same subject (none
-- should), the earliest keeps it and the others are unbound: an admin links them again.
-- Keep in step with the other backend.
UPDATE users SET external_id = NULL
WHERE external_id IS NOT NULL
  AND EXISTS (
    SELECT 1 FROM users AS earlier
    WHERE earlier.enterprise_id = users.enterprise_id
      AND earlier.external_id = users.external_id
      AND (earlier.created_at < users.created_at OR (earlier.created_at = users.created_at AND earlier.id < users.id))
  );
DROP INDEX users_external_id;
CREATE UNIQUE INDEX users_external_id ON users (enterprise_id, external_id);

-- An admin unlinked this user: from then on only an admin links it again, whatever a sign-in
-- asserts (a sign-in may otherwise link a user the IdP provisioned, on its first sign-in).
ALTER TABLE users ADD COLUMN links_by_admin_only BOOLEAN NOT NULL DEFAULT FALSE;

-- One-off data changes made by Portico itself after the migrations (such as recomputing
-- stored login keys when the way logins are compared changes), each recorded once.
CREATE TABLE data_fixes (
    name TEXT PRIMARY KEY NOT NULL,
    applied_at TIMESTAMP NOT NULL
);
