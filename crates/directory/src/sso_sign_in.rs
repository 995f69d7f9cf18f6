//! The database side of an SSO sign-in: the requests Portico waits for, the assertion replay
//! cache, and what happens once the IdP has vouched for someone (provisioning and the session),
//! in one transaction.
//!
//! Provisioning follows the enterprise's mode:
//! - JIT: an unknown person becomes a `jit` user; a known one gets name and e-mail updated. Their
//!   memberships in org groups (other than the built-in `Members`) are reset to exactly the
//!   groups, in any organization of the enterprise, named (case-sensitively) like one of the IdP
//!   groups sent; a membership an admin added by hand in a group the IdP does not send is removed.
//! - SCIM: only a provisioned, active user may enter; memberships are SCIM's business.
//!
//! Which account an IdP identity is follows the account-linking rules (`find_user`): the
//! subject, once bound, identifies the user in both modes; a sign-in binds only an account the
//! IdP itself provisioned; local accounts are linked by an admin (`link_idp_subject`).

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use serde_json::json;

use crate::access::{Actor, Ctx};
use crate::audit::{self, Outcome, Subject};
use crate::connection::{ConnectionStatus, Protocol};
use crate::db::DbConnection;
use crate::enterprise::ProvisioningMode;
use crate::error::{DirectoryError, Result};
use crate::event::{self, Event};
use crate::group::MembershipSource;
use crate::ids::ConnectionId;
use crate::schema::{enterprises, org_group_members, org_groups, sso_requests, sso_seen_assertions, users};
use crate::secret::new_id;
use crate::user::User;
use crate::{Directory, enterprise, validate};

/// A new request id: 122 random bits, shaped to be a valid XML ID (SAML AuthnRequest `ID`s
/// must not start with a digit) and usable as an OpenID Connect `state`.
pub fn new_request_id() -> String {
    format!("_{}", uuid::Uuid::new_v4())
}

/// How long a started sign-in may take at the IdP.
pub const REQUEST_TTL_MINUTES: i64 = 10;

/// Why a sign-in the IdP vouched for is still refused. Shown to admins (audit log, test view);
/// end users get a plain message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignInRefusal {
    #[error("the response answers a sign-in Portico did not start, already finished, or gave up on")]
    UnknownRequest,
    #[error("this assertion was already used (replay)")]
    Replay,
    #[error("the IdP sent no usable login (attribute `{attribute}`)")]
    NoLogin { attribute: String },
    #[error("{login} is deactivated")]
    Deactivated { login: String },
    #[error("{login} is not provisioned: in SCIM mode only users pushed by the IdP may sign in")]
    NotProvisioned { login: String },
    #[error("the connection is not enabled")]
    ConnectionNotEnabled,
    #[error(
        "the login {login} already belongs to another identity of the IdP (a different subject); an admin must resolve it"
    )]
    LoginTaken { login: String },
    #[error(
        "{login} is an account Portico did not get from the IdP (a local or unlinked account); an admin must link it to the IdP identity before it can sign in through single sign-on"
    )]
    NotLinked { login: String },
}

impl SignInRefusal {
    pub fn code(&self) -> &'static str {
        match self {
            SignInRefusal::UnknownRequest => "unknown_request",
            SignInRefusal::Replay => "replay",
            SignInRefusal::NoLogin { .. } => "no_login",
            SignInRefusal::Deactivated { .. } => "deactivated",
            SignInRefusal::NotProvisioned { .. } => "not_provisioned",
            SignInRefusal::ConnectionNotEnabled => "connection_not_enabled",
            SignInRefusal::LoginTaken { .. } => "login_taken",
            SignInRefusal::NotLinked { .. } => "not_linked",
        }
    }
}

/// A pending sign-in, as the ACS finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRequest {
    pub id: String,
    pub connection_id: ConnectionId,
    pub test: bool,
    pub return_to: String,
    /// OpenID Connect only: the nonce and the PKCE verifier of the sign-in.
    pub nonce: Option<String>,
    pub pkce_verifier: Option<String>,
}

