//! Enterprises, organizations, users and groups: invariants in code and in the schema.

use diesel::RunQueryDsl;
use directory::audit::Outcome;
use directory::enterprise::{EnterpriseChanges, NewEnterprise, ProvisioningMode};
use directory::group::{MEMBERS_GROUP, NewGroup};
use directory::organization::NewOrganization;
use directory::testing::TestDatabase;
use directory::user::NewUser;
use directory::{Ctx, DirectoryError, PageRequest};

use crate::{open, operator};

fn ent(key: &str) -> NewEnterprise {
    NewEnterprise { key: key.into(), name: format!("{key} Inc."), provisioning_mode: None }
}

fn enterprise_lifecycle(db: TestDatabase) {
    let (dir, _) = open(&db);
    let actor = operator();
    let ctx = Ctx::new(&actor, Some("op-1"));
    let e = dir.create_enterprise(&ctx, ent("acme")).unwrap();
    assert_eq!(e.provisioning_mode, ProvisioningMode::Jit);
    assert_eq!(dir.get_enterprise(&ctx, "acme").unwrap(), e);

    let dup = dir.create_enterprise(&ctx, ent("acme")).unwrap_err();
    assert!(matches!(dup, DirectoryError::Conflict(_)), "{dup:?}");

    // SCIM mode waits for working single sign-on, unless the caller forces it (issue 16).
    let refused = dir
        .update_enterprise(
            &ctx,
            "acme",
            EnterpriseChanges { name: None, provisioning_mode: Some(ProvisioningMode::Scim), force: false },
        )
        .unwrap_err();
    assert!(
        matches!(&refused, DirectoryError::Conflict(m) if m.contains("no enabled, tested SSO connection")),
        "{refused:?}"
    );
    assert_eq!(dir.get_enterprise(&ctx, "acme").unwrap().provisioning_mode, ProvisioningMode::Jit);
    let updated = dir
        .update_enterprise(
            &ctx,
            "acme",
            EnterpriseChanges {
                name: Some(" Acme Corp ".into()),
                provisioning_mode: Some(ProvisioningMode::Scim),
                force: true,
            },
        )
        .unwrap();
    assert_eq!(updated.name, "Acme Corp");
    assert_eq!(updated.provisioning_mode, ProvisioningMode::Scim);
    assert_eq!(dir.get_enterprise(&ctx, "acme").unwrap().name, "Acme Corp");

    dir.delete_enterprise(&ctx, "acme").unwrap();
    assert!(matches!(dir.get_enterprise(&ctx, "acme"), Err(DirectoryError::NotFound(_))));

    let events = dir.list_audit_events(&ctx, None, &PageRequest::default()).unwrap().items;
    let actions: Vec<(&str, &str)> = events.iter().map(|e| (e.action.as_str(), e.outcome.as_str())).collect();
    assert_eq!(
        actions,
        vec![
            ("enterprise.delete", "success"),
            ("enterprise.update", "success"),
            ("enterprise.update", Outcome::Failure.as_str()),
            ("enterprise.create", Outcome::Failure.as_str()),
            ("enterprise.create", "success"),
        ]
    );
    assert!(events.iter().all(|e| e.operation_id.as_deref() == Some("op-1")));
}

fn invalid_input_changes_nothing(db: TestDatabase) {
    let (dir, _) = open(&db);
    let actor = operator();
    let ctx = Ctx::new(&actor, None);
    for bad in [
        NewEnterprise { key: "A".into(), name: "x".into(), provisioning_mode: None },
        NewEnterprise { key: "ok-key".into(), name: "x".repeat(201), provisioning_mode: None },
        NewEnterprise { key: "ok-key".into(), name: "  ".into(), provisioning_mode: None },
    ] {
        let err = dir.create_enterprise(&ctx, bad).unwrap_err();
        assert!(matches!(err, DirectoryError::Validation(_)), "{err:?}");
    }
    assert!(dir.list_enterprises(&ctx, &PageRequest::default()).unwrap().items.is_empty());
}

