//! What a stolen database reveals (issue #12's threat model, "secrets at rest"): after a
//! sign-in, a code exchange with a refresh token, a confidential client and an
//! authenticator app, none of those secrets appears in the database as it is stored: the
//! SQLite file and its write-ahead log read as bytes, or every PostgreSQL table of the
//! test's schema rendered as text. Passwords are argon2id hashes, codes, tokens, session
//! ids and client secrets SHA-256 hashes, TOTP seeds sealed under the server secret.

use diesel::RunQueryDsl;
use diesel::sql_types::Text;

use crate::helpers::*;
use crate::second_factor::{set_up_totp, sign_in_on_campus};

#[derive(diesel::QueryableByName)]
struct Dump {
    #[diesel(sql_type = Text)]
    dump: String,
}

#[derive(diesel::QueryableByName)]
struct TableName {
    #[diesel(sql_type = Text)]
    table_name: String,
}

/// Everything the database holds, as bytes.
async fn stored_bytes(app: &TestApp) -> Vec<u8> {
    let url = app.state.settings.database_url.clone();
    if let Some(path) = url.strip_prefix("sqlite://") {
        let mut bytes = std::fs::read(path).expect("database file");
        bytes.extend(std::fs::read(format!("{path}-wal")).unwrap_or_default());
        return bytes;
    }
    app.state
        .db
        .run(|conn| {
            let tables: Vec<TableName> = diesel::sql_query(
                "SELECT table_name::text AS table_name FROM information_schema.tables \
                 WHERE table_schema = current_schema()",
            )
            .load(conn)
            .map_err(uec_idp::store::StoreError::from)?;
            let mut all = Vec::new();
            for t in tables {
                let rows: Vec<Dump> = diesel::sql_query(format!(
                    "SELECT coalesce(string_agg(t::text, E'\\n'), '') AS dump FROM \"{}\" t",
                    t.table_name
                ))
                .load(conn)
                .map_err(uec_idp::store::StoreError::from)?;
                for r in rows {
                    all.extend(r.dump.into_bytes());
                }
            }
            Ok::<_, uec_idp::store::StoreError>(all)
        })
        .await
        .expect("dump")
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn the_database_holds_no_secret_in_the_clear() {
    let app = spawn_app().await;
    app.create_account("a1830000", "student").await;
    let client = app.register_client(|_| {}).await;
    let code = code_for(&app, &client, "a1830000", OFFLINE_SCOPE).await;
    let tokens = exchange_code(&app, &client, &code).await;
    let campus = sign_in_on_campus(&app, "a1830000").await;
    let seed = set_up_totp(&campus).await;
    let cookies = {
        use reqwest::cookie::CookieStore;
        let url = app.url("/").parse().expect("url");
        app.jar
            .cookies(&url)
            .and_then(|v| v.to_str().ok().map(str::to_string))
            .expect("cookies")
    };
    let session = cookies
        .split("; ")
        .find_map(|c| c.strip_prefix("uec_idp_session="))
        .expect("session cookie")
        .to_string();

    let stored = stored_bytes(&app).await;
    assert!(
        contains(&stored, b"a1830000"),
        "the dump is readable (the account ID is there)"
    );
    assert!(
        contains(&stored, client.id.as_bytes()),
        "the dump is readable (the client ID is there)"
    );
    let hex_seed: String = seed.iter().map(|b| format!("{b:02x}")).collect();
    let b32_seed = totp_rs::Secret::from(seed.clone()).to_base32();
    let secrets = [
        ("password", PASSWORD.to_string()),
        ("client secret", client.secret.clone().expect("secret")),
        ("authorization code", code),
        ("access token", field(&tokens, "access_token")),
        ("refresh token", field(&tokens, "refresh_token")),
        ("session id", session),
        ("TOTP seed (base32)", b32_seed),
        ("TOTP seed (hex)", hex_seed),
    ];
    for (what, secret) in &secrets {
        assert!(
            !contains(&stored, secret.as_bytes()),
            "the {what} is stored in the clear"
        );
    }
    assert!(
        !contains(&stored, &seed),
        "the TOTP seed's raw bytes are stored"
    );
}
