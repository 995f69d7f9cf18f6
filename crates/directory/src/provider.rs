//! What Portico keeps as the host product's OpenID Provider: its ID token signing keys,
//! authorization requests waiting for a sign-in at the enterprise's IdP, and grants (one per
//! authorization code) with the access and refresh tokens issued from them.
//!
//! Every secret handed out (code, access token, refresh token) is 256 random bits kept as a
//! SHA-256 hash. A code is spent by its first exchange, whatever the outcome; a second
//! exchange, or a second use of a refresh token, revokes the grant and so every token issued
//! from it (RFC 6749 §4.1.2, RFC 9700 §4.14.2). The protocol itself (what a request must
//! carry, PKCE, the ID token) is `sso::provider`'s and the gateway's; this module stores.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use crate::Directory;
use crate::access::{Actor, Ctx};
use crate::audit::{self, Outcome, Subject};
use crate::db::DbConnection;
use crate::error::{DirectoryError, Result};
use crate::host_application::SigningAlg;
use crate::permission::OrganizationAccess;
use crate::schema::{
    enterprises, op_authorizations, op_grants, op_signing_keys, op_tokens, sessions, sso_connections, users,
};
use crate::secret::{hash_secret, new_id, random_token};

/// An authorization code is exchanged within this many seconds or never.
pub const CODE_TTL_SECS: i64 = 60;
/// An authorization request waits this long for its person to sign in at the IdP.
pub const AUTHORIZATION_TTL_MINUTES: i64 = 15;

// ---- Signing keys ----

/// Where a key is in its life: published before it signs (`Next`), signing (`Current`), still
/// published for the tokens it signed (`Previous`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    Next,
    Current,
    Previous,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Next => "next",
            KeyState::Current => "current",
            KeyState::Previous => "previous",
        }
    }

    fn parse(s: &str) -> Option<KeyState> {
        [KeyState::Next, KeyState::Current, KeyState::Previous].into_iter().find(|k| k.as_str() == s)
    }
}

/// A signing key as stored: its private half sealed by the gateway, its public half as a JWK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSigningKey {
    pub kid: String,
    pub alg: SigningAlg,
    pub state: KeyState,
    pub private_key_sealed: String,
    pub public_jwk: String,
    pub created_at: NaiveDateTime,
    pub activated_at: Option<NaiveDateTime>,
}

/// A key the gateway made, to be stored.
#[derive(Debug, Clone)]
pub struct NewSigningKey {
    pub kid: String,
    pub private_key_sealed: String,
    pub public_jwk: String,
}

type KeyRow = (String, String, String, String, String, NaiveDateTime, Option<NaiveDateTime>);

fn key_from_row(r: KeyRow) -> Result<StoredSigningKey> {
    let (kid, alg, state, private_key_sealed, public_jwk, created_at, activated_at) = r;
    Ok(StoredSigningKey {
        alg: SigningAlg::parse(&alg).ok_or_else(|| DirectoryError::Internal(format!("key {kid}: unknown alg")))?,
        state: KeyState::parse(&state).ok_or_else(|| DirectoryError::Internal(format!("key {kid}: unknown state")))?,
        kid,
        private_key_sealed,
        public_jwk,
        created_at,
        activated_at,
    })
}

