//! Sign-in and step-up flows belong to the browser that began them (issue #12 item 1), and a
//! consent answered from elsewhere is held to the policy of where it is answered (item 7).
//! Each test is an attack over real HTTP, tried as an outsider would.

use std::sync::Arc;

use reqwest::StatusCode;
use reqwest::cookie::{CookieStore, Jar};
use uec_idp::clock::Clock;
use uec_idp::domain::second_factor::totp;

use crate::helpers::*;
use crate::second_factor::{
    MFA, amr, id_token_claims, password_step, redeem, set_up_totp, sign_in_on_campus, submit_code,
};

const VICTIM: &str = "a1830000";
const ATTACKER: &str = "a1830001";
const EXPIRED: &str = "This sign-in has expired";

/// A browser with its own cookie jar `jar`, at `ip`.
fn browser<'a>(app: &'a TestApp, jar: &Arc<Jar>, ip: &str) -> Located<'a> {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("x-forwarded-for", ip.parse().expect("header value"));
    Located {
        app,
        browser: reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .default_headers(headers)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("browser"),
    }
}

/// The value of the session cookie in `jar`, if any.
fn session_in(app: &TestApp, jar: &Jar) -> Option<String> {
    let url = url::Url::parse(&app.base).expect("base url");
    let header = jar.cookies(&url)?;
    header
        .to_str()
        .ok()?
        .split("; ")
        .find_map(|pair| pair.strip_prefix("uec_idp_session=").map(str::to_string))
}

/// A fresh jar holding only `session` as the session cookie (a copied cookie).
fn jar_with_session(app: &TestApp, session: &str) -> Arc<Jar> {
    let jar = Arc::new(Jar::default());
    let url = url::Url::parse(&app.base).expect("base url");
    jar.add_cookie_str(&format!("uec_idp_session={session}; Path=/"), &url);
    jar
}

/// Signs `account` in at `/login` directly in `who`'s browser.
async fn sign_in_directly(who: &Located<'_>, account: &str) {
    let start = who
        .browser
        .get(who.app.url("/login"))
        .send()
        .await
        .expect("login");
    let r = who.submit_login(&location(&start), account, PASSWORD).await;
    assert_eq!(location(&r), "/account", "signed in");
}

async fn get(who: &Located<'_>, path: &str) -> reqwest::Response {
    who.browser
        .get(who.app.url(path))
        .send()
        .await
        .expect("get")
}

/// POSTs `fields` (and `csrf` from this browser's own page `csrf_page`) to `path`.
async fn post(
    who: &Located<'_>,
    path: &str,
    csrf_page: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    who.post_form(path, csrf_page, fields).await
}

/// A page of `who`'s own that carries its CSRF token: its own login form.
async fn own_csrf_page(who: &Located<'_>) -> String {
    let start = get(who, "/login").await;
    who.page(&location(&start)).await
}

async fn assert_expired(r: reqwest::Response, what: &str) {
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{what}");
    let body = r.text().await.expect("body");
    assert!(
        body.contains(EXPIRED),
        "{what}: the expired answer, got {body}"
    );
}

fn flow_of(path: &str) -> String {
    path.split("flow=")
        .nth(1)
        .and_then(|rest| rest.split('&').next())
        .unwrap_or_else(|| panic!("no flow in {path}"))
        .to_string()
}

