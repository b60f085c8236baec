//! Network zones and second factors over real HTTP: campus and VPN sign in with a password,
//! off campus needs a second factor; each method; the defaults from issue; step-up.

use base64::Engine;
use reqwest::StatusCode;
use uec_idp::clock::Clock;
use uec_idp::domain::second_factor::totp;

use crate::helpers::*;

pub(crate) const MFA: &str = "urn:uec:idp:acr:mfa";

/// The claims of the ID token in a token response (signature checked elsewhere).
pub(crate) fn id_token_claims(body: &serde_json::Value) -> serde_json::Value {
    let token = body["id_token"].as_str().expect("id_token");
    let payload = token.split('.').nth(1).expect("payload");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64");
    serde_json::from_slice(&bytes).expect("claims")
}

pub(crate) async fn redeem(
    app: &TestApp,
    client: &TestClient,
    redirect: &str,
) -> serde_json::Value {
    let code = query_param(redirect, "code").unwrap_or_else(|| panic!("no code in {redirect}"));
    let r = code_request(app, client, &code).await;
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.expect("token json")
}

pub(crate) fn amr(claims: &serde_json::Value) -> Vec<String> {
    claims["amr"]
        .as_array()
        .expect("amr")
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_string())
        .collect()
}

/// Password step from `who`; returns the second-factor page's path.
pub(crate) async fn password_step(who: &Located<'_>, authorize: &str, account: &str) -> String {
    let (status, login) = who.authorize(authorize).await;
    assert_eq!(status, StatusCode::FOUND);
    assert!(login.starts_with("/login?flow="), "{login}");
    let r = who.submit_login(&login, account, PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "password accepted");
    let next = location(&r);
    assert!(
        next.starts_with("/login/second-factor?flow="),
        "a second factor is asked for: {next}"
    );
    next
}

/// Submits `code` on the second-factor page at `path`.
pub(crate) async fn submit_code(who: &Located<'_>, path: &str, code: &str) -> reqwest::Response {
    let page = who.page(path).await;
    let flow = hidden_field(&page, "flow");
    who.post_form(
        "/login/second-factor",
        &page,
        &[("flow", &flow), ("code", code)],
    )
    .await
}

/// Signs in directly on campus, so the account pages can be used.
pub(crate) async fn sign_in_on_campus<'a>(app: &'a TestApp, account: &str) -> Located<'a> {
    let campus = app.at(CAMPUS_IP);
    let start = campus
        .browser
        .get(app.url("/login"))
        .send()
        .await
        .expect("login");
    let r = campus
        .submit_login(&location(&start), account, PASSWORD)
        .await;
    assert_eq!(location(&r), "/account");
    campus
}

/// Sets up an authenticator app from the account page; returns its secret.
pub(crate) async fn set_up_totp(campus: &Located<'_>) -> Vec<u8> {
    let account_page = campus.page("/account").await;
    let r = campus
        .post_form("/account/totp/setup", &account_page, &[])
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.expect("setup page");
    assert!(html.contains("otpauth://totp/"), "the URI is shown as text");
    assert!(html.contains("<svg"), "a QR code");
    let start =
        html.find("id=\"totp-secret\">").expect("secret shown") + "id=\"totp-secret\">".len();
    let b32 = &html[start..start + html[start..].find('<').expect("end")];
    let secret = totp_rs::Secret::try_from_base32(b32)
        .expect("base32")
        .as_ref()
        .to_vec();
    let wrong = campus
        .post_form("/account/totp/confirm", &html, &[("code", "000000")])
        .await;
    assert_eq!(
        wrong.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "not enabled by a wrong code"
    );
    let code = totp::code_at(&secret, campus.app.clock.now());
    let ok = campus
        .post_form("/account/totp/confirm", &html, &[("code", &code)])
        .await;
    assert_eq!(ok.status(), StatusCode::OK);
    assert!(ok.text().await.expect("page").contains("set up"));
    secret
}

