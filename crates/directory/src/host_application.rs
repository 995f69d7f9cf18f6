//! Host applications: the OpenID Connect clients of the product behind Portico. Portico is
//! their OpenID Provider; operators register them (console, admin API, `portico app`).
//!
//! A confidential application gets a client secret, shown once and kept as a SHA-256 hash (it
//! is 256 random bits, so a slow hash adds nothing); a public one (a single-page or native app)
//! has none and must use PKCE. Redirect URIs are compared exactly, never by prefix. An
//! application signs people in from every enterprise or from a list of them.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::Directory;
use crate::access::Ctx;
use crate::audit::Subject;
use crate::db::DbConnection;
use crate::error::{DirectoryError, FieldErrors, Result};
use crate::schema::{enterprises, host_application_enterprises, host_applications};
use crate::secret::{hash_secret, random_hex, random_token, secret_matches};

/// The algorithm an application's ID tokens are signed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum SigningAlg {
    #[serde(rename = "RS256")]
    Rs256,
    #[serde(rename = "ES256")]
    Es256,
}

impl SigningAlg {
    pub const ALL: [SigningAlg; 2] = [SigningAlg::Rs256, SigningAlg::Es256];

    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlg::Rs256 => "RS256",
            SigningAlg::Es256 => "ES256",
        }
    }

    pub fn parse(s: &str) -> Option<SigningAlg> {
        SigningAlg::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// Which enterprises' people an application may receive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum EnterpriseScope {
    All,
    /// These enterprises, by key.
    Only(Vec<String>),
}

/// Token lifetimes, in seconds.
pub const DEFAULT_ACCESS_TOKEN_TTL: i32 = 600;
pub const DEFAULT_ID_TOKEN_TTL: i32 = 600;
pub const DEFAULT_REFRESH_TOKEN_TTL: i32 = 30 * 24 * 3600;

/// A registered application (never with its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostApplication {
    pub client_id: String,
    pub name: String,
    pub public: bool,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub backchannel_logout_uri: Option<String>,
    /// Where IdP-initiated sign-ins start the application's own sign-in (OpenID Connect
    /// third-party initiated login).
    pub initiate_login_uri: Option<String>,
    pub enterprises: EnterpriseScope,
    pub id_token_alg: SigningAlg,
    pub access_token_ttl_secs: i32,
    pub id_token_ttl_secs: i32,
    pub refresh_token_ttl_secs: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub secret_rotated_at: Option<NaiveDateTime>,
}

impl HostApplication {
    /// True when the application may receive people of enterprise `key`.
    pub fn allows_enterprise(&self, key: &str) -> bool {
        match &self.enterprises {
            EnterpriseScope::All => true,
            EnterpriseScope::Only(keys) => keys.iter().any(|k| k == key),
        }
    }

    /// True when `uri` is one of the registered redirect URIs, character for character.
    pub fn has_redirect_uri(&self, uri: &str) -> bool {
        self.redirect_uris.iter().any(|r| r == uri)
    }
}

/// What registering an application takes; `None` means the default.
#[derive(Debug, Clone)]
pub struct NewHostApplication {
    pub name: String,
    pub public: bool,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub backchannel_logout_uri: Option<String>,
    pub initiate_login_uri: Option<String>,
    pub enterprises: EnterpriseScope,
    pub id_token_alg: Option<String>,
    pub access_token_ttl_secs: Option<i32>,
    pub id_token_ttl_secs: Option<i32>,
    pub refresh_token_ttl_secs: Option<i32>,
}

/// A partial update: `None` leaves a field as it is; `Some(None)` clears an optional one.
#[derive(Debug, Clone, Default)]
pub struct HostApplicationChanges {
    pub name: Option<String>,
    pub redirect_uris: Option<Vec<String>>,
    pub post_logout_redirect_uris: Option<Vec<String>>,
    pub backchannel_logout_uri: Option<Option<String>>,
    pub initiate_login_uri: Option<Option<String>>,
    pub enterprises: Option<EnterpriseScope>,
    pub id_token_alg: Option<String>,
    pub access_token_ttl_secs: Option<i32>,
    pub id_token_ttl_secs: Option<i32>,
    pub refresh_token_ttl_secs: Option<i32>,
}

