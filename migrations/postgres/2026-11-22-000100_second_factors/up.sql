-- Second factors (issue #3). Low-entropy codes are stored as HMACs under the server
-- secret; TOTP seeds are sealed (AES-256-GCM) under it.

-- At most two rows per account: the app in use (confirmed) and a set-up in progress, which
-- replaces it only once a right code proves the new app has the secret.
CREATE TABLE totp_credentials (
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    confirmed BOOLEAN NOT NULL,
    sealed_secret TEXT NOT NULL,
    last_step BIGINT NOT NULL,                   -- replay guard: steps at or below are refused
    created_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, confirmed)
);

-- The address that receives sign-in codes (one per account), and a pending new one.
CREATE TABLE email_otp_destinations (
    account_id TEXT PRIMARY KEY NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    address TEXT,                                -- confirmed destination, if any
    pending_address TEXT,                        -- awaiting its confirmation code
    updated_at BIGINT NOT NULL
);

-- Codes sent by e-mail: sign-in codes and address confirmations.
CREATE TABLE one_time_codes (
    id TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    purpose TEXT NOT NULL,                       -- sign_in | confirm_address
    code_mac TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    consumed_at BIGINT
);
CREATE INDEX one_time_codes_account ON one_time_codes (account_id, purpose);

CREATE TABLE backup_codes (
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    code_mac TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    used_at BIGINT,
    PRIMARY KEY (account_id, code_mac)
);

CREATE TABLE passkeys (
    credential_id TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    credential TEXT NOT NULL,                    -- serialised webauthn-rs Passkey (public key, counter)
    created_at BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE INDEX passkeys_account ON passkeys (account_id);

-- A login flow now remembers how far it got.
ALTER TABLE login_flows ADD COLUMN stage TEXT NOT NULL DEFAULT 'password';
ALTER TABLE login_flows ADD COLUMN amr TEXT;             -- methods passed so far (JSON)
ALTER TABLE login_flows ADD COLUMN session_hash TEXT;    -- the session being stepped up
ALTER TABLE login_flows ADD COLUMN webauthn_state TEXT;  -- a pending passkey challenge
