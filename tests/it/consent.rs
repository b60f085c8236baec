//! Consent for third-party clients over real HTTP: the page is shown once (with the app,
//! who registered it and what each scope releases), the answer is remembered per scope,
//! Deny and `prompt=none` go back to the client as errors, campus systems never ask, and
//! withdrawing at `/account/apps` ends the app's tokens and makes it ask again.

use reqwest::StatusCode;

use crate::helpers::*;

const APP_NAME: &str = "Quiz Maker";

async fn third_party(app: &TestApp) -> TestClient {
    app.register_client(|c| {
        c.name = APP_NAME.into();
        c.require_consent = true;
    })
    .await
}

async fn get_html(app: &TestApp, path: &str) -> (StatusCode, String) {
    let r = app.browser.get(app.url(path)).send().await.expect("page");
    (r.status(), r.text().await.expect("html"))
}

async fn access_token(app: &TestApp, client: &TestClient, back: &str) -> String {
    let code = query_param(back, "code").unwrap_or_else(|| panic!("code in {back}"));
    field(&exchange_code(app, client, &code).await, "access_token")
}

#[tokio::test]
async fn consent_is_asked_once_remembered_per_scope_and_asked_again_for_more() {
    let app = spawn_app().await;
    app.create_account("a1830000", "student").await;
    let client = third_party(&app).await;
    let url = authorize_url(&app, &client.id, &[("scope", "openid profile")]);

    let ask = app.sign_in_through(&url, "a1830000", PASSWORD).await;
    assert!(ask.starts_with("/consent?flow="), "asked first: {ask}");
    let (_, page) = get_html(&app, &ask).await;
    assert!(page.contains(APP_NAME), "names the app");
    assert!(
        page.contains("Registered by the university"),
        "says who registered it"
    );
    assert!(page.contains("Your name, UEC account ID and affiliation"));
    assert!(
        page.contains("氏名、UECアカウントID、所属"),
        "in Japanese too"
    );
    assert!(!page.contains("Your e-mail address"), "only what is asked");

    let back = answer_consent(&app, &ask, "allow").await;
    assert!(back.starts_with(REDIRECT), "{back}");
    assert_eq!(query_param(&back, "state").as_deref(), Some("st-1"));
    let token = access_token(&app, &client, &back).await;
    assert_eq!(userinfo_status(&app, &token).await, StatusCode::OK);

    // Remembered: the same scopes go straight back with a code.
    let (status, again) = app.authorize(&url).await;
    assert_eq!(status, StatusCode::FOUND);
    assert!(
        again.starts_with(REDIRECT) && query_param(&again, "code").is_some(),
        "{again}"
    );
    let fewer = authorize_url(&app, &client.id, &[("scope", "openid")]);
    let (_, fewer) = app.authorize(&fewer).await;
    assert!(
        query_param(&fewer, "code").is_some(),
        "a subset needs no new consent"
    );

    // More scopes: asked again, for the new ones too.
    let more = authorize_url(&app, &client.id, &[("scope", "openid profile email")]);
    let (_, ask) = app.authorize(&more).await;
    let (_, page) = get_html(&app, &ask).await;
    assert!(page.contains("Your e-mail address"), "{page}");
    let back = answer_consent(&app, &ask, "allow").await;
    assert!(query_param(&back, "code").is_some());
    let (_, back) = app.authorize(&more).await;
    assert!(
        query_param(&back, "code").is_some(),
        "the union is remembered"
    );

    // prompt=consent asks even so.
    let forced = authorize_url(&app, &client.id, &[("prompt", "consent")]);
    let (_, ask) = app.authorize(&forced).await;
    assert!(ask.starts_with("/consent?flow="), "{ask}");
}

