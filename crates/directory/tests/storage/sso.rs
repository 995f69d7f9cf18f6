//! SSO connections and what happens after the IdP vouched for someone: JIT provisioning,
//! replay, SCIM-mode refusals.

use chrono::Duration;
use directory::connection::{ConnectionChanges, ConnectionStatus, NewConnection, Protocol, Provider, SamlSettings};
use directory::enterprise::{EnterpriseChanges, NewEnterprise, ProvisioningMode};
use directory::group::{MEMBERS_GROUP, NewGroup};
use directory::ids::ConnectionId;
use directory::organization::NewOrganization;
use directory::sso_sign_in::{SignInRefusal, Vouched};
use directory::testing::TestDatabase;
use directory::{Ctx, Directory, DirectoryError};

use crate::{open, operator};

fn saml() -> SamlSettings {
    SamlSettings {
        metadata_url: None,
        idp_entity_id: "https://idp.test/metadata".into(),
        sso_url: "https://idp.test/sso".into(),
        certificates: vec!["MIIB".into()],
        ..SamlSettings::default()
    }
}

/// An enterprise with two organizations and an enabled SAML connection; returns its id.
pub(crate) fn setup(dir: &Directory) -> ConnectionId {
    let op = operator();
    let ctx = Ctx::new(&op, None);
    dir.create_enterprise(&ctx, NewEnterprise { key: "acme".into(), name: "Acme".into(), provisioning_mode: None })
        .unwrap();
    for (org, groups) in [("eng", vec!["Developers", "developers", "Admins"]), ("ops", vec!["Developers", "Oncall"])] {
        dir.create_organization(&ctx, "acme", NewOrganization { key: org.into(), name: org.into() }).unwrap();
        for g in groups {
            dir.create_group(&ctx, "acme", org, NewGroup { name: g.into(), description: None }).unwrap();
        }
    }
    let c = dir
        .create_connection(
            &ctx,
            "acme",
            NewConnection {
                protocol: Protocol::Saml,
                provider: Provider::Okta,
                saml: Some(saml()),
                mapping: None,
                oidc: None,
            },
        )
        .unwrap();
    assert_eq!(c.status, ConnectionStatus::Draft);
    assert_eq!(c.mapping.groups.as_deref(), Some("groups"), "Okta defaults");
    assert!(matches!(dir.enable_connection(&ctx, "acme", &c.id), Err(DirectoryError::Conflict(_))), "untested");
    dir.record_test_result(&c.id, true, None, &serde_json::json!({}), None).unwrap();
    assert_eq!(dir.enable_connection(&ctx, "acme", &c.id).unwrap().status, ConnectionStatus::Enabled);
    c.id
}

pub(crate) fn vouched(dir: &Directory, connection: &ConnectionId, login: &str, groups: &[&str]) -> Vouched {
    let request = dir.begin_sso_request(connection, false, "/").unwrap();
    Vouched {
        connection_id: connection.clone(),
        request_id: Some(request),
        assertion_id: format!("_a{}", uuid_like()),
        replay_until: dir.now() + Duration::minutes(5),
        subject: format!("{login}@idp"),
        login: Some(login.into()),
        login_attribute: "login".into(),
        email: Some(format!("{login}@acme.test")),
        name: Some("Ada".into()),
        groups: groups.iter().map(|g| g.to_string()).collect(),
        email_verified: false,
    }
}

fn uuid_like() -> String {
    directory::secret::random_token(12).unwrap()
}

fn groups_of(dir: &Directory, login: &str) -> Vec<(String, String, String)> {
    let op = operator();
    let users = dir.list_users(&Ctx::new(&op, None), "acme", &Default::default()).unwrap().items;
    let mut v: Vec<(String, String, String)> = users
        .into_iter()
        .find(|u| u.user.login == login)
        .unwrap()
        .groups
        .into_iter()
        .map(|g| (g.organization, g.group, g.source.to_string()))
        .collect();
    v.sort();
    v
}

