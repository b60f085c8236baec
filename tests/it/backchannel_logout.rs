//! Back-channel logout over real HTTP: a test relying party receives the logout tokens and
//! verifies them against /jwks (signature, typ, iss, aud, iat, jti, sid, events, no nonce);
//! delivery on logout, password change and account deletion, after the relying party was
//! down, and after the provider restarted.

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use uec_idp::clock::Clock;
use uec_idp::services::accounts::{self, IssuePolicy, NewAccount};
use uec_idp::services::lifecycle::{LifecyclePolicy, run_pass};
use uec_idp::store::logout_notifications::{self, NotificationRow};

use crate::helpers::*;

pub const BYE: &str = "http://127.0.0.1:9/bye";
const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

#[derive(Default)]
struct Shared {
    tokens: Mutex<Vec<String>>,
    down: AtomicBool,
    hits: AtomicUsize,
}

/// A relying party's back-channel logout endpoint on 127.0.0.1: records every token it is
/// sent, or answers 503 while "down".
pub struct TestRp {
    pub url: String,
    shared: Arc<Shared>,
}

async fn receive(
    shared: web::Data<Arc<Shared>>,
    form: web::Form<HashMap<String, String>>,
) -> HttpResponse {
    shared.hits.fetch_add(1, Ordering::SeqCst);
    if shared.down.load(Ordering::SeqCst) {
        return HttpResponse::ServiceUnavailable().finish();
    }
    match form.get("logout_token") {
        Some(t) => {
            shared.tokens.lock().expect("lock").push(t.clone());
            HttpResponse::Ok().finish()
        }
        None => HttpResponse::BadRequest().finish(),
    }
}

