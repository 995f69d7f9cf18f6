//! One-time set-up links: the first operator's account on a fresh installation, and the
//! password of an admin someone appointed. The link carries a random token; only its hash is
//! stored. A link works once and expires.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;

use crate::access::{Actor, Ctx};
use crate::audit::{self, Outcome, Subject};
use crate::db::DbConnection;
use crate::error::{DirectoryError, FieldErrors, Result, conflict_on_unique};
use crate::schema::{enterprises, operators, sessions, setup_tokens, users};
use crate::secret::{hash_secret, new_id, random_token};
use crate::session::SessionSubject;
use crate::{Directory, operator, password, validate};

/// How long an appointed admin's set-password link stays valid.
pub const SETUP_LINK_TTL_HOURS: i64 = 72;
/// How long the first operator's link stays valid; every start of an empty installation
/// issues a new one.
pub const FIRST_OPERATOR_TTL_MINUTES: i64 = 60;

const FIRST_OPERATOR: &str = "first_operator";
const SET_PASSWORD: &str = "set_password";

pub(crate) enum Account<'a> {
    User(&'a str),
}

/// Issues a set-password link for an account, replacing any unused earlier one.
pub(crate) fn issue_password_link(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    account: Account<'_>,
    ttl: Duration,
) -> Result<String> {
    let token = random_token(32)?;
    let (user_id, operator_id): (Option<&str>, Option<&str>) = match account {
        Account::User(id) => (Some(id), None),
    };
    let earlier =
        setup_tokens::table.filter(setup_tokens::purpose.eq(SET_PASSWORD)).filter(setup_tokens::used_at.is_null());
    match (user_id, operator_id) {
        (Some(u), _) => diesel::delete(earlier.filter(setup_tokens::user_id.eq(u))).execute(conn)?,
        (None, Some(o)) => diesel::delete(earlier.filter(setup_tokens::operator_id.eq(o))).execute(conn)?,
        (None, None) => 0,
    };
    diesel::insert_into(setup_tokens::table)
        .values((
            setup_tokens::token_hash.eq(hash_secret(&token)),
            setup_tokens::purpose.eq(SET_PASSWORD),
            setup_tokens::user_id.eq(user_id),
            setup_tokens::operator_id.eq(operator_id),
            setup_tokens::created_at.eq(now),
            setup_tokens::expires_at.eq(now + ttl),
        ))
        .execute(conn)?;
    Ok(token)
}

/// What a set-up link is for, shown on its page before the visitor chooses a password.
#[derive(Debug, Clone, Serialize)]
pub enum SetupLink {
    /// Create the first operator account.
    FirstOperator { expires_at: NaiveDateTime },
    /// Choose a password for an existing account.
    SetPassword { login: String, enterprise_key: Option<String>, expires_at: NaiveDateTime },
}

/// What the visitor of a set-up link submits.
#[derive(Debug, Clone, Default)]
pub struct SetupForm {
    /// Only for the first operator; existing accounts keep their login.
    pub login: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
    pub password: String,
}

type TokenRow = (String, Option<String>, Option<String>, NaiveDateTime);

fn live_token(conn: &mut DbConnection, token: &str, now: NaiveDateTime) -> Result<TokenRow> {
    let row: Option<TokenRow> = setup_tokens::table
        .filter(setup_tokens::token_hash.eq(hash_secret(token)))
        .filter(setup_tokens::used_at.is_null())
        .filter(setup_tokens::expires_at.gt(now))
        .select((setup_tokens::purpose, setup_tokens::user_id, setup_tokens::operator_id, setup_tokens::expires_at))
        .first(conn)
        .optional()?;
    row.ok_or(DirectoryError::NotFound("set-up link (it may have been used or have expired)"))
}

impl Directory {
    /// On an installation without operators, issues a new first-operator link (earlier unused
    /// ones stop working). Returns `None` once an operator exists.
    pub fn issue_first_operator_link(&self) -> Result<Option<String>> {
        self.write(|conn, now| {
            if operator::count(conn)? > 0 {
                return Ok(None);
            }
            diesel::delete(setup_tokens::table.filter(setup_tokens::purpose.eq(FIRST_OPERATOR))).execute(conn)?;
            let token = random_token(32)?;
            diesel::insert_into(setup_tokens::table)
                .values((
                    setup_tokens::token_hash.eq(hash_secret(&token)),
                    setup_tokens::purpose.eq(FIRST_OPERATOR),
                    setup_tokens::created_at.eq(now),
                    setup_tokens::expires_at.eq(now + Duration::minutes(FIRST_OPERATOR_TTL_MINUTES)),
                ))
                .execute(conn)?;
            Ok(Some(token))
        })
    }

    /// Describes a live link; `NotFound` for unknown, used and expired ones alike.
    pub fn inspect_setup_link(&self, token: &str) -> Result<SetupLink> {
        let now = self.now();
        let mut conn = self.conn()?;
        let (purpose, user_id, operator_id, expires_at) = live_token(&mut conn, token, now)?;
        if purpose == FIRST_OPERATOR {
            if operator::count(&mut conn)? > 0 {
                return Err(DirectoryError::NotFound("set-up link (Portico already has an operator)"));
            }
            return Ok(SetupLink::FirstOperator { expires_at });
        }
        if let Some(uid) = user_id {
            let (login, key): (String, String) = users::table
                .inner_join(enterprises::table)
                .filter(users::id.eq(uid))
                .select((users::login, enterprises::key))
                .first(&mut conn)?;
            return Ok(SetupLink::SetPassword { login, enterprise_key: Some(key), expires_at });
        }
        let login: String = operators::table
            .filter(operators::id.eq(operator_id.unwrap_or_default()))
            .select(operators::login)
            .first(&mut conn)?;
        Ok(SetupLink::SetPassword { login, enterprise_key: None, expires_at })
    }

