DROP INDEX sessions_expiry;