/// An application just registered: the only time its secret exists outside the application.
#[derive(Debug, Clone)]
pub struct CreatedHostApplication {
    pub application: HostApplication,
    /// `None` for a public application.
    pub client_secret: Option<String>,
}

const MAX_URIS: usize = 20;
const MAX_URI_LEN: usize = 2000;

/// A URI the application registers: absolute, without a fragment (RFC 6749 §3.1.2), and over
/// HTTPS, or plain HTTP to the loopback interface only (a developer's machine, a native app).
pub(crate) fn check_uri(errors: &mut FieldErrors, field: &str, uri: &str) {
    if uri.len() > MAX_URI_LEN {
        errors.add(field, format!("a URI may have at most {MAX_URI_LEN} characters"));
        return;
    }
    let parsed = match url::Url::parse(uri) {
        Ok(u) => u,
        Err(e) => {
            errors.add(field, format!("`{uri}` is not an absolute URI: {e}"));
            return;
        }
    };
    if parsed.fragment().is_some() {
        errors.add(field, format!("`{uri}` has a fragment (#...), which redirect URIs may not have"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        errors.add(field, format!("`{uri}` carries user credentials"));
    }
    let loopback = matches!(parsed.host(), Some(url::Host::Domain("localhost")))
        || matches!(parsed.host(), Some(url::Host::Ipv4(ip)) if ip.is_loopback())
        || matches!(parsed.host(), Some(url::Host::Ipv6(ip)) if ip.is_loopback());
    match parsed.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => errors.add(field, format!("`{uri}` must be an https:// URI (http:// only to localhost)")),
    }
}

fn check_uris(errors: &mut FieldErrors, field: &str, uris: &[String], at_least_one: bool) {
    if at_least_one && uris.is_empty() {
        errors.add(field, "register at least one redirect URI");
    }
    if uris.len() > MAX_URIS {
        errors.add(field, format!("at most {MAX_URIS} URIs"));
    }
    for u in uris {
        check_uri(errors, field, u);
    }
}

fn check_ttl(errors: &mut FieldErrors, field: &str, value: i32, min: i32, max: i32) {
    if !(min..=max).contains(&value) {
        errors.add(field, format!("must be between {min} and {max} seconds"));
    }
}

fn check_alg(errors: &mut FieldErrors, value: &str) -> SigningAlg {
    SigningAlg::parse(value).unwrap_or_else(|| {
        errors.add("id_token_signed_response_alg", format!("`{value}` is not supported (RS256, ES256)"));
        SigningAlg::Rs256
    })
}

fn dedup(uris: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(uris.len());
    for u in uris {
        if !out.contains(&u) {
            out.push(u);
        }
    }
    out
}

/// The ids of the enterprises named by `keys`; unknown keys are a validation error.
fn enterprise_ids(conn: &mut DbConnection, keys: &[String]) -> Result<Vec<String>> {
    let found: Vec<(String, String)> = enterprises::table
        .filter(enterprises::key.eq_any(keys))
        .select((enterprises::key, enterprises::id))
        .load(conn)?;
    let mut errors = FieldErrors::default();
    for k in keys {
        if !found.iter().any(|(key, _)| key == k) {
            errors.add("enterprises", format!("no enterprise has the key `{k}`"));
        }
    }
    if !errors.is_empty() {
        return Err(DirectoryError::Validation(errors));
    }
    Ok(found.into_iter().map(|(_, id)| id).collect())
}

fn set_enterprises(conn: &mut DbConnection, client_id: &str, scope: &EnterpriseScope) -> Result<()> {
    diesel::delete(
        host_application_enterprises::table.filter(host_application_enterprises::application_id.eq(client_id)),
    )
    .execute(conn)?;
    if let EnterpriseScope::Only(keys) = scope {
        for id in enterprise_ids(conn, keys)? {
            diesel::insert_into(host_application_enterprises::table)
                .values((
                    host_application_enterprises::application_id.eq(client_id),
                    host_application_enterprises::enterprise_id.eq(id),
                ))
                .execute(conn)?;
        }
    }
    Ok(())
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = host_applications)]
struct Row {
    id: String,
    name: String,
    public: bool,
    redirect_uris: String,
    post_logout_redirect_uris: String,
    backchannel_logout_uri: Option<String>,
    initiate_login_uri: Option<String>,
    all_enterprises: bool,
    id_token_alg: String,
    access_token_ttl_secs: i32,
    id_token_ttl_secs: i32,
    refresh_token_ttl_secs: i32,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    secret_rotated_at: Option<NaiveDateTime>,
}

