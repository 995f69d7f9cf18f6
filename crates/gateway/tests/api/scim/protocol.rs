//! The protocol itself: authentication, discovery, errors that change nothing, ETags, paging,
//! projections, the filter grammar over HTTP, bulk requests and URL forms.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::Idp;
use crate::helpers::TestApp;

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

async fn status_of(req: reqwest::RequestBuilder) -> (StatusCode, Value, reqwest::header::HeaderMap) {
    let res = req.send().await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let text = res.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null), headers)
}

async fn tokens_authenticate_one_enterprise_only(app: TestApp) {
    let acme = Idp::new(&app, "acme", "test").await;
    let globex = Idp::new(&app, "globex", "test").await;
    let users = format!("{}/Users", acme.base);

    let (status, body, headers) = status_of(app.client.get(&users)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["schemas"][0], scim::error::ERROR_SCHEMA);
    assert!(headers.contains_key("www-authenticate"));
    let (status, ..) = status_of(app.client.get(&users).bearer_auth(&globex.token)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "enterprise B's token does not open enterprise A");
    let (status, ..) = status_of(app.client.get(&users).bearer_auth(format!("{}x", acme.token))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, ..) = status_of(app.client.get(&users).bearer_auth(&acme.token)).await;
    assert_eq!(status, StatusCode::OK);
    // HTTP Basic with the token as the user name.
    let (status, ..) = status_of(app.client.get(&users).basic_auth(&acme.token, None::<&str>)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, ..) = status_of(app.client.get(&users).basic_auth(&acme.token, Some("anything"))).await;
    assert_eq!(status, StatusCode::OK);
    let (status, ..) = status_of(app.client.get(&users).basic_auth("someone", Some("wrong"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Failed authentications are limited per address; then even a good token waits.
    let mut limited = false;
    for _ in 0..40 {
        let (status, body, _) = status_of(app.client.get(&users).bearer_auth("pscim_000000000000_nope")).await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(body["status"], "429");
            limited = true;
            break;
        }
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    assert!(limited, "failed authentications are rate-limited");
    let (status, ..) = status_of(app.client.get(&users).bearer_auth(&acme.token)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
}

async fn discovery_describes_what_is_supported(app: TestApp) {
    let idp = Idp::new(&app, "acme", "test").await;
    let (status, spc) = idp.get("/ServiceProviderConfig").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(spc["patch"]["supported"], true);
    assert_eq!(spc["bulk"]["supported"], true);
    assert_eq!(spc["bulk"]["maxOperations"], scim::bulk::MAX_BULK_OPERATIONS);
    assert_eq!(spc["bulk"]["maxPayloadSize"], scim::bulk::MAX_BULK_PAYLOAD);
    assert_eq!(spc["filter"]["maxResults"], scim::query::MAX_COUNT);
    assert_eq!(spc["etag"]["supported"], true);
    assert_eq!(spc["authenticationSchemes"][0]["type"], "oauthbearertoken");

    let (_, types) = idp.get("/ResourceTypes").await;
    assert_eq!(types["totalResults"], 2);
    let (status, user_type) = idp.get("/ResourceTypes/User").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(user_type["endpoint"], "/Users");
    let (_, schemas) = idp.get("/Schemas").await;
    assert_eq!(schemas["totalResults"], 3);
    let (status, user_schema) = idp.get(&format!("/Schemas/{USER}")).await;
    assert_eq!(status, StatusCode::OK);
    let user_name = user_schema["attributes"].as_array().unwrap().iter().find(|a| a["name"] == "userName").unwrap();
    assert_eq!(user_name["uniqueness"], "server");
    assert_eq!(user_name["caseExact"], false);
    let (status, _) = idp.get("/Schemas/urn:nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = idp.get("/Nothing").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = idp.call(Method::DELETE, "/Users", None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

async fn user_count(idp: &Idp<'_>) -> u64 {
    let (_, body) = idp.get("/Users?count=0").await;
    body["totalResults"].as_u64().unwrap()
}

async fn bad_requests_get_scim_errors_and_change_nothing(app: TestApp) {
    let idp = Idp::new(&app, "acme", "test").await;
    let id = idp.create_user("ada@acme.example").await;
    let before = idp.get(&format!("/Users/{id}")).await.1;
    assert_eq!(user_count(&idp).await, 1);

    let raw = |method: Method, path: &str, ct: &str, body: String| {
        app.client
            .request(method, format!("{}{path}", idp.base))
            .bearer_auth(&idp.token)
            .header("content-type", ct.to_owned())
            .body(body)
    };
    let cases: Vec<(reqwest::RequestBuilder, StatusCode, Option<&str>)> = vec![
        (
            raw(Method::POST, "/Users", "application/scim+json", "{\"userName\": ".into()),
            StatusCode::BAD_REQUEST,
            Some("invalidSyntax"),
        ),
        (
            raw(
                Method::POST,
                "/Users",
                "application/scim+json",
                json!({"schemas": ["urn:example:unknown"], "userName": "x"}).to_string(),
            ),
            StatusCode::BAD_REQUEST,
            Some("invalidSyntax"),
        ),
        (
            raw(
                Method::POST,
                "/Users",
                "application/scim+json",
                json!({"schemas": [USER], "userName": "  "}).to_string(),
            ),
            StatusCode::BAD_REQUEST,
            Some("invalidValue"),
        ),
        (
            raw(
                Method::POST,
                "/Users",
                "application/scim+json",
                json!({"schemas": [USER], "userName": "bob", "active": "perhaps"}).to_string(),
            ),
            StatusCode::BAD_REQUEST,
            Some("invalidValue"),
        ),
        (raw(Method::POST, "/Users", "text/plain", "userName=bob".into()), StatusCode::UNSUPPORTED_MEDIA_TYPE, None),
        (
            raw(
                Method::POST,
                "/Users",
                "application/scim+json",
                format!(
                    "{{\"schemas\":[\"{USER}\"],\"userName\":\"big\",\"title\":\"{}\"}}",
                    "x".repeat(5 * 1024 * 1024)
                ),
            ),
            StatusCode::PAYLOAD_TOO_LARGE,
            None,
        ),
        (
            raw(
                Method::PATCH,
                &format!("/Users/{id}"),
                "application/scim+json",
                json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "id", "value": "other"}]})
                    .to_string(),
            ),
            StatusCode::BAD_REQUEST,
            Some("mutability"),
        ),
        (
            raw(
                Method::PATCH,
                &format!("/Users/{id}"),
                "application/scim+json",
                json!({"schemas": [PATCH], "Operations": [{"op": "explode", "path": "userName"}]}).to_string(),
            ),
            StatusCode::BAD_REQUEST,
            Some("invalidSyntax"),
        ),
        (
            raw(
                Method::PATCH,
                &format!("/Users/{id}"),
                "application/scim+json",
                json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "emails[type eq]", "value": "x"}]})
                    .to_string(),
            ),
            StatusCode::BAD_REQUEST,
            Some("invalidPath"),
        ),
        (
            raw(
                Method::PATCH,
                &format!("/Users/{id}"),
                "application/scim+json",
                json!({"schemas": [PATCH], "Operations": [
                    {"op": "replace", "path": "displayName", "value": "Changed"},
                    {"op": "replace", "path": "userName", "value": ""}
                ]})
                .to_string(),
            ),
            StatusCode::BAD_REQUEST,
            Some("invalidValue"),
        ),
    ];
    for (i, (req, status, scim_type)) in cases.into_iter().enumerate() {
        let (got, body, headers) = status_of(req).await;
        assert_eq!(got, status, "case {i}: {body}");
        assert!(headers["content-type"].to_str().unwrap().starts_with("application/scim+json"), "case {i}");
        assert_eq!(body["schemas"][0], scim::error::ERROR_SCHEMA, "case {i}");
        assert_eq!(body["scimType"].as_str(), scim_type, "case {i}: {body}");
        assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()), "case {i}");
    }

    // Filters: invalid, and nested beyond the depth limit.
    let (status, body) = idp.get("/Users?filter=userName%20eq").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["scimType"], "invalidFilter");
    let deep = format!("{}userName eq \"x\"{}", "not (".repeat(40), ")".repeat(40));
    let (status, body) = idp.get(&format!("/Users?filter={}", url_encode(&deep))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["scimType"], "invalidFilter");

    // Nothing changed.
    assert_eq!(user_count(&idp).await, 1);
    let after = idp.get(&format!("/Users/{id}")).await.1;
    assert_eq!(before, after, "refused requests leave the user as it was");
}

