//! The authorization code flow end to end, with the `openidconnect` crate as the relying
//! party: discovery → authorize → login → token → ID token validation → userinfo.

use openidconnect::core::{CoreJwsSigningAlgorithm, CoreUserInfoClaims};
use openidconnect::{
    AccessTokenHash, AuthenticationFlow, AuthorizationCode, CsrfToken, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};
use reqwest::StatusCode;
use uec_idp::clock::Clock;
use uec_idp::services::clients::NewClient;

use crate::helpers::*;

/// Runs the whole flow for `client` and checks everything a certified RP would.
async fn run_flow(
    app: &TestApp,
    client: &TestClient,
    alg: CoreJwsSigningAlgorithm,
    use_pkce: bool,
) {
    app.create_account("a1830000", "student").await;
    let (rp, http) = discovered_rp(app, client).await;
    let rp = rp.set_redirect_uri(RedirectUrl::new(REDIRECT.into()).expect("redirect"));
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = rp
        .authorize_url(
            AuthenticationFlow::<openidconnect::core::CoreResponseType>::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()));
    if use_pkce {
        request = request.set_pkce_challenge(challenge);
    }
    let (url, csrf, nonce) = request.url();

    let back = app
        .sign_in_through(url.as_str(), "a1830000", PASSWORD)
        .await;
    assert!(back.starts_with(REDIRECT), "redirected to the RP: {back}");
    assert_eq!(
        query_param(&back, "state").as_deref(),
        Some(csrf.secret().as_str()),
        "state echoed"
    );
    assert_eq!(
        query_param(&back, "iss").as_deref(),
        Some(app.base.as_str()),
        "RFC 9207 iss"
    );
    let code = query_param(&back, "code").expect("code");

    let mut exchange = rp
        .exchange_code(AuthorizationCode::new(code))
        .expect("token endpoint known");
    if use_pkce {
        exchange = exchange.set_pkce_verifier(verifier);
    }
    let tokens = exchange.request_async(&http).await.expect("token response");
    let id_token = tokens.id_token().expect("id token");
    let verifier = rp.id_token_verifier().set_allowed_algs(vec![alg]);
    let claims = id_token
        .claims(&verifier, &nonce)
        .expect("ID token validates");
    assert_eq!(claims.issuer().as_str(), app.base);
    assert!(claims.audiences().iter().any(|a| a.as_str() == client.id));
    assert_ne!(
        claims.subject().as_str(),
        "a1830000",
        "sub is not the account ID"
    );
    assert_eq!(
        claims.preferred_username().map(|u| u.as_str()),
        Some("a1830000")
    );
    assert_eq!(
        claims.email().map(|e| e.as_str()),
        Some("a1830000@edu.cc.uec.ac.jp"),
        "campus mailbox when no alias"
    );
    assert!(claims.auth_time().is_some(), "auth_time");
    assert_eq!(
        claims.auth_context_ref().map(|a| a.as_str()),
        Some("urn:uec:idp:acr:pwd")
    );
    let amr: Vec<String> = claims
        .auth_method_refs()
        .map(|v| v.iter().map(|m| m.as_str().to_string()).collect())
        .unwrap_or_default();
    assert_eq!(amr, vec!["pwd".to_string()]);
    let expected_hash = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().expect("alg"),
        id_token.signing_key(&verifier).expect("key"),
    )
    .expect("at_hash computable");
    assert_eq!(claims.access_token_hash(), Some(&expected_hash), "at_hash");
    assert!(
        tokens.refresh_token().is_some(),
        "a refresh token, bound to the session without offline_access"
    );

    let info: CoreUserInfoClaims = rp
        .user_info(
            tokens.access_token().clone(),
            Some(claims.subject().clone()),
        )
        .expect("userinfo endpoint known")
        .request_async(&http)
        .await
        .expect("userinfo");
    assert_eq!(
        info.preferred_username().map(|u| u.as_str()),
        Some("a1830000")
    );
    assert_eq!(
        info.name().and_then(|n| n.get(None)).map(|n| n.as_str()),
        Some("Test a1830000")
    );

    // The affiliation claim, read raw (it is not a standard claim).
    let raw: serde_json::Value = app
        .http
        .get(app.url("/userinfo"))
        .bearer_auth(tokens.access_token().secret())
        .send()
        .await
        .expect("userinfo")
        .json()
        .await
        .expect("json");
    assert_eq!(raw["affiliation"], "student");
}

#[tokio::test]
async fn confidential_client_completes_the_code_flow() {
    let app = spawn_app().await;
    let client = app.register_client(|_| {}).await;
    run_flow(
        &app,
        &client,
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        false,
    )
    .await;
}

#[tokio::test]
async fn public_client_with_pkce_and_es256_completes_the_code_flow() {
    let app = spawn_app().await;
    let client = app
        .register_client(|c| {
            c.public = true;
            c.id_token_alg = Some("ES256".into());
        })
        .await;
    assert!(client.secret.is_none(), "public clients have no secret");
    run_flow(
        &app,
        &client,
        CoreJwsSigningAlgorithm::EcdsaP256Sha256,
        true,
    )
    .await;
}

#[tokio::test]
async fn client_secret_post_client_completes_the_code_flow() {
    let app = spawn_app().await;
    let client = app
        .register_client(|c| c.auth_method = Some("client_secret_post".into()))
        .await;
    app.create_account("a1830000", "student").await;
    let code = code_for(&app, &client, "a1830000", &[]).await;
    let secret = client.secret.clone().expect("secret");
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("client_id", client.id.as_str()),
        ("client_secret", secret.as_str()),
    ];
    let r = app
        .http
        .post(app.url("/token"))
        .form(&form)
        .send()
        .await
        .expect("token");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let body: serde_json::Value = r.json().await.expect("json");
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["id_token"].is_string());
}

