//! The sign-in page: one answer for every failure, CSRF, throttling, cookies.

use reqwest::StatusCode;

use crate::helpers::*;

#[tokio::test]
async fn a_wrong_password_and_an_unknown_id_get_the_same_answer() {
    let app = spawn_app().await;
    app.create_account("a1830000", "student").await;
    let start = app
        .browser
        .get(app.url("/login"))
        .send()
        .await
        .expect("login");
    assert_eq!(
        start.status(),
        StatusCode::SEE_OTHER,
        "GET /login without a flow starts one"
    );
    let flow = location(&start);

    let wrong = app.submit_login(&flow, "a1830000", "wrong password").await;
    let unknown = app.submit_login(&flow, "a1999999", "wrong password").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    let message = |html: String| {
        let start = html.find("role=\"alert\"").expect("an error message");
        html[start..start + 120].to_string()
    };
    assert_eq!(
        message(wrong.text().await.expect("page")),
        message(unknown.text().await.expect("page")),
        "no account enumeration"
    );
}

#[tokio::test]
async fn signing_in_directly_lands_on_the_account_page_with_a_safe_cookie() {
    let app = spawn_app().await;
    app.create_account("a1830000", "student").await;
    let start = app
        .browser
        .get(app.url("/login"))
        .send()
        .await
        .expect("login");
    let flow = location(&start);
    let r = app.submit_login(&flow, " A1830000 ", PASSWORD).await;
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "IDs are case-insensitive and trimmed"
    );
    assert_eq!(location(&r), "/account");
    let cookie = r.headers()["set-cookie"]
        .to_str()
        .expect("cookie")
        .to_string();
    assert!(cookie.starts_with("uec_idp_session="), "{cookie}");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attribute), "{attribute} in {cookie}");
    }
    assert!(
        !cookie.contains("Secure"),
        "no Secure on a plain-http loopback issuer"
    );
    let page = app
        .browser
        .get(app.url("/account"))
        .send()
        .await
        .expect("account");
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.expect("html").contains("a1830000"));
}

#[tokio::test]
async fn the_account_page_without_a_session_sends_to_the_login_page() {
    let app = spawn_app().await;
    let r = app
        .browser
        .get(app.url("/account"))
        .send()
        .await
        .expect("account");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/login");
}

#[tokio::test]
async fn a_login_post_without_the_csrf_cookie_value_is_refused() {
    let app = spawn_app().await;
    app.create_account("a1830000", "student").await;
    let flow = location(
        &app.browser
            .get(app.url("/login"))
            .send()
            .await
            .expect("login"),
    );
    let html = app
        .browser
        .get(app.url(&flow))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    let flow_id = hidden_field(&html, "flow");
    for csrf in ["", "forged-token-forged-token-forged-token-xx"] {
        let form = [
            ("flow", flow_id.as_str()),
            ("csrf", csrf),
            ("username", "a1830000"),
            ("password", PASSWORD),
        ];
        let r = app
            .browser
            .post(app.url("/login"))
            .form(&form)
            .send()
            .await
            .expect("post");
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "csrf {csrf:?}");
        assert!(r.headers().get("set-cookie").is_none(), "no session");
    }
    // A cookie-less client (a cross-site attacker's forged post) is refused too.
    let form = [
        ("flow", flow_id.as_str()),
        ("csrf", "x"),
        ("username", "a1830000"),
        ("password", PASSWORD),
    ];
    let r = app
        .http
        .post(app.url("/login"))
        .form(&form)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn an_unknown_or_expired_flow_gets_a_page_that_says_to_start_again() {
    let app = spawn_app().await;
    let r = app
        .browser
        .get(app.url("/login?flow=nope"))
        .send()
        .await
        .expect("login");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.expect("html").contains("expired"));
}

#[tokio::test]
async fn repeated_failures_are_throttled_for_known_and_unknown_ids_alike() {
    let app = spawn_app().await;
    app.create_account("a1830000", "student").await;
    for id in ["a1830000", "a1999999"] {
        let flow = location(
            &app.browser
                .get(app.url("/login"))
                .send()
                .await
                .expect("login"),
        );
        let mut statuses = Vec::new();
        for _ in 0..6 {
            statuses.push(app.submit_login(&flow, id, "wrong").await.status());
        }
        assert_eq!(
            statuses[..5],
            [StatusCode::UNAUTHORIZED; 5],
            "{id}: {statuses:?}"
        );
        assert_eq!(
            statuses[5],
            StatusCode::TOO_MANY_REQUESTS,
            "{id}: {statuses:?}"
        );
        // Even the right password waits while throttled.
        if id == "a1830000" {
            assert_eq!(
                app.submit_login(&flow, id, PASSWORD).await.status(),
                StatusCode::TOO_MANY_REQUESTS
            );
            app.clock.advance(2);
            assert_eq!(
                app.submit_login(&flow, id, PASSWORD).await.status(),
                StatusCode::SEE_OTHER,
                "after the wait"
            );
        }
    }
}

#[tokio::test]
async fn an_expired_initial_password_cannot_sign_in() {
    let app = spawn_app().await;
    app.create_account("a1830000", "student").await;
    app.clock.advance(91 * 86_400);
    let flow = location(
        &app.browser
            .get(app.url("/login"))
            .send()
            .await
            .expect("login"),
    );
    let r = app.submit_login(&flow, "a1830000", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.expect("html").contains("expired"));
}

#[tokio::test]
async fn an_https_issuer_sends_strict_transport_security_and_an_http_one_does_not() {
    let plain = spawn_app().await;
    let r = plain
        .http
        .get(plain.url("/login?flow=x"))
        .send()
        .await
        .expect("page");
    assert!(!r.headers().contains_key("strict-transport-security"));
    let tls = spawn_app_with(|s| s.issuer = "https://idp.uec.example".into()).await;
    for path in [
        "/login?flow=x",
        "/healthz",
        "/.well-known/openid-configuration",
    ] {
        let r = tls.http.get(tls.url(path)).send().await.expect("page");
        assert_eq!(
            r.headers()
                .get("strict-transport-security")
                .and_then(|v| v.to_str().ok()),
            Some("max-age=31536000"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn pages_carry_security_headers_and_health_reports_the_database() {
    let app = spawn_app().await;
    let r = app
        .browser
        .get(app.url("/login?flow=x"))
        .send()
        .await
        .expect("page");
    for header in [
        "content-security-policy",
        "x-frame-options",
        "x-content-type-options",
        "referrer-policy",
    ] {
        assert!(r.headers().contains_key(header), "{header}");
    }
    let health = app
        .http
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("health");
    assert_eq!(health.status(), StatusCode::OK);
}
