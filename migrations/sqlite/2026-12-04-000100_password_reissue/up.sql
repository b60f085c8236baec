-- Online password reissue (issue #4): a request waiting for its password-update key.
-- The key is stored as an HMAC under the server secret, the new password only as its
-- argon2id hash (never in plain); the row is single-use, expires, and dies after a few
-- wrong keys.
CREATE TABLE password_reissues (
    id TEXT PRIMARY KEY NOT NULL,                -- the opaque ticket of the key-entry page
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    key_mac TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    weakness TEXT,                               -- why the password fails the rule with the real name, if it does
    attempts BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    consumed_at BIGINT
);
CREATE INDEX password_reissues_account ON password_reissues (account_id);
