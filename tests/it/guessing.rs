//! Guessing defences under attack, over real HTTP (issue #12 items 2-4): guesses sent in
//! parallel are judged no more often than sent one by one; a stranger's guesses do not lock
//! the owner's known browser out; the addresses of one IPv6 /64 share one allowance.
//!
//! The test clock stands still, so "the sequential schedule" is exact: with N free
//! failures, N guesses are judged and every later one waits.

use reqwest::StatusCode;
use uec_idp::clock::Clock;
use uec_idp::domain::throttle::{Key, Policy};
use uec_idp::services::second_factor::PURPOSE_SIGN_IN;
use uec_idp::services::throttle::{self, Limit};
use uec_idp::store::throttle::Reservation;
use uec_idp::store::{reissue, second_factors};

use crate::helpers::*;
use crate::second_factor::password_step;

/// POSTs every form in `forms` to `url` from `browser`, `width` at a time; the statuses.
async fn in_parallel(
    browser: &reqwest::Client,
    url: String,
    forms: Vec<Vec<(String, String)>>,
    width: usize,
) -> Vec<StatusCode> {
    let mut statuses = Vec::new();
    let mut forms = forms.into_iter().peekable();
    while forms.peek().is_some() {
        let mut batch = tokio::task::JoinSet::new();
        for form in forms.by_ref().take(width) {
            let (browser, url) = (browser.clone(), url.clone());
            batch.spawn(async move {
                browser
                    .post(url)
                    .form(&form)
                    .send()
                    .await
                    .expect("post")
                    .status()
            });
        }
        while let Some(status) = batch.join_next().await {
            statuses.push(status.expect("request task"));
        }
    }
    statuses
}

fn count(statuses: &[StatusCode], status: StatusCode) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}

/// A direct sign-in's login page from `who`: (its path, its HTML).
async fn login_page(who: &Located<'_>) -> (String, String) {
    let start = who
        .browser
        .get(who.app.url("/login"))
        .send()
        .await
        .expect("login");
    let path = location(&start);
    let html = who.page(&path).await;
    (path, html)
}

#[tokio::test]
async fn parallel_wrong_passwords_are_judged_no_more_than_sequential_ones() {
    let app = spawn_app().await;
    app.create_account("a1830000", "student").await;
    let free = app.state.settings.throttle.account_free_failures as usize;
    let who = app.stranger_at(OFF_CAMPUS_IP);
    let (_, html) = login_page(&who).await;
    let (flow, csrf) = (hidden_field(&html, "flow"), hidden_field(&html, "csrf"));
    let forms = (0..200)
        .map(|i| {
            vec![
                ("flow".to_string(), flow.clone()),
                ("csrf".to_string(), csrf.clone()),
                ("username".to_string(), "a1830000".to_string()),
                ("password".to_string(), format!("wrong guess {i}")),
            ]
        })
        .collect();
    let statuses = in_parallel(&who.browser, app.url("/login"), forms, 64).await;
    let judged = count(&statuses, StatusCode::UNAUTHORIZED);
    let throttled = count(&statuses, StatusCode::TOO_MANY_REQUESTS);
    eprintln!("passwords: {judged} of 200 parallel guesses judged, {throttled} throttled");
    assert_eq!(judged + throttled, 200, "{statuses:?}");
    assert!(
        judged <= free,
        "{judged} of 200 parallel guesses were judged; one by one only {free} would be"
    );
}

#[tokio::test]
async fn parallel_wrong_email_codes_are_judged_no_more_than_the_attempt_limit() {
    let app = spawn_app().await;
    app.create_account_with_email("a1830000", "taro@example.com")
        .await;
    let client = app.register_client(|_| {}).await;
    let off = app.stranger_at(OFF_CAMPUS_IP);
    let page = password_step(&off, &authorize_url(&app, &client.id, &[]), "a1830000").await;
    let html = off.page(&page).await;
    let (flow, csrf) = (hidden_field(&html, "flow"), hidden_field(&html, "csrf"));
    let forms = (0..64)
        .map(|i| {
            vec![
                ("flow".to_string(), flow.clone()),
                ("csrf".to_string(), csrf.clone()),
                // Wrong codes (one in about 14,000 runs hits the real one by chance).
                ("code".to_string(), format!("{:06}", 900_000 + i)),
            ]
        })
        .collect();
    let statuses = in_parallel(&off.browser, app.url("/login/second-factor"), forms, 64).await;
    let judged = count(&statuses, StatusCode::UNAUTHORIZED);
    eprintln!("e-mail code: {judged} of 64 parallel guesses judged");
    assert!(
        judged <= 5,
        "{judged} of 64 parallel codes were judged; the limit is 5: {statuses:?}"
    );
    let now = app.clock.now();
    let attempts = app
        .state
        .db
        .run(move |conn| {
            second_factors::find_live_code(conn, "a1830000", PURPOSE_SIGN_IN, now, i64::MAX)
        })
        .await
        .expect("db")
        .map(|c| c.attempts)
        .unwrap_or_default();
    eprintln!("e-mail code: tried {attempts} times");
    assert!(attempts <= 5, "the code was tried {attempts} times");
}