#[tokio::test]
async fn a_stolen_password_only_cookie_cannot_be_raised_with_the_thiefs_own_factor() {
    let app = spawn_app().await;
    app.create_account_with_email(VICTIM, "victim@example.com")
        .await;
    app.create_account(ATTACKER, "student").await;
    let client = app.register_client(|_| {}).await;
    // The attacker has an authenticator app of their own.
    let attacker_campus = app.stranger_at(CAMPUS_IP);
    sign_in_directly(&attacker_campus, ATTACKER).await;
    let secret = set_up_totp(&attacker_campus).await;
    // The victim signs in on campus with a password only (a shared PC).
    sign_in_on_campus(&app, VICTIM).await;
    let stolen = session_in(&app, &app.jar).expect("victim's session cookie");

    // The thief's browser, off campus, with a copy of the cookie.
    let thief_jar = jar_with_session(&app, &stolen);
    let thief = browser(&app, &thief_jar, OFF_CAMPUS_IP);
    let r = get(&thief, "/account").await;
    let step_up = location(&r);
    assert!(
        step_up.starts_with("/login/second-factor?flow="),
        "{step_up}"
    );
    let flow = flow_of(&step_up);
    // The attack: the password form on the step-up flow, the thief's own ID and password,
    // then the thief's own code.
    app.clock.advance(31);
    let login = get(&thief, &format!("/login?flow={flow}")).await;
    let login_status = login.status();
    if login_status == StatusCode::OK {
        let html = login.text().await.expect("html");
        let r = post(
            &thief,
            "/login",
            &html,
            &[
                ("flow", &flow),
                ("username", ATTACKER),
                ("password", PASSWORD),
            ],
        )
        .await;
        let next = location(&r);
        if next.starts_with("/login/second-factor") {
            submit_code(&thief, &next, &totp::code_at(&secret, app.clock.now())).await;
        }
    }

    // The victim's session is not raised: from off campus it still needs a second factor,
    // and a relying party asking for MFA gets no code for it.
    let victim_off = browser(&app, &jar_with_session(&app, &stolen), OFF_CAMPUS_IP);
    let r = get(&victim_off, "/account").await;
    assert!(
        location(&r).starts_with("/login/second-factor?flow="),
        "the victim's session still needs a second factor off campus: {}",
        location(&r)
    );
    let (_, back) = app
        .authorize(&authorize_url(&app, &client.id, &[("acr_values", MFA)]))
        .await;
    assert!(
        !back.starts_with(REDIRECT),
        "no MFA code for the victim: {back}"
    );
    // The step-up flow never showed the password form.
    assert_eq!(login_status, StatusCode::BAD_REQUEST, "/login refused it");

    // With the thief's own factor on the step-up: refused, the flow is not theirs to finish.
    let r = get(&thief, "/account").await;
    let step_up = location(&r);
    app.clock.advance(31);
    let r = submit_code(&thief, &step_up, &totp::code_at(&secret, app.clock.now())).await;
    assert_ne!(
        r.status(),
        StatusCode::SEE_OTHER,
        "the thief's code is wrong here"
    );
    let r = get(&victim_off, "/account").await;
    assert!(location(&r).starts_with("/login/second-factor?flow="));
}

