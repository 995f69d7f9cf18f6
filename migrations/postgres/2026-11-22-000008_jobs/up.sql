-- Long work that runs in the background, on whichever instance claims it: applying "map all",
-- for example. Progress is done/total; a job whose heartbeat stops (its instance died) is
-- claimed again and resumes from its last finished chunk. Keep in step with the other backend.
CREATE TABLE jobs (
    id TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    enterprise_id TEXT REFERENCES enterprises (id) ON DELETE CASCADE,
    state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),
    done BIGINT NOT NULL DEFAULT 0,
    total BIGINT NOT NULL DEFAULT 0,
    payload TEXT NOT NULL DEFAULT '{}',
    error TEXT,
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    heartbeat_at TIMESTAMP
);
CREATE INDEX jobs_claimable ON jobs (state, created_at);
CREATE INDEX jobs_enterprise ON jobs (enterprise_id);
