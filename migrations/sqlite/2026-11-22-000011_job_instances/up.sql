-- Which instance claimed a job last (its name: host and process), so that operators see where a
-- job runs and where it was taken over. Keep in step with the other backend.
ALTER TABLE jobs ADD COLUMN claimed_by TEXT;