/// The parts of a connection a sign-in reads before it provisions anyone.
#[derive(Queryable)]
struct ConnectionState {
    enterprise_id: String,
    #[diesel(deserialize_as = String)]
    status: ConnectionStatus,
    #[diesel(deserialize_as = String)]
    protocol: Protocol,
}

/// What the IdP vouched for, after the protocol checks.
#[derive(Debug, Clone)]
pub struct Vouched {
    pub connection_id: ConnectionId,
    /// The request it answers (`None`: IdP-initiated).
    pub request_id: Option<String>,
    pub assertion_id: String,
    pub replay_until: NaiveDateTime,
    pub subject: String,
    pub login: Option<String>,
    pub login_attribute: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub groups: Vec<String>,
    /// The IdP's assertion said the e-mail address is verified.
    pub email_verified: bool,
}

/// A completed sign-in.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub session_token: String,
    pub user: User,
}

#[derive(Debug)]
enum Failure {
    Refused(SignInRefusal),
    Error(DirectoryError),
}

impl From<DirectoryError> for Failure {
    fn from(e: DirectoryError) -> Self {
        Failure::Error(e)
    }
}

impl From<diesel::result::Error> for Failure {
    fn from(e: diesel::result::Error) -> Self {
        Failure::Error(e.into())
    }
}

fn tx<T>(
    conn: &mut DbConnection,
    f: impl FnOnce(&mut DbConnection) -> std::result::Result<T, Failure>,
) -> std::result::Result<T, Failure> {
    let mut refusal = None;
    let outcome = crate::db::write_tx(conn, |c| match f(c) {
        Ok(v) => Ok(Some(v)),
        Err(Failure::Refused(r)) => {
            refusal = Some(r);
            Err(DirectoryError::Conflict("refused".into()))
        }
        Err(Failure::Error(e)) => Err(e),
    });
    match (outcome, refusal) {
        (_, Some(r)) => Err(Failure::Refused(r)),
        (Ok(Some(v)), None) => Ok(v),
        (Ok(None), None) => Err(Failure::Error(DirectoryError::Internal("empty transaction result".into()))),
        (Err(e), None) => Err(Failure::Error(e)),
    }
}