fn url_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn etags_guard_against_lost_updates(app: TestApp) {
    let idp = Idp::new(&app, "acme", "test").await;
    let id = idp.create_user("ada@acme.example").await;
    let url = format!("{}/Users/{id}", idp.base);
    let (_, user, headers) = status_of(app.client.get(&url).bearer_auth(&idp.token)).await;
    let etag = headers["etag"].to_str().unwrap().to_owned();
    assert_eq!(user["meta"]["version"], etag.as_str());

    let mut changed = user.clone();
    changed["displayName"] = "Ada L.".into();
    let put = |tag: &str, body: &Value| {
        app.client
            .put(&url)
            .bearer_auth(&idp.token)
            .header("if-match", tag.to_owned())
            .header("content-type", "application/scim+json")
            .body(body.to_string())
    };
    let (status, body, headers) = status_of(put(&etag, &changed)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let newer = headers["etag"].to_str().unwrap().to_owned();
    assert_ne!(newer, etag, "each change moves the ETag");
    changed["displayName"] = "Lost update".into();
    let (status, body, _) = status_of(put(&etag, &changed)).await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{body}");
    let (status, ..) = status_of(put("\"not-a-version\"", &changed)).await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED);
    let (_, now) = idp.get(&format!("/Users/{id}")).await;
    assert_eq!(now["displayName"], "Ada L.");
    let (status, ..) = status_of(put("*", &changed)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, ..) =
        status_of(app.client.delete(&url).bearer_auth(&idp.token).header("if-match", etag.clone())).await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED);
    assert_eq!(idp.get(&format!("/Users/{id}")).await.0, StatusCode::OK);
}

