// Validates a back-channel logout token as OpenID Connect Back-Channel Logout 1.0 (section 2.6)
// asks, with panva's `jose` (the JOSE library openid-client is built on): the signature against
// the OpenID Provider's JWKS, `iss`, `aud`, `iat`, the `typ` header, the logout event, a `sid`
// or `sub`, and no `nonce`. Usage: node logout-verify.mjs ISSUER JWKS_URL AUDIENCE TOKEN
// Prints the verified claims as JSON; exits 1 with the reason when the token is refused.
import { createRemoteJWKSet, jwtVerify } from "jose";

const [issuer, jwksUrl, audience, token] = process.argv.slice(2);
try {
  const jwks = createRemoteJWKSet(new URL(jwksUrl));
  const { payload } = await jwtVerify(token, jwks, {
    issuer,
    audience,
    typ: "logout+jwt",
    requiredClaims: ["iat", "jti", "events"],
    maxTokenAge: "2 minutes",
  });
  const event = payload.events?.["http://schemas.openid.net/event/backchannel-logout"];
  if (typeof event !== "object" || event === null) throw new Error("no back-channel logout event");
  if (!payload.sid && !payload.sub) throw new Error("neither sid nor sub");
  if ("nonce" in payload) throw new Error("a logout token must not carry a nonce");
  console.log(JSON.stringify(payload));
} catch (e) {
  console.error(`refused: ${e.message}`);
  process.exit(1);
}
