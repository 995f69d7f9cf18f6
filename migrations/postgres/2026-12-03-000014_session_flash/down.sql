ALTER TABLE sessions DROP COLUMN flash;