#[tokio::test]
async fn a_leaked_flow_handle_is_worthless_in_another_browser() {
    let app = spawn_app().await;
    app.create_account(VICTIM, "student").await;
    app.create_account(ATTACKER, "student").await;
    let client = app.register_client(|_| {}).await;
    let consent_client = app
        .register_client(|c| {
            c.name = "Quiz Maker".into();
            c.require_consent = true;
        })
        .await;
    let attacker_campus = app.stranger_at(CAMPUS_IP);
    sign_in_directly(&attacker_campus, ATTACKER).await;
    let secret = set_up_totp(&attacker_campus).await;

    // Browser A (the attacker) begins a sign-in off campus and sends the link to B.
    let a = app.stranger_at(OFF_CAMPUS_IP);
    let (_, login) = a.authorize(&authorize_url(&app, &client.id, &[])).await;
    let password_flow = flow_of(&login);
    // Browser B (the victim, a fresh cookie jar) opens it.
    let b = app.stranger_at(OFF_CAMPUS_IP);
    assert_expired(get(&b, &login).await, "GET /login?flow= in B").await;
    let b_page = own_csrf_page(&b).await;
    let r = post(
        &b,
        "/login",
        &b_page,
        &[
            ("flow", &password_flow),
            ("username", VICTIM),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert_expired(r, "POST /login in B").await;

    // A reaches the second factor; B tries every step of it.
    let a_page = a.page(&login).await;
    let r = post(
        &a,
        "/login",
        &a_page,
        &[
            ("flow", &password_flow),
            ("username", ATTACKER),
            ("password", PASSWORD),
        ],
    )
    .await;
    let second = location(&r);
    assert!(second.starts_with("/login/second-factor?flow="), "{second}");
    let flow = flow_of(&second);
    assert_expired(get(&b, &second).await, "GET second factor in B").await;
    app.clock.advance(31);
    let code = totp::code_at(&secret, app.clock.now());
    let r = post(
        &b,
        "/login/second-factor",
        &b_page,
        &[("flow", &flow), ("code", &code)],
    )
    .await;
    assert_expired(r, "POST code in B").await;
    let r = post(
        &b,
        "/login/second-factor/email",
        &b_page,
        &[("flow", &flow)],
    )
    .await;
    assert_expired(r, "resend in B").await;
    let csrf = hidden_field(&b_page, "csrf");
    for path in ["/login/passkey/begin", "/login/passkey/finish"] {
        let r = b
            .browser
            .post(app.url(path))
            .json(&serde_json::json!({"csrf": csrf, "flow": flow, "credential": {}}))
            .send()
            .await
            .expect("passkey");
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{path} in B");
        let body = r.text().await.expect("body");
        assert!(body.contains(EXPIRED), "{path} in B: {body}");
    }
    assert_eq!(
        location(&get(&b, "/account").await),
        "/login",
        "B signed nobody in"
    );
    // The flow is still A's: A finishes it with the code B could not use.
    let r = submit_code(&a, &second, &code).await;
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "A's own flow still works"
    );

    // A consent question opened in A (on campus) is nothing in B.
    let a_campus = app.stranger_at(CAMPUS_IP);
    let (_, login) = a_campus
        .authorize(&authorize_url(&app, &consent_client.id, &[]))
        .await;
    let r = a_campus.submit_login(&login, ATTACKER, PASSWORD).await;
    let consent = location(&r);
    assert!(consent.starts_with("/consent?flow="), "{consent}");
    let r = get(&b, &consent).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "GET /consent in B");
    let r = post(
        &b,
        "/consent",
        &b_page,
        &[("flow", &flow_of(&consent)), ("decision", "allow")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "POST /consent in B");
}

#[tokio::test]
async fn login_refuses_a_flow_past_its_password_stage() {
    let app = spawn_app().await;
    app.create_account_with_email(VICTIM, "victim@example.com")
        .await;
    let client = app.register_client(|_| {}).await;
    let off = app.stranger_at(OFF_CAMPUS_IP);
    let second = password_step(&off, &authorize_url(&app, &client.id, &[]), VICTIM).await;
    let flow = flow_of(&second);
    let login = format!("/login?flow={flow}");
    assert_expired(
        get(&off, &login).await,
        "GET /login on a second-factor flow",
    )
    .await;
    let page = own_csrf_page(&off).await;
    let r = post(
        &off,
        "/login",
        &page,
        &[
            ("flow", &flow),
            ("username", VICTIM),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert_expired(r, "POST /login on a second-factor flow").await;
    // Nor can the consent page take it: only a consent question is answered there.
    let r = post(
        &off,
        "/consent",
        &page,
        &[("flow", &flow), ("decision", "allow")],
    )
    .await;
    assert_eq!(
        r.status(),
        StatusCode::BAD_REQUEST,
        "no consent on a sign-in flow"
    );
    assert_eq!(
        get(&off, &format!("/consent?flow={flow}")).await.status(),
        StatusCode::BAD_REQUEST
    );
    // The flow is untouched by all this: its own second factor still finishes it.
    let code = crate::second_factor::latest_code_to(&app, "victim@example.com");
    let r = submit_code(&off, &second, &code).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(location(&r).starts_with(REDIRECT), "{}", location(&r));
}

#[tokio::test]
async fn two_accounts_racing_for_one_flow_bind_it_to_one_at_most() {
    let app = spawn_app().await;
    app.create_account_with_email(VICTIM, "victim@example.com")
        .await;
    app.create_account_with_email(ATTACKER, "attacker@example.com")
        .await;
    let client = app.register_client(|_| {}).await;
    for _ in 0..5 {
        let off = app.stranger_at(OFF_CAMPUS_IP);
        let (_, login) = off.authorize(&authorize_url(&app, &client.id, &[])).await;
        let page = off.page(&login).await;
        let flow = flow_of(&login);
        let send = |account: &'static str| {
            let (off, page, flow) = (&off, &page, &flow);
            async move {
                let r = post(
                    off,
                    "/login",
                    page,
                    &[
                        ("flow", flow),
                        ("username", account),
                        ("password", PASSWORD),
                    ],
                )
                .await;
                r.status() == StatusCode::SEE_OTHER
            }
        };
        let (a, b) = tokio::join!(send(VICTIM), send(ATTACKER));
        assert!(!(a && b), "one flow was bound to two accounts");
        assert!(a || b, "one of them goes on");
    }
}

#[tokio::test]
async fn a_flow_cannot_switch_to_another_account() {
    let app = spawn_app().await;
    app.create_account_with_email(VICTIM, "victim@example.com")
        .await;
    app.create_account(ATTACKER, "student").await;
    let client = app.register_client(|_| {}).await;
    let attacker_campus = app.stranger_at(CAMPUS_IP);
    sign_in_directly(&attacker_campus, ATTACKER).await;
    let secret = set_up_totp(&attacker_campus).await;

    // One browser: the flow names the victim, then gets the attacker's password and code.
    let off = app.stranger_at(OFF_CAMPUS_IP);
    let second = password_step(&off, &authorize_url(&app, &client.id, &[]), VICTIM).await;
    let flow = flow_of(&second);
    let page = own_csrf_page(&off).await;
    let r = post(
        &off,
        "/login",
        &page,
        &[
            ("flow", &flow),
            ("username", ATTACKER),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert_ne!(
        r.status(),
        StatusCode::SEE_OTHER,
        "no switch to another account"
    );
    app.clock.advance(31);
    let r = submit_code(&off, &second, &totp::code_at(&secret, app.clock.now())).await;
    assert_ne!(
        r.status(),
        StatusCode::SEE_OTHER,
        "the other account's code does not finish the victim's flow"
    );
    let r = get(&off, "/account").await;
    assert!(
        location(&r).starts_with("/login"),
        "nobody is signed in: {}",
        location(&r)
    );
}

#[tokio::test]
async fn the_session_cookie_changes_on_sign_in_and_on_step_up() {
    let app = spawn_app().await;
    app.create_account(VICTIM, "student").await;
    let client = app.register_client(|_| {}).await;
    let campus = sign_in_on_campus(&app, VICTIM).await;
    let secret = set_up_totp(&campus).await;
    let first = session_in(&app, &app.jar).expect("a session");

    // A sign-in again (prompt=login): a new value, the old one ends.
    let back = app
        .sign_in_through(
            &authorize_url(&app, &client.id, &[("prompt", "login")]),
            VICTIM,
            PASSWORD,
        )
        .await;
    assert!(back.starts_with(REDIRECT), "{back}");
    let second = session_in(&app, &app.jar).expect("a session");
    assert_ne!(first, second, "a new session id at sign-in");
    let old = browser(&app, &jar_with_session(&app, &first), CAMPUS_IP);
    assert_eq!(
        location(&get(&old, "/account").await),
        "/login",
        "old value dead"
    );

    // A step-up off campus: a new value again, the old one ends.
    app.clock.advance(31);
    let off = app.at(OFF_CAMPUS_IP);
    let (_, step_up) = off.authorize(&authorize_url(&app, &client.id, &[])).await;
    assert!(
        step_up.starts_with("/login/second-factor?flow="),
        "{step_up}"
    );
    let r = submit_code(&off, &step_up, &totp::code_at(&secret, app.clock.now())).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let claims = id_token_claims(&redeem(&app, &client, &location(&r)).await);
    assert_eq!(amr(&claims), ["pwd", "otp", "mfa"]);
    let third = session_in(&app, &app.jar).expect("a session");
    assert_ne!(second, third, "a new session id at step-up");
    let old = browser(&app, &jar_with_session(&app, &second), CAMPUS_IP);
    assert_eq!(
        location(&get(&old, "/account").await),
        "/login",
        "old value dead"
    );
    // The new value carries the raised session.
    let (_, again) = off.authorize(&authorize_url(&app, &client.id, &[])).await;
    assert!(again.starts_with(REDIRECT), "{again}");
}

#[tokio::test]
async fn a_consent_opened_on_campus_and_answered_off_campus_steps_up_first() {
    let app = spawn_app().await;
    app.create_account_with_email(VICTIM, "victim@example.com")
        .await;
    let client = app
        .register_client(|c| {
            c.name = "Quiz Maker".into();
            c.require_consent = true;
        })
        .await;
    let campus = app.at(CAMPUS_IP);
    let (_, login) = campus
        .authorize(&authorize_url(&app, &client.id, &[]))
        .await;
    let r = campus.submit_login(&login, VICTIM, PASSWORD).await;
    let consent = location(&r);
    assert!(consent.starts_with("/consent?flow="), "{consent}");
    let html = campus.page(&consent).await;

    // "Allow" from off campus with the same cookies: no code without a second factor.
    let r = post_consent_by(&app.at(OFF_CAMPUS_IP), &html, "allow").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let next = location(&r);
    assert!(!next.starts_with(REDIRECT), "no code off campus: {next}");
    assert!(
        next.starts_with("/login/second-factor?flow="),
        "stepped up: {next}"
    );
    // The e-mail code finishes the step-up; consent is asked again, now answered.
    let off = app.at(OFF_CAMPUS_IP);
    let code = crate::second_factor::latest_code_to(&app, "victim@example.com");
    let r = submit_code(&off, &next, &code).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let consent = location(&r);
    assert!(
        consent.starts_with("/consent?flow="),
        "asked again: {consent}"
    );
    let html = off.page(&consent).await;
    let r = post_consent_by(&app.at(OFF_CAMPUS_IP), &html, "allow").await;
    let back = location(&r);
    assert!(back.starts_with(REDIRECT), "{back}");
    let claims = id_token_claims(&redeem(&app, &client, &back).await);
    assert_eq!(amr(&claims), ["pwd", "otp", "mfa"]);
}
