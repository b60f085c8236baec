-- The core of uec-idp. Times are Unix seconds (BIGINT); lists are JSON text.

CREATE TABLE accounts (
    id TEXT PRIMARY KEY NOT NULL,                 -- the UEC account ID, e.g. a1830000
    sub TEXT NOT NULL UNIQUE,                     -- OIDC subject: random, never reused
    name TEXT NOT NULL,
    affiliation TEXT NOT NULL,
    personal_email TEXT,
    email_alias TEXT UNIQUE,                      -- name@uec.ac.jp, held by one account at a time
    valid_until BIGINT,
    status TEXT NOT NULL,                         -- active | deleted (a tombstone keeps id and sub)
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE password_credentials (
    account_id TEXT PRIMARY KEY NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    hash TEXT NOT NULL,                           -- argon2id PHC string
    kind TEXT NOT NULL,                           -- initial | temporary | chosen
    expires_at BIGINT,
    changed_at BIGINT NOT NULL
);

CREATE TABLE clients (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    secret_hash TEXT,                             -- SHA-256 of the secret; NULL for public clients
    auth_method TEXT NOT NULL,
    redirect_uris TEXT NOT NULL,
    post_logout_redirect_uris TEXT NOT NULL,
    backchannel_logout_uri TEXT,
    require_consent BOOLEAN NOT NULL,
    require_mfa BOOLEAN NOT NULL,
    allowed_affiliations TEXT NOT NULL,           -- empty list: every affiliation
    requires_compliance BOOLEAN NOT NULL,
    id_token_alg TEXT NOT NULL,
    disabled BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE browser_sessions (
    id_hash TEXT PRIMARY KEY NOT NULL,            -- SHA-256 of the cookie value
    sid TEXT NOT NULL UNIQUE,                     -- public session id (ID token `sid`)
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    auth_time BIGINT NOT NULL,
    acr TEXT NOT NULL,
    amr TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX browser_sessions_account ON browser_sessions (account_id);

CREATE TABLE login_flows (
    id TEXT PRIMARY KEY NOT NULL,
    request TEXT,                                 -- the pending authorization request (JSON)
    account_id TEXT REFERENCES accounts(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- One person's authorization of one client: the family of a code, its tokens and refreshes.
CREATE TABLE grants (
    id TEXT PRIMARY KEY NOT NULL,
    client_id TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    sid TEXT,
    scope TEXT NOT NULL,
    auth_time BIGINT NOT NULL,
    acr TEXT NOT NULL,
    amr TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX grants_account ON grants (account_id);
CREATE INDEX grants_client ON grants (client_id);

CREATE TABLE authorization_codes (
    code_hash TEXT PRIMARY KEY NOT NULL,
    grant_id TEXT NOT NULL REFERENCES grants(id) ON DELETE CASCADE,
    redirect_uri TEXT NOT NULL,
    nonce TEXT,
    code_challenge TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    consumed_at BIGINT
);
CREATE INDEX authorization_codes_grant ON authorization_codes (grant_id);

CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    grant_id TEXT NOT NULL REFERENCES grants(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    consumed_at BIGINT
);
CREATE INDEX refresh_tokens_grant ON refresh_tokens (grant_id);

CREATE TABLE login_throttle (
    key TEXT PRIMARY KEY NOT NULL,                -- "account:<id>" or "address:<ip>"
    failures BIGINT NOT NULL,
    last_failure_at BIGINT NOT NULL
);

CREATE TABLE audit_events (
    id BIGSERIAL PRIMARY KEY NOT NULL,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    account_id TEXT,
    client_id TEXT,
    ip TEXT,
    detail TEXT
);
CREATE INDEX audit_events_account ON audit_events (account_id, at);
