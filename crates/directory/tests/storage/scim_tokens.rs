//! SCIM tokens: created once, listed without secrets, checked per enterprise, revoked, rotated.

use directory::enterprise::NewEnterprise;
use directory::testing::TestDatabase;
use directory::{Ctx, DirectoryError, PageRequest};

use crate::{open, operator};

fn tokens_authenticate_only_at_their_enterprise(db: TestDatabase) {
    let (dir, clock) = open(&db);
    let op = operator();
    let ctx = Ctx::new(&op, None);
    for key in ["acme", "globex"] {
        dir.create_enterprise(&ctx, NewEnterprise { key: key.into(), name: key.into(), provisioning_mode: None })
            .unwrap();
    }
    let created = dir.create_scim_token(&ctx, "acme", "Okta").unwrap();
    assert!(created.token.starts_with(&format!("pscim_{}_", created.info.prefix)));
    assert!(created.token.len() >= 6 + 12 + 1 + 43, "256 bits of secret");

    let caller = dir.authenticate_scim_token("acme", &created.token).unwrap().expect("valid at its enterprise");
    assert_eq!(caller.token_id, created.info.id);
    assert_eq!(dir.authenticate_scim_token("globex", &created.token).unwrap(), None, "not at another's URL");
    let mut tampered = created.token.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    assert_eq!(dir.authenticate_scim_token("acme", &tampered).unwrap(), None);
    assert_eq!(dir.authenticate_scim_token("acme", "").unwrap(), None);
    // An admin API key is not a SCIM token.
    let api_key = dir.create_api_key(&ctx, Some("acme"), "ci").unwrap();
    assert_eq!(dir.authenticate_scim_token("acme", &api_key.token).unwrap(), None);

    // Listed without the secret, with last use.
    let listed = dir.list_scim_tokens(&ctx, "acme").unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].prefix, created.info.prefix);
    assert_eq!(listed[0].description, "Okta");
    assert!(listed[0].last_used_at.is_some());
    assert!(!format!("{listed:?}").contains(&created.token));
    assert!(dir.list_scim_tokens(&ctx, "globex").unwrap().is_empty());

    // Rotation: a second token works beside the first until the first is revoked.
    clock.advance(chrono::Duration::minutes(5));
    let second = dir.create_scim_token(&ctx, "acme", "Okta (rotated)").unwrap();
    assert!(dir.authenticate_scim_token("acme", &created.token).unwrap().is_some());
    assert!(dir.authenticate_scim_token("acme", &second.token).unwrap().is_some());
    let listed = dir.list_scim_tokens(&ctx, "acme").unwrap();
    assert_eq!(listed.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(), [&second.info.id, &created.info.id]);
    dir.revoke_scim_token(&ctx, "acme", &created.info.id).unwrap();
    assert_eq!(dir.authenticate_scim_token("acme", &created.token).unwrap(), None);
    assert!(dir.authenticate_scim_token("acme", &second.token).unwrap().is_some());
    assert_eq!(dir.list_scim_tokens(&ctx, "acme").unwrap().len(), 1);
    // Revoking twice, or from another enterprise, finds nothing.
    assert!(matches!(dir.revoke_scim_token(&ctx, "acme", &created.info.id), Err(DirectoryError::NotFound(_))));
    assert!(matches!(dir.revoke_scim_token(&ctx, "globex", &second.info.id), Err(DirectoryError::NotFound(_))));

    let events = dir.list_audit_events(&ctx, Some("acme"), &PageRequest::default()).unwrap().items;
    assert_eq!(events.iter().filter(|e| e.action == "scim_token.create" && e.outcome == "success").count(), 2);
    assert!(events.iter().any(|e| e.action == "scim_token.revoke" && e.outcome == "success"));
    assert!(!format!("{events:?}").contains(&second.token), "the audit trail names tokens by prefix only");
}

fn only_enterprise_admins_manage_tokens(db: TestDatabase) {
    let (dir, _) = open(&db);
    let op = operator();
    let ctx = Ctx::new(&op, None);
    for key in ["acme", "globex"] {
        dir.create_enterprise(&ctx, NewEnterprise { key: key.into(), name: key.into(), provisioning_mode: None })
            .unwrap();
    }
    // An enterprise API key of acme acts as acme's admin, and cannot see globex.
    let key = dir.create_api_key(&ctx, Some("acme"), "automation").unwrap();
    let actor = dir.authenticate_api_key(&key.token).unwrap().unwrap();
    let actx = Ctx::new(&actor, None);
    assert!(dir.create_scim_token(&actx, "acme", "").is_ok());
    assert!(matches!(dir.create_scim_token(&actx, "globex", ""), Err(DirectoryError::NotFound(_))));
    assert!(matches!(dir.list_scim_tokens(&actx, "globex"), Err(DirectoryError::NotFound(_))));
}

directory::both_backends!(tokens_authenticate_only_at_their_enterprise, only_enterprise_admins_manage_tokens);
