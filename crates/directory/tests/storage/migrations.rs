use std::collections::BTreeSet;
use std::path::Path;

use directory::testing::TestDatabase;
use directory::{Directory, SystemClock};
use std::sync::Arc;

fn names(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn both_backends_have_the_same_migrations() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations");
    let sqlite = names(&root.join("sqlite"));
    let postgres = names(&root.join("postgres"));
    assert!(!sqlite.is_empty());
    assert_eq!(sqlite, postgres, "migrations/sqlite and migrations/postgres must hold the same migration names");
    for name in &sqlite {
        for backend in ["sqlite", "postgres"] {
            for file in ["up.sql", "down.sql"] {
                assert!(root.join(backend).join(name).join(file).is_file(), "{backend}/{name}/{file} is missing");
            }
        }
    }
}

fn migrate_is_idempotent_and_ready(db: TestDatabase) {
    let dir = Directory::connect(&db.url, 2, Arc::new(SystemClock)).unwrap();
    assert!(!dir.is_ready().unwrap(), "a fresh database is not ready before migrations");
    let first = dir.migrate().unwrap();
    assert!(!first.is_empty());
    assert!(dir.migrate().unwrap().is_empty(), "a second run applies nothing");
    assert!(dir.is_ready().unwrap());
}

/// Several instances starting at once on one database: exactly one applies each migration,
/// the others wait and find nothing left, and none fails.
fn instances_starting_together_apply_migrations_once(db: TestDatabase) {
    let runs: Vec<Vec<String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| {
                    let dir = Directory::connect(&db.url, 1, Arc::new(SystemClock)).unwrap();
                    dir.migrate().unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut applied: Vec<&String> = runs.iter().flatten().collect();
    let total = applied.len();
    applied.sort();
    applied.dedup();
    assert_eq!(applied.len(), total, "no migration was applied twice: {runs:?}");
    assert_eq!(runs.iter().filter(|r| !r.is_empty()).count(), 1, "one instance applied them all: {runs:?}");
    let dir = Directory::connect(&db.url, 1, Arc::new(SystemClock)).unwrap();
    assert!(dir.is_ready().unwrap());
}

/// Logins stored before logins were compared after NFKC case folding get their keys recomputed
/// once, by the first start of the new version.
fn stored_login_keys_are_recomputed_once(db: TestDatabase) {
    use diesel::prelude::*;
    let (dir, _) = crate::open(&db);
    let op = crate::operator();
    let ctx = directory::Ctx::new(&op, None);
    dir.create_enterprise(
        &ctx,
        directory::enterprise::NewEnterprise { key: "acme".into(), name: "Acme".into(), provisioning_mode: None },
    )
    .unwrap();
    let new = |login: &str| directory::user::NewUser { login: login.into(), email: None, name: None };
    dir.create_local_user(&ctx, "acme", new("ＢＯＢ")).unwrap();
    // As the previous version stored it: lower-cased only.
    let url = directory::DatabaseUrl::parse(&db.url).unwrap();
    let pool = directory::db::open_pool(&url, 1, std::time::Duration::from_secs(5)).unwrap();
    let mut conn = pool.get().unwrap();
    use directory::schema::{data_fixes, users};
    diesel::update(users::table).set(users::login_key.eq("ｂｏｂ")).execute(&mut *conn).unwrap();
    diesel::delete(data_fixes::table).execute(&mut *conn).unwrap();
    assert!(matches!(dir.get_user(&ctx, "acme", "bob"), Err(directory::DirectoryError::NotFound(_))));
    let applied = dir.migrate().unwrap();
    assert_eq!(applied, ["login_keys_nfkc_casefold"]);
    assert_eq!(dir.get_user(&ctx, "acme", "bob").unwrap().login, "ＢＯＢ");
    assert!(dir.migrate().unwrap().is_empty(), "once");
}

directory::both_backends!(
    migrate_is_idempotent_and_ready,
    instances_starting_together_apply_migrations_once,
    stored_login_keys_are_recomputed_once,
);

#[test]
fn unreachable_postgres_names_the_real_cause() {
    let err = Directory::connect("postgres://nobody@127.0.0.1:1/none", 1, Arc::new(SystemClock)).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("127.0.0.1") || text.to_lowercase().contains("connect"), "{text}");
}

#[test]
fn unknown_url_scheme_is_refused() {
    let err = Directory::connect("mysql://x", 1, Arc::new(SystemClock)).unwrap_err();
    assert!(err.to_string().contains("postgres://"), "{err}");
}
