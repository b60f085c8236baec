-- Deletion reminders sent (one row per account and reminder): the row is claimed before
-- the mail goes out, so two servers running the same pass send it once.
CREATE TABLE lifecycle_reminders (
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    days_before BIGINT NOT NULL,
    sent_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, days_before)
);
