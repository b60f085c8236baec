//! Everything that must be refused, and how: pages for untrusted redirects, RFC 6749
//! redirects and JSON errors for the rest.

use reqwest::StatusCode;

use crate::helpers::*;

async fn json(r: reqwest::Response) -> serde_json::Value {
    r.json().await.expect("JSON body")
}

#[tokio::test]
async fn an_unregistered_redirect_uri_or_unknown_client_gets_a_page_and_no_redirect() {
    let app = spawn_app().await;
    let client = app.register_client(|_| {}).await;
    let cases = [
        authorize_url(
            &app,
            &client.id,
            &[("redirect_uri", "https://evil.example/cb")],
        ),
        authorize_url(
            &app,
            &client.id,
            &[("redirect_uri", "http://127.0.0.1:9/cb/")],
        ),
        authorize_url(&app, &client.id, &[("redirect_uri", "")]),
        authorize_url(&app, "no-such-client", &[]),
        authorize_url(&app, "", &[]),
        format!("{}&client_id=again", authorize_url(&app, &client.id, &[])),
        app.url("/authorize?client_id=%ZZ"),
    ];
    for url in cases {
        let r = app.browser.get(&url).send().await.expect("authorize");
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{url}");
        assert!(
            r.headers().get("location").is_none(),
            "never redirected: {url}"
        );
        assert!(
            r.text().await.expect("page").contains("<html"),
            "an HTML page: {url}"
        );
    }
}

#[tokio::test]
async fn protocol_errors_are_redirected_to_the_registered_uri_with_state() {
    let app = spawn_app().await;
    let client = app.register_client(|_| {}).await;
    let public = app.register_client(|c| c.public = true).await;
    let cases = [
        (&client, vec![("scope", "profile")], "invalid_scope"),
        (
            &client,
            vec![("response_type", "token")],
            "unsupported_response_type",
        ),
        (&client, vec![("response_type", "")], "invalid_request"),
        (
            &client,
            vec![("code_challenge", "abc"), ("code_challenge_method", "S256")],
            "invalid_request",
        ),
        (&client, vec![("max_age", "soon")], "invalid_request"),
        (&client, vec![("prompt", "none login")], "invalid_request"),
        (
            &client,
            vec![("request", "eyJhbGciOiJub25lIn0.e30.")],
            "request_not_supported",
        ),
        (&public, vec![], "invalid_request"),
    ];
    for (c, extra, want) in cases {
        let (status, location) = app.authorize(&authorize_url(&app, &c.id, &extra)).await;
        assert_eq!(status, StatusCode::FOUND, "{extra:?}");
        assert!(location.starts_with(REDIRECT), "{extra:?}: {location}");
        assert_eq!(
            query_param(&location, "error").as_deref(),
            Some(want),
            "{extra:?}"
        );
        assert_eq!(
            query_param(&location, "state").as_deref(),
            Some("st-1"),
            "{extra:?}"
        );
    }
}

#[tokio::test]
async fn another_client_with_a_leaked_used_code_cannot_end_the_rightful_grant() {
    let app = spawn_app().await;
    app.create_account("a1830000", "student").await;
    let rightful = app.register_client(|_| {}).await;
    let other = app.register_client(|_| {}).await;
    let code = code_for(&app, &rightful, "a1830000", &[]).await;
    let access = field(&exchange_code(&app, &rightful, &code).await, "access_token");

    // The used code leaks (a log, a Referer) to another registered client.
    let stolen = code_request(&app, &other, &code).await;
    assert_eq!(stolen.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json(stolen).await["error"], "invalid_grant");
    assert_eq!(
        userinfo_status(&app, &access).await,
        StatusCode::OK,
        "another client's replay leaves the rightful client's tokens alone"
    );
}

