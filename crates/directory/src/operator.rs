//! Operators: the people who run Portico itself. They belong to no enterprise.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::Directory;
use crate::db::DbConnection;
use crate::error::Result;
use crate::schema::operators;

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Serialize)]
#[diesel(table_name = operators)]
pub struct Operator {
    pub id: String,
    pub login: String,
    pub email: Option<String>,
    pub name: String,
    pub active: bool,
    pub last_sign_in_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

pub(crate) fn count(conn: &mut DbConnection) -> Result<i64> {
    Ok(operators::table.count().get_result(conn)?)
}

impl Directory {
    /// How many operator accounts exist; zero means Portico still needs its first operator.
    pub fn operator_count(&self) -> Result<i64> {
        let mut conn = self.conn()?;
        count(&mut conn)
    }
}