fn insert_key(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    alg: SigningAlg,
    state: KeyState,
    k: &NewSigningKey,
) -> Result<()> {
    diesel::insert_into(op_signing_keys::table)
        .values((
            op_signing_keys::kid.eq(&k.kid),
            op_signing_keys::alg.eq(alg.as_str()),
            op_signing_keys::state.eq(state.as_str()),
            op_signing_keys::private_key_sealed.eq(&k.private_key_sealed),
            op_signing_keys::public_jwk.eq(&k.public_jwk),
            op_signing_keys::created_at.eq(now),
            op_signing_keys::activated_at.eq((state == KeyState::Current).then_some(now)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Why a rotation did nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    Rotated,
    /// The current key is younger than the schedule asks.
    NotDue,
    /// Another instance rotated first.
    Raced,
}

impl Directory {
    /// Every published key (next, current, previous) of every algorithm.
    pub fn signing_keys(&self) -> Result<Vec<StoredSigningKey>> {
        let mut conn = self.conn()?;
        let rows: Vec<KeyRow> = op_signing_keys::table
            .order((op_signing_keys::alg.asc(), op_signing_keys::created_at.desc()))
            .select((
                op_signing_keys::kid,
                op_signing_keys::alg,
                op_signing_keys::state,
                op_signing_keys::private_key_sealed,
                op_signing_keys::public_jwk,
                op_signing_keys::created_at,
                op_signing_keys::activated_at,
            ))
            .load(&mut conn)?;
        rows.into_iter().map(key_from_row).collect()
    }

    /// Deletes every signing key (`portico keys reset`, when the secret key that sealed them
    /// is lost); audited.
    pub fn delete_signing_keys(&self, ctx: &Ctx<'_>) -> Result<usize> {
        self.write(|conn, now| {
            let gone = diesel::delete(op_signing_keys::table).execute(conn)?;
            let subject =
                Subject::new(None, "signing_key", "*", "every key").with_details(serde_json::json!({"deleted": gone}));
            audit::record(conn, now, ctx, "signing_key.reset", &subject, Outcome::Success, None)?;
            Ok(gone)
        })
    }

    /// Makes sure `alg` has a current and a next key, making them with `make` when missing.
    /// Instances starting together may race: the unique index on (alg, state) lets one win,
    /// and the others read what it stored.
    pub fn ensure_signing_keys(&self, alg: SigningAlg, make: &dyn Fn() -> Result<NewSigningKey>) -> Result<()> {
        let result = self.write(|conn, now| {
            let states: Vec<String> = op_signing_keys::table
                .filter(op_signing_keys::alg.eq(alg.as_str()))
                .select(op_signing_keys::state)
                .load(conn)?;
            for state in [KeyState::Current, KeyState::Next] {
                if !states.iter().any(|s| s == state.as_str()) {
                    insert_key(conn, now, alg, state, &make()?)?;
                }
            }
            Ok(())
        });
        match result {
            Err(DirectoryError::Database(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            ))) => Ok(()),
            other => other,
        }
    }

    /// Rotates `alg`'s keys: the previous key goes, the current one becomes previous (still
    /// published), the next one starts signing, and a new next key is published. With
    /// `due_before`, only when the current key started signing before it (the schedule). The
    /// current key is named in the update, so two instances on the same schedule rotate once.
    pub fn rotate_signing_keys(
        &self,
        ctx: &Ctx<'_>,
        alg: SigningAlg,
        due_before: Option<NaiveDateTime>,
        make: &dyn Fn() -> Result<NewSigningKey>,
    ) -> Result<Rotation> {
        let outcome = self.write(|conn, now| {
            let current: Option<(String, Option<NaiveDateTime>)> = op_signing_keys::table
                .filter(op_signing_keys::alg.eq(alg.as_str()))
                .filter(op_signing_keys::state.eq(KeyState::Current.as_str()))
                .select((op_signing_keys::kid, op_signing_keys::activated_at))
                .first(conn)
                .optional()?;
            let Some((current_kid, activated_at)) = current else {
                insert_key(conn, now, alg, KeyState::Current, &make()?)?;
                return Ok(Rotation::Rotated);
            };
            if let Some(due) = due_before
                && activated_at.is_some_and(|a| a >= due)
            {
                return Ok(Rotation::NotDue);
            }
            // Made only when due (an RSA key takes a moment).
            let new_key = make()?;
            diesel::delete(
                op_signing_keys::table
                    .filter(op_signing_keys::alg.eq(alg.as_str()))
                    .filter(op_signing_keys::state.eq(KeyState::Previous.as_str())),
            )
            .execute(conn)?;
            let demoted = diesel::update(
                op_signing_keys::table
                    .filter(op_signing_keys::kid.eq(&current_kid))
                    .filter(op_signing_keys::state.eq(KeyState::Current.as_str())),
            )
            .set(op_signing_keys::state.eq(KeyState::Previous.as_str()))
            .execute(conn)?;
            if demoted == 0 {
                return Err(DirectoryError::Conflict("raced".into()));
            }
            let promoted = diesel::update(
                op_signing_keys::table
                    .filter(op_signing_keys::alg.eq(alg.as_str()))
                    .filter(op_signing_keys::state.eq(KeyState::Next.as_str())),
            )
            .set((op_signing_keys::state.eq(KeyState::Current.as_str()), op_signing_keys::activated_at.eq(now)))
            .execute(conn)?;
            // Without a published next key (never the case once ensured), the new key signs at once.
            let state = if promoted == 0 { KeyState::Current } else { KeyState::Next };
            insert_key(conn, now, alg, state, &new_key)?;
            let subject = Subject::new(None, "signing_key", &current_kid, alg.as_str())
                .with_details(serde_json::json!({"retired": current_kid, "published": new_key.kid}));
            audit::record(conn, now, ctx, "signing_key.rotate", &subject, Outcome::Success, None)?;
            Ok(Rotation::Rotated)
        });
        match outcome {
            Err(DirectoryError::Conflict(_)) => Ok(Rotation::Raced),
            Err(DirectoryError::Database(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            ))) => Ok(Rotation::Raced),
            other => other,
        }
    }
}

// ---- Sessions, as the provider sees them ----

/// A live session of an enterprise user, with what the claims say of how they signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderSession {
    pub sid: String,
    pub user_id: String,
    pub enterprise_id: String,
    pub enterprise_key: String,
    /// The SSO connection that vouched for them; `None` for a password sign-in.
    pub connection_id: Option<String>,
    pub email_verified: bool,
    pub auth_time: NaiveDateTime,
}

