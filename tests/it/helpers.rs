//! The test harness: a real provider on an ephemeral port with its own database (a SQLite
//! file, or a fresh PostgreSQL schema when `UEC_IDP_TEST_DATABASE_URL` is set), a browser
//! that keeps cookies and does not follow redirects, and helpers to drive the sign-in.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use actix_web::web;
use diesel::Connection;
use diesel::connection::SimpleConnection;
use reqwest::StatusCode;
use reqwest::header::LOCATION;
use tempfile::TempDir;
use uec_idp::clock::{Clock, OffsetClock};
use uec_idp::config::Settings;
use uec_idp::services::accounts::{self, IssuePolicy, NewAccount};
use uec_idp::services::clients::{self, NewClient};
use uec_idp::startup::{AppState, Application};

pub const PASSWORD: &str = "correct horse battery staple";
pub const REDIRECT: &str = "http://127.0.0.1:9/cb";

/// Addresses a test browser can appear from (the server trusts 127.0.0.1 as a proxy and
/// reads X-Forwarded-For). Requests without the header come from 127.0.0.1: on campus.
pub const CAMPUS_IP: &str = "130.153.10.20";
pub const VPN_IP: &str = "157.82.0.10";
pub const OFF_CAMPUS_IP: &str = "203.0.113.7";

/// Where the tests' PostgreSQL lives, if the suite runs against PostgreSQL.
pub fn postgres_base_url() -> Option<String> {
    std::env::var("UEC_IDP_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

/// A database of its own for one test; a PostgreSQL schema is dropped when this is.
pub struct TestDb {
    pub url: String,
    postgres: Option<(String, String)>,
}

impl TestDb {
    pub fn new(dir: &Path) -> TestDb {
        let Some(base) = postgres_base_url() else {
            return TestDb {
                url: format!("sqlite://{}", dir.join("idp.sqlite3").display()),
                postgres: None,
            };
        };
        let schema = format!(
            "t_{}",
            uec_idp::secrets::new_id()
                .to_lowercase()
                .replace(['-', '_'], "")
        );
        let mut conn = diesel::PgConnection::establish(&base).expect("PostgreSQL for tests");
        conn.batch_execute(&format!("CREATE SCHEMA {schema}"))
            .expect("create schema");
        let sep = if base.contains('?') { '&' } else { '?' };
        TestDb {
            url: format!("{base}{sep}options=-csearch_path%3D{schema}"),
            postgres: Some((base, schema)),
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((base, schema)) = &self.postgres
            && let Ok(mut conn) = diesel::PgConnection::establish(base)
        {
            let _ = conn.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
        }
    }
}

/// Signing keys generated once per test binary (RSA generation is slow) and copied into
/// each test's own directory, so rotating in one test cannot affect another.
fn fixture_keys() -> &'static PathBuf {
    static KEYS: OnceLock<PathBuf> = OnceLock::new();
    KEYS.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("uec-idp-test-keys-{}", std::process::id()));
        uec_idp::oidc::keys::KeySet::load_or_generate(&dir, 3600, 1_700_000_000)
            .expect("fixture keys");
        dir
    })
}

pub fn copy_keys(to: &Path) {
    std::fs::create_dir_all(to).expect("keys dir");
    for entry in std::fs::read_dir(fixture_keys())
        .expect("fixture keys dir")
        .flatten()
    {
        std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copy key");
    }
}

pub struct TestApp {
    pub base: String,
    pub state: web::Data<AppState>,
    pub clock: Arc<OffsetClock>,
    /// A browser: keeps cookies, does not follow redirects. On campus.
    pub browser: reqwest::Client,
    /// The browser's cookies, shared by `browser_at` (the same browser, elsewhere).
    pub jar: Arc<reqwest::cookie::Jar>,
    /// A plain HTTP client for relying-party calls (no cookies).
    pub http: reqwest::Client,
    pub _dir: TempDir,
    _db: TestDb,
    /// The running server, to stop it (see `restart`).
    server: actix_web::dev::ServerHandle,
    running: tokio::task::JoinHandle<std::io::Result<()>>,
}