/// Resets a JIT user's memberships to the IdP's groups (see the module comment). The groups
/// are recorded as IdP groups (origin `jit`) with the user as member, and linked by exact name
/// to the org groups of the enterprise, so that memberships are derived the same way as in
/// SCIM mode (see `mapping`).
fn sync_jit_groups(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    enterprise_id: &str,
    user_id: &str,
    groups: &[String],
    events: &mut Vec<Event>,
) -> Result<()> {
    use crate::raw::{execute, ids_json};
    use crate::schema::{idp_group_members, idp_groups};
    let mut names: Vec<String> = groups
        .iter()
        .map(|g| g.trim().to_owned())
        .filter(|g| !g.is_empty() && g.chars().count() <= validate::GROUP_NAME_MAX && !g.chars().any(char::is_control))
        .collect();
    names.sort();
    names.dedup();
    // Copies from before memberships were derived, and hand-added memberships in groups the IdP
    // does not send, go. Read from the user's own rows (a few), not the enterprise's groups.
    let held: Vec<(String, String, String)> = org_group_members::table
        .inner_join(org_groups::table)
        .filter(org_group_members::user_id.eq(user_id))
        .filter(org_groups::enterprise_id.eq(enterprise_id))
        .filter(org_groups::builtin.eq(false))
        .select((org_group_members::group_id, org_group_members::source, org_groups::name))
        .load(conn)?;
    let not_sent: Vec<&String> = held.iter().filter(|(_, _, name)| !names.contains(name)).map(|(g, ..)| g).collect();
    let copies: Vec<&String> =
        held.iter().filter(|(_, source, _)| source == MembershipSource::Sso.as_str()).map(|(g, ..)| g).collect();
    if !not_sent.is_empty() {
        diesel::delete(
            org_group_members::table
                .filter(org_group_members::user_id.eq(user_id))
                .filter(org_group_members::group_id.eq_any(&not_sent)),
        )
        .execute(conn)?;
    }
    if !copies.is_empty() {
        diesel::delete(
            org_group_members::table
                .filter(org_group_members::user_id.eq(user_id))
                .filter(org_group_members::source.eq(MembershipSource::Sso.as_str()))
                .filter(org_group_members::group_id.eq_any(&copies)),
        )
        .execute(conn)?;
    }
    // The IdP groups, created when first seen (a concurrent sign-in may create one first).
    let known: Vec<(String, String)> = idp_groups::table
        .filter(idp_groups::enterprise_id.eq(enterprise_id))
        .filter(idp_groups::display_name.eq_any(&names))
        .select((idp_groups::id, idp_groups::display_name))
        .load(conn)?;
    let mut created = Vec::new();
    for name in names.iter().filter(|n| !known.iter().any(|(_, k)| k == *n)) {
        let create = "INSERT INTO idp_groups (id, enterprise_id, display_name, origin, version, created_at, updated_at) \
                      VALUES ($1, $2, $3, 'jit', 1, $4, $4) ON CONFLICT (enterprise_id, display_name) DO NOTHING";
        execute(conn, create, Some(now), &[&new_id(), enterprise_id, name])?;
        created.push(name.clone());
    }
    let mut ids: Vec<String> = known.into_iter().map(|(id, _)| id).collect();
    if !created.is_empty() {
        let new_ids: Vec<String> = idp_groups::table
            .filter(idp_groups::enterprise_id.eq(enterprise_id))
            .filter(idp_groups::display_name.eq_any(&created))
            .select(idp_groups::id)
            .load(conn)?;
        for (id, name) in new_ids.iter().zip(&created) {
            let group = json!({ "group": { "id": id, "display_name": name, "external_id": null, "origin": "jit" } });
            events.push(Event::group(event::GROUP_CREATED, enterprise_id, id, group));
        }
        // A group seen for the first time is linked by name; groups seen before were linked
        // then, or when their org group was made.
        crate::mapping::link_by_name(conn, now, enterprise_id, crate::mapping::NameLinks::IdpGroups(&new_ids))?;
        ids.extend(new_ids);
    }
    ids.sort();
    // The user's IdP memberships become exactly these groups (nothing is written when they are).
    let mut current: Vec<String> = idp_group_members::table
        .inner_join(idp_groups::table)
        .filter(idp_group_members::user_id.eq(user_id))
        .filter(idp_groups::enterprise_id.eq(enterprise_id))
        .select(idp_group_members::group_id)
        .load(conn)?;
    current.sort();
    if current == ids {
        return Ok(());
    }
    let gone: Vec<&String> = current.iter().filter(|c| ids.binary_search(c).is_err()).collect();
    if !gone.is_empty() {
        diesel::delete(
            idp_group_members::table
                .filter(idp_group_members::user_id.eq(user_id))
                .filter(idp_group_members::group_id.eq_any(&gone)),
        )
        .execute(conn)?;
    }
    let joined: Vec<String> = ids.iter().filter(|i| current.binary_search(i).is_err()).cloned().collect();
    if !joined.is_empty() {
        /// User `$1` joins the IdP groups `$2` at `now` (`$3`).
        const JOIN: &str = "INSERT INTO idp_group_members (group_id, user_id, created_at) \
                            SELECT g.value, $1, $3 FROM (IDS($2)) AS g WHERE true ON CONFLICT DO NOTHING";
        execute(conn, JOIN, Some(now), &[user_id, &ids_json(&joined)?])?;
    }
    // What changed, for the host: this person joined or left each group, and the
    // organizations those groups feed changed.
    let changed: Vec<(String, String)> = idp_groups::table
        .filter(idp_groups::id.eq_any(gone.iter().copied().chain(&joined).collect::<Vec<_>>()))
        .select((idp_groups::id, idp_groups::display_name))
        .load(conn)?;
    let me = [user_id.to_owned()];
    for (id, name) in &changed {
        let (kind, change) = if joined.contains(id) {
            (event::GROUP_MEMBERS_ADDED, json!({ "kind": "members", "members_added": 1, "members_removed": 0 }))
        } else {
            (event::GROUP_MEMBERS_REMOVED, json!({ "kind": "members", "members_added": 0, "members_removed": 1 }))
        };
        events.extend(event::member_events(kind, enterprise_id, id, name, &me));
        events.extend(event::membership_changed(conn, enterprise_id, id, name, change)?);
    }
    Ok(())
}

