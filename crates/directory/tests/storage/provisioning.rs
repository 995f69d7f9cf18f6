//! Provisioning by the IdP over SCIM, as the directory stores it: adoption of JIT users,
//! deactivation that ends sessions at once, deletion that the audit trail remembers, and group
//! membership changes that are set-based, idempotent and safe under concurrency.

use std::collections::BTreeSet;

use directory::enterprise::{EnterpriseChanges, ProvisioningMode};
use directory::provisioning::{GroupChanges, MemberChange, NewIdpGroup, ScimRequest, ScimUserData};
use directory::sso_sign_in::SignInRefusal;
use directory::testing::TestDatabase;
use directory::user::NewUser;
use directory::{Actor, Ctx, Directory, DirectoryError, PageRequest};

use crate::sso::{setup, vouched};
use crate::{open, operator};

fn idp(dir: &Directory) -> Actor {
    let op = operator();
    let e = dir.get_enterprise(&Ctx::new(&op, None), "acme").unwrap();
    Actor::ScimToken { id: "token-1".into(), prefix: "0123456789ab".into(), enterprise_id: e.id }
}

fn data(login: &str, active: bool) -> ScimUserData {
    ScimUserData {
        user_name: login.into(),
        external_id: Some(format!("ext-{login}")),
        active,
        email: Some(format!("{}@acme.test", login.to_lowercase())),
        name: "Ada Lovelace".into(),
        profile: r#"{"name":{"givenName":"Ada"}}"#.into(),
    }
}

fn scim_adopts_jit_users_and_deactivation_ends_sessions(db: TestDatabase) {
    let (dir, _) = open(&db);
    let conn = setup(&dir);
    let signed_in = dir.complete_sso_sign_in(&vouched(&dir, &conn, "ada", &[]), "", "", None).unwrap().unwrap();
    assert_eq!(signed_in.user.origin.as_str(), "jit");
    dir.complete_sso_sign_in(&vouched(&dir, &conn, "bob", &[]), "", "", None).unwrap().unwrap();
    let idp = idp(&dir);
    let ctx = Ctx::new(&idp, None);

    // The IdP pushes the same login, in another case: the JIT user is adopted, not duplicated.
    let adopted = dir.scim_create_user(&ctx, &data("ADA", true)).unwrap();
    assert_eq!(adopted.id, signed_in.user.id);
    assert_eq!(adopted.origin.as_str(), "scim");
    assert_eq!(adopted.scim_external_id.as_deref(), Some("ext-ADA"));
    assert!(dir.resolve_session(&signed_in.session_token).unwrap().is_some(), "adoption keeps sessions");
    assert!(matches!(dir.scim_create_user(&ctx, &data("ada", true)), Err(DirectoryError::Conflict(_))));

    let op = operator();
    dir.update_enterprise(
        &Ctx::new(&op, None),
        "acme",
        EnterpriseChanges { name: None, provisioning_mode: Some(ProvisioningMode::Scim), force: true },
    )
    .unwrap();
    let again = dir.complete_sso_sign_in(&vouched(&dir, &conn, "ada", &[]), "", "", None).unwrap().unwrap();
    // In SCIM mode a JIT user the IdP never pushed is not provisioned.
    let bob = dir.complete_sso_sign_in(&vouched(&dir, &conn, "bob", &[]), "", "", None).unwrap();
    assert!(matches!(bob, Err(SignInRefusal::NotProvisioned { .. })), "{bob:?}");

    // Deactivation ends every session at once and blocks sign-in; reactivation restores it.
    let off = dir.scim_replace_user(&ctx, &adopted.id, &data("ADA", false), None).unwrap();
    assert!(!off.active);
    assert_eq!(off.version, adopted.version + 1);
    assert!(dir.resolve_session(&signed_in.session_token).unwrap().is_none());
    assert!(dir.resolve_session(&again.session_token).unwrap().is_none());
    let refused = dir.complete_sso_sign_in(&vouched(&dir, &conn, "ada", &[]), "", "", None).unwrap();
    assert!(matches!(refused, Err(SignInRefusal::Deactivated { .. })), "{refused:?}");
    dir.scim_replace_user(&ctx, &adopted.id, &data("ADA", true), None).unwrap();
    assert!(dir.complete_sso_sign_in(&vouched(&dir, &conn, "ada", &[]), "", "", None).unwrap().is_ok());

    // A stale version is refused and changes nothing.
    let stale = dir.scim_replace_user(&ctx, &adopted.id, &data("ADA", false), Some(adopted.version));
    assert!(matches!(stale, Err(DirectoryError::VersionMismatch(_))), "{stale:?}");
    assert!(dir.scim_user(&ctx, &adopted.id).unwrap().active);
}