    /// Uses a link: creates the first operator or sets the account's password, and returns
    /// the account so the caller can open a session. The link stops working.
    pub fn redeem_setup_link(
        &self,
        token: &str,
        form: SetupForm,
        operation_id: Option<&str>,
    ) -> Result<SessionSubject> {
        // Only a live link is worth hashing a password for (hashing is the costly part).
        {
            let now = self.now();
            let mut conn = self.conn()?;
            live_token(&mut conn, token, now)?;
        }
        // Hash outside the transaction: it costs tens of milliseconds.
        let password_hash = self.passwords.run(|| password::hash_new_password(&form.password))?;
        self.write(|conn, now| {
            let (purpose, user_id, operator_id, _) = live_token(conn, token, now)?;
            // Spend the link first: of two requests racing with one link, only one gets a row.
            let spent = diesel::update(
                setup_tokens::table
                    .filter(setup_tokens::token_hash.eq(hash_secret(token)))
                    .filter(setup_tokens::used_at.is_null())
                    .filter(setup_tokens::expires_at.gt(now)),
            )
            .set(setup_tokens::used_at.eq(now))
            .execute(conn)?;
            if spent != 1 {
                return Err(DirectoryError::NotFound("set-up link (it may have been used or have expired)"));
            }
            let (subject, actor, audit_subject) = if purpose == FIRST_OPERATOR {
                if operator::count(conn)? > 0 {
                    return Err(DirectoryError::Conflict("Portico already has an operator".into()));
                }
                let login = form.login.clone().unwrap_or_default().trim().to_owned();
                let email = validate::optional(form.email.clone());
                let name = validate::optional(form.name.clone()).unwrap_or_default();
                let mut errors = FieldErrors::default();
                validate::login(&mut errors, "login", &login);
                if let Some(email) = &email {
                    validate::email(&mut errors, "email", email);
                }
                if name.chars().count() > validate::NAME_MAX {
                    errors.add("name", format!("must be at most {} characters long", validate::NAME_MAX));
                }
                errors.into_result()?;
                let id = new_id();
                diesel::insert_into(operators::table)
                    .values((
                        operators::id.eq(&id),
                        operators::login.eq(&login),
                        operators::login_key.eq(validate::login_key(&login)),
                        operators::email.eq(&email),
                        operators::name.eq(&name),
                        operators::password_hash.eq(&password_hash),
                        operators::active.eq(true),
                        operators::created_at.eq(now),
                        operators::updated_at.eq(now),
                    ))
                    .execute(conn)
                    .map_err(conflict_on_unique("an operator with this login already exists"))?;
                let actor = Actor::Operator { id: id.clone(), login: login.clone() };
                let subj = Subject::new(None, "operator", &id, &login);
                (SessionSubject::Operator(id), actor, ("operator.create", subj))
            } else if let Some(uid) = user_id {
                let (login, enterprise_id): (String, String) =
                    users::table.filter(users::id.eq(&uid)).select((users::login, users::enterprise_id)).first(conn)?;
                diesel::update(users::table.filter(users::id.eq(&uid)))
                    .set((users::password_hash.eq(&password_hash), users::updated_at.eq(now)))
                    .execute(conn)?;
                let grants = crate::role::grants_of(conn, &uid)?;
                let actor = Actor::User {
                    id: uid.as_str().into(),
                    enterprise_id: enterprise_id.as_str().into(),
                    login: login.clone(),
                    grants,
                };
                let subj = Subject::new(Some(&enterprise_id), "user", &uid, &login);
                (SessionSubject::User(uid.into()), actor, ("user.password.set", subj))
            } else {
                let oid = operator_id.unwrap_or_default();
                let login: String =
                    operators::table.filter(operators::id.eq(&oid)).select(operators::login).first(conn)?;
                diesel::update(operators::table.filter(operators::id.eq(&oid)))
                    .set((operators::password_hash.eq(&password_hash), operators::updated_at.eq(now)))
                    .execute(conn)?;
                let actor = Actor::Operator { id: oid.clone(), login: login.clone() };
                let subj = Subject::new(None, "operator", &oid, &login);
                (SessionSubject::Operator(oid), actor, ("operator.password.set", subj))
            };
            // A new password ends every session the account had.
            match &subject {
                SessionSubject::User(id) => {
                    diesel::delete(sessions::table.filter(sessions::user_id.eq(id))).execute(conn)?
                }
                SessionSubject::Operator(id) => {
                    diesel::delete(sessions::table.filter(sessions::operator_id.eq(id))).execute(conn)?
                }
            };
            let ctx = Ctx::new(&actor, operation_id);
            audit::record(conn, now, &ctx, audit_subject.0, &audit_subject.1, Outcome::Success, None)?;
            Ok(subject)
        })
    }
}
