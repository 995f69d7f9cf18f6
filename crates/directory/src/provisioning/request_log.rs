//! The last SCIM requests of each enterprise, for its admins: when a push fails, the IdP's own
//! report is often vague, and this log says which request failed and why. The gateway records
//! requests in batches, off the request path; bodies arrive here already redacted.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::Directory;
use crate::access::Ctx;
use crate::error::Result;
use crate::schema::scim_requests;
use crate::secret::new_id;

/// Requests kept per enterprise; older ones are pruned as new ones arrive.
pub const KEEP_PER_ENTERPRISE: i64 = 500;

/// One request as logged.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Serialize)]
#[diesel(table_name = scim_requests)]
pub struct ScimRequest {
    pub id: String,
    pub enterprise_id: String,
    pub at: NaiveDateTime,
    pub method: String,
    pub path: String,
    pub status: i32,
    pub duration_micros: i64,
    pub scim_type: Option<String>,
    pub detail: Option<String>,
    pub user_agent: String,
    pub token_prefix: Option<String>,
    pub request_body: Option<String>,
}

impl ScimRequest {
    /// A log entry with a fresh id.
    pub fn new(enterprise_id: &str, at: NaiveDateTime, method: &str, path: &str, status: u16) -> Self {
        ScimRequest {
            id: new_id(),
            enterprise_id: enterprise_id.to_owned(),
            at,
            method: method.to_owned(),
            path: path.to_owned(),
            status: i32::from(status),
            duration_micros: 0,
            scim_type: None,
            detail: None,
            user_agent: String::new(),
            token_prefix: None,
            request_body: None,
        }
    }
}

impl Directory {
    /// Stores a batch of requests and prunes each enterprise's log to its newest entries.
    pub fn record_scim_requests(&self, batch: &[ScimRequest]) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        self.write(|conn, _now| {
            for r in batch {
                diesel::insert_into(scim_requests::table)
                    .values((
                        scim_requests::id.eq(&r.id),
                        scim_requests::enterprise_id.eq(&r.enterprise_id),
                        scim_requests::at.eq(r.at),
                        scim_requests::method.eq(&r.method),
                        scim_requests::path.eq(&r.path),
                        scim_requests::status.eq(r.status),
                        scim_requests::duration_micros.eq(r.duration_micros),
                        scim_requests::scim_type.eq(&r.scim_type),
                        scim_requests::detail.eq(&r.detail),
                        scim_requests::user_agent.eq(&r.user_agent),
                        scim_requests::token_prefix.eq(&r.token_prefix),
                        scim_requests::request_body.eq(&r.request_body),
                    ))
                    .execute(conn)?;
            }
            let mut enterprises: Vec<&str> = batch.iter().map(|r| r.enterprise_id.as_str()).collect();
            enterprises.sort_unstable();
            enterprises.dedup();
            for enterprise_id in enterprises {
                let cutoff: Option<NaiveDateTime> = scim_requests::table
                    .filter(scim_requests::enterprise_id.eq(enterprise_id))
                    .order(scim_requests::at.desc())
                    .offset(KEEP_PER_ENTERPRISE)
                    .select(scim_requests::at)
                    .first(conn)
                    .optional()?;
                if let Some(cutoff) = cutoff {
                    diesel::delete(
                        scim_requests::table
                            .filter(scim_requests::enterprise_id.eq(enterprise_id))
                            .filter(scim_requests::at.le(cutoff)),
                    )
                    .execute(conn)?;
                }
            }
            Ok(())
        })
    }

    /// The newest requests of an enterprise, newest first (enterprise admins).
    pub fn scim_request_log(&self, ctx: &Ctx<'_>, enterprise_key: &str, limit: i64) -> Result<Vec<ScimRequest>> {
        let mut conn = self.conn()?;
        let enterprise = self.visible_enterprise(&mut conn, ctx, enterprise_key)?;
        ctx.require_enterprise_admin(&enterprise.id)?;
        Ok(scim_requests::table
            .filter(scim_requests::enterprise_id.eq(&enterprise.id))
            .order((scim_requests::at.desc(), scim_requests::id.desc()))
            .limit(limit.clamp(1, KEEP_PER_ENTERPRISE))
            .select(ScimRequest::as_select())
            .load(&mut conn)?)
    }
}