/// A change refused in an enterprise (bad input, a conflict) is in that enterprise's audit
/// log, whoever asked: an operator's key has no enterprise of its own.
fn refusals_are_audited_in_the_enterprise_they_concern(db: TestDatabase) {
    let (dir, _) = open(&db);
    let actor = operator();
    let ctx = Ctx::new(&actor, Some("op-refused"));
    dir.create_enterprise(&ctx, ent("acme")).unwrap();
    dir.create_enterprise(&ctx, ent("globex")).unwrap();
    let bad = NewUser { login: " ".into(), email: None, name: None };
    let err = dir.create_local_user(&ctx, "acme", bad).unwrap_err();
    assert!(matches!(err, DirectoryError::Validation(_)), "{err:?}");
    let failures = |key: &str| {
        let filter = directory::audit::AuditFilter { outcome: Some("failure".into()), ..Default::default() };
        dir.search_audit_events(&ctx, Some(key), &filter, &PageRequest::default()).unwrap().items
    };
    let acme = failures("acme");
    assert_eq!(acme.len(), 1, "{acme:?}");
    assert_eq!(acme[0].action, "user.create");
    assert_eq!(acme[0].operation_id.as_deref(), Some("op-refused"));
    assert!(failures("globex").is_empty(), "another enterprise's log stays clean");
}

fn schema_enforces_invariants_too(db: TestDatabase) {
    // Bypass the domain code: the database itself refuses what the code refuses.
    let url = directory::DatabaseUrl::parse(&db.url).unwrap();
    let (dir, _) = open(&db);
    drop(dir);
    use diesel::Connection;
    let mut conn = match url.backend {
        directory::Backend::Sqlite => {
            directory::DbConnection::Sqlite(diesel::SqliteConnection::establish(&url.target).unwrap())
        }
        directory::Backend::Postgres => {
            directory::DbConnection::Postgresql(diesel::PgConnection::establish(&url.target).unwrap())
        }
    };
    let insert = |conn: &mut directory::DbConnection, id: &str, key: &str, mode: &str| {
        diesel::sql_query(format!(
            "INSERT INTO enterprises (id, key, name, provisioning_mode, created_at, updated_at) \
             VALUES ('{id}', '{key}', 'n', '{mode}', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
        ))
        .execute(conn)
    };
    insert(&mut conn, "1", "good", "jit").unwrap();
    assert!(insert(&mut conn, "2", "good", "jit").is_err(), "duplicate key");
    assert!(insert(&mut conn, "3", "other", "manual").is_err(), "unknown provisioning mode");
    assert!(insert(&mut conn, "4", "x", "jit").is_err(), "key too short");
}

fn organizations_have_members_group_and_are_scoped(db: TestDatabase) {
    let (dir, _) = open(&db);
    let actor = operator();
    let ctx = Ctx::new(&actor, None);
    dir.create_enterprise(&ctx, ent("acme")).unwrap();
    dir.create_enterprise(&ctx, ent("globex")).unwrap();
    let org = dir
        .create_organization(&ctx, "acme", NewOrganization { key: "eng".into(), name: "Engineering".into() })
        .unwrap();
    // The same org key may exist in another enterprise.
    dir.create_organization(&ctx, "globex", NewOrganization { key: "eng".into(), name: "Engineering".into() }).unwrap();
    let dup =
        dir.create_organization(&ctx, "acme", NewOrganization { key: "eng".into(), name: "Again".into() }).unwrap_err();
    assert!(matches!(dup, DirectoryError::Conflict(_)));

    let groups = dir.list_groups(&ctx, "acme", "eng", &PageRequest::default()).unwrap().items;
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].name, MEMBERS_GROUP);
    assert!(groups[0].builtin);
    assert_eq!(groups[0].organization_id, org.id);

    // Group names are unique per organization, compared case-sensitively.
    dir.create_group(&ctx, "acme", "eng", NewGroup { name: "Developers".into(), description: None }).unwrap();
    dir.create_group(&ctx, "acme", "eng", NewGroup { name: "developers".into(), description: None }).unwrap();
    let dup =
        dir.create_group(&ctx, "acme", "eng", NewGroup { name: "Developers".into(), description: None }).unwrap_err();
    assert!(matches!(dup, DirectoryError::Conflict(_)), "{dup:?}");
    let dup =
        dir.create_group(&ctx, "acme", "eng", NewGroup { name: MEMBERS_GROUP.into(), description: None }).unwrap_err();
    assert!(matches!(dup, DirectoryError::Conflict(_)), "{dup:?}");

    // Paging walks every group exactly once.
    let first = dir.list_groups(&ctx, "acme", "eng", &PageRequest::first(2)).unwrap();
    assert_eq!(first.items.len(), 2);
    let rest =
        dir.list_groups(&ctx, "acme", "eng", &PageRequest { limit: Some(2), after: first.next.clone() }).unwrap();
    assert_eq!(rest.items.len(), 1);
    assert!(rest.next.is_none());

    dir.delete_organization(&ctx, "acme", "eng").unwrap();
    assert!(matches!(dir.list_groups(&ctx, "acme", "eng", &PageRequest::default()), Err(DirectoryError::NotFound(_))));
    assert_eq!(dir.list_organizations(&ctx, "globex", &PageRequest::default()).unwrap().items.len(), 1);
}