/// The newest 6-digit code in the file transport's mail to `address`.
pub(crate) fn latest_code_to(app: &TestApp, address: &str) -> String {
    let dir = &app.state.settings.mail.dir;
    let mut mails: Vec<(std::time::SystemTime, String)> = std::fs::read_dir(dir)
        .expect("mail dir")
        .flatten()
        .filter_map(|e| {
            let raw = std::fs::read_to_string(e.path()).ok()?;
            Some((e.metadata().ok()?.modified().ok()?, raw))
        })
        .filter(|(_, raw)| raw.contains(address))
        .collect();
    mails.sort_by_key(|(t, _)| *t);
    let (_, raw) = mails
        .last()
        .unwrap_or_else(|| panic!("no mail to {address}"));
    crate::smtp_sink::find_code(raw).expect("a code in the mail")
}

#[tokio::test]
async fn campus_and_vpn_sign_in_with_a_password_only() {
    let app = spawn_app().await;
    app.create_account("a1830000", "student").await;
    let client = app.register_client(|_| {}).await;
    for ip in [CAMPUS_IP, VPN_IP] {
        let who = app.stranger_at(ip);
        let back = who
            .sign_in_through(&authorize_url(&app, &client.id, &[]), "a1830000", PASSWORD)
            .await;
        let claims = id_token_claims(&redeem(&app, &client, &back).await);
        assert_eq!(amr(&claims), ["pwd"], "{ip}");
        assert_eq!(claims["acr"], "urn:uec:idp:acr:pwd");
    }
}