impl Directory {
    /// The user session behind a console cookie value, if it is live and its user active.
    pub fn provider_session(&self, token: &str) -> Result<Option<ProviderSession>> {
        let now = self.now();
        let mut conn = self.conn()?;
        type Row = (Option<String>, String, String, String, Option<String>, bool, NaiveDateTime);
        let row: Option<Row> = sessions::table
            .inner_join(users::table.on(sessions::user_id.eq(users::id.nullable())))
            .inner_join(enterprises::table.on(users::enterprise_id.eq(enterprises::id)))
            .filter(sessions::id_hash.eq(hash_secret(token)))
            .filter(crate::session::live(now))
            .filter(users::active.eq(true))
            .select((
                sessions::sid,
                users::id,
                enterprises::id,
                enterprises::key,
                sessions::connection_id,
                sessions::email_verified,
                sessions::created_at,
            ))
            .first(&mut conn)
            .optional()?;
        Ok(row.and_then(|(sid, user_id, enterprise_id, enterprise_key, connection_id, email_verified, auth_time)| {
            // Sessions opened before the provider existed have no public id: they sign in again.
            sid.map(|sid| ProviderSession {
                sid,
                user_id,
                enterprise_id,
                enterprise_key,
                connection_id,
                email_verified,
                auth_time,
            })
        }))
    }

    /// Ends the session `sid` names (RP-initiated logout) and revokes every grant made in it;
    /// answers the applications that held one, for back-channel logout.
    pub fn end_provider_session(&self, sid: &str, operation_id: Option<&str>) -> Result<Vec<(String, String)>> {
        self.write(|conn, now| {
            // Applications with a back-channel logout URI hear of it through the delivery
            // queue, written in this transaction.
            let holders = crate::webhook::end_grants(conn, now, Some(sid), None)?;
            let ended: Option<(Option<String>, NaiveDateTime)> =
                diesel::delete(sessions::table.filter(sessions::sid.eq(sid)))
                    .returning((sessions::user_id, sessions::created_at))
                    .get_result(conn)
                    .optional()?;
            if let Some((Some(user_id), _)) = &ended {
                let (enterprise_id, login): (String, String) = users::table
                    .filter(users::id.eq(user_id))
                    .select((users::enterprise_id, users::login))
                    .first(conn)?;
                let actor = Actor::User {
                    id: user_id.clone().into(),
                    enterprise_id: enterprise_id.clone().into(),
                    login: login.clone(),
                    grants: Vec::new(),
                };
                let subject = Subject::new(Some(&enterprise_id), "account", user_id, &login).with_details(
                    serde_json::json!({"applications": holders.iter().map(|h| &h.0).collect::<Vec<_>>()}),
                );
                audit::record(
                    conn,
                    now,
                    &Ctx::new(&actor, operation_id),
                    "sign_out",
                    &subject,
                    Outcome::Success,
                    None,
                )?;
            }
            Ok(holders)
        })
    }
}