fn logins_are_unique_without_regard_to_case(db: TestDatabase) {
    let (dir, _) = open(&db);
    let actor = operator();
    let ctx = Ctx::new(&actor, None);
    dir.create_enterprise(&ctx, ent("acme")).unwrap();
    dir.create_enterprise(&ctx, ent("globex")).unwrap();
    let u = NewUser { login: "Ada.Lovelace".into(), email: Some("ada@acme.test".into()), name: Some("Ada".into()) };
    dir.create_local_user(&ctx, "acme", u.clone()).unwrap();
    let dup = dir.create_local_user(&ctx, "acme", NewUser { login: "ada.LOVELACE".into(), ..u.clone() }).unwrap_err();
    assert!(matches!(dup, DirectoryError::Conflict(_)));
    // Another enterprise may have the same login.
    dir.create_local_user(&ctx, "globex", u).unwrap();
    assert_eq!(dir.get_user(&ctx, "acme", "ADA.lovelace").unwrap().login, "Ada.Lovelace");
    let bad = dir
        .create_local_user(&ctx, "acme", NewUser { login: "x y".into(), email: Some("nope".into()), name: None })
        .unwrap_err();
    match bad {
        DirectoryError::Validation(f) => {
            assert!(f.get("login").is_some());
            assert!(f.get("email").is_some());
        }
        other => panic!("{other:?}"),
    }
}

fn local_memberships_add_and_remove(db: TestDatabase) {
    let (dir, _) = open(&db);
    let actor = operator();
    let ctx = Ctx::new(&actor, None);
    dir.create_enterprise(&ctx, ent("acme")).unwrap();
    dir.create_organization(&ctx, "acme", NewOrganization { key: "eng".into(), name: "Engineering".into() }).unwrap();
    dir.create_local_user(&ctx, "acme", NewUser { login: "ada".into(), email: None, name: None }).unwrap();
    dir.add_group_member(&ctx, "acme", "eng", MEMBERS_GROUP, "ADA").unwrap();
    dir.add_group_member(&ctx, "acme", "eng", MEMBERS_GROUP, "ada").unwrap();
    let members = dir.list_group_members(&ctx, "acme", "eng", MEMBERS_GROUP).unwrap();
    assert_eq!(members.len(), 1, "adding twice is a no-op");
    assert_eq!(members[0].source.as_str(), "local");
    let users = dir.list_users(&ctx, "acme", &PageRequest::default()).unwrap().items;
    assert_eq!(users[0].groups.len(), 1);
    assert_eq!(users[0].groups[0].organization, "eng");
    dir.remove_group_member(&ctx, "acme", "eng", MEMBERS_GROUP, "ada").unwrap();
    assert!(dir.list_group_members(&ctx, "acme", "eng", MEMBERS_GROUP).unwrap().is_empty());
    let unknown = dir.add_group_member(&ctx, "acme", "eng", MEMBERS_GROUP, "nobody").unwrap_err();
    assert!(matches!(unknown, DirectoryError::Validation(_)));
}

directory::both_backends!(
    enterprise_lifecycle,
    invalid_input_changes_nothing,
    refusals_are_audited_in_the_enterprise_they_concern,
    schema_enforces_invariants_too,
    organizations_have_members_group_and_are_scoped,
    logins_are_unique_without_regard_to_case,
    local_memberships_add_and_remove,
);
