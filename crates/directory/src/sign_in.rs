//! Local password sign-in for operators and admins, with limits on failed attempts. Failures are
//! counted in the database, so the limits hold across every Portico instance:
//! - per account and client address: whoever guesses from one address is stopped after a few
//!   attempts, while the account's owner, elsewhere, can still sign in;
//! - per client address, over every account: one address cannot spray many accounts;
//! - per account, over every address (a distributed guess): an enterprise user's account is then
//!   locked for the window; an operator's is not (locking the operators out would hand an
//!   attacker the installation's keys to deny) but is paced to one attempt every few seconds,
//!   and the attempts are audited as an alert.
//!
//! Addresses are counted as their /64 network for IPv6 ([`address_key`]).

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use crate::access::{Actor, Ctx};
use crate::audit::{self, Outcome, Subject};
use crate::db::DbConnection;
use crate::error::{DirectoryError, Result};
use crate::schema::{operators, sign_in_failures, users};
use crate::secret::new_id;
use crate::session::SessionSubject;
use crate::{Directory, enterprise, password, validate};

/// Failed attempts allowed per account from one client address within the window.
pub const MAX_FAILURES_PER_ACCOUNT_AND_ADDRESS: i64 = 5;
/// Failed attempts allowed per client address, over every account, within the window.
pub const MAX_FAILURES_PER_ADDRESS: i64 = 20;
/// Failed attempts on one account from every address within the window: past it an enterprise
/// user's account is locked for the window, an operator's raises an alert instead.
pub const MAX_FAILURES_PER_ACCOUNT: i64 = 50;
/// Once an operator's account has had [`MAX_FAILURES_PER_ACCOUNT`] failures in the window, one
/// attempt on it is allowed in this many seconds, from anywhere: never locked out, but guessed
/// at a crawl.
pub const OPERATOR_PACE_SECS: i64 = 10;

/// What failures from `address` are counted under: the address itself for IPv4, its /64
/// network for IPv6 (one host usually holds a whole /64, so counting single IPv6 addresses
/// would give it unlimited attempts). Unparseable text counts as itself.
pub fn address_key(address: &str) -> String {
    match address.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            let network = std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
            format!("{network}/64")
        }
        Ok(std::net::IpAddr::V6(v6)) => v6.to_ipv4_mapped().map(|v4| v4.to_string()).unwrap_or_default(),
        _ => address.to_owned(),
    }
}

/// The sliding window over which failures count.
pub const FAILURE_WINDOW_MINUTES: i64 = 15;

/// A sign-in attempt.
#[derive(Debug, Clone)]
pub struct Credentials<'a> {
    /// `None` for operators; the enterprise's key for its users.
    pub enterprise_key: Option<&'a str>,
    pub login: &'a str,
    pub password: &'a str,
    /// The client's address, as far as the gateway can tell.
    pub address: &'a str,
}

struct Account {
    subject: SessionSubject,
    enterprise_id: Option<crate::ids::EnterpriseId>,
    login: String,
    password_hash: Option<String>,
    active: bool,
}

/// Serialises attempts on one account: SQLite's `BEGIN IMMEDIATE` already does; PostgreSQL
/// takes a transaction-scoped advisory lock on the account key.
fn lock_account(conn: &mut DbConnection, account_key: &str) -> Result<()> {
    if let DbConnection::Postgresql(pg) = conn {
        diesel::sql_query("SELECT pg_advisory_xact_lock(hashtext($1))")
            .bind::<diesel::sql_types::Text, _>(account_key)
            .execute(pg)?;
    }
    Ok(())
}

/// How many failures are recorded for `filter` since `since`, oldest first.
fn failures_since(
    conn: &mut DbConnection,
    since: NaiveDateTime,
    account_key: Option<&str>,
    address: Option<&str>,
) -> Result<Vec<NaiveDateTime>> {
    let mut q = sign_in_failures::table.filter(sign_in_failures::at.gt(since)).into_boxed();
    if let Some(key) = account_key {
        q = q.filter(sign_in_failures::account_key.eq(key.to_owned()));
    }
    if let Some(address) = address {
        q = q.filter(sign_in_failures::address.eq(address.to_owned()));
    }
    Ok(q.select(sign_in_failures::at).order(sign_in_failures::at.asc()).load(conn)?)
}