pub struct TestClient {
    pub id: String,
    pub secret: Option<String>,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(customise: impl FnOnce(&mut Settings)) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = TestDb::new(dir.path());
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let base = format!("http://127.0.0.1:{port}");
    copy_keys(&dir.path().join("keys"));
    let mut settings = Settings {
        network: uec_idp::config::NetworkSettings {
            campus: vec!["130.153.0.0/16".into(), "127.0.0.0/8".into()],
            vpn: vec!["157.82.0.0/24".into()],
            trusted_proxies: vec!["127.0.0.1/32".into()],
        },
        issuer: base.clone(),
        listen: format!("127.0.0.1:{port}"),
        database_url: db.url.clone(),
        keys_dir: dir.path().join("keys"),
        workers: 2,
        ..Settings::default()
    };
    settings.database_pool_size = 4;
    settings.passwords.hashing_threads = 2;
    settings.mail.dir = dir.path().join("mail");
    customise(&mut settings);
    let clock = OffsetClock::new();
    let app = Application::build(settings, Some(listener), clock.clone())
        .await
        .expect("app builds");
    let state = app.state();
    let server = app.handle();
    let running = tokio::spawn(app.run_until_stopped());
    let jar = Arc::new(reqwest::cookie::Jar::default());
    TestApp {
        server,
        running,
        base,
        state,
        clock,
        browser: browser_with(&jar, None),
        jar,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("http client"),
        _dir: dir,
        _db: db,
    }
}

fn browser_with(jar: &Arc<reqwest::cookie::Jar>, ip: Option<&str>) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(ip) = ip {
        headers.insert("x-forwarded-for", ip.parse().expect("header value"));
    }
    reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .default_headers(headers)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("browser")
}

impl TestApp {
    /// Stops this provider (its background work too) and starts a new one on the same
    /// database, keys, port and issuer, its clock where the old one was: a restart. The
    /// browser keeps its cookies.
    pub async fn restart(self) -> TestApp {
        self.server.stop(false).await;
        let _ = self.running.await;
        let settings = self.state.settings.clone();
        let mut listener = None;
        for _ in 0..50 {
            match TcpListener::bind(&settings.listen) {
                Ok(l) => {
                    listener = Some(l);
                    break;
                }
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
            }
        }
        let clock = OffsetClock::new();
        clock.advance(self.clock.now() - clock.now());
        let app = Application::build(settings, listener, clock.clone())
            .await
            .expect("app rebuilds");
        let state = app.state();
        let server = app.handle();
        let running = tokio::spawn(app.run_until_stopped());
        TestApp {
            state,
            clock,
            server,
            running,
            ..self
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// This app seen from the same browser (same cookies), now at `ip`.
    pub fn at(&self, ip: &str) -> Located<'_> {
        Located {
            app: self,
            browser: browser_with(&self.jar, Some(ip)),
        }
    }

    /// Another browser (its own cookies) at `ip`.
    pub fn stranger_at(&self, ip: &str) -> Located<'_> {
        Located {
            app: self,
            browser: browser_with(&Arc::new(reqwest::cookie::Jar::default()), Some(ip)),
        }
    }

    fn on_campus(&self) -> Located<'_> {
        Located {
            app: self,
            browser: self.browser.clone(),
        }
    }

    pub async fn authorize(&self, url: &str) -> (StatusCode, String) {
        self.on_campus().authorize(url).await
    }

    pub async fn sign_in_through(
        &self,
        authorize_url: &str,
        username: &str,
        password: &str,
    ) -> String {
        self.on_campus()
            .sign_in_through(authorize_url, username, password)
            .await
    }

    pub async fn submit_login(
        &self,
        login_path: &str,
        username: &str,
        password: &str,
    ) -> reqwest::Response {
        self.on_campus()
            .submit_login(login_path, username, password)
            .await
    }

    /// Issues an account with the test password.
    pub async fn create_account(&self, id: &str, affiliation: &str) {
        self.issue(id, affiliation, None, PASSWORD).await;
    }

    /// Issues a student account with `password` (which may be weak: the operator's choice).
    pub async fn create_account_with_password(&self, id: &str, password: &str) {
        self.issue(id, "student", None, password).await;
    }

    /// Issues a student account whose notice went to a personal e-mail.
    pub async fn create_account_with_email(&self, id: &str, email: &str) {
        self.issue(id, "student", Some(email.to_string()), PASSWORD)
            .await;
    }

    async fn issue(
        &self,
        id: &str,
        affiliation: &str,
        personal_email: Option<String>,
        password: &str,
    ) {
        let state = self.state.clone();
        let password = password.to_string();
        let id = id.to_string();
        let affiliation = affiliation.to_string();
        tokio::task::spawn_blocking(move || {
            accounts::create_account(
                &state.db,
                &state.hasher,
                NewAccount {
                    id: id.clone(),
                    name: format!("Test {id}"),
                    affiliation,
                    password: Some(password),
                    personal_email,
                    ..Default::default()
                },
                state.clock.now(),
                &IssuePolicy::from_settings(&state.settings),
            )
            .expect("account created");
        })
        .await
        .expect("create task");
    }

    pub async fn register_client(&self, customise: impl FnOnce(&mut NewClient)) -> TestClient {
        let mut new = NewClient {
            name: "Test RP".into(),
            redirect_uris: vec![REDIRECT.into()],
            ..Default::default()
        };
        customise(&mut new);
        let state = self.state.clone();
        let registered = tokio::task::spawn_blocking(move || {
            clients::register_client(&state.db, new, state.clock.now())
        })
        .await
        .expect("register task")
        .expect("client registered");
        TestClient {
            id: registered.client_id,
            secret: registered.client_secret,
        }
    }
}

