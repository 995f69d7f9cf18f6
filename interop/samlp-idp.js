// An independent SAML 2.0 identity provider for Portico's interoperability tests, built on
// Auth0's samlp (xml-crypto signatures, xml-encryption). It signs in one fixed user.
//
// Environment: PORT, ISSUER, ACS (Portico's ACS URL), IDP_CERT and IDP_KEY (PEM files),
// ENCRYPTION_CERT (optional PEM file: encrypt assertions to it), USER (JSON: login, email,
// name, groups).
"use strict";
const fs = require("fs");
const express = require("express");
const samlp = require("samlp");

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
};
const user = JSON.parse(env("USER"));
const acs = env("ACS");

// Maps our one user to SAML attributes named as Portico's "Other" preset expects.
function ProfileMapper(profile) {
  if (!(this instanceof ProfileMapper)) return new ProfileMapper(profile);
  this._profile = profile;
}
ProfileMapper.prototype.getClaims = function () {
  return { login: this._profile.login, email: this._profile.email, name: this._profile.name, groups: this._profile.groups };
};
ProfileMapper.prototype.getNameIdentifier = function () {
  return { nameIdentifier: this._profile.email, nameIdentifierFormat: "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress" };
};
ProfileMapper.prototype.metadata = [];

const options = {
  issuer: env("ISSUER"),
  cert: fs.readFileSync(env("IDP_CERT")),
  key: fs.readFileSync(env("IDP_KEY")),
  signatureAlgorithm: "rsa-sha256",
  digestAlgorithm: "sha256",
  destination: acs,
  recipient: acs,
  lifetimeInSeconds: 300,
  profileMapper: ProfileMapper,
  getPostURL: (audience, samlRequestDom, req, cb) => cb(null, acs),
  getUserFromRequest: () => user,
};
if (process.env.ENCRYPTION_CERT) {
  options.encryptionCert = fs.readFileSync(process.env.ENCRYPTION_CERT);
  options.encryptionPublicKey = fs.readFileSync(process.env.ENCRYPTION_PUBLIC_KEY);
}

const app = express();
app.get("/sso", samlp.auth(options));
app.get("/metadata", samlp.metadata({ issuer: options.issuer, cert: options.cert, redirectEndpointPath: "/sso" }));
const server = app.listen(Number(env("PORT")), "127.0.0.1", () => console.log("ready"));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
