//! Passkeys over real HTTP with a software authenticator: registration on the account
//! pages, use as the second factor, passwordless sign-in, and the ways each must fail.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::second_factor::{MFA, amr, id_token_claims, password_step, redeem, sign_in_on_campus};
use crate::soft_authenticator::SoftAuthenticator;

/// Every `credential_id` hidden field in a page.
fn credential_ids(html: &str) -> Vec<String> {
    let marker = r#"name="credential_id" value=""#;
    html.match_indices(marker)
        .map(|(at, _)| {
            let start = at + marker.len();
            html[start..start + html[start..].find('"').expect("quote")].to_string()
        })
        .collect()
}

/// The value of `data-NAME="..."` in a page.
fn data_attr(html: &str, name: &str) -> String {
    let marker = format!("data-{name}=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no data-{name}"))
        + marker.len();
    html[start..start + html[start..].find('"').expect("quote")].to_string()
}

async fn post_json(who: &Located<'_>, path: &str, body: &Value) -> (StatusCode, Value) {
    let r = who
        .browser
        .post(who.app.url(path))
        .json(body)
        .send()
        .await
        .expect("post json");
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Registers a passkey named `name` from the account pages; returns the new page.
async fn register(who: &Located<'_>, authenticator: &mut SoftAuthenticator, name: &str) -> String {
    let page = who.page("/account/passkeys").await;
    let csrf = data_attr(&page, "csrf");
    let (status, begun) = post_json(who, "/account/passkeys/begin", &json!({ "csrf": csrf })).await;
    assert_eq!(status, StatusCode::OK, "{begun}");
    let credential = authenticator.register(&begun["options"].to_string(), &who.app.base);
    let body = json!({ "csrf": csrf, "ticket": begun["ticket"], "name": name, "credential": serde_json::from_str::<Value>(&credential).expect("json") });
    let (status, answer) = post_json(who, "/account/passkeys", &body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    who.page("/account/passkeys").await
}

/// Answers the passkey challenge of the flow on `page` (whose #passkey element has
/// data-flow); returns the finish response.
async fn use_passkey(
    who: &Located<'_>,
    page: &str,
    authenticator: &mut SoftAuthenticator,
) -> (StatusCode, Value) {
    let (csrf, flow) = (data_attr(page, "csrf"), data_attr(page, "flow"));
    let (status, options) = post_json(
        who,
        "/login/passkey/begin",
        &json!({ "csrf": csrf, "flow": flow }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{options}");
    let assertion = authenticator.sign_in(&options.to_string(), &who.app.base);
    let assertion: Value = serde_json::from_str(&assertion).expect("json");
    post_json(
        who,
        "/login/passkey/finish",
        &json!({ "csrf": csrf, "flow": flow, "credential": assertion }),
    )
    .await
}

#[tokio::test]
async fn passkeys_are_registered_named_and_removed_on_the_account_pages() {
    let app = spawn_app().await;
    app.create_account("a1830000", "student").await;
    let campus = sign_in_on_campus(&app, "a1830000").await;
    let mut phone = SoftAuthenticator::new();
    let mut key = SoftAuthenticator::new();
    register(&campus, &mut phone, "My phone").await;
    let page = register(&campus, &mut key, "YubiKey").await;
    assert!(
        page.contains("My phone") && page.contains("YubiKey"),
        "{page}"
    );
    assert!(campus.page("/account").await.contains("2 registered"));

    // The same authenticator is not offered for registration twice.
    let csrf = data_attr(&page, "csrf");
    let (_, begun) = post_json(&campus, "/account/passkeys/begin", &json!({ "csrf": csrf })).await;
    assert!(
        phone
            .try_register(&begun["options"].to_string(), &app.base)
            .is_err(),
        "excluded"
    );

    let id = hidden_field(&page, "credential_id");
    let r = campus
        .post_form(
            "/account/passkeys/rename",
            &page,
            &[("credential_id", &id), ("name", "Old phone")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let page = campus.page("/account/passkeys").await;
    assert!(page.contains("Old phone") && !page.contains("My phone"));
    let r = campus
        .post_form("/account/passkeys/remove", &page, &[("credential_id", &id)])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let page = campus.page("/account/passkeys").await;
    assert!(!page.contains("Old phone") && page.contains("YubiKey"));

    // An authenticator that does not verify its user (no PIN, no biometric) is refused.
    let (_, begun) = post_json(&campus, "/account/passkeys/begin", &json!({ "csrf": csrf })).await;
    let cred = SoftAuthenticator::without_user_verification()
        .register(&begun["options"].to_string(), &app.base);
    let body = json!({ "csrf": csrf, "ticket": begun["ticket"], "name": "x", "credential": serde_json::from_str::<Value>(&cred).expect("json") });
    assert_eq!(
        post_json(&campus, "/account/passkeys", &body).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );

    // A forged ticket registers nothing.
    let (_, begun) = post_json(&campus, "/account/passkeys/begin", &json!({ "csrf": csrf })).await;
    let cred = SoftAuthenticator::new().register(&begun["options"].to_string(), &app.base);
    let body = json!({ "csrf": csrf, "ticket": "v1.AAAA", "name": "x", "credential": serde_json::from_str::<Value>(&cred).expect("json") });
    assert_eq!(
        post_json(&campus, "/account/passkeys", &body).await.0,
        StatusCode::BAD_REQUEST
    );
    // Without the CSRF token, nothing starts.
    assert_eq!(
        post_json(
            &campus,
            "/account/passkeys/begin",
            &json!({ "csrf": "x".repeat(43) })
        )
        .await
        .0,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn off_campus_a_passkey_is_the_second_factor_and_its_answer_counts_once() {
    let app = spawn_app().await;
    app.create_account("a1830000", "student").await;
    let client = app.register_client(|_| {}).await;
    let campus = sign_in_on_campus(&app, "a1830000").await;
    let mut phone = SoftAuthenticator::new();
    register(&campus, &mut phone, "My phone").await;

    let off = app.stranger_at(OFF_CAMPUS_IP);
    let path = password_step(&off, &authorize_url(&app, &client.id, &[]), "a1830000").await;
    let page = off.page(&path).await;
    assert!(
        page.contains("data-mode=\"second-factor\""),
        "the passkey button is offered"
    );

    // Another account's passkey is refused, even from a client that ignores the allow-list.
    app.create_account("a1830001", "student").await;
    let mut stranger = SoftAuthenticator::new();
    register(
        &sign_in_on_campus(&app, "a1830001").await,
        &mut stranger,
        "Theirs",
    )
    .await;
    let (csrf, flow) = (data_attr(&page, "csrf"), data_attr(&page, "flow"));
    let (_, mut options) = post_json(
        &off,
        "/login/passkey/begin",
        &json!({ "csrf": csrf, "flow": flow }),
    )
    .await;
    options["publicKey"]["allowCredentials"] = json!([]);
    let theirs: Value =
        serde_json::from_str(&stranger.sign_in(&options.to_string(), &app.base)).expect("json");
    let (status, _) = post_json(
        &off,
        "/login/passkey/finish",
        &json!({ "csrf": csrf, "flow": flow, "credential": theirs }),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (status, answer) = use_passkey(&off, &page, &mut phone).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let next = answer["next"].as_str().expect("next");
    assert!(next.starts_with(REDIRECT), "{next}");
    let claims = id_token_claims(&redeem(&app, &client, next).await);
    assert_eq!(amr(&claims), ["pwd", "hwk", "mfa"]);
    assert_eq!(claims["acr"], MFA);
}

#[tokio::test]
async fn a_passkey_alone_signs_in_without_a_password_as_multi_factor() {
    let app = spawn_app().await;
    app.create_account("a1830000", "student").await;
    let client = app.register_client(|_| {}).await;
    let campus = sign_in_on_campus(&app, "a1830000").await;
    let mut phone = SoftAuthenticator::new();
    register(&campus, &mut phone, "My phone").await;

    let off = app.stranger_at(OFF_CAMPUS_IP);
    let (_, login) = off.authorize(&authorize_url(&app, &client.id, &[])).await;
    let page = off.page(&login).await;
    assert!(page.contains("data-mode=\"passwordless\""));
    let (status, answer) = use_passkey(&off, &page, &mut phone).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let claims =
        id_token_claims(&redeem(&app, &client, answer["next"].as_str().expect("next")).await);
    assert_eq!(amr(&claims), ["hwk", "mfa"]);
    assert_eq!(claims["acr"], MFA);
    assert_eq!(claims["sub"], redeem_sub(&app, "a1830000").await);
}

/// The `sub` the account has (from the database, not from the token under test).
async fn redeem_sub(app: &TestApp, id: &str) -> String {
    let state = app.state.clone();
    let id = id.to_string();
    state
        .db
        .run(move |conn| {
            Ok::<_, uec_idp::services::ServiceError>(uec_idp::store::accounts::find_account(
                conn, &id,
            )?)
        })
        .await
        .expect("db")
        .expect("account")
        .sub
}

#[tokio::test]
async fn a_passwordless_answer_is_refused_when_replayed_unverified_or_unknown() {
    let app = spawn_app().await;
    app.create_account("a1830000", "student").await;
    let client = app.register_client(|_| {}).await;
    let campus = sign_in_on_campus(&app, "a1830000").await;
    let mut phone = SoftAuthenticator::new();
    register(&campus, &mut phone, "My phone").await;

    let off = app.stranger_at(OFF_CAMPUS_IP);
    let (_, login) = off.authorize(&authorize_url(&app, &client.id, &[])).await;
    let page = off.page(&login).await;
    let (csrf, flow) = (data_attr(&page, "csrf"), data_attr(&page, "flow"));
    let (_, options) = post_json(
        &off,
        "/login/passkey/begin",
        &json!({ "csrf": csrf, "flow": flow }),
    )
    .await;
    let assertion: Value =
        serde_json::from_str(&phone.sign_in(&options.to_string(), &app.base)).expect("json");
    let finish = json!({ "csrf": csrf, "flow": flow, "credential": assertion });
    // Answered with the wrong origin (a phishing site relaying the challenge): refused, and
    // the challenge is spent.
    let phished: Value =
        serde_json::from_str(&phone.sign_in(&options.to_string(), "https://evil.example"))
            .expect("json");
    let (status, _) = post_json(
        &off,
        "/login/passkey/finish",
        &json!({ "csrf": csrf, "flow": flow, "credential": phished }),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = post_json(&off, "/login/passkey/finish", &finish).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the challenge was spent by the first answer"
    );

    // An authenticator that did not verify its user is not a second factor.
    let mut careless = SoftAuthenticator::new();
    register(&campus, &mut careless, "Careless").await;
    careless.set_user_verification(false);
    assert_eq!(
        use_passkey(&off, &page, &mut careless).await.0,
        StatusCode::UNAUTHORIZED
    );

    // A passkey removed from the account names nobody any more.
    let mut gone = SoftAuthenticator::new();
    let before = campus.page("/account/passkeys").await;
    let after = register(&campus, &mut gone, "Lost phone").await;
    let id = credential_ids(&after)
        .into_iter()
        .find(|id| !credential_ids(&before).contains(id))
        .expect("new id");
    let r = campus
        .post_form(
            "/account/passkeys/remove",
            &after,
            &[("credential_id", &id)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        use_passkey(&off, &page, &mut gone).await.0,
        StatusCode::UNAUTHORIZED
    );

    // The flow still works with a right answer.
    assert_eq!(use_passkey(&off, &page, &mut phone).await.0, StatusCode::OK);
}
