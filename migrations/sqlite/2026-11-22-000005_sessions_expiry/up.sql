-- Every sign-in sweeps sessions that ended (expires_at < now) in its own transaction; the index
-- keeps that sweep from reading the whole table.
CREATE INDEX sessions_expiry ON sessions (expires_at);
