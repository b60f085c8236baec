//! Revocation (RFC 7009) and introspection (RFC 7662) of each kind of token.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;

const OFFLINE: &[(&str, &str)] = &[("scope", "openid profile offline_access")];

async fn post(
    app: &TestApp,
    path: &str,
    client: &TestClient,
    form: &[(&str, &str)],
) -> reqwest::Response {
    app.http
        .post(app.url(path))
        .basic_auth(&client.id, client.secret.as_deref())
        .form(form)
        .send()
        .await
        .expect("request")
}

/// POSTs `form` to `path` without HTTP Basic client authentication.
async fn post_without_basic(app: &TestApp, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
    app.http
        .post(app.url(path))
        .form(form)
        .send()
        .await
        .expect("request")
}

async fn introspect(app: &TestApp, client: &TestClient, token: &str) -> Value {
    let r = post(app, "/introspect", client, &[("token", token)]).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    r.json().await.expect("introspection json")
}

async fn revoke(app: &TestApp, client: &TestClient, token: &str, hint: &str) {
    let mut form = vec![("token", token)];
    if !hint.is_empty() {
        form.push(("token_type_hint", hint));
    }
    let r = post(app, "/revoke", client, &form).await;
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "RFC 7009 §2.2: 200 in every case"
    );
}

fn inactive(v: &Value) -> bool {
    v == &serde_json::json!({"active": false})
}

/// An app with a student account and a confidential client.
async fn app_with_client() -> (TestApp, TestClient) {
    let app = spawn_app().await;
    app.create_account("a1830000", "student").await;
    let client = app.register_client(|_| {}).await;
    (app, client)
}

/// Signs the student in through `client` with offline access; returns (access, refresh).
async fn offline_tokens(app: &TestApp, client: &TestClient) -> (String, String) {
    let tokens = tokens_for(app, client, "a1830000", OFFLINE).await;
    (
        field(&tokens, "access_token"),
        field(&tokens, "refresh_token"),
    )
}

#[tokio::test]
async fn introspection_describes_live_tokens_of_the_asking_client_only() {
    let (app, client) = app_with_client().await;
    let other = app.register_client(|c| c.name = "Other".into()).await;
    let (access, refresh) = offline_tokens(&app, &client).await;

    let about = introspect(&app, &client, &access).await;
    assert_eq!(about["active"], true);
    assert_eq!(about["client_id"], client.id.as_str());
    assert_eq!(about["token_type"], "Bearer");
    assert_eq!(about["scope"], "openid profile offline_access");
    assert_eq!(about["iss"], app.base.as_str());
    assert!(about["sub"].is_string() && about["sub"] != "a1830000");
    assert!(about["exp"].as_i64().expect("exp") > about["iat"].as_i64().expect("iat"));
    let about = introspect(&app, &client, &refresh).await;
    assert_eq!(about["active"], true);
    assert_eq!(about["client_id"], client.id.as_str());

    // Another client's view, garbage, and an expired token: all simply inactive.
    assert!(inactive(&introspect(&app, &other, &access).await));
    assert!(inactive(&introspect(&app, &other, &refresh).await));
    assert!(inactive(&introspect(&app, &client, "not-a-token").await));
    assert!(inactive(&introspect(&app, &client, "a.b.c").await));
    app.clock
        .advance(app.state.settings.tokens.access_token_ttl + 1);
    assert!(inactive(&introspect(&app, &client, &access).await));
    assert_eq!(introspect(&app, &client, &refresh).await["active"], true);
}

#[tokio::test]
async fn introspection_and_revocation_refuse_bad_requests() {
    let app = spawn_app().await;
    let client = app.register_client(|_| {}).await;
    let public = app
        .register_client(|c| {
            c.public = true;
            c.name = "Public".into();
        })
        .await;
    for path in ["/introspect", "/revoke"] {
        let anonymous = post_without_basic(&app, path, &[("token", "x")]).await;
        assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED, "{path}");
        let body: Value = anonymous.json().await.expect("json");
        assert_eq!(body["error"], "invalid_client");
        let wrong = TestClient {
            id: client.id.clone(),
            secret: Some("wrong".into()),
        };
        assert_eq!(
            post(&app, path, &wrong, &[("token", "x")]).await.status(),
            StatusCode::UNAUTHORIZED
        );
        let missing = post(&app, path, &client, &[]).await;
        assert_eq!(missing.status(), StatusCode::BAD_REQUEST, "{path}");
        let body: Value = missing.json().await.expect("json");
        assert_eq!(body["error"], "invalid_request");
    }
    // A public client proves nothing, so it may revoke its tokens but not introspect.
    let r = post_without_basic(
        &app,
        "/introspect",
        &[("token", "x"), ("client_id", &public.id)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = post_without_basic(
        &app,
        "/revoke",
        &[("token", "x"), ("client_id", &public.id)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn revoking_an_access_token_ends_that_token_only() {
    let (app, client) = app_with_client().await;
    let (access, refresh) = offline_tokens(&app, &client).await;
    // The hint is only a hint: a wrong one still finds the token.
    revoke(&app, &client, &access, "refresh_token").await;
    assert_eq!(
        userinfo_status(&app, &access).await,
        StatusCode::UNAUTHORIZED
    );
    assert!(inactive(&introspect(&app, &client, &access).await));
    // The grant lives on: the refresh token still works, and its new access token too.
    let r = refresh_request(&app, &client, &refresh).await;
    assert_eq!(r.status(), StatusCode::OK);
    let fresh: Value = r.json().await.expect("json");
    assert_eq!(
        userinfo_status(&app, &field(&fresh, "access_token")).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn revoking_a_refresh_token_ends_its_access_tokens_too() {
    let (app, client) = app_with_client().await;
    let (access, refresh) = offline_tokens(&app, &client).await;
    revoke(&app, &client, &refresh, "refresh_token").await;
    assert!(inactive(&introspect(&app, &client, &refresh).await));
    assert!(inactive(&introspect(&app, &client, &access).await));
    assert_eq!(
        userinfo_status(&app, &access).await,
        StatusCode::UNAUTHORIZED
    );
    let r = refresh_request(&app, &client, &refresh).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // Revoking again, or garbage, is still a 200.
    revoke(&app, &client, &refresh, "").await;
    revoke(&app, &client, "garbage", "access_token").await;
}

#[tokio::test]
async fn a_client_cannot_revoke_another_clients_tokens() {
    let (app, client) = app_with_client().await;
    let other = app.register_client(|c| c.name = "Other".into()).await;
    let (access, refresh) = offline_tokens(&app, &client).await;
    revoke(&app, &other, &access, "").await;
    revoke(&app, &other, &refresh, "").await;
    assert_eq!(userinfo_status(&app, &access).await, StatusCode::OK);
    assert_eq!(introspect(&app, &client, &refresh).await["active"], true);
}