#[tokio::test]
async fn one_sign_in_flow_gets_a_capped_number_of_second_factor_attempts() {
    // An account budget large enough not to interfere: the flow's own cap must hold.
    let app = spawn_app_with(|s| s.throttle.account_free_failures = 1000).await;
    app.create_account_with_email("a1830000", "taro@example.com")
        .await;
    let client = app.register_client(|_| {}).await;
    let off = app.stranger_at(OFF_CAMPUS_IP);
    let page = password_step(&off, &authorize_url(&app, &client.id, &[]), "a1830000").await;
    let html = off.page(&page).await;
    let (flow, csrf) = (hidden_field(&html, "flow"), hidden_field(&html, "csrf"));
    // Backup-code guesses: no per-code limit applies, only the flow's and the account's.
    let alphabet = b"abcdefghjkmnpqrstuvwxyz23456789";
    let forms = (0..64)
        .map(|i| {
            let guess = format!(
                "zzzz-zz{}{}",
                alphabet[i / 31] as char,
                alphabet[i % 31] as char
            );
            vec![
                ("flow".to_string(), flow.clone()),
                ("csrf".to_string(), csrf.clone()),
                ("code".to_string(), guess),
            ]
        })
        .collect();
    let statuses = in_parallel(&off.browser, app.url("/login/second-factor"), forms, 64).await;
    let judged = count(&statuses, StatusCode::UNAUTHORIZED);
    eprintln!("flow cap: {judged} of 64 parallel second-factor guesses judged");
    assert!(
        judged <= uec_idp::services::throttle::FLOW_SECOND_FACTOR_ATTEMPTS as usize,
        "{judged} of 64 guesses in one flow were judged: {statuses:?}"
    );
    assert!(judged > 0, "some guesses are judged: {statuses:?}");
}

