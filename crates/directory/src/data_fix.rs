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
    created_at: NaiveDateTime,
}

/// The `(id, new key)` updates for `rows`, in the order they must be made, and the logins set
/// aside. Logins that only the new comparison makes equal within one scope cannot all keep a
/// key that lookups reach: the earliest account keeps the login (every spelling of it now finds
/// that account), the others get a key no lookup produces, so that no spelling of one login
/// opens another account, and are reported for an admin to resolve. Those are moved first, so
/// that no update meets a key still held.
fn new_keys(rows: Vec<StoredLogin>) -> (Vec<(String, String)>, Vec<String>) {
    use std::collections::HashMap;
    let mut by_key: HashMap<(String, String), Vec<StoredLogin>> = HashMap::new();
    for row in rows {
        by_key.entry((row.scope.clone(), login_key(&row.login))).or_default().push(row);
    }
    let (mut set_aside, mut updates, mut clashes) = (Vec::new(), Vec::new(), Vec::new());
    for ((_, key), mut rows) in by_key {
        rows.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        let mut rows = rows.into_iter();
        let Some(first) = rows.next() else { continue };
        for other in rows {
            clashes.push(format!("{} ({})", other.login, other.id));
            set_aside.push((other.id.clone(), format!("{key}\u{1f}set aside {}", other.id)));
        }
        if first.key != key {
            updates.push((first.id, key));
        }
    }
    set_aside.extend(updates);
    (set_aside, clashes)
}

fn rekey_logins(conn: &mut DbConnection) -> Result<()> {
    let people: Vec<(String, String, String, String, NaiveDateTime)> = users::table
        .select((users::id, users::enterprise_id, users::login, users::login_key, users::created_at))
        .load(conn)?;
    let (updates, clashes) = new_keys(
        people
            .into_iter()
            .map(|(id, scope, login, key, created_at)| StoredLogin { id, scope, login, key, created_at })
            .collect(),
    );
    for (id, key) in updates {
        diesel::update(users::table.filter(users::id.eq(id))).set(users::login_key.eq(key)).execute(conn)?;
    }
    if !clashes.is_empty() {
        tracing::warn!(
            users = ?clashes,
            "these logins are now the same login as an older account of their enterprise: they were set aside \
             (no sign-in or look-up by login reaches them); their IdP can still rename or delete them over SCIM"
        );
    }
    let ops: Vec<(String, String, String, NaiveDateTime)> = operators::table
        .select((operators::id, operators::login, operators::login_key, operators::created_at))
        .load(conn)?;
    let (updates, clashes) = new_keys(
        ops.into_iter()
            .map(|(id, login, key, created_at)| StoredLogin { id, scope: String::new(), login, key, created_at })
            .collect(),
    );
    for (id, key) in updates {
        diesel::update(operators::table.filter(operators::id.eq(id)))
            .set(operators::login_key.eq(key))
            .execute(conn)?;
    }
    if !clashes.is_empty() {
        tracing::warn!(operators = ?clashes, "these operator logins are now the login of an older operator: set aside");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{StoredLogin, new_keys};

    #[test]
    fn keys_change_where_the_comparison_changed_and_clashes_are_set_aside() {
        let at = |minute: u32| chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap().and_hms_opt(9, minute, 0).unwrap();
        let row = |id: &str, scope: &str, login: &str, minute: u32| StoredLogin {
            id: id.to_owned(),
            scope: scope.to_owned(),
            login: login.to_owned(),
            key: login.to_lowercase(),
            created_at: at(minute),
        };
        let (updates, mut clashes) = new_keys(vec![
            row("1", "acme", "ada", 0),
            row("2", "acme", "ＢＯＢ", 1),
            row("3", "acme", "Straße", 2),
            row("4", "acme", "STRASSE", 3),
            row("5", "other", "Straße", 4),
        ]);
        clashes.sort();
        assert_eq!(clashes, vec!["STRASSE (4)".to_owned()], "the later of the two is set aside");
        // Set aside first, so that "Straße" may take the key STRASSE held.
        assert_eq!(updates[0], ("4".to_owned(), "strasse\u{1f}set aside 4".to_owned()));
        let mut rest = updates[1..].to_vec();
        rest.sort();
        assert_eq!(
            rest,
            vec![
                ("2".to_owned(), "bob".to_owned()),
                ("3".to_owned(), "strasse".to_owned()),
                ("5".to_owned(), "strasse".to_owned())
            ]
        );
    }
}