fn local_users_stay_out_of_reach(db: TestDatabase) {
    let (dir, _) = open(&db);
    setup(&dir);
    let op = operator();
    let admin = Ctx::new(&op, None);
    dir.create_local_user(&admin, "acme", NewUser { login: "root".into(), email: None, name: None }).unwrap();
    let idp = idp(&dir);
    let ctx = Ctx::new(&idp, None);
    let refused = dir.scim_create_user(&ctx, &data("root", true));
    assert!(matches!(&refused, Err(DirectoryError::Conflict(m)) if m.contains("local")), "{refused:?}");
    let (listed, total) = dir.scim_users(&ctx, None, 0, 100).unwrap();
    assert!(listed.is_empty() && total == 0, "local users are not the IdP's");
    // Only SCIM callers use these operations.
    assert!(matches!(dir.scim_users(&admin, None, 0, 100), Err(DirectoryError::Forbidden(_))));
}

fn deleted_users_leave_groups_and_stay_in_the_audit_trail(db: TestDatabase) {
    let (dir, _) = open(&db);
    setup(&dir);
    let idp = idp(&dir);
    let ctx = Ctx::new(&idp, None);
    let user = dir.scim_create_user(&ctx, &data("grace", true)).unwrap();
    let group = dir
        .scim_create_group(
            &ctx,
            &NewIdpGroup { display_name: "Navy".into(), external_id: None, members: vec![user.id.to_string()] },
        )
        .unwrap();
    dir.scim_delete_user(&ctx, &user.id, None).unwrap();
    assert!(matches!(dir.scim_user(&ctx, &user.id), Err(DirectoryError::NotFound(_))));
    assert!(dir.scim_group_members(&ctx, &[&group.id]).unwrap().is_empty());
    assert!(dir.scim_group(&ctx, &group.id).unwrap().version > group.version, "the group's ETag moved");
    let op = operator();
    let events = dir.list_audit_events(&Ctx::new(&op, None), Some("acme"), &PageRequest::default()).unwrap().items;
    let deleted = events.iter().find(|e| e.action == "scim.user.delete").expect("audited");
    assert_eq!(deleted.target_name.as_deref(), Some("grace"));
    assert_eq!(deleted.actor_kind, "scim_token");
    assert!(deleted.details.contains("grace@acme.test"), "{}", deleted.details);
}

fn members(dir: &Directory, ctx: &Ctx<'_>, group: &str) -> BTreeSet<String> {
    dir.scim_group_members(ctx, &[group]).unwrap().into_iter().map(|(_, u, _)| u).collect()
}

fn membership_changes_are_set_based_and_idempotent(db: TestDatabase) {
    let (dir, _) = open(&db);
    setup(&dir);
    let idp = idp(&dir);
    let ctx = Ctx::new(&idp, None);
    let ids: Vec<String> = (0..300)
        .map(|i| dir.scim_create_user(&ctx, &data(&format!("user{i:03}"), true)).unwrap().id.into_string())
        .collect();
    let group = dir
        .scim_create_group(&ctx, &NewIdpGroup { display_name: "All".into(), external_id: None, members: vec![] })
        .unwrap();
    let change = |members: Vec<MemberChange>| GroupChanges { members, ..Default::default() };
    dir.scim_change_group(&ctx, &group.id, &change(vec![MemberChange::Add(ids[..200].to_vec())]), None).unwrap();
    assert_eq!(members(&dir, &ctx, &group.id).len(), 200);
    // Adding present members and removing absent ones changes nothing.
    dir.scim_change_group(
        &ctx,
        &group.id,
        &change(vec![MemberChange::Add(ids[..10].to_vec()), MemberChange::Remove(ids[250..].to_vec())]),
        None,
    )
    .unwrap();
    assert_eq!(members(&dir, &ctx, &group.id).len(), 200);
    // A stranger in the list refuses the whole change.
    let mut with_stranger = ids[200..210].to_vec();
    with_stranger.push("no-such-user".into());
    let refused = dir.scim_change_group(&ctx, &group.id, &change(vec![MemberChange::Add(with_stranger)]), None);
    assert!(matches!(&refused, Err(DirectoryError::Validation(e)) if e.to_string().contains("no-such-user")));
    assert_eq!(members(&dir, &ctx, &group.id).len(), 200);
    // Replace keeps the overlap and swaps the rest.
    dir.scim_change_group(&ctx, &group.id, &change(vec![MemberChange::Replace(ids[100..300].to_vec())]), None).unwrap();
    let expected: BTreeSet<String> = ids[100..300].iter().cloned().collect();
    assert_eq!(members(&dir, &ctx, &group.id), expected);
    dir.scim_change_group(&ctx, &group.id, &change(vec![MemberChange::RemoveAll]), None).unwrap();
    assert!(members(&dir, &ctx, &group.id).is_empty());
    // Names are unique per enterprise, case-sensitively.
    let other = NewIdpGroup { display_name: "all".into(), external_id: None, members: vec![] };
    dir.scim_create_group(&ctx, &other).unwrap();
    let dup = NewIdpGroup { display_name: "All".into(), external_id: None, members: vec![] };
    assert!(matches!(dir.scim_create_group(&ctx, &dup), Err(DirectoryError::Conflict(_))));
}