impl Directory {
    /// Records a sign-in Portico starts (SAML AuthnRequest id) and returns its id.
    pub fn begin_sso_request(&self, connection_id: &ConnectionId, test: bool, return_to: &str) -> Result<String> {
        let id = new_request_id();
        self.begin_sso_request_with(&id, connection_id, test, return_to, None)?;
        Ok(id)
    }

    /// Records an OpenID Connect sign-in under `id` (its `state`), with its nonce and PKCE
    /// verifier.
    pub fn begin_oidc_request(
        &self,
        id: &str,
        connection_id: &ConnectionId,
        test: bool,
        return_to: &str,
        nonce: &str,
        pkce_verifier: &str,
    ) -> Result<()> {
        self.begin_sso_request_with(id, connection_id, test, return_to, Some((nonce, pkce_verifier)))
    }

    fn begin_sso_request_with(
        &self,
        id: &str,
        connection_id: &str,
        test: bool,
        return_to: &str,
        oidc: Option<(&str, &str)>,
    ) -> Result<()> {
        self.write(|conn, now| {
            diesel::delete(sso_requests::table.filter(sso_requests::expires_at.lt(now))).execute(conn)?;
            diesel::insert_into(sso_requests::table)
                .values((
                    sso_requests::id.eq(&id),
                    sso_requests::connection_id.eq(connection_id),
                    sso_requests::mode.eq(if test { "test" } else { "sign_in" }),
                    sso_requests::return_to.eq(return_to),
                    sso_requests::created_at.eq(now),
                    sso_requests::expires_at.eq(now + Duration::minutes(REQUEST_TTL_MINUTES)),
                    sso_requests::nonce.eq(oidc.map(|o| o.0)),
                    sso_requests::pkce_verifier.eq(oidc.map(|o| o.1)),
                ))
                .execute(conn)?;
            Ok(())
        })
    }

    /// The pending, unexpired request `id` of `connection_id`, if any.
    pub fn pending_sso_request(&self, connection_id: &ConnectionId, id: &str) -> Result<Option<PendingRequest>> {
        let now = self.now();
        let mut conn = self.conn()?;
        pending(&mut conn, connection_id, id, now)
    }

    /// What the ACS needs before verifying a response: the connection and, if the response
    /// names one, the pending request it answers; both read on one pooled connection.
    pub fn acs_context(
        &self,
        connection_id: &ConnectionId,
        request_id: Option<&str>,
    ) -> Result<(crate::connection::Connection, Option<PendingRequest>)> {
        let now = self.now();
        let mut conn = self.conn()?;
        let connection = crate::connection::by_id(&mut conn, connection_id)?;
        let pending = match request_id {
            Some(id) => pending(&mut conn, connection_id, id, now)?,
            None => None,
        };
        Ok((connection, pending))
    }

    /// Spends a test request and remembers its assertion, so test responses cannot be replayed
    /// either. Nobody is provisioned and no session opens.
    pub fn consume_test_assertion(&self, v: &Vouched) -> Result<std::result::Result<(), SignInRefusal>> {
        let mut conn = self.conn()?;
        let now = self.now();
        match tx(&mut conn, |c| {
            consume(c, now, v)?;
            Ok(())
        }) {
            Ok(()) => Ok(Ok(())),
            Err(Failure::Refused(r)) => Ok(Err(r)),
            Err(Failure::Error(e)) => Err(e),
        }
    }

