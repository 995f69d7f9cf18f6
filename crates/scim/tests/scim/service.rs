//! The SCIM service against an in-memory store: what each operation asks of storage and what
//! it answers, without HTTP or a database. The gateway's tests drive the same service over
//! HTTP against the directory, with real IdPs' request shapes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use scim::query::ListQuery;
use scim::service::Service;
use serde_json::{Value, json};

use super::memory::MemoryStore;

const BASE: &str = "https://portico.test/api/scim/v2/acme";
const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

fn query(pairs: &[(&str, &str)]) -> ListQuery {
    ListQuery::from_pairs(pairs.iter().copied()).unwrap()
}

fn create(service: &Service<'_>, user_name: &str, given: &str) -> String {
    let reply = service
        .create_user(&json!({"schemas": [USER], "userName": user_name, "name": {"givenName": given}, "active": true}))
        .unwrap();
    assert_eq!(reply.status, 201);
    assert_eq!(reply.location.as_deref(), reply.body.as_ref().unwrap()["meta"]["location"].as_str());
    reply.body.unwrap()["id"].as_str().unwrap().to_owned()
}

fn ids(list: &Value) -> Vec<String> {
    list["Resources"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_owned()).collect()
}

#[test]
fn users_are_created_read_listed_filtered_and_paged() {
    let store = MemoryStore::default();
    let service = Service::new(&store, BASE);
    let ada = create(&service, "ada@acme.test", "Ada");
    let bob = create(&service, "bob@acme.test", "Bob");
    let carol = create(&service, "carol@acme.test", "Ada");
    let duplicate = service.create_user(&json!({"schemas": [USER], "userName": "ADA@acme.test"})).unwrap_err();
    assert_eq!((duplicate.status, duplicate.scim_type.map(|t| t.as_str())), (409, Some("uniqueness")));

    let got = service.get_user(&ada, &ListQuery::default()).unwrap();
    let body = got.body.unwrap();
    assert_eq!(body["userName"], "ada@acme.test");
    assert_eq!(body["meta"]["location"], format!("{BASE}/Users/{ada}"));
    assert_eq!(got.etag.as_deref(), Some("W/\"1\""));

    // An indexed look-up, an unindexed filter, paging.
    let by_name = service.list_users(&query(&[("filter", r#"userName eq "BOB@acme.test""#)])).unwrap();
    assert_eq!(ids(by_name.body.as_ref().unwrap()), std::slice::from_ref(&bob));
    let by_given = service.list_users(&query(&[("filter", r#"name.givenName eq "Ada""#)])).unwrap();
    assert_eq!(ids(by_given.body.as_ref().unwrap()), [ada.clone(), carol.clone()]);
    let page = service.list_users(&query(&[("startIndex", "2"), ("count", "1")])).unwrap().body.unwrap();
    assert_eq!((page["totalResults"].as_u64(), ids(&page)), (Some(3), vec![bob.clone()]));
    let projected = service.list_users(&query(&[("attributes", "userName")])).unwrap().body.unwrap();
    assert!(projected["Resources"][0].get("name").is_none(), "{projected}");

    // Past the filter bound, an unindexed filter is refused; an indexed one is not.
    let bounded = Service::new(&store, BASE).with_filter_limit(2);
    let e = bounded.list_users(&query(&[("filter", r#"name.givenName eq "Ada""#)])).unwrap_err();
    assert_eq!(e.scim_type.map(|t| t.as_str()), Some("tooMany"));
    assert!(bounded.list_users(&query(&[("filter", r#"userName eq "bob@acme.test""#)])).is_ok());

    assert_eq!(service.delete_user(&bob, None).unwrap().status, 204);
    assert_eq!(service.get_user(&bob, &ListQuery::default()).unwrap_err().status, 404);
}

#[test]
fn replacing_and_patching_users_follow_versions() {
    let store = MemoryStore::default();
    let service = Service::new(&store, BASE);
    let ada = create(&service, "ada@acme.test", "Ada");
    let replaced = service
        .replace_user(
            &ada,
            &json!({"schemas": [USER], "userName": "ada@acme.test", "displayName": "Ada L"}),
            Some("W/\"1\""),
        )
        .unwrap();
    assert_eq!(replaced.etag.as_deref(), Some("W/\"2\""));
    let stale = service.replace_user(&ada, &json!({"schemas": [USER], "userName": "ada@acme.test"}), Some("W/\"1\""));
    assert_eq!(stale.unwrap_err().status, 412);

    let deactivate = json!({"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": false}}]});
    let patched = service.patch_user(&ada, &deactivate, None).unwrap().body.unwrap();
    assert_eq!(patched["active"], false);
    // The same PATCH again changes nothing and writes nothing.
    let writes = store.writes();
    service.patch_user(&ada, &deactivate, None).unwrap();
    assert_eq!(store.writes(), writes, "an idempotent PATCH writes nothing");
    // A PATCH that meets a concurrent change starts over from the new version.
    *store.interfere_once.lock().unwrap() = true;
    let renamed =
        json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "displayName", "value": "Ada Lovelace"}]});
    assert_eq!(service.patch_user(&ada, &renamed, None).unwrap().body.unwrap()["displayName"], "Ada Lovelace");
    // With If-Match it does not: the client asked for that version.
    let current = service.get_user(&ada, &ListQuery::default()).unwrap().etag.unwrap();
    *store.interfere_once.lock().unwrap() = true;
    let reactivate = json!({"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": true}}]});
    assert_eq!(service.patch_user(&ada, &reactivate, Some(&current)).map(|_| ()).unwrap_err().status, 412);
    let id_change = json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "id", "value": "other"}]});
    assert_eq!(
        service.patch_user(&ada, &id_change, None).unwrap_err().scim_type.map(|t| t.as_str()),
        Some("mutability")
    );
}

#[test]
fn groups_and_their_members() {
    let store = MemoryStore::default();
    let service = Service::new(&store, BASE);
    let ada = create(&service, "ada@acme.test", "Ada");
    let bob = create(&service, "bob@acme.test", "Bob");
    let created = service
        .create_group(&json!({"schemas": [GROUP], "displayName": "Engineering", "members": [{"value": ada}]}))
        .unwrap();
    assert_eq!(created.status, 201);
    let group = created.body.unwrap()["id"].as_str().unwrap().to_owned();
    let add = json!({"schemas": [PATCH], "Operations": [{"op": "add", "path": "members", "value": [{"value": bob}]}]});
    let reply = service.patch_group(&group, &add, None).unwrap();
    assert_eq!((reply.status, reply.etag.as_deref()), (204, Some("W/\"2\"")));
    let with_members = service.get_group(&group, &ListQuery::default()).unwrap().body.unwrap();
    let members: Vec<&str> =
        with_members["members"].as_array().unwrap().iter().map(|m| m["value"].as_str().unwrap()).collect();
    assert_eq!(members, [ada.as_str(), bob.as_str()]);
    // Entra ID removes by filter; any filter the grammar allows works on members.
    let remove =
        json!({"schemas": [PATCH], "Operations": [{"op": "remove", "path": format!("members[value eq \"{ada}\"]")}]});
    service.patch_group(&group, &remove, None).unwrap();
    let remove_by_name =
        json!({"schemas": [PATCH], "Operations": [{"op": "remove", "path": "members[display sw \"bob\"]"}]});
    service.patch_group(&group, &remove_by_name, None).unwrap();
    let left = service.get_group(&group, &ListQuery::default()).unwrap().body.unwrap();
    assert!(left.get("members").is_none_or(|m| m.as_array().unwrap().is_empty()), "{left}");
    // A user's groups show on the user; unknown members are refused.
    service.patch_group(&group, &add, None).unwrap();
    let bob_user = service.get_user(&bob, &ListQuery::default()).unwrap().body.unwrap();
    assert_eq!(bob_user["groups"][0]["display"], "Engineering");
    let unknown =
        json!({"schemas": [PATCH], "Operations": [{"op": "add", "path": "members", "value": [{"value": "nobody"}]}]});
    assert_eq!(service.patch_group(&group, &unknown, None).unwrap_err().status, 400);
    let taken = service.create_group(&json!({"schemas": [GROUP], "displayName": "Engineering"})).unwrap_err();
    assert_eq!(taken.status, 409);
    assert_eq!(service.delete_group(&group, Some("W/\"1\"")).unwrap_err().status, 412);
    assert_eq!(service.delete_group(&group, None).unwrap().status, 204);
}

#[test]
fn searches_and_bulk_requests() {
    let store = MemoryStore::default();
    let service = Service::new(&store, BASE);
    for name in ["a", "b", "c"] {
        create(&service, &format!("{name}@acme.test"), name);
    }
    service.create_group(&json!({"schemas": [GROUP], "displayName": "Everyone"})).unwrap();
    // Without a filter, users then groups, paged across both.
    let page = service.search_all(&query(&[("startIndex", "3"), ("count", "2")])).unwrap().body.unwrap();
    assert_eq!(page["totalResults"], 4);
    let kinds: Vec<&str> =
        page["Resources"].as_array().unwrap().iter().map(|r| r["meta"]["resourceType"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["User", "Group"]);

    let bulk = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": [
        {"method": "POST", "path": "/Users", "bulkId": "d", "data": {"schemas": [USER], "userName": "d@acme.test"}},
        {"method": "POST", "path": "/Groups", "bulkId": "g", "data": {"schemas": [GROUP], "displayName": "Team", "members": [{"value": "bulkId:d"}]}},
        {"method": "DELETE", "path": "/Users/nobody"}
    ]});
    let answer = scim::bulk::run(&service, &bulk).unwrap();
    let statuses: Vec<&str> =
        answer["Operations"].as_array().unwrap().iter().map(|o| o["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["201", "201", "404"]);
}
