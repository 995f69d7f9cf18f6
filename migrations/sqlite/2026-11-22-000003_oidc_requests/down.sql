ALTER TABLE sso_requests DROP COLUMN pkce_verifier;
ALTER TABLE sso_requests DROP COLUMN nonce;
