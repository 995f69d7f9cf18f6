//! Raw SQL on both backends, for the statements diesel's `MultiConnection` cannot express
//! (`ON CONFLICT`, `INSERT … SELECT`, set-based changes keyed by a list of ids). A statement is
//! written once, as a constant, in one small dialect that [`dialect`] turns into each backend's
//! SQL:
//!
//! - parameters are `$n` (SQLite reads them as `?n`);
//! - `IDS($n)` is a sub-select of one column, `value`, holding the strings of the JSON array
//!   parameter `$n` (`jsonb_array_elements_text` on PostgreSQL, `json_each` on SQLite), so that a
//!   list of ids travels as one parameter and a statement's size does not grow with it.

use chrono::NaiveDateTime;
use diesel::RunQueryDsl;
use diesel::sql_types::{BigInt, Text, Timestamp};

use crate::db::{Backend, DbConnection};
use crate::error::{DirectoryError, Result};

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// `sql`, written in the dialect above, as `backend` reads it.
pub(crate) fn dialect(backend: Backend, sql: &str) -> String {
    let postgres = backend == Backend::Postgres;
    let mut out = String::with_capacity(sql.len() + 64);
    let mut rest = sql;
    while let Some(start) = rest.find("IDS(") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 4..];
        let end = after.find(')').unwrap_or(after.len());
        let param = &after[..end];
        if postgres {
            out.push_str(&format!("SELECT jsonb_array_elements_text({param}::jsonb) AS value"));
        } else {
            out.push_str(&format!("SELECT value FROM json_each({param})"));
        }
        rest = after.get(end + 1..).unwrap_or("");
    }
    out.push_str(rest);
    if postgres { out } else { out.replace('$', "?") }
}

/// A list as the JSON array parameter [`id_set`] reads.
pub(crate) fn ids_json(ids: &[String]) -> Result<String> {
    serde_json::to_string(ids).map_err(|e| DirectoryError::Internal(e.to_string()))
}

fn backend_of(conn: &DbConnection) -> Backend {
    match conn {
        DbConnection::Postgresql(_) => Backend::Postgres,
        DbConnection::Sqlite(_) => Backend::Sqlite,
    }
}

/// Runs `sql` (in the dialect above) with text parameters `$1…`, and `now` as the parameter
/// after them when given.
pub(crate) fn execute(
    conn: &mut DbConnection,
    sql: &str,
    now: Option<NaiveDateTime>,
    params: &[&str],
) -> Result<usize> {
    macro_rules! run {
        ($c:expr, $sql:expr) => {{
            let mut q = diesel::sql_query($sql).into_boxed();
            for p in params {
                q = q.bind::<Text, _>(p.to_string());
            }
            if let Some(now) = now {
                q = q.bind::<Timestamp, _>(now);
            }
            q.execute($c)?
        }};
    }
    let sql = dialect(backend_of(conn), sql);
    Ok(match conn {
        DbConnection::Postgresql(c) => run!(c, sql),
        DbConnection::Sqlite(c) => run!(c, sql),
    })
}

#[derive(diesel::QueryableByName)]
struct Value {
    #[diesel(sql_type = Text)]
    value: String,
}

/// Runs `sql` (in the dialect above, ending in `RETURNING … AS value`) with text parameters
/// `$1…` and `now` after them when given; answers the returned strings.
pub(crate) fn returning(
    conn: &mut DbConnection,
    sql: &str,
    now: Option<NaiveDateTime>,
    params: &[&str],
) -> Result<Vec<String>> {
    macro_rules! run {
        ($c:expr, $sql:expr) => {{
            let mut q = diesel::sql_query($sql).into_boxed();
            for p in params {
                q = q.bind::<Text, _>(p.to_string());
            }
            if let Some(now) = now {
                q = q.bind::<Timestamp, _>(now);
            }
            q.load::<Value>($c)?
        }};
    }
    let sql = dialect(backend_of(conn), sql);
    let rows = match conn {
        DbConnection::Postgresql(c) => run!(c, sql),
        DbConnection::Sqlite(c) => run!(c, sql),
    };
    Ok(rows.into_iter().map(|r| r.value).collect())
}

/// Runs `SELECT COUNT(*) AS n …` (in the dialect above) with text parameters.
pub(crate) fn count(conn: &mut DbConnection, sql: &str, params: &[&str]) -> Result<i64> {
    macro_rules! run {
        ($c:expr, $sql:expr) => {{
            let mut q = diesel::sql_query($sql).into_boxed();
            for p in params {
                q = q.bind::<Text, _>(p.to_string());
            }
            q.get_result::<Count>($c)?.n
        }};
    }
    let sql = dialect(backend_of(conn), sql);
    Ok(match conn {
        DbConnection::Postgresql(c) => run!(c, sql),
        DbConnection::Sqlite(c) => run!(c, sql),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_sets_and_placeholders_follow_the_backend() {
        let sql = "DELETE FROM m WHERE g = $1 AND u IN (IDS($2)) AND v NOT IN (IDS($3))";
        assert_eq!(
            dialect(Backend::Postgres, sql),
            "DELETE FROM m WHERE g = $1 AND u IN (SELECT jsonb_array_elements_text($2::jsonb) AS value) \
             AND v NOT IN (SELECT jsonb_array_elements_text($3::jsonb) AS value)"
        );
        assert_eq!(
            dialect(Backend::Sqlite, sql),
            "DELETE FROM m WHERE g = ?1 AND u IN (SELECT value FROM json_each(?2)) \
             AND v NOT IN (SELECT value FROM json_each(?3))"
        );
        assert_eq!(dialect(Backend::Sqlite, "SELECT 1"), "SELECT 1");
    }
}
