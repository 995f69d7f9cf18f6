//! Several Portico instances on one PostgreSQL, as behind a load balancer: three `portico serve`
//! processes on their own loopback ports, one public URL, one secret key, one database. Each
//! step starts on one instance and carries on at another, as a load balancer without affinity
//! would send it.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use directory::testing::TestDatabase;
use directory::{Actor, Backend, Ctx, Directory, SystemClock};
use reqwest::{Client, Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};
use sso::testing::{ResponseSpec, TestIdp};

use crate::oidc::{SECRET, start_op, through_provider};
use crate::saml::request_id;

/// The address people use: the load balancer's. Never dialled; each request goes to one
/// instance with its path.
pub(crate) const PUBLIC: &str = "http://portico.test";

/// One `portico serve` process, killed (by process id) when dropped.
pub(crate) struct Instance {
    pub(crate) child: Child,
    pub(crate) base: String,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Instance {
    pub(crate) fn start(db: &TestDatabase, data: &std::path::Path, extra: &[(&str, &str)]) -> Instance {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(env!("CARGO_BIN_EXE_portico"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("PORTICO__DATABASE__URL", &db.url)
            .env("PORTICO__DATABASE__POOL_SIZE", "4")
            .env("PORTICO__DATA__DIR", data)
            .env("PORTICO__SERVER__BIND", format!("127.0.0.1:{port}"))
            .env("PORTICO__SERVER__PUBLIC_URL", PUBLIC)
            .env("PORTICO__SECURITY__SECRET_KEY", "one key for every instance of this installation")
            .env("PORTICO__SSO__ALLOW_PRIVATE_METADATA", "true")
            .env("PORTICO__LOG__LEVEL", "warn")
            .envs(extra.iter().copied())
            .arg("serve")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Instance { child, base: format!("http://127.0.0.1:{port}") }
    }

    /// `url` (on the public address, or a path) sent to this instance.
    pub(crate) fn at(&self, url: &str) -> String {
        format!("{}{}", self.base, url.strip_prefix(PUBLIC).unwrap_or(url))
    }
}

pub(crate) struct Cluster {
    pub(crate) instances: Vec<Instance>,
    pub(crate) client: Client,
    pub(crate) key: String,
    pub(crate) directory: Directory,
    _data: Vec<tempfile::TempDir>,
}

impl Cluster {
    /// Starts three instances at once on a fresh database (they race to migrate it) and waits
    /// until every one is ready.
    pub(crate) async fn start(db: &TestDatabase, extra: &[(&str, &str)]) -> Cluster {
        let data: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
        let instances: Vec<Instance> = data.iter().map(|d| Instance::start(db, d.path(), extra)).collect();
        let client = Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let started = Instant::now();
        for instance in &instances {
            loop {
                let ready = client.get(instance.at("/readyz")).send().await;
                if ready.is_ok_and(|r| r.status() == StatusCode::OK) {
                    break;
                }
                assert!(started.elapsed() < Duration::from_secs(60), "{} never became ready", instance.base);
                actix_web::rt::time::sleep(Duration::from_millis(100)).await;
            }
        }
        let directory = Directory::connect(&db.url, 2, std::sync::Arc::new(SystemClock)).unwrap();
        let key = directory.create_api_key(&Ctx::new(&Actor::System, None), None, "cluster test").unwrap().token;
        Cluster { instances, client, key, directory, _data: data }
    }

    pub(crate) fn api(&self, n: usize, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.instances[n].at(path)).bearer_auth(&self.key)
    }

    pub(crate) async fn created(&self, n: usize, path: &str, body: Value) -> Value {
        let res = self.api(n, Method::POST, path).json(&body).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::CREATED, "{path}");
        res.json().await.unwrap()
    }
}

/// The cookies a response sets, as a `Cookie` header value.
fn cookies(res: &reqwest::Response) -> String {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .map(|c| c.to_str().unwrap().split(';').next().unwrap().to_owned())
        .collect::<Vec<_>>()
        .join("; ")
}

fn session_of(res: &reqwest::Response) -> String {
    cookies(res).split("; ").find(|c| c.starts_with("portico_session=")).expect("a session cookie").to_owned()
}

#[actix_web::test]
async fn three_instances_share_one_database() {
    if !crate::helpers::available(crate::helpers::Tool::OpenIdProvider) {
        return;
    }
    let Some(db) = TestDatabase::new(Backend::Postgres) else {
        return;
    };
    let c = Cluster::start(&db, &[]).await;
    assert_eq!(c.directory.migrate().unwrap(), Vec::<String>::new(), "the instances applied every migration");

    // SAML: set up and tested across instances, then a sign-in started on 1, completed at 2,
    // its session used at 3.
    c.created(0, "/api/v1/enterprises", json!({"key": "acme", "name": "Acme"})).await;
    c.created(1, "/api/v1/enterprises/acme/organizations", json!({"key": "eng", "name": "Engineering"})).await;
    c.created(2, "/api/v1/enterprises/acme/organizations/eng/groups", json!({"name": "Developers"})).await;
    let idp = TestIdp::new("okta");
    let conn = c
        .created(
            0,
            "/api/v1/enterprises/acme/connections",
            json!({"protocol": "saml", "provider": "okta", "saml": {
                "sso_url": "https://idp.test/sso", "idp_entity_id": idp.entity_id, "certificates": [idp.cert_pem()]}}),
        )
        .await;
    let (id, acs, entity) = (
        conn["id"].as_str().unwrap().to_owned(),
        conn["sp"]["acs_url"].as_str().unwrap().to_owned(),
        conn["sp"]["entity_id"].as_str().unwrap().to_owned(),
    );
    assert!(acs.starts_with(PUBLIC), "every instance announces the public URL: {acs}");
    let answer = |request: &str, login: &str| {
        let mut spec = ResponseSpec::answering(&idp, chrono::Utc::now(), &acs, &entity, Some(request));
        spec.attributes = vec![
            ("login".into(), vec![login.into()]),
            ("email".into(), vec![format!("{login}@acme.test")]),
            ("name".into(), vec!["Ada Lovelace".into()]),
            ("groups".into(), vec!["Developers".into()]),
        ];
        idp.response(&spec)
    };
    let test: Value = c
        .api(1, Method::POST, &format!("/api/v1/enterprises/acme/connections/{id}/test"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let start = c.client.get(c.instances[1].at(test["url"].as_str().unwrap())).send().await.unwrap();
    let request = request_id(start.headers()["location"].to_str().unwrap());
    let page = c
        .client
        .post(c.instances[2].at(&acs))
        .header("cookie", cookies(&start))
        .form(&[("SAMLResponse", answer(&request, "ada").as_str()), ("RelayState", "")])
        .send()
        .await
        .unwrap();
    assert!(page.text().await.unwrap().contains("it works"), "a test started on 2 ends at 3");
    let res =
        c.api(0, Method::POST, &format!("/api/v1/enterprises/acme/connections/{id}/enable")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    let start = c.client.get(c.instances[0].at("/login/sso?enterprise_key=acme")).send().await.unwrap();
    assert_eq!(start.status(), StatusCode::FOUND);
    let request = request_id(start.headers()["location"].to_str().unwrap());
    let body = answer(&request, "ada");
    let signed_in = c
        .client
        .post(c.instances[1].at(&acs))
        .header("cookie", cookies(&start))
        .form(&[("SAMLResponse", body.as_str()), ("RelayState", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    let ada = session_of(&signed_in);
    let me = c.client.get(c.instances[2].at("/console/me")).header("cookie", &ada).send().await.unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    assert!(me.text().await.unwrap().contains("Developers"));

    // The same response again, at every instance: refused everywhere.
    for (n, instance) in c.instances.iter().enumerate() {
        let again = c
            .client
            .post(instance.at(&acs))
            .form(&[("SAMLResponse", body.as_str()), ("RelayState", "")])
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), StatusCode::FORBIDDEN, "instance {n} refuses the replay");
    }

    // OpenID Connect, in an enterprise of its own: started on 3, back at 1, session at 2.
    c.created(2, "/api/v1/enterprises", json!({"key": "globex", "name": "Globex"})).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let placeholder = start_op(port, "http://127.0.0.1:9/placeholder");
    let conn = c
        .created(
            2,
            "/api/v1/enterprises/globex/connections",
            json!({"protocol": "oidc", "provider": "custom",
                "oidc": {"issuer": format!("http://127.0.0.1:{port}"), "client_id": "portico", "client_secret": SECRET}}),
        )
        .await;
    drop(placeholder);
    let (oidc_id, redirect_uri) =
        (conn["id"].as_str().unwrap().to_owned(), conn["redirect_uri"].as_str().unwrap().to_owned());
    let _op = start_op(port, &redirect_uri);
    let test: Value = c
        .api(0, Method::POST, &format!("/api/v1/enterprises/globex/connections/{oidc_id}/test"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // The test's URL is the provider's own; back from it at another instance.
    let back = through_provider(test["url"].as_str().unwrap(), &redirect_uri).await;
    let page = c.client.get(c.instances[1].at(&back)).send().await.unwrap();
    assert!(page.text().await.unwrap().contains("it works"));
    let res = c
        .api(1, Method::POST, &format!("/api/v1/enterprises/globex/connections/{oidc_id}/enable"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let start = c.client.get(c.instances[2].at("/login/sso?enterprise_key=globex")).send().await.unwrap();
    let back = through_provider(start.headers()["location"].to_str().unwrap(), &redirect_uri).await;
    let signed_in = c.client.get(c.instances[0].at(&back)).header("cookie", cookies(&start)).send().await.unwrap();
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    let oidc_session = session_of(&signed_in);
    let me = c.client.get(c.instances[1].at("/console/me")).header("cookie", &oidc_session).send().await.unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    let replay = c.client.get(c.instances[2].at(&back)).header("cookie", cookies(&start)).send().await.unwrap();
    assert!(replay.status().is_client_error(), "a callback is spent on every instance");

    // SCIM: 16 clients, spread over the instances, each adding one member to the same group.
    c.created(0, "/api/v1/enterprises", json!({"key": "initech", "name": "Initech"})).await;
    let token: Value =
        c.api(1, Method::POST, "/api/v1/enterprises/initech/scim-tokens").send().await.unwrap().json().await.unwrap();
    let token = token["token"].as_str().unwrap().to_owned();
    let scim = |n: usize, method: Method, path: &str, body: Option<Value>| {
        let mut req =
            c.client.request(method, c.instances[n % 3].at(&format!("/api/scim/v2/initech{path}"))).bearer_auth(&token);
        if let Some(body) = body {
            req = req.header("content-type", "application/scim+json").body(body.to_string());
        }
        req.send()
    };
    let mut users = Vec::new();
    for i in 0..16 {
        let res = scim(
            i,
            Method::POST,
            "/Users",
            Some(json!({"schemas": [scim::schemas::USER], "userName": format!("user{i}")})),
        )
        .await
        .unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
        users.push(res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned());
    }
    let group: Value =
        scim(0, Method::POST, "/Groups", Some(json!({"schemas": [scim::schemas::GROUP], "displayName": "Everyone"})))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    let group_path = format!("/Groups/{}", group["id"].as_str().unwrap());
    // All sent at once (each request runs as its own task), then awaited.
    let patches: Vec<_> = users
        .iter()
        .enumerate()
        .map(|(i, user)| {
            let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "add", "path": "members", "value": [{"value": user}]}]});
            actix_web::rt::spawn(scim(i, Method::PATCH, &group_path, Some(body)))
        })
        .collect();
    for patch in patches {
        let status = patch.await.unwrap().unwrap().status();
        assert!(status.is_success(), "{status}");
    }
    let members: Value = scim(2, Method::GET, &group_path, None).await.unwrap().json().await.unwrap();
    assert_eq!(members["members"].as_array().unwrap().len(), 16, "no update lost");

    // Deactivated on one instance: the session ends on all of them.
    let res = c
        .api(0, Method::PATCH, "/api/v1/enterprises/acme/users/ada")
        .json(&json!({"active": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    for (n, instance) in c.instances.iter().enumerate() {
        let me = c.client.get(instance.at("/console/me")).header("cookie", &ada).send().await.unwrap();
        assert_ne!(me.status(), StatusCode::OK, "instance {n} no longer knows the session");
    }
}

/// A "map all" job runs on one instance at a time: killed half-way (SIGKILL, no goodbye), its
/// instance leaves the job running with a stale heartbeat, another instance takes it over where
/// it stood, and the result is exactly that of an uninterrupted run.
#[actix_web::test]
async fn a_job_runs_on_one_instance_and_outlives_it() {
    let Some(db) = TestDatabase::new(Backend::Postgres) else {
        return;
    };
    let extra = [("PORTICO__JOBS__TAKEOVER_AFTER_SECS", "5"), ("PORTICO__JOBS__MAP_ALL_LINKS_PER_CHUNK", "4")];
    let mut c = Cluster::start(&db, &extra).await;
    c.created(0, "/api/v1/enterprises", json!({"key": "acme", "name": "Acme"})).await;
    for org in ["org-a", "org-b", "org-c", "org-d"] {
        c.created(1, "/api/v1/enterprises/acme/organizations", json!({"key": org, "name": org})).await;
    }
    let e = c.directory.get_enterprise(&Ctx::new(&Actor::System, None), "acme").unwrap();
    let idp = Actor::ScimToken { id: "t".into(), prefix: "p".into(), enterprise_id: e.id };
    const GROUPS: i64 = 300;
    for g in 0..GROUPS {
        let new = directory::provisioning::NewIdpGroup {
            display_name: format!("Team {g:03}"),
            external_id: None,
            members: vec![],
        };
        c.directory.scim_create_group(&Ctx::new(&idp, None), &new).unwrap();
    }

    // Four links a chunk: one IdP group onto the four organizations, 300 chunks.
    let res = c.api(0, Method::POST, "/api/v1/enterprises/acme/group-mappings/map-all").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let job = res.json::<Value>().await.unwrap()["job"].as_str().unwrap().to_owned();
    let progress = |c: &Cluster, n: usize| {
        let req = c.api(n, Method::GET, &format!("/api/v1/jobs/{job}"));
        async move { req.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let started = Instant::now();
    let first = loop {
        let p = progress(&c, 1).await;
        if p["done"].as_i64().unwrap() >= 10 {
            break p;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "the job never started: {p}");
        actix_web::rt::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(first["total"], GROUPS);
    assert!(first["done"].as_i64().unwrap() < GROUPS, "half-way, not done: {first}");
    let runner = first["instance"].as_str().unwrap().to_owned();
    let which = c
        .instances
        .iter()
        .position(|i| runner.ends_with(&format!(":{}", i.child.id())))
        .unwrap_or_else(|| panic!("{runner} is none of the instances"));
    for _ in 0..5 {
        assert_eq!(progress(&c, 2).await["instance"], runner.as_str(), "one instance runs it");
    }

    // Killed without warning: its heartbeat goes stale, another instance takes the job over.
    c.instances[which].child.kill().unwrap();
    let alive = if which == 0 { 1 } else { 0 };
    let finished = loop {
        let p = progress(&c, alive).await;
        if p["state"] == "done" {
            break p;
        }
        assert!(started.elapsed() < Duration::from_secs(90), "never taken over: {p}");
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(finished["done"], GROUPS);
    let successor = finished["instance"].as_str().unwrap();
    assert_ne!(successor, runner, "finished elsewhere");
    let survivors = c.instances.iter().enumerate().filter(|(n, _)| *n != which);
    assert!(survivors.map(|(_, i)| i).any(|i| successor.ends_with(&format!(":{}", i.child.id()))), "{successor}");

    // The same as an uninterrupted run: every IdP group feeds every organization, once.
    let mut seen = 0;
    let mut path = "/api/v1/enterprises/acme/idp-groups?limit=200".to_owned();
    loop {
        let page: Value = c.api(alive, Method::GET, &path).send().await.unwrap().json().await.unwrap();
        for g in page["items"].as_array().unwrap() {
            assert_eq!(g["organizations"], json!(["org-a", "org-b", "org-c", "org-d"]), "{g}");
            seen += 1;
        }
        match page["next"].as_str() {
            Some(next) => path = format!("/api/v1/enterprises/acme/idp-groups?limit=200&after={}", urlencode(next)),
            None => break,
        }
    }
    assert_eq!(seen, GROUPS);
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The OpenID Provider without affinity: an authorization started on one instance resumes
/// after the SSO sign-in on another, the code is exchanged at a third, and the ID token one
/// instance signed verifies with the keys another publishes.
#[actix_web::test]
async fn an_authorization_crosses_instances() {
    let Some(db) = TestDatabase::new(Backend::Postgres) else {
        return;
    };
    let c = Cluster::start(&db, &[]).await;
    c.created(0, "/api/v1/enterprises", json!({"key": "acme", "name": "Acme"})).await;
    let idp = TestIdp::new("okta");
    let conn = c
        .created(
            1,
            "/api/v1/enterprises/acme/connections",
            json!({"protocol": "saml", "provider": "okta", "saml": {
                "sso_url": "https://idp.test/sso", "idp_entity_id": idp.entity_id, "certificates": [idp.cert_pem()]}}),
        )
        .await;
    let id = conn["id"].as_str().unwrap().to_owned();
    let (acs, entity) =
        (conn["sp"]["acs_url"].as_str().unwrap().to_owned(), conn["sp"]["entity_id"].as_str().unwrap().to_owned());
    c.directory
        .record_test_result(&directory::ids::ConnectionId::from(id.as_str()), true, None, &json!({}), None)
        .unwrap();
    let res =
        c.api(2, Method::POST, &format!("/api/v1/enterprises/acme/connections/{id}/enable")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let client = c
        .created(0, "/api/v1/applications", json!({"name": "Acme Cloud", "redirect_uris": [crate::provider::REDIRECT]}))
        .await;
    let (client_id, secret) =
        (client["client_id"].as_str().unwrap().to_owned(), client["client_secret"].as_str().unwrap().to_owned());

    // Started on 0.
    let authorize = format!(
        "/oauth2/authorize?response_type=code&client_id={client_id}&redirect_uri={}&scope=openid%20organizations&state=s1&nonce=n1&code_challenge={}&code_challenge_method=S256&enterprise_key=acme",
        url::form_urlencoded::byte_serialize(crate::provider::REDIRECT.as_bytes()).collect::<String>(),
        crate::provider::CHALLENGE
    );
    let start = c.client.get(c.instances[0].at(&authorize)).send().await.unwrap();
    assert_eq!(start.status(), StatusCode::FOUND);
    let request = request_id(start.headers()["location"].to_str().unwrap());
    let mut spec = ResponseSpec::answering(&idp, chrono::Utc::now(), &acs, &entity, Some(&request));
    spec.attributes = vec![("login".into(), vec!["ada".into()])];
    // The IdP answers at 1.
    let signed_in = c
        .client
        .post(c.instances[1].at(&acs))
        .header("cookie", cookies(&start))
        .form(&[("SAMLResponse", idp.response(&spec).as_str()), ("RelayState", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    let resume = signed_in.headers()["location"].to_str().unwrap().to_owned();
    // The browser resumes at 2.
    let browser_cookies = format!("{}; {}", cookies(&start), session_of(&signed_in));
    let back = c.client.get(c.instances[2].at(&resume)).header("cookie", browser_cookies).send().await.unwrap();
    assert_eq!(back.status(), StatusCode::FOUND);
    let back = crate::provider::params(back.headers()["location"].to_str().unwrap());
    assert_eq!(back["iss"], PUBLIC, "the issuer is the public URL, whichever instance answers");
    // The application exchanges the code at 1 and reads userinfo at 0.
    let tokens: Value = c
        .client
        .post(c.instances[1].at("/oauth2/token"))
        .basic_auth(&client_id, Some(&secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &back["code"]),
            ("redirect_uri", crate::provider::REDIRECT),
            ("code_verifier", crate::provider::VERIFIER),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id_token = tokens["id_token"].as_str().expect("tokens");
    for n in [0, 2] {
        let jwks: Value = c.client.get(c.instances[n].at("/oauth2/jwks")).send().await.unwrap().json().await.unwrap();
        assert!(crate::provider::signed_by(id_token, &jwks), "the token signed at 1 verifies with the keys of {n}");
    }
    assert_eq!(crate::provider::payload(id_token)["iss"], PUBLIC);
    let info = c
        .client
        .get(c.instances[0].at("/oauth2/userinfo"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(info.status(), StatusCode::OK);
    assert_eq!(info.json::<Value>().await.unwrap()["enterprise"]["key"], "acme");
}
