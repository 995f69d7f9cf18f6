-- OpenID Connect sign-ins keep their nonce and PKCE verifier with the pending request, so any
-- instance can finish a flow another started.
ALTER TABLE sso_requests ADD COLUMN nonce TEXT;
ALTER TABLE sso_requests ADD COLUMN pkce_verifier TEXT;
