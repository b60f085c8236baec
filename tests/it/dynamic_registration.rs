//! RFC 7591 dynamic registration and RFC 7592 client configuration over real HTTP: the
//! operator's initial access token, the registration access token, and the RFC errors.

use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, WWW_AUTHENTICATE};
use serde_json::{Value, json};
use uec_idp::clock::Clock;

use crate::helpers::*;

/// An initial access token made through the service (as `client initial-token` does).
async fn initial_token(app: &TestApp, hours: i64, uses: i64) -> String {
    let state = app.state.clone();
    tokio::task::spawn_blocking(move || {
        uec_idp::services::registration::issue_initial_token(
            &state.db,
            hours,
            uses,
            state.clock.now(),
        )
    })
    .await
    .expect("task")
    .expect("initial token")
    .token
}

async fn post_register(app: &TestApp, token: Option<&str>, body: &Value) -> reqwest::Response {
    let mut r = app.http.post(app.url("/register")).json(body);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    r.send().await.expect("register")
}

async fn json_of(r: reqwest::Response) -> Value {
    r.json().await.expect("json body")
}

fn metadata() -> Value {
    json!({
        "client_name": "Research portal",
        "redirect_uris": ["https://research.example.org/cb", REDIRECT],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "post_logout_redirect_uris": ["https://research.example.org/bye"],
        "backchannel_logout_uri": "https://research.example.org/bc",
        "backchannel_logout_session_required": true,
        "id_token_signed_response_alg": "ES256",
        "software_statement_unknown_to_us": "ignored",
    })
}

/// A bearer-authenticated call (RFC 7592) to a client configuration URI.
async fn send_with(r: reqwest::RequestBuilder, token: &str) -> reqwest::Response {
    r.bearer_auth(token)
        .send()
        .await
        .expect("configuration call")
}

async fn config_get(app: &TestApp, uri: &str, token: &str) -> reqwest::Response {
    send_with(app.http.get(uri), token).await
}

async fn config_put(app: &TestApp, uri: &str, token: &str, body: &Value) -> reqwest::Response {
    send_with(app.http.put(uri).json(body), token).await
}

async fn config_delete(app: &TestApp, uri: &str, token: &str) -> reqwest::Response {
    send_with(app.http.delete(uri), token).await
}

