//! First operator, set-password links, password sign-in with its limits, and sessions.

use chrono::Duration;
use directory::enterprise::NewEnterprise;
use directory::session::SessionSubject;
use directory::setup::{SetupForm, SetupLink};
use directory::sign_in::{
    Credentials, MAX_FAILURES_PER_ACCOUNT, MAX_FAILURES_PER_ACCOUNT_AND_ADDRESS, OPERATOR_PACE_SECS,
};
use directory::testing::TestDatabase;
use directory::user::NewUser;
use directory::{Actor, Ctx, DirectoryError, PageRequest};

use crate::{open, operator};

const PASSWORD: &str = "correct horse battery staple";

fn form(login: &str) -> SetupForm {
    SetupForm { login: Some(login.into()), name: Some("Olive Operator".into()), email: None, password: PASSWORD.into() }
}

fn first_operator_link_works_once(db: TestDatabase) {
    let (dir, _) = open(&db);
    let old = dir.issue_first_operator_link().unwrap().unwrap();
    let token = dir.issue_first_operator_link().unwrap().unwrap();
    assert!(
        matches!(dir.inspect_setup_link(&old), Err(DirectoryError::NotFound(_))),
        "a new link replaces the old one"
    );
    assert!(matches!(dir.inspect_setup_link(&token).unwrap(), SetupLink::FirstOperator { .. }));

    let short = SetupForm { password: "short".into(), ..form("olive") };
    assert!(matches!(dir.redeem_setup_link(&token, short, None), Err(DirectoryError::Validation(_))));

    let subject = dir.redeem_setup_link(&token, form("olive"), None).unwrap();
    assert!(matches!(subject, SessionSubject::Operator(_)));
    assert_eq!(dir.operator_count().unwrap(), 1);
    assert!(dir.redeem_setup_link(&token, form("mallory"), None).is_err(), "used links stop working");
    assert!(dir.issue_first_operator_link().unwrap().is_none(), "no more first-operator links once one exists");
}

fn first_operator_link_expires(db: TestDatabase) {
    let (dir, clock) = open(&db);
    let token = dir.issue_first_operator_link().unwrap().unwrap();
    clock.advance(Duration::minutes(61));
    assert!(matches!(dir.redeem_setup_link(&token, form("olive"), None), Err(DirectoryError::NotFound(_))));
    assert_eq!(dir.operator_count().unwrap(), 0);
}

fn sign_in_sessions_and_limits(db: TestDatabase) {
    let (dir, clock) = open(&db);
    let token = dir.issue_first_operator_link().unwrap().unwrap();
    dir.redeem_setup_link(&token, form("olive"), None).unwrap();
    let creds =
        |password: &'static str| Credentials { enterprise_key: None, login: "OLIVE", password, address: "10.0.0.1" };

    let subject = dir.sign_in(&creds(PASSWORD), None).unwrap();
    let session = dir.create_session(&subject, "10.0.0.1", "test").unwrap();
    let info = dir.resolve_session(&session).unwrap().expect("live session");
    assert!(matches!(info.actor, Actor::Operator { .. }));
    assert!(dir.resolve_session("not-a-session").unwrap().is_none());

    for _ in 0..MAX_FAILURES_PER_ACCOUNT_AND_ADDRESS {
        assert!(matches!(dir.sign_in(&creds("wrong password!"), None), Err(DirectoryError::Unauthorized(_))));
    }
    // That address is locked out of the account now, even with the right password ...
    assert!(matches!(dir.sign_in(&creds(PASSWORD), None), Err(DirectoryError::RateLimited { .. })));
    // ... but the account's owner, elsewhere, is not.
    let elsewhere = Credentials { address: "10.9.9.9", ..creds(PASSWORD) };
    dir.sign_in(&elsewhere, None).unwrap();
    // IPv6 addresses count as their /64: a host cannot take a fresh address for each guess.
    for i in 0..MAX_FAILURES_PER_ACCOUNT_AND_ADDRESS {
        let address = format!("2001:db8:1:2::{:x}", i + 1);
        let guess = Credentials { address: &address, ..creds("wrong password!") };
        assert!(matches!(dir.sign_in(&guess, None), Err(DirectoryError::Unauthorized(_))));
    }
    let same_network = Credentials { address: "2001:db8:1:2:ffff::1", ..creds(PASSWORD) };
    assert!(matches!(dir.sign_in(&same_network, None), Err(DirectoryError::RateLimited { .. })));
    let other_network = Credentials { address: "2001:db8:1:3::1", ..creds(PASSWORD) };
    dir.sign_in(&other_network, None).unwrap();
    clock.advance(Duration::minutes(16));
    dir.sign_in(&creds(PASSWORD), None).unwrap();

    // Idle sessions end; sign-out ends a session at once.
    clock.advance(Duration::hours(13));
    assert!(dir.resolve_session(&session).unwrap().is_none(), "idle session expired");
    let again = dir.create_session(&subject, "10.0.0.1", "test").unwrap();
    assert!(dir.resolve_session(&again).unwrap().is_some());
    dir.end_session(&again).unwrap();
    assert!(dir.resolve_session(&again).unwrap().is_none());

    let events = dir.list_audit_events(&Ctx::new(&operator(), None), None, &PageRequest::first(200)).unwrap().items;
    assert!(
        events
            .iter()
            .any(|e| e.action == "sign_in" && e.outcome == "failure" && e.reason.as_deref() == Some("wrong password"))
    );
}

