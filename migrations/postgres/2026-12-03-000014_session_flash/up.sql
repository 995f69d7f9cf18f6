-- A message for the next page a session shows ("Mapping complete: 3 added"): kept on the
-- server, so that no text in a URL is ever shown as Portico's own words. Read once.
ALTER TABLE sessions ADD COLUMN flash TEXT;
