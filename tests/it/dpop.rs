//! DPoP (RFC 9449): tokens bound to the client's key at the token endpoint, and honoured
//! at userinfo, refresh and introspection; proofs checked for method, URL, age, replay,
//! key and nonce.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use serde_json::Value;
use uec_idp::clock::Clock;
use uec_idp::oidc::dpop::access_token_hash;
use uec_idp::oidc::dpop_key::DpopKey;

use crate::helpers::*;

const VERIFIER: &str = "uec-idp-test-verifier-0123456789abcdefghijk";
const CHALLENGE: &str = "ubbNRPUvWBcg6vGDcQPx3dOfj2YHGJwQduxdYWct50k";

/// A public client's code exchange, with `proof` as the DPoP header when given.
async fn exchange(
    app: &TestApp,
    client: &TestClient,
    code: &str,
    proof: Option<String>,
) -> reqwest::Response {
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("client_id", client.id.as_str()),
        ("code_verifier", VERIFIER),
    ];
    let mut request = app.http.post(app.url("/token")).form(&form);
    if let Some(proof) = proof {
        request = request.header("DPoP", proof);
    }
    request.send().await.expect("token request")
}

/// A code for a public client with PKCE, signing in unless the session answers.
async fn public_code(app: &TestApp, client: &TestClient) -> String {
    let url = authorize_url(
        app,
        &client.id,
        &[
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
            ("scope", "openid profile offline_access"),
        ],
    );
    let (_, mut back) = app.authorize(&url).await;
    if back.starts_with("/login") {
        back = location(&app.submit_login(&back, "a1830000", PASSWORD).await);
    }
    query_param(&back, "code").expect("code")
}

fn token_proof(app: &TestApp, key: &DpopKey) -> String {
    key.proof("POST", &app.url("/token"), app.clock.now(), None, None)
}

fn userinfo_proof(app: &TestApp, key: &DpopKey, token: &str) -> String {
    key.proof(
        "GET",
        &app.url("/userinfo"),
        app.clock.now(),
        Some(&access_token_hash(token)),
        None,
    )
}

async fn userinfo(
    app: &TestApp,
    scheme: &str,
    token: &str,
    proof: Option<String>,
) -> reqwest::Response {
    let mut request = app
        .http
        .get(app.url("/userinfo"))
        .header("Authorization", format!("{scheme} {token}"));
    if let Some(proof) = proof {
        request = request.header("DPoP", proof);
    }
    request.send().await.expect("userinfo")
}

async fn error_of(r: reqwest::Response) -> String {
    let body: Value = r.json().await.expect("error json");
    body["error"].as_str().unwrap_or_default().to_string()
}

fn payload(jwt: &str) -> Value {
    let part = jwt.split('.').nth(1).expect("payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64")).expect("json")
}

