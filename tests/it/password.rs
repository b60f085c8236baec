//! Password states over real HTTP: expiry, the change page, and weak passwords flagged at
//! sign-in, warned about, then forced.

use reqwest::StatusCode;

use uec_idp::clock::Clock;

use crate::helpers::*;
use crate::second_factor::{redeem, sign_in_on_campus};

const NEW_PASSWORD: &str = "plum blossoms over the tama river";
const WEAK: &str = "password1";
const DAY: i64 = 86_400;

/// Submits the change form from `who`.
async fn change(who: &Located<'_>, current: &str, new: &str, again: &str) -> (StatusCode, String) {
    let page = who.page("/account/password").await;
    let r = who
        .post_form(
            "/account/password",
            &page,
            &[
                ("current_password", current),
                ("new_password", new),
                ("new_password_again", again),
            ],
        )
        .await;
    let status = r.status();
    (status, r.text().await.expect("page"))
}

#[tokio::test]
async fn an_initial_password_expires_after_90_days() {
    let app = spawn_app().await;
    app.create_account("a1830000", "student").await;
    app.clock.advance(89 * DAY);
    let login = location(
        &app.browser
            .get(app.url("/login"))
            .send()
            .await
            .expect("login"),
    );
    assert_eq!(
        app.submit_login(&login, "a1830000", PASSWORD)
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    app.clock.advance(2 * DAY);
    let who = app.stranger_at(CAMPUS_IP);
    let login = location(
        &who.browser
            .get(app.url("/login"))
            .send()
            .await
            .expect("login"),
    );
    let r = who.submit_login(&login, "a1830000", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.expect("page").contains("expired"));
}

#[tokio::test]
async fn changing_the_password_ends_every_other_session_and_token() {
    let app = spawn_app().await;
    app.create_account("a1830000", "student").await;
    let client = app.register_client(|_| {}).await;
    // Another browser, signed in to an RP, with an access token.
    let other = app.stranger_at(CAMPUS_IP);
    // offline_access: the refresh token would outlive the session; the change ends it too.
    let offline = authorize_url(&app, &client.id, &[("scope", "openid offline_access")]);
    let back = other.sign_in_through(&offline, "a1830000", PASSWORD).await;
    let tokens = redeem(&app, &client, &back).await;
    let access = tokens["access_token"]
        .as_str()
        .expect("access token")
        .to_string();
    let userinfo = |token: String| {
        let http = app.http.clone();
        let url = app.url("/userinfo");
        async move {
            http.get(url)
                .bearer_auth(token)
                .send()
                .await
                .expect("userinfo")
                .status()
        }
    };
    assert_eq!(userinfo(access.clone()).await, StatusCode::OK);

    let me = sign_in_on_campus(&app, "a1830000").await;
    for (current, new, again, reason) in [
        (
            "wrong password here",
            NEW_PASSWORD,
            NEW_PASSWORD,
            "not correct",
        ),
        (PASSWORD, NEW_PASSWORD, "something else entirely", "differ"),
        (PASSWORD, PASSWORD, PASSWORD, "must differ"),
        (PASSWORD, WEAK, WEAK, "too easy to guess"),
        (
            PASSWORD,
            "a1830000-and-more",
            "a1830000-and-more",
            "account ID",
        ),
    ] {
        let (status, page) = change(&me, current, new, again).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{reason}");
        assert!(page.contains(reason), "{reason}: {page}");
    }
    let (status, page) = change(&me, PASSWORD, NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("was changed"), "{page}");

    // This browser stays signed in; the other one and its token are gone.
    assert!(me.page("/account").await.contains("a1830000"));
    let (status, login) = other.authorize(&authorize_url(&app, &client.id, &[])).await;
    assert_eq!(status, StatusCode::FOUND);
    assert!(
        login.starts_with("/login?flow="),
        "the other session ended: {login}"
    );
    assert_eq!(
        userinfo(access).await,
        StatusCode::UNAUTHORIZED,
        "its access token too"
    );
    let refreshed = refresh_request(&app, &client, &field(&tokens, "refresh_token")).await;
    assert_eq!(
        refreshed.status(),
        StatusCode::BAD_REQUEST,
        "and its refresh token"
    );
    // The old password is refused, the new one works.
    let r = other.submit_login(&login, "a1830000", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let back = other
        .sign_in_through(
            &authorize_url(&app, &client.id, &[]),
            "a1830000",
            NEW_PASSWORD,
        )
        .await;
    assert!(back.starts_with(REDIRECT));
}

#[tokio::test]
async fn off_campus_the_change_needs_a_second_factor() {
    let app = spawn_app().await;
    app.create_account_with_email("a1830000", "taro@example.com")
        .await;
    let campus = sign_in_on_campus(&app, "a1830000").await;
    assert!(
        campus
            .page("/account/password")
            .await
            .contains("current_password")
    );
    // The same password-only session from off campus is stepped up first.
    let off = app.at(OFF_CAMPUS_IP);
    let r = off
        .browser
        .get(app.url("/account/password"))
        .send()
        .await
        .expect("page");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(
        location(&r).starts_with("/login/second-factor"),
        "{}",
        location(&r)
    );
}

#[tokio::test]
async fn a_weak_password_is_flagged_at_sign_in_warned_about_then_forced() {
    let app = spawn_app().await;
    app.create_account_with_password("a1830000", WEAK).await;
    let client = app.register_client(|_| {}).await;
    let who = app.stranger_at(CAMPUS_IP);
    let (_, login) = who.authorize(&authorize_url(&app, &client.id, &[])).await;
    let r = who.submit_login(&login, "a1830000", WEAK).await;
    assert_eq!(r.status(), StatusCode::OK, "a warning page, not a redirect");
    let page = r.text().await.expect("page");
    assert!(
        page.contains("too weak") && page.contains("/account/password"),
        "{page}"
    );
    // "Continue for now" goes on to the RP with a code.
    let start = page
        .find(&format!("href=\"{REDIRECT}"))
        .expect("continue link")
        + "href=\"".len();
    let next = page[start..start + page[start..].find('"').expect("quote")].replace("&amp;", "&");
    assert!(redeem(&app, &client, &next).await["id_token"].is_string());

    // Past the deadline (14 days), signing in leads only to the change page: no code.
    app.clock.advance(15 * DAY);
    let fresh = app.stranger_at(CAMPUS_IP);
    let (_, login) = fresh.authorize(&authorize_url(&app, &client.id, &[])).await;
    let r = fresh.submit_login(&login, "a1830000", WEAK).await;
    assert_eq!(location(&r), "/account/password");
    let (status, to) = fresh.authorize(&authorize_url(&app, &client.id, &[])).await;
    assert_eq!(
        (status, to.as_str()),
        (StatusCode::FOUND, "/account/password"),
        "SSO gives no code either"
    );
    let (_, to) = fresh
        .authorize(&authorize_url(&app, &client.id, &[("prompt", "none")]))
        .await;
    assert_eq!(
        query_param(&to, "error").as_deref(),
        Some("interaction_required")
    );
    let (_, page) = change(&fresh, WEAK, NEW_PASSWORD, NEW_PASSWORD).await;
    assert!(page.contains("was changed"), "{page}");
    // Changed: the flag is gone and the RP gets its code again.
    let back = fresh
        .sign_in_through(
            &authorize_url(&app, &client.id, &[("prompt", "login")]),
            "a1830000",
            NEW_PASSWORD,
        )
        .await;
    assert!(back.starts_with(REDIRECT), "{back}");
}

#[tokio::test]
async fn a_strong_password_is_not_flagged_and_an_operator_can_flag_any() {
    let app = spawn_app().await;
    app.create_account("a1830000", "student").await;
    let client = app.register_client(|_| {}).await;
    let url = authorize_url(&app, &client.id, &[]);
    let back = app
        .stranger_at(CAMPUS_IP)
        .sign_in_through(&url, "a1830000", PASSWORD)
        .await;
    assert!(
        back.starts_with(REDIRECT),
        "no warning for a strong password"
    );
    let state = app.state.clone();
    let now = app.clock.now();
    tokio::task::spawn_blocking(move || {
        uec_idp::services::accounts::flag_password(&state.db, "a1830000", 7, now)
    })
    .await
    .expect("task")
    .expect("flagged");
    let who = app.stranger_at(CAMPUS_IP);
    let (_, login) = who.authorize(&url).await;
    let r = who.submit_login(&login, "a1830000", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.expect("page").contains("too weak"));
}
