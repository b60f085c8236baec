ALTER TABLE login_flows DROP COLUMN browser_hash;