#[tokio::test]
async fn a_dpop_bound_access_token_works_only_with_a_proof_by_its_key() {
    let app = spawn_app().await;
    app.create_account("a1830000", "student").await;
    let client = app.register_client(|c| c.public = true).await;
    let key = DpopKey::generate();
    let code = public_code(&app, &client).await;
    let r = exchange(&app, &client, &code, Some(token_proof(&app, &key))).await;
    assert_eq!(r.status(), StatusCode::OK);
    let tokens: Value = r.json().await.expect("json");
    assert_eq!(tokens["token_type"], "DPoP");
    let access = field(&tokens, "access_token");
    assert_eq!(payload(&access)["cnf"]["jkt"], key.thumbprint());

    let ok = userinfo(
        &app,
        "DPoP",
        &access,
        Some(userinfo_proof(&app, &key, &access)),
    )
    .await;
    assert_eq!(ok.status(), StatusCode::OK);

    // As a bearer token, without a proof, with another key's proof, a replayed proof,
    // a stale proof, or a proof for another token: refused.
    let as_bearer = userinfo(&app, "Bearer", &access, None).await;
    assert_eq!(as_bearer.status(), StatusCode::UNAUTHORIZED);
    let challenge = as_bearer.headers()["www-authenticate"]
        .to_str()
        .expect("header")
        .to_string();
    assert!(challenge.starts_with("Bearer"), "{challenge}");
    let missing = userinfo(&app, "DPoP", &access, None).await;
    assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
    assert!(
        missing.headers()["www-authenticate"]
            .to_str()
            .expect("h")
            .starts_with("DPoP")
    );
    assert_eq!(error_of(missing).await, "invalid_dpop_proof");
    let thief = DpopKey::generate();
    let wrong_key = userinfo(
        &app,
        "DPoP",
        &access,
        Some(userinfo_proof(&app, &thief, &access)),
    )
    .await;
    assert_eq!(wrong_key.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_of(wrong_key).await, "invalid_token");
    let proof = userinfo_proof(&app, &key, &access);
    assert_eq!(
        userinfo(&app, "DPoP", &access, Some(proof.clone()))
            .await
            .status(),
        StatusCode::OK
    );
    let replayed = userinfo(&app, "DPoP", &access, Some(proof)).await;
    assert_eq!(replayed.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_of(replayed).await, "invalid_dpop_proof");
    let stale = key.proof(
        "GET",
        &app.url("/userinfo"),
        app.clock.now() - 120,
        Some(&access_token_hash(&access)),
        None,
    );
    assert_eq!(
        error_of(userinfo(&app, "DPoP", &access, Some(stale)).await).await,
        "invalid_dpop_proof"
    );
    let other_token = key.proof(
        "GET",
        &app.url("/userinfo"),
        app.clock.now(),
        Some(&access_token_hash("another token")),
        None,
    );
    assert_eq!(
        error_of(userinfo(&app, "DPoP", &access, Some(other_token)).await).await,
        "invalid_dpop_proof"
    );
}

#[tokio::test]
async fn the_token_endpoint_refuses_bad_proofs_and_keeps_the_code() {
    let app = spawn_app().await;
    app.create_account("a1830000", "student").await;
    let client = app.register_client(|c| c.public = true).await;
    let key = DpopKey::generate();
    let code = public_code(&app, &client).await;
    let now = app.clock.now();
    let bad = [
        key.proof("GET", &app.url("/token"), now, None, None),
        key.proof("POST", &app.url("/userinfo"), now, None, None),
        key.proof("POST", &app.url("/token"), now - 300, None, None),
        key.proof("POST", &app.url("/token"), now + 300, None, None),
        "not-a-jwt".to_string(),
    ];
    for proof in bad {
        let r = exchange(&app, &client, &code, Some(proof)).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert_eq!(error_of(r).await, "invalid_dpop_proof");
    }
    let proof = token_proof(&app, &key);
    let r = exchange(&app, &client, &code, Some(proof.clone())).await;
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "the code survived the bad proofs"
    );
    // The same proof again is a replay, whatever it comes with.
    let code = public_code(&app, &client).await;
    let r = exchange(&app, &client, &code, Some(proof)).await;
    assert_eq!(error_of(r).await, "invalid_dpop_proof");
}