fn uri_list(json: &str) -> Result<Vec<String>> {
    serde_json::from_str(json).map_err(|e| DirectoryError::Internal(format!("a stored URI list is unreadable: {e}")))
}

fn load(conn: &mut DbConnection, row: Row) -> Result<HostApplication> {
    let enterprises = if row.all_enterprises {
        EnterpriseScope::All
    } else {
        let mut keys: Vec<String> = host_application_enterprises::table
            .inner_join(enterprises::table)
            .filter(host_application_enterprises::application_id.eq(&row.id))
            .select(enterprises::key)
            .load(conn)?;
        keys.sort();
        EnterpriseScope::Only(keys)
    };
    Ok(HostApplication {
        redirect_uris: uri_list(&row.redirect_uris)?,
        post_logout_redirect_uris: uri_list(&row.post_logout_redirect_uris)?,
        // Fail closed: an algorithm this build does not know signs nothing.
        id_token_alg: SigningAlg::parse(&row.id_token_alg).ok_or_else(|| {
            DirectoryError::Internal(format!("application {} has an unknown signing algorithm", row.id))
        })?,
        client_id: row.id,
        name: row.name,
        public: row.public,
        backchannel_logout_uri: row.backchannel_logout_uri,
        initiate_login_uri: row.initiate_login_uri,
        enterprises,
        access_token_ttl_secs: row.access_token_ttl_secs,
        id_token_ttl_secs: row.id_token_ttl_secs,
        refresh_token_ttl_secs: row.refresh_token_ttl_secs,
        created_at: row.created_at,
        updated_at: row.updated_at,
        secret_rotated_at: row.secret_rotated_at,
    })
}

fn find(conn: &mut DbConnection, client_id: &str) -> Result<Option<HostApplication>> {
    let row: Option<Row> = host_applications::table
        .filter(host_applications::id.eq(client_id))
        .select(Row::as_select())
        .first(conn)
        .optional()?;
    row.map(|r| load(conn, r)).transpose()
}

/// True when application `client_id` exists and may receive people of `enterprise_id`.
pub(crate) fn allows(conn: &mut DbConnection, client_id: &str, enterprise_id: &str) -> Result<bool> {
    let all: Option<bool> = host_applications::table
        .filter(host_applications::id.eq(client_id))
        .select(host_applications::all_enterprises)
        .first(conn)
        .optional()?;
    Ok(match all {
        None => false,
        Some(true) => true,
        Some(false) => diesel::select(diesel::dsl::exists(
            host_application_enterprises::table
                .filter(host_application_enterprises::application_id.eq(client_id))
                .filter(host_application_enterprises::enterprise_id.eq(enterprise_id)),
        ))
        .get_result(conn)?,
    })
}

fn json(uris: &[String]) -> String {
    serde_json::to_string(uris).unwrap_or_else(|_| "[]".into())
}

fn subject(app: &HostApplication) -> Subject {
    Subject::new(None, "host_application", &app.client_id, &app.name).with_details(serde_json::json!({
        "public": app.public,
        "redirect_uris": app.redirect_uris,
        "post_logout_redirect_uris": app.post_logout_redirect_uris,
        "backchannel_logout_uri": app.backchannel_logout_uri,
        "enterprises": match &app.enterprises { EnterpriseScope::All => serde_json::json!("*"), EnterpriseScope::Only(k) => serde_json::json!(k) },
        "id_token_alg": app.id_token_alg.as_str(),
    }))
}

