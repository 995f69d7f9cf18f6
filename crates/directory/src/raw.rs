//! Raw SQL on both backends, for the statements diesel's `MultiConnection` cannot express
//! (`ON CONFLICT`, `INSERT … SELECT`, set-based changes keyed by a list of ids): SQL is written
//! once with `$n` placeholders (SQLite reads them as `?n`), and a list of ids travels as one JSON
//! array parameter, unpacked by the database (`jsonb_array_elements_text` on PostgreSQL,
//! `json_each` on SQLite), so a statement's size does not grow with the list.

use chrono::NaiveDateTime;
use diesel::RunQueryDsl;
use diesel::sql_types::{BigInt, Text, Timestamp};

use crate::db::DbConnection;
use crate::error::{DirectoryError, Result};

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// The strings of JSON array parameter `$n`, as a sub-select of one column named `value`.
pub(crate) fn id_set(conn: &DbConnection, n: u8) -> String {
    match conn {
        DbConnection::Postgresql(_) => format!("SELECT jsonb_array_elements_text(${n}::jsonb) AS value"),
        DbConnection::Sqlite(_) => format!("SELECT value FROM json_each(?{n})"),
    }
}

/// A list as the JSON array parameter [`id_set`] reads.
pub(crate) fn ids_json(ids: &[String]) -> Result<String> {
    serde_json::to_string(ids).map_err(|e| DirectoryError::Internal(e.to_string()))
}

/// Runs `sql` with text parameters `$1…`, and `now` as the parameter after them when given.
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
    Ok(match conn {
        DbConnection::Postgresql(c) => run!(c, sql),
        DbConnection::Sqlite(c) => run!(c, sql.replace('$', "?")),
    })
}

/// Runs `SELECT COUNT(*) AS n …` with text parameters.
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
    Ok(match conn {
        DbConnection::Postgresql(c) => run!(c, sql),
        DbConnection::Sqlite(c) => run!(c, sql.replace('$', "?")),
    })
}