#[tokio::test]
async fn a_second_relying_party_signs_in_from_the_session_without_a_password() {
    let app = spawn_app().await;
    app.create_account("a1830000", "student").await;
    let first = app.register_client(|_| {}).await;
    let second = app.register_client(|c| c.name = "Second RP".into()).await;
    code_for(&app, &first, "a1830000", &[]).await;

    let (status, location) = app.authorize(&authorize_url(&app, &second.id, &[])).await;
    assert_eq!(status, StatusCode::FOUND);
    assert!(
        location.starts_with(REDIRECT),
        "SSO answers at once: {location}"
    );
    let code = query_param(&location, "code").expect("code");
    let r = code_request(&app, &second, &code).await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn prompt_login_and_an_exceeded_max_age_ask_for_the_password_again() {
    let app = spawn_app().await;
    app.create_account("a1830000", "student").await;
    let client = app.register_client(|_| {}).await;
    code_for(&app, &client, "a1830000", &[]).await;

    let (_, location) = app
        .authorize(&authorize_url(&app, &client.id, &[("prompt", "login")]))
        .await;
    assert!(
        location.starts_with("/login?flow="),
        "prompt=login: {location}"
    );

    let (_, location) = app
        .authorize(&authorize_url(&app, &client.id, &[("max_age", "3600")]))
        .await;
    assert!(location.starts_with(REDIRECT), "recent enough: {location}");
    app.clock.advance(120);
    let (_, location) = app
        .authorize(&authorize_url(&app, &client.id, &[("max_age", "60")]))
        .await;
    assert!(
        location.starts_with("/login?flow="),
        "max_age exceeded: {location}"
    );
}

#[tokio::test]
async fn prompt_none_answers_login_required_without_a_session_and_a_code_with_one() {
    let app = spawn_app().await;
    app.create_account("a1830000", "student").await;
    let client = app.register_client(|_| {}).await;

    let (status, location) = app
        .authorize(&authorize_url(&app, &client.id, &[("prompt", "none")]))
        .await;
    assert_eq!(status, StatusCode::FOUND);
    assert!(location.starts_with(REDIRECT), "{location}");
    assert_eq!(
        query_param(&location, "error").as_deref(),
        Some("login_required")
    );
    assert_eq!(query_param(&location, "state").as_deref(), Some("st-1"));

    code_for(&app, &client, "a1830000", &[]).await;
    let (_, location) = app
        .authorize(&authorize_url(&app, &client.id, &[("prompt", "none")]))
        .await;
    assert!(query_param(&location, "code").is_some(), "{location}");
}

#[tokio::test]
async fn login_hint_prefills_the_account_id() {
    let app = spawn_app().await;
    let client = app.register_client(|_| {}).await;
    let (_, login) = app
        .authorize(&authorize_url(
            &app,
            &client.id,
            &[("login_hint", "a1830000"), ("ui_locales", "ja en")],
        ))
        .await;
    let html = app
        .browser
        .get(app.url(&login))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    assert!(
        html.contains(r#"name="username" value="a1830000""#),
        "prefilled"
    );
}

#[tokio::test]
async fn offline_access_yields_a_refresh_token() {
    let app = spawn_app().await;
    app.create_account("a1830000", "student").await;
    let client = app.register_client(|_| {}).await;
    let body = tokens_for(&app, &client, "a1830000", OFFLINE_SCOPE).await;
    assert!(body["refresh_token"].is_string(), "{body}");
    assert!(
        body["scope"]
            .as_str()
            .is_some_and(|s| s.contains("offline_access"))
    );
}

#[tokio::test]
async fn new_client_registration_defaults_are_sane() {
    // NewClient's defaults: confidential, client_secret_basic, RS256.
    let app = spawn_app().await;
    let client = app
        .register_client(|c: &mut NewClient| c.name = "Defaults".into())
        .await;
    assert!(client.secret.as_deref().is_some_and(|s| s.len() >= 43));
}

#[tokio::test]
async fn a_disabled_client_gets_no_token_and_its_tokens_stop_working() {
    let app = spawn_app().await;
    app.create_account("a1830000", "student").await;
    let client = app.register_client(|_| {}).await;
    let access = field(
        &tokens_for(&app, &client, "a1830000", &[]).await,
        "access_token",
    );
    assert_eq!(userinfo_status(&app, &access).await, StatusCode::OK);

    // Signed in already: the next authorization is answered from the session.
    let (_, back) = app.authorize(&authorize_url(&app, &client.id, &[])).await;
    let code = query_param(&back, "code").expect("code");
    uec_idp::services::clients::set_disabled(&app.state.db, &client.id, true, app.clock.now())
        .expect("disable");
    assert_eq!(
        userinfo_status(&app, &access).await,
        StatusCode::UNAUTHORIZED
    );
    let refused = code_request(&app, &client, &code).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let body: serde_json::Value = refused.json().await.expect("error json");
    assert_eq!(body["error"], "invalid_client");

    uec_idp::services::clients::set_disabled(&app.state.db, &client.id, false, app.clock.now())
        .expect("enable");
    assert_eq!(userinfo_status(&app, &access).await, StatusCode::OK);
    assert!(
        uec_idp::services::clients::set_disabled(&app.state.db, "nope", true, 0).is_err(),
        "an unknown client is an error"
    );
}