fn appointed_admin_sets_password_and_signs_in(db: TestDatabase) {
    let (dir, _) = open(&db);
    let op = operator();
    let ctx = Ctx::new(&op, None);
    dir.create_enterprise(&ctx, NewEnterprise { key: "acme".into(), name: "Acme".into(), provisioning_mode: None })
        .unwrap();
    let a = dir
        .appoint_enterprise_admin(
            &ctx,
            "acme",
            NewUser { login: "ada".into(), email: Some("ada@acme.test".into()), name: Some("Ada".into()) },
        )
        .unwrap();
    let link = a.setup_token.expect("link for a new admin");
    match dir.inspect_setup_link(&link).unwrap() {
        SetupLink::SetPassword { login, enterprise_key, .. } => {
            assert_eq!(login, "ada");
            assert_eq!(enterprise_key.as_deref(), Some("acme"));
        }
        other => panic!("{other:?}"),
    }
    let creds = Credentials { enterprise_key: Some("acme"), login: "ada", password: PASSWORD, address: "10.0.0.2" };
    assert!(dir.sign_in(&creds, None).is_err(), "no password yet");
    dir.redeem_setup_link(&link, SetupForm { password: PASSWORD.into(), ..Default::default() }, None).unwrap();
    let subject = dir.sign_in(&creds, None).unwrap();
    let session = dir.create_session(&subject, "10.0.0.2", "").unwrap();
    let info = dir.resolve_session(&session).unwrap().unwrap();
    assert_eq!(info.enterprise_key.as_deref(), Some("acme"));
    let enterprise_id = dir.get_enterprise(&ctx, "acme").unwrap().id;
    assert!(info.actor.can_administer_enterprise(&enterprise_id));
    // The wrong enterprise key does not find her.
    let wrong = Credentials { enterprise_key: Some("globex"), ..creds };
    assert!(matches!(dir.sign_in(&wrong, None), Err(DirectoryError::Unauthorized(_))));
}

