//! A real browser (headless Debian Chromium through chromedriver) signs in, creates an
//! enterprise and an organization through the console, and sees them listed.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use crate::helpers::TestApp;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// chromedriver on a free loopback port, stopped (by process id) when dropped.
struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    fn start() -> Driver {
        assert!(
            std::path::Path::new(CHROMEDRIVER).exists() && std::path::Path::new(CHROMIUM).exists(),
            "browser tests need Debian's chromium and chromium-driver: run ./dev test, which installs them"
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        Driver { child, port }
    }

    async fn connect(&self) -> Client {
        let profile = tempfile::tempdir().unwrap();
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--disable-quic", "--no-first-run", "--window-size=1280,900",
                    format!("--user-data-dir={}", profile.keep().display()),
                ]
            }
        });
        let caps = match caps {
            serde_json::Value::Object(m) => m,
            _ => unreachable!(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match ClientBuilder::native()
                .capabilities(caps.clone())
                .connect(&format!("http://127.0.0.1:{}", self.port))
                .await
            {
                Ok(c) => return c,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    actix_web::rt::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("cannot start a Chromium session: {e}"),
            }
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Saves a screenshot when `PORTICO_SCREENSHOTS` names a folder (`just screenshots`).
async fn shot(c: &Client, name: &str) {
    if let Ok(dir) = std::env::var("PORTICO_SCREENSHOTS") {
        let png = c.screenshot().await.unwrap();
        std::fs::write(format!("{dir}/{name}.png"), png).unwrap();
    }
}

/// Clicks something that loads a new page, and waits until the old page is gone.
async fn click_to_next_page(c: &Client, target: Locator<'_>) {
    let old = c.find(Locator::Css("html")).await.unwrap();
    c.find(target).await.unwrap().click().await.unwrap();
    for _ in 0..100 {
        if old.tag_name().await.is_err() {
            c.wait().for_element(Locator::Css("body")).await.unwrap();
            return;
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the page did not change");
}

async fn fill(c: &Client, id: &str, value: &str) {
    let field = c.find(Locator::Id(id)).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(value).await.unwrap();
}

async fn submit(c: &Client) {
    c.find(Locator::Css("main form button[type=submit]")).await.unwrap().click().await.unwrap();
}

/// Rita, appointed admin of enterprise `acme`, chooses her password through her set-up link in
/// a real browser and lands on the enterprise's page.
async fn enterprise_admin_signed_in(app: &TestApp) -> (Driver, Client) {
    let appointed: serde_json::Value = app
        .api(reqwest::Method::POST, "/api/v1/enterprises/acme/admins", &app.operator_key)
        .json(&json!({"login": "root", "name": "Rita Root"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let driver = Driver::start();
    let c = driver.connect().await;
    c.goto(appointed["setup_url"].as_str().unwrap()).await.unwrap();
    fill(&c, "f-password", "rita's long password").await;
    submit(&c).await;
    c.wait().for_url(&url::Url::parse(&app.url("/console/e/acme")).unwrap()).await.unwrap();
    (driver, c)
}

async fn operator_signs_in_and_creates_enterprise_and_organization(app: TestApp) {
    if !crate::helpers::available(crate::helpers::Tool::Chromium) {
        return;
    }
    let driver = Driver::start();
    let c = driver.connect().await;
    let token = app.directory.issue_first_operator_link().unwrap().unwrap();

    c.goto(&app.url(&format!("/setup/{token}"))).await.unwrap();
    shot(&c, "01-first-operator").await;
    fill(&c, "f-login", "olive").await;
    fill(&c, "f-name", "Olive Operator").await;
    fill(&c, "f-password", "a long operator password").await;
    submit(&c).await;
    c.wait().for_url(&url::Url::parse(&app.url("/console/enterprises")).unwrap()).await.unwrap();

    // Sign out and in again through the sign-in page.
    c.find(Locator::Css("header form button")).await.unwrap().click().await.unwrap();
    c.wait().for_element(Locator::Id("f-login")).await.unwrap();
    shot(&c, "02-sign-in").await;
    fill(&c, "f-login", "olive").await;
    fill(&c, "f-password", "a long operator password").await;
    submit(&c).await;
    c.wait().for_url(&url::Url::parse(&app.url("/console/enterprises")).unwrap()).await.unwrap();
    c.find(Locator::LinkText("New enterprise")).await.unwrap().click().await.unwrap();

    c.wait().for_element(Locator::Id("f-name")).await.unwrap();
    // A mistake first: the form says what is wrong, field by field.
    fill(&c, "f-key", "Acme Corp").await;
    submit(&c).await;
    c.wait().for_element(Locator::Css("[aria-invalid=true]")).await.unwrap();
    shot(&c, "03-enterprise-form-errors").await;
    fill(&c, "f-name", "Acme Corporation").await;
    fill(&c, "f-key", "acme").await;
    submit(&c).await;
    c.wait().for_url(&url::Url::parse(&app.url("/console/e/acme")).unwrap()).await.unwrap();
    c.find(Locator::LinkText("New organization")).await.unwrap().click().await.unwrap();

    c.wait().for_element(Locator::Id("f-name")).await.unwrap();
    fill(&c, "f-name", "Engineering").await;
    fill(&c, "f-key", "eng").await;
    submit(&c).await;
    c.wait().for_url(&url::Url::parse(&app.url("/console/e/acme/o/eng")).unwrap()).await.unwrap();
    let heading = c.wait().for_element(Locator::Css("h1")).await.unwrap().text().await.unwrap();
    assert_eq!(heading, "Engineering");
    let body = c.find(Locator::Css("main")).await.unwrap().text().await.unwrap();
    assert!(body.contains("Members"), "{body}");
    shot(&c, "04-organization").await;

    c.goto(&app.url("/console/e/acme")).await.unwrap();
    let orgs = c.find(Locator::Css("main")).await.unwrap().text().await.unwrap();
    assert!(orgs.contains("Engineering") && orgs.contains("eng"), "{orgs}");
    c.goto(&app.url("/console/enterprises")).await.unwrap();
    let list = c.find(Locator::Css("table")).await.unwrap().text().await.unwrap();
    assert!(list.contains("Acme Corporation") && list.contains("acme"), "{list}");

    shot(&c, "05-enterprises").await;

    // The host product's applications: registered from the Applications page, the secret shown
    // once with copy buttons.
    c.find(Locator::LinkText("Applications")).await.unwrap().click().await.unwrap();
    c.wait().for_element(Locator::LinkText("New application")).await.unwrap().click().await.unwrap();
    c.wait().for_element(Locator::Id("f-name")).await.unwrap();
    fill(&c, "f-name", "Acme Cloud").await;
    fill(&c, "f-redirect_uris", "https://cloud.acme.example/auth/callback").await;
    submit(&c).await;
    c.wait().for_element(Locator::Id("client-secret")).await.unwrap();
    let shown = c.find(Locator::Css("main")).await.unwrap().text().await.unwrap();
    assert!(shown.contains("only this once"), "{shown}");
    shot(&c, "06-application-registered").await;
    c.goto(&app.url("/console/applications")).await.unwrap();
    let list = c.find(Locator::Css("table")).await.unwrap().text().await.unwrap();
    assert!(list.contains("Acme Cloud") && list.contains("confidential"), "{list}");
    shot(&c, "07-applications").await;
    // Its webhooks: an endpoint added, its secret shown once, then its state and health.
    c.find(Locator::LinkText("Webhooks")).await.unwrap().click().await.unwrap();
    c.wait().for_element(Locator::LinkText("Add endpoint")).await.unwrap().click().await.unwrap();
    c.wait().for_element(Locator::Id("f-url")).await.unwrap();
    fill(&c, "f-url", "https://cloud.acme.example/portico/events").await;
    fill(&c, "f-events", "user.* group.members_added").await;
    submit(&c).await;
    c.wait().for_element(Locator::Id("secret")).await.unwrap();
    let shown = c.find(Locator::Css("main")).await.unwrap().text().await.unwrap();
    assert!(shown.contains("only this once"), "{shown}");
    shot(&c, "07a-webhook-secret").await;
    c.find(Locator::LinkText("Done")).await.unwrap().click().await.unwrap();
    c.wait().for_element(Locator::LinkText("Delivery log")).await.unwrap();
    let hooks = c.find(Locator::Css("main")).await.unwrap().text().await.unwrap();
    assert!(hooks.contains("cloud.acme.example") && hooks.contains("healthy"), "{hooks}");
    shot(&c, "07b-webhooks").await;
    c.set_window_size(390, 844).await.unwrap();
    shot(&c, "07c-webhooks-phone").await;
    c.goto(&app.url("/console/applications")).await.unwrap();
    shot(&c, "08-applications-phone").await;
    // What a person sees when the application does not name their enterprise.
    let client_id =
        app.directory.list_host_applications(&directory::Ctx::new(&directory::Actor::System, None)).unwrap()[0]
            .client_id
            .clone();
    c.goto(&app.url(&format!(
        "/oauth2/authorize?response_type=code&scope=openid&client_id={client_id}&redirect_uri=https%3A%2F%2Fcloud.acme.example%2Fauth%2Fcallback&state=s"
    )))
    .await
    .unwrap();
    c.wait().for_element(Locator::Id("f-enterprise_key")).await.unwrap();
    shot(&c, "09-choose-enterprise-phone").await;
    c.close().await.unwrap();
}

async fn admin_sets_up_saml_in_the_assistant_and_a_user_signs_in(app: TestApp) {
    if !crate::helpers::available(crate::helpers::Tool::Chromium) {
        return;
    }
    let idp = crate::test_idp::IdpServer::start("ada", &["Developers", "Elsewhere"]).await;
    app.create_enterprise("acme").await;
    app.create_organization("acme", "eng").await;
    let res = app
        .api(reqwest::Method::POST, "/api/v1/enterprises/acme/organizations/eng/groups", &app.operator_key)
        .json(&json!({"name": "Developers"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let (_driver, c) = enterprise_admin_signed_in(&app).await;
    c.find(Locator::LinkText("SSO & Provisioning")).await.unwrap().click().await.unwrap();

    // Step 1: choose Okta (the default) and start.
    c.wait().for_element(Locator::Css("form[action$='/sso/saml'] button")).await.unwrap();
    click_to_next_page(&c, Locator::Css("form[action$='/sso/saml'] button")).await;
    let status = c.wait().for_element(Locator::Id("connection-status")).await.unwrap().text().await.unwrap();
    assert_eq!(status, "draft");
    let acs = c.find(Locator::Id("sp-acs-url")).await.unwrap().prop("value").await.unwrap().unwrap();
    assert!(acs.starts_with(&app.base) && acs.ends_with("/acs"), "{acs}");
    shot(&c, "10-saml-assistant").await;

    // Step 2, automatic: Portico reads the IdP's metadata.
    fill(&c, "f-metadata_url", &format!("{}/metadata", idp.base)).await;
    click_to_next_page(&c, Locator::Css("form[action$='/idp'] button")).await;
    c.find(Locator::XPath("//h2[contains(., '2. Configure')]/span[contains(., 'done')]")).await.unwrap();

    // Step 3 keeps Okta's defaults; step 4: test.
    click_to_next_page(&c, Locator::Css("form[action$='/mapping'] button")).await;
    c.find(Locator::Css("form[action$='/test'] button")).await.unwrap().click().await.unwrap();
    if c.wait().for_url(&url::Url::parse(&acs).unwrap()).await.is_err() {
        shot(&c, "99-failure").await;
        panic!("did not reach the ACS; now at {}", c.current_url().await.unwrap());
    }
    let heading = c.wait().for_element(Locator::Css("h1")).await.unwrap().text().await.unwrap();
    assert!(heading.contains("it works"), "{heading}");
    let body = c.find(Locator::Css("main")).await.unwrap().text().await.unwrap();
    assert!(body.contains("Ada Lovelace") && body.contains("Developers"), "{body}");
    shot(&c, "11-saml-test-result").await;

    // Enable (the page asks first).
    click_to_next_page(&c, Locator::LinkText("Back to the connection")).await;
    c.find(Locator::Css("form[action$='/enable'] button")).await.unwrap().click().await.unwrap();
    c.accept_alert().await.unwrap();
    c.wait()
        .for_element(Locator::XPath("//span[@id='connection-status' and normalize-space(.)='enabled']"))
        .await
        .unwrap();

    // The Users page says whom single sign-on reaches: Rita, appointed here, is not linked to
    // an identity at the IdP, and a sign-in asserting her login would not open her account. She
    // links herself with the identity her IdP uses for her.
    c.goto(&app.url("/console/e/acme/users")).await.unwrap();
    let row = c.wait().for_element(Locator::XPath("//tr[td[normalize-space(.)='root']]")).await.unwrap();
    assert!(row.text().await.unwrap().contains("not linked"));
    shot(&c, "13-users-not-linked").await;
    row.find(Locator::Css("summary")).await.unwrap().click().await.unwrap();
    let field = row.find(Locator::Css("input[name='subject']")).await.unwrap();
    field.send_keys("rita@idp.example").await.unwrap();
    let submit_button = row.find(Locator::Css("form[action$='/users/link'] button")).await.unwrap();
    submit_button.click().await.unwrap();
    let notice = c.wait().for_element(Locator::Css("div.alert.success")).await.unwrap().text().await.unwrap();
    assert!(notice.contains("root is linked to the IdP identity rita@idp.example"), "{notice}");
    shot(&c, "14-users-linked").await;
    c.set_window_size(390, 844).await.unwrap();
    shot(&c, "14-users-linked-phone").await;
    c.set_window_size(1280, 900).await.unwrap();

    // Sign out; Ada signs in through the sign-in page's single sign-on form.
    click_to_next_page(&c, Locator::Css("header form button")).await;
    c.wait().for_element(Locator::Id("f-enterprise_key")).await.unwrap();
    fill(&c, "f-enterprise_key", "acme").await;
    c.find(Locator::Css("form[action='/login/sso'] button")).await.unwrap().click().await.unwrap();
    c.wait().for_url(&url::Url::parse(&app.url("/console/me")).unwrap()).await.unwrap();
    let me = c.find(Locator::Css("main")).await.unwrap().text().await.unwrap();
    assert!(me.contains("eng") && me.contains("Developers"), "{me}");
    shot(&c, "12-signed-in-through-saml").await;
    c.close().await.unwrap();
    idp.stop().await;
}

async fn admin_sets_up_oidc_in_the_assistant_and_a_user_signs_in(app: TestApp) {
    if !crate::helpers::available(crate::helpers::Tool::OpenIdProvider) {
        return;
    }
    if !crate::helpers::available(crate::helpers::Tool::Chromium) {
        return;
    }
    app.create_enterprise("acme").await;
    app.create_organization("acme", "eng").await;
    app.api(reqwest::Method::POST, "/api/v1/enterprises/acme/organizations/eng/groups", &app.operator_key)
        .json(&json!({"name": "Developers"}))
        .send()
        .await
        .unwrap();
    let (_driver, c) = enterprise_admin_signed_in(&app).await;
    click_to_next_page(&c, Locator::LinkText("SSO & Provisioning")).await;

    // Step 1: another OpenID Connect provider; the callback URL to register.
    c.find(Locator::Css("form[action$='/sso/oidc'] input[value='custom']")).await.unwrap().click().await.unwrap();
    click_to_next_page(&c, Locator::Css("form[action$='/sso/oidc'] button")).await;
    shot(&c, "19-oidc-created").await;
    let redirect_uri = c.find(Locator::Id("redirect-uri")).await.unwrap().prop("value").await.unwrap().unwrap();
    assert!(redirect_uri.ends_with("/callback"), "{redirect_uri}");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let _op = crate::oidc::start_op(port, &redirect_uri);

    // Step 2: Portico contacts the provider.
    fill(&c, "f-issuer", &format!("http://127.0.0.1:{port}")).await;
    fill(&c, "f-client_id", "portico").await;
    fill(&c, "f-client_secret", crate::oidc::SECRET).await;
    fill(&c, "f-scopes", "openid email profile groups").await;
    click_to_next_page(&c, Locator::Css("form[action$='/oidc'] button")).await;
    c.find(Locator::XPath("//h2[contains(., '2. Configure')]/span[contains(., 'done')]")).await.unwrap();
    shot(&c, "20-oidc-assistant").await;
    let source = c.source().await.unwrap();
    assert!(!source.contains(crate::oidc::SECRET), "the saved client secret is not shown again");

    // Steps 3 and 4.
    click_to_next_page(&c, Locator::Css("form[action$='/mapping'] button")).await;
    click_to_next_page(&c, Locator::Css("form[action$='/test'] button")).await;
    let heading = c.wait().for_element(Locator::Css("h1")).await.unwrap().text().await.unwrap();
    assert!(heading.contains("it works"), "{heading}");
    let body = c.find(Locator::Css("main")).await.unwrap().text().await.unwrap();
    assert!(body.contains("Ada Lovelace") && body.contains("Developers"), "{body}");
    assert!(!c.source().await.unwrap().contains(crate::oidc::SECRET), "nor on the test page");
    click_to_next_page(&c, Locator::LinkText("Back to the connection")).await;
    assert!(!c.source().await.unwrap().contains(crate::oidc::SECRET), "nor on the connection page");
    c.find(Locator::Css("form[action$='/enable'] button")).await.unwrap().click().await.unwrap();
    c.accept_alert().await.unwrap();
    c.wait()
        .for_element(Locator::XPath("//span[@id='connection-status' and normalize-space(.)='enabled']"))
        .await
        .unwrap();

    // Ada signs in through the sign-in page.
    click_to_next_page(&c, Locator::Css("header form button")).await;
    fill(&c, "f-enterprise_key", "acme").await;
    c.find(Locator::Css("form[action='/login/sso'] button")).await.unwrap().click().await.unwrap();
    c.wait().for_url(&url::Url::parse(&app.url("/console/me")).unwrap()).await.unwrap();
    let me = c.find(Locator::Css("main")).await.unwrap().text().await.unwrap();
    assert!(me.contains("Developers"), "{me}");
    c.close().await.unwrap();
}

async fn admin_maps_idp_groups_custom_and_all(app: TestApp) {
    if !crate::helpers::available(crate::helpers::Tool::Chromium) {
        return;
    }
    let idp = crate::scim::Idp::new(&app, "acme", "test").await;
    app.create_organization("acme", "eng").await;
    app.create_organization("acme", "ops").await;
    let ada = idp.create_user("ada@acme.example").await;
    let mut ids = Vec::new();
    for name in ["Design", "Platform", "Security"] {
        let (status, g) = idp
            .post(
                "/Groups",
                json!({"schemas": [scim::schemas::GROUP], "displayName": name, "members": [{"value": ada}]}),
            )
            .await;
        assert_eq!(status, 201);
        ids.push(g["id"].as_str().unwrap().to_owned());
    }
    let (_driver, c) = enterprise_admin_signed_in(&app).await;
    click_to_next_page(&c, Locator::LinkText("Group mapping")).await;
    let heading = c.find(Locator::Css("#groups-h")).await.unwrap().text().await.unwrap();
    assert!(heading.contains("eng"), "the first organization is selected: {heading}");

    // Custom mapping: tick Platform for eng, save (the page asks first).
    c.find(Locator::Id(&format!("g-{}", ids[1]))).await.unwrap().click().await.unwrap();
    shot(&c, "20-group-mapping").await;
    c.find(Locator::Css("form[method=post][action$='/group-mappings'] button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.accept_alert().await.unwrap();
    let done = c.wait().for_element(Locator::Css(".alert.success")).await.unwrap().text().await.unwrap();
    assert!(done.contains("Mapping complete: 1 added"), "{done}");
    let eng: serde_json::Value = app
        .api(reqwest::Method::GET, "/api/v1/enterprises/acme/organizations/eng/group-mappings", &app.operator_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(eng["idp_groups"], json!([ids[1]]));

    // Map all: confirmation, then a progress page until the mapping is complete.
    c.find(Locator::Css("form[action$='/map-all'] button")).await.unwrap().click().await.unwrap();
    c.accept_alert().await.unwrap();
    let mut finished = String::new();
    for _ in 0..100 {
        if let Ok(e) = c.find(Locator::Id("job-state")).await
            && let Ok(text) = e.text().await
            && text.contains("Mapping complete")
        {
            finished = text;
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(finished.contains("the IdP groups feed every organization"), "{finished}");
    shot(&c, "21-map-all-complete").await;
    let listed: serde_json::Value = app
        .api(reqwest::Method::GET, "/api/v1/enterprises/acme/idp-groups", &app.operator_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for g in listed["items"].as_array().unwrap() {
        assert_eq!(g["organizations"], json!(["eng", "ops"]), "{g}");
    }

    // The result as the organization shows it: ada is in ops through all three groups.
    c.goto(&app.url("/console/e/acme/o/ops")).await.unwrap();
    let people = c.find(Locator::Css("table caption + thead + tbody")).await.unwrap().text().await.unwrap();
    assert!(people.contains("ada@acme.example"), "{people}");
    for name in ["Design", "Platform", "Security"] {
        assert!(people.contains(&format!("{name} (identity provider)")), "{people}");
    }
    shot(&c, "22-organization-people").await;
    c.close().await.unwrap();
}

mod sqlite {
    #[actix_web::test]
    async fn admin_maps_idp_groups_custom_and_all() {
        let app = crate::helpers::TestApp::spawn(directory::Backend::Sqlite).await.unwrap();
        super::admin_maps_idp_groups_custom_and_all(app).await
    }

    #[actix_web::test]
    async fn admin_sets_up_oidc_in_the_assistant_and_a_user_signs_in() {
        let app = crate::helpers::TestApp::spawn(directory::Backend::Sqlite).await.unwrap();
        super::admin_sets_up_oidc_in_the_assistant_and_a_user_signs_in(app).await
    }

    #[actix_web::test]
    async fn admin_sets_up_saml_in_the_assistant_and_a_user_signs_in() {
        let app = crate::helpers::TestApp::spawn(directory::Backend::Sqlite).await.unwrap();
        super::admin_sets_up_saml_in_the_assistant_and_a_user_signs_in(app).await
    }

    #[actix_web::test]
    async fn operator_signs_in_and_creates_enterprise_and_organization() {
        let app = crate::helpers::TestApp::spawn(directory::Backend::Sqlite).await.unwrap();
        super::operator_signs_in_and_creates_enterprise_and_organization(app).await
    }
}
