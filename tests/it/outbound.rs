//! Blind SSRF through back-channel logout URIs (issue #12 item 6), over real HTTP: URIs on
//! loopback, private, link-local or metadata addresses (or names resolving to them) are
//! refused at the developer portal, at RFC 7591 registration and at RFC 7592 PUT; a stored
//! row that names one anyway (an old registration) is never contacted by the delivery
//! worker, while the operator's own registrations still are.

use std::time::Duration;

use diesel::prelude::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uec_idp::store::logout_notifications::{self, NotificationRow};
use uec_idp::store::schema::clients;

use crate::backchannel_logout::{TestRp, client_for, logout, sign_in, sign_in_silently};
use crate::helpers::*;

/// Back-channel URIs a relying party must not make us call.
const INTERNAL: &[&str] = &[
    "http://127.0.0.1:9/bc",
    "https://127.0.0.1/bc",
    "https://10.1.2.3/bc",
    "https://192.168.0.10/bc",
    "https://169.254.169.254/latest/meta-data",
    "https://[::1]/bc",
    "https://[fe80::1]/bc",
    "https://[fd00:ec2::254]/bc",
    "https://[::ffff:127.0.0.1]/bc",
    "https://localhost/bc",
    // the campus network (public address space, but the university's own hosts)
    "https://130.153.8.1/bc",
    "https://[::ffff:0:10.0.0.1]/bc",
];

async fn staff_signed_in(app: &TestApp) -> Located<'_> {
    app.create_account("s0000001", "staff").await;
    let who = app.stranger_at(CAMPUS_IP);
    let start = who
        .browser
        .get(app.url("/login"))
        .send()
        .await
        .expect("login");
    let r = who
        .submit_login(&location(&start), "s0000001", PASSWORD)
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "staff signs in");
    who
}