/// The app seen from one browser location.
pub struct Located<'a> {
    pub app: &'a TestApp,
    pub browser: reqwest::Client,
}

impl Located<'_> {
    /// GETs an authorization URL in the browser; returns (status, Location).
    pub async fn authorize(&self, url: &str) -> (StatusCode, String) {
        let r = self
            .browser
            .get(url)
            .send()
            .await
            .expect("authorize request");
        let location = location(&r);
        (r.status(), location)
    }

    /// Follows an authorization URL through the login form with `username`/`password` and
    /// returns the final redirect to the relying party.
    pub async fn sign_in_through(
        &self,
        authorize_url: &str,
        username: &str,
        password: &str,
    ) -> String {
        let (status, login) = self.authorize(authorize_url).await;
        assert_eq!(
            status,
            StatusCode::FOUND,
            "authorize redirects to the login page"
        );
        assert!(login.starts_with("/login?flow="), "went to {login}");
        let response = self.submit_login(&login, username, password).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "login succeeds");
        location(&response)
    }

    /// Loads the login page at `login_path` and submits the form.
    pub async fn submit_login(
        &self,
        login_path: &str,
        username: &str,
        password: &str,
    ) -> reqwest::Response {
        let page = self
            .browser
            .get(self.app.url(login_path))
            .send()
            .await
            .expect("login page");
        assert_eq!(page.status(), StatusCode::OK);
        let html = page.text().await.expect("login html");
        let form = [
            ("flow", hidden_field(&html, "flow")),
            ("csrf", hidden_field(&html, "csrf")),
            ("username", username.to_string()),
            ("password", password.to_string()),
        ];
        self.browser
            .post(self.app.url("/login"))
            .form(&form)
            .send()
            .await
            .expect("login post")
    }

    /// GETs `path` and returns the page's HTML (asserting 200).
    pub async fn page(&self, path: &str) -> String {
        let r = self
            .browser
            .get(self.app.url(path))
            .send()
            .await
            .expect("page");
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        r.text().await.expect("html")
    }

    /// POSTs a form with this browser's CSRF token (read from `csrf_page`).
    pub async fn post_form(
        &self,
        path: &str,
        csrf_page: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut form: Vec<(&str, String)> = vec![("csrf", hidden_field(csrf_page, "csrf"))];
        form.extend(fields.iter().map(|(k, v)| (*k, v.to_string())));
        self.browser
            .post(self.app.url(path))
            .form(&form)
            .send()
            .await
            .expect("post")
    }
}