fn assert_invalid_token(r: &reqwest::Response, what: &str) {
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{what}");
    let challenge = r
        .headers()
        .get(WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(
        challenge.starts_with("Bearer ") && challenge.contains(r#"error="invalid_token""#),
        "{what}: {challenge}"
    );
}

#[tokio::test]
async fn a_client_registers_reads_replaces_and_deletes_itself() {
    let app = spawn_app().await;
    assert_eq!(
        discovery(&app).await["registration_endpoint"],
        json!(app.url("/register"))
    );

    let token = initial_token(&app, 24, 1).await;
    let r = post_register(&app, Some(&token), &metadata()).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(
        r.headers().get(CACHE_CONTROL).and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let reg = json_of(r).await;
    let id = reg["client_id"].as_str().expect("client_id").to_string();
    let secret = reg["client_secret"]
        .as_str()
        .expect("client_secret")
        .to_string();
    let rat = reg["registration_access_token"]
        .as_str()
        .expect("registration token")
        .to_string();
    assert_eq!(reg["client_secret_expires_at"], json!(0));
    assert_eq!(reg["client_id_issued_at"], json!(app.clock.now()));
    assert_eq!(
        reg["registration_client_uri"],
        json!(app.url(&format!("/register/{id}")))
    );
    assert_eq!(reg["client_name"], "Research portal");
    assert_eq!(reg["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(reg["id_token_signed_response_alg"], "ES256");
    assert_eq!(reg["redirect_uris"], metadata()["redirect_uris"]);
    assert_eq!(
        reg["backchannel_logout_uri"],
        "https://research.example.org/bc"
    );
    assert!(reg.get("software_statement_unknown_to_us").is_none());
    assert_eq!(
        bogus_code_error(&app, &id, &secret).await.1,
        "invalid_grant",
        "the secret works"
    );

    let config_uri = reg["registration_client_uri"]
        .as_str()
        .expect("uri")
        .to_string();
    let read = config_get(&app, &config_uri, &rat).await;
    assert_eq!(read.status(), StatusCode::OK);
    let read = json_of(read).await;
    assert_eq!(read["client_id"], json!(id));
    assert_eq!(read["client_name"], "Research portal");
    assert!(
        read.get("client_secret").is_none(),
        "the secret is never shown again"
    );

    // RFC 7592 §2.2: a full replacement; omitted fields take their defaults.
    let r = config_put(
        &app,
        &config_uri,
        &rat,
        &json!({
            "client_id": id,
            "client_secret": secret,
            "client_name": "Research portal 2",
            "redirect_uris": ["https://research.example.org/cb2"],
            "token_endpoint_auth_method": "client_secret_post",
        }),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let replaced = json_of(r).await;
    assert_eq!(replaced["client_name"], "Research portal 2");
    assert_eq!(
        replaced["redirect_uris"],
        json!(["https://research.example.org/cb2"])
    );
    assert_eq!(replaced["id_token_signed_response_alg"], "RS256");
    assert!(replaced.get("backchannel_logout_uri").is_none());
    assert!(
        replaced.get("client_secret").is_none(),
        "the secret stays the same"
    );
    let read = json_of(config_get(&app, &config_uri, &rat).await).await;
    assert_eq!(read["token_endpoint_auth_method"], "client_secret_post");
    let post_auth = app
        .http
        .post(app.url("/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", "nope"),
            ("redirect_uri", REDIRECT),
            ("client_id", id.as_str()),
            ("client_secret", secret.as_str()),
        ])
        .send()
        .await
        .expect("token");
    assert_eq!(
        json_of(post_auth).await["error"],
        "invalid_grant",
        "same secret, new method"
    );

    let r = config_delete(&app, &config_uri, &rat).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = config_get(&app, &config_uri, &rat).await;
    assert_invalid_token(&r, "the token ends with its client");
    assert_eq!(
        bogus_code_error(&app, &id, &secret).await.1,
        "invalid_client"
    );
}

#[tokio::test]
async fn a_public_client_registers_without_a_secret() {
    let app = spawn_app().await;
    let token = initial_token(&app, 1, 1).await;
    let r = post_register(
        &app,
        Some(&token),
        &json!({"redirect_uris": ["http://127.0.0.1:8000/cb"], "token_endpoint_auth_method": "none"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let reg = json_of(r).await;
    assert!(reg.get("client_secret").is_none() && reg.get("client_secret_expires_at").is_none());
    assert_eq!(reg["token_endpoint_auth_method"], "none");
    assert_eq!(
        reg["client_name"], "127.0.0.1",
        "named after its redirect URI's host"
    );
}

#[tokio::test]
async fn registration_needs_a_live_initial_access_token() {
    let app = spawn_app().await;
    assert_invalid_token(&post_register(&app, None, &metadata()).await, "no token");
    assert_invalid_token(
        &post_register(&app, Some("made-up"), &metadata()).await,
        "unknown token",
    );

    let once = initial_token(&app, 24, 1).await;
    // A refused registration does not spend the use.
    let r = post_register(
        &app,
        Some(&once),
        &json!({"redirect_uris": ["http://evil.example/cb"]}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        post_register(&app, Some(&once), &metadata()).await.status(),
        StatusCode::CREATED
    );
    assert_invalid_token(
        &post_register(&app, Some(&once), &metadata()).await,
        "used up",
    );

    let expiring = initial_token(&app, 1, 5).await;
    app.clock.advance(3600);
    assert_invalid_token(
        &post_register(&app, Some(&expiring), &metadata()).await,
        "expired",
    );
}

#[tokio::test]
async fn two_registrations_at_once_cannot_overspend_a_token() {
    let app = spawn_app().await;
    let once = initial_token(&app, 24, 1).await;
    let body = metadata();
    let (a, b) = tokio::join!(
        post_register(&app, Some(&once), &body),
        post_register(&app, Some(&once), &body)
    );
    let mut statuses = vec![a.status(), b.status()];
    statuses.sort();
    assert_eq!(
        statuses,
        vec![StatusCode::CREATED, StatusCode::UNAUTHORIZED]
    );
}

#[tokio::test]
async fn bad_metadata_gets_the_rfc_7591_error_codes() {
    let app = spawn_app().await;
    let token = initial_token(&app, 24, 100).await;
    let with = |k: &str, v: Value| {
        let mut m = metadata();
        m[k] = v;
        m
    };
    let mut without_redirects = metadata();
    without_redirects
        .as_object_mut()
        .expect("object")
        .remove("redirect_uris");
    for (body, code) in [
        (
            with("redirect_uris", json!(["http://research.example.org/cb"])),
            "invalid_redirect_uri",
        ),
        (
            with(
                "redirect_uris",
                json!(["https://research.example.org/cb#x"]),
            ),
            "invalid_redirect_uri",
        ),
        (
            with("redirect_uris", json!(["https://*.example.org/cb"])),
            "invalid_redirect_uri",
        ),
        (with("redirect_uris", json!([])), "invalid_redirect_uri"),
        (without_redirects, "invalid_redirect_uri"),
        (
            with("response_types", json!(["token"])),
            "invalid_client_metadata",
        ),
        (
            with("grant_types", json!(["client_credentials"])),
            "invalid_client_metadata",
        ),
        (
            with("token_endpoint_auth_method", json!("private_key_jwt")),
            "invalid_client_metadata",
        ),
        (
            with("id_token_signed_response_alg", json!("HS256")),
            "invalid_client_metadata",
        ),
        (
            with(
                "backchannel_logout_uri",
                json!("http://research.example.org/bc"),
            ),
            "invalid_client_metadata",
        ),
        (
            with(
                "post_logout_redirect_uris",
                json!(["https://x.example/a#b"]),
            ),
            "invalid_client_metadata",
        ),
        (
            with("redirect_uris", json!("https://not-a-list.example/cb")),
            "invalid_client_metadata",
        ),
    ] {
        let r = post_register(&app, Some(&token), &body).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{body}");
        let err = json_of(r).await;
        assert_eq!(err["error"], code, "{body}: {err}");
        assert!(
            err["error_description"]
                .as_str()
                .is_some_and(|d| !d.is_empty())
        );
    }
    let r = app
        .http
        .post(app.url("/register"))
        .bearer_auth(&token)
        .body("not json")
        .send()
        .await
        .expect("post");
    assert_eq!(json_of(r).await["error"], "invalid_client_metadata");
    let clients = tokio::task::spawn_blocking({
        let db = app.state.db.clone();
        move || uec_idp::services::clients::list_clients(&db)
    })
    .await
    .expect("task")
    .expect("clients");
    assert!(clients.is_empty(), "nothing was registered");
}

#[tokio::test]
async fn the_configuration_endpoint_answers_only_to_the_clients_own_token() {
    let app = spawn_app().await;
    let token = initial_token(&app, 24, 2).await;
    let a = json_of(post_register(&app, Some(&token), &metadata()).await).await;
    let b = json_of(post_register(&app, Some(&token), &metadata()).await).await;
    let a_uri = a["registration_client_uri"].as_str().expect("uri");
    let b_token = b["registration_access_token"].as_str().expect("token");
    let a_token = a["registration_access_token"].as_str().expect("token");

    let r = app.http.get(a_uri).send().await.expect("get");
    assert_invalid_token(&r, "no token");
    let r = config_get(&app, a_uri, b_token).await;
    assert_invalid_token(&r, "another client's token");
    let r = config_delete(&app, a_uri, b_token).await;
    assert_invalid_token(&r, "another client's token cannot delete");
    let r = config_get(&app, &app.url("/register/no-such-client"), a_token).await;
    assert_invalid_token(&r, "unknown client looks the same");

    // The initial access token is not a registration access token.
    let r = config_get(&app, a_uri, &token).await;
    assert_invalid_token(&r, "initial token");

    let mut update = metadata();
    update["client_id"] = b["client_id"].clone();
    let r = config_put(&app, a_uri, a_token, &update).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        json_of(r).await["error"],
        "invalid_client_metadata",
        "client_id must match"
    );
    update["client_id"] = a["client_id"].clone();
    update["client_secret"] = json!("not-the-secret");
    let r = config_put(&app, a_uri, a_token, &update).await;
    assert_eq!(
        json_of(r).await["error"],
        "invalid_client_metadata",
        "client_secret must match"
    );
    update
        .as_object_mut()
        .expect("object")
        .remove("client_secret");
    update["redirect_uris"] = json!(["http://evil.example/cb"]);
    let r = config_put(&app, a_uri, a_token, &update).await;
    assert_eq!(json_of(r).await["error"], "invalid_redirect_uri");
    let read = json_of(config_get(&app, a_uri, a_token).await).await;
    assert_eq!(
        read["redirect_uris"],
        metadata()["redirect_uris"],
        "refused updates change nothing"
    );
}

#[tokio::test]
async fn the_operator_makes_initial_access_tokens_on_the_command_line() {
    let app = spawn_app().await;
    let out = cli(
        &app,
        &[
            "client",
            "initial-token",
            "--uses",
            "2",
            "--expires-in",
            "48",
            "--json",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(printed["uses"], 2);
    let token = printed["initial_access_token"].as_str().expect("token");
    assert!(
        printed["expires_at"]
            .as_i64()
            .is_some_and(|e| e > app.clock.now() + 47 * 3600)
    );
    for _ in 0..2 {
        assert_eq!(
            post_register(&app, Some(token), &metadata()).await.status(),
            StatusCode::CREATED
        );
    }
    assert_invalid_token(
        &post_register(&app, Some(token), &metadata()).await,
        "two uses only",
    );
    let out = cli(&app, &["client", "initial-token", "--uses", "0"]);
    assert!(!out.status.success());
}

/// A certified relying-party library registers itself, then signs a person in: the
/// dynamic client is third-party, so the person is asked for consent once.
#[tokio::test]
async fn the_openidconnect_client_registers_itself_and_signs_in_after_consent() {
    use openidconnect::core::CoreClientRegistrationRequest;
    use openidconnect::{
        AuthenticationFlow, AuthorizationCode, CsrfToken, Nonce, RedirectUrl, TokenResponse,
    };

    let app = spawn_app().await;
    app.create_account("a1830000", "student").await;
    let http = rp_http();
    let metadata = provider_metadata(&app, &http).await;
    let endpoint = metadata
        .registration_endpoint()
        .expect("registration endpoint advertised")
        .clone();
    let token = initial_token(&app, 1, 1).await;
    let registered = CoreClientRegistrationRequest::new(
        vec![RedirectUrl::new(REDIRECT.into()).expect("redirect")],
        Default::default(),
    )
    .set_initial_access_token(Some(openidconnect::AccessToken::new(token)))
    .register_async(&endpoint, &http)
    .await
    .expect("registration response parses");
    let rp = openidconnect::core::CoreClient::from_provider_metadata(
        metadata,
        registered.client_id().clone(),
        registered.client_secret().cloned(),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).expect("redirect"));
    let (url, _, nonce) = rp
        .authorize_url(
            AuthenticationFlow::<openidconnect::core::CoreResponseType>::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .url();
    let ask = app
        .sign_in_through(url.as_str(), "a1830000", PASSWORD)
        .await;
    let page = app.at(CAMPUS_IP).page(&ask).await;
    assert!(
        page.contains("not reviewed by the university") && page.contains("大学は確認していません"),
        "a dynamically registered app is not vouched for"
    );
    assert!(!page.contains("Registered by the university"));
    let back = answer_consent(&app, &ask, "allow").await;
    let code = query_param(&back, "code").expect("code after consent");
    let tokens = rp
        .exchange_code(AuthorizationCode::new(code))
        .expect("token endpoint known")
        .request_async(&http)
        .await
        .expect("token response");
    tokens
        .id_token()
        .expect("id token")
        .claims(&rp.id_token_verifier(), &nonce)
        .expect("ID token validates");
}
