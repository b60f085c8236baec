//! The diesel schema: mirrors `migrations/{sqlite,postgres}` (a test checks that the live
//! tables match these declarations on both back-ends).

diesel::table! {
    accounts (id) {
        id -> Text,
        sub -> Text,
        name -> Text,
        affiliation -> Text,
        personal_email -> Nullable<Text>,
        email_alias -> Nullable<Text>,
        valid_until -> Nullable<BigInt>,
        status -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
        previous_account_id -> Nullable<Text>,
        pledge_completed_at -> Nullable<BigInt>,
        infoss_completed_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    password_credentials (account_id) {
        account_id -> Text,
        hash -> Text,
        kind -> Text,
        expires_at -> Nullable<BigInt>,
        changed_at -> BigInt,
        change_by -> Nullable<BigInt>,
    }
}

diesel::table! {
    clients (id) {
        id -> Text,
        name -> Text,
        secret_hash -> Nullable<Text>,
        auth_method -> Text,
        redirect_uris -> Text,
        post_logout_redirect_uris -> Text,
        backchannel_logout_uri -> Nullable<Text>,
        require_consent -> Bool,
        require_mfa -> Bool,
        allowed_affiliations -> Text,
        requires_compliance -> Bool,
        id_token_alg -> Text,
        disabled -> Bool,
        created_at -> BigInt,
        registered_by -> Text,
        owner_account_id -> Nullable<Text>,
        registration_token_hash -> Nullable<Text>,
        require_pushed_authorization_requests -> Bool,
        dpop_bound_access_tokens -> Bool,
        updated_at -> BigInt,
    }
}

diesel::table! {
    browser_sessions (id_hash) {
        id_hash -> Text,
        sid -> Text,
        account_id -> Text,
        auth_time -> BigInt,
        acr -> Text,
        amr -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::table! {
    login_flows (id) {
        id -> Text,
        request -> Nullable<Text>,
        account_id -> Nullable<Text>,
        created_at -> BigInt,
        expires_at -> BigInt,
        stage -> Text,
        amr -> Nullable<Text>,
        session_hash -> Nullable<Text>,
        webauthn_state -> Nullable<Text>,
        browser_hash -> Nullable<Text>,
        client_key -> Nullable<Text>,
    }
}

diesel::table! {
    totp_credentials (account_id, confirmed) {
        account_id -> Text,
        confirmed -> Bool,
        sealed_secret -> Text,
        last_step -> BigInt,
        created_at -> BigInt,
    }
}

diesel::table! {
    email_otp_destinations (account_id) {
        account_id -> Text,
        address -> Nullable<Text>,
        pending_address -> Nullable<Text>,
        updated_at -> BigInt,
    }
}

diesel::table! {
    one_time_codes (id) {
        id -> Text,
        account_id -> Text,
        purpose -> Text,
        code_mac -> Text,
        attempts -> BigInt,
        created_at -> BigInt,
        expires_at -> BigInt,
        consumed_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    backup_codes (account_id, code_mac) {
        account_id -> Text,
        code_mac -> Text,
        created_at -> BigInt,
        used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    passkeys (credential_id) {
        credential_id -> Text,
        account_id -> Text,
        name -> Text,
        credential -> Text,
        created_at -> BigInt,
        last_used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    lifecycle_reminders (account_id, days_before) {
        account_id -> Text,
        days_before -> BigInt,
        sent_at -> BigInt,
    }
}

diesel::table! {
    grants (id) {
        id -> Text,
        client_id -> Text,
        account_id -> Text,
        sid -> Nullable<Text>,
        scope -> Text,
        auth_time -> BigInt,
        acr -> Text,
        amr -> Text,
        created_at -> BigInt,
        revoked_at -> Nullable<BigInt>,
        dpop_jkt -> Nullable<Text>,
    }
}

diesel::table! {
    authorization_codes (code_hash) {
        code_hash -> Text,
        grant_id -> Text,
        redirect_uri -> Text,
        nonce -> Nullable<Text>,
        code_challenge -> Nullable<Text>,
        created_at -> BigInt,
        expires_at -> BigInt,
        consumed_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    refresh_tokens (token_hash) {
        token_hash -> Text,
        grant_id -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        consumed_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    login_throttle (key) {
        key -> Text,
        failures -> BigInt,
        last_failure_at -> BigInt,
        blocked_until -> BigInt,
    }
}

diesel::table! {
    audit_events (id) {
        id -> BigInt,
        at -> BigInt,
        kind -> Text,
        account_id -> Nullable<Text>,
        client_id -> Nullable<Text>,
        ip -> Nullable<Text>,
        detail -> Nullable<Text>,
    }
}

diesel::table! {
    password_reissues (id) {
        id -> Text,
        account_id -> Text,
        key_mac -> Text,
        password_hash -> Text,
        weakness -> Nullable<Text>,
        attempts -> BigInt,
        created_at -> BigInt,
        expires_at -> BigInt,
        consumed_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    initial_access_tokens (token_hash) {
        token_hash -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        uses_left -> BigInt,
    }
}

diesel::table! {
    consents (account_id, client_id) {
        account_id -> Text,
        client_id -> Text,
        scope -> Text,
        granted_at -> BigInt,
    }
}

diesel::table! {
    revoked_access_tokens (jti) {
        jti -> Text,
        expires_at -> BigInt,
    }
}

diesel::table! {
    logout_notifications (id) {
        id -> Text,
        client_id -> Text,
        sub -> Text,
        sid -> Nullable<Text>,
        reason -> Text,
        created_at -> BigInt,
        attempts -> BigInt,
        next_attempt_at -> BigInt,
        claimed_until -> Nullable<BigInt>,
        delivered_at -> Nullable<BigInt>,
        last_error -> Nullable<Text>,
    }
}

diesel::table! {
    pushed_authorization_requests (request_uri_hash) {
        request_uri_hash -> Text,
        client_id -> Text,
        params -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
        client_key -> Nullable<Text>,
    }
}

diesel::table! {
    dpop_proofs_seen (jti_hash) {
        jti_hash -> Text,
        expires_at -> BigInt,
    }
}

diesel::joinable!(password_credentials -> accounts (account_id));
diesel::joinable!(browser_sessions -> accounts (account_id));
diesel::joinable!(grants -> accounts (account_id));
diesel::joinable!(grants -> clients (client_id));
diesel::joinable!(authorization_codes -> grants (grant_id));
diesel::joinable!(refresh_tokens -> grants (grant_id));
diesel::joinable!(consents -> clients (client_id));
diesel::joinable!(consents -> accounts (account_id));
diesel::joinable!(logout_notifications -> clients (client_id));
diesel::joinable!(pushed_authorization_requests -> clients (client_id));

diesel::allow_tables_to_appear_in_same_query!(
    accounts,
    password_credentials,
    clients,
    browser_sessions,
    login_flows,
    grants,
    authorization_codes,
    refresh_tokens,
    login_throttle,
    audit_events,
    totp_credentials,
    email_otp_destinations,
    one_time_codes,
    backup_codes,
    passkeys,
    password_reissues,
    initial_access_tokens,
    consents,
    revoked_access_tokens,
    logout_notifications,
    pushed_authorization_requests,
    dpop_proofs_seen,
);

/// Every table and its columns, in declaration order, for the schema-match test.
pub const TABLES: &[(&str, &[&str])] = &[
    (
        "accounts",
        &[
            "id",
            "sub",
            "name",
            "affiliation",
            "personal_email",
            "email_alias",
            "valid_until",
            "status",
            "created_at",
            "updated_at",
            "previous_account_id",
            "pledge_completed_at",
            "infoss_completed_at",
        ],
    ),
    (
        "password_credentials",
        &[
            "account_id",
            "hash",
            "kind",
            "expires_at",
            "changed_at",
            "change_by",
        ],
    ),
    (
        "clients",
        &[
            "id",
            "name",
            "secret_hash",
            "auth_method",
            "redirect_uris",
            "post_logout_redirect_uris",
            "backchannel_logout_uri",
            "require_consent",
            "require_mfa",
            "allowed_affiliations",
            "requires_compliance",
            "id_token_alg",
            "disabled",
            "created_at",
            "registered_by",
            "owner_account_id",
            "registration_token_hash",
            "require_pushed_authorization_requests",
            "dpop_bound_access_tokens",
            "updated_at",
        ],
    ),
    (
        "browser_sessions",
        &[
            "id_hash",
            "sid",
            "account_id",
            "auth_time",
            "acr",
            "amr",
            "created_at",
            "expires_at",
        ],
    ),
    (
        "login_flows",
        &[
            "id",
            "request",
            "account_id",
            "created_at",
            "expires_at",
            "stage",
            "amr",
            "session_hash",
            "webauthn_state",
            "browser_hash",
            "client_key",
        ],
    ),
    (
        "grants",
        &[
            "id",
            "client_id",
            "account_id",
            "sid",
            "scope",
            "auth_time",
            "acr",
            "amr",
            "created_at",
            "revoked_at",
            "dpop_jkt",
        ],
    ),
    (
        "authorization_codes",
        &[
            "code_hash",
            "grant_id",
            "redirect_uri",
            "nonce",
            "code_challenge",
            "created_at",
            "expires_at",
            "consumed_at",
        ],
    ),
    (
        "refresh_tokens",
        &[
            "token_hash",
            "grant_id",
            "created_at",
            "expires_at",
            "consumed_at",
        ],
    ),
    (
        "login_throttle",
        &["key", "failures", "last_failure_at", "blocked_until"],
    ),
    (
        "totp_credentials",
        &[
            "account_id",
            "confirmed",
            "sealed_secret",
            "last_step",
            "created_at",
        ],
    ),
    (
        "email_otp_destinations",
        &["account_id", "address", "pending_address", "updated_at"],
    ),
    (
        "one_time_codes",
        &[
            "id",
            "account_id",
            "purpose",
            "code_mac",
            "attempts",
            "created_at",
            "expires_at",
            "consumed_at",
        ],
    ),
    (
        "backup_codes",
        &["account_id", "code_mac", "created_at", "used_at"],
    ),
    (
        "passkeys",
        &[
            "credential_id",
            "account_id",
            "name",
            "credential",
            "created_at",
            "last_used_at",
        ],
    ),
    (
        "password_reissues",
        &[
            "id",
            "account_id",
            "key_mac",
            "password_hash",
            "weakness",
            "attempts",
            "created_at",
            "expires_at",
            "consumed_at",
        ],
    ),
    (
        "audit_events",
        &[
            "id",
            "at",
            "kind",
            "account_id",
            "client_id",
            "ip",
            "detail",
        ],
    ),
    (
        "initial_access_tokens",
        &["token_hash", "created_at", "expires_at", "uses_left"],
    ),
    (
        "consents",
        &["account_id", "client_id", "scope", "granted_at"],
    ),
    ("revoked_access_tokens", &["jti", "expires_at"]),
    (
        "logout_notifications",
        &[
            "id",
            "client_id",
            "sub",
            "sid",
            "reason",
            "created_at",
            "attempts",
            "next_attempt_at",
            "claimed_until",
            "delivered_at",
            "last_error",
        ],
    ),
    (
        "pushed_authorization_requests",
        &[
            "request_uri_hash",
            "client_id",
            "params",
            "created_at",
            "expires_at",
            "used_at",
            "client_key",
        ],
    ),
    ("dpop_proofs_seen", &["jti_hash", "expires_at"]),
];