fn concurrent_patches_on_one_group_lose_no_update(db: TestDatabase) {
    let (dir, _) = open(&db);
    setup(&dir);
    let idp = idp(&dir);
    let ctx = Ctx::new(&idp, None);
    let ids: Vec<String> = (0..160)
        .map(|i| dir.scim_create_user(&ctx, &data(&format!("user{i:03}"), true)).unwrap().id.into_string())
        .collect();
    // The group starts with the last 40; each of 8 writers adds its own 15 and removes 5 of the
    // starting members, in 5 requests each.
    let group = dir
        .scim_create_group(
            &ctx,
            &NewIdpGroup { display_name: "Busy".into(), external_id: None, members: ids[120..].to_vec() },
        )
        .unwrap();
    let plan: Vec<Vec<GroupChanges>> = (0..8)
        .map(|w| {
            (0..5)
                .map(|r| {
                    let add = ids[w * 15 + r * 3..w * 15 + r * 3 + 3].to_vec();
                    let remove = vec![ids[120 + w * 5 + r].clone()];
                    GroupChanges {
                        members: vec![MemberChange::Add(add), MemberChange::Remove(remove)],
                        ..Default::default()
                    }
                })
                .collect()
        })
        .collect();
    std::thread::scope(|s| {
        for changes in &plan {
            let dir = dir.clone();
            let idp = idp.clone();
            let group = group.id.clone();
            s.spawn(move || {
                let ctx = Ctx::new(&idp, None);
                for c in changes {
                    dir.scim_change_group(&ctx, &group, c, None).unwrap();
                }
            });
        }
    });
    // The serial result: every addition, none of the removed starting members.
    let expected: BTreeSet<String> = ids[..120].iter().cloned().collect();
    assert_eq!(members(&dir, &ctx, &group.id), expected);
    assert_eq!(dir.scim_group(&ctx, &group.id).unwrap().version, 1 + 40, "each change counted once");
}

fn racing_creations_of_one_login_make_one_user(db: TestDatabase) {
    let (dir, _) = open(&db);
    setup(&dir);
    let idp = idp(&dir);
    let results: Vec<Result<_, DirectoryError>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..6)
            .map(|i| {
                let dir = dir.clone();
                let idp = idp.clone();
                s.spawn(move || {
                    let login = if i % 2 == 0 { "Race" } else { "race" };
                    dir.scim_create_user(&Ctx::new(&idp, None), &data(login, true))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "{results:?}");
    assert!(results.iter().filter_map(|r| r.as_ref().err()).all(|e| matches!(e, DirectoryError::Conflict(_))));
    let (users, total) = dir.scim_users(&Ctx::new(&idp, None), None, 0, 10).unwrap();
    assert_eq!((users.len(), total), (1, 1));
}

fn request_log_keeps_the_newest(db: TestDatabase) {
    let (dir, clock) = open(&db);
    setup(&dir);
    let idp = idp(&dir);
    let Actor::ScimToken { enterprise_id, .. } = &idp else { unreachable!() };
    let batch: Vec<ScimRequest> = (0..directory::provisioning::KEEP_PER_ENTERPRISE + 10)
        .map(|i| {
            clock.advance(chrono::Duration::milliseconds(1));
            let mut r = ScimRequest::new(enterprise_id, dir.now(), "POST", "/api/scim/v2/acme/Users", 201);
            r.detail = Some(format!("request {i}"));
            r
        })
        .collect();
    dir.record_scim_requests(&batch[..10]).unwrap();
    dir.record_scim_requests(&batch[10..]).unwrap();
    let op = operator();
    let log = dir.scim_request_log(&Ctx::new(&op, None), "acme", 1000).unwrap();
    assert_eq!(log.len() as i64, directory::provisioning::KEEP_PER_ENTERPRISE);
    assert_eq!(log[0].detail.as_deref(), Some(format!("request {}", batch.len() - 1).as_str()), "newest first");
    // Nobody without admin rights on the enterprise reads it.
    assert!(dir.scim_request_log(&Ctx::new(&idp, None), "acme", 10).is_err());
}

directory::both_backends!(
    scim_adopts_jit_users_and_deactivation_ends_sessions,
    local_users_stay_out_of_reach,
    deleted_users_leave_groups_and_stay_in_the_audit_trail,
    membership_changes_are_set_based_and_idempotent,
    concurrent_patches_on_one_group_lose_no_update,
    racing_creations_of_one_login_make_one_user,
    request_log_keeps_the_newest,
);
