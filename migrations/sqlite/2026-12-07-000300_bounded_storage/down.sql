DROP INDEX login_throttle_last_failure;
DROP INDEX pushed_requests_client_key;
ALTER TABLE pushed_authorization_requests DROP COLUMN client_key;
DROP INDEX login_flows_client_key;
ALTER TABLE login_flows DROP COLUMN client_key;
