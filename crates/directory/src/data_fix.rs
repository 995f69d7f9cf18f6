//! One-off changes to stored data that SQL cannot make, applied by `run_migrations` right
//! after the schema migrations and under the same lock, each recorded in `data_fixes` so that
//! it runs once.
//!
//! The one fix so far recomputes stored login keys: logins used to be compared lower-cased and
//! are now compared after NFKC normalisation and full case folding (`validate::login_key`).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::error::Result;
use crate::schema::{data_fixes, operators, users};
use crate::validate::login_key;

const LOGIN_KEYS: &str = "login_keys_nfkc_casefold";

/// Applies the fixes not yet recorded; returns their names.
pub(crate) fn apply(conn: &mut DbConnection, now: NaiveDateTime) -> Result<Vec<String>> {
    let done: Vec<String> = data_fixes::table.select(data_fixes::name).load(conn)?;
    let mut applied = Vec::new();
    if !done.iter().any(|d| d == LOGIN_KEYS) {
        rekey_logins(conn)?;
        diesel::insert_into(data_fixes::table)
            .values((data_fixes::name.eq(LOGIN_KEYS), data_fixes::applied_at.eq(now)))
            .execute(conn)?;
        applied.push(LOGIN_KEYS.to_owned());
    }
    Ok(applied)
}

/// A stored login as the fix reads it.
#[derive(Debug)]
struct StoredLogin {
    id: String,
    /// Where logins must be unique: the enterprise id, or empty for operators.
    scope: String,
    login: String,
    key: String,
}

/// The `(id, new key)` updates for `rows`, and the logins left alone. Logins that only the new
/// comparison makes equal within one scope keep their old keys, which stay unique, and are
/// reported: an admin renames all but one of them.
fn new_keys(rows: Vec<StoredLogin>) -> (Vec<(String, String)>, Vec<String>) {
    use std::collections::HashMap;
    let mut by_key: HashMap<(String, String), Vec<StoredLogin>> = HashMap::new();
    for row in rows {
        by_key.entry((row.scope.clone(), login_key(&row.login))).or_default().push(row);
    }
    let (mut updates, mut clashes) = (Vec::new(), Vec::new());
    for ((_, key), rows) in by_key {
        if rows.len() > 1 {
            clashes.extend(rows.into_iter().map(|r| r.login));
            continue;
        }
        for row in rows {
            if row.key != key {
                updates.push((row.id, key.clone()));
            }
        }
    }
    (updates, clashes)
}

fn rekey_logins(conn: &mut DbConnection) -> Result<()> {
    let people: Vec<(String, String, String, String)> =
        users::table.select((users::id, users::enterprise_id, users::login, users::login_key)).load(conn)?;
    let (updates, clashes) =
        new_keys(people.into_iter().map(|(id, scope, login, key)| StoredLogin { id, scope, login, key }).collect());
    for (id, key) in updates {
        diesel::update(users::table.filter(users::id.eq(id))).set(users::login_key.eq(key)).execute(conn)?;
    }
    if !clashes.is_empty() {
        tracing::warn!(
            logins = ?clashes,
            "these logins are now one login within their enterprise and keep their old keys; rename all but one"
        );
    }
    let ops: Vec<(String, String, String)> =
        operators::table.select((operators::id, operators::login, operators::login_key)).load(conn)?;
    let (updates, clashes) = new_keys(
        ops.into_iter().map(|(id, login, key)| StoredLogin { id, scope: String::new(), login, key }).collect(),
    );
    for (id, key) in updates {
        diesel::update(operators::table.filter(operators::id.eq(id)))
            .set(operators::login_key.eq(key))
            .execute(conn)?;
    }
    if !clashes.is_empty() {
        tracing::warn!(logins = ?clashes, "these operator logins are now one login and keep their old keys");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{StoredLogin, new_keys};

    #[test]
    fn keys_change_where_the_comparison_changed_and_clashes_keep_theirs() {
        let row = |id: &str, scope: &str, login: &str| StoredLogin {
            id: id.to_owned(),
            scope: scope.to_owned(),
            login: login.to_owned(),
            key: login.to_lowercase(),
        };
        let (mut updates, mut clashes) = new_keys(vec![
            row("1", "acme", "ada"),
            row("2", "acme", "ＢＯＢ"),
            row("3", "acme", "Straße"),
            row("4", "acme", "STRASSE"),
            row("5", "other", "Straße"),
        ]);
        updates.sort();
        clashes.sort();
        assert_eq!(updates, vec![("2".to_owned(), "bob".to_owned()), ("5".to_owned(), "strasse".to_owned())]);
        assert_eq!(clashes, vec!["STRASSE".to_owned(), "Straße".to_owned()]);
    }
}