    /// Finishes a sign-in the IdP vouched for: spends the request, records the assertion id
    /// (a second use is a replay), provisions the user, opens a session and audits it, all in
    /// one transaction. A refusal is audited on its own and changes nothing else.
    pub fn complete_sso_sign_in(
        &self,
        v: &Vouched,
        address: &str,
        user_agent: &str,
        operation_id: Option<&str>,
    ) -> Result<std::result::Result<SignedIn, SignInRefusal>> {
        let now = self.now();
        let mut conn = self.conn()?;
        let outcome = tx(&mut conn, |c| {
            let ConnectionState { enterprise_id, status, protocol } = crate::schema::sso_connections::table
                .filter(crate::schema::sso_connections::id.eq(&v.connection_id))
                .select((
                    crate::schema::sso_connections::enterprise_id,
                    crate::schema::sso_connections::status,
                    crate::schema::sso_connections::protocol,
                ))
                .first(c)?;
            if status != ConnectionStatus::Enabled {
                return Err(Failure::Refused(SignInRefusal::ConnectionNotEnabled));
            }
            consume(c, now, v)?;
            let key: String =
                enterprises::table.filter(enterprises::id.eq(&enterprise_id)).select(enterprises::key).first(c)?;
            let enterprise = enterprise::find_by_key(c, &key)?.ok_or(DirectoryError::NotFound("enterprise"))?;
            let mut events = Vec::new();
            let user = provision(c, now, &enterprise.id, enterprise.provisioning_mode, v, &mut events)?;
            let token = crate::session::open_session(
                c,
                now,
                &crate::session::SessionSubject::User(user.id.clone()),
                Some(&crate::session::SsoOrigin {
                    connection_id: v.connection_id.clone(),
                    email_verified: v.email_verified,
                }),
                address,
                user_agent,
            )?;
            let actor = Actor::User {
                id: user.id.clone(),
                enterprise_id: enterprise.id.clone(),
                login: user.login.clone(),
                grants: Vec::new(),
            };
            let ctx = Ctx::new(&actor, operation_id);
            let subject =
                Subject::new(Some(&enterprise.id), "account", &user.id, &user.login).with_details(serde_json::json!({
                    "method": protocol.as_str(), "connection": v.connection_id, "address": address, "groups": v.groups,
                }));
            audit::record(c, now, &ctx, "sign_in", &subject, Outcome::Success, None)?;
            events.push(Event::new(
                event::SIGN_IN_SUCCEEDED,
                Some(&enterprise.id),
                format!("user:{}", user.id),
                json!({
                    "user": { "id": user.id, "login": user.login },
                    "connection": { "id": v.connection_id, "protocol": protocol.as_str() },
                }),
            ));
            event::write(c, now, &ctx, &events)?;
            Ok(SignedIn { session_token: token, user })
        });
        match outcome {
            Ok(signed_in) => Ok(Ok(signed_in)),
            Err(Failure::Refused(r)) => {
                // A refusal after the IdP vouched (deactivated, not provisioned, ...) still spends
                // the request and the assertion, so the same response cannot be tried again later.
                if !matches!(r, SignInRefusal::UnknownRequest | SignInRefusal::Replay) {
                    let now = self.now();
                    let _ = tx(&mut conn, |c| consume(c, now, v));
                }
                self.record_sso_failure(&v.connection_id, Some(&v.subject), r.code(), &r.to_string(), operation_id)?;
                Ok(Err(r))
            }
            Err(Failure::Error(e)) => Err(e),
        }
    }