fn find_account(conn: &mut DbConnection, creds: &Credentials<'_>) -> Result<Option<Account>> {
    let login_key = validate::login_key(creds.login);
    Ok(match creds.enterprise_key {
        None => operators::table
            .filter(operators::login_key.eq(&login_key))
            .select((operators::id, operators::login, operators::password_hash, operators::active))
            .first::<(String, String, Option<String>, bool)>(conn)
            .optional()?
            .map(|(id, login, password_hash, active)| Account {
                subject: SessionSubject::Operator(id),
                enterprise_id: None,
                login,
                password_hash,
                active,
            }),
        Some(key) => match enterprise::find_by_key(conn, key)? {
            None => None,
            Some(e) => users::table
                .filter(users::enterprise_id.eq(&e.id))
                .filter(users::login_key.eq(&login_key))
                .select((users::id, users::login, users::password_hash, users::active))
                .first::<(String, String, Option<String>, bool)>(conn)
                .optional()?
                .map(|(id, login, password_hash, active)| Account {
                    subject: SessionSubject::User(id.into()),
                    enterprise_id: Some(e.id.clone()),
                    login,
                    password_hash,
                    active,
                }),
        },
    })
}

impl Directory {
    /// Checks a login and password. Wrong login, wrong password, deactivated account and
    /// unknown enterprise all give the same answer, in about the same time.
    ///
    /// Each attempt is first recorded as a failure, in a transaction that also checks the
    /// limits, and only then is the password checked; success erases the record. So attempts
    /// sent in parallel cannot slip past the limit.
    pub fn sign_in(&self, creds: &Credentials<'_>, operation_id: Option<&str>) -> Result<SessionSubject> {
        let account_key = match creds.enterprise_key {
            Some(e) => format!("enterprise:{e}:{}", validate::login_key(creds.login)),
            None => format!("operator:{}", validate::login_key(creds.login)),
        };
        let operator = creds.enterprise_key.is_none();
        let counted_address = address_key(creds.address);
        let reserved = self.write(|conn, now| {
            lock_account(conn, &account_key)?;
            let since = now - Duration::minutes(FAILURE_WINDOW_MINUTES);
            let mut checks = vec![
                (
                    failures_since(conn, since, Some(&account_key), Some(&counted_address))?,
                    MAX_FAILURES_PER_ACCOUNT_AND_ADDRESS,
                ),
                (failures_since(conn, since, None, Some(&counted_address))?, MAX_FAILURES_PER_ADDRESS),
            ];
            let on_account = failures_since(conn, since, Some(&account_key), None)?;
            let on_account_count = on_account.len() as i64;
            if operator {
                // Past the limit, an operator's account is paced rather than locked.
                if on_account_count >= MAX_FAILURES_PER_ACCOUNT
                    && let Some(last) = on_account.last()
                {
                    let wait = (*last + Duration::seconds(OPERATOR_PACE_SECS) - now).num_seconds();
                    if wait > 0 {
                        return Ok(Err(wait as u64));
                    }
                }
            } else {
                checks.push((on_account, MAX_FAILURES_PER_ACCOUNT));
            }
            for (times, limit) in checks {
                if times.len() as i64 >= limit {
                    let oldest = times.first().copied().unwrap_or(now);
                    let retry = (oldest + Duration::minutes(FAILURE_WINDOW_MINUTES) - now).num_seconds().max(1);
                    return Ok(Err(retry as u64));
                }
            }
            diesel::insert_into(sign_in_failures::table)
                .values((
                    sign_in_failures::id.eq(new_id()),
                    sign_in_failures::account_key.eq(&account_key),
                    sign_in_failures::address.eq(&counted_address),
                    sign_in_failures::at.eq(now),
                ))
                .execute(conn)?;
            // An operator's account is never locked as a whole: every time the attempts on it
            // from everywhere reach another multiple of the limit, an alert is audited.
            if operator && (on_account_count + 1) % MAX_FAILURES_PER_ACCOUNT == 0 {
                let actor = Actor::Anonymous;
                let ctx = Ctx::new(&actor, operation_id);
                let subject = Subject {
                    kind: Some("account"),
                    name: Some(creds.login.to_owned()),
                    details: Some(serde_json::json!({"method": "password", "attempts": on_account_count + 1})),
                    ..Subject::none()
                };
                tracing::warn!(
                    attempts = on_account_count + 1,
                    "many failed sign-ins on an operator account from several addresses; operators are not locked"
                );
                audit::record(
                    conn,
                    now,
                    &ctx,
                    "sign_in.alert",
                    &subject,
                    Outcome::Failure,
                    Some(&format!(
                        "{} failed password attempts on this operator login in {FAILURE_WINDOW_MINUTES} minutes, from several addresses; operators are not locked out, so check where they come from",
                        on_account_count + 1
                    )),
                )?;
            }
            Ok(Ok(find_account(conn, creds)?))
        })?;
        let account = match reserved {
            Ok(account) => account,
            Err(retry_after_secs) => {
                let actor = Actor::Anonymous;
                let ctx = Ctx::new(&actor, operation_id);
                let subject = Subject {
                    kind: Some("account"),
                    details: Some(serde_json::json!({"address": creds.address, "method": "password"})),
                    ..Subject::none()
                };
                self.write(|conn, now| {
                    audit::record(
                        conn,
                        now,
                        &ctx,
                        "sign_in",
                        &subject,
                        Outcome::Denied,
                        Some("too many failed attempts"),
                    )
                })?;
                return Err(DirectoryError::RateLimited { retry_after_secs });
            }
        };

        let stored = account.as_ref().and_then(|a| a.password_hash.as_deref());
        let matches =
            self.passwords.run(|| password::verify_password(creds.password, stored.unwrap_or(password::decoy_hash())));
        let ok = matches && stored.is_some() && account.as_ref().is_some_and(|a| a.active);

        let actor = match &account {
            Some(Account { subject: SessionSubject::Operator(id), login, .. }) => {
                Actor::Operator { id: id.clone(), login: login.clone() }
            }
            Some(Account { subject: SessionSubject::User(id), login, enterprise_id, .. }) => Actor::User {
                id: id.clone(),
                enterprise_id: enterprise_id.clone().unwrap_or_else(|| "".into()),
                login: login.clone(),
                grants: Vec::new(),
            },
            // Nobody we know: the typed login may be a mistyped password, so it is not kept.
            None => Actor::Anonymous,
        };
        let ctx = Ctx::new(&actor, operation_id);
        let subject = Subject {
            enterprise_id: account.as_ref().and_then(|a| a.enterprise_id.as_ref().map(ToString::to_string)),
            kind: Some("account"),
            id: actor.id().map(str::to_owned),
            name: account.as_ref().map(|a| a.login.clone()),
            details: Some(serde_json::json!({"address": creds.address, "method": "password"})),
            events: Vec::new(),
        };
        self.write(|conn, now| {
            if ok {
                diesel::delete(sign_in_failures::table.filter(sign_in_failures::account_key.eq(&account_key)))
                    .execute(conn)?;
                match account.as_ref().map(|a| &a.subject) {
                    Some(SessionSubject::Operator(id)) => {
                        diesel::update(operators::table.filter(operators::id.eq(id)))
                            .set(operators::last_sign_in_at.eq(now))
                            .execute(conn)?;
                    }
                    Some(SessionSubject::User(id)) => {
                        diesel::update(users::table.filter(users::id.eq(id)))
                            .set(users::last_sign_in_at.eq(now))
                            .execute(conn)?;
                    }
                    None => {}
                }
                audit::record(conn, now, &ctx, "sign_in", &subject, Outcome::Success, None)
            } else {
                diesel::delete(sign_in_failures::table.filter(sign_in_failures::at.lt(now - Duration::days(1))))
                    .execute(conn)?;
                let reason = match &account {
                    None => "unknown login",
                    Some(a) if !a.active => "account deactivated",
                    Some(a) if a.password_hash.is_none() => "no password set",
                    Some(_) => "wrong password",
                };
                audit::record(conn, now, &ctx, "sign_in", &subject, Outcome::Failure, Some(reason))
            }
        })?;
        match account {
            Some(a) if ok => Ok(a.subject),
            _ => Err(DirectoryError::Unauthorized("wrong login or password")),
        }
    }
}
