//! Roles, tenant scoping and API keys.

use directory::enterprise::NewEnterprise;
use directory::organization::NewOrganization;
use directory::role::Role;
use directory::testing::TestDatabase;
use directory::user::NewUser;
use directory::{Actor, Ctx, DirectoryError, PageRequest};

use crate::{open, operator};

fn setup(dir: &directory::Directory) {
    let actor = operator();
    let ctx = Ctx::new(&actor, None);
    for key in ["acme", "globex"] {
        dir.create_enterprise(&ctx, NewEnterprise { key: key.into(), name: key.into(), provisioning_mode: None })
            .unwrap();
        for org in ["eng", "sales"] {
            dir.create_organization(&ctx, key, NewOrganization { key: org.into(), name: org.into() }).unwrap();
        }
    }
}

fn enterprise_keys_see_only_their_enterprise(db: TestDatabase) {
    let (dir, _) = open(&db);
    setup(&dir);
    let op = operator();
    let created = dir.create_api_key(&Ctx::new(&op, None), Some("acme"), "ci").unwrap();
    let actor = dir.authenticate_api_key(&created.token).unwrap().expect("valid key");
    let ctx = Ctx::new(&actor, None);
    let visible: Vec<String> = dir
        .list_enterprises(&ctx, &PageRequest::default())
        .unwrap()
        .items
        .into_iter()
        .map(|e| e.key.into_string())
        .collect();
    assert_eq!(visible, vec!["acme"]);
    assert!(matches!(dir.get_enterprise(&ctx, "globex"), Err(DirectoryError::NotFound(_))));
    assert!(matches!(
        dir.list_organizations(&ctx, "globex", &PageRequest::default()),
        Err(DirectoryError::NotFound(_))
    ));
    assert!(matches!(
        dir.create_organization(&ctx, "globex", NewOrganization { key: "x1".into(), name: "x".into() }),
        Err(DirectoryError::NotFound(_))
    ));
    assert!(matches!(dir.delete_enterprise(&ctx, "acme"), Err(DirectoryError::Forbidden(_))));
    assert!(matches!(
        dir.create_enterprise(&ctx, NewEnterprise { key: "new1".into(), name: "n".into(), provisioning_mode: None }),
        Err(DirectoryError::Forbidden(_))
    ));
    // The refused attempt is in the audit trail.
    let events = dir.list_audit_events(&Ctx::new(&op, None), None, &PageRequest::default()).unwrap().items;
    assert!(events.iter().any(|e| e.action == "enterprise.delete" && e.outcome == "denied"));
}

fn tampered_or_unknown_keys_are_refused(db: TestDatabase) {
    let (dir, _) = open(&db);
    let op = operator();
    let created = dir.create_api_key(&Ctx::new(&op, None), None, "automation").unwrap();
    assert!(dir.authenticate_api_key(&created.token).unwrap().is_some());
    let mut tampered = created.token.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    assert!(dir.authenticate_api_key(&tampered).unwrap().is_none());
    assert!(
        dir.authenticate_api_key("portico_000000000000_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa").unwrap().is_none()
    );
    assert!(dir.authenticate_api_key("").unwrap().is_none());
}

fn org_admins_administer_only_their_organizations(db: TestDatabase) {
    let (dir, _) = open(&db);
    setup(&dir);
    let op = operator();
    let ctx = Ctx::new(&op, None);
    let appointment = dir
        .appoint_org_admin(
            &ctx,
            "acme",
            "eng",
            NewUser { login: "grace".into(), email: Some("grace@acme.test".into()), name: Some("Grace".into()) },
        )
        .unwrap();
    assert!(appointment.setup_token.is_some(), "a new local admin gets a set-password link");
    let again = dir.appoint_org_admin(&ctx, "acme", "eng", NewUser { login: "Grace".into(), email: None, name: None });
    assert!(matches!(again, Err(DirectoryError::Conflict(_))));

    let grace = Actor::User {
        id: appointment.user.id.clone(),
        enterprise_id: appointment.user.enterprise_id.clone(),
        login: "grace".into(),
        grants: vec![directory::role::Grant {
            role: Role::OrgAdmin,
            enterprise_id: appointment.user.enterprise_id.clone(),
            organization_id: Some(dir.get_organization(&ctx, "acme", "eng").unwrap().id),
        }],
    };
    let gctx = Ctx::new(&grace, None);
    let orgs: Vec<String> = dir
        .list_organizations(&gctx, "acme", &PageRequest::default())
        .unwrap()
        .items
        .into_iter()
        .map(|o| o.key)
        .collect();
    assert_eq!(orgs, vec!["eng"]);
    assert!(dir.list_groups(&gctx, "acme", "eng", &PageRequest::default()).is_ok());
    assert!(matches!(
        dir.list_groups(&gctx, "acme", "sales", &PageRequest::default()),
        Err(DirectoryError::NotFound(_))
    ));
    assert!(matches!(dir.list_users(&gctx, "acme", &PageRequest::default()), Err(DirectoryError::Forbidden(_))));
    assert!(matches!(dir.delete_organization(&gctx, "acme", "eng"), Err(DirectoryError::Forbidden(_))));
    assert!(matches!(dir.get_enterprise(&gctx, "globex"), Err(DirectoryError::NotFound(_))));

    let admins = dir.list_admins(&ctx, "acme").unwrap();
    assert_eq!(admins.len(), 1);
    assert_eq!(admins[0].organization_key.as_deref(), Some("eng"));
}

directory::both_backends!(
    enterprise_keys_see_only_their_enterprise,
    tampered_or_unknown_keys_are_refused,
    org_admins_administer_only_their_organizations,
);