fn jit_creates_then_updates_and_resets_groups(db: TestDatabase) {
    let (dir, _) = open(&db);
    let conn = setup(&dir);
    let first = dir
        .complete_sso_sign_in(&vouched(&dir, &conn, "ada", &["Developers"]), "10.0.0.1", "ua", None)
        .unwrap()
        .unwrap();
    assert_eq!(first.user.origin.as_str(), "jit");
    assert!(dir.resolve_session(&first.session_token).unwrap().is_some());
    let s = |o: &str, g: &str, src: &str| (o.to_owned(), g.to_owned(), src.to_owned());
    // Case-sensitive: "developers" is another group.
    assert_eq!(groups_of(&dir, "ada"), vec![s("eng", "Developers", "sso"), s("ops", "Developers", "sso")]);

    // Admins add her by hand to Members, to Oncall (not sent by the IdP) and to Admins (sent next time).
    let op = operator();
    let ctx = Ctx::new(&op, None);
    dir.add_group_member(&ctx, "acme", "eng", MEMBERS_GROUP, "ada").unwrap();
    dir.add_group_member(&ctx, "acme", "ops", "Oncall", "ada").unwrap();
    dir.add_group_member(&ctx, "acme", "eng", "Admins", "ada").unwrap();

    let mut next = vouched(&dir, &conn, "ada", &["Admins"]);
    next.email = Some("ada.lovelace@acme.test".into());
    let second = dir.complete_sso_sign_in(&next, "10.0.0.1", "ua", None).unwrap().unwrap();
    assert_eq!(second.user.id, first.user.id);
    assert_eq!(second.user.email.as_deref(), Some("ada.lovelace@acme.test"));
    assert_eq!(
        groups_of(&dir, "ada"),
        vec![s("eng", "Admins", "local"), s("eng", "Admins", "sso"), s("eng", MEMBERS_GROUP, "local")],
        "sso memberships follow the IdP, Members stays, a hand-added membership the IdP does not send goes"
    );
}

fn replayed_assertion_is_refused(db: TestDatabase) {
    let (dir, _) = open(&db);
    let conn = setup(&dir);
    let v = vouched(&dir, &conn, "ada", &[]);
    dir.complete_sso_sign_in(&v, "", "", None).unwrap().unwrap();
    // Same assertion again, even answering a fresh request.
    let again = Vouched { request_id: Some(dir.begin_sso_request(&conn, false, "/").unwrap()), ..v.clone() };
    assert_eq!(dir.complete_sso_sign_in(&again, "", "", None).unwrap().unwrap_err(), SignInRefusal::Replay);
    // A request is used once.
    let reused = Vouched { assertion_id: "_other".into(), ..v };
    assert_eq!(dir.complete_sso_sign_in(&reused, "", "", None).unwrap().unwrap_err(), SignInRefusal::UnknownRequest);
    let events = dir.list_audit_events(&Ctx::new(&operator(), None), Some("acme"), &Default::default()).unwrap().items;
    assert!(events.iter().any(|e| e.action == "sign_in"
        && e.outcome == "failure"
        && e.reason.as_deref().is_some_and(|r| r.contains("replay"))));
}

fn scim_mode_admits_only_provisioned_active_users(db: TestDatabase) {
    let (dir, _) = open(&db);
    let conn = setup(&dir);
    let op = operator();
    let ctx = Ctx::new(&op, None);
    dir.update_enterprise(
        &ctx,
        "acme",
        EnterpriseChanges { name: None, provisioning_mode: Some(ProvisioningMode::Scim), force: false },
    )
    .unwrap();
    let r = dir.complete_sso_sign_in(&vouched(&dir, &conn, "nobody", &[]), "", "", None).unwrap();
    assert!(matches!(r, Err(SignInRefusal::NotProvisioned { .. })));
    assert!(dir.list_users(&ctx, "acme", &Default::default()).unwrap().items.is_empty(), "nothing was created");
}