// ---- Authorization requests waiting for a sign-in ----

/// An authorization request parked while its person signs in at the IdP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParkedAuthorization {
    pub application_id: String,
    pub enterprise_id: String,
    /// The validated request, as the gateway wrote it.
    pub request: String,
    pub created_at: NaiveDateTime,
}

impl Directory {
    /// Parks an authorization request; the id comes back in the URL the sign-in resumes at.
    pub fn park_authorization(&self, application_id: &str, enterprise_id: &str, request: &str) -> Result<String> {
        self.write(|conn, now| {
            let id = random_token(24)?;
            diesel::delete(op_authorizations::table.filter(op_authorizations::expires_at.lt(now))).execute(conn)?;
            diesel::insert_into(op_authorizations::table)
                .values((
                    op_authorizations::id.eq(&id),
                    op_authorizations::application_id.eq(application_id),
                    op_authorizations::enterprise_id.eq(enterprise_id),
                    op_authorizations::request.eq(request),
                    op_authorizations::created_at.eq(now),
                    op_authorizations::expires_at.eq(now + Duration::minutes(AUTHORIZATION_TTL_MINUTES)),
                ))
                .execute(conn)?;
            Ok(id)
        })
    }

    /// Takes a parked request back, once: it is gone afterwards, and an expired one is `None`.
    pub fn take_authorization(&self, id: &str) -> Result<Option<ParkedAuthorization>> {
        self.write(|conn, now| {
            let row: Option<(String, String, String, NaiveDateTime, NaiveDateTime)> =
                diesel::delete(op_authorizations::table.filter(op_authorizations::id.eq(id)))
                    .returning((
                        op_authorizations::application_id,
                        op_authorizations::enterprise_id,
                        op_authorizations::request,
                        op_authorizations::created_at,
                        op_authorizations::expires_at,
                    ))
                    .get_result(conn)
                    .optional()?;
            Ok(row.filter(|r| r.4 > now).map(|(application_id, enterprise_id, request, created_at, _)| {
                ParkedAuthorization { application_id, enterprise_id, request, created_at }
            }))
        })
    }
}

// ---- Grants, codes and tokens ----

/// What one authorization code carries: to whom it was issued, for whom, and bound to what.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = op_grants)]
pub struct Grant {
    pub id: String,
    pub application_id: String,
    pub user_id: String,
    pub enterprise_id: String,
    pub sid: String,
    pub connection_id: Option<String>,
    pub email_verified: bool,
    pub scope: String,
    pub nonce: Option<String>,
    pub auth_time: NaiveDateTime,
    pub redirect_uri: String,
    pub code_challenge: Option<String>,
}

/// What the authorization endpoint records with a new code.
#[derive(Debug, Clone)]
pub struct NewGrant<'a> {
    pub application_id: &'a str,
    pub session: &'a ProviderSession,
    pub scope: &'a str,
    pub nonce: Option<&'a str>,
    pub redirect_uri: &'a str,
    pub code_challenge: Option<&'a str>,
}

/// Tokens issued at the token endpoint, and the grant they belong to.
#[derive(Debug, Clone)]
pub struct Issued {
    pub grant: Grant,
    pub access_token: String,
    pub access_expires_at: NaiveDateTime,
    /// `None` when the application has no use for one (no refresh lifetime asked).
    pub refresh_token: Option<String>,
}