#[tokio::test]
async fn a_replayed_code_is_refused_and_revokes_what_it_issued() {
    let app = spawn_app().await;
    app.create_account("a1830000", "student").await;
    let client = app.register_client(|_| {}).await;
    let code = code_for(&app, &client, "a1830000", &[]).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
    ];

    let first = json(token_request(&app, &client, &form).await).await;
    let access = first["access_token"]
        .as_str()
        .expect("access token")
        .to_string();
    let r = app
        .http
        .get(app.url("/userinfo"))
        .bearer_auth(&access)
        .send()
        .await
        .expect("userinfo");
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "the token works before the replay"
    );

    let second = token_request(&app, &client, &form).await;
    assert_eq!(second.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json(second).await["error"], "invalid_grant");

    let r = app
        .http
        .get(app.url("/userinfo"))
        .bearer_auth(&access)
        .send()
        .await
        .expect("userinfo");
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "the replay revoked the first token"
    );
    let challenge = r.headers()["www-authenticate"]
        .to_str()
        .expect("header")
        .to_string();
    assert!(challenge.contains("invalid_token"), "{challenge}");
}

#[tokio::test]
async fn concurrent_redemptions_of_one_code_issue_tokens_at_most_once() {
    let app = spawn_app().await;
    app.create_account("a1830000", "student").await;
    let client = app.register_client(|_| {}).await;
    let code = code_for(&app, &client, "a1830000", &[]).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
    ];
    let attempts = (0..8).map(|_| token_request(&app, &client, &form));
    let statuses: Vec<StatusCode> = futures_util::future::join_all(attempts)
        .await
        .iter()
        .map(|r| r.status())
        .collect();
    let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    assert_eq!(ok, 1, "exactly one redemption succeeds: {statuses:?}");
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::OK || *s == StatusCode::BAD_REQUEST),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn a_wrong_pkce_verifier_is_refused_and_leaves_the_code_to_its_rightful_client() {
    let app = spawn_app().await;
    app.create_account("a1830000", "student").await;
    let client = app.register_client(|c| c.public = true).await;
    let verifier = "uec-idp-test-verifier-0123456789abcdefghijk";
    let challenge = "ubbNRPUvWBcg6vGDcQPx3dOfj2YHGJwQduxdYWct50k";
    let code = code_for(
        &app,
        &client,
        "a1830000",
        &[
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    let redeem = |v: &'static str| {
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("client_id", client.id.as_str()),
            ("code_verifier", v),
        ];
        app.http.post(app.url("/token")).form(&form).send()
    };
    for wrong in ["uec-idp-test-verifier-0123456789abcdefghijl", ""] {
        let r = redeem(wrong).await.expect("token");
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{wrong:?}");
        assert_eq!(json(r).await["error"], "invalid_grant");
    }
    let r = redeem(verifier).await.expect("token");
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn bad_client_credentials_get_401_invalid_client_with_www_authenticate() {
    let app = spawn_app().await;
    app.create_account("a1830000", "student").await;
    let client = app.register_client(|_| {}).await;
    let code = code_for(&app, &client, "a1830000", &[]).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
    ];
    let wrong = TestClient {
        id: client.id.clone(),
        secret: Some("not-the-secret".into()),
    };
    let unknown = TestClient {
        id: "nobody".into(),
        secret: Some("x".into()),
    };
    for c in [&wrong, &unknown] {
        let r = token_request(&app, c, &form).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert!(
            r.headers()["www-authenticate"]
                .to_str()
                .expect("h")
                .starts_with("Basic")
        );
        assert_eq!(json(r).await["error"], "invalid_client");
    }
    // The wrong secret consumed nothing: the real client still redeems the code.
    assert_eq!(
        token_request(&app, &client, &form).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_code_is_bound_to_its_client_and_redirect_uri() {
    let app = spawn_app().await;
    app.create_account("a1830000", "student").await;
    let client = app.register_client(|_| {}).await;
    let other = app
        .register_client(|c| c.redirect_uris.push("http://127.0.0.1:9/other".into()))
        .await;
    let code = code_for(&app, &client, "a1830000", &[]).await;
    let r = code_request(&app, &other, &code).await;
    assert_eq!(
        json(r).await["error"],
        "invalid_grant",
        "another client's code"
    );
    let r = token_request(
        &app,
        &client,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:9/other"),
        ],
    )
    .await;
    assert_eq!(
        json(r).await["error"],
        "invalid_grant",
        "another redirect_uri"
    );
}

#[tokio::test]
async fn an_expired_code_is_refused() {
    let app = spawn_app().await;
    app.create_account("a1830000", "student").await;
    let client = app.register_client(|_| {}).await;
    let code = code_for(&app, &client, "a1830000", &[]).await;
    app.clock.advance(61);
    let r = code_request(&app, &client, &code).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json(r).await["error"], "invalid_grant");
}

