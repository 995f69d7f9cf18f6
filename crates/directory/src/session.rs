//! Console sessions, stored server-side so that deactivating an account ends its sessions at
//! once. The browser's cookie holds a random id; the table holds only its hash.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use crate::access::Actor;
use crate::error::Result;
use crate::schema::{enterprises, operators, sessions, users};
use crate::secret::{hash_secret, random_token};
use crate::{Directory, role};

/// A session ends after this long without a request.
pub const IDLE_TIMEOUT_HOURS: i64 = 12;
/// A session ends this long after sign-in, whatever happens.
pub const ABSOLUTE_TIMEOUT_DAYS: i64 = 7;
/// `last_seen_at` is written at most this often, to keep reads cheap.
const TOUCH_EVERY_SECS: i64 = 60;

/// The account a session belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionSubject {
    Operator(String),
    User(crate::ids::UserId),
}

/// A live session: who it is and how the console greets them.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    pub actor: Actor,
    pub login: String,
    pub name: String,
    /// The enterprise of a user session.
    pub enterprise_key: Option<String>,
    /// A status message waiting for the next page ([`Directory::take_flash`] consumes it).
    pub flash: Option<String>,
}

/// The sessions still live at `now`: not past their absolute end, not idle too long. The one
/// definition for the console and the OpenID Provider.
pub(crate) type Live = diesel::dsl::And<
    diesel::dsl::Gt<sessions::expires_at, NaiveDateTime>,
    diesel::dsl::Gt<sessions::last_seen_at, NaiveDateTime>,
>;

pub(crate) fn live(now: NaiveDateTime) -> Live {
    sessions::expires_at.gt(now).and(sessions::last_seen_at.gt(now - Duration::hours(IDLE_TIMEOUT_HOURS)))
}

/// How a user session's person signed in through their enterprise's IdP: what the host product
/// is told in the claims (`idp`, `email_verified`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoOrigin {
    pub connection_id: crate::ids::ConnectionId,
    /// True only when the IdP's assertion said the e-mail address is verified.
    pub email_verified: bool,
}

/// Inserts a session inside the caller's transaction (password sign-in, SSO sign-in) and
/// returns its cookie value. Sessions that ended long ago are swept here rather than by a timer.
pub(crate) fn open_session(
    conn: &mut crate::db::DbConnection,
    now: NaiveDateTime,
    subject: &SessionSubject,
    origin: Option<&SsoOrigin>,
    address: &str,
    user_agent: &str,
) -> Result<String> {
    let token = random_token(32)?;
    let sid = random_token(16)?;
    let (operator_id, user_id) = match subject {
        SessionSubject::Operator(id) => (Some(id.as_str()), None),
        SessionSubject::User(id) => (None, Some(id.as_str())),
    };
    diesel::insert_into(sessions::table)
        .values((
            sessions::id_hash.eq(hash_secret(&token)),
            sessions::operator_id.eq(operator_id),
            sessions::user_id.eq(user_id),
            sessions::created_at.eq(now),
            sessions::last_seen_at.eq(now),
            sessions::expires_at.eq(now + Duration::days(ABSOLUTE_TIMEOUT_DAYS)),
            sessions::address.eq(address),
            sessions::user_agent.eq(user_agent.chars().take(400).collect::<String>()),
            sessions::sid.eq(&sid),
            sessions::connection_id.eq(origin.map(|o| o.connection_id.as_str())),
            sessions::email_verified.eq(origin.is_some_and(|o| o.email_verified)),
        ))
        .execute(conn)?;
    diesel::delete(sessions::table.filter(sessions::expires_at.lt(now))).execute(conn)?;
    Ok(token)
}

impl Directory {
    /// Opens a session and returns the cookie value (shown to nobody else, stored hashed).
    pub fn create_session(&self, subject: &SessionSubject, address: &str, user_agent: &str) -> Result<String> {
        let token = self.write(|conn, now| open_session(conn, now, subject, None, address, user_agent))?;
        Ok(token)
    }