fn parallel_attempts_cannot_pass_the_limit(db: TestDatabase) {
    let (dir, _) = open(&db);
    let token = dir.issue_first_operator_link().unwrap().unwrap();
    dir.redeem_setup_link(&token, form("olive"), None).unwrap();
    let results: Vec<Result<SessionSubject, DirectoryError>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..16)
            .map(|_| {
                let dir = dir.clone();
                s.spawn(move || {
                    let creds = Credentials {
                        enterprise_key: None,
                        login: "olive",
                        password: "guess guess guess",
                        address: "10.1.0.1",
                    };
                    dir.sign_in(&creds, None)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let checked = results.iter().filter(|r| matches!(r, Err(DirectoryError::Unauthorized(_)))).count();
    let limited = results.iter().filter(|r| matches!(r, Err(DirectoryError::RateLimited { .. }))).count();
    assert_eq!(
        checked as i64, MAX_FAILURES_PER_ACCOUNT_AND_ADDRESS,
        "only the allowed number of guesses from one address reach the password check"
    );
    assert_eq!(checked + limited, 16);
}

/// Guesses spread over many addresses: an enterprise user's account is locked once they reach
/// the account-wide limit; an operator's is never locked, and the attempts raise an alert.
fn distributed_guesses_lock_users_and_alert_about_operators(db: TestDatabase) {
    let (dir, clock) = open(&db);
    let token = dir.issue_first_operator_link().unwrap().unwrap();
    dir.redeem_setup_link(&token, form("olive"), None).unwrap();
    let op = operator();
    let ctx = Ctx::new(&op, None);
    dir.create_enterprise(&ctx, NewEnterprise { key: "acme".into(), name: "Acme".into(), provisioning_mode: None })
        .unwrap();
    let a =
        dir.appoint_enterprise_admin(&ctx, "acme", NewUser { login: "ada".into(), email: None, name: None }).unwrap();
    dir.redeem_setup_link(&a.setup_token.unwrap(), SetupForm { password: PASSWORD.into(), ..Default::default() }, None)
        .unwrap();
    for (enterprise_key, login) in [(Some("acme"), "ada"), (None, "olive")] {
        let mut checked = 0;
        for i in 0..(MAX_FAILURES_PER_ACCOUNT + 5) {
            let address = format!("10.{}.{}.1", i / 200, i % 200);
            let creds = Credentials { enterprise_key, login, password: "a wrong guess", address: &address };
            if i >= MAX_FAILURES_PER_ACCOUNT && enterprise_key.is_none() {
                // Past the limit an operator's account takes one attempt per pace, from anywhere.
                assert!(matches!(dir.sign_in(&creds, None), Err(DirectoryError::RateLimited { .. })), "paced");
                clock.advance(Duration::seconds(OPERATOR_PACE_SECS + 1));
            }
            if matches!(dir.sign_in(&creds, None), Err(DirectoryError::Unauthorized(_))) {
                checked += 1;
            }
        }
        let owner = Credentials { enterprise_key, login, password: PASSWORD, address: "192.0.2.10" };
        if enterprise_key.is_some() {
            assert_eq!(checked, MAX_FAILURES_PER_ACCOUNT, "{login}: guesses past the limit are not even checked");
            assert!(matches!(dir.sign_in(&owner, None), Err(DirectoryError::RateLimited { .. })), "{login} is locked");
        } else {
            assert_eq!(checked, MAX_FAILURES_PER_ACCOUNT + 5, "an operator is never locked as a whole");
            clock.advance(Duration::seconds(OPERATOR_PACE_SECS + 1));
            dir.sign_in(&owner, None).unwrap();
        }
    }
    let events = dir.list_audit_events(&ctx, None, &PageRequest::first(500)).unwrap().items;
    let alerts: Vec<_> = events.iter().filter(|e| e.action == "sign_in.alert").collect();
    assert_eq!(alerts.len(), 1, "one alert when the operator's attempts reached the limit");
    assert!(alerts[0].reason.as_deref().is_some_and(|r| r.contains("operator")), "{:?}", alerts[0]);
}

fn a_link_works_once_even_when_raced(db: TestDatabase) {
    let (dir, _) = open(&db);
    let token = dir.issue_first_operator_link().unwrap().unwrap();
    let results: Vec<bool> = std::thread::scope(|s| {
        let handles: Vec<_> = ["olive", "mallory", "trent", "eve"]
            .into_iter()
            .map(|login| {
                let (dir, token) = (dir.clone(), token.clone());
                s.spawn(move || dir.redeem_setup_link(&token, form(login), None).is_ok())
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(results.iter().filter(|ok| **ok).count(), 1);
    assert_eq!(dir.operator_count().unwrap(), 1);
}

fn unknown_logins_are_audited_as_anonymous(db: TestDatabase) {
    let (dir, _) = open(&db);
    let creds = Credentials { enterprise_key: None, login: "my-secret-password", password: "x", address: "10.0.0.9" };
    assert!(dir.sign_in(&creds, None).is_err());
    let events = dir.list_audit_events(&Ctx::new(&operator(), None), None, &PageRequest::default()).unwrap().items;
    let e = events.iter().find(|e| e.action == "sign_in").unwrap();
    assert_eq!(e.actor_kind, "anonymous");
    assert_eq!(e.reason.as_deref(), Some("unknown login"));
    assert!(e.target_name.is_none(), "a typed login that matches nobody is not kept");
}

fn setting_a_password_ends_the_accounts_sessions(db: TestDatabase) {
    let (dir, _) = open(&db);
    let op = operator();
    let ctx = Ctx::new(&op, None);
    dir.create_enterprise(&ctx, NewEnterprise { key: "acme".into(), name: "Acme".into(), provisioning_mode: None })
        .unwrap();
    let a =
        dir.appoint_enterprise_admin(&ctx, "acme", NewUser { login: "ada".into(), email: None, name: None }).unwrap();
    let earlier = dir.create_session(&SessionSubject::User(a.user.id.clone()), "10.0.0.3", "").unwrap();
    assert!(dir.resolve_session(&earlier).unwrap().is_some());
    dir.redeem_setup_link(&a.setup_token.unwrap(), SetupForm { password: PASSWORD.into(), ..Default::default() }, None)
        .unwrap();
    assert!(dir.resolve_session(&earlier).unwrap().is_none());
}

directory::both_backends!(
    first_operator_link_works_once,
    first_operator_link_expires,
    sign_in_sessions_and_limits,
    appointed_admin_sets_password_and_signs_in,
    setting_a_password_ends_the_accounts_sessions,
    parallel_attempts_cannot_pass_the_limit,
    distributed_guesses_lock_users_and_alert_about_operators,
    a_link_works_once_even_when_raced,
    unknown_logins_are_audited_as_anonymous,
);
