//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0) over real HTTP: with a
//! hint at once, without one after a confirmation, and refusals that never redirect.

use reqwest::StatusCode;

use crate::backchannel_logout::{BYE, client_for, exchange, sign_in};
use crate::helpers::*;

async fn get(app: &TestApp, url: &str) -> reqwest::Response {
    app.browser.get(url).send().await.expect("logout request")
}

/// Whether the browser still has a session: the account page answers instead of
/// sending it to the login page.
async fn signed_in(app: &TestApp) -> bool {
    let r = get(app, &app.url("/account")).await;
    r.status() == StatusCode::OK
}

#[tokio::test]
async fn discovery_names_the_end_session_endpoint_and_back_channel_support() {
    let app = spawn_app().await;
    let doc = discovery(&app).await;
    assert_eq!(doc["end_session_endpoint"], app.url("/logout"));
    assert_eq!(doc["backchannel_logout_supported"], true);
    assert_eq!(doc["backchannel_logout_session_supported"], true);
    assert_eq!(doc["frontchannel_logout_supported"], false);
}

#[tokio::test]
async fn logout_with_a_hint_signs_out_at_once_and_returns_to_the_relying_party() {
    let app = spawn_app().await;
    app.create_account("a1830000", "student").await;
    let client = client_for(&app, None).await;
    let t = sign_in(&app, &client, "a1830000").await;
    assert!(signed_in(&app).await);
    assert_eq!(userinfo_status(&app, &t.access_token).await, StatusCode::OK);

    let r = get(
        &app,
        &logout_url(
            &app,
            &[
                ("id_token_hint", &t.id_token),
                ("post_logout_redirect_uri", BYE),
                ("state", "st 1"),
                ("ui_locales", "ja"),
            ],
        ),
    )
    .await;
    assert_eq!(r.status(), StatusCode::FOUND);
    assert_eq!(location(&r), format!("{BYE}?state=st+1"));

    assert!(!signed_in(&app).await, "the session is gone");
    let (status, login) = app.authorize(&authorize_url(&app, &client.id, &[])).await;
    assert_eq!(status, StatusCode::FOUND);
    assert!(
        login.starts_with("/login?flow="),
        "asked to sign in again: {login}"
    );
    assert_eq!(
        userinfo_status(&app, &t.access_token).await,
        StatusCode::UNAUTHORIZED,
        "the session's tokens ended with it"
    );
    let refresh = refresh_request(&app, &client, &t.refresh_token).await;
    assert_eq!(refresh.status(), StatusCode::BAD_REQUEST, "refresh too");
}

#[tokio::test]
async fn an_expired_id_token_is_still_a_good_hint() {
    let app = spawn_app().await;
    app.create_account("a1830000", "student").await;
    let client = client_for(&app, None).await;
    let t = sign_in(&app, &client, "a1830000").await;
    app.clock
        .advance(app.state.settings.tokens.id_token_ttl + 60);
    let r = get(&app, &logout_url(&app, &[("id_token_hint", &t.id_token)])).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.expect("html").contains("You are signed out"));
    assert!(!signed_in(&app).await);
}

#[tokio::test]
async fn logout_without_a_hint_asks_first_then_returns_to_the_registered_uri() {
    let app = spawn_app().await;
    app.create_account("a1830000", "student").await;
    let client = client_for(&app, None).await;
    sign_in(&app, &client, "a1830000").await;

    let r = get(
        &app,
        &logout_url(
            &app,
            &[
                ("client_id", &client.id),
                ("post_logout_redirect_uri", BYE),
                ("state", "s2"),
            ],
        ),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.expect("html");
    assert!(page.contains("Sign out of the UEC account?"), "{page}");
    assert!(page.contains("サインアウトしますか"));
    assert!(
        signed_in(&app).await,
        "nothing happens before the person confirms"
    );

    // Without the CSRF token the confirmation is refused.
    let forged = app
        .browser
        .post(app.url("/logout"))
        .form(&[("confirm", "yes"), ("csrf", "x".repeat(43).as_str())])
        .send()
        .await
        .expect("post");
    assert_eq!(forged.status(), StatusCode::BAD_REQUEST);
    assert!(signed_in(&app).await);

    let r = app
        .at(CAMPUS_IP)
        .post_form(
            "/logout",
            &page,
            &[
                ("confirm", "yes"),
                ("client_id", &hidden_field(&page, "client_id")),
                (
                    "post_logout_redirect_uri",
                    &hidden_field(&page, "post_logout_redirect_uri"),
                ),
                ("state", &hidden_field(&page, "state")),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), format!("{BYE}?state=s2"));
    assert!(!signed_in(&app).await);
}

#[tokio::test]
async fn logout_with_no_parameters_confirms_and_shows_the_signed_out_page() {
    let app = spawn_app().await;
    app.create_account("a1830000", "student").await;
    let client = client_for(&app, None).await;
    sign_in(&app, &client, "a1830000").await;
    let page = app.at(CAMPUS_IP).page("/logout").await;
    assert!(page.contains("Sign out of the UEC account?"));
    let r = app
        .at(CAMPUS_IP)
        .post_form("/logout", &page, &[("confirm", "yes")])
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.expect("html").contains("You are signed out"));
    assert!(!signed_in(&app).await);
}