pub fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// The value of `<input type="hidden" name="NAME" value="...">` in a page.
pub fn hidden_field(html: &str, name: &str) -> String {
    let marker = format!(r#"name="{name}" value=""#);
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no hidden field {name} in page"))
        + marker.len();
    let end = html[start..].find('"').expect("closing quote") + start;
    html[start..end].to_string()
}

/// A query parameter of a redirect URL.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    parsed
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// A minimal authorization URL (for tests that do not need the openidconnect client);
/// `extra` adds parameters or replaces the defaults.
pub fn authorize_url(app: &TestApp, client_id: &str, extra: &[(&str, &str)]) -> String {
    let mut params = vec![
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", "openid profile email"),
        ("state", "st-1"),
    ];
    for (k, v) in extra {
        params.retain(|(name, _)| name != k);
        params.push((k, v));
    }
    let mut url = url::Url::parse(&app.url("/authorize")).expect("url");
    url.query_pairs_mut()
        .extend_pairs(params.iter().filter(|(_, v)| !v.is_empty()));
    url.to_string()
}

/// Signs `account` in through a confidential client and returns the authorization code.
pub async fn code_for(
    app: &TestApp,
    client: &TestClient,
    account: &str,
    extra: &[(&str, &str)],
) -> String {
    let url = authorize_url(app, &client.id, extra);
    let back = app.sign_in_through(&url, account, PASSWORD).await;
    query_param(&back, "code").expect("code in redirect")
}

/// POSTs a form to the token endpoint with HTTP Basic client authentication.
pub async fn token_request(
    app: &TestApp,
    client: &TestClient,
    form: &[(&str, &str)],
) -> reqwest::Response {
    app.http
        .post(app.url("/token"))
        .basic_auth(&client.id, client.secret.as_deref())
        .form(form)
        .send()
        .await
        .expect("token request")
}

pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_uec-idp")
}