#[tokio::test]
async fn deny_sends_access_denied_and_an_answered_question_cannot_be_replayed() {
    let app = spawn_app().await;
    app.create_account("a1830000", "student").await;
    let client = third_party(&app).await;
    let url = authorize_url(&app, &client.id, &[]);
    let ask = app.sign_in_through(&url, "a1830000", PASSWORD).await;
    let (_, html) = get_html(&app, &ask).await;

    let back = answer_consent(&app, &ask, "deny").await;
    assert!(back.starts_with(REDIRECT), "{back}");
    assert_eq!(
        query_param(&back, "error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(query_param(&back, "state").as_deref(), Some("st-1"));
    assert_eq!(
        query_param(&back, "iss").as_deref(),
        Some(app.base.as_str())
    );
    assert!(query_param(&back, "code").is_none());

    // The same form again (now saying Allow) finds the question gone.
    let replay = post_consent(&app, &html, "allow").await;
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);
    // Denying remembers nothing: the next request asks again.
    let (_, ask) = app.authorize(&url).await;
    assert!(ask.starts_with("/consent?flow="), "{ask}");
}

#[tokio::test]
async fn the_question_belongs_to_the_browser_that_signed_in() {
    let app = spawn_app().await;
    app.create_account("a1830000", "student").await;
    let client = third_party(&app).await;
    let url = authorize_url(&app, &client.id, &[]);
    let ask = app.sign_in_through(&url, "a1830000", PASSWORD).await;
    let stranger = app.stranger_at(CAMPUS_IP);
    let r = stranger
        .browser
        .get(app.url(&ask))
        .send()
        .await
        .expect("stranger");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // A form without the CSRF token is refused too.
    let r = app
        .browser
        .post(app.url("/consent"))
        .form(&[
            ("flow", &ask[ask.find('=').expect("=") + 1..]),
            ("csrf", "x"),
            ("decision", "allow"),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // The owner's browser still gets the page.
    let (status, _) = get_html(&app, &ask).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn prompt_none_without_consent_answers_consent_required() {
    let app = spawn_app().await;
    app.create_account("a1830000", "student").await;
    let campus = app.register_client(|_| {}).await;
    let client = third_party(&app).await;
    // Signed in through a campus system: a live session, no consent for the app yet.
    let back = app
        .sign_in_through(&authorize_url(&app, &campus.id, &[]), "a1830000", PASSWORD)
        .await;
    assert!(
        query_param(&back, "code").is_some(),
        "campus systems never ask: {back}"
    );

    let url = authorize_url(&app, &client.id, &[("prompt", "none")]);
    let (status, back) = app.authorize(&url).await;
    assert_eq!(status, StatusCode::FOUND);
    assert!(back.starts_with(REDIRECT), "{back}");
    assert_eq!(
        query_param(&back, "error").as_deref(),
        Some("consent_required")
    );
    assert_eq!(query_param(&back, "state").as_deref(), Some("st-1"));
}

#[tokio::test]
async fn campus_systems_without_require_consent_never_ask() {
    let app = spawn_app().await;
    app.create_account("a1830000", "student").await;
    let campus = app.register_client(|_| {}).await;
    let code = code_for(&app, &campus, "a1830000", &[("prompt", "consent")]).await;
    assert!(!code.is_empty());
    let (_, apps) = get_html(&app, "/account/apps").await;
    assert!(apps.contains("You have not allowed any app"), "{apps}");
}

#[tokio::test]
async fn withdrawing_at_account_apps_ends_the_tokens_and_asks_again() {
    let app = spawn_app().await;
    app.create_account("a1830000", "student").await;
    let client = third_party(&app).await;
    let other = app
        .register_client(|c| {
            c.name = "Other App".into();
            c.require_consent = true;
        })
        .await;
    // offline_access: the refresh token would outlive the session; withdrawal ends it too.
    let url = authorize_url(&app, &client.id, OFFLINE_SCOPE);
    let ask = app.sign_in_through(&url, "a1830000", PASSWORD).await;
    let back = answer_consent(&app, &ask, "allow").await;
    let code = query_param(&back, "code").expect("code");
    let tokens = exchange_code(&app, &client, &code).await;
    let token = field(&tokens, "access_token");
    let (_, ask) = app.authorize(&authorize_url(&app, &other.id, &[])).await;
    let back = answer_consent(&app, &ask, "allow").await;
    let other_token = access_token(&app, &other, &back).await;
    assert_eq!(userinfo_status(&app, &token).await, StatusCode::OK);

    let (_, account) = get_html(&app, "/account").await;
    assert!(
        account.contains(r#"href="/account/apps""#),
        "linked from /account"
    );
    let (status, apps) = get_html(&app, "/account/apps").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        apps.contains(APP_NAME) && apps.contains("Other App"),
        "{apps}"
    );
    assert!(
        apps.contains("Access to the above while you are signed out"),
        "what each app may see, in words: {apps}"
    );
    let r = app
        .browser
        .post(app.url("/account/apps/withdraw"))
        .form(&[
            ("csrf", hidden_field(&apps, "csrf")),
            ("client_id", client.id.clone()),
        ])
        .send()
        .await
        .expect("withdraw");
    assert_eq!(r.status(), StatusCode::OK);
    let after = r.text().await.expect("html");
    assert!(
        !after.contains(APP_NAME) && after.contains("Other App"),
        "{after}"
    );

    assert_eq!(
        userinfo_status(&app, &token).await,
        StatusCode::UNAUTHORIZED,
        "the app's access token is refused"
    );
    let refresh = refresh_request(&app, &client, &field(&tokens, "refresh_token")).await;
    assert_eq!(
        refresh.status(),
        StatusCode::BAD_REQUEST,
        "and its refresh token"
    );
    assert_eq!(
        userinfo_status(&app, &other_token).await,
        StatusCode::OK,
        "other apps keep theirs"
    );
    let (_, ask) = app.authorize(&url).await;
    assert!(ask.starts_with("/consent?flow="), "asked again: {ask}");
    let kinds: Vec<(String, Option<String>)> = app
        .state
        .db
        .run(|conn| uec_idp::store::audit::recent(conn, 50))
        .await
        .expect("audit")
        .into_iter()
        .map(|e| (e.kind, e.client_id))
        .collect();
    for kind in ["consent_granted", "consent_withdrawn"] {
        assert!(
            kinds.contains(&(kind.to_string(), Some(client.id.clone()))),
            "{kind} audited: {kinds:?}"
        );
    }

    // Without the CSRF token nothing is withdrawn.
    let r = app
        .browser
        .post(app.url("/account/apps/withdraw"))
        .form(&[("csrf", "forged"), ("client_id", other.id.as_str())])
        .send()
        .await
        .expect("forged");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(userinfo_status(&app, &other_token).await, StatusCode::OK);
}