#[tokio::test]
async fn parallel_wrong_reissue_keys_are_judged_no_more_than_the_attempt_limit() {
    let app = spawn_app().await;
    app.create_account_with_email("a1830000", "taro@example.com")
        .await;
    let who = app.stranger_at(OFF_CAMPUS_IP);
    let form = who.page("/reissue").await;
    let new_password = "violet tram quietly hums at dawn";
    let r = who
        .post_form(
            "/reissue",
            &form,
            &[
                ("account_id", "a1830000"),
                ("email", "taro@example.com"),
                ("password", new_password),
                ("password_confirm", new_password),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.expect("key page");
    let (ticket, csrf) = (hidden_field(&page, "ticket"), hidden_field(&page, "csrf"));
    let forms = (0..64)
        .map(|i| {
            vec![
                ("ticket".to_string(), ticket.clone()),
                ("csrf".to_string(), csrf.clone()),
                // Nine digits: never the key, still judged as a wrong one.
                ("key".to_string(), format!("{}", 900_000_000 + i)),
            ]
        })
        .collect();
    let statuses = in_parallel(&who.browser, app.url("/reissue/key"), forms, 64).await;
    let refused = count(&statuses, StatusCode::UNAUTHORIZED);
    let throttled = count(&statuses, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused + throttled, 64, "{statuses:?}");
    let now = app.clock.now();
    let attempts = app
        .state
        .db
        .run(move |conn| reissue::find_live(conn, &ticket, now, i64::MAX))
        .await
        .expect("db")
        .map(|p| p.attempts)
        .unwrap_or_default();
    eprintln!("reissue key: tried {attempts} times");
    assert!(
        attempts <= 5,
        "the key was tried {attempts} times in parallel; the limit is 5"
    );
}

#[tokio::test]
async fn a_strangers_guesses_leave_the_owners_known_browser_able_to_sign_in() {
    let app = spawn_app().await;
    app.create_account("a1830000", "student").await;
    // The owner signed in from this browser before (on campus: a password suffices).
    let owner = app.at(CAMPUS_IP);
    let (path, _) = login_page(&owner).await;
    let r = owner.submit_login(&path, "a1830000", PASSWORD).await;
    assert_eq!(location(&r), "/account");

    // A stranger (another browser, another address) guesses 30 times.
    let stranger = app.stranger_at(OFF_CAMPUS_IP);
    let (path, _) = login_page(&stranger).await;
    let mut throttled = 0;
    for i in 0..30 {
        let r = stranger
            .submit_login(&path, "a1830000", &format!("guess {i}"))
            .await;
        throttled += usize::from(r.status() == StatusCode::TOO_MANY_REQUESTS);
    }
    assert!(throttled > 0, "the stranger is throttled");

    // The owner's known browser signs in at once.
    let (path, _) = login_page(&owner).await;
    let r = owner.submit_login(&path, "a1830000", PASSWORD).await;
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "the owner's browser is not locked out by a stranger"
    );
    assert_eq!(location(&r), "/account");

    // An unknown browser shares the account's lockout, even with the right password (the
    // owner's sign-in did not lift it for strangers).
    let unknown = app.stranger_at("198.51.100.20");
    let (path, _) = login_page(&unknown).await;
    let r = unknown.submit_login(&path, "a1830000", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn a_walk_through_one_ipv6_64_is_throttled_like_one_address() {
    let app = spawn_app_with(|s| s.throttle.address_free_failures = 10).await;
    let mut statuses = Vec::new();
    for i in 1..=30 {
        // A different account ID and a different address of 2001:db8:1:2::/64 each time.
        let who = app.stranger_at(&format!("2001:db8:1:2:{i:x}::{i:x}"));
        let (path, _) = login_page(&who).await;
        let r = who
            .submit_login(&path, &format!("a18{i:05}"), "spray password")
            .await;
        statuses.push(r.status());
    }
    let judged = count(&statuses, StatusCode::UNAUTHORIZED);
    eprintln!("/64 walk: {judged} of 30 guesses judged");
    assert!(
        judged <= 10,
        "{judged} of 30 guesses from one /64 were judged; one address gets 10: {statuses:?}"
    );
    // Another /64 is another address.
    let elsewhere = app.stranger_at("2001:db8:1:3::1");
    let (path, _) = login_page(&elsewhere).await;
    let r = elsewhere
        .submit_login(&path, "a1899999", "spray password")
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

/// The reservation itself, straight on the store: attempts of one key that arrive together
/// (the first ones racing to insert its row) are all counted and none is refused while the
/// count allows them.
#[tokio::test]
async fn simultaneous_first_attempts_are_all_counted_and_none_refused_below_the_limit() {
    let app = spawn_app().await;
    let now = app.clock.now();
    let policy = Policy::Cap {
        limit: 1000,
        window_secs: 900,
    };
    let limit = Limit {
        key: Key::account("a1899999"),
        policy,
    };
    let mut all = tokio::task::JoinSet::new();
    for _ in 0..64 {
        let (db, limit) = (app.state.db.clone(), limit.clone());
        all.spawn(async move { throttle::reserve(&db, now, vec![limit]).await });
    }
    let mut refused = 0;
    while let Some(outcome) = all.join_next().await {
        refused += usize::from(outcome.expect("task").expect("db").is_err());
    }
    assert_eq!(refused, 0, "attempts refused below the limit");
    // The 65th is the 65th counted: none was lost.
    let key = limit.key.clone();
    let next = app
        .state
        .db
        .write(move |conn| uec_idp::store::throttle::reserve(conn, &key, now, policy))
        .await
        .expect("db");
    assert_eq!(next, Reservation::Granted { count: 65 });
}

/// An attempt that read the clock a second before another one reached the database is not
/// refused by a count that does not block.
#[tokio::test]
async fn an_attempt_with_an_earlier_clock_reading_is_not_refused_below_the_limit() {
    let app = spawn_app().await;
    let now = app.clock.now();
    let limit = Limit {
        key: Key::account("a1899999"),
        policy: Policy::Backoff {
            free: 5,
            window_secs: 900,
            max_delay_secs: 900,
        },
    };
    let db = &app.state.db;
    let first = throttle::reserve(db, now, vec![limit.clone()]).await;
    assert_eq!(first.expect("db"), Ok(()));
    let second = throttle::reserve(db, now - 1, vec![limit]).await;
    assert_eq!(
        second.expect("db"),
        Ok(()),
        "the second of five free attempts"
    );
}
