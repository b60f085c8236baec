//! What unauthenticated traffic can make the provider store (issue #12 item 5), over real
//! HTTP: floods of `/authorize`, bare `/login` and `/par` from one address leave the
//! database within a fixed bound; oversized bodies get 413 in the endpoint's format;
//! over-long parameters are refused; the per-address rate limit answers 429 with
//! `Retry-After`; stale sign-in throttle counters are swept.

use diesel::prelude::*;
use diesel::sql_types::BigInt;
use reqwest::StatusCode;
use serde_json::Value;
use uec_idp::store::DbConnection;

use crate::helpers::*;

const FLOODER: &str = "203.0.113.66";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

#[derive(QueryableByName)]
struct Usage {
    #[diesel(sql_type = BigInt)]
    rows: i64,
    #[diesel(sql_type = BigInt)]
    bytes: i64,
}

/// Rows and stored bytes of a table's variable-size column.
async fn usage(app: &TestApp, table: &'static str, column: &'static str) -> (i64, i64) {
    let db = app.state.db.clone();
    tokio::task::spawn_blocking(move || {
        let mut conn = db.conn().expect("conn");
        let sql = format!(
            "SELECT COUNT(*) AS rows, CAST(COALESCE(SUM(LENGTH({column})), 0) AS BIGINT) AS bytes FROM {table}"
        );
        let u: Usage = match &mut *conn {
            DbConnection::Sqlite(c) => diesel::sql_query(sql).get_result(c),
            DbConnection::Postgresql(c) => diesel::sql_query(sql).get_result(c),
        }
        .expect("usage");
        (u.rows, u.bytes)
    })
    .await
    .expect("task")
}

fn long(n: usize) -> String {
    "x".repeat(n)
}

/// The largest authorization parameters the provider accepts (README: state 2048 bytes,
/// nonce, scope and acr_values 512, login_hint and ui_locales 256).
fn maximal_params(client_id: &str) -> Vec<(String, String)> {
    let mut scope = "openid profile email ".to_string();
    scope.push_str(&"s".repeat(512 - scope.len()));
    vec![
        ("client_id".into(), client_id.into()),
        ("redirect_uri".into(), REDIRECT.into()),
        ("response_type".into(), "code".into()),
        ("scope".into(), scope),
        ("state".into(), long(2048)),
        ("nonce".into(), long(512)),
        ("login_hint".into(), long(256)),
        ("ui_locales".into(), long(256)),
        ("acr_values".into(), long(512)),
        ("code_challenge".into(), CHALLENGE.into()),
        ("code_challenge_method".into(), "S256".into()),
    ]
}

