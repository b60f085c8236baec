//! Password reissue over real HTTP: online with a password-update key (uniform answers,
//! single use, expiry, attempts, throttling) and at the desk with the CLI.

use std::time::Duration;

use base64::Engine;
use reqwest::StatusCode;
use uec_idp::clock::Clock;

use crate::helpers::*;

const NEW_PASSWORD: &str = "violet tram quietly hums at dawn";
const TARO: &str = "taro@example.com";

/// GETs /reissue and posts the request form; returns (status, page).
async fn request_reissue(
    who: &Located<'_>,
    account_id: &str,
    email: &str,
    password: &str,
) -> (StatusCode, String) {
    let form = who.page("/reissue").await;
    let r = who
        .post_form(
            "/reissue",
            &form,
            &[
                ("account_id", account_id),
                ("email", email),
                ("password", password),
                ("password_confirm", password),
            ],
        )
        .await;
    (r.status(), r.text().await.expect("page"))
}

/// Posts a key on the key page `page` (its ticket and CSRF token).
async fn enter_key(who: &Located<'_>, page: &str, key: &str) -> (StatusCode, String) {
    let ticket = hidden_field(page, "ticket");
    let r = who
        .post_form("/reissue/key", page, &[("ticket", &ticket), ("key", key)])
        .await;
    (r.status(), r.text().await.expect("page"))
}

