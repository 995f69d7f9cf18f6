//! The console over plain HTTP, as a browser without JavaScript would use it.

use reqwest::{Client, StatusCode};

use crate::helpers::{TestApp, csrf_of};

const PASSWORD: &str = "a long operator password";

fn browser() -> Client {
    Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// Creates the first operator through the set-up link and returns a signed-in browser.
pub(crate) async fn first_operator(app: &TestApp) -> Client {
    let b = browser();
    let token = app.directory.issue_first_operator_link().unwrap().unwrap();
    let link = app.url(&format!("/setup/{token}"));
    let page = b.get(&link).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Welcome to Portico"));
    assert!(page.contains("name=\"name\" type=\"text\" value=\"\""), "fields start empty");
    let res = b
        .post(&link)
        .form(&[
            ("csrf_token", csrf_of(&page).as_str()),
            ("login", "olive"),
            ("name", "Olive"),
            ("email", ""),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/console/enterprises");
    let cookie = res.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).collect::<Vec<_>>();
    let session = cookie.iter().find(|c| c.starts_with("portico_session=")).expect("session cookie");
    assert!(session.contains("HttpOnly") && session.contains("SameSite=Lax"), "{session}");
    b
}

async fn post_form(b: &Client, app: &TestApp, page_path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    let page = b.get(app.url(page_path)).send().await.unwrap().text().await.unwrap();
    let csrf = csrf_of(&page);
    let mut form: Vec<(&str, &str)> = vec![("csrf_token", csrf.as_str())];
    form.extend_from_slice(fields);
    b.post(app.url(page_path)).form(&form).send().await.unwrap()
}

async fn operator_creates_enterprise_and_organization(app: TestApp) {
    let b = first_operator(&app).await;
    let res = post_form(&b, &app, "/console/enterprises/new", &[("name", "Acme Corporation"), ("key", "acme")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/console/e/acme");
    let list = b.get(app.url("/console/enterprises")).send().await.unwrap().text().await.unwrap();
    assert!(list.contains("Acme Corporation") && list.contains("acme"));
    // The SSO & Provisioning page's title is its title (it once held a whole section of HTML).
    let sso = b.get(app.url("/console/e/acme/sso")).send().await.unwrap().text().await.unwrap();
    let title = sso.split("<title>").nth(1).and_then(|t| t.split("</title>").next()).unwrap_or_default();
    assert_eq!(title, "SSO & Provisioning · Acme Corporation · Portico");

    let res =
        post_form(&b, &app, "/console/e/acme/organizations/new", &[("name", "Engineering"), ("key", "eng")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let org = b.get(app.url("/console/e/acme/o/eng")).send().await.unwrap().text().await.unwrap();
    assert!(org.contains("Engineering") && org.contains("Members"));
    let overview = b.get(app.url("/console/e/acme")).send().await.unwrap().text().await.unwrap();
    assert!(overview.contains("/console/e/acme/o/eng"));

    // The audit log filters by action family, outcome and operation id, and exports JSON lines.
    let get = |q: &str| {
        let (b, url) = (b.clone(), app.url(&format!("/console/e/acme/audit{q}")));
        async move { b.get(url).send().await.unwrap().text().await.unwrap() }
    };
    let orgs = get("?action=organization.").await;
    assert!(
        orgs.contains("<code>organization.create</code>") && !orgs.contains("<code>enterprise.create</code>"),
        "{orgs}"
    );
    assert!(get("?outcome=denied").await.contains("No event matches these filters"));
    let ok = get("?outcome=success&action=organization.create").await;
    assert_eq!(ok.matches("<code>organization.create</code>").count(), 1, "{ok}");
    let events = app
        .directory
        .list_audit_events(&directory::Ctx::new(&directory::Actor::System, None), Some("acme"), &Default::default())
        .unwrap()
        .items;
    let op = events.iter().find(|e| e.action == "organization.create").unwrap().operation_id.clone().unwrap();
    let by_op = get(&format!("?op={op}")).await;
    assert_eq!(by_op.matches("<tr>").count(), 2, "the header and the one event: {by_op}");
    assert!(get("?since=yesterday").await.contains("YYYY-MM-DD"));
    assert!(get("?action=nothing.like.this").await.contains("No event matches these filters"));
    let export = b.get(app.url("/console/e/acme/audit.jsonl?action=organization.")).send().await.unwrap();
    assert_eq!(export.headers()["content-type"], "application/x-ndjson; charset=utf-8");
    let lines: Vec<serde_json::Value> =
        export.text().await.unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines.iter().all(|l| l["action"] == "organization.create" && l["operation_id"].is_string()));
}

async fn forms_show_field_errors_and_change_nothing(app: TestApp) {
    let b = first_operator(&app).await;
    let res = post_form(&b, &app, "/console/enterprises/new", &[("name", ""), ("key", "Not A Key")]).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let page = res.text().await.unwrap();
    assert!(page.contains("aria-invalid=\"true\""));
    assert!(page.contains("must not be empty"));
    assert!(page.contains("lower-case letters"));
    assert!(page.contains("value=\"Not A Key\""), "the form keeps what was typed");

    post_form(&b, &app, "/console/enterprises/new", &[("name", "Acme"), ("key", "acme")]).await;
    let res = post_form(&b, &app, "/console/enterprises/new", &[("name", "Acme again"), ("key", "acme")]).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert!(res.text().await.unwrap().contains("already exists"));
    let list = b.get(app.url("/console/enterprises")).send().await.unwrap().text().await.unwrap();
    assert!(!list.contains("Acme again"));
}

async fn forms_without_the_csrf_token_are_refused(app: TestApp) {
    let b = first_operator(&app).await;
    let res = b
        .post(app.url("/console/enterprises/new"))
        .form(&[("csrf_token", "forged"), ("name", "Evil"), ("key", "evil")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let page = res.text().await.unwrap();
    assert!(page.contains("Operation id"));
    let list = b.get(app.url("/console/enterprises")).send().await.unwrap().text().await.unwrap();
    assert!(!list.contains("Evil"));

    // A token taken from another browser's page is worthless here.
    let other = browser();
    let login_page = other.get(app.url("/login")).send().await.unwrap().text().await.unwrap();
    let res = b
        .post(app.url("/console/enterprises/new"))
        .form(&[("csrf_token", csrf_of(&login_page).as_str()), ("name", "Evil"), ("key", "evil")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

async fn sign_in_sign_out_and_wrong_passwords(app: TestApp) {
    let b = first_operator(&app).await;
    let page = b.get(app.url("/console/enterprises")).send().await.unwrap().text().await.unwrap();
    let res = b.post(app.url("/logout")).form(&[("csrf_token", csrf_of(&page))]).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let res = b.get(app.url("/console/enterprises")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/login?next=%2Fconsole%2Fenterprises");

    let wrong =
        post_form(&b, &app, "/login", &[("enterprise", ""), ("login", "olive"), ("password", "not the password")])
            .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(wrong.text().await.unwrap().contains("Wrong enterprise, login or password"));

    let res = post_form(
        &b,
        &app,
        "/login",
        &[("enterprise", ""), ("login", "OLIVE"), ("password", PASSWORD), ("next", "/console/me")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/console/me");
    let fresh = browser();
    let res = post_form(
        &fresh,
        &app,
        "/login",
        &[("enterprise", ""), ("login", "olive"), ("password", PASSWORD), ("next", "//evil.example")],
    )
    .await;
    assert_eq!(res.headers()["location"], "/console/enterprises", "no open redirect");
}

async fn appointed_enterprise_admin_manages_only_their_enterprise(app: TestApp) {
    let op = first_operator(&app).await;
    post_form(&op, &app, "/console/enterprises/new", &[("name", "Acme"), ("key", "acme")]).await;
    post_form(&op, &app, "/console/enterprises/new", &[("name", "Globex"), ("key", "globex")]).await;
    let res = post_form(
        &op,
        &app,
        "/console/e/acme/admins/new",
        &[("login", "ada"), ("email", "ada@acme.test"), ("name", "Ada")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.text().await.unwrap();
    let marker = "id=\"setup-link\" type=\"text\" readonly value=\"";
    let start = page.find(marker).expect("set-password link shown") + marker.len();
    let link = page[start..].split('"').next().unwrap().to_owned();
    assert!(page.contains("data-copy-target=\"setup-link\""), "copy button");

    let ada = browser();
    let setup = ada.get(&link).send().await.unwrap().text().await.unwrap();
    let res = ada
        .post(&link)
        .form(&[("csrf_token", csrf_of(&setup).as_str()), ("password", "ada's long password")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/console/e/acme");
    let home = ada.get(app.url("/console/e/acme")).send().await.unwrap().text().await.unwrap();
    assert!(home.contains("New organization"));
    assert_eq!(ada.get(app.url("/console/e/globex")).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    assert_eq!(ada.get(app.url("/console/enterprises/new")).send().await.unwrap().status(), StatusCode::FORBIDDEN);
    let users = ada.get(app.url("/console/e/acme/users")).send().await.unwrap().text().await.unwrap();
    assert!(users.contains("ada@acme.test"));
    let audit = ada.get(app.url("/console/e/acme/audit")).send().await.unwrap().text().await.unwrap();
    assert!(audit.contains("role.enterprise_admin.grant"));
}

crate::both_backends!(
    operator_creates_enterprise_and_organization,
    operator_registers_an_application,
    operator_manages_webhooks_and_sees_events,
    admins_find_deactivate_and_reactivate_users,
    forms_show_field_errors_and_change_nothing,
    forms_without_the_csrf_token_are_refused,
    sign_in_sign_out_and_wrong_passwords,
    appointed_enterprise_admin_manages_only_their_enterprise,
    provisioning_assistant_generates_tokens_and_enables_scim,
    group_permissions_are_edited_on_the_organization_page,
    org_admins_map_groups_of_their_organization_only,
    the_organization_page_lists_everyone_in_its_groups,
    the_mapping_page_reaches_every_organization,
    the_progress_page_follows_a_job_to_its_end,
);

/// Org membership follows group membership: the organization page lists the people of its
/// groups, those fed by a mapped IdP group marked as such.
async fn the_organization_page_lists_everyone_in_its_groups(app: TestApp) {
    let b = first_operator(&app).await;
    app.create_enterprise("acme").await;
    app.create_organization("acme", "eng").await;
    let page = b.get(app.url("/console/e/acme/o/eng")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Nobody yet."), "{page}");

    let system = directory::Actor::System;
    let token = app.directory.create_scim_token(&directory::Ctx::new(&system, None), "acme", "").unwrap().token;
    let push = |path: &'static str, body: String| {
        app.client
            .post(app.url(&format!("/api/scim/v2/acme{path}")))
            .bearer_auth(&token)
            .header("content-type", "application/scim+json")
            .body(body)
            .send()
    };
    let user: serde_json::Value = push(
        "/Users",
        r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ada@acme.example"}"#.to_owned(),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let group: serde_json::Value = push(
        "/Groups",
        format!(
            r#"{{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Platform","members":[{{"value":"{}"}}]}}"#,
            user["id"].as_str().unwrap()
        ),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let page = b.get(app.url("/console/e/acme/o/eng")).send().await.unwrap().text().await.unwrap();
    assert!(!page.contains("ada@acme.example"), "not mapped yet: not in eng");

    app.api(reqwest::Method::PUT, "/api/v1/enterprises/acme/organizations/eng/group-mappings", &app.operator_key)
        .json(&serde_json::json!({"idp_groups": [group["id"]]}))
        .send()
        .await
        .unwrap();
    let page = b.get(app.url("/console/e/acme/o/eng")).send().await.unwrap().text().await.unwrap();
    let people = &page[page.find("id=\"people\"").unwrap()..page.find("</section>").unwrap()];
    assert!(people.contains("<td>ada@acme.example</td>"), "{people}");
    assert!(people.contains("<code>Platform</code> <span class=\"muted\">(identity provider)</span>"), "{people}");

    // Groups come fifty at a time ("map all" can make thousands).
    let ctx = directory::Ctx::new(&system, None);
    for i in 0..55 {
        let new = directory::group::NewGroup { name: format!("Team {i:02}"), description: None };
        app.directory.create_group(&ctx, "acme", "eng", new).unwrap();
    }
    let page = b.get(app.url("/console/e/acme/o/eng")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Team 47") && !page.contains("Team 48"), "Members, Platform and 48 teams");
    let next = page.split("?groups_after=").nth(1).and_then(|rest| rest.split('"').next()).expect("a link to more");
    let more = b
        .get(app.url(&format!("/console/e/acme/o/eng?groups_after={next}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(more.contains("Team 48") && more.contains("Team 54") && !more.contains("More groups"), "{more}");
}

/// The provisioning assistant: the endpoint to copy, a token shown once and then listed by its
/// prefix, the switch to SCIM mode, the request log, and revocation.
async fn provisioning_assistant_generates_tokens_and_enables_scim(app: TestApp) {
    let b = first_operator(&app).await;
    app.create_enterprise("acme").await;
    let page = b.get(app.url("/console/e/acme/sso")).send().await.unwrap().text().await.unwrap();
    let scim_url = format!("{}/api/scim/v2/acme", app.base);
    assert!(page.contains(&format!("value=\"{scim_url}\"")), "the endpoint URL to copy");
    assert!(page.contains("data-copy-target=\"scim-url\""));
    assert!(page.contains("<code>userName</code>"));
    assert!(page.contains("aadOptscim062020"), "Entra ID's URL flag is explained");
    assert!(page.contains("just-in-time</span>"));
    assert!(page.contains("Enable provisioning</button>") && page.contains(" disabled "), "no token yet");

    let csrf = csrf_of(&page);
    let res = b
        .post(app.url("/console/e/acme/provisioning/tokens"))
        .form(&[("csrf_token", csrf.as_str()), ("description", "Okta production")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let shown = res.text().await.unwrap();
    let start = shown.find("value=\"pscim_").expect("the token, once") + 7;
    let token = shown[start..].split('"').next().unwrap().to_owned();
    assert!(shown.contains("data-copy-target=\"scim-token\""));
    let prefix = token.split('_').nth(1).unwrap();

    // The token works at once, and the listing shows its prefix, never the token.
    let res = app.client.get(format!("{scim_url}/Users")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let page = b.get(app.url("/console/e/acme/sso")).send().await.unwrap().text().await.unwrap();
    assert!(!page.contains(&token));
    assert!(page.contains(&format!("pscim_{prefix}_…")) && page.contains("Okta production") && page.contains("olive"));

    // A group the IdP pushes is listed, read-only, with its member count.
    let res = app
        .client
        .post(format!("{scim_url}/Groups"))
        .bearer_auth(&token)
        .header("content-type", "application/scim+json")
        .body(r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Night shift"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let groups = b.get(app.url("/console/e/acme/idp-groups")).send().await.unwrap().text().await.unwrap();
    assert!(groups.contains("<td>Night shift</td><td><span class=\"badge\">scim</span></td><td>0</td>"), "{groups}");

    // Enabling provisioning asks first, then switches the mode, once single sign-on works.
    assert!(page.contains("data-confirm=\"Enable SCIM provisioning"));
    let res = b
        .post(app.url("/console/e/acme/provisioning/mode"))
        .form(&[("csrf_token", csrf_of(&page).as_str()), ("mode", "scim")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert!(res.text().await.unwrap().contains("no enabled, tested SSO connection"));
    let c = app.create_saml_connection("acme").await;
    let id = c["id"].as_str().unwrap();
    app.directory.record_test_result(&id.into(), true, None, &serde_json::json!({}), None).unwrap();
    let res = app
        .api(reqwest::Method::POST, &format!("/api/v1/enterprises/acme/connections/{id}/enable"), &app.operator_key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = b
        .post(app.url("/console/e/acme/provisioning/mode"))
        .form(&[("csrf_token", csrf_of(&page).as_str()), ("mode", "scim")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let page = b.get(app.url("/console/e/acme/sso")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("SCIM enabled"));
    // The action's result is said once, by the server (issue 16).
    assert!(page.contains(r#"<div class="alert success" role="status">SCIM provisioning is on"#), "{page}");
    let again = b.get(app.url("/console/e/acme/sso")).send().await.unwrap().text().await.unwrap();
    assert!(!again.contains("SCIM provisioning is on"), "shown once");
    let res = b
        .post(app.url("/console/e/acme/provisioning/mode"))
        .form(&[("csrf_token", csrf_of(&page).as_str()), ("mode", "sometimes")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);

    // The request log shows the IdP's request.
    let log = b.get(app.url("/console/e/acme/provisioning/requests")).send().await.unwrap().text().await.unwrap();
    assert!(log.contains("GET /api/scim/v2/acme/Users"), "{log}");

    // Revocation: the IdP is refused from its next request.
    let id = page.split("/provisioning/tokens/").nth(1).unwrap().split('/').next().unwrap().to_owned();
    let res = b
        .post(app.url(&format!("/console/e/acme/provisioning/tokens/{id}/revoke")))
        .form(&[("csrf_token", csrf_of(&page).as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let res = app.client.get(format!("{scim_url}/Users")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

/// Org groups' permissions are edited on the organization page.
async fn group_permissions_are_edited_on_the_organization_page(app: TestApp) {
    let b = first_operator(&app).await;
    app.create_enterprise("acme").await;
    app.create_organization("acme", "eng").await;
    let page = b.get(app.url("/console/e/acme/o/eng")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Members of Members may"), "{page}");
    assert!(page.contains(r#"value="browse" checked"#), "every organization's Members may browse");
    let res = b
        .post(app.url("/console/e/acme/o/eng/permissions"))
        .form(&[
            ("csrf_token", csrf_of(&page).as_str()),
            ("group", "Members"),
            ("permission", "browse"),
            ("permission", "create_projects"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let perms: serde_json::Value = app
        .api(
            reqwest::Method::GET,
            "/api/v1/enterprises/acme/organizations/eng/groups/Members/permissions",
            &app.operator_key,
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(perms["permissions"], serde_json::json!(["create_projects", "browse"]));
    let res = b
        .post(app.url("/console/e/acme/o/eng/permissions"))
        .form(&[("csrf_token", csrf_of(&page).as_str()), ("group", "Members"), ("permission", "fly")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

/// An org admin maps IdP groups and sets permissions for their own organization only, and
/// cannot start "map all" for the enterprise.
async fn org_admins_map_groups_of_their_organization_only(app: TestApp) {
    app.create_enterprise("acme").await;
    app.create_organization("acme", "eng").await;
    app.create_organization("acme", "ops").await;
    let token = app
        .directory
        .create_scim_token(&directory::Ctx::new(&directory::Actor::System, None), "acme", "")
        .unwrap()
        .token;
    let res = app
        .client
        .post(app.url("/api/scim/v2/acme/Groups"))
        .bearer_auth(&token)
        .header("content-type", "application/scim+json")
        .body(r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Platform"}"#)
        .send()
        .await
        .unwrap();
    let group: serde_json::Value = res.json().await.unwrap();
    let gid = group["id"].as_str().unwrap().to_owned();
    let appointed: serde_json::Value = app
        .api(reqwest::Method::POST, "/api/v1/enterprises/acme/organizations/eng/admins", &app.operator_key)
        .json(&serde_json::json!({"login": "olga"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let link = appointed["setup_url"].as_str().unwrap().to_owned();
    let olga = browser();
    let setup = olga.get(&link).send().await.unwrap().text().await.unwrap();
    olga.post(&link)
        .form(&[("csrf_token", csrf_of(&setup).as_str()), ("password", "olga's long password")])
        .send()
        .await
        .unwrap();

    let page = olga.get(app.url("/console/e/acme/group-mappings")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Platform"), "{page}");
    assert!(!page.contains("/map-all"), "map all is the enterprise admins'");
    assert!(!page.contains("ops team"), "only her organizations are listed");
    let save = |org: &'static str| {
        let csrf = csrf_of(&page);
        let gid = gid.clone();
        let olga = olga.clone();
        let url = app.url("/console/e/acme/group-mappings");
        async move {
            olga.post(url)
                .form(&[("csrf_token", csrf.as_str()), ("org", org), ("shown", gid.as_str()), ("mapped", gid.as_str())])
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(save("eng").await, StatusCode::SEE_OTHER);
    // Mapped to ops by the enterprise's admins: Olga does not see where else the group feeds.
    let ops =
        app.directory.get_organization(&directory::Ctx::new(&directory::Actor::System, None), "acme", "ops").unwrap();
    assert!(!ops.id.is_empty());
    app.api(reqwest::Method::PUT, "/api/v1/enterprises/acme/organizations/ops/group-mappings", &app.operator_key)
        .json(&serde_json::json!({"idp_groups": [gid]}))
        .send()
        .await
        .unwrap();
    let again = olga.get(app.url("/console/e/acme/group-mappings")).send().await.unwrap().text().await.unwrap();
    assert!(!again.contains("other organization"), "{again}");
    assert!(matches!(save("ops").await, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN));
    let res = olga
        .post(app.url("/console/e/acme/group-mappings/map-all"))
        .form(&[("csrf_token", csrf_of(&page).as_str())])
        .send()
        .await
        .unwrap();
    assert!(matches!(res.status(), StatusCode::NOT_FOUND | StatusCode::FORBIDDEN), "{}", res.status());
    let listed: serde_json::Value = app
        .api(reqwest::Method::GET, "/api/v1/enterprises/acme/idp-groups", &app.operator_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"][0]["organizations"], serde_json::json!(["eng", "ops"]));

    // She sets the permissions of her organization's groups, and of no other's.
    let set_perms = |org: &'static str| {
        let csrf = csrf_of(&page);
        let olga = olga.clone();
        let url = app.url(&format!("/console/e/acme/o/{org}/permissions"));
        async move {
            olga.post(url)
                .form(&[
                    ("csrf_token", csrf.as_str()),
                    ("group", "Platform"),
                    ("permission", "browse"),
                    ("permission", "administer"),
                ])
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(set_perms("eng").await, StatusCode::SEE_OTHER);
    let perms = |org: &'static str| {
        app.api(
            reqwest::Method::GET,
            &format!("/api/v1/enterprises/acme/organizations/{org}/groups/Platform/permissions"),
            &app.operator_key,
        )
        .send()
    };
    let eng: serde_json::Value = perms("eng").await.unwrap().json().await.unwrap();
    assert_eq!(eng["permissions"], serde_json::json!(["administer", "browse"]), "{eng}");
    assert!(matches!(set_perms("ops").await, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN));
    let ops: serde_json::Value = perms("ops").await.unwrap().json().await.unwrap();
    assert_eq!(ops["permissions"], serde_json::json!([]), "{ops}");
}

/// The organizations panel of the group mapping page pages past its first 200 organizations,
/// and any organization can be selected by its key.
async fn the_mapping_page_reaches_every_organization(app: TestApp) {
    let b = first_operator(&app).await;
    app.create_enterprise("acme").await;
    let system = directory::Actor::System;
    let ctx = directory::Ctx::new(&system, None);
    for n in 0..201 {
        let new = directory::organization::NewOrganization { key: format!("org-{n:03}"), name: format!("Org {n:03}") };
        app.directory.create_organization(&ctx, "acme", new).unwrap();
    }
    let page = b.get(app.url("/console/e/acme/group-mappings")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Org 199") && !page.contains("Org 200"), "the first 200");
    assert!(page.contains("More organizations"), "{page}");
    let start = page.find("?orgs_after=").expect("a link to the next page");
    let link = page[start..].split('"').next().unwrap().replace("&amp;", "&");
    let more =
        b.get(app.url(&format!("/console/e/acme/group-mappings{link}"))).send().await.unwrap().text().await.unwrap();
    assert!(more.contains("Org 200") && !more.contains("Org 199"), "{more}");
    let last = b.get(app.url("/console/e/acme/group-mappings?org=org-200")).send().await.unwrap().text().await.unwrap();
    assert!(last.contains("IdP groups for Org 200"), "{last}");
    // Text in a URL is never shown as Portico's own status message (issue 16).
    let forged = b
        .get(app.url("/console/e/acme/group-mappings?saved=Forged+by+a+link"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!forged.contains("Forged by a link"), "{forged}");
    let res = b.get(app.url("/console/e/acme/group-mappings?org=nope")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

/// A mapping job's progress page: refreshing itself with a progress bar while the job runs,
/// then "Mapping complete".
async fn the_progress_page_follows_a_job_to_its_end(app: TestApp) {
    let b = first_operator(&app).await;
    app.create_enterprise("acme").await;
    for org in ["eng", "ops"] {
        app.create_organization("acme", org).await;
    }
    let system = directory::Actor::System;
    let ctx = directory::Ctx::new(&system, None);
    let token = app.directory.create_scim_token(&ctx, "acme", "").unwrap().token;
    for name in ["Alpha", "Bravo", "Charlie"] {
        let res = app
            .client
            .post(app.url("/api/scim/v2/acme/Groups"))
            .bearer_auth(&token)
            .header("content-type", "application/scim+json")
            .body(format!(r#"{{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"{name}"}}"#))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
    }
    // The test plays the instance that runs the job, one chunk at a time: it claims the job as
    // soon as it is queued (again, in the rare case that Portico's own runner polled in between).
    let mut held = None;
    for _ in 0..5 {
        let queued = app.directory.start_map_all_in_chunks(&ctx, "acme", Some(1)).unwrap();
        match app.directory.claim_job().unwrap() {
            Some(job) if job.id == queued.id => {
                held = Some(job);
                break;
            }
            _ => tokio::time::sleep(std::time::Duration::from_millis(200)).await,
        }
    }
    let mut job = held.expect("a job this test holds");
    let url = app.url(&format!("/console/e/acme/jobs/{}", job.id));
    let page = b.get(&url).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Mapping… step 0 of 3"), "{page}");
    assert!(page.contains(r#"<progress max="3" value="0""#), "{page}");
    assert!(page.contains(r#"http-equiv="refresh""#), "it refreshes itself while the job runs");
    assert!(!app.directory.run_job_chunk(&job).unwrap());
    job = app.directory.get_job(&ctx, &job.id).unwrap();
    let page = b.get(&url).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Mapping… step 1 of 3") && page.contains(r#"value="1""#), "{page}");
    while !app.directory.run_job_chunk(&job).unwrap() {
        job = app.directory.get_job(&ctx, &job.id).unwrap();
    }
    let page = b.get(&url).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Mapping complete"), "{page}");
    assert!(!page.contains(r#"http-equiv="refresh""#) && !page.contains("<progress"), "{page}");
    // Another enterprise's admin does not see it.
    app.create_enterprise("globex").await;
    let res = b.get(app.url(&format!("/console/e/globex/jobs/{}", job.id))).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

/// Admins find people by part of their login, name or e-mail, by state and by origin, and
/// deactivate or reactivate them from the list, with a message saying what happened.
async fn admins_find_deactivate_and_reactivate_users(app: TestApp) {
    let b = first_operator(&app).await;
    app.create_enterprise("acme").await;
    for (login, name) in [("ada", "Ada Lovelace"), ("bob", "Bob Stone"), ("carol", "Carol 100%")] {
        let res = app
            .api(reqwest::Method::POST, "/api/v1/enterprises/acme/users", &app.operator_key)
            .json(&serde_json::json!({"login": login, "name": name, "email": format!("{login}@acme.test")}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
    }
    let page = |query: &'static str| {
        let b = b.clone();
        let url = app.url(&format!("/console/e/acme/users{query}"));
        async move { b.get(url).send().await.unwrap().text().await.unwrap() }
    };
    let found = page("?q=LOVE").await;
    assert!(found.contains("<td>ada</td>") && !found.contains("<td>bob</td>"), "{found}");
    let found = page("?q=bob%40acme").await;
    assert!(found.contains("<td>bob</td>") && !found.contains("<td>ada</td>"), "by e-mail: {found}");
    let found = page("?q=%25").await;
    assert!(found.contains("<td>carol</td>") && !found.contains("<td>ada</td>"), "% is a character: {found}");
    assert!(page("?state=deactivated").await.contains("Nobody matches these filters"));
    assert!(page("?origin=scim").await.contains("Nobody matches these filters"));

    let list = page("").await;
    assert!(list.contains("data-confirm=\"Deactivate "), "deactivation asks first");
    let csrf = csrf_of(&list);
    let res = b
        .post(app.url("/console/e/acme/users/active"))
        .form(&[("csrf_token", csrf.as_str()), ("login", "bob"), ("active", "false")])
        .send()
        .await
        .unwrap();
    let shown = res.text().await.unwrap();
    assert!(shown.contains("bob is deactivated"), "{shown}");
    let found = page("?state=deactivated").await;
    assert!(
        found.contains("<td>bob</td>") && !found.contains("<td>ada</td>") && found.contains("Reactivate"),
        "{found}"
    );
    let res = b
        .post(app.url("/console/e/acme/users/active"))
        .form(&[("csrf_token", csrf.as_str()), ("login", "bob"), ("active", "true")])
        .send()
        .await
        .unwrap();
    assert!(res.text().await.unwrap().contains("bob is active again"));
    assert!(page("?state=deactivated").await.contains("Nobody matches these filters"));
    let events = crate::webhooks::all_events_of(&app).await;
    let kinds: Vec<&str> =
        events.iter().filter_map(|e| e["type"].as_str()).filter(|k| k.starts_with("user.")).collect();
    assert_eq!(kinds, ["user.created", "user.created", "user.created", "user.deactivated", "user.reactivated"]);
}

/// Operators manage an application's webhook endpoints in the console: the signing secret shows
/// once, refused input stays in the form, the state and health show, a disable says so, the
/// delivery log lists what went out with a resend button; an enterprise's admins see the events
/// of their enterprise.
async fn operator_manages_webhooks_and_sees_events(app: TestApp) {
    let b = first_operator(&app).await;
    let client_id = crate::webhooks::application(&app).await;
    let page_path = format!("/console/applications/{client_id}/webhooks");
    let page = b.get(app.url(&page_path)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("No endpoints yet") && page.contains("registered no back-channel logout URI"), "{page}");
    let new_path = format!("{page_path}/new");
    let res = post_form(&b, &app, &new_path, &[("url", "https://hooks.example/in"), ("events", "users.*")]).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let form = res.text().await.unwrap();
    assert!(form.contains("users.*") && form.contains("value=\"https://hooks.example/in\""), "{form}");
    let res = post_form(
        &b,
        &app,
        &new_path,
        &[("url", "https://hooks.example/in"), ("events", "user.* organization.created"), ("description", "CRM")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let shown = res.text().await.unwrap();
    assert!(
        shown.contains("only this once") && shown.contains("whsec_") && shown.contains("data-copy-target=\"secret\"")
    );
    let endpoint = app.directory.webhooks(&directory::Ctx::new(&directory::Actor::System, None), &client_id).unwrap();
    let id = endpoint[0].id.clone();
    assert_eq!(endpoint[0].events, vec!["user.*", "organization.created"]);

    let page = b.get(app.url(&page_path)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("https://hooks.example/in") && page.contains(">enabled<") && page.contains("healthy"));
    assert!(page.contains("data-confirm=\"Remove "), "removal asks first: {page}");
    assert!(!page.contains("whsec_"), "the secret shows once");
    let csrf = csrf_of(&page);
    let res = b
        .post(app.url(&format!("{page_path}/{id}/enabled")))
        .form(&[("csrf_token", csrf.as_str()), ("enabled", "false")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let page = b.get(app.url(&page_path)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("is disabled: nothing is sent") && page.contains(">disabled<"), "{page}");
    let res = b
        .post(app.url(&format!("{page_path}/{id}/enabled")))
        .form(&[("csrf_token", csrf.as_str()), ("enabled", "true")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);

    // An organization created now is dispatched to the endpoint (which cannot be reached).
    app.create_enterprise("acme").await;
    app.create_organization("acme", "web").await;
    let started = std::time::Instant::now();
    let log = loop {
        let log = b.get(app.url(&format!("{page_path}/{id}"))).send().await.unwrap().text().await.unwrap();
        if log.contains("organization.created") {
            break log;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(20), "nothing dispatched: {log}");
        actix_web::rt::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert!(log.contains("Delivery log") && log.contains("<code>organization.created</code>"), "{log}");

    let events = b.get(app.url("/console/e/acme/events")).send().await.unwrap().text().await.unwrap();
    assert!(events.contains("organization.created") && events.contains("web"), "{events}");
    let res = b
        .post(app.url(&format!("{page_path}/{id}/delete")))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let page = b.get(app.url(&page_path)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("was removed, with its delivery log") && page.contains("No endpoints yet"), "{page}");
}

/// Operators register the host product's applications in the console: the secret shows once,
/// with copy buttons; a rotation shows the new one; a deletion says so.
async fn operator_registers_an_application(app: TestApp) {
    let b = first_operator(&app).await;
    let list = b.get(app.url("/console/applications")).send().await.unwrap().text().await.unwrap();
    assert!(list.contains("No applications yet") && list.contains(&app.base), "{list}");
    let res = post_form(
        &b,
        &app,
        "/console/applications/new",
        &[
            ("name", "Acme Cloud"),
            ("redirect_uris", "http://example.com/cb"),
            ("kind", "confidential"),
            ("enterprises", "*"),
            ("alg", "RS256"),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST, "plain HTTP to another host is refused");
    let page = res.text().await.unwrap();
    assert!(
        page.contains("https://") && page.contains("value=\"Acme Cloud\""),
        "the form keeps what was typed: {page}"
    );
    let res = post_form(
        &b,
        &app,
        "/console/applications/new",
        &[
            ("name", "Acme Cloud"),
            ("redirect_uris", "https://app.example/cb https://app.example/cb2"),
            ("post_logout_redirect_uris", ""),
            ("backchannel_logout_uri", ""),
            ("kind", "confidential"),
            ("enterprises", "*"),
            ("alg", "ES256"),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let shown = res.text().await.unwrap();
    assert!(shown.contains("only this once") && shown.contains("data-copy-target=\"client-secret\""), "{shown}");
    let client_id = shown.split("papp_").nth(1).unwrap()[..24].to_owned();
    let client_id = format!("papp_{client_id}");
    let apps = app.directory.host_application(&client_id).unwrap().unwrap();
    assert_eq!(apps.redirect_uris, vec!["https://app.example/cb", "https://app.example/cb2"]);
    assert_eq!(apps.id_token_alg.as_str(), "ES256");

    let list = b.get(app.url("/console/applications")).send().await.unwrap().text().await.unwrap();
    assert!(list.contains(&client_id) && list.contains("every enterprise") && list.contains("data-confirm"), "{list}");
    let csrf = csrf_of(&list);
    let res = b
        .post(app.url(&format!("/console/applications/{client_id}/rotate-secret")))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("New client secret"));
    let res = b
        .post(app.url(&format!("/console/applications/{client_id}/delete")))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["location"], "/console/applications");
    let list = b.get(app.url("/console/applications")).send().await.unwrap().text().await.unwrap();
    assert!(list.contains("Acme Cloud was deleted") && !list.contains(&client_id), "{list}");
    let again = b.get(app.url("/console/applications")).send().await.unwrap().text().await.unwrap();
    assert!(!again.contains("was deleted"), "a message is shown once");
}