impl Directory {
    /// Registers an application (operators only); its secret is in the answer and nowhere else.
    pub fn create_host_application(&self, ctx: &Ctx<'_>, input: NewHostApplication) -> Result<CreatedHostApplication> {
        ctx.require_platform_admin()?;
        let mut errors = FieldErrors::default();
        crate::validate::name(&mut errors, "name", &input.name, 200);
        let redirect_uris = dedup(input.redirect_uris);
        let post_logout = dedup(input.post_logout_redirect_uris);
        check_uris(&mut errors, "redirect_uris", &redirect_uris, true);
        check_uris(&mut errors, "post_logout_redirect_uris", &post_logout, false);
        for (field, uri) in [
            ("backchannel_logout_uri", &input.backchannel_logout_uri),
            ("initiate_login_uri", &input.initiate_login_uri),
        ] {
            if let Some(u) = uri {
                check_uri(&mut errors, field, u);
            }
        }
        let alg = check_alg(&mut errors, input.id_token_alg.as_deref().unwrap_or("RS256"));
        let access = input.access_token_ttl_secs.unwrap_or(DEFAULT_ACCESS_TOKEN_TTL);
        let id_ttl = input.id_token_ttl_secs.unwrap_or(DEFAULT_ID_TOKEN_TTL);
        let refresh = input.refresh_token_ttl_secs.unwrap_or(DEFAULT_REFRESH_TOKEN_TTL);
        check_ttl(&mut errors, "access_token_ttl_secs", access, 60, 86_400);
        check_ttl(&mut errors, "id_token_ttl_secs", id_ttl, 60, 86_400);
        check_ttl(&mut errors, "refresh_token_ttl_secs", refresh, 300, 365 * 86_400);
        if !errors.is_empty() {
            return Err(DirectoryError::Validation(errors));
        }
        self.audited(ctx, "host_application.create", |conn, now| {
            let client_id = format!("papp_{}", random_hex(12)?);
            let secret = if input.public { None } else { Some(format!("pcs_{}", random_token(32)?)) };
            diesel::insert_into(host_applications::table)
                .values((
                    host_applications::id.eq(&client_id),
                    host_applications::name.eq(input.name.trim()),
                    host_applications::public.eq(input.public),
                    host_applications::secret_hash.eq(secret.as_deref().map(hash_secret)),
                    host_applications::redirect_uris.eq(json(&redirect_uris)),
                    host_applications::post_logout_redirect_uris.eq(json(&post_logout)),
                    host_applications::backchannel_logout_uri.eq(&input.backchannel_logout_uri),
                    host_applications::initiate_login_uri.eq(&input.initiate_login_uri),
                    host_applications::all_enterprises.eq(input.enterprises == EnterpriseScope::All),
                    host_applications::id_token_alg.eq(alg.as_str()),
                    host_applications::access_token_ttl_secs.eq(access),
                    host_applications::id_token_ttl_secs.eq(id_ttl),
                    host_applications::refresh_token_ttl_secs.eq(refresh),
                    host_applications::created_at.eq(now),
                    host_applications::updated_at.eq(now),
                ))
                .execute(conn)?;
            set_enterprises(conn, &client_id, &input.enterprises)?;
            let application = find(conn, &client_id)?.ok_or(DirectoryError::NotFound("application"))?;
            let subject = subject(&application);
            Ok((CreatedHostApplication { application, client_secret: secret }, subject))
        })
    }

    /// Every registered application, by name (operators only).
    pub fn list_host_applications(&self, ctx: &Ctx<'_>) -> Result<Vec<HostApplication>> {
        ctx.require_platform_admin()?;
        let mut conn = self.conn()?;
        let rows: Vec<Row> = host_applications::table
            .order((host_applications::name.asc(), host_applications::id.asc()))
            .select(Row::as_select())
            .load(&mut conn)?;
        rows.into_iter().map(|r| load(&mut conn, r)).collect()
    }

    /// One application (operators only).
    pub fn get_host_application(&self, ctx: &Ctx<'_>, client_id: &str) -> Result<HostApplication> {
        ctx.require_platform_admin()?;
        let mut conn = self.conn()?;
        find(&mut conn, client_id)?.ok_or(DirectoryError::NotFound("application"))
    }

