//! Pushed authorization requests (RFC 9126) over real HTTP: push, authorize with the
//! `request_uri`, sign in, and redeem the code with the `openidconnect` crate as RP (it
//! cannot push, so the push itself is a plain form POST); a `request_uri` works once, for
//! a minute, for its own client only; a client that must push cannot skip it.

use openidconnect::{AuthorizationCode, Nonce, PkceCodeChallenge, RedirectUrl, TokenResponse};
use reqwest::StatusCode;

use crate::helpers::*;

/// POSTs `form` to `/par` with HTTP Basic client authentication.
async fn push(app: &TestApp, client: &TestClient, form: &[(&str, &str)]) -> reqwest::Response {
    app.http
        .post(app.url("/par"))
        .basic_auth(&client.id, client.secret.as_deref())
        .form(form)
        .send()
        .await
        .expect("par request")
}

/// A minimal pushed request for `client`, extended or overridden by `extra`.
async fn push_ok(app: &TestApp, client: &TestClient, extra: &[(&str, &str)]) -> String {
    let mut form = vec![
        ("client_id", client.id.as_str()),
        ("response_type", "code"),
        ("redirect_uri", REDIRECT),
        ("scope", "openid profile"),
        ("state", "st-par"),
    ];
    for (k, v) in extra {
        form.retain(|(name, _)| name != k);
        form.push((k, v));
    }
    let r = push(app, client, &form).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(
        r.headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let body: serde_json::Value = r.json().await.expect("par json");
    assert_eq!(body["expires_in"], 60);
    let uri = body["request_uri"].as_str().expect("request_uri");
    assert!(
        uri.starts_with("urn:ietf:params:oauth:request_uri:"),
        "{uri}"
    );
    uri.to_string()
}

fn authorize_with(app: &TestApp, client_id: &str, request_uri: &str) -> String {
    let mut url = url::Url::parse(&app.url("/authorize")).expect("url");
    url.query_pairs_mut()
        .append_pair("client_id", client_id)
        .append_pair("request_uri", request_uri);
    url.to_string()
}

/// Asserts the authorization endpoint answered with our page, not a redirect.
async fn refused_with_page(app: &TestApp, url: &str) {
    let r = app.browser.get(url).send().await.expect("authorize");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(location(&r).is_empty(), "no redirect");
    let html = r.text().await.expect("html");
    assert!(html.contains("expired or was already used"), "{html}");
}

#[tokio::test]
async fn a_pushed_request_signs_in_and_its_code_redeems_with_openidconnect() {
    let app = spawn_app().await;
    app.create_account("a1830000", "student").await;
    let client = app.register_client(|_| {}).await;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let nonce = Nonce::new_random();
    let request_uri = push_ok(
        &app,
        &client,
        &[
            ("nonce", nonce.secret()),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;

    // Only client_id and request_uri travel through the browser; other query
    // parameters are ignored (RFC 9126 §4).
    let url = format!(
        "{}&state=tampered&scope=openid+email",
        authorize_with(&app, &client.id, &request_uri)
    );
    let back = app.sign_in_through(&url, "a1830000", PASSWORD).await;
    assert!(back.starts_with(REDIRECT), "{back}");
    assert_eq!(query_param(&back, "state").as_deref(), Some("st-par"));
    let code = query_param(&back, "code").expect("code");

    let (rp, http) = discovered_rp(&app, &client).await;
    let rp = rp.set_redirect_uri(RedirectUrl::new(REDIRECT.into()).expect("redirect"));
    let tokens = rp
        .exchange_code(AuthorizationCode::new(code))
        .expect("token endpoint known")
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("token response");
    let claims = tokens
        .id_token()
        .expect("id token")
        .claims(&rp.id_token_verifier(), &nonce)
        .expect("ID token validates with the pushed nonce");
    assert!(
        claims.email().is_none(),
        "the pushed scope, not the query's"
    );

    // Single use: the same request_uri again is refused with a page.
    refused_with_page(&app, &url).await;
}

#[tokio::test]
async fn discovery_advertises_the_par_endpoint() {
    let app = spawn_app().await;
    let d = discovery(&app).await;
    assert_eq!(
        d["pushed_authorization_request_endpoint"],
        format!("{}/par", app.base)
    );
    assert_eq!(d["require_pushed_authorization_requests"], false);
}

#[tokio::test]
async fn an_expired_or_reused_request_uri_is_refused() {
    let app = spawn_app().await;
    app.create_account("a1830000", "student").await;
    let client = app.register_client(|_| {}).await;

    let expiring = push_ok(&app, &client, &[]).await;
    app.clock.advance(61);
    refused_with_page(&app, &authorize_with(&app, &client.id, &expiring)).await;

    let once = push_ok(&app, &client, &[]).await;
    let url = authorize_with(&app, &client.id, &once);
    let (status, login) = app.authorize(&url).await;
    assert_eq!(status, StatusCode::FOUND);
    assert!(login.starts_with("/login?flow="), "{login}");
    refused_with_page(&app, &url).await;
    // The first use's sign-in still completes.
    let r = app.submit_login(&login, "a1830000", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(query_param(&location(&r), "code").is_some());
}

#[tokio::test]
async fn a_request_uri_works_only_for_the_client_that_pushed_it() {
    let app = spawn_app().await;
    app.create_account("a1830000", "student").await;
    let mine = app.register_client(|_| {}).await;
    let theirs = app.register_client(|_| {}).await;
    let request_uri = push_ok(&app, &theirs, &[]).await;

    refused_with_page(&app, &authorize_with(&app, &mine.id, &request_uri)).await;
    let mut no_client = url::Url::parse(&app.url("/authorize")).expect("url");
    no_client
        .query_pairs_mut()
        .append_pair("request_uri", &request_uri);
    refused_with_page(&app, no_client.as_str()).await;
    refused_with_page(
        &app,
        &authorize_with(
            &app,
            &theirs.id,
            "urn:ietf:params:oauth:request_uri:made-up",
        ),
    )
    .await;
    // Trying it with the wrong client did not use it up.
    let (status, login) = app
        .authorize(&authorize_with(&app, &theirs.id, &request_uri))
        .await;
    assert_eq!(status, StatusCode::FOUND);
    assert!(login.starts_with("/login?flow="), "{login}");
}

#[tokio::test]
async fn a_push_needs_client_authentication_and_a_valid_request() {
    let app = spawn_app().await;
    let client = app.register_client(|_| {}).await;
    let form = [
        ("client_id", client.id.as_str()),
        ("response_type", "code"),
        ("redirect_uri", REDIRECT),
        ("scope", "openid"),
    ];

    let anonymous = app
        .http
        .post(app.url("/par"))
        .form(&form)
        .send()
        .await
        .expect("par");
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let body: serde_json::Value = anonymous.json().await.expect("json");
    assert_eq!(body["error"], "invalid_client");
    let wrong = app
        .http
        .post(app.url("/par"))
        .basic_auth(&client.id, Some("not-the-secret"))
        .form(&form)
        .send()
        .await
        .expect("par");
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);

    let bad_redirect = push(
        &app,
        &client,
        &[
            ("client_id", client.id.as_str()),
            ("response_type", "code"),
            ("redirect_uri", "https://evil.example/cb"),
            ("scope", "openid"),
        ],
    )
    .await;
    assert_eq!(bad_redirect.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = bad_redirect.json().await.expect("json");
    assert_eq!(body["error"], "invalid_request");

    let no_openid = push(
        &app,
        &client,
        &[
            ("response_type", "code"),
            ("redirect_uri", REDIRECT),
            ("scope", "profile"),
        ],
    )
    .await;
    assert_eq!(no_openid.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = no_openid.json().await.expect("json");
    assert_eq!(body["error"], "invalid_scope");

    let nested = push(
        &app,
        &client,
        &[
            ("response_type", "code"),
            ("redirect_uri", REDIRECT),
            ("scope", "openid"),
            ("request_uri", "urn:ietf:params:oauth:request_uri:x"),
        ],
    )
    .await;
    assert_eq!(nested.status(), StatusCode::BAD_REQUEST);

    let other = app.register_client(|_| {}).await;
    let mismatched = push(
        &app,
        &client,
        &[
            ("client_id", other.id.as_str()),
            ("response_type", "code"),
            ("redirect_uri", REDIRECT),
            ("scope", "openid"),
        ],
    )
    .await;
    // The Authorization header names another client than the form (RFC 6749 §2.3.1).
    assert_eq!(mismatched.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_client_that_must_push_cannot_authorize_without_it() {
    let app = spawn_app().await;
    app.create_account("a1830000", "student").await;
    let client = app.register_client(|c| c.require_par = true).await;

    let (status, back) = app.authorize(&authorize_url(&app, &client.id, &[])).await;
    assert_eq!(status, StatusCode::FOUND);
    assert!(back.starts_with(REDIRECT), "{back}");
    assert_eq!(
        query_param(&back, "error").as_deref(),
        Some("invalid_request")
    );
    assert_eq!(query_param(&back, "state").as_deref(), Some("st-1"));

    let request_uri = push_ok(&app, &client, &[]).await;
    let back = app
        .sign_in_through(
            &authorize_with(&app, &client.id, &request_uri),
            "a1830000",
            PASSWORD,
        )
        .await;
    assert!(query_param(&back, "code").is_some(), "{back}");
}

#[tokio::test]
async fn of_two_simultaneous_uses_of_a_request_uri_only_one_succeeds() {
    let app = spawn_app().await;
    let client = app.register_client(|_| {}).await;
    let request_uri = push_ok(&app, &client, &[]).await;
    let url = authorize_with(&app, &client.id, &request_uri);
    let (a, b) = (app.stranger_at(CAMPUS_IP), app.stranger_at(CAMPUS_IP));
    let (ra, rb) = tokio::join!(a.authorize(&url), b.authorize(&url));
    let mut statuses = vec![ra.0, rb.0];
    statuses.sort();
    assert_eq!(
        statuses,
        vec![StatusCode::FOUND, StatusCode::BAD_REQUEST],
        "{ra:?} {rb:?}"
    );
}