/// Lifetimes of what the token endpoint issues, from the application's settings.
#[derive(Debug, Clone, Copy)]
pub struct TokenLifetimes {
    pub access_secs: i64,
    pub refresh_secs: i64,
}

/// Why the token endpoint refuses a code or a refresh token (`invalid_grant`, always: the
/// reason is for the logs and the audit, never for the client).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum GrantRefusal {
    #[error("the code or token is unknown")]
    Unknown,
    #[error("the code or token was issued to another application")]
    OtherClient,
    #[error("the code or token has expired")]
    Expired,
    #[error("the code was already exchanged; the tokens issued from it are revoked")]
    CodeReplayed,
    #[error("the refresh token was already used; the grant is revoked")]
    RefreshReplayed,
    #[error("the grant was revoked")]
    Revoked,
    #[error("the redirect URI differs from the authorization request's")]
    RedirectMismatch,
    #[error("the PKCE verifier does not match the challenge")]
    PkceMismatch,
    #[error("the person's account is deactivated")]
    Inactive,
}

/// A check the gateway makes on a code's grant inside the exchange (redirect URI, PKCE).
pub type GrantCheck<'a> = &'a dyn Fn(&Grant) -> std::result::Result<(), GrantRefusal>;

fn revoke_grant(conn: &mut DbConnection, now: NaiveDateTime, id: &str) -> Result<()> {
    diesel::update(op_grants::table.filter(op_grants::id.eq(id)).filter(op_grants::revoked_at.is_null()))
        .set(op_grants::revoked_at.eq(now))
        .execute(conn)?;
    Ok(())
}

fn insert_tokens(conn: &mut DbConnection, now: NaiveDateTime, grant: Grant, life: TokenLifetimes) -> Result<Issued> {
    let access = random_token(32)?;
    let access_expires_at = now + Duration::seconds(life.access_secs);
    let refresh = random_token(32)?;
    for (token, kind, expires) in
        [(&access, "access", access_expires_at), (&refresh, "refresh", now + Duration::seconds(life.refresh_secs))]
    {
        diesel::insert_into(op_tokens::table)
            .values((
                op_tokens::token_hash.eq(hash_secret(token)),
                op_tokens::grant_id.eq(&grant.id),
                op_tokens::kind.eq(kind),
                op_tokens::created_at.eq(now),
                op_tokens::expires_at.eq(expires),
            ))
            .execute(conn)?;
    }
    Ok(Issued { grant, access_token: access, access_expires_at, refresh_token: Some(refresh) })
}

impl Directory {
    /// Records a grant and returns its authorization code (valid [`CODE_TTL_SECS`], once).
    pub fn issue_authorization_code(&self, g: &NewGrant<'_>) -> Result<String> {
        self.write(|conn, now| {
            let code = random_token(32)?;
            diesel::insert_into(op_grants::table)
                .values((
                    op_grants::id.eq(new_id()),
                    op_grants::application_id.eq(g.application_id),
                    op_grants::user_id.eq(&g.session.user_id),
                    op_grants::enterprise_id.eq(&g.session.enterprise_id),
                    op_grants::sid.eq(&g.session.sid),
                    op_grants::connection_id.eq(&g.session.connection_id),
                    op_grants::email_verified.eq(g.session.email_verified),
                    op_grants::scope.eq(g.scope),
                    op_grants::nonce.eq(g.nonce),
                    op_grants::auth_time.eq(g.session.auth_time),
                    op_grants::redirect_uri.eq(g.redirect_uri),
                    op_grants::code_hash.eq(hash_secret(&code)),
                    op_grants::code_challenge.eq(g.code_challenge),
                    op_grants::code_expires_at.eq(now + Duration::seconds(CODE_TTL_SECS)),
                    op_grants::created_at.eq(now),
                ))
                .execute(conn)?;
            Ok(code)
        })
    }

