//! The refresh-token grant: rotation, reuse detection, binding to the client, idle and
//! absolute lifetimes, `offline_access` against the browser session, and the ends that
//! come from outside (password change).

use openidconnect::{OAuth2TokenResponse, RefreshToken, Scope, TokenResponse};
use reqwest::StatusCode;
use uec_idp::store::audit;

use crate::helpers::*;

const OFFLINE: &[(&str, &str)] = &[("scope", "openid profile offline_access")];

/// A refresh that must succeed: the new token response.
async fn refreshed(app: &TestApp, client: &TestClient, token: &str) -> serde_json::Value {
    let r = refresh_request(app, client, token).await;
    assert_eq!(r.status(), StatusCode::OK, "refresh");
    r.json().await.expect("json")
}

async fn refused_with(r: reqwest::Response, error: &str) {
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = r.json().await.expect("error json");
    assert_eq!(body["error"], error, "{body}");
}

#[tokio::test]
async fn the_openidconnect_client_refreshes_and_every_use_rotates_the_token() {
    let app = spawn_app().await;
    app.create_account("a1830000", "student").await;
    let client = app.register_client(|_| {}).await;
    let first = tokens_for(&app, &client, "a1830000", OFFLINE).await;

    let (rp, http) = discovered_rp(&app, &client).await;
    let old = RefreshToken::new(field(&first, "refresh_token"));
    let second = rp
        .exchange_refresh_token(&old)
        .expect("token endpoint known")
        .request_async(&http)
        .await
        .expect("refresh accepted");
    let rotated = second.refresh_token().expect("a new refresh token");
    assert_ne!(rotated.secret(), old.secret(), "rotated");
    assert_ne!(
        second.access_token().secret(),
        &field(&first, "access_token")
    );
    let id_token = second.id_token().expect("a fresh ID token");
    let claims = id_token
        .claims(
            &rp.id_token_verifier(),
            |_: Option<&openidconnect::Nonce>| Ok(()),
        )
        .expect("the refreshed ID token validates");
    assert!(claims.nonce().is_none(), "no nonce after a refresh");
    assert_eq!(
        userinfo_status(&app, second.access_token().secret()).await,
        StatusCode::OK
    );

    // A narrower scope may be asked for, never a wider one.
    let narrow = rp
        .exchange_refresh_token(rotated)
        .expect("token endpoint known")
        .add_scope(Scope::new("openid".into()))
        .request_async(&http)
        .await
        .expect("narrowed refresh");
    let info = userinfo_json(&app, narrow.access_token().secret()).await;
    assert!(info.get("name").is_none(), "profile dropped: {info}");
    let narrowed = narrow.refresh_token().expect("refresh").secret();
    let wider = token_request(
        &app,
        &client,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", narrowed),
            ("scope", "openid email"),
        ],
    )
    .await;
    refused_with(wider, "invalid_scope").await;
    // Refused requests do not burn the token.
    refreshed(&app, &client, narrowed).await;
}

#[tokio::test]
async fn reusing_a_rotated_token_ends_the_whole_family_and_is_audited() {
    let app = spawn_app().await;
    app.create_account("a1830000", "student").await;
    let client = app.register_client(|_| {}).await;
    let first = tokens_for(&app, &client, "a1830000", OFFLINE).await;
    let r1 = field(&first, "refresh_token");
    let second: serde_json::Value = refreshed(&app, &client, &r1).await;
    let r2 = field(&second, "refresh_token");
    let access2 = field(&second, "access_token");
    assert_eq!(userinfo_status(&app, &access2).await, StatusCode::OK);

    // An attacker (or a confused client) replays the first token.
    refused_with(refresh_request(&app, &client, &r1).await, "invalid_grant").await;
    refused_with(refresh_request(&app, &client, &r2).await, "invalid_grant").await;
    assert_eq!(
        userinfo_status(&app, &access2).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        userinfo_status(&app, &field(&first, "access_token")).await,
        StatusCode::UNAUTHORIZED
    );
    let mut conn = app.state.db.conn().expect("conn");
    let events = audit::recent(&mut conn, 5).expect("audit");
    assert!(
        events
            .iter()
            .any(|e| e.kind == "refresh_token_reused" && e.client_id.as_deref() == Some(&client.id)),
        "reuse audited"
    );
}