impl TestRp {
    pub async fn start() -> TestRp {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind rp");
        let port = listener.local_addr().expect("addr").port();
        let shared = Arc::new(Shared::default());
        let data = web::Data::new(shared.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route("/backchannel", web::post().to(receive))
        })
        .workers(1)
        .listen(listener)
        .expect("listen")
        .run();
        tokio::spawn(server);
        TestRp {
            url: format!("http://127.0.0.1:{port}/backchannel"),
            shared,
        }
    }

    pub fn set_down(&self, down: bool) {
        self.shared.down.store(down, Ordering::SeqCst);
    }

    pub fn hits(&self) -> usize {
        self.shared.hits.load(Ordering::SeqCst)
    }

    pub fn tokens(&self) -> Vec<String> {
        self.shared.tokens.lock().expect("lock").clone()
    }

    /// Waits (bounded) until at least `n` tokens arrived.
    pub async fn wait_for_tokens(&self, n: usize) -> Vec<String> {
        for _ in 0..200 {
            let tokens = self.tokens();
            if tokens.len() >= n {
                return tokens;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("expected {n} logout tokens, got {}", self.tokens().len());
    }

    /// Waits (bounded) until at least `n` requests arrived, answered or not.
    pub async fn wait_for_hits(&self, n: usize) {
        for _ in 0..200 {
            if self.hits() >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("expected {n} requests, got {}", self.hits());
    }
}

/// An app whose delivery worker polls often, for retry tests.
pub async fn spawn_fast_app() -> TestApp {
    spawn_app_with(|s| s.logout.poll_interval_ms = 100).await
}

/// A confidential client whose back-channel logout URI is `rp`.
pub async fn client_for(app: &TestApp, rp: Option<&TestRp>) -> TestClient {
    let uri = rp.map(|rp| rp.url.clone());
    app.register_client(|c| {
        c.post_logout_redirect_uris = vec![BYE.into()];
        c.backchannel_logout_uri = uri;
    })
    .await
}

pub struct Tokens {
    pub id_token: String,
    pub access_token: String,
    pub refresh_token: String,
    pub claims: serde_json::Value,
}

/// Exchanges a code for tokens and reads the ID token's claims (verified by other tests).
pub async fn exchange(app: &TestApp, client: &TestClient, code: &str) -> Tokens {
    let body = exchange_code(app, client, code).await;
    let id_token = field(&body, "id_token");
    Tokens {
        access_token: field(&body, "access_token"),
        refresh_token: field(&body, "refresh_token"),
        claims: payload(&id_token),
        id_token,
    }
}

/// A JWT's claims, unverified (to pick the audience to verify against, or to read an ID
/// token whose verification other tests cover).
pub fn payload(jwt: &str) -> serde_json::Value {
    let part = jwt.split('.').nth(1).expect("payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("b64")).expect("claims json")
}

/// Signs the browser in (login form) through `client` and returns its tokens.
pub async fn sign_in(app: &TestApp, client: &TestClient, account: &str) -> Tokens {
    let code = code_for(app, client, account, &[]).await;
    exchange(app, client, &code).await
}

/// With a session already there: authorize `client` without a login and return its tokens.
pub async fn sign_in_silently(app: &TestApp, client: &TestClient) -> Tokens {
    let (status, back) = app.authorize(&authorize_url(app, &client.id, &[])).await;
    assert_eq!(status, StatusCode::FOUND);
    let code = query_param(&back, "code").expect("code: the session was reused");
    exchange(app, client, &code).await
}

/// Verifies a logout token as a relying party must (Back-Channel Logout 1.0 §2.6) and
/// returns its claims.
pub async fn verify_logout_token(app: &TestApp, token: &str, client_id: &str) -> serde_json::Value {
    let header = jsonwebtoken::decode_header(token).expect("header");
    assert_eq!(header.typ.as_deref(), Some("logout+jwt"));
    let jwks: jsonwebtoken::jwk::JwkSet =
        serde_json::from_value(jwks(app).await).expect("a JWK set");
    let kid = header.kid.expect("kid");
    let jwk = jwks.find(&kid).expect("signing key published");
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).expect("key");
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    validation.set_audience(&[client_id]);
    validation.set_issuer(&[&app.base]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    let claims = jsonwebtoken::decode::<serde_json::Value>(token, &key, &validation)
        .expect("signature and claims valid")
        .claims;
    assert!(claims["iat"].is_i64(), "iat: {claims}");
    assert!(
        claims["jti"].as_str().is_some_and(|j| !j.is_empty()),
        "jti: {claims}"
    );
    assert!(claims["events"][EVENT].is_object(), "events: {claims}");
    assert!(claims.get("nonce").is_none(), "a logout token has no nonce");
    claims
}

/// The browser follows the end-session URL with `params`.
pub async fn logout(app: &TestApp, params: &[(&str, &str)]) -> reqwest::Response {
    app.browser
        .get(logout_url(app, params))
        .send()
        .await
        .expect("logout")
}

/// A relying party listening for logout tokens, its client, and the tokens of a1830000
/// signed in to it.
async fn signed_in_to_rp(app: &TestApp) -> (TestRp, TestClient, Tokens) {
    let rp = TestRp::start().await;
    app.create_account("a1830000", "student").await;
    let client = client_for(app, Some(&rp)).await;
    let tokens = sign_in(app, &client, "a1830000").await;
    (rp, client, tokens)
}

async fn outbox(app: &TestApp, client_id: &str) -> Vec<NotificationRow> {
    let (state, id) = (app.state.clone(), client_id.to_string());
    state
        .db
        .run(move |conn| logout_notifications::list_for_client(conn, &id))
        .await
        .expect("outbox")
}

#[tokio::test]
async fn logout_tells_every_relying_party_the_session_signed_in_to() {
    let app = spawn_app().await;
    let rp = TestRp::start().await;
    app.create_account("a1830000", "student").await;
    let first = client_for(&app, Some(&rp)).await;
    let second = client_for(&app, Some(&rp)).await;
    let silent = client_for(&app, None).await;
    let t1 = sign_in(&app, &first, "a1830000").await;
    let t2 = sign_in_silently(&app, &second).await;
    sign_in_silently(&app, &silent).await;
    let sid = t1.claims["sid"].as_str().expect("ID token carries sid");
    assert_eq!(t2.claims["sid"].as_str(), Some(sid), "one session, one sid");

    let r = logout(&app, &[("id_token_hint", &t1.id_token)]).await;
    assert_eq!(r.status(), StatusCode::OK, "signed out page");

    let tokens = rp.wait_for_tokens(2).await;
    let mut audiences = Vec::new();
    for token in &tokens {
        let aud = payload(token)["aud"].as_str().expect("aud").to_string();
        let claims = verify_logout_token(&app, token, &aud).await;
        assert_eq!(claims["sid"].as_str(), Some(sid));
        assert_eq!(claims["sub"], t1.claims["sub"]);
        audiences.push(aud);
    }
    audiences.sort();
    let mut expected = vec![first.id.clone(), second.id.clone()];
    expected.sort();
    assert_eq!(
        audiences, expected,
        "each client told once, the silent one not"
    );
    assert!(outbox(&app, &silent.id).await.is_empty());
    let rows = outbox(&app, &first.id).await;
    assert_eq!(rows.len(), 1);
    assert!(rows[0].delivered_at.is_some());
    assert_eq!(rows[0].reason, "logout");
}

#[tokio::test]
async fn a_password_change_tells_the_relying_parties_and_ends_every_token() {
    let app = spawn_app().await;
    let (rp, client, here) = signed_in_to_rp(&app).await;
    // A second browser of the same person, signed in to the same client.
    let other = app.stranger_at(CAMPUS_IP);
    let back = other
        .sign_in_through(&authorize_url(&app, &client.id, &[]), "a1830000", PASSWORD)
        .await;
    let elsewhere = exchange(&app, &client, &query_param(&back, "code").expect("code")).await;
    assert_eq!(
        userinfo_status(&app, &here.access_token).await,
        StatusCode::OK
    );

    let page = app.at(CAMPUS_IP).page("/account/password").await;
    let r = app
        .at(CAMPUS_IP)
        .post_form(
            "/account/password",
            &page,
            &[
                ("current_password", PASSWORD),
                ("new_password", "a quite different passphrase 42"),
                ("new_password_again", "a quite different passphrase 42"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);

    let tokens = rp.wait_for_tokens(2).await;
    let mut sids = Vec::new();
    for token in &tokens {
        let claims = verify_logout_token(&app, token, &client.id).await;
        sids.push(claims["sid"].as_str().expect("sid").to_string());
    }
    sids.sort();
    let mut expected = vec![
        here.claims["sid"].as_str().expect("sid").to_string(),
        elsewhere.claims["sid"].as_str().expect("sid").to_string(),
    ];
    expected.sort();
    assert_eq!(sids, expected, "both sessions' relying-party sign-ins end");
    for t in [&here, &elsewhere] {
        assert_eq!(
            userinfo_status(&app, &t.access_token).await,
            StatusCode::UNAUTHORIZED
        );
    }
    let (status, login) = other.authorize(&authorize_url(&app, &client.id, &[])).await;
    assert_eq!(status, StatusCode::FOUND);
    assert!(
        login.starts_with("/login?flow="),
        "the other browser signs in again: {login}"
    );
}

#[tokio::test]
async fn deleting_an_account_tells_the_relying_parties() {
    let app = spawn_fast_app().await;
    let rp = TestRp::start().await;
    let state = app.state.clone();
    // A non-degree student has no grace period: deleted the day after the end date.
    let end = chrono::DateTime::from_timestamp(app.clock.now() + 9 * 3600, 0)
        .expect("date")
        .format("%Y-%m-%d")
        .to_string();
    tokio::task::spawn_blocking(move || {
        accounts::create_account(
            &state.db,
            &state.hasher,
            NewAccount {
                id: "a1890000".into(),
                name: "Chofu Hanako".into(),
                affiliation: "nondegree".into(),
                password: Some(PASSWORD.into()),
                valid_until: Some(end),
                ..Default::default()
            },
            state.clock.now(),
            &IssuePolicy::from_settings(&state.settings),
        )
        .map(drop)
    })
    .await
    .expect("task")
    .expect("account");
    let client = client_for(&app, Some(&rp)).await;
    let t = sign_in(&app, &client, "a1890000").await;

    app.clock.advance(3 * 86_400);
    let policy = LifecyclePolicy::from_settings(&app.state.settings);
    let report = run_pass(&app.state.db, &app.state.mailer, &policy, app.clock.now())
        .await
        .expect("pass");
    assert_eq!(report.deleted, 1, "{report:?}");

    let tokens = rp.wait_for_tokens(1).await;
    let claims = verify_logout_token(&app, &tokens[0], &client.id).await;
    assert_eq!(claims["sub"], t.claims["sub"]);
    assert_eq!(claims["sid"], t.claims["sid"]);
    assert_eq!(outbox(&app, &client.id).await[0].reason, "account_deleted");
}

#[tokio::test]
async fn a_relying_party_that_was_down_is_told_after_a_backoff() {
    let app = spawn_fast_app().await;
    let (rp, client, t) = signed_in_to_rp(&app).await;
    rp.set_down(true);

    let r = logout(
        &app,
        &[
            ("id_token_hint", &t.id_token),
            ("post_logout_redirect_uri", BYE),
            ("state", "st-9"),
        ],
    )
    .await;
    assert_eq!(
        r.status(),
        StatusCode::FOUND,
        "the person is not kept waiting"
    );
    assert_eq!(location(&r), format!("{BYE}?state=st-9"));

    rp.wait_for_hits(1).await;
    let row = wait_for_attempts(&app, &client.id, 1).await;
    assert!(row.delivered_at.is_none());
    assert!(
        row.last_error.as_deref().is_some_and(|e| e.contains("503")),
        "{row:?}"
    );
    assert!(
        row.next_attempt_at >= app.clock.now() + 10,
        "backoff: {row:?}"
    );
    rp.set_down(false);
    // Not retried before its time (the worker polls every 100 ms).
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(rp.hits(), 1, "no retry before the backoff ran out");

    app.clock.advance(11);
    let tokens = rp.wait_for_tokens(1).await;
    let claims = verify_logout_token(&app, &tokens[0], &client.id).await;
    assert_eq!(claims["sid"], t.claims["sid"]);
    assert_eq!(
        claims["jti"].as_str(),
        Some(row.id.as_str()),
        "jti is the outbox row"
    );
}

async fn wait_for_attempts(app: &TestApp, client_id: &str, n: i64) -> NotificationRow {
    for _ in 0..200 {
        if let Some(row) = outbox(app, client_id)
            .await
            .into_iter()
            .find(|r| r.attempts >= n)
        {
            return row;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no outbox row with {n} attempts");
}

#[tokio::test]
async fn a_notification_queued_before_a_restart_is_delivered_after_it() {
    let app = spawn_fast_app().await;
    let (rp, client, t) = signed_in_to_rp(&app).await;
    rp.set_down(true);
    let r = logout(&app, &[("id_token_hint", &t.id_token)]).await;
    assert_eq!(r.status(), StatusCode::OK);
    wait_for_attempts(&app, &client.id, 1).await;

    let app = app.restart().await;
    rp.set_down(false);
    app.clock.advance(11);
    let tokens = rp.wait_for_tokens(1).await;
    let claims = verify_logout_token(&app, &tokens[0], &client.id).await;
    assert_eq!(claims["sid"], t.claims["sid"]);
    assert_eq!(
        rp.hits(),
        2,
        "one refused try before the restart, one after"
    );
}