async fn lists_page_project_and_filter(app: TestApp) {
    let idp = Idp::new(&app, "acme", "test").await;
    for (login, family, active, kind) in [
        ("ada@acme.example", "Lovelace", true, "work"),
        ("alan@acme.example", "Turing", true, "home"),
        ("grace@acme.example", "Hopper", false, "work"),
        ("edsger@other.example", "Dijkstra", true, "work"),
        ("barbara@acme.example", "Liskov", true, "work"),
    ] {
        let (status, body) = idp
            .post(
                "/Users",
                json!({"schemas": [USER], "userName": login, "active": active, "name": {"familyName": family},
                       "emails": [{"value": login, "type": kind}]}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (_, page) = idp.get("/Users?startIndex=2&count=2").await;
    assert_eq!(page["totalResults"], 5);
    assert_eq!(page["itemsPerPage"], 2);
    assert_eq!(page["startIndex"], 2);
    assert_eq!(page["Resources"][0]["userName"], "alan@acme.example");
    let (_, page) = idp.get("/Users?count=0").await;
    assert_eq!(page["totalResults"], 5);
    assert_eq!(page["Resources"], json!([]));

    let (_, page) = idp.get("/Users?attributes=userName&count=1").await;
    let keys: Vec<&String> = page["Resources"][0].as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 3, "id, schemas and userName only: {keys:?}");
    let (_, page) = idp.get("/Users?excludedAttributes=emails,name.familyName&count=1").await;
    assert!(page["Resources"][0].get("emails").is_none());
    assert!(page["Resources"][0]["userName"].is_string());

    let names = |page: &Value| -> Vec<String> {
        page["Resources"].as_array().unwrap().iter().map(|r| r["userName"].as_str().unwrap().to_owned()).collect()
    };
    let (_, page) = idp
        .get(&format!("/Users?filter={}", url_encode("userName ew \"@acme.example\" and not (active eq false)")))
        .await;
    assert_eq!(names(&page), ["ada@acme.example", "alan@acme.example", "barbara@acme.example"]);
    let (_, page) =
        idp.get(&format!("/Users?filter={}", url_encode("emails[type eq \"work\" and value co \"acme\"]"))).await;
    assert_eq!(names(&page), ["ada@acme.example", "grace@acme.example", "barbara@acme.example"]);
    let (_, page) = idp
        .get(&format!("/Users?filter={}", url_encode("name.familyName sw \"l\" or userName eq \"ALAN@ACME.EXAMPLE\"")))
        .await;
    assert_eq!(names(&page), ["ada@acme.example", "alan@acme.example", "barbara@acme.example"]);
    let (_, page) = idp.get(&format!("/Users?filter={}", url_encode("title pr"))).await;
    assert_eq!(page["totalResults"], 0);
    let (_, page) = idp
        .get(&format!("/Users?filter={}", url_encode("meta.created gt \"2000-01-01T00:00:00Z\" and active eq false")))
        .await;
    assert_eq!(names(&page), ["grace@acme.example"]);
    // POST .search takes the same query in a body.
    let (status, page) = idp
        .post(
            "/Users/.search",
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
               "filter": "userName sw \"ed\"", "attributes": ["userName"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(names(&page), ["edsger@other.example"]);
}

async fn bulk_runs_operations_in_order_with_bulk_ids(app: TestApp) {
    let idp = Idp::new(&app, "acme", "test").await;
    let (status, body) = idp
        .post(
            "/Bulk",
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": [
                {"method": "POST", "path": "/Users", "bulkId": "ada", "data": {"schemas": [USER], "userName": "ada@acme.example"}},
                {"method": "POST", "path": "/Groups", "bulkId": "eng", "data": {"schemas": [GROUP], "displayName": "Engineering",
                    "members": [{"value": "bulkId:ada"}]}},
                {"method": "POST", "path": "/Users", "bulkId": "dup", "data": {"schemas": [USER], "userName": "ADA@acme.example"}},
                {"method": "PATCH", "path": "/Users/bulkId:ada", "data": {"schemas": [PATCH], "Operations": [
                    {"op": "replace", "path": "displayName", "value": "Ada"}]}}
            ]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let ops = body["Operations"].as_array().unwrap();
    assert_eq!(ops.len(), 4);
    assert_eq!(ops[0]["status"], "201");
    assert!(ops[0]["location"].as_str().unwrap().contains("/Users/"));
    assert_eq!(ops[1]["status"], "201");
    assert_eq!(ops[2]["status"], "409");
    assert_eq!(ops[2]["response"]["scimType"], "uniqueness");
    assert_eq!(ops[3]["status"], "200");
    let gid = ops[1]["location"].as_str().unwrap().rsplit('/').next().unwrap();
    assert_eq!(idp.members(gid).await.len(), 1);

    // failOnErrors stops after that many errors.
    let (_, body) = idp
        .post(
            "/Bulk",
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "failOnErrors": 1, "Operations": [
                {"method": "DELETE", "path": "/Users/no-such-user"},
                {"method": "POST", "path": "/Users", "data": {"schemas": [USER], "userName": "never@acme.example"}}
            ]}),
        )
        .await;
    assert_eq!(body["Operations"].as_array().unwrap().len(), 1);
    assert_eq!(body["Operations"][0]["status"], "404");
    assert_eq!(user_count(&idp).await, 1);
    let too_many: Vec<Value> = (0..scim::bulk::MAX_BULK_OPERATIONS + 1)
        .map(|i| json!({"method": "DELETE", "path": format!("/Users/{i}")}))
        .collect();
    let (status, _) = idp
        .post(
            "/Bulk",
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": too_many}),
        )
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    // So is a bulk body over the advertised maxPayloadSize, whatever it holds.
    let padding = "x".repeat(scim::bulk::MAX_BULK_PAYLOAD);
    let (status, body) = idp
        .post(
            "/Bulk",
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": [
                {"method": "POST", "path": "/Users", "data": {"schemas": [USER], "userName": "big@acme.example", "nickName": padding}}
            ]}),
        )
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    let (_, config) = idp.get("/ServiceProviderConfig").await;
    assert_eq!(config["bulk"]["maxPayloadSize"], scim::bulk::MAX_BULK_PAYLOAD);
    assert_eq!(user_count(&idp).await, 1, "nothing of it was applied");
}