#[tokio::test]
async fn concurrent_rotations_of_one_token_yield_at_most_one_new_token() {
    let app = spawn_app().await;
    app.create_account("a1830000", "student").await;
    let client = app.register_client(|_| {}).await;
    let first = tokens_for(&app, &client, "a1830000", OFFLINE).await;
    let r1 = field(&first, "refresh_token");
    let (a, b) = tokio::join!(
        refresh_request(&app, &client, &r1),
        refresh_request(&app, &client, &r1)
    );
    let ok = [a.status(), b.status()]
        .iter()
        .filter(|s| **s == StatusCode::OK)
        .count();
    assert!(ok <= 1, "one token, one rotation");
}

#[tokio::test]
async fn a_refresh_token_is_bound_to_its_client() {
    let app = spawn_app().await;
    app.create_account("a1830000", "student").await;
    let client = app.register_client(|_| {}).await;
    let other = app.register_client(|c| c.name = "Other RP".into()).await;
    let first = tokens_for(&app, &client, "a1830000", OFFLINE).await;
    let r1 = field(&first, "refresh_token");
    refused_with(refresh_request(&app, &other, &r1).await, "invalid_grant").await;
    let wrong_secret = TestClient {
        id: client.id.clone(),
        secret: Some("not-the-secret".into()),
    };
    let r = refresh_request(&app, &wrong_secret, &r1).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // Neither attempt cost the rightful client its token.
    refreshed(&app, &client, &r1).await;
}

#[tokio::test]
async fn idle_and_absolute_lifetimes_are_enforced() {
    let app = spawn_app_with(|s| {
        s.tokens.refresh_idle_ttl = 100;
        s.tokens.refresh_token_ttl = 250;
    })
    .await;
    app.create_account("a1830000", "student").await;
    let client = app.register_client(|_| {}).await;

    // Idle: unused for longer than refresh_idle_ttl.
    let idle = tokens_for(&app, &client, "a1830000", OFFLINE).await;
    app.clock.advance(101);
    refused_with(
        refresh_request(&app, &client, &field(&idle, "refresh_token")).await,
        "invalid_grant",
    )
    .await;

    // Absolute: used often enough, but the family is older than refresh_token_ttl.
    let (_, back) = app
        .authorize(&authorize_url(&app, &client.id, OFFLINE))
        .await;
    let code = query_param(&back, "code").expect("code from the live session");
    let mut current = field(&exchange_code(&app, &client, &code).await, "refresh_token");
    for _ in 0..2 {
        app.clock.advance(90);
        let r: serde_json::Value = refreshed(&app, &client, &current).await;
        current = field(&r, "refresh_token");
    }
    app.clock.advance(80);
    refused_with(
        refresh_request(&app, &client, &current).await,
        "invalid_grant",
    )
    .await;
}

#[tokio::test]
async fn without_offline_access_a_refresh_token_ends_with_the_browser_session() {
    let app = spawn_app().await;
    app.create_account("a1830000", "student").await;
    let client = app.register_client(|_| {}).await;
    let online = tokens_for(&app, &client, "a1830000", &[]).await;
    let r1 = field(&online, "refresh_token");
    let second: serde_json::Value = refreshed(&app, &client, &r1).await;
    let r2 = field(&second, "refresh_token");
    let (_, back) = app
        .authorize(&authorize_url(&app, &client.id, OFFLINE))
        .await;
    let code = query_param(&back, "code").expect("code");
    let offline = field(&exchange_code(&app, &client, &code).await, "refresh_token");

    // The session (10 h by default) ends; the offline token lives on.
    app.clock.advance(app.state.settings.tokens.session_ttl + 1);
    refused_with(refresh_request(&app, &client, &r2).await, "invalid_grant").await;
    assert_eq!(
        refresh_request(&app, &client, &offline).await.status(),
        StatusCode::OK
    );
}