/// The decoded text bodies of the mails to `address`, oldest first.
fn mails_to(app: &TestApp, address: &str) -> Vec<String> {
    let dir = &app.state.settings.mail.dir;
    let mut mails: Vec<(std::time::SystemTime, String)> = std::fs::read_dir(dir)
        .map(|d| d.flatten().collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .filter_map(|e| {
            let raw = std::fs::read_to_string(e.path()).ok()?;
            Some((e.metadata().ok()?.modified().ok()?, raw))
        })
        .filter(|(_, raw)| raw.contains(&format!("To: {address}")))
        .collect();
    mails.sort_by_key(|(t, _)| *t);
    mails
        .into_iter()
        .map(|(_, raw)| decode_body(&raw))
        .collect()
}

fn decode_body(raw: &str) -> String {
    let raw = raw.replace("\r\n", "\n");
    let body = raw.split_once("\n\n").map(|(_, b)| b).unwrap_or_default();
    let compact: String = body.split_whitespace().collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .expect("base64 body");
    String::from_utf8(bytes).expect("utf-8 body")
}

fn mail_count(app: &TestApp) -> usize {
    std::fs::read_dir(&app.state.settings.mail.dir)
        .map(|d| d.count())
        .unwrap_or(0)
}

/// The key in the `n`th mail (1-based) to `address`, waiting for it (it is sent in the
/// background).
async fn key_in_mail(app: &TestApp, address: &str, n: usize) -> String {
    for _ in 0..100 {
        let mails = mails_to(app, address);
        if mails.len() >= n {
            return mails[n - 1]
                .lines()
                .map(str::trim)
                .find(|l| l.len() == 8 && l.bytes().all(|b| b.is_ascii_digit()))
                .expect("a key on a line of its own")
                .to_string();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no mail {n} to {address}");
}

/// Signs in directly (no relying party) from `who`.
async fn direct_sign_in(who: &Located<'_>, id: &str, password: &str) -> reqwest::Response {
    let start = who
        .browser
        .get(who.app.url("/login"))
        .send()
        .await
        .expect("login");
    who.submit_login(&location(&start), id, password).await
}

/// A page with its per-request values (ticket, CSRF token) blanked.
fn without_tokens(page: &str) -> String {
    let mut out = page.to_string();
    for name in ["ticket", "csrf"] {
        if out.contains(&format!(r#"name="{name}" value=""#)) {
            let value = hidden_field(&out, name);
            out = out.replace(&value, "");
        }
    }
    out
}

#[tokio::test]
async fn an_online_reissue_sets_the_password_and_ends_every_session_and_token() {
    let app = spawn_app().await;
    app.create_account_with_email("a1830000", TARO).await;
    let client = app.register_client(|_| {}).await;
    // A browser signed in, and an application holding an access token.
    let back = app
        .sign_in_through(&authorize_url(&app, &client.id, &[]), "a1830000", PASSWORD)
        .await;
    let code = query_param(&back, "code").expect("code");
    let tokens: serde_json::Value = code_request(&app, &client, &code)
        .await
        .json()
        .await
        .expect("tokens");
    let access = tokens["access_token"].as_str().expect("access token");
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
    assert_eq!(userinfo(access.to_string()).await, StatusCode::OK);
    let (status, _) = app.authorize(&authorize_url(&app, &client.id, &[])).await;
    assert_eq!(status, StatusCode::FOUND);

    // Someone (off campus, another browser) reissues with the domain in capitals.
    let who = app.stranger_at(OFF_CAMPUS_IP);
    let (status, page) = request_reissue(&who, "a1830000", "taro@EXAMPLE.com", NEW_PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("If the account and address match"), "{page}");
    let key = key_in_mail(&app, TARO, 1).await;
    let mail = &mails_to(&app, TARO)[0];
    assert!(
        mail.contains("30 分間") && mail.contains("30 minutes"),
        "{mail}"
    );
    assert!(mail.contains("your password is unchanged"));
    // The old password still works until the key is entered.
    let r = direct_sign_in(&app.stranger_at(CAMPUS_IP), "a1830000", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);

    let (status, done) = enter_key(&who, &page, &format!(" {}-{} ", &key[..4], &key[4..])).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert!(done.contains("Your password was changed") && done.contains(r#"href="/login""#));

    // Every session and token ended.
    assert_eq!(
        userinfo(access.to_string()).await,
        StatusCode::UNAUTHORIZED,
        "the access token's grant is revoked"
    );
    let (status, login) = app.authorize(&authorize_url(&app, &client.id, &[])).await;
    assert_eq!(status, StatusCode::FOUND);
    assert!(
        login.starts_with("/login?flow="),
        "the browser's session ended: {login}"
    );
    // The old password fails, the new one works.
    let r = direct_sign_in(&app.stranger_at(CAMPUS_IP), "a1830000", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = direct_sign_in(&app.stranger_at(CAMPUS_IP), "a1830000", NEW_PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/account");

    // The key works once.
    let (status, again) = enter_key(&who, &page, &key).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(again.contains("not correct"), "{again}");
}

#[tokio::test]
async fn answers_do_not_tell_whether_the_account_or_the_address_exists() {
    let app = spawn_app().await;
    app.create_account_with_email("a1830000", TARO).await;
    app.create_account("a1830001", "student").await; // no reissue e-mail
    let who = app.stranger_at(OFF_CAMPUS_IP);
    let mut answers = Vec::new();
    for (id, email) in [
        ("a1830000", "jiro@example.com"), // wrong address
        ("a1830000", "Taro@example.com"), // local part differs in case
        ("a1839999", TARO),               // no such account
        ("a1830001", TARO),               // no reissue e-mail registered
        ("not an id", TARO),
        ("a1830000", TARO), // right, last
    ] {
        let (status, page) = request_reissue(&who, id, email, NEW_PASSWORD).await;
        assert_eq!(status, StatusCode::OK, "{id} {email}");
        assert!(page.contains("ITC desk with a student/staff ID card"));
        assert!(page.contains("30 minutes"));
        answers.push(page);
    }
    let first = without_tokens(&answers[0]);
    for page in &answers {
        assert_eq!(without_tokens(page), first, "byte-identical pages");
        assert_eq!(
            hidden_field(page, "ticket").len(),
            hidden_field(&answers[0], "ticket").len(),
            "tickets of one form"
        );
    }
    key_in_mail(&app, TARO, 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(mail_count(&app), 1, "only the matching request sent a mail");

    // A wrong key on the real ticket and any key on a dummy ticket: one answer.
    let (real_status, real) = enter_key(&who, &answers[5], "00000000").await;
    let (dummy_status, dummy) = enter_key(&who, &answers[2], "00000000").await;
    assert_eq!(real_status, StatusCode::UNAUTHORIZED);
    assert_eq!(dummy_status, real_status);
    assert_eq!(without_tokens(&real), without_tokens(&dummy));
}

#[tokio::test]
async fn a_key_expires_after_thirty_minutes() {
    let app = spawn_app().await;
    app.create_account_with_email("a1830000", TARO).await;
    let who = app.stranger_at(OFF_CAMPUS_IP);
    let (_, page) = request_reissue(&who, "a1830000", TARO, NEW_PASSWORD).await;
    let key = key_in_mail(&app, TARO, 1).await;
    app.clock.advance(31 * 60);
    let (status, _) = enter_key(&who, &page, &key).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let r = direct_sign_in(&app.stranger_at(CAMPUS_IP), "a1830000", PASSWORD).await;
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "the password is unchanged"
    );
}

#[tokio::test]
async fn five_wrong_keys_void_the_reissue_and_a_newer_request_voids_an_older_one() {
    let app = spawn_app().await;
    app.create_account_with_email("a1830000", TARO).await;
    let who = app.stranger_at(OFF_CAMPUS_IP);
    let (_, page) = request_reissue(&who, "a1830000", TARO, NEW_PASSWORD).await;
    let key = key_in_mail(&app, TARO, 1).await;
    let wrong = if key == "12345678" {
        "87654321"
    } else {
        "12345678"
    };
    for _ in 0..5 {
        let (status, _) = enter_key(&who, &page, wrong).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, _) = enter_key(&who, &page, &key).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "void after five wrong keys"
    );

    let (_, older) = request_reissue(&who, "a1830000", TARO, NEW_PASSWORD).await;
    let older_key = key_in_mail(&app, TARO, 2).await;
    let (_, newer) = request_reissue(&who, "a1830000", TARO, NEW_PASSWORD).await;
    let newer_key = key_in_mail(&app, TARO, 3).await;
    let (status, _) = enter_key(&who, &older, &older_key).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "only the newest key works"
    );
    let (status, _) = enter_key(&who, &newer, &newer_key).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_weak_new_password_is_refused_with_its_reason() {
    let app = spawn_app().await;
    app.create_account_with_email("a1830000", TARO).await;
    let who = app.stranger_at(OFF_CAMPUS_IP);
    let (status, page) = request_reissue(&who, "a1830000", TARO, "password1").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("too easy to guess"), "{page}");
    let (status, page) = request_reissue(&who, "a1830000", TARO, "xa1830000-violet-tram").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("account ID"), "{page}");
    // Two different passwords typed.
    let form = who.page("/reissue").await;
    let r = who
        .post_form(
            "/reissue",
            &form,
            &[
                ("account_id", "a1830000"),
                ("email", TARO),
                ("password", NEW_PASSWORD),
                ("password_confirm", "violet tram quietly hums at dusk"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(mail_count(&app), 0);

    // The name ("Test a1830000") is only known once the key proves the address: then the
    // reason is given and the password stays unchanged.
    let (status, page) =
        request_reissue(&who, "a1830000", TARO, "testament violet tram quietly").await;
    assert_eq!(status, StatusCode::OK);
    let key = key_in_mail(&app, TARO, 1).await;
    let (status, refused) = enter_key(&who, &page, &key).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.contains("Do not use your name"), "{refused}");
    assert!(refused.contains(r#"href="/reissue""#));
    let r = direct_sign_in(&app.stranger_at(CAMPUS_IP), "a1830000", PASSWORD).await;
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "the password is unchanged"
    );
}

#[tokio::test]
async fn requests_are_throttled_per_account_id_and_need_the_csrf_token() {
    let app = spawn_app().await;
    app.create_account_with_email("a1830000", TARO).await;
    // The limit is per typed ID, existing or not.
    for id in ["a1830000", "a1839999"] {
        for n in 0..5 {
            let who = app.stranger_at(&format!("203.0.113.{}", 10 + n));
            let (status, _) = request_reissue(&who, id, "x@example.com", NEW_PASSWORD).await;
            assert_eq!(status, StatusCode::OK, "{id}: request {n}");
        }
        let who = app.stranger_at("203.0.113.99");
        let (status, page) = request_reissue(&who, id, TARO, NEW_PASSWORD).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{id}");
        assert!(page.contains("Too many reissue requests"));
    }
    assert_eq!(mail_count(&app), 0);
    // After the window, requests go through again.
    app.clock.advance(901);
    let who = app.stranger_at(OFF_CAMPUS_IP);
    let (status, _) = request_reissue(&who, "a1830000", TARO, NEW_PASSWORD).await;
    assert_eq!(status, StatusCode::OK);

    // Without the CSRF token: refused.
    let r = app
        .http
        .post(app.url("/reissue"))
        .form(&[
            ("csrf", "x"),
            ("account_id", "a1830000"),
            ("email", TARO),
            ("password", NEW_PASSWORD),
            ("password_confirm", NEW_PASSWORD),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn an_expired_password_points_to_the_reissue_page() {
    let app = spawn_app().await;
    app.create_account("a1830000", "student").await;
    app.clock.advance(91 * 86_400);
    let r = direct_sign_in(&app.stranger_at(CAMPUS_IP), "a1830000", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let page = r.text().await.expect("page");
    assert!(
        page.contains("expired") && page.contains(r#"href="/reissue""#),
        "{page}"
    );
}

async fn cli_async(app: &TestApp, args: &[&str]) -> std::process::Output {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    // The binary blocks; keep it off the test's executor, which also runs the server.
    tokio::task::block_in_place(|| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        cli(app, &args)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_desk_reissue_prints_a_temporary_password_that_expires() {
    let app = spawn_app().await;
    app.create_account("a1830000", "student").await;
    let r = direct_sign_in(&app.stranger_at(CAMPUS_IP), "a1830000", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let session_browser = app.stranger_at(CAMPUS_IP);
    let r = direct_sign_in(&session_browser, "a1830000", PASSWORD).await;
    assert_eq!(location(&r), "/account");

    let too_long = cli_async(
        &app,
        &[
            "account",
            "reissue-password",
            "--id",
            "a1830000",
            "--expires-in",
            "40",
        ],
    )
    .await;
    assert!(!too_long.status.success());
    let err = String::from_utf8_lossy(&too_long.stderr);
    assert!(err.contains("--expires-in") && err.contains("30"), "{err}");
    let unknown = cli_async(&app, &["account", "reissue-password", "--id", "a1839999"]).await;
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no account a1839999"));

    let out = cli_async(
        &app,
        &[
            "account",
            "reissue-password",
            "--id",
            "a1830000",
            "--expires-in",
            "7",
            "--json",
        ],
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let temporary = printed["temporary_password"]
        .as_str()
        .expect("password")
        .to_string();
    let expires_at = printed["password_expires_at"].as_i64().expect("expiry");
    let now = app.clock.now();
    assert!((expires_at - now - 7 * 86_400).abs() < 60, "{printed}");
    assert_eq!(printed["sessions_ended"], 2);

    // Every session ended; the old password fails, the temporary one signs in.
    let r = session_browser
        .browser
        .get(app.url("/account"))
        .send()
        .await
        .expect("account");
    assert_ne!(r.status(), StatusCode::OK, "the session ended");
    let r = direct_sign_in(&app.stranger_at(CAMPUS_IP), "a1830000", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = direct_sign_in(&app.stranger_at(CAMPUS_IP), "a1830000", &temporary).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);

    // Past its days it is refused with the expired message.
    app.clock.advance(expires_at - now + 1);
    let r = direct_sign_in(&app.stranger_at(CAMPUS_IP), "a1830000", &temporary).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.expect("page").contains("expired"));

    // Without --expires-in: 30 days, human-readable output.
    let out = cli_async(&app, &["account", "reissue-password", "--id", "a1830000"]).await;
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("temporary password: "), "{text}");
}