    /// Audits a refused SSO sign-in on the connection's enterprise: the reason in full, for
    /// admins.
    pub fn record_sso_failure(
        &self,
        connection_id: &ConnectionId,
        subject: Option<&str>,
        code: &str,
        reason: &str,
        operation_id: Option<&str>,
    ) -> Result<()> {
        self.write(|conn, now| {
            let found: Option<(String, String)> = crate::schema::sso_connections::table
                .filter(crate::schema::sso_connections::id.eq(connection_id))
                .select((crate::schema::sso_connections::enterprise_id, crate::schema::sso_connections::protocol))
                .first(conn)
                .optional()?;
            let (enterprise_id, protocol) = match found {
                Some((e, p)) => (Some(e), p),
                None => (None, "unknown".to_owned()),
            };
            let actor = Actor::Anonymous;
            let ctx = Ctx::new(&actor, operation_id);
            let failed = enterprise_id.as_deref().map(|e| {
                Event::connection(
                    event::SIGN_IN_FAILED,
                    e,
                    connection_id,
                    json!({
                        "connection": { "id": connection_id, "protocol": protocol },
                        "login": subject.map(|s| audit::bounded(s, audit::NAME_MAX)),
                        "code": code,
                    }),
                )
            });
            let s = Subject {
                enterprise_id,
                kind: Some("account"),
                id: None,
                name: subject.map(str::to_owned),
                details: Some(serde_json::json!({"method": protocol, "connection": connection_id, "code": code})),
                events: Vec::new(),
            };
            audit::record(conn, now, &ctx, "sign_in", &s, Outcome::Failure, Some(reason))?;
            event::write(conn, now, &ctx, failed.as_slice())
        })
    }
}

fn pending(
    conn: &mut DbConnection,
    connection_id: &str,
    id: &str,
    now: NaiveDateTime,
) -> Result<Option<PendingRequest>> {
    type Row = (String, String, String, Option<String>, Option<String>);
    let row: Option<Row> = sso_requests::table
        .filter(sso_requests::id.eq(id))
        .filter(sso_requests::connection_id.eq(connection_id))
        .filter(sso_requests::expires_at.gt(now))
        .select((
            sso_requests::id,
            sso_requests::mode,
            sso_requests::return_to,
            sso_requests::nonce,
            sso_requests::pkce_verifier,
        ))
        .first(conn)
        .optional()?;
    Ok(row.map(|(id, mode, return_to, nonce, pkce_verifier)| PendingRequest {
        id,
        connection_id: connection_id.into(),
        test: mode == "test",
        return_to,
        nonce,
        pkce_verifier,
    }))
}

fn consume(c: &mut DbConnection, now: NaiveDateTime, v: &Vouched) -> std::result::Result<(), Failure> {
    if let Some(request_id) = &v.request_id {
        let spent = diesel::delete(
            sso_requests::table
                .filter(sso_requests::id.eq(request_id))
                .filter(sso_requests::connection_id.eq(&v.connection_id))
                .filter(sso_requests::expires_at.gt(now)),
        )
        .execute(c)?;
        if spent != 1 {
            return Err(Failure::Refused(SignInRefusal::UnknownRequest));
        }
    }
    diesel::delete(sso_seen_assertions::table.filter(sso_seen_assertions::expires_at.lt(now))).execute(c)?;
    let seen: i64 = sso_seen_assertions::table
        .filter(sso_seen_assertions::connection_id.eq(&v.connection_id))
        .filter(sso_seen_assertions::assertion_id.eq(&v.assertion_id))
        .count()
        .get_result(c)?;
    if seen > 0 {
        return Err(Failure::Refused(SignInRefusal::Replay));
    }
    let inserted = diesel::insert_into(sso_seen_assertions::table)
        .values((
            sso_seen_assertions::connection_id.eq(&v.connection_id),
            sso_seen_assertions::assertion_id.eq(&v.assertion_id),
            sso_seen_assertions::expires_at.eq(v.replay_until),
        ))
        .execute(c);
    match inserted {
        Ok(_) => Ok(()),
        // Two instances racing with the same assertion: the loser sees the winner's row.
        Err(diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)) => {
            Err(Failure::Refused(SignInRefusal::Replay))
        }
        Err(e) => Err(e.into()),
    }
}

