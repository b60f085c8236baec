-- Relying parties and the life of a token (issue #5).

-- Who registered a client: 'operator' (CLI; a campus system, no consent unless asked),
-- 'developer' (the /developer portal) or 'dynamic' (RFC 7591). The last two are
-- third-party apps: consent is asked.
ALTER TABLE clients ADD COLUMN registered_by TEXT NOT NULL DEFAULT 'operator';
ALTER TABLE clients ADD COLUMN owner_account_id TEXT;
-- RFC 7592: SHA-256 of the registration access token (dynamic clients only).
ALTER TABLE clients ADD COLUMN registration_token_hash TEXT;
ALTER TABLE clients ADD COLUMN require_pushed_authorization_requests BOOLEAN NOT NULL DEFAULT 0;
-- RFC 9449 §5.2: the client always uses DPoP-bound access tokens.
ALTER TABLE clients ADD COLUMN dpop_bound_access_tokens BOOLEAN NOT NULL DEFAULT 0;
ALTER TABLE clients ADD COLUMN updated_at BIGINT NOT NULL DEFAULT 0;
CREATE INDEX clients_owner ON clients (owner_account_id);

-- RFC 7591 initial access tokens, made by an operator (SHA-256 stored).
CREATE TABLE initial_access_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    uses_left BIGINT NOT NULL
);

-- What a person allowed a third-party app, remembered per scope.
CREATE TABLE consents (
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    client_id TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    scope TEXT NOT NULL,                          -- space-separated scopes allowed
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, client_id)
);
CREATE INDEX consents_client ON consents (client_id);

-- A grant is a refresh-token family; DPoP binds the whole family to one key (RFC 9449).
ALTER TABLE grants ADD COLUMN dpop_jkt TEXT;
CREATE INDEX grants_sid ON grants (sid);

-- Access tokens are JWTs; one revoked before its expiry is remembered until then.
CREATE TABLE revoked_access_tokens (
    jti TEXT PRIMARY KEY NOT NULL,
    expires_at BIGINT NOT NULL
);

-- Back-channel logout outbox: written in the transaction that ends the session, delivered
-- by a background worker with retries (the row is the logout token's jti).
CREATE TABLE logout_notifications (
    id TEXT PRIMARY KEY NOT NULL,
    client_id TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    sub TEXT NOT NULL,
    sid TEXT,
    reason TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    claimed_until BIGINT,                         -- a worker's lease on the row
    delivered_at BIGINT,
    last_error TEXT
);
CREATE INDEX logout_notifications_due ON logout_notifications (delivered_at, next_attempt_at);

-- RFC 9126 pushed authorization requests: single-use, short-lived.
CREATE TABLE pushed_authorization_requests (
    request_uri_hash TEXT PRIMARY KEY NOT NULL,
    client_id TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    params TEXT NOT NULL,                         -- the request's parameters, form-encoded
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);

-- RFC 9449 §11.1: DPoP proof jti values seen, until the proof could no longer be accepted.
CREATE TABLE dpop_proofs_seen (
    jti_hash TEXT PRIMARY KEY NOT NULL,
    expires_at BIGINT NOT NULL
);
