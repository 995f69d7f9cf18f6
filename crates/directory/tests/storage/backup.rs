//! Backups of the embedded SQLite database, taken while Portico serves.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use diesel::RunQueryDsl;
use directory::enterprise::NewEnterprise;
use directory::setup::SetupForm;
use directory::sign_in::Credentials;
use directory::testing::TestDatabase;
use directory::{Backend, Ctx, Directory, DirectoryError, PageRequest, SystemClock};

use crate::{open, operator};

const PASSWORD: &str = "correct horse battery staple";

#[derive(diesel::QueryableByName)]
struct Check {
    #[diesel(sql_type = diesel::sql_types::Text)]
    integrity_check: String,
}

#[test]
fn a_backup_taken_while_serving_restores_into_a_working_installation() {
    let db = TestDatabase::sqlite();
    let (dir, _) = open(&db);
    let token = dir.issue_first_operator_link().unwrap().unwrap();
    let form =
        SetupForm { login: Some("olive".into()), name: Some("Olive".into()), email: None, password: PASSWORD.into() };
    dir.redeem_setup_link(&token, form, None).unwrap();
    let op = operator();
    let ctx = Ctx::new(&op, None);
    dir.create_enterprise(&ctx, NewEnterprise { key: "acme".into(), name: "Acme".into(), provisioning_mode: None })
        .unwrap();

    // Requests keep writing while the copy is taken.
    let copy_dir = tempfile::tempdir().unwrap();
    let copy = copy_dir.path().join("portico-backup.db");
    let stop = AtomicBool::new(false);
    let written = std::thread::scope(|scope| {
        let writer = scope.spawn(|| {
            let mut n = 0;
            while !stop.load(Ordering::Acquire) {
                let new =
                    NewEnterprise { key: format!("busy-{n}"), name: format!("Busy {n}"), provisioning_mode: None };
                dir.create_enterprise(&ctx, new).unwrap();
                n += 1;
            }
            n
        });
        std::thread::sleep(std::time::Duration::from_millis(50));
        dir.backup_sqlite(&copy).unwrap();
        stop.store(true, Ordering::Release);
        writer.join().unwrap()
    });
    assert!(written > 0, "the writer ran beside the backup");

    // A fresh installation on the copy: nothing to migrate, intact, and people sign in.
    let url = format!("sqlite://{}", copy.display());
    let restored = Directory::connect(&url, 2, Arc::new(SystemClock)).unwrap();
    assert!(restored.migrate().unwrap().is_empty());
    assert!(restored.is_ready().unwrap());
    let pool =
        directory::db::open_pool(&directory::DatabaseUrl::parse(&url).unwrap(), 1, std::time::Duration::from_secs(5))
            .unwrap();
    let check: Check = diesel::sql_query("PRAGMA integrity_check").get_result(&mut *pool.get().unwrap()).unwrap();
    assert_eq!(check.integrity_check, "ok");
    let creds = Credentials { enterprise_key: None, login: "olive", password: PASSWORD, address: "10.0.0.1" };
    let subject = restored.sign_in(&creds, None).unwrap();
    let session = restored.create_session(&subject, "10.0.0.1", "test").unwrap();
    assert!(restored.resolve_session(&session).unwrap().is_some());
    let mut keys: Vec<String> = Vec::new();
    let mut page = PageRequest::first(200);
    loop {
        let listed = restored.list_enterprises(&ctx, &page).unwrap();
        keys.extend(listed.items.into_iter().map(|e| e.key.into_string()));
        match listed.next {
            Some(next) => page.after = Some(next),
            None => break,
        }
    }
    assert!(keys.contains(&"acme".to_owned()));
    // One snapshot: the writer's enterprises up to some point, each whole, none after a gap.
    let mut busy: Vec<usize> =
        keys.iter().filter_map(|k| k.strip_prefix("busy-")).map(|n| n.parse().unwrap()).collect();
    busy.sort_unstable();
    assert_eq!(busy, (0..busy.len()).collect::<Vec<_>>(), "a prefix of what was written");
    assert!(busy.len() <= written);
    let mut created = 0;
    let mut page = PageRequest::first(200);
    loop {
        let listed = restored.list_audit_events(&ctx, None, &page).unwrap();
        created += listed.items.iter().filter(|e| e.action == "enterprise.create" && e.outcome == "success").count();
        match listed.next {
            Some(next) => page.after = Some(next),
            None => break,
        }
    }
    assert_eq!(created, busy.len() + 1, "every enterprise in the copy with its audit event, and no other");

    // The copy is never written over.
    assert!(matches!(dir.backup_sqlite(&copy), Err(DirectoryError::Conflict(_))));
}

#[test]
fn postgresql_is_backed_up_with_its_own_tools() {
    let Some(db) = TestDatabase::new(Backend::Postgres) else {
        return;
    };
    let (dir, _) = open(&db);
    let target = tempfile::tempdir().unwrap().path().join("x.db");
    let err = dir.backup_sqlite(&target).unwrap_err().to_string();
    assert!(err.contains("pg_dump"), "{err}");
    assert!(!target.exists());
}
