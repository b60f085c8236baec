ALTER TABLE login_throttle DROP COLUMN blocked_until;