/// The token is checked before the body is read: a client without a valid token gets 401 even
/// for a body far over the size limit, which Portico never reads.
async fn the_token_is_checked_before_the_body_is_read(app: TestApp) {
    let idp = Idp::new(&app, "acme", "test").await;
    let huge =
        format!(r#"{{"schemas":["{USER}"],"userName":"{}"}}"#, "x".repeat(gateway::provisioning::MAX_BODY + 1024));
    for token in ["pscim_000000000000_nope", idp.token.as_str()] {
        let res = app
            .client
            .post(format!("{}/Users", idp.base))
            .bearer_auth(token)
            .header("content-type", "application/scim+json")
            .body(huge.clone())
            .send()
            .await
            .unwrap();
        let expected = if token == idp.token { StatusCode::PAYLOAD_TOO_LARGE } else { StatusCode::UNAUTHORIZED };
        assert_eq!(res.status(), expected);
    }
    assert_eq!(user_count(&idp).await, 0);
}

/// A filter that no index narrows is evaluated over at most `scim.max_filter_scan_rows`
/// resources (5 here); past that it is refused with `tooMany`, while indexed look-ups and
/// small enterprises are answered as before.
async fn filters_that_scan_are_bounded(app: TestApp) {
    let idp = Idp::new(&app, "acme", "test").await;
    let scan = "/Users?filter=name.givenName%20eq%20%22Ada%22";
    for i in 0..5 {
        let (status, _) = idp
            .post(
                "/Users",
                json!({"schemas": [USER], "userName": format!("user{i}@acme.example"), "name": {"givenName": "Ada"}}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let (status, body) = idp.get(scan).await;
    assert_eq!(status, StatusCode::OK, "five users are within the bound: {body}");
    assert_eq!(body["totalResults"], 5);
    idp.post("/Users", json!({"schemas": [USER], "userName": "user5@acme.example"})).await;
    let (status, body) = idp.get(scan).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["scimType"], "tooMany");
    let (status, body) = idp.get("/Users?filter=userName%20eq%20%22user5@acme.example%22").await;
    assert_eq!((status, body["totalResults"].as_u64()), (StatusCode::OK, Some(1)), "indexed look-ups still work");
    // Without a filter, searches and lists page in SQL whatever the size.
    idp.post("/Groups", json!({"schemas": [GROUP], "displayName": "Everyone"})).await;
    let (status, body) = idp
        .post("/.search", json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "count": 4}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!((body["totalResults"].as_u64(), body["Resources"].as_array().map(Vec::len)), (Some(7), Some(4)));
    let (_, body) = idp
        .post(
            "/.search",
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "startIndex": 6, "count": 4}),
        )
        .await;
    let names: Vec<&str> = body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["userName"].as_str().or(r["displayName"].as_str()).unwrap())
        .collect();
    assert_eq!(names, ["user5@acme.example", "Everyone"], "the last user, then the group");
}

crate::both_backends!(
    in small_scans with [("PORTICO__SCIM__MAX_FILTER_SCAN_ROWS", "5")];
    filters_that_scan_are_bounded,
);

crate::both_backends!(
    the_token_is_checked_before_the_body_is_read,
    tokens_authenticate_one_enterprise_only,
    discovery_describes_what_is_supported,
    bad_requests_get_scim_errors_and_change_nothing,
    etags_guard_against_lost_updates,
    lists_page_project_and_filter,
    bulk_runs_operations_in_order_with_bulk_ids,
);
