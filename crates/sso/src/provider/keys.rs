//! ID token signing keys: RSA 2048 for RS256 (the default every relying party accepts) and
//! P-256 for ES256, made and used with OpenSSL and handed to `openidconnect` as its signing
//! key, so that the ID token's encoding, header (`kid`) and `at_hash` are the library's.
//!
//! A key's id is its RFC 7638 thumbprint: the same key always has the same `kid`, on every
//! instance.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::core::{CoreJsonCurveType, CoreJsonWebKey, CoreJwsSigningAlgorithm};
use openidconnect::{JsonWebKeyId, PrivateSigningKey, SigningError};
use openssl::bn::{BigNum, BigNumContext};
use openssl::ec::{EcGroup, EcKey};
use openssl::ecdsa::EcdsaSig;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::sign::Signer;

/// A signing algorithm Portico's ID tokens use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Alg {
    Rs256,
    Es256,
}

impl Alg {
    pub fn as_str(self) -> &'static str {
        match self {
            Alg::Rs256 => "RS256",
            Alg::Es256 => "ES256",
        }
    }

    pub fn jws(self) -> CoreJwsSigningAlgorithm {
        match self {
            Alg::Rs256 => CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
            Alg::Es256 => CoreJwsSigningAlgorithm::EcdsaP256Sha256,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot make or read a signing key: {0}")]
    OpenSsl(#[from] openssl::error::ErrorStack),
    #[error("the stored key is not a {0} key")]
    WrongKind(&'static str),
}

/// A private signing key with its id and public JWK.
pub struct SigningKey {
    alg: Alg,
    kid: String,
    pkey: PKey<Private>,
    verification: CoreJsonWebKey,
    jwk: serde_json::Value,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("alg", &self.alg).field("kid", &self.kid).finish_non_exhaustive()
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// `n` as exactly `len` big-endian bytes (EC coordinates and signature halves are fixed-size).
fn padded(n: &openssl::bn::BigNumRef, len: usize) -> Result<Vec<u8>, KeyError> {
    let width = i32::try_from(len).map_err(|_| KeyError::WrongKind("P-256"))?;
    Ok(n.to_vec_padded(width)?)
}

/// RFC 7638 thumbprint of the required members, in lexicographic order.
fn thumbprint(members: &[(&str, &str)]) -> Result<String, KeyError> {
    let canonical = serde_json::Value::Object(
        members.iter().map(|(k, v)| ((*k).to_owned(), serde_json::Value::String((*v).to_owned()))).collect(),
    );
    let digest = openssl::hash::hash(MessageDigest::sha256(), canonical.to_string().as_bytes())?;
    Ok(b64(&digest))
}

impl SigningKey {
    /// A new key for `alg`, and its private half as PKCS#8 PEM (for sealing and storing).
    pub fn generate(alg: Alg) -> Result<(SigningKey, String), KeyError> {
        let pkey = match alg {
            Alg::Rs256 => PKey::from_rsa(Rsa::generate(2048)?)?,
            Alg::Es256 => {
                PKey::from_ec_key(EcKey::generate(EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?.as_ref())?)?
            }
        };
        let pem = String::from_utf8_lossy(&pkey.private_key_to_pem_pkcs8()?).into_owned();
        Ok((SigningKey::from_pkey(alg, pkey)?, pem))
    }

    /// The key stored as `pem` (PKCS#8), for `alg`.
    pub fn from_pem(alg: Alg, pem: &str) -> Result<SigningKey, KeyError> {
        SigningKey::from_pkey(alg, PKey::private_key_from_pem(pem.as_bytes())?)
    }

    fn from_pkey(alg: Alg, pkey: PKey<Private>) -> Result<SigningKey, KeyError> {
        let (kid, verification, jwk) = match alg {
            Alg::Rs256 => {
                let rsa = pkey.rsa().map_err(|_| KeyError::WrongKind("RSA"))?;
                if rsa.size() < 256 {
                    return Err(KeyError::WrongKind("RSA 2048"));
                }
                let (n, e) = (rsa.n().to_vec(), rsa.e().to_vec());
                let (n64, e64) = (b64(&n), b64(&e));
                let kid = thumbprint(&[("e", &e64), ("kty", "RSA"), ("n", &n64)])?;
                let jwk =
                    serde_json::json!({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": n64, "e": e64});
                (kid.clone(), CoreJsonWebKey::new_rsa(n, e, Some(JsonWebKeyId::new(kid))), jwk)
            }
            Alg::Es256 => {
                let ec = pkey.ec_key().map_err(|_| KeyError::WrongKind("P-256"))?;
                if ec.group().curve_name() != Some(Nid::X9_62_PRIME256V1) {
                    return Err(KeyError::WrongKind("P-256"));
                }
                let (mut x, mut y, mut ctx) = (BigNum::new()?, BigNum::new()?, BigNumContext::new()?);
                ec.public_key().affine_coordinates(ec.group(), &mut x, &mut y, &mut ctx)?;
                let (x, y) = (padded(&x, 32)?, padded(&y, 32)?);
                let (x64, y64) = (b64(&x), b64(&y));
                let kid = thumbprint(&[("crv", "P-256"), ("kty", "EC"), ("x", &x64), ("y", &y64)])?;
                let jwk = serde_json::json!({"kty": "EC", "use": "sig", "alg": "ES256", "kid": kid, "crv": "P-256", "x": x64, "y": y64});
                let verification =
                    CoreJsonWebKey::new_ec(x, y, CoreJsonCurveType::P256, Some(JsonWebKeyId::new(kid.clone())));
                (kid, verification, jwk)
            }
        };
        Ok(SigningKey { alg, kid, pkey, verification, jwk })
    }

    pub fn alg(&self) -> Alg {
        self.alg
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public half, as the JWKS publishes it (with `kid`, `alg` and `use`).
    pub fn public_jwk(&self) -> &serde_json::Value {
        &self.jwk
    }

    /// A JWS signature of `message` (for RS256 PKCS#1 v1.5 with SHA-256; for ES256 the raw
    /// 64-byte `r || s` JWS asks for, not OpenSSL's DER).
    pub fn sign_bytes(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        match self.alg {
            Alg::Rs256 => {
                let mut signer = Signer::new(MessageDigest::sha256(), &self.pkey)?;
                Ok(signer.sign_oneshot_to_vec(message)?)
            }
            Alg::Es256 => {
                let digest = openssl::hash::hash(MessageDigest::sha256(), message)?;
                let ec = self.pkey.ec_key()?;
                let sig = EcdsaSig::sign(&digest, &ec)?;
                Ok([padded(sig.r(), 32)?, padded(sig.s(), 32)?].concat())
            }
        }
    }
}

impl SigningKey {
    /// True when `signature` is this key's JWS signature of `message`.
    pub fn verify_bytes(&self, message: &[u8], signature: &[u8]) -> bool {
        let checked = match self.alg {
            Alg::Rs256 => openssl::sign::Verifier::new(MessageDigest::sha256(), &self.pkey)
                .and_then(|mut v| v.verify_oneshot(signature, message)),
            Alg::Es256 => {
                if signature.len() != 64 {
                    return false;
                }
                let (r, s) = signature.split_at(32);
                (|| {
                    let sig = EcdsaSig::from_private_components(BigNum::from_slice(r)?, BigNum::from_slice(s)?)?;
                    let digest = openssl::hash::hash(MessageDigest::sha256(), message)?;
                    let ec = self.pkey.ec_key()?;
                    sig.verify(&digest, &ec)
                })()
            }
        };
        checked.unwrap_or(false)
    }
}

impl PrivateSigningKey for SigningKey {
    type VerificationKey = CoreJsonWebKey;

    fn sign(&self, signature_alg: &CoreJwsSigningAlgorithm, message: &[u8]) -> Result<Vec<u8>, SigningError> {
        if *signature_alg != self.alg.jws() {
            return Err(SigningError::UnsupportedAlg(format!("{signature_alg:?}")));
        }
        self.sign_bytes(message).map_err(|e| SigningError::Other(e.to_string()))
    }

    fn as_verification_key(&self) -> CoreJsonWebKey {
        self.verification.clone()
    }
}

/// A JWKS document of the given public keys.
pub fn jwks<'a>(keys: impl IntoIterator<Item = &'a serde_json::Value>) -> serde_json::Value {
    serde_json::json!({ "keys": keys.into_iter().collect::<Vec<_>>() })
}