#[tokio::test]
async fn malformed_token_requests_get_rfc6749_json_errors() {
    let app = spawn_app().await;
    let client = app.register_client(|_| {}).await;
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (
            vec![("grant_type", "password"), ("username", "x")],
            "unsupported_grant_type",
        ),
        (
            vec![("code", "x"), ("redirect_uri", REDIRECT)],
            "invalid_request",
        ),
        (
            vec![
                ("grant_type", "authorization_code"),
                ("redirect_uri", REDIRECT),
            ],
            "invalid_request",
        ),
        (
            vec![("grant_type", "authorization_code"), ("code", "x")],
            "invalid_request",
        ),
        (
            vec![
                ("grant_type", "authorization_code"),
                ("code", "a"),
                ("code", "b"),
                ("redirect_uri", REDIRECT),
            ],
            "invalid_request",
        ),
        (
            vec![
                ("grant_type", "authorization_code"),
                ("code", "no-such-code"),
                ("redirect_uri", REDIRECT),
            ],
            "invalid_grant",
        ),
    ];
    for (form, want) in cases {
        let r = token_request(&app, &client, &form).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{form:?}");
        assert_eq!(r.headers()["cache-control"], "no-store");
        let body = json(r).await;
        assert_eq!(body["error"], want, "{form:?}");
        assert!(body["error_description"].is_string());
    }
    let r = app
        .http
        .post(app.url("/token"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .expect("token");
    assert_eq!(json(r).await["error"], "invalid_request", "not a form");
}

#[tokio::test]
async fn userinfo_refuses_missing_malformed_and_foreign_tokens() {
    let app = spawn_app().await;
    let r = app
        .http
        .get(app.url("/userinfo"))
        .send()
        .await
        .expect("userinfo");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers()["www-authenticate"], "Bearer realm=\"uec-idp\"");
    for token in ["garbage", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", "a.b.c"] {
        let r = app
            .http
            .get(app.url("/userinfo"))
            .bearer_auth(token)
            .send()
            .await
            .expect("userinfo");
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{token}");
        assert!(
            r.headers()["www-authenticate"]
                .to_str()
                .expect("h")
                .contains("error=\"invalid_token\"")
        );
    }
}

#[tokio::test]
async fn an_id_token_is_not_accepted_as_an_access_token() {
    let app = spawn_app().await;
    app.create_account("a1830000", "student").await;
    let client = app
        .register_client(|c| c.id_token_alg = Some("ES256".into()))
        .await;
    let code = code_for(&app, &client, "a1830000", &[]).await;
    let body = json(code_request(&app, &client, &code).await).await;
    let id_token = body["id_token"].as_str().expect("id token");
    let r = app
        .http
        .post(app.url("/userinfo"))
        .bearer_auth(id_token)
        .send()
        .await
        .expect("userinfo");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // The access token also works from a POST form body (RFC 6750 §2.2).
    let access = body["access_token"].as_str().expect("access");
    let r = app
        .http
        .post(app.url("/userinfo"))
        .form(&[("access_token", access)])
        .send()
        .await
        .expect("userinfo");
    assert_eq!(r.status(), StatusCode::OK);
}
