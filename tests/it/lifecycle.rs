//! The end of an account's life over real parts: reminders by mail before deletion, then
//! deletion to a tombstone whose ID and `sub` are never issued again; idempotent passes.

use reqwest::StatusCode;
use uec_idp::clock::Clock;
use uec_idp::domain::lifecycle;
use uec_idp::services::accounts::{self, AccountError, IssuePolicy, NewAccount};
use uec_idp::services::lifecycle::{LifecyclePolicy, PassReport, run_pass};

use crate::helpers::*;

const DAY: i64 = 86_400;

/// The JST date `days` from the app's now, as `--valid-until` takes it.
fn date_in(app: &TestApp, days: i64) -> String {
    let t =
        chrono::DateTime::from_timestamp(app.clock.now() + days * DAY + 9 * 3600, 0).expect("date");
    t.format("%Y-%m-%d").to_string()
}

async fn issue(
    app: &TestApp,
    id: &str,
    affiliation: &str,
    valid_until: String,
) -> Result<(), AccountError> {
    let state = app.state.clone();
    let new = NewAccount {
        id: id.into(),
        name: "Chofu Taro".into(),
        affiliation: affiliation.into(),
        password: Some(PASSWORD.into()),
        personal_email: Some("taro@example.com".into()),
        valid_until: Some(valid_until),
        ..Default::default()
    };
    tokio::task::spawn_blocking(move || {
        accounts::create_account(
            &state.db,
            &state.hasher,
            new,
            state.clock.now(),
            &IssuePolicy::from_settings(&state.settings),
        )
        .map(drop)
    })
    .await
    .expect("task")
}

async fn pass(app: &TestApp) -> PassReport {
    let policy = LifecyclePolicy::from_settings(&app.state.settings);
    run_pass(&app.state.db, &app.state.mailer, &policy, app.clock.now())
        .await
        .expect("pass")
}

fn mails_to(app: &TestApp, address: &str) -> usize {
    std::fs::read_dir(&app.state.settings.mail.dir)
        .map(|d| {
            d.flatten()
                .filter(|e| {
                    std::fs::read_to_string(e.path())
                        .is_ok_and(|m| m.contains(&format!("To: {address}")))
                })
                .count()
        })
        .unwrap_or(0)
}

async fn deletion_at(app: &TestApp, id: &str) -> i64 {
    let account = find(app, id).await.expect("account");
    lifecycle::deletion_at(
        &account,
        LifecyclePolicy::from_settings(&app.state.settings).grace,
    )
    .expect("end date")
}

async fn find(app: &TestApp, id: &str) -> Option<uec_idp::domain::account::Account> {
    let (state, id) = (app.state.clone(), id.to_string());
    tokio::task::spawn_blocking(move || accounts::find_account(&state.db, &id))
        .await
        .expect("task")
        .expect("db")
}

async fn can_sign_in(app: &TestApp, id: &str) -> StatusCode {
    let who = app.stranger_at(CAMPUS_IP);
    let login = location(
        &who.browser
            .get(app.url("/login"))
            .send()
            .await
            .expect("login"),
    );
    who.submit_login(&login, id, PASSWORD).await.status()
}

#[tokio::test]
async fn a_student_is_reminded_at_30_and_7_days_then_deleted_to_a_tombstone() {
    let app = spawn_app().await;
    issue(&app, "a1830000", "student", date_in(&app, 10))
        .await
        .expect("issued");
    let at = deletion_at(&app, "a1830000").await;
    assert!(
        at - app.clock.now() > 60 * DAY,
        "two months of grace after the end date"
    );

    app.clock.advance(at - 31 * DAY - app.clock.now());
    assert_eq!(pass(&app).await, PassReport::default(), "nothing due yet");
    app.clock.advance(DAY);
    assert_eq!(pass(&app).await.reminded, 1);
    assert_eq!(mails_to(&app, "a1830000@edu.cc.uec.ac.jp"), 1);
    assert_eq!(
        mails_to(&app, "taro@example.com"),
        1,
        "the personal address too"
    );
    assert_eq!(
        pass(&app).await,
        PassReport::default(),
        "a second pass sends nothing"
    );
    app.clock.advance(23 * DAY);
    assert_eq!(pass(&app).await.reminded, 1, "the 7-day reminder");
    assert_eq!(mails_to(&app, "taro@example.com"), 2);
    assert_eq!(
        can_sign_in(&app, "a1830000").await,
        StatusCode::SEE_OTHER,
        "still valid in the grace period"
    );

    let sub = find(&app, "a1830000").await.expect("account").sub;
    app.clock.advance(at - app.clock.now());
    assert_eq!(pass(&app).await.deleted, 1);
    assert_eq!(pass(&app).await, PassReport::default(), "deleted once");
    assert_eq!(
        can_sign_in(&app, "a1830000").await,
        StatusCode::UNAUTHORIZED,
        "the same answer as a wrong password"
    );
    let tomb = find(&app, "a1830000").await.expect("tombstone");
    assert_eq!(
        (tomb.sub, tomb.name.as_str(), tomb.personal_email),
        (sub, "", None)
    );
    let again = issue(&app, "a1830000", "student", date_in(&app, 400)).await;
    assert!(
        matches!(again, Err(AccountError::Duplicate(_))),
        "{again:?}"
    );
}

#[tokio::test]
async fn a_non_degree_student_has_no_grace_and_an_open_ended_account_never_ends() {
    let app = spawn_app().await;
    issue(&app, "a1890000", "student", date_in(&app, 3))
        .await
        .expect("non-degree by its number");
    app.create_account("a1830000", "student").await;
    let at = deletion_at(&app, "a1890000").await;
    assert!(at - app.clock.now() <= 4 * DAY, "no grace");
    app.clock.advance(at - app.clock.now());
    let report = pass(&app).await;
    assert_eq!(report.deleted, 1);
    assert_eq!(
        mails_to(&app, "taro@example.com"),
        0,
        "first seen within 7 days but past the end: deleted"
    );
    assert_eq!(can_sign_in(&app, "a1830000").await, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_reminder_that_cannot_be_sent_is_retried_at_the_next_pass() {
    let app = spawn_app_with(|s| {
        s.mail.transport = "smtp".into();
        s.mail.smtp_url = "smtp://127.0.0.1:9".into();
    })
    .await;
    issue(&app, "a1830000", "student", date_in(&app, 10))
        .await
        .expect("issued");
    let at = deletion_at(&app, "a1830000").await;
    app.clock.advance(at - 20 * DAY - app.clock.now());
    assert_eq!(pass(&app).await.unsent, 1);
    assert_eq!(
        pass(&app).await.unsent,
        1,
        "tried again, not marked as sent"
    );
}
