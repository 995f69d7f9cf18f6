//! Group mappings (DESIGN.md, SCIM rules 3 and 4): IdP groups feed organizations through
//! derived memberships, on both backends.

use directory::group::NewGroup;
use directory::mapping::{MappingApplied, MappingChange, MappingOutcome};
use directory::provisioning::{GroupChanges, MemberChange, NewIdpGroup, ScimUserData};
use directory::role::{Grant, Role};
use directory::testing::TestDatabase;
use directory::{Actor, Ctx, Directory, DirectoryError, PageRequest};

use crate::sso::{setup, vouched};
use crate::{open, operator};

fn idp(dir: &Directory) -> Actor {
    let op = operator();
    let e = dir.get_enterprise(&Ctx::new(&op, None), "acme").unwrap();
    Actor::ScimToken { id: "t".into(), prefix: "p".into(), enterprise_id: e.id }
}

fn push_user(dir: &Directory, idp: &Actor, login: &str) -> String {
    let data = ScimUserData {
        user_name: login.into(),
        external_id: None,
        active: true,
        email: None,
        name: login.into(),
        profile: "{}".into(),
    };
    dir.scim_create_user(&Ctx::new(idp, None), &data).unwrap().id.into_string()
}

fn push_group(dir: &Directory, idp: &Actor, name: &str, members: &[&String]) -> String {
    let new = NewIdpGroup {
        display_name: name.into(),
        external_id: None,
        members: members.iter().map(|m| m.to_string()).collect(),
    };
    dir.scim_create_group(&Ctx::new(idp, None), &new).unwrap().id
}

/// (login, source) of an org group's members.
fn members(dir: &Directory, org: &str, group: &str) -> Vec<(String, String)> {
    let op = operator();
    dir.list_group_members(&Ctx::new(&op, None), "acme", org, group)
        .unwrap()
        .into_iter()
        .map(|m| (m.login, m.source.to_string()))
        .collect()
}

/// An organization's groups in a user's access, as (group, where the membership comes from).
fn groups(access: &directory::permission::OrganizationAccess) -> Vec<(&str, &str)> {
    access.groups.iter().map(|g| (g.group.as_str(), g.source.as_str())).collect()
}

/// What a change of mappings small enough to be applied at once did.
fn now(applied: directory::Result<MappingApplied>) -> MappingOutcome {
    match applied.unwrap() {
        MappingApplied::Now(outcome) => outcome,
        MappingApplied::Queued(job) => panic!("queued as job {}", job.id),
    }
}

fn group_names(dir: &Directory, org: &str) -> Vec<String> {
    let op = operator();
    dir.list_groups(&Ctx::new(&op, None), "acme", org, &PageRequest::first(200))
        .unwrap()
        .items
        .into_iter()
        .map(|g| g.name)
        .collect()
}

fn mapping_creates_or_reuses_org_groups_and_derives_members(db: TestDatabase) {
    let (dir, _) = open(&db);
    let conn = setup(&dir);
    // ada signed in by JIT earlier: an `sso` member of eng/Developers by name.
    dir.complete_sso_sign_in(&vouched(&dir, &conn, "ada", &["Developers"]), "", "", None).unwrap().unwrap();
    let op = operator();
    let admin = Ctx::new(&op, None);
    dir.add_group_member(&admin, "acme", "eng", "Developers", "ada").unwrap();
    let idp = idp(&dir);
    let grace = push_user(&dir, &idp, "grace");
    let linus = push_user(&dir, &idp, "linus");
    let developers = push_group(&dir, &idp, "Developers", &[&grace]);
    let kernel = push_group(&dir, &idp, "Kernel", &[&linus, &grace]);

    // ada's sign-in recorded the IdP group Developers and linked it by name to eng's and ops'
    // Developers; SCIM took that group over when it pushed it, so it is mapped already.
    assert_eq!(dir.group_mappings_of(&admin, "acme", "eng").unwrap(), std::slice::from_ref(&developers));
    let outcome = now(dir.set_group_mappings(&admin, "acme", "eng", &[developers.clone(), kernel.clone()]));
    assert_eq!(outcome.added, ["Kernel"]);
    // Reused: the IdP's members replace the earlier `sso` members; `local` ones stay.
    assert_eq!(
        members(&dir, "eng", "Developers"),
        [("ada".to_owned(), "local".to_owned()), ("grace".to_owned(), "sso".to_owned())]
    );
    // Created when missing.
    assert!(group_names(&dir, "eng").contains(&"Kernel".to_owned()));
    assert_eq!(
        members(&dir, "eng", "Kernel"),
        [("grace".to_owned(), "sso".to_owned()), ("linus".to_owned(), "sso".to_owned())]
    );
    // The same group feeds a second organization; one SCIM change reaches both.
    now(dir.set_group_mappings(&admin, "acme", "ops", std::slice::from_ref(&kernel)));
    let ken = push_user(&dir, &idp, "ken");
    let change = GroupChanges { members: vec![MemberChange::Add(vec![ken.clone()])], ..Default::default() };
    dir.scim_change_group(&Ctx::new(&idp, None), &kernel, &change, None).unwrap();
    for org in ["eng", "ops"] {
        assert!(members(&dir, org, "Kernel").contains(&("ken".to_owned(), "sso".to_owned())), "{org}");
    }
    // Users see it too.
    let users = dir.list_users(&admin, "acme", &PageRequest::first(50)).unwrap().items;
    let ken_groups: Vec<(String, String)> = users
        .iter()
        .find(|u| u.user.login == "ken")
        .unwrap()
        .groups
        .iter()
        .map(|g| (g.organization.clone(), g.group.clone()))
        .collect();
    assert_eq!(ken_groups, [("eng".to_owned(), "Kernel".to_owned()), ("ops".to_owned(), "Kernel".to_owned())]);
    // Mapping is idempotent.
    let again = now(dir.set_group_mappings(&admin, "acme", "eng", &[developers, kernel]));
    assert!(again.added.is_empty() && again.removed.is_empty());
}