fn disabled_connection_refuses_and_editing_resets_tested(db: TestDatabase) {
    let (dir, _) = open(&db);
    let conn = setup(&dir);
    let op = operator();
    let ctx = Ctx::new(&op, None);
    // A second connection cannot be enabled beside the first.
    let other = dir
        .create_connection(
            &ctx,
            "acme",
            NewConnection {
                protocol: Protocol::Saml,
                provider: Provider::Entra,
                saml: Some(saml()),
                mapping: None,
                oidc: None,
            },
        )
        .unwrap();
    dir.record_test_result(&other.id, true, None, &serde_json::json!({}), None).unwrap();
    assert!(matches!(dir.enable_connection(&ctx, "acme", &other.id), Err(DirectoryError::Conflict(_))));
    let changed = dir
        .update_connection(
            &ctx,
            "acme",
            &other.id,
            ConnectionChanges {
                saml: Some(SamlSettings { sso_url: "https://idp.test/other".into(), ..saml() }),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(changed.status, ConnectionStatus::Draft, "what was tested is no longer what would be enabled");

    dir.disable_connection(&ctx, "acme", &conn).unwrap();
    let r = dir.complete_sso_sign_in(&vouched(&dir, &conn, "ada", &[]), "", "", None).unwrap();
    assert_eq!(r.unwrap_err(), SignInRefusal::ConnectionNotEnabled);
    let bad = dir.create_connection(
        &ctx,
        "acme",
        NewConnection {
            protocol: Protocol::Saml,
            provider: Provider::Other,
            saml: Some(SamlSettings { certificates: vec![], ..saml() }),
            mapping: None,
            oidc: None,
        },
    );
    assert!(matches!(bad, Err(DirectoryError::Validation(_))), "no certificate, no connection");
}

fn a_login_bound_to_another_subject_is_not_taken_over(db: TestDatabase) {
    let (dir, _) = open(&db);
    let conn = setup(&dir);
    let first = vouched(&dir, &conn, "alice", &[]);
    dir.complete_sso_sign_in(&first, "", "", None).unwrap().unwrap();
    // Another IdP identity now sends login=alice (a reused or renamed login).
    let mut other = vouched(&dir, &conn, "alice", &[]);
    other.subject = "someone-else@idp".into();
    let r = dir.complete_sso_sign_in(&other, "", "", None).unwrap();
    assert!(matches!(r, Err(SignInRefusal::LoginTaken { .. })), "{r:?}");
    // The refused response was spent: it cannot be replayed later.
    let again = Vouched { request_id: Some(dir.begin_sso_request(&conn, false, "/").unwrap()), ..other };
    assert_eq!(dir.complete_sso_sign_in(&again, "", "", None).unwrap().unwrap_err(), SignInRefusal::Replay);
}

/// A sign-in never binds an account Portico did not get from the IdP: local password accounts
/// and appointed admins stay out of reach of whatever the IdP asserts as their login, until an
/// admin links them; from then on the subject, not the login, finds them.
fn local_accounts_are_linked_by_admins_only(db: TestDatabase) {
    let (dir, _) = open(&db);
    let conn = setup(&dir);
    let op = operator();
    let ctx = Ctx::new(&op, None);
    dir.create_local_user(&ctx, "acme", directory::user::NewUser { login: "bob".into(), email: None, name: None })
        .unwrap();
    let boss = dir
        .appoint_enterprise_admin(
            &ctx,
            "acme",
            directory::user::NewUser { login: "boss".into(), email: None, name: None },
        )
        .unwrap();
    assert_eq!(boss.user.origin.as_str(), "local");
    for login in ["BOB", "boss", "\u{FF42}oss"] {
        let r = dir.complete_sso_sign_in(&vouched(&dir, &conn, login, &[]), "", "", None).unwrap();
        assert!(matches!(r, Err(SignInRefusal::NotLinked { .. })), "{login}: {r:?}");
    }
    let unchanged = dir.get_user(&ctx, "acme", "boss").unwrap();
    assert_eq!(unchanged.external_id, None, "a refused sign-in binds nothing");
    let events = dir.list_audit_events(&ctx, Some("acme"), &Default::default()).unwrap().items;
    assert!(events.iter().any(|e| e.action == "sign_in" && e.details.contains("not_linked")));

    // An admin links bob to his IdP identity: the subject signs him in, whatever login it sends.
    let linked = dir.link_idp_subject(&ctx, "acme", "bob", " bob@idp ").unwrap();
    assert_eq!(linked.external_id.as_deref(), Some("bob@idp"));
    let bob = dir.complete_sso_sign_in(&vouched(&dir, &conn, "bob", &[]), "", "", None).unwrap().unwrap();
    assert_eq!((bob.user.login.as_str(), bob.user.origin.as_str()), ("bob", "local"));
    let mut renamed = vouched(&dir, &conn, "robert", &[]);
    renamed.subject = "bob@idp".into();
    assert_eq!(dir.complete_sso_sign_in(&renamed, "", "", None).unwrap().unwrap().user.id, bob.user.id);
    // Another identity sending bob's login is someone else.
    let mut other = vouched(&dir, &conn, "bob", &[]);
    other.subject = "mallory@idp".into();
    let r = dir.complete_sso_sign_in(&other, "", "", None).unwrap();
    assert!(matches!(r, Err(SignInRefusal::LoginTaken { .. })), "{r:?}");
    // One subject names one user.
    assert!(matches!(dir.link_idp_subject(&ctx, "acme", "boss", "bob@idp"), Err(DirectoryError::Conflict(_))));
    assert!(matches!(dir.link_idp_subject(&ctx, "acme", "boss", "  "), Err(DirectoryError::Validation(_))));
    // Unlinked, he is out of single sign-on's reach again.
    dir.unlink_idp_subject(&ctx, "acme", "bob").unwrap();
    let r = dir.complete_sso_sign_in(&vouched(&dir, &conn, "bob", &[]), "", "", None).unwrap();
    assert!(matches!(r, Err(SignInRefusal::NotLinked { .. })), "{r:?}");
    let actions: Vec<String> = dir
        .list_audit_events(&ctx, Some("acme"), &Default::default())
        .unwrap()
        .items
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert!(actions.contains(&"user.link_idp".to_owned()) && actions.contains(&"user.unlink_idp".to_owned()));
}

/// In SCIM mode too the subject identifies a user once their first sign-in bound it.
fn scim_users_are_bound_at_first_sign_in_and_found_by_subject(db: TestDatabase) {
    use directory::provisioning::ScimUserData;
    let (dir, _) = open(&db);
    let conn = setup(&dir);
    let op = operator();
    let ctx = Ctx::new(&op, None);
    dir.update_enterprise(
        &ctx,
        "acme",
        EnterpriseChanges { name: None, provisioning_mode: Some(ProvisioningMode::Scim), force: false },
    )
    .unwrap();
    let e = dir.get_enterprise(&ctx, "acme").unwrap();
    let idp = directory::Actor::ScimToken { id: "t".into(), prefix: "0123456789ab".into(), enterprise_id: e.id };
    for login in ["carol", "dave"] {
        let data = ScimUserData {
            user_name: login.into(),
            external_id: None,
            active: true,
            email: None,
            name: login.into(),
            profile: "{}".into(),
        };
        dir.scim_create_user(&Ctx::new(&idp, None), &data).unwrap();
    }
    let first = dir.complete_sso_sign_in(&vouched(&dir, &conn, "carol", &[]), "", "", None).unwrap().unwrap();
    assert_eq!(first.user.external_id.as_deref(), Some("carol@idp"));
    // The IdP now sends dave's login for carol (an edited e-mail, say): carol it is.
    let mut edited = vouched(&dir, &conn, "dave", &[]);
    edited.subject = "carol@idp".into();
    assert_eq!(dir.complete_sso_sign_in(&edited, "", "", None).unwrap().unwrap().user.id, first.user.id);
    // And carol's login from another identity does not reach her account.
    let mut other = vouched(&dir, &conn, "carol", &[]);
    other.subject = "eve@idp".into();
    let r = dir.complete_sso_sign_in(&other, "", "", None).unwrap();
    assert!(matches!(r, Err(SignInRefusal::LoginTaken { .. })), "{r:?}");

    // A provisioned user who holds an admin role is linked by an admin, not by whoever first
    // signs in with their login; so is one an admin unlinked.
    dir.appoint_enterprise_admin(
        &ctx,
        "acme",
        directory::user::NewUser { login: "dave".into(), email: None, name: None },
    )
    .unwrap();
    let r = dir.complete_sso_sign_in(&vouched(&dir, &conn, "dave", &[]), "", "", None).unwrap();
    assert!(matches!(r, Err(SignInRefusal::NotLinked { .. })), "an admin's account: {r:?}");
    dir.unlink_idp_subject(&ctx, "acme", "carol").unwrap();
    let r = dir.complete_sso_sign_in(&vouched(&dir, &conn, "carol", &[]), "", "", None).unwrap();
    assert!(matches!(r, Err(SignInRefusal::NotLinked { .. })), "unlinked by an admin: {r:?}");
    dir.link_idp_subject(&ctx, "acme", "carol", "carol@idp").unwrap();
    assert!(dir.complete_sso_sign_in(&vouched(&dir, &conn, "carol", &[]), "", "", None).unwrap().is_ok());

    // A local admin an admin linked signs in through single sign-on in SCIM mode too.
    dir.appoint_enterprise_admin(
        &ctx,
        "acme",
        directory::user::NewUser { login: "root".into(), email: None, name: None },
    )
    .unwrap();
    dir.link_idp_subject(&ctx, "acme", "root", "root@idp").unwrap();
    let root = dir.complete_sso_sign_in(&vouched(&dir, &conn, "root", &[]), "", "", None).unwrap().unwrap();
    assert_eq!(root.user.origin.as_str(), "local");
}

/// Logins that differ only by what NFKC normalisation and case folding erase are one login.
fn look_alike_logins_are_duplicates(db: TestDatabase) {
    let (dir, _) = open(&db);
    setup(&dir);
    let op = operator();
    let ctx = Ctx::new(&op, None);
    let new = |login: &str| directory::user::NewUser { login: login.into(), email: None, name: None };
    dir.create_local_user(&ctx, "acme", new("kelvin")).unwrap();
    for look_alike in ["\u{212A}elvin", "ＫＥＬＶＩＮ", "KELVIN"] {
        let r = dir.create_local_user(&ctx, "acme", new(look_alike));
        assert!(matches!(r, Err(DirectoryError::Conflict(_))), "{look_alike}: {r:?}");
    }
    dir.create_local_user(&ctx, "acme", new("Straße")).unwrap();
    assert!(matches!(dir.create_local_user(&ctx, "acme", new("STRASSE")), Err(DirectoryError::Conflict(_))));
    assert_eq!(dir.get_user(&ctx, "acme", "\u{212A}ELVIN").unwrap().login, "kelvin", "look-ups fold the same way");
}

directory::both_backends!(
    a_login_bound_to_another_subject_is_not_taken_over,
    local_accounts_are_linked_by_admins_only,
    scim_users_are_bound_at_first_sign_in_and_found_by_subject,
    look_alike_logins_are_duplicates,
    jit_creates_then_updates_and_resets_groups,
    replayed_assertion_is_refused,
    scim_mode_admits_only_provisioned_active_users,
    disabled_connection_refuses_and_editing_resets_tested,
);
