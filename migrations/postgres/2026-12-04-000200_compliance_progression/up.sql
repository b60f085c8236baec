-- Issue #4: compliance (pledge, INFOSS) and progression (a new account linked to the old).
-- Completion dates are Unix seconds at the start of the completion day, Japan time.
-- Activation is the account's `created_at` (accounts are usable from issue).
ALTER TABLE accounts ADD COLUMN previous_account_id TEXT REFERENCES accounts(id);
ALTER TABLE accounts ADD COLUMN pledge_completed_at BIGINT;
ALTER TABLE accounts ADD COLUMN infoss_completed_at BIGINT;
CREATE INDEX accounts_previous ON accounts (previous_account_id);
