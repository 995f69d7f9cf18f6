//! SCIM tokens: what an enterprise's IdP presents to push users and groups. An enterprise admin
//! creates one (shown once), sees its prefix, creator, creation and last use, and revokes it.
//! Rotation is creating a new token, moving the IdP to it, then revoking the old one: both are
//! valid in between.
//!
//! Format: `pscim_` + 12 hex characters of prefix + `_` + 43 characters of secret (256 random
//! bits). Kept as the prefix and a SHA-256 hash, compared in constant time: the token is random,
//! so a slow password hash would add cost and no safety.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;

use crate::Directory;
use crate::access::Ctx;
use crate::audit::Subject;
use crate::error::{DirectoryError, Result};
use crate::schema::{enterprises, scim_tokens};
use crate::secret::{hash_secret, new_id, new_prefixed_token, secret_matches, token_prefix};

const TOKEN_PREFIX: &str = "pscim_";
const TOUCH_EVERY_SECS: i64 = 60;

/// A token as listed (never with its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScimTokenInfo {
    pub id: String,
    pub prefix: String,
    pub description: String,
    pub created_by: String,
    pub created_at: NaiveDateTime,
    pub last_used_at: Option<NaiveDateTime>,
}

/// A token just created: the only time its full value exists outside the IdP.
#[derive(Debug, Clone)]
pub struct CreatedScimToken {
    pub info: ScimTokenInfo,
    pub token: String,
}

/// Who is calling the SCIM API: a valid token of the enterprise whose URL was called.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimCaller {
    pub token_id: String,
    pub prefix: String,
    pub enterprise_id: crate::ids::EnterpriseId,
}

/// The prefix of a presented token, or `None` if it is not shaped like one of ours.
fn parse(token: &str) -> Option<&str> {
    token_prefix(token, TOKEN_PREFIX)
}

type Row = (String, String, String, String, NaiveDateTime, Option<NaiveDateTime>);

impl Directory {
    /// Creates a token for `enterprise_key` (its admins and operators).
    pub fn create_scim_token(
        &self,
        ctx: &Ctx<'_>,
        enterprise_key: &str,
        description: &str,
    ) -> Result<CreatedScimToken> {
        self.audited_in(ctx, "scim_token.create", enterprise_key, |conn, now| {
            let e = self.visible_enterprise(conn, ctx, enterprise_key)?;
            ctx.require_enterprise_admin(&e.id)?;
            let (prefix, token) = new_prefixed_token(TOKEN_PREFIX)?;
            let info = ScimTokenInfo {
                id: new_id(),
                prefix: prefix.clone(),
                description: description.trim().chars().take(200).collect(),
                created_by: ctx.actor.display_name(),
                created_at: now,
                last_used_at: None,
            };
            diesel::insert_into(scim_tokens::table)
                .values((
                    scim_tokens::id.eq(&info.id),
                    scim_tokens::enterprise_id.eq(&e.id),
                    scim_tokens::prefix.eq(&prefix),
                    scim_tokens::secret_hash.eq(hash_secret(&token)),
                    scim_tokens::description.eq(&info.description),
                    scim_tokens::created_by.eq(&info.created_by),
                    scim_tokens::created_at.eq(now),
                ))
                .execute(conn)?;
            let subject = Subject::new(Some(&e.id), "scim_token", &info.id, &prefix);
            Ok((CreatedScimToken { info, token }, subject))
        })
    }

