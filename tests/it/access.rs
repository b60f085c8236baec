//! Relying-party access rules over real HTTP: compliance-gated relying parties refuse a
//! restricted account (others and the account pages do not), an affiliation-limited one
//! refuses other affiliations with a page and never a code; progression keeps the old
//! account working and moves the e-mail alias.

use diesel::prelude::*;
use reqwest::StatusCode;
use uec_idp::services::accounts::{self, IssuePolicy, NewAccount};
use uec_idp::services::compliance;
use uec_idp::store::schema::grants;

use crate::helpers::{
    CAMPUS_IP, OFFLINE_SCOPE, PASSWORD, REDIRECT, TestApp, TestClient, authorize_url,
    exchange_code, field, query_param, refresh_request, spawn_app_with, tokens_for, userinfo_json,
};

const DAY: i64 = 86_400;

/// An app whose initial passwords outlive the 90-day compliance period.
async fn app() -> TestApp {
    spawn_app_with(|s| s.passwords.initial_password_days = 365).await
}

async fn issue(app: &TestApp, new: NewAccount) {
    let state = app.state.clone();
    tokio::task::spawn_blocking(move || {
        accounts::create_account(
            &state.db,
            &state.hasher,
            NewAccount {
                name: format!("Test {}", new.id),
                password: Some(PASSWORD.into()),
                ..new
            },
            state.clock.now(),
            &IssuePolicy::from_settings(&state.settings),
        )
        .expect("account created");
    })
    .await
    .expect("create task");
}

fn account(id: &str, affiliation: &str) -> NewAccount {
    NewAccount {
        id: id.into(),
        affiliation: affiliation.into(),
        ..Default::default()
    }
}

async fn grants_of(app: &TestApp, account_id: &str) -> i64 {
    let id = account_id.to_string();
    app.state
        .db
        .run(move |conn| {
            Ok::<_, uec_idp::store::StoreError>(
                grants::table
                    .filter(grants::account_id.eq(id))
                    .count()
                    .get_result::<i64>(conn)?,
            )
        })
        .await
        .expect("count grants")
}

/// Signs in through `client` and returns where the browser is sent after the password.
async fn sign_in_via(app: &TestApp, client: &TestClient, id: &str) -> String {
    app.sign_in_through(&authorize_url(app, &client.id, &[]), id, PASSWORD)
        .await
}

async fn refusal_page(app: &TestApp, path: &str) -> (StatusCode, String) {
    let r = app
        .browser
        .get(app.url(path))
        .send()
        .await
        .expect("refusal page");
    (r.status(), r.text().await.expect("html"))
}

#[tokio::test]
async fn a_restricted_account_is_refused_only_by_a_compliance_gated_relying_party() {
    let app = app().await;
    issue(&app, account("a1830000", "student")).await;
    let gated = app
        .register_client(|c| {
            c.name = "Academic information system".into();
            c.requires_compliance = true;
        })
        .await;
    let plain = app.register_client(|c| c.name = "WebClass".into()).await;

    // Within the 90 days nothing is restricted yet.
    let back = sign_in_via(&app, &gated, "a1830000").await;
    assert!(back.starts_with(REDIRECT) && query_param(&back, "code").is_some());

    app.clock.advance(91 * DAY);
    let back = sign_in_via(&app, &gated, "a1830000").await;
    assert!(back.starts_with("/access-refused?"), "went to {back}");
    assert_eq!(grants_of(&app, "a1830000").await, 1, "no new code");
    let (status, page) = refusal_page(&app, &back).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(page.contains("Academic information system"));
    assert!(page.contains("Sign the Pledge for Using the UEC Information Systems"));
    assert!(page.contains("情報倫理e-ラーニング(INFOSS)を受講してください"));
    assert!(
        page.contains("error=access_denied"),
        "a link back to the relying party with access_denied"
    );

    // The same session: the live-session path refuses too, prompt=none gets access_denied,
    // and an ordinary relying party and the account page are open.
    let (status, to) = app.authorize(&authorize_url(&app, &gated.id, &[])).await;
    assert_eq!(status, StatusCode::FOUND);
    assert!(to.starts_with("/access-refused?"), "went to {to}");
    let (_, to) = app
        .authorize(&authorize_url(&app, &gated.id, &[("prompt", "none")]))
        .await;
    assert!(to.starts_with(REDIRECT), "{to}");
    assert_eq!(query_param(&to, "error").as_deref(), Some("access_denied"));
    assert_eq!(query_param(&to, "code"), None);
    let (_, to) = app.authorize(&authorize_url(&app, &plain.id, &[])).await;
    assert!(
        query_param(&to, "code").is_some(),
        "ordinary RP admits: {to}"
    );
    let account_page = app.at(CAMPUS_IP).page("/account").await;
    assert!(account_page.contains("Your account is restricted"));
    assert!(account_page.contains("INFOSS"));

    // Once the ITC records both completions, the gated relying party admits the account.
    let state = app.state.clone();
    let today = chrono::DateTime::from_timestamp(app.state.clock.now() + 9 * 3600, 0)
        .expect("date")
        .format("%Y-%m-%d")
        .to_string();
    let csv = format!("id,pledge_completed,infoss_completed\na1830000,{today},{today}\n");
    let report = tokio::task::spawn_blocking(move || {
        compliance::import(&state.db, &csv, state.clock.now()).expect("import")
    })
    .await
    .expect("import task");
    assert_eq!((report.recorded, report.refused.len()), (1, 0));
    let (status, page) = refusal_page(&app, &back).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Your account is admitted now"));
    let (_, to) = app.authorize(&authorize_url(&app, &gated.id, &[])).await;
    assert!(query_param(&to, "code").is_some(), "admitted now: {to}");
}

