//! The developer portal over real HTTP: faculty and staff register apps, see the secret
//! once, rotate it, edit and delete their own apps; students are refused; URIs are checked.

use reqwest::StatusCode;
use uec_idp::domain::client::Registrar;

use crate::helpers::*;

/// A person signed in on campus in a browser of their own.
async fn signed_in<'a>(app: &'a TestApp, id: &str, affiliation: &str) -> Located<'a> {
    app.create_account(id, affiliation).await;
    let who = app.stranger_at(CAMPUS_IP);
    let start = who
        .browser
        .get(app.url("/login"))
        .send()
        .await
        .expect("login");
    let r = who.submit_login(&location(&start), id, PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{id} signs in");
    who
}

/// The text of `<code id="ID">...</code>` in a page.
fn code_text(html: &str, id: &str) -> Option<String> {
    let marker = format!(r#"<code id="{id}">"#);
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find("</code>")? + start;
    Some(html[start..end].to_string())
}

async fn register(who: &Located<'_>, fields: &[(&str, &str)]) -> reqwest::Response {
    let form = who.page("/developer/apps/new").await;
    who.post_form("/developer/apps", &form, fields).await
}

/// Registers an app with `fields`, which must succeed; returns the page that shows it.
async fn registered_page(who: &Located<'_>, fields: &[(&str, &str)]) -> String {
    let r = register(who, fields).await;
    assert_eq!(r.status(), StatusCode::OK);
    r.text().await.expect("html")
}

/// GETs `path` in this person's browser.
async fn get(who: &Located<'_>, path: &str) -> reqwest::Response {
    who.browser
        .get(who.app.url(path))
        .send()
        .await
        .expect("get")
}

/// Registers a confidential app; returns (client_id, client_secret).
async fn register_app(who: &Located<'_>, name: &str) -> (String, String) {
    let html = registered_page(
        who,
        &[
            ("name", name),
            (
                "redirect_uris",
                "https://app.example.org/cb\r\nhttp://127.0.0.1:9/cb\r\n",
            ),
            ("post_logout_redirect_uris", "https://app.example.org/bye"),
            ("backchannel_logout_uri", "https://app.example.org/bc"),
            ("client_type", "confidential"),
        ],
    )
    .await;
    (
        code_text(&html, "client-id").expect("client_id shown"),
        code_text(&html, "client-secret").expect("secret shown"),
    )
}

async fn audit_kinds(app: &TestApp) -> Vec<String> {
    let db = app.state.db.clone();
    tokio::task::spawn_blocking(move || {
        let mut conn = db.conn().expect("conn");
        uec_idp::store::audit::recent(&mut conn, 100)
            .expect("audit")
            .into_iter()
            .map(|e| e.kind)
            .collect()
    })
    .await
    .expect("audit task")
}

async fn all_clients(app: &TestApp) -> Vec<uec_idp::domain::client::RelyingParty> {
    let db = app.state.db.clone();
    tokio::task::spawn_blocking(move || uec_idp::services::clients::list_clients(&db))
        .await
        .expect("task")
        .expect("clients")
}

#[tokio::test]
async fn faculty_registers_an_app_sees_the_secret_once_rotates_edits_and_deletes_it() {
    let app = spawn_app().await;
    let me = signed_in(&app, "f0000001", "faculty").await;
    assert!(
        me.page("/account").await.contains(r#"href="/developer""#),
        "the account page links the portal"
    );
    assert!(me.page("/developer").await.contains("No apps yet"));

    let (id, secret) = register_app(&me, "Lab scheduler").await;
    assert_eq!(
        bogus_code_error(&app, &id, &secret).await,
        (StatusCode::BAD_REQUEST, "invalid_grant".into())
    );
    assert_eq!(
        bogus_code_error(&app, &id, "wrong").await,
        (StatusCode::UNAUTHORIZED, "invalid_client".into())
    );
    let stored = all_clients(&app).await;
    let rp = stored.iter().find(|c| c.id == id).expect("stored");
    assert_eq!(rp.registered_by, Registrar::Developer);
    assert_eq!(rp.owner_account_id.as_deref(), Some("f0000001"));
    assert!(rp.require_consent, "a third-party app asks for consent");
    assert_eq!(
        rp.redirect_uris,
        vec!["https://app.example.org/cb", "http://127.0.0.1:9/cb"]
    );
    assert_eq!(
        rp.backchannel_logout_uri.as_deref(),
        Some("https://app.example.org/bc")
    );
    assert_ne!(
        rp.secret_hash.as_deref(),
        Some(secret.as_str()),
        "only a hash is stored"
    );

    let list = me.page("/developer").await;
    assert!(list.contains("Lab scheduler") && list.contains(&id));
    let detail = me.page(&format!("/developer/apps/{id}")).await;
    assert!(!detail.contains(&secret), "the secret is shown only once");

    // Rotation: the old secret stops working, the new one works.
    let r = me
        .post_form(&format!("/developer/apps/{id}/secret"), &detail, &[])
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let new_secret =
        code_text(&r.text().await.expect("html"), "client-secret").expect("new secret");
    assert_ne!(new_secret, secret);
    assert_eq!(
        bogus_code_error(&app, &id, &secret).await.1,
        "invalid_client"
    );
    assert_eq!(
        bogus_code_error(&app, &id, &new_secret).await.1,
        "invalid_grant"
    );

    // Edit: name and URIs; the type and the secret stay.
    let r = me
        .post_form(
            &format!("/developer/apps/{id}"),
            &detail,
            &[
                ("name", "Lab booking"),
                ("redirect_uris", "https://booking.example.org/cb"),
                ("post_logout_redirect_uris", ""),
                ("backchannel_logout_uri", ""),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let detail = me.page(&format!("/developer/apps/{id}")).await;
    assert!(detail.contains("Lab booking") && detail.contains("https://booking.example.org/cb"));
    assert!(!detail.contains("https://app.example.org/cb"));
    assert_eq!(
        bogus_code_error(&app, &id, &new_secret).await.1,
        "invalid_grant"
    );

    // Delete: only when confirmed; then the client is gone.
    let path = format!("/developer/apps/{id}/delete");
    let r = me.post_form(&path, &detail, &[]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        bogus_code_error(&app, &id, &new_secret).await.1,
        "invalid_grant"
    );
    let r = me.post_form(&path, &detail, &[("confirm", "yes")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/developer");
    assert_eq!(
        bogus_code_error(&app, &id, &new_secret).await.1,
        "invalid_client"
    );
    let r = get(&me, &format!("/developer/apps/{id}")).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(all_clients(&app).await.iter().all(|c| c.id != id));

    let kinds = audit_kinds(&app).await;
    for kind in [
        "client_registered",
        "client_secret_rotated",
        "client_updated",
        "client_deleted",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} audited: {kinds:?}");
    }
}

#[tokio::test]
async fn a_public_app_gets_no_secret() {
    let app = spawn_app().await;
    let me = signed_in(&app, "s0000001", "staff").await;
    let html = registered_page(
        &me,
        &[
            ("name", "Campus map"),
            ("redirect_uris", "http://localhost:8000/cb"),
            ("client_type", "public"),
        ],
    )
    .await;
    let id = code_text(&html, "client-id").expect("client_id");
    assert!(code_text(&html, "client-secret").is_none());
    let detail = me.page(&format!("/developer/apps/{id}")).await;
    assert!(
        !detail.contains("/secret\""),
        "no rotation for a public app"
    );
    let clients = all_clients(&app).await;
    assert!(
        clients
            .iter()
            .any(|c| c.id == id && c.is_public() && c.secret_hash.is_none())
    );
}

#[tokio::test]
async fn students_cannot_register_apps() {
    let app = spawn_app().await;
    let student = signed_in(&app, "a1830000", "student").await;
    for path in ["/developer", "/developer/apps/new"] {
        let r = get(&student, path).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
        assert!(
            r.text()
                .await
                .expect("html")
                .contains("Only faculty and staff")
        );
    }
    let account = student.page("/account").await;
    assert!(
        !account.contains(r#"href="/developer""#),
        "no portal link for students"
    );
    let r = student
        .post_form(
            "/developer/apps",
            &account,
            &[
                ("name", "Mine"),
                ("redirect_uris", "https://a.example.org/cb"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(all_clients(&app).await.is_empty());
}

#[tokio::test]
async fn the_portal_needs_a_session() {
    let app = spawn_app().await;
    let r = app
        .http
        .get(app.url("/developer"))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/login");
}

#[tokio::test]
async fn an_account_sees_and_changes_only_its_own_apps() {
    let app = spawn_app().await;
    let owner = signed_in(&app, "f0000001", "faculty").await;
    let (id, secret) = register_app(&owner, "Owner's app").await;
    let other = signed_in(&app, "f0000002", "faculty").await;
    assert!(!other.page("/developer").await.contains(&id));
    let r = get(&other, &format!("/developer/apps/{id}")).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let page = other.page("/developer/apps/new").await;
    for (path, fields) in [
        (
            format!("/developer/apps/{id}"),
            vec![
                ("name", "Hijacked"),
                ("redirect_uris", "https://evil.example/cb"),
            ],
        ),
        (format!("/developer/apps/{id}/secret"), vec![]),
        (
            format!("/developer/apps/{id}/delete"),
            vec![("confirm", "yes")],
        ),
    ] {
        let r = other.post_form(&path, &page, &fields).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let detail = owner.page(&format!("/developer/apps/{id}")).await;
    assert!(detail.contains("Owner&#39;s app") || detail.contains("Owner's app"));
    assert!(!detail.contains("evil.example"));
    assert_eq!(
        bogus_code_error(&app, &id, &secret).await.1,
        "invalid_grant",
        "the secret was not rotated"
    );
}

#[tokio::test]
async fn bad_uris_are_refused_and_the_form_says_why() {
    let app = spawn_app().await;
    let me = signed_in(&app, "f0000001", "faculty").await;
    for (field, bad, why) in [
        (
            "redirect_uris",
            "http://app.example.org/cb",
            "must use https",
        ),
        (
            "redirect_uris",
            "https://app.example.org/cb#top",
            "fragment",
        ),
        ("redirect_uris", "https://*.example.org/cb", "wildcard"),
        ("redirect_uris", "/cb", "not an absolute URL"),
        ("redirect_uris", "", "at least one"),
        (
            "post_logout_redirect_uris",
            "http://app.example.org/bye",
            "must use https",
        ),
        (
            "backchannel_logout_uri",
            "https://app.example.org/bc#x",
            "fragment",
        ),
    ] {
        let mut fields = vec![
            ("name", "Named app"),
            ("redirect_uris", "https://app.example.org/cb"),
            ("client_type", "confidential"),
        ];
        fields.retain(|(k, _)| *k != field);
        fields.push((field, bad));
        let r = register(&me, &fields).await;
        assert_eq!(
            r.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field}={bad}"
        );
        let html = r.text().await.expect("html");
        assert!(html.contains(why), "{field}={bad}: says {why}");
        assert!(
            html.contains(r#"value="Named app""#),
            "the form keeps what was typed"
        );
    }
    assert!(all_clients(&app).await.is_empty(), "nothing registered");

    // The same rules when editing.
    let (id, _) = register_app(&me, "Good app").await;
    let detail = me.page(&format!("/developer/apps/{id}")).await;
    let r = me
        .post_form(
            &format!("/developer/apps/{id}"),
            &detail,
            &[
                ("name", "Good app"),
                ("redirect_uris", "https://*.example.org/cb"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.expect("html").contains("wildcard"));
    let clients = all_clients(&app).await;
    assert_eq!(
        clients[0].redirect_uris,
        vec!["https://app.example.org/cb", "http://127.0.0.1:9/cb"]
    );
}

/// Rows of each table that hang off a client, for `client_id`.
async fn dependents(app: &TestApp, client_id: &str) -> Vec<i64> {
    use diesel::prelude::*;
    use uec_idp::store::schema::{
        authorization_codes, consents, grants, logout_notifications, pushed_authorization_requests,
        refresh_tokens,
    };
    let db = app.state.db.clone();
    let id = client_id.to_string();
    tokio::task::spawn_blocking(move || {
        let mut conn = db.conn().expect("conn");
        let conn = &mut *conn;
        let grant_ids = grants::table
            .filter(grants::client_id.eq(&id))
            .select(grants::id);
        vec![
            grants::table
                .filter(grants::client_id.eq(&id))
                .count()
                .get_result::<i64>(conn)
                .expect("grants"),
            authorization_codes::table
                .filter(authorization_codes::grant_id.eq_any(grant_ids))
                .count()
                .get_result::<i64>(conn)
                .expect("codes"),
            refresh_tokens::table
                .filter(refresh_tokens::grant_id.eq_any(grant_ids))
                .count()
                .get_result::<i64>(conn)
                .expect("refresh tokens"),
            consents::table
                .filter(consents::client_id.eq(&id))
                .count()
                .get_result::<i64>(conn)
                .expect("consents"),
            logout_notifications::table
                .filter(logout_notifications::client_id.eq(&id))
                .count()
                .get_result::<i64>(conn)
                .expect("notifications"),
            pushed_authorization_requests::table
                .filter(pushed_authorization_requests::client_id.eq(&id))
                .count()
                .get_result::<i64>(conn)
                .expect("pushed requests"),
        ]
    })
    .await
    .expect("count task")
}

#[tokio::test]
async fn deleting_an_app_takes_everything_issued_to_it() {
    use diesel::connection::SimpleConnection;
    let app = spawn_app().await;
    let me = signed_in(&app, "f0000001", "faculty").await;
    let (id, _) = register_app(&me, "Short-lived app").await;
    let (other_id, other_secret) = register_app(&me, "Kept app").await;
    // A grant with a code and a refresh token, a consent, a pending back-channel logout
    // notification and a pushed request, written as the other streams of issue #5 do.
    let sql = |c: &str| {
        format!(
            "INSERT INTO grants (id, client_id, account_id, sid, scope, auth_time, acr, amr, created_at) \
               VALUES ('g-{c}', '{c}', 'f0000001', 's1', 'openid', 1, 'pwd', '[\"pwd\"]', 1); \
             INSERT INTO authorization_codes (code_hash, grant_id, redirect_uri, created_at, expires_at) \
               VALUES ('code-{c}', 'g-{c}', 'https://app.example.org/cb', 1, 2); \
             INSERT INTO refresh_tokens (token_hash, grant_id, created_at, expires_at) \
               VALUES ('rt-{c}', 'g-{c}', 1, 2); \
             INSERT INTO consents (account_id, client_id, scope, granted_at) \
               VALUES ('f0000001', '{c}', 'openid', 1); \
             INSERT INTO logout_notifications (id, client_id, sub, sid, reason, created_at, attempts, next_attempt_at) \
               VALUES ('n-{c}', '{c}', 'sub', 's1', 'logout', 1, 0, 1); \
             INSERT INTO pushed_authorization_requests (request_uri_hash, client_id, params, created_at, expires_at) \
               VALUES ('par-{c}', '{c}', 'x=1', 1, 2);"
        )
    };
    let db = app.state.db.clone();
    let batch = format!("{}{}", sql(&id), sql(&other_id));
    tokio::task::spawn_blocking(move || db.conn().expect("conn").batch_execute(&batch))
        .await
        .expect("task")
        .expect("dependent rows written");
    assert_eq!(dependents(&app, &id).await, vec![1; 6]);

    let detail = me.page(&format!("/developer/apps/{id}")).await;
    let r = me
        .post_form(
            &format!("/developer/apps/{id}/delete"),
            &detail,
            &[("confirm", "yes")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        dependents(&app, &id).await,
        vec![0; 6],
        "nothing is left behind"
    );
    assert_eq!(
        dependents(&app, &other_id).await,
        vec![1; 6],
        "other apps keep theirs"
    );
    assert_eq!(
        bogus_code_error(&app, &other_id, &other_secret).await.1,
        "invalid_grant"
    );
}