    /// The session behind a cookie value, if it is live and its account is active.
    pub fn resolve_session(&self, token: &str) -> Result<Option<SessionInfo>> {
        let now = self.now();
        let id_hash = hash_secret(token);
        let mut conn = self.conn()?;
        type Row = (Option<String>, Option<String>, NaiveDateTime, Option<String>);
        let row: Option<Row> = sessions::table
            .filter(sessions::id_hash.eq(&id_hash))
            .filter(live(now))
            .select((sessions::operator_id, sessions::user_id, sessions::last_seen_at, sessions::flash))
            .first(&mut conn)
            .optional()?;
        let Some((operator_id, user_id, last_seen, flash)) = row else {
            return Ok(None);
        };
        let info = if let Some(oid) = operator_id {
            let op: Option<(String, String, bool)> = operators::table
                .filter(operators::id.eq(&oid))
                .select((operators::login, operators::name, operators::active))
                .first(&mut conn)
                .optional()?;
            match op {
                Some((login, name, true)) => SessionInfo {
                    actor: Actor::Operator { id: oid, login: login.clone() },
                    login,
                    name,
                    enterprise_key: None,
                    flash,
                },
                _ => return Ok(None),
            }
        } else if let Some(uid) = user_id {
            let user: Option<(String, String, bool, String, String)> = users::table
                .inner_join(enterprises::table)
                .filter(users::id.eq(&uid))
                .select((users::login, users::name, users::active, users::enterprise_id, enterprises::key))
                .first(&mut conn)
                .optional()?;
            match user {
                Some((login, name, true, enterprise_id, key)) => {
                    let grants = role::grants_of(&mut conn, &uid)?;
                    SessionInfo {
                        actor: Actor::User {
                            id: uid.into(),
                            enterprise_id: enterprise_id.into(),
                            login: login.clone(),
                            grants,
                        },
                        login,
                        name,
                        enterprise_key: Some(key),
                        flash,
                    }
                }
                _ => return Ok(None),
            }
        } else {
            return Ok(None);
        };
        if now - last_seen > Duration::seconds(TOUCH_EVERY_SECS) {
            diesel::update(sessions::table.filter(sessions::id_hash.eq(&id_hash)))
                .set(sessions::last_seen_at.eq(now))
                .execute(&mut conn)?;
        }
        Ok(Some(info))
    }

    /// Leaves `message` for the next page this session shows: the status line after an
    /// action, kept on the server so that no URL can put words in Portico's mouth.
    pub fn set_flash(&self, token: &str, message: &str) -> Result<()> {
        let mut conn = self.conn()?;
        diesel::update(sessions::table.filter(sessions::id_hash.eq(hash_secret(token))))
            .set(sessions::flash.eq(Some(message.chars().take(2000).collect::<String>())))
            .execute(&mut conn)?;
        Ok(())
    }

    /// The message left for this session, once: it is gone after this read.
    pub fn take_flash(&self, token: &str) -> Result<Option<String>> {
        let id_hash = hash_secret(token);
        let mut conn = self.conn()?;
        let message: Option<String> = sessions::table
            .filter(sessions::id_hash.eq(&id_hash))
            .select(sessions::flash)
            .first::<Option<String>>(&mut conn)
            .optional()?
            .flatten();
        let Some(message) = message else {
            return Ok(None);
        };
        // Cleared only if still the same message: two pages loading at once show it once.
        let cleared =
            diesel::update(sessions::table.filter(sessions::id_hash.eq(&id_hash)).filter(sessions::flash.eq(&message)))
                .set(sessions::flash.eq(None::<String>))
                .execute(&mut conn)?;
        Ok((cleared == 1).then_some(message))
    }

    /// Ends one session (sign-out), and the grants applications hold in it (those with a
    /// back-channel logout URI are told). Ending an unknown session is not an error.
    pub fn end_session(&self, token: &str) -> Result<()> {
        self.write(|conn, now| {
            let sid: Option<Option<String>> =
                diesel::delete(sessions::table.filter(sessions::id_hash.eq(hash_secret(token))))
                    .returning(sessions::sid)
                    .get_result(conn)
                    .optional()?;
            if let Some(Some(sid)) = sid {
                crate::webhook::end_grants(conn, now, Some(&sid), None)?;
            }
            Ok(())
        })
    }
}