#[tokio::test]
async fn a_new_app_replaces_the_old_one_only_once_it_is_confirmed() {
    let app = spawn_app().await;
    app.create_account("a1830000", "student").await;
    let client = app.register_client(|_| {}).await;
    let campus = sign_in_on_campus(&app, "a1830000").await;
    let old = set_up_totp(&campus).await;
    // A set-up started and abandoned leaves the old app working.
    let account_page = campus.page("/account").await;
    let r = campus
        .post_form("/account/totp/setup", &account_page, &[])
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    app.clock.advance(30);
    let off = app.stranger_at(OFF_CAMPUS_IP);
    let page = password_step(&off, &authorize_url(&app, &client.id, &[]), "a1830000").await;
    let r = submit_code(&off, &page, &totp::code_at(&old, app.clock.now())).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "the old app still works");
    // Once a new app is confirmed, the old one's codes are refused.
    app.clock.advance(30);
    let new = set_up_totp(&campus).await;
    assert_ne!(new, old);
    app.clock.advance(30);
    let off = app.stranger_at(OFF_CAMPUS_IP);
    let page = password_step(&off, &authorize_url(&app, &client.id, &[]), "a1830000").await;
    let r = submit_code(&off, &page, &totp::code_at(&old, app.clock.now())).await;
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "the replaced app is gone"
    );
    let r = submit_code(&off, &page, &totp::code_at(&new, app.clock.now())).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn off_campus_needs_totp_and_a_code_cannot_be_used_twice() {
    let app = spawn_app().await;
    app.create_account("a1830000", "student").await;
    let client = app.register_client(|_| {}).await;
    let secret = set_up_totp(&sign_in_on_campus(&app, "a1830000").await).await;

    app.clock.advance(30);
    let off = app.stranger_at(OFF_CAMPUS_IP);
    let page = password_step(&off, &authorize_url(&app, &client.id, &[]), "a1830000").await;
    let wrong = submit_code(&off, &page, "123456").await;
    assert_eq!(
        wrong.status(),
        StatusCode::UNAUTHORIZED,
        "no way in without the factor"
    );
    let code = totp::code_at(&secret, app.clock.now());
    let r = submit_code(&off, &page, &code).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let claims = id_token_claims(&redeem(&app, &client, &location(&r)).await);
    assert_eq!(amr(&claims), ["pwd", "otp", "mfa"]);
    assert_eq!(claims["acr"], MFA);

    // The same code again, in another sign-in in the same 30 s: refused.
    let other = app.stranger_at(OFF_CAMPUS_IP);
    let page = password_step(&other, &authorize_url(&app, &client.id, &[]), "a1830000").await;
    assert_eq!(
        submit_code(&other, &page, &code).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn off_campus_sign_in_with_the_personal_email_code_from_issue() {
    let app = spawn_app().await;
    app.create_account_with_email("a1830000", "taro@example.com")
        .await;
    let client = app.register_client(|_| {}).await;
    let off = app.stranger_at(OFF_CAMPUS_IP);
    let page = password_step(&off, &authorize_url(&app, &client.id, &[]), "a1830000").await;
    assert!(
        page.contains("mail=sent"),
        "e-mail is the only method, so a code went at once: {page}"
    );
    let html = off.page(&page).await;
    assert!(
        html.contains("t***@example.com"),
        "the masked destination is shown"
    );
    let code = latest_code_to(&app, "taro@example.com");
    let r = submit_code(&off, &page, &code).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let claims = id_token_claims(&redeem(&app, &client, &location(&r)).await);
    assert_eq!(amr(&claims), ["pwd", "otp", "mfa"]);
}

#[tokio::test]
async fn a_backup_code_works_once() {
    let app = spawn_app().await;
    app.create_account("a1830000", "student").await;
    let client = app.register_client(|_| {}).await;
    let campus = sign_in_on_campus(&app, "a1830000").await;
    let account_page = campus.page("/account").await;
    let r = campus
        .post_form("/account/backup-codes", &account_page, &[])
        .await;
    let html = r.text().await.expect("codes page");
    let codes: Vec<String> = html
        .split("<li><code>")
        .skip(1)
        .map(|s| s[..s.find('<').expect("end")].to_string())
        .collect();
    assert_eq!(codes.len(), 10, "ten printed codes");

    let off = app.stranger_at(OFF_CAMPUS_IP);
    let page = password_step(&off, &authorize_url(&app, &client.id, &[]), "a1830000").await;
    let typed = codes[3].to_uppercase().replace('-', " ");
    let r = submit_code(&off, &page, &typed).await;
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "case and separators do not matter"
    );

    let again = app.stranger_at(OFF_CAMPUS_IP);
    let page = password_step(&again, &authorize_url(&app, &client.id, &[]), "a1830000").await;
    assert_eq!(
        submit_code(&again, &page, &codes[3]).await.status(),
        StatusCode::UNAUTHORIZED,
        "used up"
    );
    assert_eq!(
        submit_code(&again, &page, &codes[4]).await.status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn acr_values_or_the_client_setting_force_a_second_factor_on_campus() {
    let app = spawn_app().await;
    app.create_account_with_email("a1830000", "taro@example.com")
        .await;
    let plain = app.register_client(|_| {}).await;
    let strict = app.register_client(|c| c.require_mfa = true).await;
    let campus = app.stranger_at(CAMPUS_IP);
    password_step(
        &campus,
        &authorize_url(&app, &plain.id, &[("acr_values", MFA)]),
        "a1830000",
    )
    .await;
    let campus = app.stranger_at(CAMPUS_IP);
    password_step(&campus, &authorize_url(&app, &strict.id, &[]), "a1830000").await;
}

#[tokio::test]
async fn without_any_method_or_personal_email_off_campus_sign_in_stops() {
    let app = spawn_app().await;
    app.create_account("a1830000", "student").await;
    let client = app.register_client(|_| {}).await;
    let off = app.stranger_at(OFF_CAMPUS_IP);
    let (_, login) = off.authorize(&authorize_url(&app, &client.id, &[])).await;
    let r = off.submit_login(&login, "a1830000", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let html = r.text().await.expect("page");
    assert!(html.contains("2-factor authentication is not set. Log in from the campus network (or VPN) and set it up on the account page."));
    assert!(r_has_no_session(&app, &off).await, "no session was made");
}

async fn r_has_no_session(app: &TestApp, who: &Located<'_>) -> bool {
    let r = who
        .browser
        .get(app.url("/account"))
        .send()
        .await
        .expect("account");
    location(&r) == "/login"
}

#[tokio::test]
async fn a_password_only_session_is_stepped_up_when_the_browser_leaves_campus() {
    let app = spawn_app().await;
    app.create_account("a1830000", "student").await;
    let client = app.register_client(|_| {}).await;
    let campus = sign_in_on_campus(&app, "a1830000").await;
    let secret = set_up_totp(&campus).await;
    // SSO on campus: answered from the session.
    let (_, back) = campus
        .authorize(&authorize_url(&app, &client.id, &[]))
        .await;
    assert!(back.starts_with(REDIRECT), "{back}");

    // The same browser from off campus: no password, but a second factor first.
    app.clock.advance(30);
    let off = app.at(OFF_CAMPUS_IP);
    let (_, next) = off.authorize(&authorize_url(&app, &client.id, &[])).await;
    assert!(
        next.starts_with("/login/second-factor?flow="),
        "stepped up, not reused: {next}"
    );
    let r = submit_code(&off, &next, &totp::code_at(&secret, app.clock.now())).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(
        r.headers()
            .get_all("set-cookie")
            .iter()
            .any(|c| c.to_str().unwrap_or("").starts_with("uec_idp_session=")),
        "the session is raised under a new id (see flow_binding.rs)"
    );
    let claims = id_token_claims(&redeem(&app, &client, &location(&r)).await);
    assert_eq!(amr(&claims), ["pwd", "otp", "mfa"]);
    // Now multi-factor: off campus SSO answers at once.
    let (_, again) = off.authorize(&authorize_url(&app, &client.id, &[])).await;
    assert!(again.starts_with(REDIRECT), "{again}");
}

#[tokio::test]
async fn the_account_pages_from_off_campus_need_a_second_factor_too() {
    let app = spawn_app().await;
    app.create_account_with_email("a1830000", "taro@example.com")
        .await;
    sign_in_on_campus(&app, "a1830000").await;
    let r = app
        .at(OFF_CAMPUS_IP)
        .browser
        .get(app.url("/account"))
        .send()
        .await
        .expect("account");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(
        location(&r).starts_with("/login/second-factor?flow="),
        "{}",
        location(&r)
    );
}

#[tokio::test]
async fn a_forged_forwarded_header_from_an_untrusted_peer_changes_nothing() {
    let app = spawn_app_with(|s| {
        s.network.campus = vec!["130.153.0.0/16".into()];
        s.network.trusted_proxies = vec![];
    })
    .await;
    app.create_account("a1830000", "student").await;
    let client = app.register_client(|_| {}).await;
    let forged = app.stranger_at(CAMPUS_IP);
    let (_, login) = forged
        .authorize(&authorize_url(&app, &client.id, &[]))
        .await;
    let r = forged.submit_login(&login, "a1830000", PASSWORD).await;
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "still off campus: 2FA not set"
    );
}

#[tokio::test]
async fn guessing_codes_is_throttled_per_account() {
    let app = spawn_app().await;
    app.create_account_with_email("a1830000", "taro@example.com")
        .await;
    let client = app.register_client(|_| {}).await;
    let off = app.stranger_at(OFF_CAMPUS_IP);
    let page = password_step(&off, &authorize_url(&app, &client.id, &[]), "a1830000").await;
    let mut statuses = Vec::new();
    for guess in ["111111", "222222", "333333", "444444", "555555", "666666"] {
        statuses.push(submit_code(&off, &page, guess).await.status());
    }
    assert_eq!(statuses[..5], [StatusCode::UNAUTHORIZED; 5], "{statuses:?}");
    assert_eq!(statuses[5], StatusCode::TOO_MANY_REQUESTS, "{statuses:?}");
    // The right code is refused too while throttled; and the e-mail code died after 5 tries.
    let code = latest_code_to(&app, "taro@example.com");
    assert_eq!(
        submit_code(&off, &page, &code).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn a_university_mailbox_cannot_receive_codes_and_a_new_address_is_confirmed_first() {
    let app = spawn_app().await;
    app.create_account("a1830000", "student").await;
    let campus = sign_in_on_campus(&app, "a1830000").await;
    let page = campus.page("/account").await;
    let r = campus
        .post_form(
            "/account/email",
            &page,
            &[("address", "a1830000@e-l.cc.uec.ac.jp")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = campus
        .post_form(
            "/account/email",
            &page,
            &[("address", "hanako@example.org")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.expect("page");
    assert!(
        !page.contains("Codes go to"),
        "not a destination before it is confirmed"
    );
    let r = campus
        .post_form(
            "/account/email/confirm",
            &page,
            &[("code", &latest_code_to(&app, "hanako@example.org"))],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.expect("page").contains("hanako@example.org"));
}

/// Presses "send a code by e-mail" on the second-factor page at `path`.
async fn ask_for_a_new_code(who: &Located<'_>, path: &str) -> reqwest::Response {
    let html = who.page(path).await;
    let flow = hidden_field(&html, "flow");
    who.post_form("/login/second-factor/email", &html, &[("flow", &flow)])
        .await
}

#[tokio::test]
async fn the_email_code_travels_through_a_real_smtp_server() {
    let sink = crate::smtp_sink::SmtpSink::start().await;
    let app = spawn_app_with(|s| {
        s.mail.transport = "smtp".into();
        s.mail.smtp_url = sink.url();
    })
    .await;
    app.create_account_with_email("a1830000", "taro@example.com")
        .await;
    let client = app.register_client(|_| {}).await;
    let off = app.stranger_at(OFF_CAMPUS_IP);
    let page = password_step(&off, &authorize_url(&app, &client.id, &[]), "a1830000").await;
    let mails = sink.messages();
    assert_eq!(mails.len(), 1, "one message over SMTP");
    assert_eq!(mails[0].rcpt_to, ["taro@example.com"]);
    let first = crate::smtp_sink::find_code(&mails[0].data).expect("a code in the message");

    // Asking again at once sends nothing (the code is on its way); a minute later, a new
    // code replaces the first.
    assert_eq!(
        ask_for_a_new_code(&off, &page).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(sink.messages().len(), 1, "no second mail within a minute");
    app.clock.advance(61);
    assert_eq!(
        ask_for_a_new_code(&off, &page).await.status(),
        StatusCode::SEE_OTHER
    );
    let mails = sink.messages();
    assert_eq!(mails.len(), 2);
    let code = crate::smtp_sink::find_code(&mails[1].data).expect("a code in the message");
    if code != first {
        assert_eq!(
            submit_code(&off, &page, &first).await.status(),
            StatusCode::UNAUTHORIZED,
            "the old code is void"
        );
    }
    let r = submit_code(&off, &page, &code).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(location(&r).starts_with(REDIRECT));
}

#[tokio::test]
async fn a_failed_send_is_told_to_the_person() {
    // Nothing listens on the discard port on loopback.
    let app = spawn_app_with(|s| {
        s.mail.transport = "smtp".into();
        s.mail.smtp_url = "smtp://127.0.0.1:9".into();
    })
    .await;
    app.create_account_with_email("a1830000", "taro@example.com")
        .await;
    let client = app.register_client(|_| {}).await;
    let off = app.stranger_at(OFF_CAMPUS_IP);
    let page = password_step(&off, &authorize_url(&app, &client.id, &[]), "a1830000").await;
    assert!(page.contains("mail=failed"), "{page}");
    let html = off.page(&page).await;
    assert!(html.contains("could not be sent"), "{html}");
    // Trying again really tries again (and fails again, told again).
    let again = ask_for_a_new_code(&off, &page).await;
    assert!(
        location(&again).contains("mail=failed"),
        "{}",
        location(&again)
    );
}
