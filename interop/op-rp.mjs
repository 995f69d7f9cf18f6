// A host application for Portico's OpenID Provider tests, built on panva's openid-client (the
// OpenID-certified relying-party library). The test plays the browser; this app does what a
// host product does with the library: discovery, the code flow with PKCE, state and nonce, ID
// token validation, userinfo, refresh, revocation and RP-initiated logout. Every check is the
// library's; the app only reports what it got.
//
// Environment: PORT, ISSUER (Portico's public URL), CLIENT_ID, CLIENT_SECRET, ENTERPRISE_KEY.
// GET /login starts a sign-in; Portico sends the browser back to /cb, which answers JSON with
// the ID token's claims, userinfo, the claims after a refresh, what userinfo says after the
// refresh token is revoked, and the end-session URL; /bye is where logout returns.
import http from "node:http";
import * as client from "openid-client";

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
};
const port = Number(env("PORT"));
const base = `http://127.0.0.1:${port}`;
const redirectUri = `${base}/cb`;

// Portico listens on loopback over plain HTTP in the tests; the library refuses that unless told.
const config = await client.discovery(
  new URL(env("ISSUER")),
  env("CLIENT_ID"),
  env("CLIENT_SECRET"),
  client.ClientSecretBasic(env("CLIENT_SECRET")),
  { execute: [client.allowInsecureRequests] },
);

// One sign-in at a time, as one browser would do.
let pending = null;

const json = (res, status, body) => {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
};

async function callback(url) {
  const { verifier, state, nonce } = pending;
  pending = null;
  const tokens = await client.authorizationCodeGrant(config, url, {
    pkceCodeVerifier: verifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  });
  const claims = tokens.claims();
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  const refreshedClaims = refreshed.claims();
  await client.tokenRevocation(config, refreshed.refresh_token);
  let afterRevocation = "accepted";
  try {
    await client.fetchUserInfo(config, refreshed.access_token, claims.sub);
  } catch (e) {
    afterRevocation = e instanceof client.WWWAuthenticateChallengeError ? e.cause[0].parameters.error : String(e);
  }
  const endSession = client.buildEndSessionUrl(config, {
    id_token_hint: tokens.id_token,
    post_logout_redirect_uri: `${base}/bye`,
    state: "after-logout",
  });
  return {
    claims,
    userinfo,
    refreshed_claims: refreshedClaims,
    userinfo_after_revocation: afterRevocation,
    end_session_url: endSession.href,
    issuer: config.serverMetadata().issuer,
  };
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, base);
  try {
    if (url.pathname === "/login") {
      const verifier = client.randomPKCECodeVerifier();
      pending = { verifier, state: client.randomState(), nonce: client.randomNonce() };
      const target = client.buildAuthorizationUrl(config, {
        redirect_uri: redirectUri,
        scope: "openid profile email organizations",
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: "S256",
        state: pending.state,
        nonce: pending.nonce,
        enterprise_key: env("ENTERPRISE_KEY"),
      });
      res.writeHead(302, { location: target.href });
      res.end();
    } else if (url.pathname === "/cb") {
      json(res, 200, await callback(url));
    } else if (url.pathname === "/bye") {
      json(res, 200, { signed_out: true, state: url.searchParams.get("state") });
    } else {
      json(res, 404, { error: "not found" });
    }
  } catch (e) {
    json(res, 500, { error: String(e), code: e.code, cause: e.cause ? String(e.cause) : undefined });
  }
});
server.listen(port, "127.0.0.1", () => console.log("ready"));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