/// How an IdP identity found its user.
#[derive(Debug)]
enum Found {
    /// Linked to the subject the IdP asserts.
    BySubject(User),
    /// Not linked yet, and one a sign-in may link: provisioned by the IdP over SCIM, never
    /// unlinked by an admin, holding no admin role.
    ByLogin(User),
}

/// The user an IdP identity belongs to (the account-linking rules of `docs/architecture.md`):
/// - a user linked to this subject is that user, whatever login the IdP sends now;
/// - otherwise the user of that login, if a sign-in may link it: only one the IdP provisioned
///   (SCIM), not linked yet, never unlinked by an admin, and holding no admin role (an admin's
///   account is linked by an admin, since an IdP whose login attribute users can edit would
///   otherwise hand it to whoever types the admin's login). A user linked to another subject is
///   someone else (a reused or edited login must not take over an account); a local account
///   (password, appointed admin) or an unlinked user is linked only by an admin;
/// - otherwise nobody (JIT creates the user, SCIM mode refuses).
fn find_user(
    c: &mut DbConnection,
    enterprise_id: &str,
    login: &str,
    subject: &str,
) -> std::result::Result<Option<Found>, Failure> {
    let by_subject: Option<User> = users::table
        .filter(users::enterprise_id.eq(enterprise_id))
        .filter(users::external_id.eq(subject))
        .select(User::as_select())
        .first(c)
        .optional()?;
    if let Some(u) = by_subject {
        return Ok(Some(Found::BySubject(u)));
    }
    let by_login: Option<(User, bool)> = users::table
        .filter(users::enterprise_id.eq(enterprise_id))
        .filter(users::login_key.eq(validate::login_key(login)))
        .select((User::as_select(), users::links_by_admin_only))
        .first(c)
        .optional()?;
    let Some((u, admin_only)) = by_login else { return Ok(None) };
    if u.external_id.is_some() {
        return Err(Failure::Refused(SignInRefusal::LoginTaken { login: u.login }));
    }
    let holds_a_role: i64 = crate::schema::role_grants::table
        .filter(crate::schema::role_grants::user_id.eq(&u.id))
        .count()
        .get_result(c)?;
    if u.origin != crate::user::Origin::Scim || admin_only || holds_a_role > 0 {
        return Err(Failure::Refused(SignInRefusal::NotLinked { login: u.login }));
    }
    Ok(Some(Found::ByLogin(u)))
}

/// Links `user` to `subject` unless another sign-in linked it meanwhile (two first sign-ins
/// of one login with different subjects, racing): then it is someone else's.
fn link_on_sign_in(c: &mut DbConnection, user: &User, subject: &str) -> std::result::Result<(), Failure> {
    let linked = diesel::update(
        users::table
            .filter(users::id.eq(&user.id))
            .filter(users::external_id.is_null().or(users::external_id.eq(subject))),
    )
    .set(users::external_id.eq(subject))
    .execute(c);
    match linked {
        Ok(1) => Ok(()),
        Ok(_) | Err(diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)) => {
            Err(Failure::Refused(SignInRefusal::LoginTaken { login: user.login.clone() }))
        }
        Err(e) => Err(e.into()),
    }
}