    /// Exchanges a code presented by `client_id`: spent by this attempt whatever its outcome,
    /// checked by `check` (redirect URI, PKCE), and answered with tokens, all in one
    /// transaction. A code presented a second time revokes its grant.
    pub fn redeem_authorization_code(
        &self,
        code: &str,
        client_id: &str,
        check: GrantCheck<'_>,
        life: TokenLifetimes,
    ) -> Result<std::result::Result<Issued, GrantRefusal>> {
        self.write(|conn, now| {
            // One read for everything the exchange decides on: the grant, its code's state,
            // and whether its person is still active.
            type Row = (Grant, NaiveDateTime, Option<NaiveDateTime>, Option<NaiveDateTime>, bool);
            let row: Option<Row> = op_grants::table
                .inner_join(users::table)
                .filter(op_grants::code_hash.eq(hash_secret(code)))
                .select((
                    Grant::as_select(),
                    op_grants::code_expires_at,
                    op_grants::code_used_at,
                    op_grants::revoked_at,
                    users::active,
                ))
                .first(conn)
                .optional()?;
            let Some((grant, expires_at, used_at, revoked_at, active)) = row else {
                return Ok(Err(GrantRefusal::Unknown));
            };
            if grant.application_id != client_id {
                return Ok(Err(GrantRefusal::OtherClient));
            }
            // Spent now, whatever follows; the update is conditional so that two exchanges
            // racing each other cannot both win.
            let spent = diesel::update(
                op_grants::table.filter(op_grants::id.eq(&grant.id)).filter(op_grants::code_used_at.is_null()),
            )
            .set(op_grants::code_used_at.eq(now))
            .execute(conn)?;
            if used_at.is_some() || spent == 0 {
                revoke_grant(conn, now, &grant.id)?;
                return Ok(Err(GrantRefusal::CodeReplayed));
            }
            if revoked_at.is_some() {
                return Ok(Err(GrantRefusal::Revoked));
            }
            if expires_at <= now {
                return Ok(Err(GrantRefusal::Expired));
            }
            if let Err(refusal) = check(&grant) {
                return Ok(Err(refusal));
            }
            if !active {
                return Ok(Err(GrantRefusal::Inactive));
            }
            insert_tokens(conn, now, grant, life).map(Ok)
        })
    }

    /// Exchanges a refresh token presented by `client_id` for new tokens (the old refresh
    /// token is spent). A refresh token used twice revokes its grant: one of the two users of
    /// it was not the application.
    pub fn refresh_tokens(
        &self,
        refresh_token: &str,
        client_id: &str,
        life: TokenLifetimes,
    ) -> Result<std::result::Result<Issued, GrantRefusal>> {
        self.write(|conn, now| {
            let token_hash = hash_secret(refresh_token);
            // One read, as for a code: the grant, the token's state, the person's `active`.
            type Row = (Grant, NaiveDateTime, Option<NaiveDateTime>, Option<NaiveDateTime>, bool);
            let row: Option<Row> = op_tokens::table
                .inner_join(op_grants::table.inner_join(users::table))
                .filter(op_tokens::token_hash.eq(&token_hash))
                .filter(op_tokens::kind.eq("refresh"))
                .select((
                    Grant::as_select(),
                    op_tokens::expires_at,
                    op_tokens::used_at,
                    op_grants::revoked_at,
                    users::active,
                ))
                .first(conn)
                .optional()?;
            let Some((grant, expires_at, used_at, revoked_at, active)) = row else {
                return Ok(Err(GrantRefusal::Unknown));
            };
            if grant.application_id != client_id {
                return Ok(Err(GrantRefusal::OtherClient));
            }
            if revoked_at.is_some() {
                return Ok(Err(GrantRefusal::Revoked));
            }
            let spent = diesel::update(
                op_tokens::table.filter(op_tokens::token_hash.eq(&token_hash)).filter(op_tokens::used_at.is_null()),
            )
            .set(op_tokens::used_at.eq(now))
            .execute(conn)?;
            if used_at.is_some() || spent == 0 {
                revoke_grant(conn, now, &grant.id)?;
                return Ok(Err(GrantRefusal::RefreshReplayed));
            }
            if expires_at <= now {
                return Ok(Err(GrantRefusal::Expired));
            }
            if !active {
                return Ok(Err(GrantRefusal::Inactive));
            }
            // The spent refresh token's access tokens stay valid until they expire.
            insert_tokens(conn, now, grant, life).map(Ok)
        })
    }