    /// Changes an application (operators only). Whether it is public is fixed at creation.
    pub fn update_host_application(
        &self,
        ctx: &Ctx<'_>,
        client_id: &str,
        changes: HostApplicationChanges,
    ) -> Result<HostApplication> {
        ctx.require_platform_admin()?;
        let mut errors = FieldErrors::default();
        if let Some(n) = &changes.name {
            crate::validate::name(&mut errors, "name", n, 200);
        }
        let redirect_uris = changes.redirect_uris.map(dedup);
        let post_logout = changes.post_logout_redirect_uris.map(dedup);
        if let Some(u) = &redirect_uris {
            check_uris(&mut errors, "redirect_uris", u, true);
        }
        if let Some(u) = &post_logout {
            check_uris(&mut errors, "post_logout_redirect_uris", u, false);
        }
        for (field, uri) in [
            ("backchannel_logout_uri", &changes.backchannel_logout_uri),
            ("initiate_login_uri", &changes.initiate_login_uri),
        ] {
            if let Some(Some(u)) = uri {
                check_uri(&mut errors, field, u);
            }
        }
        let alg = changes.id_token_alg.as_deref().map(|a| check_alg(&mut errors, a));
        for (field, value, min, max) in [
            ("access_token_ttl_secs", changes.access_token_ttl_secs, 60, 86_400),
            ("id_token_ttl_secs", changes.id_token_ttl_secs, 60, 86_400),
            ("refresh_token_ttl_secs", changes.refresh_token_ttl_secs, 300, 365 * 86_400),
        ] {
            if let Some(v) = value {
                check_ttl(&mut errors, field, v, min, max);
            }
        }
        if !errors.is_empty() {
            return Err(DirectoryError::Validation(errors));
        }
        self.audited(ctx, "host_application.update", |conn, now| {
            let before = find(conn, client_id)?.ok_or(DirectoryError::NotFound("application"))?;
            let target = host_applications::table.filter(host_applications::id.eq(client_id));
            diesel::update(target)
                .set((
                    host_applications::name.eq(changes.name.as_deref().map(str::trim).unwrap_or(&before.name)),
                    host_applications::redirect_uris.eq(json(redirect_uris.as_ref().unwrap_or(&before.redirect_uris))),
                    host_applications::post_logout_redirect_uris
                        .eq(json(post_logout.as_ref().unwrap_or(&before.post_logout_redirect_uris))),
                    host_applications::backchannel_logout_uri
                        .eq(changes.backchannel_logout_uri.clone().unwrap_or(before.backchannel_logout_uri.clone())),
                    host_applications::initiate_login_uri
                        .eq(changes.initiate_login_uri.clone().unwrap_or(before.initiate_login_uri.clone())),
                    host_applications::id_token_alg.eq(alg.unwrap_or(before.id_token_alg).as_str()),
                    host_applications::access_token_ttl_secs
                        .eq(changes.access_token_ttl_secs.unwrap_or(before.access_token_ttl_secs)),
                    host_applications::id_token_ttl_secs
                        .eq(changes.id_token_ttl_secs.unwrap_or(before.id_token_ttl_secs)),
                    host_applications::refresh_token_ttl_secs
                        .eq(changes.refresh_token_ttl_secs.unwrap_or(before.refresh_token_ttl_secs)),
                    host_applications::updated_at.eq(now),
                ))
                .execute(conn)?;
            if let Some(scope) = &changes.enterprises {
                diesel::update(host_applications::table.filter(host_applications::id.eq(client_id)))
                    .set(host_applications::all_enterprises.eq(*scope == EnterpriseScope::All))
                    .execute(conn)?;
                set_enterprises(conn, client_id, scope)?;
            }
            let after = find(conn, client_id)?.ok_or(DirectoryError::NotFound("application"))?;
            let subject = subject(&after);
            Ok((after, subject))
        })
    }

    /// Removes an application; every grant and token it holds goes with it (operators only).
    pub fn delete_host_application(&self, ctx: &Ctx<'_>, client_id: &str) -> Result<()> {
        ctx.require_platform_admin()?;
        self.audited(ctx, "host_application.delete", |conn, _now| {
            let app = find(conn, client_id)?.ok_or(DirectoryError::NotFound("application"))?;
            diesel::delete(host_applications::table.filter(host_applications::id.eq(client_id))).execute(conn)?;
            Ok(((), Subject::new(None, "host_application", &app.client_id, &app.name)))
        })
    }

