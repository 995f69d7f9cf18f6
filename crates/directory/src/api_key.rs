//! Admin API keys, for automation. A key is shown once; Portico keeps its prefix (to find it
//! and to name it in the audit log) and a SHA-256 hash of the whole key.
//!
//! Format: `portico_` + 12 hex characters of prefix + `_` + 43 characters of secret
//! (256 random bits).

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;

use crate::Directory;
use crate::access::{Actor, Ctx};
use crate::audit::Subject;
use crate::error::Result;
use crate::schema::api_keys;
use crate::secret::{hash_secret, new_id, new_prefixed_token, secret_matches, token_prefix};

const KEY_PREFIX: &str = "portico_";
const TOUCH_EVERY_SECS: i64 = 60;

/// A key as listed (never with its secret).
#[derive(Debug, Clone, Serialize)]
pub struct ApiKeyInfo {
    pub id: String,
    pub prefix: String,
    pub enterprise_key: Option<String>,
    pub description: String,
    pub created_by: String,
    pub created_at: NaiveDateTime,
}

/// A key just created: the only time its full value exists outside the caller's hands.
#[derive(Debug, Clone)]
pub struct CreatedApiKey {
    pub info: ApiKeyInfo,
    pub token: String,
}

/// The prefix of a presented token, or `None` if it is not shaped like one of ours.
fn parse(token: &str) -> Option<&str> {
    token_prefix(token, KEY_PREFIX)
}

impl Directory {
    /// Creates a key for the whole platform (`enterprise_key = None`, operators only) or for
    /// one enterprise (its admins).
    pub fn create_api_key(
        &self,
        ctx: &Ctx<'_>,
        enterprise_key: Option<&str>,
        description: &str,
    ) -> Result<CreatedApiKey> {
        self.audited(ctx, "api_key.create", |conn, now| {
            let enterprise = match enterprise_key {
                Some(key) => {
                    let e = self.visible_enterprise(conn, ctx, key)?;
                    ctx.require_enterprise_admin(&e.id)?;
                    Some(e)
                }
                None => {
                    ctx.require_platform_admin()?;
                    None
                }
            };
            let (prefix, token) = new_prefixed_token(KEY_PREFIX)?;
            let info = ApiKeyInfo {
                id: new_id(),
                prefix: prefix.clone(),
                enterprise_key: enterprise.as_ref().map(|e| e.key.to_string()),
                description: description.trim().chars().take(200).collect(),
                created_by: ctx.actor.display_name(),
                created_at: now,
            };
            diesel::insert_into(api_keys::table)
                .values((
                    api_keys::id.eq(&info.id),
                    api_keys::enterprise_id.eq(enterprise.as_ref().map(|e| e.id.as_str())),
                    api_keys::prefix.eq(&prefix),
                    api_keys::secret_hash.eq(hash_secret(&token)),
                    api_keys::description.eq(&info.description),
                    api_keys::created_by.eq(&info.created_by),
                    api_keys::created_at.eq(now),
                ))
                .execute(conn)?;
            let subject = Subject::new(enterprise.as_ref().map(|e| e.id.as_str()), "api_key", &info.id, &prefix);
            Ok((CreatedApiKey { info, token }, subject))
        })
    }

    /// The actor behind a presented key, or `None` for anything unknown, revoked or
    /// malformed.
    pub fn authenticate_api_key(&self, token: &str) -> Result<Option<Actor>> {
        let Some(prefix) = parse(token) else {
            return Ok(None);
        };
        let now = self.now();
        let mut conn = self.conn()?;
        let row: Option<(String, Option<String>, String, Option<NaiveDateTime>)> = api_keys::table
            .filter(api_keys::prefix.eq(prefix))
            .filter(api_keys::revoked_at.is_null())
            .select((api_keys::id, api_keys::enterprise_id, api_keys::secret_hash, api_keys::last_used_at))
            .first(&mut conn)
            .optional()?;
        let Some((id, enterprise_id, secret_hash, last_used)) = row else {
            return Ok(None);
        };
        if !secret_matches(token, &secret_hash) {
            return Ok(None);
        }
        if last_used.is_none_or(|t| now - t > Duration::seconds(TOUCH_EVERY_SECS)) {
            diesel::update(api_keys::table.filter(api_keys::id.eq(&id)))
                .set(api_keys::last_used_at.eq(now))
                .execute(&mut conn)?;
        }
        Ok(Some(Actor::ApiKey { id, prefix: prefix.to_owned(), enterprise_id: enterprise_id.map(Into::into) }))
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn parse_accepts_only_our_shape() {
        let secret = "a".repeat(43);
        assert_eq!(parse(&format!("portico_0123456789ab_{secret}")), Some("0123456789ab"));
        assert_eq!(parse(&format!("portico_0123456789zz_{secret}")), None);
        assert_eq!(parse(&format!("portico_0123456789ab{secret}")), None);
        assert_eq!(parse("portico_0123456789ab_short"), None);
        assert_eq!(parse("Bearer x"), None);
        assert_eq!(parse("portico_é"), None);
    }
}