fn unmapping_and_deleting_take_the_members_away_and_keep_the_org_group(db: TestDatabase) {
    let (dir, _) = open(&db);
    setup(&dir);
    let op = operator();
    let admin = Ctx::new(&op, None);
    let idp = idp(&dir);
    let grace = push_user(&dir, &idp, "grace");
    let ops_team = push_group(&dir, &idp, "Night", &[&grace]);
    let other = push_group(&dir, &idp, "Day", &[&grace]);
    now(dir.set_group_mappings(&admin, "acme", "ops", &[ops_team.clone(), other.clone()]));
    let outcome = now(dir.set_group_mappings(&admin, "acme", "ops", std::slice::from_ref(&other)));
    assert_eq!(outcome.removed, ["Night"]);
    assert!(group_names(&dir, "ops").contains(&"Night".to_owned()), "the org group stays: it may carry permissions");
    assert!(members(&dir, "ops", "Night").is_empty());
    dir.scim_delete_group(&Ctx::new(&idp, None), &other, None).unwrap();
    assert!(members(&dir, "ops", "Day").is_empty(), "deleting the IdP group removes its memberships");
    assert!(group_names(&dir, "ops").contains(&"Day".to_owned()), "and keeps the org group");
    let listed = dir.list_mapped_idp_groups(&admin, "acme", None, &PageRequest::first(50)).unwrap().items;
    assert_eq!(listed.len(), 1);
    assert!(listed[0].organizations.is_empty());
}

fn renames_follow_unless_they_clash_and_members_is_never_fed(db: TestDatabase) {
    let (dir, _) = open(&db);
    setup(&dir);
    let op = operator();
    let admin = Ctx::new(&op, None);
    let idp = idp(&dir);
    let sre = push_group(&dir, &idp, "SRE", &[]);
    let members_group = push_group(&dir, &idp, "Members", &[]);
    now(dir.set_group_mappings(&admin, "acme", "eng", std::slice::from_ref(&sre)));
    now(dir.set_group_mappings(&admin, "acme", "ops", std::slice::from_ref(&sre)));
    let skipped = now(dir.set_group_mappings(&admin, "acme", "ops", &[sre.clone(), members_group.clone()])).skipped;
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert!(skipped[0].1.contains("built-in Members group is never fed"), "{skipped:?}");
    assert!(members(&dir, "ops", "Members").is_empty(), "the IdP's Members group feeds nobody into it");
    // ops already has "Oncall": renaming SRE to it clashes there and is reported; eng follows.
    let rename = GroupChanges { display_name: Some("Oncall".into()), ..Default::default() };
    dir.scim_change_group(&Ctx::new(&idp, None), &sre, &rename, None).unwrap();
    assert!(group_names(&dir, "eng").contains(&"Oncall".to_owned()));
    assert!(group_names(&dir, "ops").contains(&"SRE".to_owned()), "no silent merge");
    let events = dir.list_audit_events(&admin, Some("acme"), &PageRequest::default()).unwrap().items;
    let clash = events.iter().find(|e| e.action == "group_mapping.rename").expect("the clash is reported");
    assert!(clash.details.contains("ops"), "{}", clash.details);
    // Renaming it to "Members" clashes everywhere: the built-in group is never taken over.
    dir.scim_delete_group(&Ctx::new(&idp, None), &members_group, None).unwrap();
    let rename = GroupChanges { display_name: Some("Members".into()), ..Default::default() };
    dir.scim_change_group(&Ctx::new(&idp, None), &sre, &rename, None).unwrap();
    assert!(group_names(&dir, "eng").contains(&"Oncall".to_owned()), "eng's group keeps its name");
    assert_eq!(group_names(&dir, "eng").iter().filter(|g| *g == "Members").count(), 1);
    let events = dir.list_audit_events(&admin, Some("acme"), &PageRequest::default()).unwrap().items;
    let clashes: Vec<_> = events.iter().filter(|e| e.action == "group_mapping.rename").collect();
    assert_eq!(clashes.len(), 2, "{clashes:?}");
    assert!(clashes.iter().any(|e| e.details.contains("eng") && e.details.contains("ops")), "{clashes:?}");
}