    /// Replaces a confidential application's secret; the old one stops working at once, and
    /// the new one is in the answer only (operators only).
    pub fn rotate_host_application_secret(&self, ctx: &Ctx<'_>, client_id: &str) -> Result<String> {
        ctx.require_platform_admin()?;
        self.audited(ctx, "host_application.rotate_secret", |conn, now| {
            let app = find(conn, client_id)?.ok_or(DirectoryError::NotFound("application"))?;
            if app.public {
                return Err(DirectoryError::Conflict("a public application has no client secret to rotate".into()));
            }
            let secret = format!("pcs_{}", random_token(32)?);
            diesel::update(host_applications::table.filter(host_applications::id.eq(client_id)))
                .set((
                    host_applications::secret_hash.eq(hash_secret(&secret)),
                    host_applications::secret_rotated_at.eq(now),
                    host_applications::updated_at.eq(now),
                ))
                .execute(conn)?;
            Ok((secret, Subject::new(None, "host_application", &app.client_id, &app.name)))
        })
    }

    /// The application behind a `client_id` an authorization request names, for the OpenID
    /// Provider (no actor: the client id is public).
    pub fn host_application(&self, client_id: &str) -> Result<Option<HostApplication>> {
        let mut conn = self.conn()?;
        find(&mut conn, client_id)
    }

    /// The confidential application authenticating with `client_id` and `secret`, or `None`
    /// (unknown, public, or a wrong secret; compared in constant time).
    pub fn authenticate_host_application(&self, client_id: &str, secret: &str) -> Result<Option<HostApplication>> {
        let mut conn = self.conn()?;
        let row: Option<(Row, Option<String>)> = host_applications::table
            .filter(host_applications::id.eq(client_id))
            .select((Row::as_select(), host_applications::secret_hash))
            .first(&mut conn)
            .optional()?;
        match row {
            Some((row, Some(hash))) if secret_matches(secret, &hash) => load(&mut conn, row).map(Some),
            _ => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors_for(uri: &str) -> usize {
        let mut e = FieldErrors::default();
        check_uri(&mut e, "redirect_uris", uri);
        e.0.len()
    }

    #[test]
    fn only_https_or_loopback_http_without_fragments_may_be_registered() {
        assert_eq!(errors_for("https://app.example/callback"), 0);
        assert_eq!(errors_for("http://127.0.0.1:8080/cb"), 0);
        assert_eq!(errors_for("http://localhost/cb"), 0);
        assert_eq!(errors_for("http://[::1]:9/cb"), 0);
        assert_eq!(errors_for("http://app.example/cb"), 1, "plain HTTP to another host");
        assert_eq!(errors_for("https://app.example/cb#x"), 1, "a fragment");
        assert_eq!(errors_for("https://user:pw@app.example/cb"), 1, "credentials");
        assert_eq!(errors_for("javascript:alert(1)"), 1);
        assert_eq!(errors_for("/relative"), 1);
    }

    #[test]
    fn redirect_uris_match_exactly() {
        let app = HostApplication {
            client_id: "c".into(),
            name: "n".into(),
            public: false,
            redirect_uris: vec!["https://app.example/cb".into()],
            post_logout_redirect_uris: vec![],
            backchannel_logout_uri: None,
            initiate_login_uri: None,
            enterprises: EnterpriseScope::Only(vec!["acme".into()]),
            id_token_alg: SigningAlg::Rs256,
            access_token_ttl_secs: 600,
            id_token_ttl_secs: 600,
            refresh_token_ttl_secs: 600,
            created_at: NaiveDateTime::default(),
            updated_at: NaiveDateTime::default(),
            secret_rotated_at: None,
        };
        assert!(app.has_redirect_uri("https://app.example/cb"));
        for near in
            ["https://app.example/cb/", "https://app.example/cb?x=1", "https://APP.example/cb", "https://app.example/c"]
        {
            assert!(!app.has_redirect_uri(near), "{near}");
        }
        assert!(app.allows_enterprise("acme"));
        assert!(!app.allows_enterprise("globex"));
    }
}