fn provision(
    c: &mut DbConnection,
    now: NaiveDateTime,
    enterprise_id: &str,
    mode: ProvisioningMode,
    v: &Vouched,
    events: &mut Vec<Event>,
) -> std::result::Result<User, Failure> {
    let login = v.login.clone().unwrap_or_default();
    let mut errors = crate::FieldErrors::default();
    validate::login(&mut errors, "login", &login);
    if !errors.is_empty() {
        return Err(Failure::Refused(SignInRefusal::NoLogin { attribute: v.login_attribute.clone() }));
    }
    let email = v.email.clone().filter(|e| {
        let mut errs = crate::FieldErrors::default();
        validate::email(&mut errs, "email", e);
        errs.is_empty()
    });
    let name: String = v.name.clone().unwrap_or_default().chars().take(validate::NAME_MAX).collect();
    let existing = find_user(c, enterprise_id, &login, &v.subject)?;
    let found_by_subject = matches!(existing, Some(Found::BySubject(_)));
    let existing = existing.map(|f| match f {
        Found::BySubject(u) | Found::ByLogin(u) => u,
    });
    match (mode, existing) {
        (_, Some(u)) if !u.active => Err(Failure::Refused(SignInRefusal::Deactivated { login: u.login })),
        (ProvisioningMode::Scim, None) => Err(Failure::Refused(SignInRefusal::NotProvisioned { login })),
        // In SCIM mode the IdP's assignments decide who may sign in: a JIT user it never pushed
        // (and so never adopted) is not provisioned. A local account an admin linked to this
        // subject is the admin's decision and may.
        (ProvisioningMode::Scim, Some(u))
            if u.origin != crate::user::Origin::Scim
                && !(found_by_subject && u.origin == crate::user::Origin::Local) =>
        {
            Err(Failure::Refused(SignInRefusal::NotProvisioned { login: u.login }))
        }
        // The first sign-in of a user the IdP provisioned links them to the subject; from then
        // on the subject finds them, whatever the IdP later sends as their login.
        (ProvisioningMode::Scim, Some(u)) => {
            link_on_sign_in(c, &u, &v.subject)?;
            diesel::update(users::table.filter(users::id.eq(&u.id))).set(users::last_sign_in_at.eq(now)).execute(c)?;
            Ok(User { last_sign_in_at: Some(now), external_id: Some(v.subject.clone()), ..u })
        }
        (ProvisioningMode::Jit, Some(u)) => {
            link_on_sign_in(c, &u, &v.subject)?;
            let new_name = if name.is_empty() { u.name.clone() } else { name };
            let new_email = email.or(u.email.clone());
            diesel::update(users::table.filter(users::id.eq(&u.id)))
                .set((
                    users::name.eq(&new_name),
                    users::email.eq(&new_email),
                    users::last_sign_in_at.eq(now),
                    users::version.eq(users::version + 1),
                    users::updated_at.eq(now),
                ))
                .execute(c)?;
            let changed = new_name != u.name || new_email != u.email;
            let user = User {
                name: new_name,
                email: new_email,
                external_id: Some(v.subject.clone()),
                last_sign_in_at: Some(now),
                updated_at: now,
                ..u
            };
            if changed {
                events.push(user.event(event::USER_UPDATED));
            }
            sync_jit_groups(c, now, enterprise_id, &user.id, &v.groups, events)?;
            Ok(user)
        }
        (ProvisioningMode::Jit, None) => {
            let user = User {
                id: new_id().into(),
                enterprise_id: enterprise_id.into(),
                login: login.clone(),
                email,
                name,
                external_id: Some(v.subject.clone()),
                origin: crate::user::Origin::Jit,
                active: true,
                last_sign_in_at: Some(now),
                created_at: now,
                updated_at: now,
            };
            diesel::insert_into(users::table)
                .values((
                    users::id.eq(&user.id),
                    users::enterprise_id.eq(&user.enterprise_id),
                    users::login.eq(&user.login),
                    users::login_key.eq(validate::login_key(&user.login)),
                    users::email.eq(&user.email),
                    users::name.eq(&user.name),
                    users::external_id.eq(&user.external_id),
                    users::origin.eq(user.origin.as_str()),
                    users::active.eq(true),
                    users::last_sign_in_at.eq(now),
                    users::created_at.eq(now),
                    users::updated_at.eq(now),
                ))
                .execute(c)?;
            events.push(user.event(event::USER_CREATED));
            sync_jit_groups(c, now, enterprise_id, &user.id, &v.groups, events)?;
            Ok(user)
        }
    }
}