#[tokio::test]
async fn ten_megabytes_of_unauthenticated_traffic_leave_storage_bounded() {
    let app = spawn_app_with(|s| {
        s.limits.rate_per_second = 0;
        s.limits.open_flows_per_address = 50;
        s.limits.pushed_requests_per_address = 50;
    })
    .await;
    let client = app.register_client(|c| c.public = true).await;
    let params = maximal_params(&client.id);
    let mut url = url::Url::parse(&app.url("/authorize")).expect("url");
    url.query_pairs_mut().extend_pairs(&params);
    let url = url.to_string();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let mut sent = 0usize;

    // 2,000 sign-ins started with maximal parameters: about 9 MB of query strings.
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (http, url) = (http.clone(), url.clone());
        tasks.spawn(async move {
            for _ in 0..250 {
                let r = http
                    .get(&url)
                    .header("x-forwarded-for", FLOODER)
                    .send()
                    .await
                    .expect("authorize");
                assert_eq!(r.status(), StatusCode::FOUND, "to sign-in");
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("flood task");
    }
    sent += 2000 * url.len();

    // Bare sign-in pages.
    for _ in 0..200 {
        let r = http
            .get(app.url("/login"))
            .header("x-forwarded-for", FLOODER)
            .send()
            .await
            .expect("login");
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
    }

    // Pushed requests of the public client: maximal valid ones, and ones padded with
    // unknown parameters to just under the old 256 KiB body limit.
    let mut pushed = params.clone();
    pushed.push(("junk".into(), long(8 * 1024)));
    let body = serde_urlencoded::to_string(&pushed).expect("form");
    for _ in 0..300 {
        let r = http
            .post(app.url("/par"))
            .header("x-forwarded-for", FLOODER)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.clone())
            .send()
            .await
            .expect("par");
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    sent += 300 * body.len();
    let mut padded = params.clone();
    padded.push(("junk".into(), long(250 * 1024)));
    let big = serde_urlencoded::to_string(&padded).expect("form");
    for _ in 0..4 {
        let r = http
            .post(app.url("/par"))
            .header("x-forwarded-for", FLOODER)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(big.clone())
            .send()
            .await
            .expect("par");
        assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }
    sent += 4 * big.len();
    assert!(sent >= 10 * 1024 * 1024, "sent {sent} bytes");

    let (flows, flow_bytes) = usage(&app, "login_flows", "request").await;
    let (pars, par_bytes) = usage(&app, "pushed_authorization_requests", "params").await;
    eprintln!(
        "stored: {flows} flows ({flow_bytes} B), {pars} pushed ({par_bytes} B) for {sent} B sent"
    );
    // 50 flows and 50 pushed requests per address, each a few KiB: well under 1 MiB.
    assert!(flows <= 60, "{flows} login flows stored");
    assert!(pars <= 60, "{pars} pushed requests stored");
    assert!(
        flow_bytes + par_bytes <= 1024 * 1024,
        "{flow_bytes} + {par_bytes} bytes stored for {sent} bytes sent"
    );
}

#[tokio::test]
async fn another_address_keeps_its_own_sign_in_flows() {
    let app = spawn_app_with(|s| s.limits.open_flows_per_address = 5).await;
    let client = app.register_client(|_| {}).await;
    let url = authorize_url(&app, &client.id, &[]);
    let victim = app.stranger_at(CAMPUS_IP);
    let (status, to_login) = victim.authorize(&url).await;
    assert_eq!(status, StatusCode::FOUND);
    let flooder = app.stranger_at(FLOODER);
    for _ in 0..20 {
        flooder.authorize(&url).await;
    }
    // The flood evicted only the flooder's own flows: the victim can still sign in.
    app.create_account("a1830000", "student").await;
    let r = victim.submit_login(&to_login, "a1830000", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "signed in");
    assert!(
        location(&r).starts_with(REDIRECT),
        "sent on to the relying party, not told the flow expired: {}",
        location(&r)
    );
    let (flows, _) = usage(&app, "login_flows", "request").await;
    assert!(flows <= 7, "{flows} flows: the flooder's are bounded");
}

#[tokio::test]
async fn pushed_requests_keep_only_authorization_parameters() {
    let app = spawn_app().await;
    let client = app.register_client(|c| c.public = true).await;
    let mut form = maximal_params(&client.id);
    form.push(("unknown_extension".into(), long(4000)));
    let r = app
        .http
        .post(app.url("/par"))
        .form(&form)
        .send()
        .await
        .expect("par");
    assert_eq!(r.status(), StatusCode::CREATED);
    let (rows, bytes) = usage(&app, "pushed_authorization_requests", "params").await;
    assert_eq!(rows, 1);
    assert!(
        bytes < 4000 + 2048,
        "{bytes} bytes: the unknown parameter was stored"
    );
}

#[tokio::test]
async fn over_long_parameters_are_refused_with_invalid_request() {
    let app = spawn_app().await;
    let client = app.register_client(|_| {}).await;
    for (name, len) in [
        ("state", 2049),
        ("nonce", 513),
        ("login_hint", 257),
        ("ui_locales", 257),
        ("acr_values", 513),
    ] {
        let value = long(len);
        let (status, back) = app
            .authorize(&authorize_url(&app, &client.id, &[(name, &value)]))
            .await;
        assert_eq!(status, StatusCode::FOUND, "{name}");
        assert_eq!(
            query_param(&back, "error").as_deref(),
            Some("invalid_request"),
            "{name} of {len} bytes"
        );
    }
    let (rows, _) = usage(&app, "login_flows", "request").await;
    assert_eq!(rows, 0, "nothing stored for refused requests");
}

#[tokio::test]
async fn oversized_bodies_get_413_in_the_endpoints_format() {
    let app = spawn_app().await;
    let client = app.register_client(|_| {}).await;
    let secret = client.secret.clone().expect("secret");
    let r = app
        .http
        .post(app.url("/par"))
        .basic_auth(&client.id, Some(&secret))
        .form(&[
            ("client_id", client.id.as_str()),
            ("junk", &long(17 * 1024)),
        ])
        .send()
        .await
        .expect("par");
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = r.json().await.expect("JSON error");
    assert_eq!(body["error"], "invalid_request");

    let r = app
        .http
        .post(app.url("/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &long(17 * 1024)),
        ])
        .send()
        .await
        .expect("token");
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = r.json().await.expect("JSON error");
    assert_eq!(body["error"], "invalid_request");

    let r = app
        .http
        .post(app.url("/register"))
        .bearer_auth("whatever")
        .json(&serde_json::json!({ "client_name": long(65 * 1024) }))
        .send()
        .await
        .expect("register");
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = r.json().await.expect("JSON error");
    assert_eq!(body["error"], "invalid_request");

    let r = app
        .http
        .post(app.url("/login"))
        .form(&[("username", "a1830000"), ("password", &long(17 * 1024))])
        .send()
        .await
        .expect("login");
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(ct.starts_with("text/html"), "{ct}");
    let html = r.text().await.expect("page");
    assert!(html.contains("too large"), "{html}");

    // Within the limit, the endpoint answers as before.
    let r = app
        .http
        .post(app.url("/par"))
        .basic_auth(&client.id, Some(&secret))
        .form(&[
            ("client_id", client.id.as_str()),
            ("junk", &long(15 * 1024)),
        ])
        .send()
        .await
        .expect("par");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn floods_from_one_address_get_429_with_retry_after() {
    let app = spawn_app_with(|s| {
        s.limits.rate_per_second = 1;
        s.limits.rate_burst = 10;
    })
    .await;
    let client = app.register_client(|_| {}).await;
    let url = authorize_url(&app, &client.id, &[]);
    let flooder = app.stranger_at(FLOODER);
    let mut limited = None;
    for _ in 0..30 {
        let r = flooder.browser.get(&url).send().await.expect("authorize");
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(r);
            break;
        }
    }
    let r = limited.expect("the flood was limited");
    let retry: u64 = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in seconds");
    assert!(retry >= 1);
    assert!(r.text().await.expect("page").contains("Too many requests"));

    // A protocol endpoint gets JSON.
    let r = flooder
        .browser
        .post(app.url("/par"))
        .form(&[("client_id", client.id.as_str())])
        .send()
        .await
        .expect("par");
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"], "temporarily_unavailable");

    // Another address, and the endpoints that need no limit, are unaffected.
    let (status, _) = app.stranger_at(CAMPUS_IP).authorize(&url).await;
    assert_eq!(status, StatusCode::FOUND);
    let r = flooder
        .browser
        .get(app.url("/jwks"))
        .send()
        .await
        .expect("jwks");
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn stale_throttle_counters_are_swept() {
    let app = spawn_app().await;
    let now = app.state.clock.now();
    let db = app.state.db.clone();
    // Plain SQL, as any version of the throttle writes these columns.
    tokio::task::spawn_blocking(move || {
        let mut conn = db.conn().expect("conn");
        for (key, at) in [("address:198.51.100.1", now - 7200), ("address:198.51.100.2", now)] {
            let sql = format!(
                "INSERT INTO login_throttle (key, failures, last_failure_at) VALUES ('{key}', 3, {at})"
            );
            match &mut *conn {
                DbConnection::Sqlite(c) => diesel::sql_query(sql).execute(c),
                DbConnection::Postgresql(c) => diesel::sql_query(sql).execute(c),
            }
            .expect("insert counter");
        }
    })
    .await
    .expect("task");
    // The sweep runs at start-up and every ten minutes.
    let app = app.restart().await;
    let mut left = (0, 0);
    for _ in 0..100 {
        left = usage(&app, "login_throttle", "key").await;
        if left.0 == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(left.0, 1, "only the fresh counter is left");
}

#[tokio::test]
async fn a_flood_from_the_same_address_does_not_evict_a_sign_in_past_its_password() {
    use crate::second_factor::{password_step, set_up_totp, sign_in_on_campus, submit_code};
    use uec_idp::clock::Clock;
    let app = spawn_app_with(|s| s.limits.open_flows_per_address = 5).await;
    app.create_account("a1830000", "student").await;
    let seed = set_up_totp(&sign_in_on_campus(&app, "a1830000").await).await;
    let client = app.register_client(|_| {}).await;
    let url = authorize_url(&app, &client.id, &[]);
    // Off campus, behind one NAT address with a stranger: the person is at the code page.
    let person = app.stranger_at(OFF_CAMPUS_IP);
    let code_page = password_step(&person, &url, "a1830000").await;
    app.clock.advance(1); // the person's flow is the address's oldest
    let neighbour = app.stranger_at(OFF_CAMPUS_IP);
    for _ in 0..20 {
        neighbour.authorize(&url).await;
    }
    app.clock.advance(30);
    let code = uec_idp::domain::second_factor::totp::code_at(&seed, app.clock.now());
    let r = submit_code(&person, &code_page, &code).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "the sign-in finishes");
    assert!(location(&r).starts_with(REDIRECT), "{}", location(&r));
}