#[tokio::test]
async fn the_portal_refuses_internal_backchannel_uris() {
    let app = spawn_app().await;
    let me = staff_signed_in(&app).await;
    for uri in INTERNAL {
        let form = me.page("/developer/apps/new").await;
        let r = me
            .post_form(
                "/developer/apps",
                &form,
                &[
                    ("name", "Probe"),
                    ("redirect_uris", "https://app.example.org/cb"),
                    ("backchannel_logout_uri", uri),
                    ("client_type", "confidential"),
                ],
            )
            .await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{uri}");
        let html = r.text().await.expect("html");
        assert!(html.contains("back-channel logout URI"), "{uri}: {html}");
    }
    // An ordinary https name (not resolvable here) is still accepted.
    let form = me.page("/developer/apps/new").await;
    let r = me
        .post_form(
            "/developer/apps",
            &form,
            &[
                ("name", "Fine"),
                ("redirect_uris", "https://app.example.org/cb"),
                ("backchannel_logout_uri", "https://app.example.org/bc"),
                ("client_type", "confidential"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
}

async fn initial_token(app: &TestApp, uses: i64) -> String {
    let state = app.state.clone();
    tokio::task::spawn_blocking(move || {
        uec_idp::services::registration::issue_initial_token(&state.db, 1, uses, state.clock.now())
    })
    .await
    .expect("task")
    .expect("initial token")
    .token
}

fn metadata(backchannel: Option<&str>) -> Value {
    let mut m = json!({
        "client_name": "Research portal",
        "redirect_uris": ["https://research.example.org/cb"],
    });
    if let Some(uri) = backchannel {
        m["backchannel_logout_uri"] = json!(uri);
    }
    m
}

async fn register(app: &TestApp, token: &str, body: &Value) -> reqwest::Response {
    app.http
        .post(app.url("/register"))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .expect("register")
}

#[tokio::test]
async fn dynamic_registration_and_put_refuse_internal_backchannel_uris() {
    let app = spawn_app().await;
    let token = initial_token(&app, 100).await;
    for uri in INTERNAL {
        let r = register(&app, &token, &metadata(Some(uri))).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{uri}");
        let body: Value = r.json().await.expect("json");
        assert_eq!(body["error"], "invalid_client_metadata", "{uri}");
    }
    let r = register(&app, &token, &metadata(None)).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let reg: Value = r.json().await.expect("json");
    let config_uri = reg["registration_client_uri"].as_str().expect("uri");
    let access = reg["registration_access_token"].as_str().expect("token");
    let client_id = reg["client_id"].as_str().expect("id");
    for uri in INTERNAL {
        let mut body = metadata(Some(uri));
        body["client_id"] = json!(client_id);
        let r = app
            .http
            .put(config_uri)
            .bearer_auth(access)
            .json(&body)
            .send()
            .await
            .expect("put");
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "PUT {uri}");
        let body: Value = r.json().await.expect("json");
        assert_eq!(body["error"], "invalid_client_metadata", "PUT {uri}");
    }
}

#[tokio::test]
async fn the_operator_can_allow_loopback_for_development() {
    let app = spawn_app_with(|s| {
        s.outbound.allowed_networks = vec!["127.0.0.0/8".into()];
        s.outbound.http_allowed_hosts = vec!["127.0.0.1".into()];
    })
    .await;
    let token = initial_token(&app, 2).await;
    let r = register(&app, &token, &metadata(Some("http://127.0.0.1:9/bc"))).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    // Still not the private ranges that were not allowed.
    let r = register(&app, &token, &metadata(Some("https://10.1.2.3/bc"))).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

async fn set_registered_by(app: &TestApp, client_id: &str, registrar: &str) {
    let (id, registrar) = (client_id.to_string(), registrar.to_string());
    app.state
        .db
        .run(move |conn| {
            Ok::<_, uec_idp::store::StoreError>(
                diesel::update(clients::table.find(id))
                    .set(clients::registered_by.eq(registrar))
                    .execute(conn)?,
            )
        })
        .await
        .expect("update");
}

async fn outbox(app: &TestApp, client_id: &str) -> Vec<NotificationRow> {
    let (state, id) = (app.state.clone(), client_id.to_string());
    state
        .db
        .run(move |conn| logout_notifications::list_for_client(conn, &id))
        .await
        .expect("outbox")
}

/// Waits (bounded) until the client's notification was tried at least once.
async fn tried(app: &TestApp, client_id: &str) -> NotificationRow {
    for _ in 0..100 {
        if let Some(row) = outbox(app, client_id)
            .await
            .into_iter()
            .find(|r| r.attempts > 0)
        {
            return row;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the notification for {client_id} was never tried");
}

#[tokio::test]
async fn a_stored_internal_uri_is_never_contacted() {
    let app = spawn_app_with(|s| s.logout.poll_interval_ms = 100).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    app.create_account("a1830000", "student").await;
    // Two relying parties whose rows name loopback, as an old registration could have
    // left them: one by address, one by a name that resolves to it.
    let by_address = app
        .register_client(|c| {
            c.backchannel_logout_uri = Some(format!("http://127.0.0.1:{port}/bc"));
        })
        .await;
    let by_name = app
        .register_client(|c| {
            c.backchannel_logout_uri = Some(format!("http://localhost:{port}/bc"));
        })
        .await;
    set_registered_by(&app, &by_address.id, "developer").await;
    set_registered_by(&app, &by_name.id, "dynamic").await;
    // The operator's own registration on loopback is trusted and still delivered to.
    let rp = TestRp::start().await;
    let operator = client_for(&app, Some(&rp)).await;

    let tokens = sign_in(&app, &operator, "a1830000").await;
    sign_in_silently(&app, &by_address).await;
    sign_in_silently(&app, &by_name).await;
    let r = logout(&app, &[("id_token_hint", &tokens.id_token)]).await;
    assert_eq!(r.status(), StatusCode::OK);

    rp.wait_for_tokens(1).await;
    for client in [&by_address, &by_name] {
        let row = tried(&app, &client.id).await;
        assert!(row.delivered_at.is_none());
        let error = row.last_error.unwrap_or_default();
        assert!(error.contains("outbound"), "{error}");
    }
    let accepted = tokio::time::timeout(Duration::from_millis(500), listener.accept()).await;
    assert!(
        accepted.is_err(),
        "the listener on loopback saw a connection"
    );
}

#[tokio::test]
async fn an_allowed_network_is_delivered_to_through_the_checked_resolver() {
    let app = spawn_app_with(|s| {
        s.logout.poll_interval_ms = 100;
        s.outbound.allowed_networks = vec!["127.0.0.0/8".into(), "::1/128".into()];
        s.outbound.http_allowed_hosts = vec!["localhost".into()];
    })
    .await;
    app.create_account("a1830000", "student").await;
    let rp = TestRp::start().await;
    let by_name = rp.url.replace("127.0.0.1", "localhost");
    let client = app
        .register_client(|c| c.backchannel_logout_uri = Some(by_name))
        .await;
    set_registered_by(&app, &client.id, "developer").await;
    let tokens = sign_in(&app, &client, "a1830000").await;
    let r = logout(&app, &[("id_token_hint", &tokens.id_token)]).await;
    assert_eq!(r.status(), StatusCode::OK);
    // Resolved by the checked resolver, connected on the URI's port.
    rp.wait_for_tokens(1).await;
}