fn mapping_changes_are_audited(db: TestDatabase) {
    let (dir, _) = open(&db);
    setup(&dir);
    let op = operator();
    let admin = Ctx::new(&op, None);
    let idp = idp(&dir);
    let sre = push_group(&dir, &idp, "SRE", &[]);
    now(dir.set_group_mappings(&admin, "acme", "eng", std::slice::from_ref(&sre)));
    now(dir.set_group_mappings(&admin, "acme", "eng", &[]));
    dir.start_map_all(&admin, "acme").unwrap();
    let refused = dir.set_group_mappings(&admin, "acme", "eng", &["nope".to_owned()]);
    assert!(matches!(refused, Err(DirectoryError::Validation(_))));
    // Refusals are audited without the enterprise (the change never happened): read them all.
    let events = dir.list_audit_events(&admin, None, &PageRequest::default()).unwrap().items;
    let set: Vec<_> = events.iter().filter(|e| e.action == "group_mapping.set").collect();
    assert_eq!(set.len(), 3, "{set:?}");
    let outcomes: Vec<&str> = set.iter().map(|e| e.outcome.as_str()).collect();
    assert_eq!(outcomes.iter().filter(|o| **o == "success").count(), 2, "{outcomes:?}");
    assert!(set.iter().any(|e| e.details.contains(r#""added":["SRE"]"#)), "{set:?}");
    assert!(set.iter().any(|e| e.details.contains(r#""removed":["SRE"]"#)), "{set:?}");
    assert!(set.iter().any(|e| e.reason.as_deref().is_some_and(|r| r.contains("nope"))), "{set:?}");
    let map_all = events.iter().find(|e| e.action == "group_mapping.map_all").expect("map all is audited");
    assert_eq!(map_all.outcome, "success");
}

fn a_page_of_the_console_changes_only_its_own_groups(db: TestDatabase) {
    let (dir, _) = open(&db);
    setup(&dir);
    let op = operator();
    let admin = Ctx::new(&op, None);
    let idp = idp(&dir);
    let [a, b, c] = ["Alpha", "Bravo", "Charlie"].map(|n| push_group(&dir, &idp, n, &[]));
    now(dir.set_group_mappings(&admin, "acme", "eng", &[a.clone(), b.clone()]));
    // Someone else maps Charlie while a page showing Alpha and Bravo is open; that page then
    // unticks Bravo. Charlie stays mapped.
    now(dir.set_group_mappings(&admin, "acme", "eng", &[a.clone(), b.clone(), c.clone()]));
    let change = MappingChange { add: vec![a.clone()], remove: vec![b.clone()] };
    let outcome = now(dir.change_group_mappings(&admin, "acme", "eng", change));
    assert_eq!((outcome.added.len(), outcome.removed), (0, vec!["Bravo".to_owned()]));
    let mut mapped = dir.group_mappings_of(&admin, "acme", "eng").unwrap();
    mapped.sort();
    let mut expected = vec![a, c];
    expected.sort();
    assert_eq!(mapped, expected);
}

fn a_large_change_of_mappings_runs_as_a_job(db: TestDatabase) {
    let (dir, _) = open(&db);
    let dir = dir.with_job_settings(directory::job::JobSettings { map_all_links_per_chunk: 3, ..Default::default() });
    setup(&dir);
    let op = operator();
    let admin = Ctx::new(&op, None);
    let idp = idp(&dir);
    let grace = push_user(&dir, &idp, "grace");
    let names = ["Alpha", "Bravo", "Charlie", "Delta", "Echo"];
    let ids: Vec<String> = names.iter().map(|n| push_group(&dir, &idp, n, &[&grace])).collect();
    dir.create_group(&admin, "acme", "eng", NewGroup { name: "Echo".into(), description: None }).unwrap();
    // In JIT mode eng's Echo is fed by the IdP's Echo at once. Mapping Alpha and Bravo instead
    // is three changes: one chunk, applied at once.
    now(dir.set_group_mappings(&admin, "acme", "eng", &ids[..2]));
    // Then Bravo to Echo: three more and one fewer, four changes, two chunks of a job.
    let job = match dir.set_group_mappings(&admin, "acme", "eng", &ids[1..]).unwrap() {
        MappingApplied::Queued(job) => job,
        MappingApplied::Now(outcome) => panic!("applied at once: {outcome:?}"),
    };
    assert_eq!((job.kind.as_str(), job.state.as_str(), job.total), ("set_mappings", "queued", 2));
    assert_eq!(dir.group_mappings_of(&admin, "acme", "eng").unwrap().len(), 2, "nothing changes before it runs");
    let claimed = dir.claim_job().unwrap().expect("the job");
    assert!(!dir.run_job_chunk(&claimed).unwrap());
    // A chunk replayed from a stale view is refused.
    assert!(dir.run_job_chunk(&claimed).unwrap());
    assert!(dir.run_job_chunk(&dir.get_job(&admin, &job.id).unwrap()).unwrap());
    let finished = dir.get_job(&admin, &job.id).unwrap();
    assert_eq!((finished.state.as_str(), finished.done, finished.total), ("done", 2, 2));
    // Reading a job follows who may change what it changes: eng's admins read eng's job, the
    // admins of another organization of the enterprise do not, nor anybody's "map all".
    let e = dir.get_enterprise(&admin, "acme").unwrap();
    let org_admin_of = |org: &str| {
        let o = dir.get_organization(&admin, "acme", org).unwrap();
        Actor::User {
            id: format!("admin-of-{org}").into(),
            enterprise_id: e.id.clone(),
            login: format!("admin-of-{org}"),
            grants: vec![Grant { role: Role::OrgAdmin, enterprise_id: e.id.clone(), organization_id: Some(o.id) }],
        }
    };
    let (eng_admin, ops_admin) = (org_admin_of("eng"), org_admin_of("ops"));
    assert!(dir.get_job(&Ctx::new(&eng_admin, None), &job.id).is_ok());
    let other = dir.get_job(&Ctx::new(&ops_admin, None), &job.id);
    assert!(matches!(other, Err(DirectoryError::NotFound(_))), "{other:?}");
    let map_all = dir.start_map_all(&admin, "acme").unwrap();
    let refused = dir.get_job(&Ctx::new(&eng_admin, None), &map_all.id);
    assert!(matches!(refused, Err(DirectoryError::NotFound(_))), "{refused:?}");
    assert!(dir.get_job(&admin, &map_all.id).is_ok());
    let outcome = directory::mapping::job_outcome(&finished).expect("what it did");
    assert_eq!(outcome.removed, ["Alpha"]);
    assert_eq!(outcome.added, ["Charlie", "Delta", "Echo"]);
    let mut mapped = dir.group_mappings_of(&admin, "acme", "eng").unwrap();
    mapped.sort();
    let mut expected = ids[1..].to_vec();
    expected.sort();
    assert_eq!(mapped, expected);
    assert_eq!(members(&dir, "eng", "Echo"), [("grace".to_owned(), "sso".to_owned())], "the existing Echo reused");
    assert!(members(&dir, "eng", "Alpha").is_empty(), "unmapped: its members went, the group stays");
}

fn an_org_group_is_fed_by_one_idp_group_and_a_pair_can_be_mapped_again(db: TestDatabase) {
    let (dir, _) = open(&db);
    setup(&dir);
    let op = operator();
    let admin = Ctx::new(&op, None);
    let idp = idp(&dir);
    let grace = push_user(&dir, &idp, "grace");
    let linus = push_user(&dir, &idp, "linus");
    let scim = Ctx::new(&idp, None);
    let rename = |id: &str, to: &str| {
        let change = GroupChanges { display_name: Some(to.into()), ..Default::default() };
        dir.scim_change_group(&scim, id, &change, None).unwrap();
    };

    // Mapped, unmapped, mapped again: the group made for it is reused and follows renames again.
    let kube = push_group(&dir, &idp, "Kube", &[&grace]);
    now(dir.set_group_mappings(&admin, "acme", "eng", std::slice::from_ref(&kube)));
    now(dir.set_group_mappings(&admin, "acme", "eng", &[]));
    now(dir.set_group_mappings(&admin, "acme", "eng", std::slice::from_ref(&kube)));
    rename(&kube, "Kubernetes");
    let names = group_names(&dir, "eng");
    assert!(names.contains(&"Kubernetes".to_owned()) && !names.contains(&"Kube".to_owned()), "{names:?}");
    now(dir.set_group_mappings(&admin, "acme", "eng", &[]));

    // Mapped, unmapped, renamed while unmapped, mapped again: a new org group of the new name.
    let sre = push_group(&dir, &idp, "SRE", &[&grace]);
    now(dir.set_group_mappings(&admin, "acme", "eng", std::slice::from_ref(&sre)));
    now(dir.set_group_mappings(&admin, "acme", "eng", &[]));
    rename(&sre, "Oncall");
    let again = now(dir.set_group_mappings(&admin, "acme", "eng", std::slice::from_ref(&sre)));
    assert_eq!(again.added, ["Oncall"]);
    assert_eq!(members(&dir, "eng", "Oncall"), [("grace".to_owned(), "sso".to_owned())]);
    assert!(members(&dir, "eng", "SRE").is_empty(), "the earlier group stays, unfed");

    // A reused group does not follow renames; a second IdP group of its old name is refused
    // there rather than merged into it.
    dir.create_group(&admin, "acme", "eng", NewGroup { name: "Platform".into(), description: None }).unwrap();
    let first = push_group(&dir, &idp, "Platform", &[&grace]);
    now(dir.set_group_mappings(&admin, "acme", "eng", &[sre.clone(), first.clone()]));
    rename(&first, "Platform Team");
    let second = push_group(&dir, &idp, "Platform", &[&linus]);
    let outcome = now(dir.set_group_mappings(&admin, "acme", "eng", &[sre.clone(), first.clone(), second.clone()]));
    assert!(outcome.added.is_empty(), "{outcome:?}");
    assert_eq!(outcome.skipped.len(), 1, "{outcome:?}");
    assert!(outcome.skipped[0].1.contains("already fed by another IdP group"), "{outcome:?}");
    assert_eq!(members(&dir, "eng", "Platform"), [("grace".to_owned(), "sso".to_owned())]);
    // Once the first lets go of it, the second may feed it.
    let outcome = now(dir.set_group_mappings(&admin, "acme", "eng", &[sre, second]));
    assert_eq!((outcome.added, outcome.removed), (vec!["Platform".to_owned()], vec!["Platform Team".to_owned()]));
    assert_eq!(members(&dir, "eng", "Platform"), [("linus".to_owned(), "sso".to_owned())]);
}

fn org_membership_follows_group_membership(db: TestDatabase) {
    let (dir, _) = open(&db);
    setup(&dir);
    let op = operator();
    let admin = Ctx::new(&op, None);
    let idp = idp(&dir);
    let grace = push_user(&dir, &idp, "grace");
    let linus = push_user(&dir, &idp, "linus");
    push_user(&dir, &idp, "ken");
    let sre = push_group(&dir, &idp, "SRE", &[&grace, &linus]);
    now(dir.set_group_mappings(&admin, "acme", "eng", std::slice::from_ref(&sre)));
    dir.add_group_member(&admin, "acme", "eng", "Admins", "grace").unwrap();
    let people = |org: &str| -> Vec<(String, Vec<(String, String)>)> {
        let page = dir.list_organization_members(&admin, "acme", org, &PageRequest::first(50)).unwrap();
        page.items.into_iter().map(|m| (m.login, m.groups)).collect()
    };
    let pair = |g: &str, s: &str| (g.to_owned(), s.to_owned());
    assert_eq!(
        people("eng"),
        [
            ("grace".to_owned(), vec![pair("Admins", "local"), pair("SRE", "sso")]),
            ("linus".to_owned(), vec![pair("SRE", "sso")]),
        ]
    );
    assert!(people("ops").is_empty(), "ken is in no group of ops, nor is anyone else");

    // Pages by login.
    let first = dir.list_organization_members(&admin, "acme", "eng", &PageRequest::first(1)).unwrap();
    assert_eq!(first.items[0].login, "grace");
    let rest = PageRequest { limit: Some(1), after: first.next.clone() };
    let second = dir.list_organization_members(&admin, "acme", "eng", &rest).unwrap();
    assert_eq!((second.items[0].login.as_str(), second.next), ("linus", None));

    // The IdP takes linus out of SRE: he is out of eng. Unmapping SRE leaves grace by hand.
    let change = GroupChanges { members: vec![MemberChange::Remove(vec![linus.clone()])], ..Default::default() };
    dir.scim_change_group(&Ctx::new(&idp, None), &sre, &change, None).unwrap();
    assert_eq!(people("eng").iter().map(|p| p.0.as_str()).collect::<Vec<_>>(), ["grace"]);
    now(dir.set_group_mappings(&admin, "acme", "eng", &[]));
    assert_eq!(people("eng"), [("grace".to_owned(), vec![pair("Admins", "local")])]);
}

/// `sso` rows copied into `org_group_members` before memberships were derived: a reused group's
/// go when it is mapped; other groups' stay until their users sign in again, even when mapping
/// another organization's groups.
fn reusing_a_group_drops_its_old_sso_copies_only(db: TestDatabase) {
    use diesel::RunQueryDsl;
    let (dir, _) = open(&db);
    setup(&dir);
    let op = operator();
    let admin = Ctx::new(&op, None);
    let idp = idp(&dir);
    let grace = push_user(&dir, &idp, "grace");
    let linus = push_user(&dir, &idp, "linus");
    dir.create_group(&admin, "acme", "eng", NewGroup { name: "Kernel".into(), description: None }).unwrap();
    dir.add_group_member(&admin, "acme", "eng", "Kernel", "grace").unwrap();
    let oncall = push_group(&dir, &idp, "Oncall", &[&grace]);
    now(dir.set_group_mappings(&admin, "acme", "ops", std::slice::from_ref(&oncall)));
    let url = directory::DatabaseUrl::parse(&db.url).unwrap();
    let pool = directory::db::open_pool(&url, 1, std::time::Duration::from_secs(5)).unwrap();
    let mut conn = pool.get().unwrap();
    for (org, group) in [("eng", "Kernel"), ("ops", "Oncall")] {
        let sql = format!(
            "INSERT INTO org_group_members (group_id, user_id, source, created_at) \
             SELECT og.id, '{linus}', 'sso', CURRENT_TIMESTAMP FROM org_groups og \
             JOIN organizations o ON o.id = og.organization_id WHERE o.key = '{org}' AND og.name = '{group}'"
        );
        assert_eq!(diesel::sql_query(sql).execute(&mut *conn).unwrap(), 1);
    }
    drop(conn);
    let kernel = push_group(&dir, &idp, "Kernel", &[&grace]);
    now(dir.set_group_mappings(&admin, "acme", "eng", std::slice::from_ref(&kernel)));
    assert_eq!(
        members(&dir, "eng", "Kernel"),
        [("grace".to_owned(), "local".to_owned()), ("grace".to_owned(), "sso".to_owned())],
        "linus' old copy went; grace's hand-added membership stayed"
    );
    assert_eq!(
        members(&dir, "ops", "Oncall"),
        [("grace".to_owned(), "sso".to_owned()), ("linus".to_owned(), "sso".to_owned())],
        "fed already, not reused now: its copy waits for linus' next sign-in"
    );
}

/// In JIT mode an org group is fed by the IdP group of exactly its name, even when SCIM had it
/// fed by a group that was renamed since.
fn jit_links_by_exact_name_over_a_renamed_feed(db: TestDatabase) {
    let (dir, _) = open(&db);
    let conn = setup(&dir);
    let op = operator();
    let admin = Ctx::new(&op, None);
    let idp = idp(&dir);
    let grace = push_user(&dir, &idp, "grace");
    dir.create_group(&admin, "acme", "eng", NewGroup { name: "Design".into(), description: None }).unwrap();
    let design = push_group(&dir, &idp, "Design", &[&grace]);
    now(dir.set_group_mappings(&admin, "acme", "eng", std::slice::from_ref(&design)));
    let rename = GroupChanges { display_name: Some("Design Team".into()), ..Default::default() };
    dir.scim_change_group(&Ctx::new(&idp, None), &design, &rename, None).unwrap();
    assert_eq!(members(&dir, "eng", "Design"), [("grace".to_owned(), "sso".to_owned())], "reused: kept its name");

    dir.complete_sso_sign_in(&vouched(&dir, &conn, "ada", &["Design"]), "", "", None).unwrap().unwrap();
    assert_eq!(members(&dir, "eng", "Design"), [("ada".to_owned(), "sso".to_owned())]);
}

/// An instance that stops (SIGTERM) between chunks releases its job: another instance takes it
/// over at once, without waiting for the heartbeat to go stale, and finishes it.
fn a_stopping_instance_releases_its_job(db: TestDatabase) {
    let (dir, _) = open(&db);
    setup(&dir);
    let op = operator();
    let admin = Ctx::new(&op, None);
    let idp = idp(&dir);
    for name in ["A", "B", "C"] {
        push_group(&dir, &idp, name, &[]);
    }
    let job = dir.start_map_all_in_chunks(&admin, "acme", Some(1)).unwrap();
    let asked = std::cell::Cell::new(0);
    // Asked before claiming, then after the first chunk: stop there.
    let chunks = dir
        .run_jobs_until_idle_or_stopped(|| {
            asked.set(asked.get() + 1);
            asked.get() > 1
        })
        .unwrap();
    assert_eq!(chunks, 1);
    let released = dir.get_job(&admin, &job.id).unwrap();
    assert_eq!((released.state.as_str(), released.done), ("queued", 1), "released where it stood");
    // Another instance, at once (the clock has not moved): it takes the job over and ends it.
    assert_eq!(dir.run_jobs_until_idle().unwrap(), 2);
    let finished = dir.get_job(&admin, &job.id).unwrap();
    assert_eq!((finished.state.as_str(), finished.done), ("done", 3));
}

/// A page showing many groups reads the first few members of each, and how many there are.
fn the_first_members_of_a_group_come_with_the_count(db: TestDatabase) {
    let (dir, _) = open(&db);
    setup(&dir);
    let op = operator();
    let admin = Ctx::new(&op, None);
    let idp = idp(&dir);
    let users: Vec<String> = ["linus", "grace", "ken"].iter().map(|l| push_user(&dir, &idp, l)).collect();
    let sre = push_group(&dir, &idp, "SRE", &users.iter().collect::<Vec<_>>());
    now(dir.set_group_mappings(&admin, "acme", "eng", std::slice::from_ref(&sre)));
    dir.add_group_member(&admin, "acme", "eng", "SRE", "ken").unwrap();
    let all = members(&dir, "eng", "SRE");
    assert_eq!(all.len(), 4, "{all:?}");
    let (first, total) = dir.first_group_members(&admin, "acme", "eng", "SRE", Some(2)).unwrap();
    let first: Vec<(String, String)> = first.into_iter().map(|m| (m.login, m.source.to_string())).collect();
    assert_eq!(first, all[..2]);
    assert_eq!(total, 4);
    let (every, total) = dir.first_group_members(&admin, "acme", "eng", "SRE", None).unwrap();
    assert_eq!((every.len(), total), (4, 4));
}

fn org_admins_map_only_their_organization(db: TestDatabase) {
    let (dir, _) = open(&db);
    setup(&dir);
    let op = operator();
    let admin = Ctx::new(&op, None);
    let idp = idp(&dir);
    let g = push_group(&dir, &idp, "Platform", &[]);
    let e = dir.get_enterprise(&admin, "acme").unwrap();
    let eng = dir.get_organization(&admin, "acme", "eng").unwrap();
    let org_admin = Actor::User {
        id: "someone".into(),
        enterprise_id: e.id.clone(),
        login: "olga".into(),
        grants: vec![Grant { role: Role::OrgAdmin, enterprise_id: e.id.clone(), organization_id: Some(eng.id) }],
    };
    let ctx = Ctx::new(&org_admin, None);
    now(dir.set_group_mappings(&ctx, "acme", "eng", std::slice::from_ref(&g)));
    let refused = dir.set_group_mappings(&ctx, "acme", "ops", std::slice::from_ref(&g));
    assert!(matches!(refused, Err(DirectoryError::NotFound(_) | DirectoryError::Forbidden(_))), "{refused:?}");
    let unknown = dir.set_group_mappings(&admin, "acme", "eng", &["nope".to_owned()]);
    assert!(matches!(unknown, Err(DirectoryError::Validation(_))));
    // Filtered listing, without regard to case.
    dir.create_group(&admin, "acme", "eng", NewGroup { name: "unrelated".into(), description: None }).unwrap();
    let found = dir.list_mapped_idp_groups(&admin, "acme", Some("PLAT"), &PageRequest::first(10)).unwrap().items;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].organizations, ["eng"]);
}

/// One organization's state as a mapping leaves it: each group by name, with its members and
/// their sources; by name, so that two databases can be compared.
type OrgState = (String, Vec<(String, Vec<(String, String)>)>);

/// Every organization's groups and members: all that a mapping can change.
fn snapshot(dir: &Directory) -> Vec<OrgState> {
    let op = operator();
    let admin = Ctx::new(&op, None);
    let orgs = dir.list_organizations(&admin, "acme", &PageRequest::first(200)).unwrap().items;
    orgs.into_iter()
        .map(|o| {
            let groups = group_names(dir, &o.key).into_iter().map(|g| (g.clone(), members(dir, &o.key, &g))).collect();
            (o.key, groups)
        })
        .collect()
}

/// The enterprise the crash test maps: four organizations, three IdP groups (one of them named
/// like the built-in `Members`), an org group of a mapped name already there.
fn map_all_scenario(dir: &Directory) {
    setup(dir);
    let op = operator();
    let admin = Ctx::new(&op, None);
    for key in ["qa", "sec"] {
        dir.create_organization(
            &admin,
            "acme",
            directory::organization::NewOrganization { key: key.into(), name: key.into() },
        )
        .unwrap();
    }
    dir.create_group(&admin, "acme", "qa", NewGroup { name: "Research".into(), description: None }).unwrap();
    let idp = idp(dir);
    let grace = push_user(dir, &idp, "grace");
    let alan = push_user(dir, &idp, "alan");
    push_group(dir, &idp, "Members", &[&alan]);
    push_group(dir, &idp, "Developers", &[&grace, &alan]);
    push_group(dir, &idp, "Research", &[&grace]);
}

fn map_all_is_a_job_that_resumes_after_a_crash_and_converges(db: TestDatabase) {
    let (dir, clock) = open(&db);
    map_all_scenario(&dir);
    let op = operator();
    let admin = Ctx::new(&op, None);
    // One IdP group per chunk, in the order they were pushed: Members (never fed), Developers,
    // Research.
    let job = dir.start_map_all_in_chunks(&admin, "acme", Some(1)).unwrap();
    assert_eq!((job.state.as_str(), job.done, job.total), ("queued", 0, 3));

    // An instance claims it, runs two chunks, and dies.
    let claimed = dir.claim_job().unwrap().expect("a queued job");
    assert!(!dir.run_job_chunk(&claimed).unwrap());
    let halfway = dir.get_job(&admin, &job.id).unwrap();
    assert!(!dir.run_job_chunk(&halfway).unwrap());
    let halfway = dir.get_job(&admin, &job.id).unwrap();
    assert_eq!((halfway.state.as_str(), halfway.done), ("running", 2));
    // A chunk replayed from a stale view is refused, not applied twice.
    assert!(dir.run_job_chunk(&claimed).unwrap());
    assert_eq!(dir.get_job(&admin, &job.id).unwrap().done, 2);
    assert!(dir.claim_job().unwrap().is_none(), "its heartbeat is fresh: nobody else takes it");
    let mapped_halfway: usize =
        ["eng", "ops", "qa", "sec"].iter().map(|org| dir.group_mappings_of(&admin, "acme", org).unwrap().len()).sum();
    assert!(mapped_halfway > 0 && mapped_halfway < 8, "half-way, some mappings are there: {mapped_halfway}");

    // The heartbeat stops; another instance takes the job over and finishes it.
    clock.advance(chrono::Duration::seconds(directory::job::STALE_AFTER_SECS + 1));
    assert!(dir.run_jobs_until_idle().unwrap() >= 1);
    let finished = dir.get_job(&admin, &job.id).unwrap();
    assert_eq!((finished.state.as_str(), finished.done, finished.total), ("done", 3, 3));

    // The same state as an uninterrupted run of the same job on a database of its own.
    let fresh = TestDatabase::new(db.backend).expect("a second database on the same backend");
    let (uninterrupted, _) = open(&fresh);
    map_all_scenario(&uninterrupted);
    uninterrupted.start_map_all_in_chunks(&admin, "acme", Some(1)).unwrap();
    assert_eq!(uninterrupted.run_jobs_until_idle().unwrap(), 3);
    let state = snapshot(&dir);
    assert_eq!(state, snapshot(&uninterrupted));
    // And that state is what the rules say: every organization fed by both mappable groups,
    // the existing Research group of qa reused, Members never fed.
    for org in ["eng", "ops", "qa", "sec"] {
        assert_eq!(dir.group_mappings_of(&admin, "acme", org).unwrap().len(), 2, "{org}");
        assert_eq!(members(&dir, org, "Research"), [("grace".to_owned(), "sso".to_owned())], "{org}");
        assert!(members(&dir, org, "Members").iter().all(|(login, _)| login != "alan"), "{org}");
    }
    assert_eq!(group_names(&dir, "qa").iter().filter(|g| *g == "Research").count(), 1);
    // Applying it again changes nothing.
    dir.start_map_all(&admin, "acme").unwrap();
    dir.run_jobs_until_idle().unwrap();
    assert_eq!(snapshot(&dir), state);
}

fn map_all_maps_every_group_even_when_groups_change_while_it_runs(db: TestDatabase) {
    let (dir, _) = open(&db);
    setup(&dir);
    let op = operator();
    let admin = Ctx::new(&op, None);
    let idp = idp(&dir);
    let grace = push_user(&dir, &idp, "grace");
    let names = ["Alpha", "Bravo", "Charlie", "Delta"];
    let ids: Vec<String> = names.iter().map(|n| push_group(&dir, &idp, n, &[&grace])).collect();
    let job = dir.start_map_all_in_chunks(&admin, "acme", Some(1)).unwrap();
    let claimed = dir.claim_job().unwrap().expect("a queued job");
    assert!(!dir.run_job_chunk(&claimed).unwrap());
    // Between two chunks the IdP deletes the group just mapped, renames another and pushes a
    // new one: none of the groups still there may be skipped for it.
    let scim = Ctx::new(&idp, None);
    dir.scim_delete_group(&scim, &ids[0], None).unwrap();
    let rename = GroupChanges { display_name: Some("Aardvark".into()), ..Default::default() };
    dir.scim_change_group(&scim, &ids[3], &rename, None).unwrap();
    push_group(&dir, &idp, "Echo", &[&grace]);
    // The same instance carries on with the job it holds.
    while !dir.run_job_chunk(&dir.get_job(&admin, &job.id).unwrap()).unwrap() {}
    let finished = dir.get_job(&admin, &job.id).unwrap();
    assert_eq!(finished.state.as_str(), "done");
    assert_eq!(finished.done, finished.total, "progress reads complete: {finished:?}");
    for org in ["eng", "ops"] {
        let groups = group_names(&dir, org);
        for name in ["Aardvark", "Bravo", "Charlie", "Echo"] {
            assert!(groups.contains(&name.to_owned()), "{org} lacks {name}: {groups:?}");
            assert_eq!(members(&dir, org, name), [("grace".to_owned(), "sso".to_owned())], "{org} {name}");
        }
        assert_eq!(dir.group_mappings_of(&admin, "acme", org).unwrap().len(), 4, "{org}");
    }
}

fn jit_sign_in_feeds_organizations_through_the_same_idp_groups(db: TestDatabase) {
    let (dir, _) = open(&db);
    let conn = setup(&dir);
    let op = operator();
    let admin = Ctx::new(&op, None);
    dir.complete_sso_sign_in(&vouched(&dir, &conn, "ada", &["Developers", "QA"]), "", "", None).unwrap().unwrap();
    let groups = dir.list_mapped_idp_groups(&admin, "acme", None, &PageRequest::first(10)).unwrap().items;
    let developers = groups.iter().find(|g| g.display_name == "Developers").expect("recorded as an IdP group");
    assert_eq!(developers.origin.as_str(), "jit");
    assert_eq!(developers.organizations, ["eng", "ops"], "linked by exact name; `developers` is another group");
    assert_eq!(members(&dir, "eng", "Developers"), [("ada".to_owned(), "sso".to_owned())]);
    assert!(members(&dir, "eng", "developers").is_empty());
    // An org group created later with a name sign-in has seen is linked at once.
    dir.create_group(&admin, "acme", "eng", NewGroup { name: "QA".into(), description: None }).unwrap();
    assert_eq!(members(&dir, "eng", "QA"), [("ada".to_owned(), "sso".to_owned())]);

    // SCIM mode: what sign-in recorded stops counting; the IdP's push takes the group over.
    dir.update_enterprise(
        &admin,
        "acme",
        directory::enterprise::EnterpriseChanges {
            name: None,
            provisioning_mode: Some(directory::enterprise::ProvisioningMode::Scim),
            force: true,
        },
    )
    .unwrap();
    assert!(members(&dir, "eng", "Developers").is_empty());
    let idp = idp(&dir);
    let grace = push_user(&dir, &idp, "grace");
    let pushed = push_group(&dir, &idp, "Developers", &[&grace]);
    assert_eq!(pushed, developers.id, "the same group, now the IdP's");
    for org in ["eng", "ops"] {
        assert_eq!(members(&dir, org, "Developers"), [("grace".to_owned(), "sso".to_owned())], "{org}");
    }
}

fn access_gathers_organizations_groups_and_permissions(db: TestDatabase) {
    use directory::permission::Permission;
    let (dir, _) = open(&db);
    setup(&dir);
    let op = operator();
    let admin = Ctx::new(&op, None);
    let idp = idp(&dir);
    let grace = push_user(&dir, &idp, "grace");
    let sre = push_group(&dir, &idp, "SRE", &[&grace]);
    now(dir.set_group_mappings(&admin, "acme", "ops", std::slice::from_ref(&sre)));
    dir.add_group_member(&admin, "acme", "eng", "Admins", "grace").unwrap();
    dir.set_group_permissions(&admin, "acme", "eng", "Admins", &["administer".into(), "browse".into()]).unwrap();
    dir.set_group_permissions(&admin, "acme", "ops", "SRE", &["create_projects".into()]).unwrap();
    let refused = dir.set_group_permissions(&admin, "acme", "ops", "SRE", &["fly".into()]);
    assert!(matches!(refused, Err(DirectoryError::Validation(_))));
    assert_eq!(dir.group_permissions(&admin, "acme", "ops", "SRE").unwrap(), [Permission::CreateProjects]);
    assert_eq!(dir.group_permissions(&admin, "acme", "ops", "Members").unwrap(), [Permission::Browse]);

    let access = dir.user_access(&admin, "acme", "GRACE").unwrap();
    assert_eq!(access.len(), 2);
    assert_eq!(access[0].key, "eng");
    assert_eq!(groups(&access[0]), [("Admins", "local")]);
    assert_eq!(access[0].permissions, [Permission::Administer, Permission::Browse]);
    assert_eq!(access[1].key, "ops");
    assert_eq!(groups(&access[1]), [("SRE", "sso")]);
    // In ops through SRE alone, and so one of everyone there: Members' browse holds for her.
    assert_eq!(access[1].permissions, [Permission::CreateProjects, Permission::Browse]);
    // Unmapping takes the access away at once.
    now(dir.set_group_mappings(&admin, "acme", "ops", &[]));
    assert_eq!(dir.user_access(&admin, "acme", "grace").unwrap().len(), 1);
    assert!(matches!(dir.user_access(&admin, "acme", "nobody"), Err(DirectoryError::NotFound(_))));
}

fn switching_back_to_jit_links_groups_made_in_scim_mode(db: TestDatabase) {
    use directory::enterprise::{EnterpriseChanges, ProvisioningMode};
    let (dir, _) = open(&db);
    let conn = setup(&dir);
    let op = operator();
    let admin = Ctx::new(&op, None);
    dir.complete_sso_sign_in(&vouched(&dir, &conn, "ada", &["Design"]), "", "", None).unwrap().unwrap();
    let mode = |m| EnterpriseChanges { name: None, provisioning_mode: Some(m), force: true };
    dir.update_enterprise(&admin, "acme", mode(ProvisioningMode::Scim)).unwrap();
    dir.create_group(&admin, "acme", "eng", NewGroup { name: "Design".into(), description: None }).unwrap();
    let design = |dir: &Directory| {
        dir.list_mapped_idp_groups(&admin, "acme", Some("Design"), &PageRequest::first(5)).unwrap().items.remove(0)
    };
    assert!(design(&dir).organizations.is_empty(), "in SCIM mode only explicit mappings feed organizations");
    dir.update_enterprise(&admin, "acme", mode(ProvisioningMode::Jit)).unwrap();
    assert_eq!(design(&dir).organizations, ["eng"]);
    // ada's next sign-in fills the group again.
    dir.complete_sso_sign_in(&vouched(&dir, &conn, "ada", &["Design"]), "", "", None).unwrap().unwrap();
    assert_eq!(members(&dir, "eng", "Design"), [("ada".to_owned(), "sso".to_owned())]);
}

directory::both_backends!(
    switching_back_to_jit_links_groups_made_in_scim_mode,
    access_gathers_organizations_groups_and_permissions,
    jit_sign_in_feeds_organizations_through_the_same_idp_groups,
    map_all_is_a_job_that_resumes_after_a_crash_and_converges,
    mapping_changes_are_audited,
    a_page_of_the_console_changes_only_its_own_groups,
    a_large_change_of_mappings_runs_as_a_job,
    map_all_maps_every_group_even_when_groups_change_while_it_runs,
    mapping_creates_or_reuses_org_groups_and_derives_members,
    unmapping_and_deleting_take_the_members_away_and_keep_the_org_group,
    renames_follow_unless_they_clash_and_members_is_never_fed,
    org_admins_map_only_their_organization,
    an_org_group_is_fed_by_one_idp_group_and_a_pair_can_be_mapped_again,
    org_membership_follows_group_membership,
    reusing_a_group_drops_its_old_sso_copies_only,
    jit_links_by_exact_name_over_a_renamed_feed,
    a_stopping_instance_releases_its_job,
    the_first_members_of_a_group_come_with_the_count,
);