#[tokio::test]
async fn a_hint_for_an_earlier_session_asks_before_ending_this_one() {
    let app = spawn_app().await;
    app.create_account("a1830000", "student").await;
    let client = client_for(&app, None).await;
    let old = sign_in(&app, &client, "a1830000").await;
    let r = get(&app, &logout_url(&app, &[("id_token_hint", &old.id_token)])).await;
    assert_eq!(r.status(), StatusCode::OK);
    sign_in(&app, &client, "a1830000").await;
    let r = get(&app, &logout_url(&app, &[("id_token_hint", &old.id_token)])).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.text()
            .await
            .expect("html")
            .contains("Sign out of the UEC account?")
    );
    assert!(signed_in(&app).await);
}

#[tokio::test]
async fn a_post_logout_redirect_uri_that_was_not_registered_is_refused_without_redirect() {
    let app = spawn_app().await;
    app.create_account("a1830000", "student").await;
    let client = client_for(&app, None).await;
    let t = sign_in(&app, &client, "a1830000").await;
    for uri in [
        "http://127.0.0.1:9/evil",
        "http://127.0.0.1:9/bye/",
        "http://127.0.0.1:9/bye?x=1",
    ] {
        let r = get(
            &app,
            &logout_url(
                &app,
                &[
                    ("id_token_hint", &t.id_token),
                    ("post_logout_redirect_uri", uri),
                ],
            ),
        )
        .await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{uri}");
        assert!(r.headers().get("location").is_none(), "never redirected");
    }
    // A redirect with no client to check it against is refused too.
    let r = get(
        &app,
        &logout_url(&app, &[("post_logout_redirect_uri", BYE)]),
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.headers().get("location").is_none());
    assert!(signed_in(&app).await, "a refused request signs nobody out");
}

#[tokio::test]
async fn a_client_id_other_than_the_hints_or_a_forged_hint_is_refused() {
    let app = spawn_app().await;
    app.create_account("a1830000", "student").await;
    let client = client_for(&app, None).await;
    let other = client_for(&app, None).await;
    let t = sign_in(&app, &client, "a1830000").await;
    let r = get(
        &app,
        &logout_url(
            &app,
            &[("id_token_hint", &t.id_token), ("client_id", &other.id)],
        ),
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(
        r.text()
            .await
            .expect("html")
            .contains("client_id does not match")
    );

    let mut parts: Vec<String> = t.id_token.split('.').map(String::from).collect();
    let sig = parts[2].clone();
    let flipped = if sig.starts_with('A') { "B" } else { "A" };
    parts[2] = format!("{flipped}{}", &sig[1..]);
    let forged = parts.join(".");
    let r = get(&app, &logout_url(&app, &[("id_token_hint", &forged)])).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = get(
        &app,
        &logout_url(
            &app,
            &[
                ("client_id", "no-such-client"),
                ("post_logout_redirect_uri", BYE),
            ],
        ),
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(signed_in(&app).await);
}

#[tokio::test]
async fn sign_out_everywhere_ends_every_session_of_the_account() {
    let app = spawn_app().await;
    app.create_account("a1830000", "student").await;
    let client = client_for(&app, None).await;
    let here = sign_in(&app, &client, "a1830000").await;
    let other = app.stranger_at(CAMPUS_IP);
    other
        .sign_in_through(&authorize_url(&app, &client.id, &[]), "a1830000", PASSWORD)
        .await;
    let page = app.at(CAMPUS_IP).page("/account").await;
    assert!(page.contains("Sign out everywhere"));
    let r = app
        .at(CAMPUS_IP)
        .post_form("/account/sign-out-everywhere", &page, &[])
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(!signed_in(&app).await);
    let (_, login) = other.authorize(&authorize_url(&app, &client.id, &[])).await;
    assert!(login.starts_with("/login?flow="), "{login}");
    assert_eq!(
        userinfo_status(&app, &here.access_token).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn an_offline_access_grant_outlives_the_logout() {
    let app = spawn_app().await;
    app.create_account("a1830000", "student").await;
    let client = client_for(&app, None).await;
    let code = code_for(&app, &client, "a1830000", OFFLINE_SCOPE).await;
    let t = exchange(&app, &client, &code).await;
    let r = get(&app, &logout_url(&app, &[("id_token_hint", &t.id_token)])).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(!signed_in(&app).await);
    assert_eq!(
        userinfo_status(&app, &t.access_token).await,
        StatusCode::OK,
        "the person allowed this grant to outlive the session"
    );
    let refresh = refresh_request(&app, &client, &t.refresh_token).await;
    assert_eq!(refresh.status(), StatusCode::OK, "and its refresh token");
}

#[tokio::test]
async fn a_posted_request_without_the_browsers_cookies_asks_first() {
    let app = spawn_app().await;
    app.create_account("a1830000", "student").await;
    let client = client_for(&app, None).await;
    let t = sign_in(&app, &client, "a1830000").await;
    // A cross-site form POST: SameSite=Lax keeps the session cookie back, so the request
    // cannot show which session it is about; the person confirms on our page.
    let r = app
        .http
        .post(app.url("/logout"))
        .form(&[
            ("id_token_hint", t.id_token.as_str()),
            ("post_logout_redirect_uri", BYE),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.expect("html");
    assert!(page.contains("Sign out of the UEC account?"), "{page}");
    assert_eq!(hidden_field(&page, "post_logout_redirect_uri"), BYE);
    assert!(signed_in(&app).await);
}
