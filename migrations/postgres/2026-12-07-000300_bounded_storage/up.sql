-- Per-address budgets for what unauthenticated traffic may store (issue #12 item 5):
-- the client address (IPv6: its /64) that opened a sign-in or pushed a public client's
-- request, so that each address keeps only its newest ones.
ALTER TABLE login_flows ADD COLUMN client_key TEXT;
CREATE INDEX login_flows_client_key ON login_flows (client_key, created_at);
ALTER TABLE pushed_authorization_requests ADD COLUMN client_key TEXT;
CREATE INDEX pushed_requests_client_key ON pushed_authorization_requests (client_key, created_at);
-- The sweep deletes throttle counters whose window has passed.
CREATE INDEX login_throttle_last_failure ON login_throttle (last_failure_at);