    /// The grant behind a live access token (userinfo), if the token, its grant and its user
    /// are all still valid.
    pub fn access_token_grant(&self, access_token: &str) -> Result<Option<Grant>> {
        let now = self.now();
        let mut conn = self.conn()?;
        Ok(op_tokens::table
            .inner_join(op_grants::table.inner_join(users::table))
            .filter(op_tokens::token_hash.eq(hash_secret(access_token)))
            .filter(op_tokens::kind.eq("access"))
            .filter(op_tokens::expires_at.gt(now))
            .filter(op_tokens::revoked_at.is_null())
            .filter(op_grants::revoked_at.is_null())
            .filter(users::active.eq(true))
            .select(Grant::as_select())
            .first(&mut conn)
            .optional()?)
    }

    /// Revokes a token `client_id` presents (RFC 7009): a refresh token takes its whole grant
    /// with it, an access token only itself. Someone else's token, or an unknown one, changes
    /// nothing (and the answer does not say so).
    pub fn revoke_provider_token(&self, token: &str, client_id: &str) -> Result<()> {
        self.write(|conn, now| {
            let row: Option<(String, String, String)> = op_tokens::table
                .inner_join(op_grants::table)
                .filter(op_tokens::token_hash.eq(hash_secret(token)))
                .select((op_tokens::kind, op_grants::id, op_grants::application_id))
                .first(conn)
                .optional()?;
            match row {
                Some((kind, grant_id, app)) if app == client_id => {
                    if kind == "refresh" {
                        revoke_grant(conn, now, &grant_id)?;
                    }
                    diesel::update(op_tokens::table.filter(op_tokens::token_hash.eq(hash_secret(token))))
                        .set(op_tokens::revoked_at.eq(now))
                        .execute(conn)?;
                }
                _ => {}
            }
            Ok(())
        })
    }
}

// ---- Claims ----

/// Everything the claims say of a person, read from the directory as it is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub user_id: String,
    pub login: String,
    pub name: String,
    pub email: Option<String>,
    pub enterprise_key: String,
    pub enterprise_name: String,
    pub organizations: Vec<OrganizationAccess>,
    /// The connection that vouched for the sign-in, and its protocol.
    pub idp: Option<(String, String)>,
}

impl Directory {
    /// The person a grant is about, as the directory knows them now (so a membership changed
    /// since the sign-in shows on the next userinfo call).
    pub fn grant_person(&self, grant: &Grant) -> Result<Option<Person>> {
        let mut conn = self.conn()?;
        let row: Option<(String, String, Option<String>, bool, String, String)> = users::table
            .inner_join(enterprises::table)
            .filter(users::id.eq(&grant.user_id))
            .select((users::login, users::name, users::email, users::active, enterprises::key, enterprises::name))
            .first(&mut conn)
            .optional()?;
        let Some((login, name, email, true, enterprise_key, enterprise_name)) = row else {
            return Ok(None);
        };
        let organizations = crate::permission::access_of(&mut conn, &grant.enterprise_id, &grant.user_id)?;
        let idp = match &grant.connection_id {
            Some(cid) => sso_connections::table
                .filter(sso_connections::id.eq(cid))
                .select(sso_connections::protocol)
                .first::<String>(&mut conn)
                .optional()?
                .map(|protocol| (cid.clone(), protocol)),
            None => None,
        };
        Ok(Some(Person {
            user_id: grant.user_id.clone(),
            login,
            name,
            email,
            enterprise_key,
            enterprise_name,
            organizations,
            idp,
        }))
    }
}