#[tokio::test]
async fn a_public_clients_refresh_tokens_stay_with_its_key() {
    let app = spawn_app().await;
    app.create_account("a1830000", "student").await;
    let client = app.register_client(|c| c.public = true).await;
    let key = DpopKey::generate();
    let code = public_code(&app, &client).await;
    let tokens: Value = exchange(&app, &client, &code, Some(token_proof(&app, &key)))
        .await
        .json()
        .await
        .expect("json");
    let refresh = field(&tokens, "refresh_token");
    let send = |proof: Option<String>| {
        let mut request = app.http.post(app.url("/token")).form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.as_str()),
            ("client_id", client.id.as_str()),
        ]);
        if let Some(proof) = proof {
            request = request.header("DPoP", proof);
        }
        request.send()
    };
    let without = send(None).await.expect("refresh");
    assert_eq!(error_of(without).await, "invalid_dpop_proof");
    let thief = DpopKey::generate();
    let stolen = send(Some(token_proof(&app, &thief)))
        .await
        .expect("refresh");
    assert_eq!(error_of(stolen).await, "invalid_dpop_proof");
    let r = send(Some(token_proof(&app, &key))).await.expect("refresh");
    assert_eq!(r.status(), StatusCode::OK);
    let fresh: Value = r.json().await.expect("json");
    assert_eq!(fresh["token_type"], "DPoP");
    assert_eq!(
        payload(&field(&fresh, "access_token"))["cnf"]["jkt"],
        key.thumbprint()
    );
}

#[tokio::test]
async fn a_dpop_bound_client_gets_no_bearer_token_and_introspection_shows_the_key() {
    let app = spawn_app().await;
    app.create_account("a1830000", "student").await;
    let client = app.register_client(|c| c.dpop_bound = true).await;
    let code = code_for(&app, &client, "a1830000", &[]).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
    ];
    let r = token_request(&app, &client, &form).await;
    assert_eq!(error_of(r).await, "invalid_dpop_proof");
    let key = DpopKey::generate();
    let r = app
        .http
        .post(app.url("/token"))
        .basic_auth(&client.id, client.secret.as_deref())
        .header("DPoP", token_proof(&app, &key))
        .form(&form)
        .send()
        .await
        .expect("token");
    assert_eq!(r.status(), StatusCode::OK, "the code was kept");
    let tokens: Value = r.json().await.expect("json");
    let about: Value = app
        .http
        .post(app.url("/introspect"))
        .basic_auth(&client.id, client.secret.as_deref())
        .form(&[("token", field(&tokens, "access_token").as_str())])
        .send()
        .await
        .expect("introspect")
        .json()
        .await
        .expect("json");
    assert_eq!(about["active"], true);
    assert_eq!(about["token_type"], "DPoP");
    assert_eq!(about["cnf"]["jkt"], key.thumbprint());
}

#[tokio::test]
async fn when_the_server_asks_a_proof_must_carry_its_nonce() {
    let app = spawn_app_with(|s| s.tokens.dpop_require_nonce = true).await;
    app.create_account("a1830000", "student").await;
    let client = app.register_client(|c| c.public = true).await;
    let key = DpopKey::generate();
    let code = public_code(&app, &client).await;
    let r = exchange(&app, &client, &code, Some(token_proof(&app, &key))).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let nonce = r.headers()["dpop-nonce"]
        .to_str()
        .expect("nonce")
        .to_string();
    assert_eq!(error_of(r).await, "use_dpop_nonce");
    let wrong = key.proof(
        "POST",
        &app.url("/token"),
        app.clock.now(),
        None,
        Some("made-up"),
    );
    let r = exchange(&app, &client, &code, Some(wrong)).await;
    assert_eq!(error_of(r).await, "use_dpop_nonce");
    let right = key.proof(
        "POST",
        &app.url("/token"),
        app.clock.now(),
        None,
        Some(&nonce),
    );
    let r = exchange(&app, &client, &code, Some(right)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let access = field(&r.json::<Value>().await.expect("json"), "access_token");
    // Userinfo asks too, with a 401 and the header.
    let r = userinfo(
        &app,
        "DPoP",
        &access,
        Some(userinfo_proof(&app, &key, &access)),
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.headers().contains_key("dpop-nonce"));
    let proof = key.proof(
        "GET",
        &app.url("/userinfo"),
        app.clock.now(),
        Some(&access_token_hash(&access)),
        Some(&nonce),
    );
    assert_eq!(
        userinfo(&app, "DPoP", &access, Some(proof)).await.status(),
        StatusCode::OK
    );
}
