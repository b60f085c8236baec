DROP INDEX accounts_previous;
ALTER TABLE accounts DROP COLUMN infoss_completed_at;
ALTER TABLE accounts DROP COLUMN pledge_completed_at;
ALTER TABLE accounts DROP COLUMN previous_account_id;