/// POSTs an authorization-code grant for `code` (Basic authentication, the test redirect URI).
pub async fn code_request(app: &TestApp, client: &TestClient, code: &str) -> reqwest::Response {
    token_request(
        app,
        client,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await
}

/// Redeems `code` at the token endpoint (Basic authentication) and returns the token
/// response, which must be a success.
pub async fn exchange_code(app: &TestApp, client: &TestClient, code: &str) -> serde_json::Value {
    let r = code_request(app, client, code).await;
    assert_eq!(r.status(), reqwest::StatusCode::OK, "token exchange");
    r.json().await.expect("token json")
}

/// Signs `account` in through `client` and returns the token response.
pub async fn tokens_for(
    app: &TestApp,
    client: &TestClient,
    account: &str,
    extra: &[(&str, &str)],
) -> serde_json::Value {
    let code = code_for(app, client, account, extra).await;
    exchange_code(app, client, &code).await
}

/// GET /userinfo with a bearer token.
pub async fn userinfo_response(app: &TestApp, access_token: &str) -> reqwest::Response {
    app.http
        .get(app.url("/userinfo"))
        .bearer_auth(access_token)
        .send()
        .await
        .expect("userinfo")
}

/// The status userinfo answers a bearer token with.
pub async fn userinfo_status(app: &TestApp, access_token: &str) -> reqwest::StatusCode {
    userinfo_response(app, access_token).await.status()
}

/// A string field of a JSON response.
pub fn field(json: &serde_json::Value, name: &str) -> String {
    json[name]
        .as_str()
        .unwrap_or_else(|| panic!("no {name} in {json}"))
        .to_string()
}

/// POSTs a refresh-token grant with HTTP Basic client authentication.
pub async fn refresh_request(app: &TestApp, client: &TestClient, token: &str) -> reqwest::Response {
    token_request(
        app,
        client,
        &[("grant_type", "refresh_token"), ("refresh_token", token)],
    )
    .await
}

/// The userinfo response of a bearer token, which must be a success.
pub async fn userinfo_json(app: &TestApp, access_token: &str) -> serde_json::Value {
    let r = userinfo_response(app, access_token).await;
    assert_eq!(r.status(), reqwest::StatusCode::OK, "userinfo");
    r.json().await.expect("userinfo json")
}

/// The `openidconnect` relying party as discovery sets it up.
pub type DiscoveredRp = openidconnect::core::CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

/// The relying party's HTTP client (redirects not followed).
pub fn rp_http() -> openidconnect::reqwest::Client {
    openidconnect::reqwest::Client::builder()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .expect("rp http client")
}

/// The provider's discovery document, as the `openidconnect` crate reads it.
pub async fn provider_metadata(
    app: &TestApp,
    http: &openidconnect::reqwest::Client,
) -> openidconnect::core::CoreProviderMetadata {
    openidconnect::core::CoreProviderMetadata::discover_async(
        openidconnect::IssuerUrl::new(app.base.clone()).expect("issuer"),
        http,
    )
    .await
    .expect("discovery")
}

/// `client` as an `openidconnect` relying party configured from discovery, and its HTTP
/// client.
pub async fn discovered_rp(
    app: &TestApp,
    client: &TestClient,
) -> (DiscoveredRp, openidconnect::reqwest::Client) {
    let http = rp_http();
    let rp = openidconnect::core::CoreClient::from_provider_metadata(
        provider_metadata(app, &http).await,
        openidconnect::ClientId::new(client.id.clone()),
        client.secret.clone().map(openidconnect::ClientSecret::new),
    );
    (rp, http)
}

/// Answers the consent page at `path` (`allow` or `deny`; the page must be shown) in the
/// browser and returns the redirect to the relying party.
pub async fn answer_consent(app: &TestApp, path: &str, decision: &str) -> String {
    assert!(path.starts_with("/consent?flow="), "consent page: {path}");
    let page = app.browser.get(app.url(path)).send().await.expect("page");
    assert_eq!(page.status(), reqwest::StatusCode::OK);
    let html = page.text().await.expect("html");
    let r = post_consent(app, &html, decision).await;
    assert_eq!(r.status(), reqwest::StatusCode::SEE_OTHER);
    location(&r)
}

/// Submits the consent form of page `html` with `decision`.
pub async fn post_consent(app: &TestApp, html: &str, decision: &str) -> reqwest::Response {
    post_consent_by(&app.on_campus(), html, decision).await
}

/// Submits the consent form of page `html` with `decision` from `who`.
pub async fn post_consent_by(who: &Located<'_>, html: &str, decision: &str) -> reqwest::Response {
    who.browser
        .post(who.app.url("/consent"))
        .form(&[
            ("flow", hidden_field(html, "flow")),
            ("csrf", hidden_field(html, "csrf")),
            ("decision", decision.to_string()),
        ])
        .send()
        .await
        .expect("consent post")
}

/// The scope parameter that asks for a grant that outlives the session.
pub const OFFLINE_SCOPE: &[(&str, &str)] = &[("scope", "openid offline_access")];

/// GETs `path` with the plain HTTP client and parses the JSON body.
async fn get_json(app: &TestApp, path: &str) -> serde_json::Value {
    app.http
        .get(app.url(path))
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"))
        .json()
        .await
        .unwrap_or_else(|e| panic!("{path} json: {e}"))
}

/// The provider's discovery document as JSON.
pub async fn discovery(app: &TestApp) -> serde_json::Value {
    get_json(app, "/.well-known/openid-configuration").await
}

/// The provider's published keys (/jwks) as JSON.
pub async fn jwks(app: &TestApp) -> serde_json::Value {
    get_json(app, "/jwks").await
}

/// The end-session URL with `params` in its query.
pub fn logout_url(app: &TestApp, params: &[(&str, &str)]) -> String {
    let mut url = url::Url::parse(&app.url("/logout")).expect("url");
    url.query_pairs_mut().extend_pairs(params);
    url.to_string()
}

/// Client authentication at the token endpoint with `id`/`secret` (HTTP Basic) and a
/// bogus code: the status and `error` of the answer, `invalid_grant` (400) when the client
/// authenticated, `invalid_client` (401) otherwise.
pub async fn bogus_code_error(
    app: &TestApp,
    id: &str,
    secret: &str,
) -> (reqwest::StatusCode, String) {
    let client = TestClient {
        id: id.into(),
        secret: Some(secret.into()),
    };
    let r = token_request(
        app,
        &client,
        &[
            ("grant_type", "authorization_code"),
            ("code", "not-a-code"),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    let status = r.status();
    let body: serde_json::Value = r.json().await.expect("token error json");
    (
        status,
        body["error"].as_str().unwrap_or_default().to_string(),
    )
}

/// Runs the real binary against the app's database.
pub fn cli(app: &TestApp, args: &[&str]) -> std::process::Output {
    let config = app._dir.path().join("cli.toml");
    std::fs::write(
        &config,
        format!(
            "database_url = {:?}\nkeys_dir = {:?}\n[passwords]\nhashing_threads = 1\n",
            app.state.settings.database_url,
            app.state.settings.keys_dir.display().to_string()
        ),
    )
    .expect("config");
    std::process::Command::new(binary())
        .arg("--config")
        .arg(&config)
        .args(args)
        .current_dir(app._dir.path())
        .env("RUST_LOG", "warn")
        .output()
        .expect("run uec-idp")
}