    /// The enterprise's valid tokens, newest first.
    pub fn list_scim_tokens(&self, ctx: &Ctx<'_>, enterprise_key: &str) -> Result<Vec<ScimTokenInfo>> {
        let mut conn = self.conn()?;
        let e = self.visible_enterprise(&mut conn, ctx, enterprise_key)?;
        ctx.require_enterprise_admin(&e.id)?;
        let rows: Vec<Row> = scim_tokens::table
            .filter(scim_tokens::enterprise_id.eq(&e.id))
            .filter(scim_tokens::revoked_at.is_null())
            .order((scim_tokens::created_at.desc(), scim_tokens::id.desc()))
            .select((
                scim_tokens::id,
                scim_tokens::prefix,
                scim_tokens::description,
                scim_tokens::created_by,
                scim_tokens::created_at,
                scim_tokens::last_used_at,
            ))
            .load(&mut conn)?;
        Ok(rows
            .into_iter()
            .map(|(id, prefix, description, created_by, created_at, last_used_at)| ScimTokenInfo {
                id,
                prefix,
                description,
                created_by,
                created_at,
                last_used_at,
            })
            .collect())
    }

    /// Revokes a token at once; the IdP using it gets 401 from its next request.
    pub fn revoke_scim_token(&self, ctx: &Ctx<'_>, enterprise_key: &str, token_id: &str) -> Result<()> {
        self.audited_in(ctx, "scim_token.revoke", enterprise_key, |conn, now| {
            let e = self.visible_enterprise(conn, ctx, enterprise_key)?;
            ctx.require_enterprise_admin(&e.id)?;
            let prefix: Option<String> = diesel::update(
                scim_tokens::table
                    .filter(scim_tokens::id.eq(token_id))
                    .filter(scim_tokens::enterprise_id.eq(&e.id))
                    .filter(scim_tokens::revoked_at.is_null()),
            )
            .set(scim_tokens::revoked_at.eq(now))
            .returning(scim_tokens::prefix)
            .get_result(conn)
            .optional()?;
            let prefix = prefix.ok_or(DirectoryError::NotFound("SCIM token"))?;
            Ok(((), Subject::new(Some(&e.id), "scim_token", token_id, &prefix)))
        })
    }

    /// The caller behind a token presented at `enterprise_key`'s SCIM URL, or `None` for
    /// anything unknown, revoked, malformed or belonging to another enterprise.
    pub fn authenticate_scim_token(&self, enterprise_key: &str, token: &str) -> Result<Option<ScimCaller>> {
        let Some(prefix) = parse(token) else {
            return Ok(None);
        };
        let now = self.now();
        let mut conn = self.conn()?;
        let row: Option<(String, String, String, Option<NaiveDateTime>)> = scim_tokens::table
            .inner_join(enterprises::table)
            .filter(scim_tokens::prefix.eq(prefix))
            .filter(scim_tokens::revoked_at.is_null())
            .filter(enterprises::key.eq(enterprise_key))
            .select((scim_tokens::id, scim_tokens::enterprise_id, scim_tokens::secret_hash, scim_tokens::last_used_at))
            .first(&mut conn)
            .optional()?;
        let Some((id, enterprise_id, secret_hash, last_used)) = row else {
            return Ok(None);
        };
        if !secret_matches(token, &secret_hash) {
            return Ok(None);
        }
        // Last use is shown to the admin; writing it once a minute is enough.
        if last_used.is_none_or(|t| now - t > Duration::seconds(TOUCH_EVERY_SECS)) {
            diesel::update(scim_tokens::table.filter(scim_tokens::id.eq(&id)))
                .set(scim_tokens::last_used_at.eq(now))
                .execute(&mut conn)?;
        }
        Ok(Some(ScimCaller { token_id: id, prefix: prefix.to_owned(), enterprise_id: enterprise_id.into() }))
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn parse_accepts_only_our_shape() {
        let secret = "a".repeat(43);
        assert_eq!(parse(&format!("pscim_0123456789ab_{secret}")), Some("0123456789ab"));
        assert_eq!(parse(&format!("portico_0123456789ab_{secret}")), None, "an admin API key is not a SCIM token");
        assert_eq!(parse(&format!("pscim_0123456789zz_{secret}")), None);
        assert_eq!(parse("pscim_0123456789ab_short"), None);
        assert_eq!(parse("pscim_é"), None);
        assert_eq!(parse(""), None);
    }
}