#[tokio::test]
async fn a_refresh_token_stops_working_when_the_account_falls_outside_the_access_rules() {
    let app = spawn_app_with(|s| {
        s.passwords.initial_password_days = 365;
        s.tokens.refresh_idle_ttl = 200 * DAY;
        s.tokens.refresh_token_ttl = 200 * DAY;
    })
    .await;
    issue(&app, account("a1830000", "student")).await;
    let gated = app.register_client(|c| c.requires_compliance = true).await;
    let plain = app.register_client(|_| {}).await;
    let gated_tokens = tokens_for(&app, &gated, "a1830000", OFFLINE_SCOPE).await;
    // The same browser session answers the second app at once (SSO).
    let (_, back) = app
        .authorize(&authorize_url(&app, &plain.id, OFFLINE_SCOPE))
        .await;
    let code = query_param(&back, "code").expect("code by SSO");
    let plain_tokens = exchange_code(&app, &plain, &code).await;
    let token = |t: &serde_json::Value| t["refresh_token"].as_str().expect("rt").to_string();

    // Restricted after 90 days without pledge and INFOSS: the gated app's refresh token
    // is refused as a sign-in would be; an ordinary app's keeps working.
    app.clock.advance(91 * DAY);
    let r = refresh_request(&app, &gated, &token(&gated_tokens)).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = r.json().await.expect("json");
    assert_eq!(body["error"], "invalid_grant");
    let r = refresh_request(&app, &plain, &token(&plain_tokens)).await;
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "an ordinary relying party admits"
    );
}

#[tokio::test]
async fn a_staff_only_relying_party_refuses_a_student_with_a_page_and_no_code() {
    let app = app().await;
    issue(&app, account("a1830000", "student")).await;
    issue(&app, account("s1410000", "staff")).await;
    let travel = app
        .register_client(|c| {
            c.name = "Travel expenses".into();
            c.allow_affiliations = vec!["staff".into(), "faculty".into()];
        })
        .await;

    let back = sign_in_via(&app, &travel, "a1830000").await;
    assert!(
        back.starts_with("/access-refused?"),
        "never redirected to the RP: {back}"
    );
    assert_eq!(grants_of(&app, "a1830000").await, 0, "no code was issued");
    let (status, page) = refusal_page(&app, &back).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(page.contains("Travel expenses does not admit your account"));
    assert!(page.contains("It admits only: staff, faculty"));
    let link = format!("{REDIRECT}?error=access_denied");
    assert!(page.contains(&link), "link back: {page}");
    assert!(page.contains("state=st-1"));

    // The page cannot be turned into a link to somewhere else.
    let forged = back.replace("127.0.0.1%3A9", "evil.example");
    let (_, page) = refusal_page(&app, &forged).await;
    assert!(!page.contains("evil.example") && !page.contains("access_denied"));

    // A staff account (in another browser) gets its code.
    let staff = app.stranger_at(CAMPUS_IP);
    let back = staff
        .sign_in_through(&authorize_url(&app, &travel.id, &[]), "s1410000", PASSWORD)
        .await;
    assert!(query_param(&back, "code").is_some(), "{back}");
}

#[tokio::test]
async fn progression_keeps_the_old_account_working_and_moves_the_alias() {
    let app = app().await;
    issue(
        &app,
        NewAccount {
            email_alias: Some("taro.chofu@uec.ac.jp".into()),
            valid_until: Some("2030-03-31".into()),
            ..account("a1830000", "student")
        },
    )
    .await;
    issue(
        &app,
        NewAccount {
            previous: Some("a1830000".into()),
            ..account("g2430000", "graduate")
        },
    )
    .await;
    let db = app.state.db.clone();
    let (old, new) = tokio::task::spawn_blocking(move || {
        (
            accounts::show_account(&db, "a1830000")
                .expect("show")
                .expect("old"),
            accounts::show_account(&db, "g2430000")
                .expect("show")
                .expect("new"),
        )
    })
    .await
    .expect("show task");
    assert_eq!(old.account.email_alias, None);
    assert_eq!(old.successors, vec!["g2430000".to_string()]);
    assert!(old.account.valid_until.is_some(), "keeps its own end date");
    assert_eq!(
        new.account.email_alias.as_deref(),
        Some("taro.chofu@uec.ac.jp")
    );
    assert_eq!(
        new.account.previous_account_id.map(|p| p.to_string()),
        Some("a1830000".into())
    );

    // Both accounts sign in; the e-mail claim follows the alias.
    let rp = app.register_client(|_| {}).await;
    let email_of = |id: &'static str| {
        let app = &app;
        let rp = &rp;
        async move {
            let browser = app.stranger_at(CAMPUS_IP);
            let back = browser
                .sign_in_through(&authorize_url(app, &rp.id, &[]), id, PASSWORD)
                .await;
            let code = query_param(&back, "code").expect("code");
            let tokens = exchange_code(app, rp, &code).await;
            let info = userinfo_json(app, &field(&tokens, "access_token")).await;
            info["email"].as_str().unwrap_or_default().to_string()
        }
    };
    assert_eq!(email_of("g2430000").await, "taro.chofu@uec.ac.jp");
    assert_eq!(email_of("a1830000").await, "a1830000@edu.cc.uec.ac.jp");
}
